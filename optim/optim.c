/*
 * optim/optim.c: the optimizer object: options and their checks, state slabs
 * allocated once, the learning-rate schedule, gradient clipping by global
 * norm, and the step (one planned run of the loss and gradients, then each
 * optimizer's in-place update).
 */
#include "optim.h"
#include "../dist/dist.h"
#include "../ops/kernel.h"

#include <math.h>

static const nbi_optimizer *const rules[] = {
    [NB_OPTIM_SGD] = &nbi_optim_sgd,         [NB_OPTIM_ADAGRAD] = &nbi_optim_adagrad,
    [NB_OPTIM_RMSPROP] = &nbi_optim_rmsprop, [NB_OPTIM_ADAM] = &nbi_optim_adam,
    [NB_OPTIM_ADAMW] = &nbi_optim_adamw,
};

/*
 * The gradient norm is summed in blocks of NBI_NORM_BLOCK elements, each into
 * its own slot of opt->blocks, and the blocks are added in order: the same
 * bits however many threads computed them. Threads split a large parameter
 * at block boundaries; parameters below NBI_PAR_MIN elements go whole to one
 * thread each, round robin (a split would cost more than it saves).
 */
#define NBI_NORM_BLOCK 4096

/* First slot of parameter i's blocks: the slots of 0..i-1 all fit below it. */
static size_t first_block(const nb_optim *opt, size_t i)
{
    return opt->offset[i] / NBI_NORM_BLOCK + i;
}

/* Slots for every parameter's blocks (first_block of one past the last). */
static size_t block_count(size_t total, size_t n)
{
    return total / NBI_NORM_BLOCK + n + 1;
}

nb_optim_options nb_optim_defaults(nb_optim_kind kind)
{
    nb_optim_options o = {
        .kind = kind,
        .lr = 0.01,
        .beta1 = 0.9,
        .beta2 = 0.999,
        .alpha = 0.99,
        .eps = 1e-8,
        .schedule = { .kind = NB_SCHEDULE_CONSTANT, .gamma = 0.1 }, /* step_size: the caller's */
    };
    switch (kind) {
    case NB_OPTIM_ADAGRAD:
        o.eps = 1e-10;
        break;
    case NB_OPTIM_ADAM:
        o.lr = 1e-3;
        break;
    case NB_OPTIM_ADAMW:
        o.lr = 1e-3;
        o.weight_decay = 0.01;
        break;
    default:
        break;
    }
    return o;
}

/* Returns a description of what is wrong with o, or NULL. */
static const char *bad_options(const nb_optim_options *o)
{
    if ((unsigned)o->kind > NB_OPTIM_ADAMW) {
        return "unknown optimizer kind";
    }
    if (!(o->lr >= 0) || !isfinite(o->lr)) {
        return "the learning rate must be finite and >= 0";
    }
    if (!(o->weight_decay >= 0) || !(o->momentum >= 0) || !(o->eps >= 0) || !(o->clip_norm >= 0) ||
        !(o->lr_decay >= 0) || !(o->initial_accumulator >= 0)) {
        return "weight_decay, momentum, eps, clip_norm, lr_decay and initial_accumulator must be "
               ">= 0";
    }
    if (o->kind == NB_OPTIM_SGD && o->nesterov && (o->momentum <= 0 || o->dampening != 0)) {
        return "Nesterov momentum needs momentum > 0 and dampening 0";
    }
    if ((o->kind == NB_OPTIM_ADAM || o->kind == NB_OPTIM_ADAMW) &&
        !(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1)) {
        return "beta1 and beta2 must be in [0, 1)";
    }
    if (o->kind == NB_OPTIM_RMSPROP && !(o->alpha >= 0 && o->alpha <= 1)) {
        return "alpha must be in [0, 1]";
    }
    const nb_schedule *s = &o->schedule;
    if ((unsigned)s->kind > NB_SCHEDULE_COSINE || s->warmup < 0 ||
        (s->kind == NB_SCHEDULE_STEP && (s->step_size < 1 || !(s->gamma > 0))) ||
        (s->kind == NB_SCHEDULE_COSINE && (s->t_max < 1 || !(s->lr_min >= 0)))) {
        return "bad schedule: warmup must be >= 0, step needs step_size >= 1 and gamma > 0, "
               "cosine t_max >= 1 and lr_min >= 0";
    }
    return NULL;
}

nb_optim *nb_optim_new(nb_graph *g, nb_node *loss, size_t n, nb_node *const *params,
                       nb_node *const *grads, const nb_optim_options *opts)
{
    if (!g || g->status != NB_OK) {
        return NULL;
    }
    nb_optim_options o = opts ? *opts : nb_optim_defaults(NB_OPTIM_SGD);
    const char *why = bad_options(&o);
    if (why) {
        nbi_fail(g, NB_ERR_ARG, "optim_new", 0, NULL, "%s", why);
        return NULL;
    }
    if (n == 0 || !params || !grads) {
        nbi_fail(g, NB_ERR_ARG, "optim_new", 0, NULL,
                 "needs at least one parameter and its gradient");
        return NULL;
    }
    if (loss && !nbi_check_inputs(g, "optim_new", 1, &loss)) {
        return NULL;
    }
    if (loss && (nbi_node_count(loss) != 1 || loss->dtype == NB_DTYPE_I32)) {
        nbi_fail(g, NB_ERR_ARG, "optim_new", 1, &loss, "the loss must be a floating scalar");
        return NULL;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        nb_node *in[2] = { params[i], grads[i] };
        if (!nbi_check_inputs(g, "optim_new", 2, in)) {
            return NULL;
        }
        if (params[i]->op == NBI_OP_STATE) {
            nbi_fail(g, NB_ERR_ARG, "optim_new", 2, in,
                     "params[%zu] is a state node: the ops that own it update it while running, "
                     "not an optimizer",
                     i);
            return NULL;
        }
        if (params[i]->op != NBI_OP_PARAM) {
            nbi_fail(g, NB_ERR_ARG, "optim_new", 2, in, "params[%zu] is not a parameter", i);
            return NULL;
        }
        if (params[i]->dtype != params[0]->dtype) {
            nbi_fail(g, NB_ERR_ARG, "optim_new", 2, in,
                     "params[%zu] is %s but params[0] is %s; parameters must share one dtype", i,
                     nb_dtype_name(params[i]->dtype), nb_dtype_name(params[0]->dtype));
            return NULL;
        }
        if (!nbi_same_shape(params[i], grads[i]) || grads[i]->dtype != params[i]->dtype) {
            nbi_fail(g, NB_ERR_ARG, "optim_new", 2, in,
                     "grads[%zu] must have the shape and dtype of params[%zu]", i, i);
            return NULL;
        }
        total += nbi_node_count(params[i]);
    }
    nb_optim *opt = nbi_mem_alloc(g, sizeof *opt);
    if (!opt) {
        nbi_fail_nomem(g, "optim_new");
        return NULL;
    }
    memset(opt, 0, sizeof *opt);
    opt->g = g;
    opt->o = o;
    opt->rule = rules[o.kind];
    opt->n = n;
    opt->loss = loss;
    opt->n_outs = n + (loss ? 1 : 0);
    opt->total = total;
    opt->n_slots = opt->rule->slots(&o);
    opt->last_loss = NAN;
    opt->first_loss = NAN;
    opt->params = nbi_mem_alloc(g, n * sizeof *opt->params);
    opt->outs = nbi_mem_alloc(g, opt->n_outs * sizeof *opt->outs);
    opt->other = nbi_mem_alloc(g, (n + 1) * sizeof *opt->other);
    opt->offset = nbi_mem_alloc(g, n * sizeof *opt->offset);
    opt->n_blocks = block_count(total, n);
    opt->blocks = nbi_mem_alloc(g, opt->n_blocks * sizeof *opt->blocks);
    opt->gdata = nbi_mem_alloc(g, n * sizeof *opt->gdata);
    size_t es = nbi_dtype_size(params[0]->dtype);
    opt->state_bytes = (size_t)opt->n_slots * total * es;
    opt->state = opt->state_bytes ? nbi_mem_alloc(g, opt->state_bytes) : NULL;
    if (!opt->params || !opt->outs || !opt->other || !opt->offset || !opt->blocks || !opt->gdata ||
        (opt->state_bytes && !opt->state)) {
        nb_optim_free(opt);
        nbi_fail_nomem(g, "optim_new");
        return NULL;
    }
    memcpy(opt->params, params, n * sizeof *params);
    size_t k = 0, at = 0;
    if (loss) {
        opt->outs[k++] = loss;
    }
    for (size_t i = 0; i < n; i++) {
        opt->outs[k++] = grads[i];
        opt->offset[i] = at;
        at += nbi_node_count(params[i]);
    }
    if (opt->state) {
        memset(opt->state, 0, opt->state_bytes);
        for (size_t i = 0; i < n; i++) {
            void *slots[NBI_MAX_SLOTS];
            for (int s = 0; s < opt->n_slots; s++) {
                slots[s] = nbi_optim_slot(opt, i, s);
            }
            opt->rule->init(opt, slots, nbi_node_count(params[i]));
        }
    }
    nb_status ds = nbi_dist_step_new(opt);
    if (ds != NB_OK) {
        if (ds == NB_ERR_NOMEM) {
            nbi_fail_nomem(g, "optim_new");
        } else {
            nbi_fail(g, ds, "optim_new", 0, NULL,
                     "a parameter of 2^31 elements or more is too large for one MPI all-reduce");
        }
        nb_optim_free(opt);
        return NULL;
    }
    opt->share = opt->dist ? 1.0 / nb_dist_size() : 1;
    return opt;
}

void nb_optim_free(nb_optim *opt)
{
    if (!opt) {
        return;
    }
    nb_graph *g = opt->g;
    if (opt->acc) { /* sized by the parameters' dtype, before they go */
        nbi_mem_free(g, opt->acc, opt->total * nbi_dtype_size(opt->params[0]->dtype));
    }
    nbi_mem_free(g, opt->params, opt->n * sizeof *opt->params);
    nbi_mem_free(g, opt->outs, opt->n_outs * sizeof *opt->outs);
    nbi_mem_free(g, opt->other, (opt->n + 1) * sizeof *opt->other);
    nbi_mem_free(g, opt->offset, opt->n * sizeof *opt->offset);
    nbi_mem_free(g, opt->blocks, opt->n_blocks * sizeof *opt->blocks);
    nbi_mem_free(g, opt->gdata, opt->n * sizeof *opt->gdata);
    nbi_dist_step_free(opt);
    nbi_mem_free(g, opt->state, opt->state_bytes);
    nbi_mem_free(g, opt, sizeof *opt);
}

/* The schedule's rate for step t (from 1). */
static double scheduled_lr(const nb_optim_options *o, int64_t t)
{
    const nb_schedule *s = &o->schedule;
    if (s->warmup > 0 && t <= s->warmup) {
        return o->lr * (double)t / (double)s->warmup;
    }
    int64_t u = t - s->warmup; /* steps since warm-up, from 1 */
    switch (s->kind) {
    case NB_SCHEDULE_STEP:
        return o->lr * pow(s->gamma, (double)((u - 1) / s->step_size));
    case NB_SCHEDULE_COSINE: {
        double k = (double)(u - 1 < s->t_max ? u - 1 : s->t_max) / (double)s->t_max;
        return s->lr_min + (o->lr - s->lr_min) * (1 + cos(3.141592653589793 * k)) / 2;
    }
    default:
        return o->lr;
    }
}

double nb_optim_lr(const nb_optim *opt)
{
    return opt ? scheduled_lr(&opt->o, opt->t + 1) : NAN;
}

/*
 * Sum of (x / scale)^2 over each block of NBI_NORM_BLOCK elements of x, into
 * out[0], out[1], ... Sixteen independent partial sums in the gradient's own
 * type let the loop vectorize: this pass runs every step, and a single
 * running double sum would cost as much as a small network's whole update.
 */
NBI_TYPED(squares_kernel, (const void *xv, size_t n, double scale, double *out), {
    const T *x = xv;
    const T r = (T)(1 / scale);
    for (size_t b = 0; b < n; b += NBI_NORM_BLOCK) {
        /* indexed from the block's start: GCC vectorizes this form, not x[b + i] up to an end */
        const T *xb = x + b;
        size_t m = n - b < NBI_NORM_BLOCK ? n - b : NBI_NORM_BLOCK, i = 0;
        T acc[16] = { 0 };
        for (; i + 16 <= m; i += 16) {
            for (int j = 0; j < 16; j++) {
                T v = xb[i + j] * r;
                acc[j] += v * v;
            }
        }
        for (; i < m; i++) {
            T v = xb[i] * r;
            acc[0] += v * v;
        }
        double total = 0;
        for (int j = 0; j < 16; j++) {
            total += (double)acc[j];
        }
        out[b / NBI_NORM_BLOCK] = total;
    }
})

/* The elements [*lo, *hi) of parameter i (n elements) that thread k of nt takes; false if none. */
static bool share(size_t i, size_t n, int k, int nt, size_t *lo, size_t *hi)
{
    if (nt == 1 || n < NBI_PAR_MIN) {
        *lo = 0;
        *hi = n;
        return (int)(i % (size_t)nt) == k;
    }
    size_t blocks = (n + NBI_NORM_BLOCK - 1) / NBI_NORM_BLOCK;
    size_t per = (blocks + (size_t)nt - 1) / (size_t)nt * NBI_NORM_BLOCK;
    *lo = (size_t)k * per < n ? (size_t)k * per : n;
    *hi = *lo + per < n ? *lo + per : n;
    return *lo < *hi;
}

/* What the step's threads share. */
typedef struct step_work {
    nb_optim *opt;
    nb_node *const *grads;
    double scale;      /* the norm pass: squares of g / scale */
    double lr, gscale; /* the update */
} step_work;

static void squares_work(void *ctx, int k, int nt)
{
    const step_work *w = ctx;
    const nb_optim *opt = w->opt;
    for (size_t i = 0; i < opt->n; i++) {
        const nb_node *gr = w->grads[i];
        size_t lo, hi, es = nbi_dtype_size(gr->dtype);
        if (share(i, nbi_node_count(gr), k, nt, &lo, &hi)) {
            NBI_DISPATCH(gr, squares_kernel, (const unsigned char *)opt->gdata[i] + lo * es,
                         hi - lo, w->scale,
                         opt->blocks + first_block(opt, i) + lo / NBI_NORM_BLOCK);
        }
    }
}

/* Sum of (g / scale)^2 over every gradient, on nt threads. */
static double sum_squares(nb_optim *opt, nb_node *const *grads, double scale, int nt)
{
    step_work w = { .opt = opt, .grads = grads, .scale = scale };
    nbi_parallel(opt->total >= NBI_PAR_MIN ? nt : 1, squares_work, &w);
    double sq = 0;
    for (size_t i = 0; i < opt->n; i++) {
        size_t b = first_block(opt, i),
               end = b + (nbi_node_count(grads[i]) + NBI_NORM_BLOCK - 1) / NBI_NORM_BLOCK;
        for (; b < end; b++) {
            sq += opt->blocks[b];
        }
    }
    return sq;
}

static void update_work(void *ctx, int k, int nt)
{
    const step_work *w = ctx;
    const nb_optim *opt = w->opt;
    size_t es = nbi_dtype_size(opt->params[0]->dtype);
    for (size_t i = 0; i < opt->n; i++) {
        size_t lo, hi;
        if (!share(i, nbi_node_count(opt->params[i]), k, nt, &lo, &hi)) {
            continue;
        }
        void *slots[NBI_MAX_SLOTS] = { NULL };
        for (int s = 0; s < opt->n_slots; s++) {
            slots[s] = (unsigned char *)nbi_optim_slot(opt, i, s) + lo * es;
        }
        opt->rule->update(opt, (unsigned char *)opt->params[i]->data + lo * es,
                          (const unsigned char *)opt->gdata[i] + lo * es, slots, hi - lo, w->lr,
                          w->gscale);
    }
}

/* Largest |x| of a gradient; false at the first element that is NaN or infinite. */
static bool finite_max(const nb_node *n, const void *data, double *m)
{
    size_t c = nbi_node_count(n);
    for (size_t i = 0; i < c; i++) {
        double v =
            n->dtype == NB_DTYPE_F32 ? (double)((const float *)data)[i] : ((const double *)data)[i];
        if (!isfinite(v)) {
            return false;
        }
        *m = fabs(v) > *m ? fabs(v) : *m;
    }
    return true;
}

/* The body of nbi_optim_weigh for element type T; the branches are outside the loops. */
#define WEIGH(T, y, x, n, w, add)                                                                  \
    do {                                                                                           \
        T z_ = 0;                                                                                  \
        if (!(x)) {                                                                                \
            for (size_t k = 0; k < (n); k++) {                                                     \
                (y)[k] = (add) ? (y)[k] : 0;                                                       \
                z_ += (y)[k] * 0;                                                                  \
            }                                                                                      \
        } else if (add) {                                                                          \
            for (size_t k = 0; k < (n); k++) {                                                     \
                (y)[k] += (x)[k] * (w);                                                            \
                z_ += (y)[k] * 0;                                                                  \
            }                                                                                      \
        } else {                                                                                   \
            for (size_t k = 0; k < (n); k++) {                                                     \
                (y)[k] = (x)[k] * (w);                                                             \
                z_ += (y)[k] * 0; /* NaN once any value is NaN or infinite */                      \
            }                                                                                      \
        }                                                                                          \
        return z_ == 0;                                                                            \
    } while (0)

bool nbi_optim_weigh(nb_dtype t, void *dst, const void *src, size_t n, double w, bool add)
{
    if (t == NB_DTYPE_F32) {
        const float *x = src;
        float *y = dst;
        WEIGH(float, y, x, n, (float)w, add);
    }
    const double *x = src;
    double *y = dst;
    WEIGH(double, y, x, n, w, add);
}

/* Where parameter i's weighted sum is kept: dist's slab, or the optimizer's own (made here). */
static void *sum_at(nb_optim *opt, size_t i)
{
    if (opt->dist) {
        return nbi_dist_grad(opt, i);
    }
    size_t es = nbi_dtype_size(opt->params[0]->dtype);
    if (!opt->acc) {
        opt->acc = nbi_mem_alloc(opt->g, opt->total * es);
        if (!opt->acc) {
            return NULL;
        }
    }
    return (unsigned char *)opt->acc + opt->offset[i] * es;
}

/* Adds this run's gradients (NULL: zeros) times the share to the sum; false when out of memory. */
static bool add_to_sum(nb_optim *opt, nb_node *const *grads)
{
    for (size_t i = 0; i < opt->n; i++) {
        void *dst = sum_at(opt, i);
        if (!dst) {
            return false;
        }
        nbi_optim_weigh(opt->params[0]->dtype, dst, grads ? grads[i]->data : NULL,
                        nbi_node_count(opt->params[i]), opt->share, opt->acc_n > 0);
    }
    return true;
}

static void read_loss(nb_optim *opt, const nb_node *loss)
{
    opt->last_loss = loss->dtype == NB_DTYPE_F32 ? (double)*(const float *)loss->data
                                                 : *(const double *)loss->data;
}

/*
 * Runs outs[0..n_outs-1] (the loss first when has_loss), then updates every
 * parameter: from the run's gradients, or from the weighted sum of the
 * micro-batches accumulated since the last step and this run's.
 */
static nb_status step(nb_optim *opt, nb_node *const *outs, size_t n_outs, bool has_loss)
{
    nb_graph *g = opt->g;
    nb_node *const *grads = outs + (has_loss ? 1 : 0);
    bool summed = opt->dist || opt->acc_n > 0 || opt->share != 1, ran = opt->share > 0;
    nb_status s = opt->acc_status;
    if (opt->dist) {
        /* the run, then the gradients summed over the processes (and a failure agreed on) */
        s = nbi_dist_run(opt, outs, n_outs, grads);
    } else if (s != NB_OK) {
        s = nbi_report(g, s, "optim_step", 0, NULL, "a micro-batch failed: %s", opt->acc_msg);
    } else {
        s = ran ? nb_graph_run(g, n_outs, outs) : NB_OK;
        if (s == NB_OK && summed && !add_to_sum(opt, ran ? grads : NULL)) {
            s = nbi_report(g, NB_ERR_NOMEM, "optim_step", 0, NULL,
                           "out of memory for the sum of the micro-batches' gradients");
        }
    }
    opt->acc_n = 0;
    opt->acc_status = NB_OK;
    if (s != NB_OK) {
        return s;
    }
    for (size_t i = 0; i < opt->n; i++) {
        opt->gdata[i] = summed ? sum_at(opt, i) : grads[i]->data;
    }
    int nt = nbi_threads();
    opt->last_norm = sqrt(sum_squares(opt, grads, 1, nt));
    if (has_loss && ran) {
        read_loss(opt, outs[0]);
        if (isnan(opt->first_loss)) {
            opt->first_loss = opt->last_loss;
        }
    }
    if (!isfinite(opt->last_norm)) {
        /* a NaN or infinity refuses the step; huge finite values only overflowed the squares */
        double m = 0;
        for (size_t i = 0; i < opt->n; i++) {
            if (!finite_max(grads[i], opt->gdata[i], &m)) {
                nb_node *in[2] = { opt->params[i], grads[i] };
                return nbi_report(g, NB_ERR_VALUE, "optim_step", 2, in,
                                  "the gradient of %s is not finite; no parameter was updated",
                                  nb_node_name(opt->params[i]));
            }
        }
        opt->last_norm = m * sqrt(sum_squares(opt, grads, m, nt));
    }
    double gscale = 1;
    if (opt->o.clip_norm > 0 && opt->last_norm > opt->o.clip_norm) {
        gscale = opt->o.clip_norm / (opt->last_norm + 1e-6); /* as torch.nn.utils.clip_grad_norm_ */
    }
    opt->t++;
    double lr = scheduled_lr(&opt->o, opt->t);
    step_work w = { .opt = opt, .grads = grads, .lr = lr, .gscale = gscale };
    nbi_parallel(opt->total >= NBI_PAR_MIN ? nt : 1, update_work, &w);
    return NB_OK;
}

nb_status nb_optim_step(nb_optim *opt)
{
    if (!opt) {
        return NB_ERR_ARG;
    }
    return step(opt, opt->outs, opt->n_outs, opt->loss != NULL);
}

/* Checks loss and grads (given by the caller for op) into opt->other[0..*k-1]. */
static nb_status other_outs(nb_optim *opt, const char *op, nb_node *loss, nb_node *const *grads,
                            size_t *k)
{
    nb_graph *g = opt->g;
    if (!grads) {
        return nbi_report(g, NB_ERR_ARG, op, 0, NULL, "grads is NULL");
    }
    *k = 0;
    if (loss) {
        if (loss->g != g) {
            return nbi_report(g, NB_ERR_GRAPH, op, 1, &loss, "the loss belongs to another graph");
        }
        opt->other[(*k)++] = loss;
    }
    for (size_t i = 0; i < opt->n; i++) {
        nb_node *in[2] = { opt->params[i], grads[i] };
        if (!grads[i] || grads[i]->g != g || !nbi_same_shape(grads[i], opt->params[i]) ||
            grads[i]->dtype != opt->params[i]->dtype) {
            return nbi_report(g, NB_ERR_ARG, op, grads[i] ? 2 : 1, in,
                              "grads[%zu] must be a node of this graph shaped like params[%zu]", i,
                              i);
        }
        opt->other[(*k)++] = grads[i];
    }
    return NB_OK;
}

nb_status nb_optim_step_with(nb_optim *opt, nb_node *loss, nb_node *const *grads)
{
    if (!opt) {
        return NB_ERR_ARG;
    }
    size_t k = 0;
    nb_status s = other_outs(opt, "optim_step_with", loss, grads, &k);
    return s == NB_OK ? step(opt, opt->other, k, loss != NULL) : s;
}

nb_status nb_optim_accumulate(nb_optim *opt, nb_node *loss, nb_node *const *grads)
{
    if (!opt) {
        return NB_ERR_ARG;
    }
    nb_graph *g = opt->g;
    if (opt->acc_status != NB_OK) { /* the sum is already lost; the step reports it */
        return nbi_report(g, opt->acc_status, "optim_accumulate", 0, NULL, "%s", opt->acc_msg);
    }
    nb_node *const *outs = opt->outs;
    size_t n_outs = opt->n_outs;
    bool has_loss = opt->loss != NULL;
    if (loss && !grads) {
        return nbi_report(g, NB_ERR_ARG, "optim_accumulate", 1, &loss,
                          "a loss without grads; pass both, or neither for the optimizer's own");
    }
    if (grads) {
        nb_status s = other_outs(opt, "optim_accumulate", loss, grads, &n_outs);
        if (s != NB_OK) {
            return s;
        }
        outs = opt->other;
        has_loss = loss != NULL;
    }
    bool ran = opt->share > 0;
    nb_status s = ran ? nb_graph_run(g, n_outs, outs) : NB_OK;
    if (s == NB_OK && !add_to_sum(opt, ran ? outs + (has_loss ? 1 : 0) : NULL)) {
        s = nbi_report(g, NB_ERR_NOMEM, "optim_accumulate", 0, NULL,
                       "out of memory for the sum of the micro-batches' gradients");
    }
    if (s != NB_OK) {
        opt->acc_status = s;
        snprintf(opt->acc_msg, sizeof opt->acc_msg, "%s", nb_graph_error(g));
        return s;
    }
    if (has_loss && ran) {
        read_loss(opt, outs[0]);
    }
    opt->acc_n++;
    return NB_OK;
}

bool nb_optim_diverged(const nb_optim *opt, double loss)
{
    if (!opt) {
        return false;
    }
    if (!isfinite(loss)) {
        return true;
    }
    double first = opt->first_loss;
    return isfinite(first) && first > 0 && loss > 1000 * first;
}

double nb_optim_loss(const nb_optim *opt)
{
    return opt ? opt->last_loss : NAN;
}

int64_t nb_optim_steps(const nb_optim *opt)
{
    return opt ? opt->t : 0;
}

double nb_optim_grad_norm(const nb_optim *opt)
{
    return opt ? opt->last_norm : NAN;
}
