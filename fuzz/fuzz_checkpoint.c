/*
 * fuzz/fuzz_checkpoint.c: the checkpoint loader. Every input is loaded, as a
 * file's bytes, into the fixed models of fuzz/checkpoint_model.h in seven
 * ways (all four f64 parameters alone and with each of three optimizers, one
 * parameter alone, and the f32/i32 pair and the i32 input alone), and again
 * with its checksum made right, so mutations reach past it. Before each
 * load every parameter, input and optimizer state is set to a known pattern.
 * An independent reader of the format (docs/training.md) decides whether the
 * bytes are a valid checkpoint for that load, and the loader must agree: on
 * NB_OK every value and state tensor is exactly the file's and nothing else
 * changed; on an error nothing changed at all and the message names the file.
 */
#include "fuzz.h"

#include "../io/io.h"
#include "../optim/optim.h"
#include "checkpoint_model.h"

/* ---- the models and the regions of memory a load may change ---- */

typedef struct ckpt_region {
    void *p;
    size_t len;
} ckpt_region;

enum { CKPT_REGIONS = NBF_CKPT_PARAMS + 2 + 2 * NBF_CKPT_OPTIMS };

static nbf_ckpt_model ckpt_model;
static ckpt_region ckpt_regions[CKPT_REGIONS];
static unsigned char *ckpt_pattern[CKPT_REGIONS]; /* each region's contents before a load */

static size_t ckpt_bytes(const nb_node *n)
{
    return nb_node_size(n) * nb_dtype_size(nb_node_dtype(n));
}

static void ckpt_init(void)
{
    if (ckpt_model.g) {
        return;
    }
    NBF_CHECK(nbf_ckpt_build(&ckpt_model), "cannot build the checkpoint model");
    int k = 0;
    for (int i = 0; i < NBF_CKPT_PARAMS; i++) {
        nb_node *p = ckpt_model.params[i];
        ckpt_regions[k++] = (ckpt_region){ nb_node_data(p), ckpt_bytes(p) };
    }
    for (int i = 0; i < 2; i++) {
        nb_node *p = ckpt_model.p32[i];
        ckpt_regions[k++] = (ckpt_region){ nb_node_data(p), ckpt_bytes(p) };
    }
    for (int i = 0; i < NBF_CKPT_OPTIMS; i++) {
        nb_optim *o = ckpt_model.opts[i];
        ckpt_regions[k++] = (ckpt_region){ o->state, o->state_bytes };
        ckpt_regions[k++] = (ckpt_region){ &o->t, sizeof o->t };
    }
    for (int r = 0; r < CKPT_REGIONS; r++) {
        ckpt_pattern[r] = malloc(ckpt_regions[r].len ? ckpt_regions[r].len : 1);
        NBF_CHECK(ckpt_pattern[r], "out of memory");
        for (size_t j = 0; j < ckpt_regions[r].len; j++) {
            ckpt_pattern[r][j] = (unsigned char)(j * 7 + (size_t)r * 31 + 1);
        }
    }
}

/* True if region r still holds its pattern. */
static bool ckpt_unchanged(int r)
{
    return ckpt_regions[r].len == 0 ||
           memcmp(ckpt_regions[r].p, ckpt_pattern[r], ckpt_regions[r].len) == 0;
}

static void ckpt_reset(void)
{
    for (int r = 0; r < CKPT_REGIONS; r++) {
        if (ckpt_regions[r].len) {
            memcpy(ckpt_regions[r].p, ckpt_pattern[r], ckpt_regions[r].len);
        }
    }
}

/* ---- an independent reader of the format ---- */

static uint32_t ckpt_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t ckpt_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        }
    }
    return ~c;
}

/* What a valid file holds for one load. */
typedef struct ckpt_expect {
    const uint8_t *values[NBF_CKPT_PARAMS]; /* by parameter */
    const uint8_t *state[NBF_CKPT_PARAMS];
    uint32_t slots;
    int64_t steps;
} ckpt_expect;

/* True if d[0..len) is a valid checkpoint for params[0..n) and opt, per the format. */
static bool ckpt_valid(const uint8_t *d, size_t len, size_t n, nb_node *const *params,
                       const nb_optim *opt, ckpt_expect *e)
{
    memset(e, 0, sizeof *e);
    if (len < 24 || memcmp(d, "NABLACKP", 8) != 0 || ckpt_le32(d + 8) != 1 ||
        ckpt_crc32(d, len - 4) != ckpt_le32(d + len - 4)) {
        return false;
    }
    uint32_t flags = ckpt_le32(d + 12), tensors = ckpt_le32(d + 16);
    size_t at = 20, end = len - 4;
    if (flags > 1 || (opt && flags == 0) || tensors != n) {
        return false;
    }
    if (flags == 1) {
        if (end - at < 16) {
            return false;
        }
        uint32_t kind = ckpt_le32(d + at), slots = ckpt_le32(d + at + 4);
        int64_t steps =
            (int64_t)((uint64_t)ckpt_le32(d + at + 8) | (uint64_t)ckpt_le32(d + at + 12) << 32);
        at += 16;
        if (steps < 0 || slots > 3 ||
            (opt && (kind != (uint32_t)opt->o.kind || slots != (uint32_t)opt->n_slots))) {
            return false;
        }
        e->slots = slots;
        e->steps = steps;
    }
    for (uint32_t t = 0; t < tensors; t++) {
        if (end - at < 4) {
            return false;
        }
        uint32_t name_len = ckpt_le32(d + at);
        at += 4;
        if (name_len > 4096 || end - at < (size_t)name_len + 8) {
            return false;
        }
        const uint8_t *name = d + at;
        at += name_len;
        uint32_t dtype = ckpt_le32(d + at), rank = ckpt_le32(d + at + 4);
        at += 8;
        if (rank > 4 || end - at < 8 * (size_t)rank) {
            return false;
        }
        size_t i = 0;
        while (i < n && !(strlen(nb_node_name(params[i])) == name_len &&
                          memcmp(nb_node_name(params[i]), name, name_len) == 0)) {
            i++;
        }
        if (i == n || e->values[i] || dtype != (uint32_t)nb_node_dtype(params[i]) ||
            rank != (uint32_t)nb_node_rank(params[i])) {
            return false;
        }
        for (uint32_t k = 0; k < rank; k++) {
            uint64_t dim = (uint64_t)ckpt_le32(d + at) | (uint64_t)ckpt_le32(d + at + 4) << 32;
            at += 8;
            if (dim != (uint64_t)nb_node_shape(params[i])[k]) {
                return false;
            }
        }
        size_t bytes = ckpt_bytes(params[i]);
        if (end - at < bytes * (1 + e->slots)) {
            return false;
        }
        e->values[i] = d + at;
        e->state[i] = d + at + bytes;
        at += bytes * (1 + e->slots);
    }
    return at == end;
}

/* ---- one load ---- */

static int ckpt_region_of(const void *p)
{
    for (int r = 0; r < CKPT_REGIONS; r++) {
        if (ckpt_regions[r].p == p) {
            return r;
        }
    }
    return -1;
}

static void ckpt_load(const uint8_t *data, size_t size, nb_graph *g, size_t n,
                      nb_node *const *params, nb_optim *opt, const char *what)
{
    ckpt_reset();
    ckpt_expect e;
    bool valid = ckpt_valid(data, size, n, params, opt, &e);
    nb_status st = nbi_checkpoint_load_buffer(g, data, size, "fuzz.ckpt", n, params, opt);
    const char *msg = nb_graph_error(g);
    NBF_CHECK(nb_graph_status(g) == NB_OK, "%s: the load made the graph's error sticky", what);
    if (st != NB_OK) {
        NBF_CHECK(!valid, "%s: a valid checkpoint was refused: %s: %s", what, nb_status_string(st),
                  msg);
        NBF_CHECK(st == NB_ERR_FORMAT, "%s: status %s: %s", what, nb_status_string(st), msg);
        NBF_CHECK(strncmp(msg, "checkpoint_load: fuzz.ckpt: ", 28) == 0,
                  "%s: the message does not name the file: '%s'", what, msg);
        for (int r = 0; r < CKPT_REGIONS; r++) {
            NBF_CHECK(ckpt_unchanged(r), "%s: a failed load (%s) changed region %d", what, msg, r);
        }
        return;
    }
    NBF_CHECK(valid, "%s: an invalid checkpoint was loaded", what);
    NBF_CHECK(msg[0] == '\0', "%s: NB_OK with a message: %s", what, msg);
    bool changed[CKPT_REGIONS] = { false };
    for (size_t i = 0; i < n; i++) {
        int r = ckpt_region_of(nb_node_data(params[i]));
        NBF_CHECK(r >= 0 && memcmp(ckpt_regions[r].p, e.values[i], ckpt_regions[r].len) == 0,
                  "%s: parameter %s does not hold the file's values", what,
                  nb_node_name(params[i]));
        changed[r] = true;
    }
    if (opt) {
        int r = ckpt_region_of(opt->state), rt = ckpt_region_of(&opt->t);
        for (size_t i = 0; i < n; i++) {
            size_t bytes = ckpt_bytes(params[i]);
            for (int s = 0; s < opt->n_slots; s++) {
                NBF_CHECK(
                    memcmp(nbi_optim_slot(opt, i, s), e.state[i] + (size_t)s * bytes, bytes) == 0,
                    "%s: state %d of %s is not the file's", what, s, nb_node_name(params[i]));
            }
        }
        NBF_CHECK(opt->t == e.steps, "%s: %lld steps, the file has %lld", what, (long long)opt->t,
                  (long long)e.steps);
        changed[r] = changed[rt] = true;
    }
    for (int r = 0; r < CKPT_REGIONS; r++) {
        NBF_CHECK(changed[r] || ckpt_unchanged(r),
                  "%s: the load changed region %d, which it was not given", what, r);
    }
}

static void ckpt_all_loads(const uint8_t *data, size_t size)
{
    nbf_ckpt_model *m = &ckpt_model;
    ckpt_load(data, size, m->g, NBF_CKPT_PARAMS, m->params, NULL, "params");
    ckpt_load(data, size, m->g, NBF_CKPT_PARAMS, m->params, m->opts[0], "params+sgd");
    ckpt_load(data, size, m->g, NBF_CKPT_PARAMS, m->params, m->opts[1], "params+adam");
    ckpt_load(data, size, m->g, NBF_CKPT_PARAMS, m->params, m->opts[2], "params+rmsprop");
    ckpt_load(data, size, m->g, 1, m->params, NULL, "w");
    ckpt_load(data, size, m->g32, 2, m->p32, NULL, "f32 w+labels");
    ckpt_load(data, size, m->g32, 1, m->p32 + 1, NULL, "labels");
}

int nbf_checkpoint(const uint8_t *data, size_t size)
{
    ckpt_init();
    ckpt_all_loads(data, size);
    /*
     * Almost every mutation breaks the checksum, which the loader checks
     * before the tensors: load a copy with the checksum made right as well,
     * so the fuzzer also explores what lies behind it.
     */
    if (size >= 24) {
        uint8_t *fixed = malloc(size);
        NBF_CHECK(fixed, "out of memory");
        memcpy(fixed, data, size);
        uint32_t crc = ckpt_crc32(fixed, size - 4);
        for (int i = 0; i < 4; i++) {
            fixed[size - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
        }
        if (memcmp(fixed, data, size) != 0) {
            ckpt_all_loads(fixed, size);
        }
        free(fixed);
    }
    return 0;
}

#ifndef NBF_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return nbf_checkpoint(data, size);
}
#endif
