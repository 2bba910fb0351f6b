/*
 * dist/dist.c: data-parallel training on MPI. Joining the job, rank and
 * size, agreement on a status, sums and broadcasts, checkpoints saved by
 * rank 0, and the optimizer's distributed step: gradients copied into one
 * slab as the gradient run produces them (the executor's after_step hook)
 * and summed over the processes in buckets with MPI_Iallreduce, started in
 * one fixed order on every process. Without NBI_MPI (a build without MPI)
 * the job is one process and the collective calls do nothing.
 */
#include "dist.h"
#include "../optim/optim.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef NBI_MPI
#include <mpi.h>
#endif

static struct {
    int rank, size;
    bool joined; /* nb_dist_init succeeded with more than one process */
    bool owned;  /* nb_dist_init called MPI_Init, so nb_dist_finalize ends it */
    char err[256];
} job = { 0, 1, false, false, "" };

bool nb_dist_available(void)
{
#ifdef NBI_MPI
    return true;
#else
    return false;
#endif
}

/* The number of processes a launcher says it started, 0 if none did. */
static int launched_size(void)
{
    const char *vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0) {
            return atoi(v);
        }
    }
    return getenv("PMIX_RANK") || getenv("OMPI_COMM_WORLD_RANK") ? 2 : 0;
}

nb_status nb_dist_init(int *argc, char ***argv)
{
    job.err[0] = '\0';
#ifdef NBI_MPI
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        if (launched_size() == 0) {
            return NB_OK; /* not started by mpirun: one process, MPI untouched */
        }
        int provided;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            snprintf(job.err, sizeof job.err, "dist_init: MPI_Init_thread failed");
            return NB_ERR_IO;
        }
        job.owned = true;
        /* errors come back as codes, reported as statuses; an attached program keeps its own */
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &job.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &job.size);
    job.joined = job.size > 1;
    return NB_OK;
#else
    (void)argc;
    (void)argv;
    int n = launched_size();
    if (n > 1) {
        snprintf(job.err, sizeof job.err,
                 "dist_init: started as one of %d processes, but nabla was built without MPI "
                 "(install libopenmpi-dev and rebuild with -Dmpi=enabled)",
                 n);
        return NB_ERR_ARG;
    }
    return NB_OK;
#endif
}

int nb_dist_rank(void)
{
    return job.rank;
}

int nb_dist_size(void)
{
    return job.size;
}

const char *nb_dist_error(void)
{
    return job.err;
}

void nb_dist_finalize(void)
{
#ifdef NBI_MPI
    if (job.owned) {
        int done = 0;
        MPI_Finalized(&done);
        if (!done) {
            MPI_Finalize();
        }
        job.owned = false;
    }
#endif
    job.joined = false;
    job.rank = 0;
    job.size = 1;
}

void nb_dist_abort(int code)
{
#ifdef NBI_MPI
    if (job.joined) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
#endif
    exit(code);
}

nb_status nb_dist_agree(nb_status local, char *msg, size_t cap)
{
#ifdef NBI_MPI
    if (!job.joined) {
        return local;
    }
    int mine = local != NB_OK ? job.rank : INT_MAX, first;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS) {
        return NB_ERR_IO;
    }
    if (first == INT_MAX) {
        return NB_OK;
    }
    /* the failing rank's status and message, to everyone */
    struct {
        int status;
        char text[NBI_MSG_MAX];
    } what = { (int)local, "" };
    if (job.rank == first) {
        snprintf(what.text, sizeof what.text, "rank %d: %s", first, msg && cap ? msg : "failed");
    }
    if (MPI_Bcast(&what, (int)sizeof what, MPI_BYTE, first, MPI_COMM_WORLD) != MPI_SUCCESS) {
        return NB_ERR_IO;
    }
    if (msg && cap) {
        snprintf(msg, cap, "%s", what.text);
    }
    return (nb_status)what.status;
#else
    (void)msg;
    (void)cap;
    return local;
#endif
}

nb_status nb_dist_sum(double *x, size_t n)
{
#ifdef NBI_MPI
    if (!job.joined || n == 0) {
        return NB_OK;
    }
    if (!x || n > INT_MAX) {
        return NB_ERR_ARG;
    }
    return MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) ==
                   MPI_SUCCESS
               ? NB_OK
               : NB_ERR_IO;
#else
    (void)x;
    (void)n;
    return NB_OK;
#endif
}

#ifdef NBI_MPI
/* Broadcasts bytes from rank 0 in pieces an int can count. */
static bool bcast_bytes(void *p, size_t bytes)
{
    for (size_t at = 0; at < bytes;) {
        int k = bytes - at > (size_t)INT_MAX ? INT_MAX : (int)(bytes - at);
        if (MPI_Bcast((unsigned char *)p + at, k, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS) {
            return false;
        }
        at += (size_t)k;
    }
    return true;
}
#endif

nb_status nb_dist_broadcast(nb_graph *g, size_t n, nb_node *const *nodes)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        if (!nodes || !nodes[i] || nodes[i]->g != g || !nbi_is_leaf(nodes[i]) || !nodes[i]->data) {
            return nbi_report(g, NB_ERR_ARG, "dist_broadcast", nodes && nodes[i] ? 1 : 0,
                              nodes ? &nodes[i] : NULL,
                              "nodes[%zu] must be a leaf of this graph with a value", i);
        }
    }
#ifdef NBI_MPI
    if (!job.joined) {
        return NB_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (!bcast_bytes(nodes[i]->data,
                         nbi_node_count(nodes[i]) * nbi_dtype_size(nodes[i]->dtype))) {
            return nbi_report(g, NB_ERR_IO, "dist_broadcast", 1, &nodes[i], "MPI_Bcast failed");
        }
    }
#endif
    return NB_OK;
}

nb_status nb_dist_checkpoint_save(nb_graph *g, const char *path, size_t n, nb_node *const *params,
                                  const nb_optim *opt)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    nb_status s = job.rank == 0 ? nb_checkpoint_save(g, path, n, params, opt) : NB_OK;
    if (!job.joined) {
        return s;
    }
    char msg[NBI_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", s != NB_OK ? nb_graph_error(g) : "");
    s = nb_dist_agree(s, msg, sizeof msg);
    return s == NB_OK ? NB_OK : nbi_report(g, s, "dist_checkpoint_save", 0, NULL, "%s", msg);
}

nb_status nb_dist_checkpoint_load(nb_graph *g, const char *path, size_t n, nb_node *const *params,
                                  nb_optim *opt)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    nb_status s = job.rank == 0 ? nb_checkpoint_load(g, path, n, params, opt) : NB_OK;
    if (!job.joined) {
        return s;
    }
    char msg[NBI_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", s != NB_OK ? nb_graph_error(g) : "");
    s = nb_dist_agree(s, msg, sizeof msg);
    if (s != NB_OK) {
        return nbi_report(g, s, "dist_checkpoint_load", 0, NULL, "%s", msg);
    }
    s = nb_dist_broadcast(g, n, params);
#ifdef NBI_MPI
    if (s == NB_OK && opt) {
        int64_t t = opt->t;
        if (!bcast_bytes(&t, sizeof t) ||
            (opt->state_bytes && !bcast_bytes(opt->state, opt->state_bytes))) {
            return nbi_report(g, NB_ERR_IO, "dist_checkpoint_load", 0, NULL, "MPI_Bcast failed");
        }
        opt->t = t;
    }
#endif
    return s;
}

/* ---- the optimizer's distributed step ---- */

#ifdef NBI_MPI

#define DEFAULT_BUCKET_BYTES ((size_t)1 << 20)

struct nbi_dist_step {
    void *slab;            /* total elements: the weighted gradients, then their sum */
    size_t n_buckets;      /* bucket b holds parameters [lo[b], hi[b]) */
    size_t *lo, *hi;       /* bucket 0 ends with the last parameter: the first gradients ready */
    size_t *bucket;        /* bucket of each parameter */
    size_t *pending;       /* gradients bucket b still waits for */
    bool *copied;          /* parameter i's gradient is in the slab */
    MPI_Request *req;      /* n_buckets + 1: the last one sums the status */
    size_t next;           /* buckets started: 0..next-1, always in this order */
    nb_node *const *grads; /* the gradients of the step in progress */
    int status[2], status_sum[2];
    bool bad_local;                   /* a weighted gradient here was not finite */
    size_t bad_param;                 /* the first such */
    double run_seconds, wait_seconds; /* of the last step, for bench/ */
};

static MPI_Datatype mpi_type(nb_dtype t)
{
    return t == NB_DTYPE_F32 ? MPI_FLOAT : MPI_DOUBLE;
}

static void *slab_at(const nb_optim *opt, size_t i)
{
    size_t es = nbi_dtype_size(opt->params[0]->dtype);
    return (unsigned char *)opt->dist->slab + opt->offset[i] * es;
}

/* Starts the all-reduce of every ready bucket from d->next on, in order. */
static void start_ready(nb_optim *opt)
{
    nbi_dist_step *d = opt->dist;
    size_t es = nbi_dtype_size(opt->params[0]->dtype);
    while (d->next < d->n_buckets && d->pending[d->next] == 0) {
        size_t b = d->next++, lo = d->lo[b], hi = d->hi[b];
        size_t first = opt->offset[lo],
               end = opt->offset[hi - 1] + nbi_node_count(opt->params[hi - 1]);
        /* a bucket over INT_MAX elements would need splitting; nb_optim_new keeps them smaller */
        MPI_Iallreduce(MPI_IN_PLACE, (unsigned char *)d->slab + first * es, (int)(end - first),
                       mpi_type(opt->params[0]->dtype), MPI_SUM, MPI_COMM_WORLD, &d->req[b]);
    }
}

/*
 * Gradient i times the share, into the slab, or added to the micro-batches
 * already there (nb_optim_accumulate); notes a value that is not finite.
 */
static void take(nb_optim *opt, size_t i, const void *src)
{
    nbi_dist_step *d = opt->dist;
    bool finite = nbi_optim_weigh(opt->params[0]->dtype, slab_at(opt, i), src,
                                  nbi_node_count(opt->params[i]), opt->share, opt->acc_n > 0);
    if (!finite && (!d->bad_local || i < d->bad_param)) { /* the first parameter, in any order */
        d->bad_local = true;
        d->bad_param = i;
    }
    d->copied[i] = true;
    d->pending[d->bucket[i]]--;
}

/* The executor's after_step hook: takes the gradients v is, starts ready buckets, lets MPI progress. */
static nb_status after_step(void *ctx, nb_node *v)
{
    nb_optim *opt = ctx;
    nbi_dist_step *d = opt->dist;
    bool took = false;
    for (size_t i = 0; i < opt->n; i++) {
        if (d->grads[i] == v && !d->copied[i]) {
            take(opt, i, v->data);
            took = true;
        }
    }
    if (took) {
        start_ready(opt);
    }
    if (d->next > 0) {
        int flag; /* Open MPI moves non-blocking collectives on only inside MPI calls */
        MPI_Testall((int)d->next, d->req, &flag, MPI_STATUSES_IGNORE);
    }
    return NB_OK;
}

nb_status nbi_dist_step_new(nb_optim *opt)
{
    if (!opt->o.distributed || !job.joined) {
        return NB_OK;
    }
    size_t n = opt->n, es = nbi_dtype_size(opt->params[0]->dtype);
    size_t cap = opt->o.dist_bucket_bytes ? opt->o.dist_bucket_bytes : DEFAULT_BUCKET_BYTES;
    nbi_dist_step *d = calloc(1, sizeof *d);
    if (!d) {
        return NB_ERR_NOMEM;
    }
    opt->dist = d;
    d->slab = malloc(opt->total * es);
    d->lo = calloc(n, sizeof *d->lo);
    d->hi = calloc(n, sizeof *d->hi);
    d->bucket = calloc(n, sizeof *d->bucket);
    d->pending = calloc(n, sizeof *d->pending);
    d->copied = calloc(n, sizeof *d->copied);
    d->req = calloc(n + 1, sizeof *d->req);
    if (!d->slab || !d->lo || !d->hi || !d->bucket || !d->pending || !d->copied || !d->req) {
        return NB_ERR_NOMEM;
    }
    /* from the last parameter back: a backward pass makes the last layer's gradients first */
    size_t bytes = 0, limit = (size_t)INT_MAX * es;
    bool open = false;
    for (size_t i = n; i-- > 0;) {
        size_t pb = nbi_node_count(opt->params[i]) * es;
        if (pb > limit) {
            return NB_ERR_ARG;
        }
        if (!open || bytes + pb > limit) {
            d->hi[d->n_buckets++] = i + 1;
            bytes = 0;
            open = true;
        }
        size_t b = d->n_buckets - 1;
        d->lo[b] = i;
        d->bucket[i] = b;
        bytes += pb;
        open = bytes < cap; /* full: the next parameter opens a bucket */
    }
    return NB_OK;
}

void nbi_dist_step_free(nb_optim *opt)
{
    nbi_dist_step *d = opt->dist;
    if (!d) {
        return;
    }
    free(d->slab);
    free(d->lo);
    free(d->hi);
    free(d->bucket);
    free(d->pending);
    free(d->copied);
    free(d->req);
    free(d);
    opt->dist = NULL;
}

void *nbi_dist_grad(const nb_optim *opt, size_t i)
{
    return slab_at(opt, i);
}

static double wall(void)
{
    return MPI_Wtime();
}

nb_status nbi_dist_run(nb_optim *opt, nb_node *const *outs, size_t n_outs, nb_node *const *grads)
{
    nbi_dist_step *d = opt->dist;
    nb_graph *g = opt->g;
    for (size_t b = 0; b < d->n_buckets; b++) {
        d->pending[b] = d->hi[b] - d->lo[b];
        d->req[b] = MPI_REQUEST_NULL;
    }
    memset(d->copied, 0, opt->n * sizeof *d->copied);
    d->next = 0;
    d->grads = grads;
    d->bad_local = false;
    double t0 = wall();
    /* a micro-batch that failed here before (nb_optim_accumulate) fails the step everywhere */
    nb_status s = opt->acc_status;
    if (s != NB_OK) {
        nbi_report(g, s, "optim_accumulate", 0, NULL, "%s", opt->acc_msg);
    } else if (opt->share > 0) {
        g->after_step = after_step;
        g->after_step_ctx = opt;
        s = nb_graph_run(g, n_outs, outs);
        g->after_step = NULL;
        g->after_step_ctx = NULL;
    }
    /* gradients no step produced (leaves), or all of them when this process has no examples */
    for (size_t i = 0; i < opt->n; i++) {
        if (!d->copied[i]) {
            take(opt, i, s == NB_OK && opt->share > 0 ? grads[i]->data : NULL);
        }
    }
    start_ready(opt);
    /* lowest failed rank, lowest rank x parameter with a gradient that is not finite */
    d->status[0] = s != NB_OK ? job.rank : INT_MAX;
    d->status[1] = d->bad_local && opt->n <= (size_t)(INT_MAX / job.size)
                       ? job.rank * (int)opt->n + (int)d->bad_param
                       : INT_MAX;
    MPI_Iallreduce(d->status, d->status_sum, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD,
                   &d->req[d->n_buckets]);
    double t1 = wall();
    int rc = MPI_Waitall((int)d->n_buckets + 1, d->req, MPI_STATUSES_IGNORE);
    d->run_seconds = t1 - t0;
    d->wait_seconds = wall() - t1;
    if (rc != MPI_SUCCESS) {
        return nbi_report(g, NB_ERR_IO, "optim_step", 0, NULL,
                          "rank %d: the all-reduce of the gradients failed", job.rank);
    }
    if (d->status_sum[0] != INT_MAX) {
        char msg[NBI_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", s != NB_OK ? nb_graph_error(g) : "");
        s = nb_dist_agree(s, msg, sizeof msg);
        return nbi_report(g, s != NB_OK ? s : NB_ERR_IO, "optim_step", 0, NULL,
                          "%s; no parameter was updated", msg);
    }
    if (d->status_sum[1] != INT_MAX) {
        int r = d->status_sum[1] / (int)opt->n;
        size_t i = (size_t)(d->status_sum[1] % (int)opt->n);
        nb_node *in[1] = { opt->params[i] };
        return nbi_report(g, NB_ERR_VALUE, "optim_step", 1, in,
                          "rank %d: the gradient of %s is not finite; no parameter was updated", r,
                          nb_node_name(opt->params[i]));
    }
    return NB_OK;
}

void nbi_dist_times(const nb_optim *opt, double *run, double *wait)
{
    *run = opt->dist ? opt->dist->run_seconds : 0;
    *wait = opt->dist ? opt->dist->wait_seconds : 0;
}

#else /* no MPI: an optimizer never has a distributed step */

nb_status nbi_dist_step_new(nb_optim *opt)
{
    (void)opt;
    return NB_OK;
}

void nbi_dist_step_free(nb_optim *opt)
{
    (void)opt;
}

void *nbi_dist_grad(const nb_optim *opt, size_t i)
{
    (void)opt;
    (void)i;
    return NULL;
}

nb_status nbi_dist_run(nb_optim *opt, nb_node *const *outs, size_t n_outs, nb_node *const *grads)
{
    (void)grads;
    return nb_graph_run(opt->g, n_outs, outs);
}

void nbi_dist_times(const nb_optim *opt, double *run, double *wait)
{
    (void)opt;
    *run = *wait = 0;
}

#endif

nb_status nb_optim_set_share(nb_optim *opt, double share)
{
    if (!opt) {
        return NB_ERR_ARG;
    }
    if (!(share >= 0 && share <= 1)) {
        return nbi_report(opt->g, NB_ERR_ARG, "optim_set_share", 0, NULL,
                          "the share %g is outside [0, 1]", share);
    }
    opt->share = share;
    return NB_OK;
}
