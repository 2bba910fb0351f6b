/*
 * ops/loss.c: losses that must be one element and numerically stable:
 * cross-entropy of logits against integer labels, optionally ignoring one
 * label value (with one_hot, which its gradient uses), binary cross-entropy
 * with logits, and mean squared error. Each returns a scalar mean.
 */
#include "bce.h"
#include "kernel.h"

#include <stdio.h>

/*
 * The `ignore` attribute's default, "no label is ignored": a value outside
 * int32, so no label can equal it and the model language cannot spell it
 * (its usage messages and docs/ops.md show it as "none").
 */
#define IGNORE_NONE (-2147483649.0)

static bool check_labels(nb_graph *g, const char *op, int n, nb_node *const *in, int which)
{
    if (in[which]->dtype != NB_DTYPE_I32) {
        nbi_fail(g, NB_ERR_DTYPE, op, n, in, "labels must be i32, not %s",
                 nb_dtype_name(in[which]->dtype));
        return false;
    }
    return true;
}

/* Reports the first label outside 0..classes-1 that is not ignore. */
static nb_status label_range(nb_graph *g, nb_node *y, nb_node *labels, int64_t classes,
                             int64_t ignore)
{
    const int32_t *l = labels->data;
    size_t n = nbi_node_count(labels);
    for (size_t i = 0; i < n; i++) {
        if ((l[i] < 0 || l[i] >= classes) && l[i] != ignore) {
            nb_node *in[2] = { y->in[0], y->in[1] };
            return nbi_report(g, NB_ERR_VALUE, nbi_ops[y->op]->name, y->arity, in,
                              "label %d at index %zu is outside 0..%lld", (int)l[i], i,
                              (long long)classes - 1);
        }
    }
    return NB_OK;
}

/* ---- one_hot ---- */

/* An ignored label's row stays all zero. */
NBI_TYPED(one_hot_kernel, (const int32_t *l, void *yv, size_t n, size_t classes, int64_t ignore), {
    T *y = yv;
    for (size_t i = 0; i < n * classes; i++) {
        y[i] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (l[i] != ignore) {
            y[i * classes + (size_t)l[i]] = 1;
        }
    }
})

static nb_status one_hot_forward(nb_graph *g, nb_node *y)
{
    nb_node *labels = y->in[0];
    int64_t classes = y->shape[y->rank - 1];
    nb_status s = label_range(g, y, labels, classes, y->attr[0].i);
    if (s != NB_OK) {
        return s;
    }
    NBI_DISPATCH(y, one_hot_kernel, labels->data, y->data, nbi_node_count(labels), (size_t)classes,
                 y->attr[0].i);
    return NB_OK;
}

nb_node *nb_one_hot(nb_graph *g, nb_node *labels, int64_t classes, nb_dtype dtype)
{
    if (!nbi_check_inputs(g, "one_hot", 1, &labels) || !check_labels(g, "one_hot", 1, &labels, 0)) {
        return NULL;
    }
    if (dtype != NB_DTYPE_F32 && dtype != NB_DTYPE_F64) {
        nbi_fail(g, NB_ERR_DTYPE, "one_hot", 1, &labels, "output dtype must be f32 or f64");
        return NULL;
    }
    if (labels->rank >= NB_MAX_RANK) {
        nbi_fail(g, NB_ERR_RANK, "one_hot", 1, &labels,
                 "labels of rank %d would give rank %d; the maximum is %d", labels->rank,
                 labels->rank + 1, NB_MAX_RANK);
        return NULL;
    }
    int64_t shape[NB_MAX_RANK];
    memcpy(shape, labels->shape, (size_t)labels->rank * sizeof *shape);
    shape[labels->rank] = classes;
    size_t count;
    if (classes < 1 || !nbi_shape_count(labels->rank + 1, shape, &count)) {
        nbi_fail(g, NB_ERR_SHAPE, "one_hot", 1, &labels, "%lld classes is not a valid size",
                 (long long)classes);
        return NULL;
    }
    return nbi_node_new(g, NBI_OP_ONE_HOT, dtype, labels->rank + 1, shape, labels, NULL);
}

/*
 * one_hot whose rows for labels equal to ignore are all zero: the targets of
 * cross_entropy_ignore's gradient. Only that gradient rule builds it (the
 * model language has no form for it; nb_model_write writes forward nodes only).
 */
static nb_node *one_hot_ignore(nb_graph *g, nb_node *labels, int64_t classes, nb_dtype dtype,
                               int64_t ignore)
{
    nb_node *y = nb_one_hot(g, labels, classes, dtype);
    if (y) {
        y->attr[0].i = ignore;
    }
    return y;
}

static void classes_label(const nb_node *y, char *buf, size_t cap)
{
    int at = snprintf(buf, cap, "classes=%lld", (long long)y->shape[y->rank - 1]);
    if (nbi_attr_shown(y, 0) && at > 0 && (size_t)at < cap) {
        snprintf(buf + at, cap - (size_t)at, " ignore=%lld", (long long)y->attr[0].i);
    }
}

const nbi_op nbi_op_one_hot = {
    .name = "one_hot",
    .symbol = "onehot",
    .arity = 1,
    .attrs = { { "ignore", NBI_ATTR_INT, IGNORE_NONE, .def_word = "none" } },
    .n_attrs = 1,
    .forward = one_hot_forward,
    .label = classes_label,
    .formula = "y[..., c] = 1 if labels[...] = c else 0; all 0 where labels[...] = ignore (set "
               "only in cross_entropy's gradient)",
    .grad_formula = "none (labels are integers)",
};

/* ---- cross_entropy ---- */

/* The mean over the rows kept: 0/0, NaN, when every row is ignored (as PyTorch). */
NBI_TYPED(xent_kernel,
          (const void *zv, const int32_t *l, void *yv, size_t n, size_t c, int64_t ignore), {
              const T *z = zv;
              double total = 0;
              size_t kept = 0;
              for (size_t i = 0; i < n; i++) {
                  if (l[i] == ignore) {
                      continue;
                  }
                  kept++;
                  const T *r = z + i * c;
                  T m = r[0];
                  for (size_t k = 1; k < c; k++) {
                      m = r[k] > m ? r[k] : m;
                  }
                  T s = 0;
                  for (size_t k = 0; k < c; k++) {
                      s += NBI_EXP(r[k] - m);
                  }
                  total +=
                      (double)((m - r[l[i]]) + log(s)); /* m + log s would round log s to m's ulp */
              }
              *(T *)yv = (T)(total / (double)kept);
          })

static nb_status cross_entropy_forward(nb_graph *g, nb_node *y)
{
    nb_node *z = y->in[0], *labels = y->in[1];
    size_t n = (size_t)z->shape[0], c = (size_t)z->shape[1];
    nb_status s = label_range(g, y, labels, (int64_t)c, y->attr[0].i);
    if (s != NB_OK) {
        return s;
    }
    NBI_DISPATCH(y, xent_kernel, z->data, labels->data, y->data, n, c, y->attr[0].i);
    return NB_OK;
}

nb_node *nb_cross_entropy(nb_graph *g, nb_node *logits, nb_node *labels)
{
    nb_node *in[2] = { logits, labels };
    if (!nbi_check_inputs(g, "cross_entropy", 2, in)) {
        return NULL;
    }
    if (logits->dtype == NB_DTYPE_I32) {
        nbi_fail(g, NB_ERR_DTYPE, "cross_entropy", 2, in, "logits must be f32 or f64, not i32");
        return NULL;
    }
    if (!check_labels(g, "cross_entropy", 2, in, 1)) {
        return NULL;
    }
    if (logits->rank != 2 || labels->rank != 1) {
        nbi_fail(g, NB_ERR_RANK, "cross_entropy", 2, in,
                 "needs logits of rank 2 [N,C] and labels of rank 1 [N]");
        return NULL;
    }
    if (labels->shape[0] != logits->shape[0]) {
        nbi_fail(g, NB_ERR_SHAPE, "cross_entropy", 2, in, "%lld rows of logits but %lld labels",
                 (long long)logits->shape[0], (long long)labels->shape[0]);
        return NULL;
    }
    return nbi_node_new(g, NBI_OP_CROSS_ENTROPY, logits->dtype, 0, NULL, logits, labels);
}

nb_node *nb_cross_entropy_ignore(nb_graph *g, nb_node *logits, nb_node *labels, int32_t ignore)
{
    nb_node *y = nb_cross_entropy(g, logits, labels);
    if (y) {
        y->attr[0].i = ignore;
    }
    return y;
}

static nb_node *cross_entropy_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    /* the language reads whole numbers within int32 only, so a given ignore fits */
    return attr[0].i == (int64_t)IGNORE_NONE
               ? nb_cross_entropy(g, in[0], in[1])
               : nb_cross_entropy_ignore(g, in[0], in[1], (int32_t)attr[0].i);
}

static void cross_entropy_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    if (!need[0]) {
        return;
    }
    nb_node *z = y->in[0], *labels = y->in[1];
    int64_t n = z->shape[0], c = z->shape[1];
    nb_node *p = nb_softmax(g, z, 1);
    if (y->attr[0].i == (int64_t)IGNORE_NONE) {
        nb_node *t = nb_one_hot(g, labels, c, (nb_dtype)z->dtype);
        nb_node *scale = nbi_chain(g, dy, nbi_scalar_cached(g, y->dtype, 1.0 / (double)n));
        dx[0] = nb_mul(g, nb_sub(g, p, t), scale);
        return;
    }
    /*
     * Ignored rows have all-zero targets t, so keep = Σ_c t (1 or 0 per row)
     * masks them and the count of kept rows is K = Σ keep, known only at run
     * time. Dividing by K + 1 - max(keep) is dividing by K, or by 1 when every
     * row is ignored: the gradient is then 0, as PyTorch's, not 0/0.
     */
    nb_node *t = one_hot_ignore(g, labels, c, (nb_dtype)z->dtype, y->attr[0].i);
    nb_node *keep = nb_sum_axis(g, t, 1, true);
    nb_node *any = nb_max_axis(g, nb_reshape(g, keep, NB_SHAPE(n)), 0, false);
    nb_node *one = nbi_scalar_cached(g, y->dtype, 1.0);
    nb_node *count = nb_add(g, nb_sum(g, keep), nb_sub(g, one, any));
    nb_node *scale = nb_div(g, dy, count);
    dx[0] = nb_mul(g, nb_sub(g, nb_mul(g, p, keep), t), scale);
}

const nbi_op nbi_op_cross_entropy = {
    .name = "cross_entropy",
    .symbol = "CE",
    .arity = 2,
    .attrs = { { "ignore", NBI_ATTR_INT, IGNORE_NONE, .def_word = "none" } },
    .n_attrs = 1,
    .build = cross_entropy_build,
    .inputs = "logits, labels",
    .forward = cross_entropy_forward,
    .grad = cross_entropy_grad,
    .formula = "y = (1/N) Σ_i [logsumexp(z_i) - z_i,label_i]; with ignore, rows whose label is "
               "ignore are left out and N counts the rest",
    .grad_formula = "dz = (softmax(z) - one_hot(labels)) * dy / N; labels get none; with ignore, "
                    "ignored rows get 0 and N counts the kept rows",
};

/* ---- bce_logits ---- */

static nb_status bce_logits_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nb_node *z = y->in[0];
    /* eight independent partial sums let the loop vectorize (one sum would chain every add) */
    double acc[8] = { 0 }; /* room for eight of either type */
    NBI_DISPATCH(y, nbi_bce_block, z->data, y->in[1]->data, acc, nbi_node_count(z));
    NBI_DISPATCH(y, nbi_bce_finish, acc, y->data, nbi_node_count(z));
    return NB_OK;
}

/* Shared builder of the two same-shape losses. */
static nb_node *pair_loss(nb_graph *g, int op, nb_node *a, nb_node *b)
{
    nb_node *in[2] = { a, b };
    const char *name = nbi_ops[op]->name;
    if (!nbi_check_inputs(g, name, 2, in) || !nbi_check_float(g, name, 2, in)) {
        return NULL;
    }
    if (!nbi_same_shape(a, b)) {
        char sa[96], sb[96];
        nbi_format_shape(a->rank, a->shape, sa, sizeof sa);
        nbi_format_shape(b->rank, b->shape, sb, sizeof sb);
        nbi_fail(g, NB_ERR_SHAPE, name, 2, in, "shapes %s and %s differ; they must be equal", sa,
                 sb);
        return NULL;
    }
    return nbi_node_new(g, op, a->dtype, 0, NULL, a, b);
}

nb_node *nb_bce_logits(nb_graph *g, nb_node *z, nb_node *t)
{
    return pair_loss(g, NBI_OP_BCE_LOGITS, z, t);
}

static nb_node *mean_scale(nb_graph *g, nb_node *y, nb_node *dy, double factor)
{
    double n = (double)nbi_node_count(y->in[0]);
    return nbi_chain(g, dy, nbi_scalar_cached(g, y->dtype, factor / n));
}

static void bce_logits_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    nb_node *z = y->in[0], *t = y->in[1];
    nb_node *s = mean_scale(g, y, dy, 1.0);
    if (need[0]) {
        dx[0] = nb_mul(g, nb_sub(g, nb_sigmoid(g, z), t), s);
    }
    if (need[1]) {
        dx[1] = nb_mul(g, nb_neg(g, z), s);
    }
}

const nbi_op nbi_op_bce_logits = {
    .name = "bce_logits",
    .symbol = "BCE",
    .arity = 2,
    .forward = bce_logits_forward,
    .grad = bce_logits_grad,
    .formula = "y = (1/n) Σ [max(z,0) - z t + ln(1 + e^-|z|)]",
    .grad_formula = "dz = (σ(z) - t) * dy / n, dt = -z * dy / n",
};

/* ---- mse ---- */

NBI_TYPED(mse_kernel, (const void *av, const void *bv, void *yv, size_t n), {
    const T *a = av, *b = bv;
    T acc[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int j = 0; j < 8; j++) {
            T d = a[i + j] - b[i + j];
            acc[j] += d * d;
        }
    }
    for (; i < n; i++) {
        T d = a[i] - b[i];
        acc[0] += d * d;
    }
    double total =
        (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
    *(T *)yv = (T)(total / (double)n);
})

static nb_status mse_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nb_node *a = y->in[0];
    NBI_DISPATCH(y, mse_kernel, a->data, y->in[1]->data, y->data, nbi_node_count(a));
    return NB_OK;
}

nb_node *nb_mse(nb_graph *g, nb_node *a, nb_node *b)
{
    return pair_loss(g, NBI_OP_MSE, a, b);
}

static void mse_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    nb_node *d = nb_mul(g, nb_sub(g, y->in[0], y->in[1]), mean_scale(g, y, dy, 2.0));
    if (need[0]) {
        dx[0] = d;
    }
    if (need[1]) {
        dx[1] = nb_neg(g, d);
    }
}

const nbi_op nbi_op_mse = {
    .name = "mse",
    .symbol = "MSE",
    .arity = 2,
    .forward = mse_forward,
    .grad = mse_grad,
    .formula = "y = (1/n) Σ (a - b)²",
    .grad_formula = "da = 2 (a - b) dy / n, db = -da",
};
