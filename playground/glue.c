/*
 * playground/glue.c: the page's entry into nabla (WebAssembly). The page runs
 * the `nabla` command itself, compiled from tools/nabla/ with its main renamed,
 * on a model written to the in-memory file system: parse (eval), depth, dot,
 * trace, check and eval print exactly what they print in a terminal, so the
 * model language, the trace text and the messages come from the library.
 */
#include <emscripten.h>

#define main nabla_cli_main
#include "../tools/nabla/main.c"
#undef main

/*
 * Runs `nabla ARGS...`, ARGS given as one string with the arguments separated
 * by newlines (so spaces and '=' in --set values need no quoting). Returns the
 * exit status; stdout and stderr reach the page through Module.print and
 * Module.printErr, flushed before returning.
 */
EMSCRIPTEN_KEEPALIVE int nbp_run(char *args)
{
    enum { MAX_ARGS = 64 };
    char *argv[MAX_ARGS + 1] = { "nabla" };
    int argc = 1;
    for (char *p = args; *p && argc < MAX_ARGS;) {
        argv[argc++] = p;
        char *nl = strchr(p, '\n');
        if (!nl) {
            break;
        }
        *nl = '\0';
        p = nl + 1;
    }
    argv[argc] = NULL;
    int rc = nabla_cli_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    return rc;
}

/*
 * The words the editor colours, from the op table (public API): a JSON object
 * {"ops": [...], "attrs": [...]} of the op names and their attributes'
 * keywords. Owned by the module; the same string on every call.
 */
EMSCRIPTEN_KEEPALIVE const char *nbp_words(void)
{
    static char buf[16384];
    size_t at = 0;
    at += (size_t)snprintf(buf + at, sizeof buf - at, "{\"ops\": [");
    for (size_t i = 0; i < nb_op_count() && at < sizeof buf; i++) {
        nb_op_info info;
        if (nb_op_info_get(i, &info) && !info.leaf) {
            at += (size_t)snprintf(buf + at, sizeof buf - at, "%s\"%s\"",
                                   buf[at - 1] == '[' ? "" : ", ", info.name);
        }
    }
    at += (size_t)snprintf(buf + at, sizeof buf - at, "], \"attrs\": [");
    for (size_t i = 0; i < nb_op_count() && at < sizeof buf; i++) {
        nb_op_attr attr;
        for (int k = 0; nb_op_attr_get(i, k, &attr) && at < sizeof buf; k++) {
            at += (size_t)snprintf(buf + at, sizeof buf - at, "%s\"%s\"",
                                   buf[at - 1] == '[' ? "" : ", ", attr.name);
        }
    }
    if (at + 3 >= sizeof buf) {
        return "{\"ops\": [], \"attrs\": []}"; /* cannot happen with today's table */
    }
    snprintf(buf + at, sizeof buf - at, "]}");
    return buf;
}

int main(void)
{
    return 0; /* the runtime stays up: the page calls nbp_run */
}
