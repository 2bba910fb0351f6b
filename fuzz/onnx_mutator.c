/*
 * fuzz/onnx_mutator.c: a structure-aware mutator for fuzz_onnx. Byte flips
 * mostly break an ONNX file's protobuf framing, so the importer's checks past
 * the parser (operators, attributes, shapes, wiring) are reached slowly. This
 * mutator unpacks the model with protobuf-c, changes one to three fields the
 * importer reads (an operator, an attribute, a tensor's dims or data type, an
 * input's shape, an edge, a node's place), and packs it again. One mutation in
 * eight, and every input that does not unpack, goes to libFuzzer's own byte
 * mutator instead, so malformed framing stays covered. Operator names come
 * from the -dict file and the input; the attributes each operator accepts come
 * from the importer's own table (nbi_onnx_op_attrs). Linked into fuzz_onnx
 * only: the regression test replays saved inputs through fuzz_onnx.c alone.
 */
#define _POSIX_C_SOURCE 200809L
#include "../io/io.h"
#include "onnx.pb-c.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
                                 uint8_t *out, size_t max_out, unsigned int seed);

#define MAX_OPS 256

static char *ops[MAX_OPS]; /* operator names from the dictionary */
static size_t n_ops;

/* Reads the quoted names that start with a capital letter from a libFuzzer dictionary. */
static void load_ops(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256];
    while (f && n_ops < MAX_OPS && fgets(line, sizeof line, f)) {
        char *a = strchr(line, '"'), *b = a ? strchr(a + 1, '"') : NULL;
        if (a && b && a[1] >= 'A' && a[1] <= 'Z') {
            *b = 0;
            ops[n_ops] = strdup(a + 1);
            n_ops += ops[n_ops] != NULL;
        }
    }
    if (f) {
        fclose(f);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (int i = 1; i < *argc; i++) {
        if (strncmp((*argv)[i], "-dict=", 6) == 0) {
            load_ops((*argv)[i] + 6);
        }
    }
    return 0;
}

/* xorshift32, seeded by libFuzzer so a mutation can be replayed */
static uint32_t rnd(uint32_t *s, uint32_t n)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return n ? *s % n : 0;
}

/* Values at the edges the importer checks: sizes, axes, negative axes, overflow. */
static int64_t some_int(uint32_t *s)
{
    static const int64_t v[] = { 0,         1,         2,  3,  4,  5,     7,
                                 -1,        -2,        -3, 16, 64, 65536, INT32_MAX,
                                 INT64_MAX, INT64_MIN, 6,  10, 11, 13,    1000000LL };
    return rnd(s, 4) == 0 ? (int64_t)rnd(s, 9) - 4 : v[rnd(s, sizeof v / sizeof *v)];
}

static float some_float(uint32_t *s)
{
    static const float v[] = { 0.0f, 1.0f,  -1.0f,  0.5f, 1e-5f,   0.9f,
                               2.0f, 1e30f, -1e30f, NAN,  INFINITY };
    return v[rnd(s, sizeof v / sizeof *v)];
}

static char *dup_or_keep(char *old, const char *s)
{
    char *n = strdup(s);
    if (!n) {
        return old;
    }
    free(old);
    return n;
}

/* Grows a repeated field of elements of size sz by one; the new element is zeroed. */
static void *grow(void *arr, size_t *n, size_t sz)
{
    char *a = realloc(arr, (*n + 1) * sz);
    if (!a) {
        return arr;
    }
    memset(a + *n * sz, 0, sz);
    (*n)++;
    return a;
}

/* A deep copy through the wire format (protobuf-c has no copy). */
static void *copy_msg(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        return NULL;
    }
    protobuf_c_message_pack(m, buf);
    ProtobufCMessage *c = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
    free(buf);
    return c;
}

/* The names a node input may refer to: graph inputs, initializers, node outputs. */
static const char *some_name(const Onnx__GraphProto *g, uint32_t *s)
{
    size_t total = g->n_input + g->n_initializer;
    for (size_t i = 0; i < g->n_node; i++) {
        total += g->node[i]->n_output;
    }
    size_t k = rnd(s, (uint32_t)total + 1);
    if (k < g->n_input) {
        return g->input[k]->name ? g->input[k]->name : "";
    }
    k -= g->n_input;
    if (k < g->n_initializer) {
        return g->initializer[k]->name ? g->initializer[k]->name : "";
    }
    k -= g->n_initializer;
    for (size_t i = 0; i < g->n_node; i++) {
        if (k < g->node[i]->n_output) {
            return g->node[i]->output[k];
        }
        k -= g->node[i]->n_output;
    }
    return ""; /* an absent optional input */
}

static void mutate_ints(int64_t **v, size_t *n, uint32_t *s)
{
    switch (rnd(s, 3)) {
    case 0:
        if (*n) {
            (*v)[rnd(s, (uint32_t)*n)] = some_int(s);
            break;
        }
        /* fall through: nothing to change, add one */
    case 1:
        *v = grow(*v, n, sizeof **v);
        if (*n) {
            (*v)[*n - 1] = some_int(s);
        }
        break;
    default:
        *n -= *n > 0;
        break;
    }
}

static void mutate_tensor(Onnx__TensorProto *t, uint32_t *s)
{
    static const int32_t types[] = { 1, 11, 7, 6, 9, 10, 16, 2, 3, 0, 8, 99 };
    switch (rnd(s, 4)) {
    case 0:
        mutate_ints(&t->dims, &t->n_dims, s);
        break;
    case 1:
        t->has_data_type = 1;
        t->data_type = types[rnd(s, sizeof types / sizeof *types)];
        break;
    case 2: /* fewer bytes than the dims need: the buffer stays allocated, only len shrinks */
        if (t->has_raw_data && t->raw_data.len) {
            t->raw_data.len = rnd(s, (uint32_t)t->raw_data.len);
        } else if (t->n_float_data) {
            t->n_float_data = rnd(s, (uint32_t)t->n_float_data);
        } else if (t->n_int64_data) {
            t->n_int64_data = rnd(s, (uint32_t)t->n_int64_data);
        }
        break;
    default: /* a value: the data of a shape, an index, a bound */
        if (t->n_int64_data) {
            t->int64_data[rnd(s, (uint32_t)t->n_int64_data)] = some_int(s);
        } else if (t->n_float_data) {
            t->float_data[rnd(s, (uint32_t)t->n_float_data)] = some_float(s);
        } else if (t->has_raw_data && t->raw_data.len >= 8 && t->data_type == 7) {
            int64_t v = some_int(s);
            memcpy(t->raw_data.data + 8 * rnd(s, (uint32_t)(t->raw_data.len / 8)), &v, 8);
        } else if (t->has_raw_data && t->raw_data.len >= 4) {
            float v = some_float(s);
            memcpy(t->raw_data.data + 4 * rnd(s, (uint32_t)(t->raw_data.len / 4)), &v, 4);
        }
        break;
    }
}

/* The attributes the importer accepts for op, as ",a,b,", or NULL. */
static const char *attrs_of(const char *op)
{
    const char *name, *attrs;
    for (size_t k = 0; (attrs = nbi_onnx_op_attrs(k, &name)); k++) {
        if (op && strcmp(name, op) == 0) {
            return attrs;
        }
    }
    return NULL;
}

static void set_attr_value(Onnx__AttributeProto *a, uint32_t *s)
{
    static const char *strs[] = { "forward", "reverse", "bidirectional", "constant", "reflect",
                                  "edge",    "NOTSET",  "SAME_UPPER",    "VALID",    "" };
    a->has_type = 1;
    switch (rnd(s, 5)) {
    case 0:
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        a->i = some_int(s);
        break;
    case 1:
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        mutate_ints(&a->ints, &a->n_ints, s);
        mutate_ints(&a->ints, &a->n_ints, s);
        break;
    case 2:
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        a->has_f = 1;
        a->f = some_float(s);
        break;
    case 3: {
        const char *v = strs[rnd(s, sizeof strs / sizeof *strs)];
        uint8_t *d = malloc(strlen(v) + 1);
        if (d) {
            memcpy(d, v, strlen(v) + 1);
            if (a->has_s) {
                free(a->s.data);
            }
            a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
            a->has_s = 1;
            a->s.data = d;
            a->s.len = strlen(v);
        }
        break;
    }
    default: /* the type changes, the values stay: an INT read as INTS */
        a->type = (Onnx__AttributeProto__AttributeType)rnd(s, 14);
        break;
    }
}

/* Adds to n an attribute its operator accepts (or, one time in eight, any name). */
static void add_attr(Onnx__NodeProto *n, uint32_t *s)
{
    const char *allowed = attrs_of(n->op_type);
    char name[64] = "axis";
    if (allowed && rnd(s, 8)) {
        size_t commas = 0;
        for (const char *p = allowed; *p; p++) {
            commas += *p == ',';
        }
        size_t k = rnd(s, (uint32_t)(commas > 1 ? commas - 1 : 1));
        const char *p = allowed + 1;
        while (k-- && strchr(p, ',')) {
            p = strchr(p, ',') + 1;
        }
        size_t len = strcspn(p, ",");
        snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), p);
    } else if (rnd(s, 2)) {
        snprintf(name, sizeof name, "no_such_attribute");
    }
    Onnx__AttributeProto *a = malloc(sizeof *a);
    if (!a) {
        return;
    }
    onnx__attribute_proto__init(a);
    a->name = strdup(name);
    size_t old = n->n_attribute;
    n->attribute = grow(n->attribute, &n->n_attribute, sizeof *n->attribute);
    if (!a->name || n->n_attribute == old) {
        free(a->name);
        free(a);
        return;
    }
    n->attribute[old] = a;
    set_attr_value(a, s);
}

static void mutate_attr(Onnx__NodeProto *n, uint32_t *s)
{
    if (!n->n_attribute || rnd(s, 3) == 0) {
        add_attr(n, s);
        return;
    }
    size_t k = rnd(s, (uint32_t)n->n_attribute);
    Onnx__AttributeProto *a = n->attribute[k];
    switch (rnd(s, 4)) {
    case 0: /* removed */
        protobuf_c_message_free_unpacked(&a->base, NULL);
        memmove(n->attribute + k, n->attribute + k + 1,
                (n->n_attribute - k - 1) * sizeof *n->attribute);
        n->n_attribute--;
        break;
    case 1:
        if (a->t) {
            mutate_tensor(a->t, s);
            break;
        }
        /* fall through */
    default:
        if (a->n_ints && rnd(s, 2)) {
            mutate_ints(&a->ints, &a->n_ints, s);
        } else if (a->has_i && rnd(s, 2)) {
            a->i = some_int(s);
        } else {
            set_attr_value(a, s);
        }
        break;
    }
}

/* A graph input's shape or element type. */
static void mutate_value_info(Onnx__ValueInfoProto *v, uint32_t *s)
{
    Onnx__TypeProto *t = v->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type) {
        return;
    }
    Onnx__TypeProto__Tensor *tt = t->tensor_type;
    if (rnd(s, 4) == 0 || !tt->shape || !tt->shape->n_dim) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)rnd(s, 17);
        return;
    }
    Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[rnd(s, (uint32_t)tt->shape->n_dim)];
    if (rnd(s, 6) == 0) {
        char *p = strdup("batch");
        if (p) {
            if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
                free(d->dim_param);
            }
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = p;
        }
        return;
    }
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
        free(d->dim_param);
    }
    d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d->dim_value = rnd(s, 2) ? (int64_t)rnd(s, 9) : some_int(s);
}

/* An edge: a node input rewired, added, dropped, or an output renamed. */
static void mutate_edge(Onnx__GraphProto *g, Onnx__NodeProto *n, uint32_t *s)
{
    switch (rnd(s, 4)) {
    case 0:
        if (n->n_input) {
            size_t k = rnd(s, (uint32_t)n->n_input);
            n->input[k] = dup_or_keep(n->input[k], some_name(g, s));
            break;
        }
        /* fall through */
    case 1: {
        char *name = strdup(some_name(g, s));
        size_t old = n->n_input;
        if (name) {
            n->input = grow(n->input, &n->n_input, sizeof *n->input);
        }
        if (n->n_input > old) {
            n->input[old] = name;
        } else {
            free(name);
        }
        break;
    }
    case 2:
        if (n->n_input) {
            free(n->input[--n->n_input]);
        }
        break;
    default:
        if (n->n_output) {
            size_t k = rnd(s, (uint32_t)n->n_output);
            n->output[k] = dup_or_keep(n->output[k], some_name(g, s));
        }
        break;
    }
}

/* A node copied, removed or moved (the importer needs its inputs defined first). */
static void mutate_nodes(Onnx__GraphProto *g, uint32_t *s)
{
    size_t k = rnd(s, (uint32_t)g->n_node), j = rnd(s, (uint32_t)g->n_node);
    switch (rnd(s, 3)) {
    case 0: {
        Onnx__NodeProto *c = copy_msg(&g->node[k]->base);
        size_t old = g->n_node;
        if (c) {
            g->node = grow(g->node, &g->n_node, sizeof *g->node);
        }
        if (g->n_node > old) {
            memmove(g->node + j + 1, g->node + j, (old - j) * sizeof *g->node);
            g->node[j] = c;
        } else if (c) {
            protobuf_c_message_free_unpacked(&c->base, NULL);
        }
        break;
    }
    case 1:
        protobuf_c_message_free_unpacked(&g->node[k]->base, NULL);
        memmove(g->node + k, g->node + k + 1, (g->n_node - k - 1) * sizeof *g->node);
        g->n_node--;
        break;
    default: {
        Onnx__NodeProto *t = g->node[k];
        g->node[k] = g->node[j];
        g->node[j] = t;
        break;
    }
    }
}

static void mutate_model(Onnx__ModelProto *m, uint32_t *s)
{
    Onnx__GraphProto *g = m->graph;
    uint32_t what = rnd(s, 16);
    if (!g->n_node && what < 10) {
        what = 10;
    }
    Onnx__NodeProto *n = g->n_node ? g->node[rnd(s, (uint32_t)g->n_node)] : NULL;
    if (what < 2) { /* another operator */
        const char *op = n_ops && rnd(s, 4) ? ops[rnd(s, (uint32_t)n_ops)]
                                            : g->node[rnd(s, (uint32_t)g->n_node)]->op_type;
        n->op_type = dup_or_keep(n->op_type, op ? op : "Relu");
    } else if (what < 6) {
        mutate_attr(n, s);
    } else if (what < 8) {
        mutate_edge(g, n, s);
    } else if (what < 10) {
        mutate_nodes(g, s);
    } else if (what < 12 && g->n_initializer) {
        mutate_tensor(g->initializer[rnd(s, (uint32_t)g->n_initializer)], s);
    } else if (what < 14 && g->n_input) {
        mutate_value_info(g->input[rnd(s, (uint32_t)g->n_input)], s);
    } else if (what == 14 && g->n_output) {
        Onnx__ValueInfoProto *o = g->output[rnd(s, (uint32_t)g->n_output)];
        o->name = dup_or_keep(o->name, some_name(g, s));
    } else if (m->n_opset_import) {
        static const int64_t v[] = { 1, 6, 7, 9, 10, 11, 12, 13, 14, 17, 18, 21, 0, -1 };
        Onnx__OperatorSetIdProto *o = m->opset_import[rnd(s, (uint32_t)m->n_opset_import)];
        o->has_version = 1;
        o->version = v[rnd(s, sizeof v / sizeof *v)];
    }
}

/* Packs m into out if it fits; 0 if not. Frees m. */
static size_t pack(Onnx__ModelProto *m, uint8_t *out, size_t max)
{
    size_t len = onnx__model_proto__get_packed_size(m);
    len = len <= max ? onnx__model_proto__pack(m, out) : 0;
    onnx__model_proto__free_unpacked(m, NULL);
    return len;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    uint32_t s = seed | 1;
    Onnx__ModelProto *m = rnd(&s, 8) ? onnx__model_proto__unpack(NULL, size, data) : NULL;
    if (!m || !m->graph) {
        if (m) {
            onnx__model_proto__free_unpacked(m, NULL);
        }
        return LLVMFuzzerMutate(data, size, max_size);
    }
    for (uint32_t k = 1 + rnd(&s, 3); k > 0; k--) {
        mutate_model(m, &s);
    }
    size_t len = pack(m, data, max_size);
    return len ? len : LLVMFuzzerMutate(data, size, max_size);
}

/* Crossing two models: a node (or an initializer) of the second joins the first. */
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
                                 uint8_t *out, size_t max_out, unsigned int seed)
{
    uint32_t s = seed | 1;
    Onnx__ModelProto *a = onnx__model_proto__unpack(NULL, s1, d1);
    Onnx__ModelProto *b = onnx__model_proto__unpack(NULL, s2, d2);
    size_t len = 0;
    if (a && b && a->graph && b->graph && b->graph->n_node) {
        Onnx__GraphProto *g = a->graph, *h = b->graph;
        if (rnd(&s, 4) || !h->n_initializer) {
            Onnx__NodeProto *c = copy_msg(&h->node[rnd(&s, (uint32_t)h->n_node)]->base);
            size_t old = g->n_node, j = rnd(&s, (uint32_t)old + 1);
            if (c) {
                g->node = grow(g->node, &g->n_node, sizeof *g->node);
            }
            if (g->n_node > old) {
                memmove(g->node + j + 1, g->node + j, (old - j) * sizeof *g->node);
                g->node[j] = c;
                for (size_t k = 0; k < c->n_input; k++) { /* wired into the first model */
                    c->input[k] = dup_or_keep(c->input[k], some_name(g, &s));
                }
            } else if (c) {
                protobuf_c_message_free_unpacked(&c->base, NULL);
            }
        } else {
            Onnx__TensorProto *c =
                copy_msg(&h->initializer[rnd(&s, (uint32_t)h->n_initializer)]->base);
            size_t old = g->n_initializer;
            if (c) {
                g->initializer = grow(g->initializer, &g->n_initializer, sizeof *g->initializer);
            }
            if (g->n_initializer > old) {
                g->initializer[old] = c;
            } else if (c) {
                protobuf_c_message_free_unpacked(&c->base, NULL);
            }
        }
        len = pack(a, out, max_out);
        a = NULL;
    }
    if (a) {
        onnx__model_proto__free_unpacked(a, NULL);
    }
    if (b) {
        onnx__model_proto__free_unpacked(b, NULL);
    }
    return len;
}
