/*
 * ops/pool.c: pooling (max_pool1d, max_pool2d, avg_pool1d, avg_pool2d) on NCHW
 * and NCL tensors, as PyTorch with ceil_mode false, and the two ops their
 * gradients are built from: max_pool_index (the flat index of each window's
 * maximum, so the max gradient is a scatter_add and its gradient a gather)
 * and avg_pool_grad (avg pooling's adjoint, whose gradient is avg pooling).
 * A 1-d pool is a 2-d one with a window of height 1: one set of kernels.
 */
#include "kernel.h"

#include <stdint.h>

/*
 * The geometry of a pooling: planes = N*C images of h x w (h = 1 for 1-d),
 * windows kh x kw moved by sh, sw over the input padded by ph, pw on each
 * side, giving oh x ow outputs per plane.
 */
typedef struct pool_geom {
    int64_t planes, h, w, oh, ow;
    int64_t kh, kw, sh, sw, ph, pw;
} pool_geom;

/* Spatial axes of an op: 1 for the 1-d pools, 2 for the 2-d ones, else from the input's rank. */
static int spatial_of(int op, const nb_node *x)
{
    if (op == NBI_OP_MAX_POOL1D || op == NBI_OP_AVG_POOL1D) {
        return 1;
    }
    if (op == NBI_OP_MAX_POOL2D || op == NBI_OP_AVG_POOL2D) {
        return 2;
    }
    return x->rank == 3 ? 1 : 2;
}

/*
 * Reads the list a (1 or nsp entries; empty gives def[]) into v[0..nsp-1].
 * Records an error naming the attribute when it has too many entries.
 */
static bool read_list(nb_graph *g, const char *op, nb_node *x, const char *what, int nsp,
                      const nbi_attr *a, const int64_t *def, int64_t *v)
{
    if (a->n > nsp) {
        nbi_fail(g, NB_ERR_ARG, op, 1, &x, "%s has %d entries; it takes %s", what, (int)a->n,
                 nsp == 1 ? "one number" : "a number or [h, w]");
        return false;
    }
    for (int k = 0; k < nsp; k++) {
        v[k] = a->n == 0 ? def[k] : a->list[a->n == 1 ? 0 : k];
    }
    return true;
}

/* Writes v[0..nsp-1] as "3" or "[3, 2]" to buf. */
static const char *list_str(char *buf, size_t cap, int nsp, const int64_t *v)
{
    if (nsp == 1) {
        snprintf(buf, cap, "%lld", (long long)v[0]);
    } else {
        snprintf(buf, cap, "[%lld, %lld]", (long long)v[0], (long long)v[1]);
    }
    return buf;
}

/*
 * Checks a pooling of the spatial sizes sp[0..nsp-1] of x (x is named in the
 * messages) by the kernel, stride and padding lists ksp[0..2] and fills *geo.
 * The rules are PyTorch's: kernel and stride >= 1, 0 <= padding <= kernel / 2,
 * and at least one window fits the padded input.
 */
static bool pool_check(nb_graph *g, const char *op, nb_node *x, int nsp, const int64_t *sp,
                       const nbi_attr *ksp, pool_geom *geo)
{
    static const int64_t zero[2] = { 0, 0 };
    int64_t k[2], s[2], p[2], o[2];
    char b1[48], b2[48];
    if (ksp[0].n == 0) {
        nbi_fail(g, NB_ERR_ARG, op, 1, &x, "kernel is empty");
        return false;
    }
    if (!read_list(g, op, x, "kernel", nsp, &ksp[0], zero, k) ||
        !read_list(g, op, x, "stride", nsp, &ksp[1], k, s) ||
        !read_list(g, op, x, "padding", nsp, &ksp[2], zero, p)) {
        return false;
    }
    for (int d = 0; d < nsp; d++) {
        if (k[d] < 1) {
            nbi_fail(g, NB_ERR_ARG, op, 1, &x, "kernel %s must be positive",
                     list_str(b1, sizeof b1, nsp, k));
            return false;
        }
        if (s[d] < 1) {
            nbi_fail(g, NB_ERR_ARG, op, 1, &x, "stride %s must be positive",
                     list_str(b1, sizeof b1, nsp, s));
            return false;
        }
        if (p[d] < 0 || p[d] > k[d] / 2) {
            nbi_fail(g, NB_ERR_ARG, op, 1, &x,
                     "padding %s must be between 0 and half the kernel %s (PyTorch's rule)",
                     list_str(b1, sizeof b1, nsp, p), list_str(b2, sizeof b2, nsp, k));
            return false;
        }
        if (sp[d] + 2 * p[d] < k[d]) {
            nbi_fail(g, NB_ERR_SHAPE, op, 1, &x,
                     "the window %lld is larger than the padded input %lld on axis %d",
                     (long long)k[d], (long long)(sp[d] + 2 * p[d]), 2 + d);
            return false;
        }
        o[d] = (sp[d] + 2 * p[d] - k[d]) / s[d] + 1;
    }
    geo->planes = x->shape[0] * x->shape[1];
    geo->h = nsp == 1 ? 1 : sp[0];
    geo->w = sp[nsp - 1];
    geo->kh = nsp == 1 ? 1 : k[0];
    geo->sh = nsp == 1 ? 1 : s[0];
    geo->ph = nsp == 1 ? 0 : p[0];
    geo->oh = nsp == 1 ? 1 : o[0];
    geo->kw = k[nsp - 1];
    geo->sw = s[nsp - 1];
    geo->pw = p[nsp - 1];
    geo->ow = o[nsp - 1];
    return true;
}

/* The geometry of node y from its input x's spatial sizes sp and its attributes from ksp. */
static pool_geom geom_of(nb_node *x, int nsp, const int64_t *sp, const nbi_attr *ksp)
{
    pool_geom geo;
    bool ok = pool_check(NULL, "", x, nsp, sp, ksp, &geo);
    NBI_ASSERT(ok);
    (void)ok;
    return geo;
}

/* Stores v[0..nsp-1] in a, or an empty list when v equals def (the attribute's default). */
static void store_list(nbi_attr *a, int nsp, const int64_t *v, const int64_t *def)
{
    bool same = true;
    for (int d = 0; d < nsp; d++) {
        same &= v[d] == def[d];
    }
    a->n = same ? 0 : nsp;
    for (int d = 0; d < (same ? 0 : nsp); d++) {
        a->list[d] = (int32_t)v[d];
    }
}

/* Stores geo's kernel, stride and padding in y's attributes from first on (stride = kernel, padding 0 elided). */
static void store_geom(nb_node *y, int first, int nsp, const pool_geom *geo)
{
    int64_t k[2] = { geo->kh, geo->kw }, s[2] = { geo->sh, geo->sw }, p[2] = { geo->ph, geo->pw };
    static const int64_t zero[2] = { 0, 0 };
    int o = nsp == 1 ? 1 : 0;
    y->attr[first].n = nsp;
    for (int d = 0; d < nsp; d++) {
        y->attr[first].list[d] = (int32_t)k[o + d];
    }
    store_list(&y->attr[first + 1], nsp, s + o, k + o);
    store_list(&y->attr[first + 2], nsp, p + o, zero);
}

/* ---- kernels: for each plane and output, a window clipped to the input ---- */

/* Clips a window starting at o * s - p of size k to [0, n): *lo, *hi. */
static inline void clip(int64_t o, int64_t s, int64_t p, int64_t k, int64_t n, int64_t *lo,
                        int64_t *hi)
{
    int64_t a = o * s - p;
    int64_t b = a + k;
    *lo = a < 0 ? 0 : a;
    *hi = b > n ? n : b;
}

/*
 * Max of each window into y (may be NULL) and the flat index of that max into
 * idx (may be NULL). Ties go to the first maximum in row-major window order and
 * a NaN wins over every number (the first NaN), both as PyTorch.
 * x[planes, h, w] -> y, idx [planes, oh, ow]
 */
/*
 * One tap of the window over n outputs: x[j * s] against best[j]; a larger
 * value or the first NaN takes the place, with its flat index at + j * s.
 * Written without branches (the data decides them at random) and with a
 * constant stride for the common s = 1 and s = 2, so it vectorizes.
 */
#define MAX_TAPS_BODY(S)                                                                           \
    for (int32_t j = 0; j < n; j++) {                                                              \
        T v = x[j * (S)], b = best[j];                                                             \
        bool take = (v > b) | ((v != v) & (b == b));                                               \
        best[j] = take ? v : b;                                                                    \
        arg[j] = take ? at + j * (S) : arg[j];                                                     \
    }
NBI_TYPED(max_taps, (const void *xv, int32_t s, void *bv, int32_t *arg, int32_t n, int32_t at), {
    const T *x = xv;
    T *best = bv;
    if (s == 2) {
        MAX_TAPS_BODY(2)
    } else if (s == 1) {
        MAX_TAPS_BODY(1)
    } else {
        MAX_TAPS_BODY(s)
    }
})

/*
 * Row by row: for each output row, each tap (iy, kx) of the window updates a
 * block of outputs at once, over the columns where that tap lies inside the
 * input, so the inner loop has no bounds checks and no branches and
 * vectorizes. Taps come in row-major window order, so ties and NaNs resolve
 * as they would one window at a time.
 */
#define POOL_BLOCK 256
NBI_TYPED(max_kernel,
          (const pool_geom *q, int64_t p0, int64_t p1, const void *xv, void *yv, int32_t *idx), {
              const T *x = xv;
              T *y = yv;
              T best[POOL_BLOCK];
              int32_t arg[POOL_BLOCK];
              const int64_t hw = q->h * q->w;
              for (int64_t pl = p0; pl < p1; pl++) {
                  const T *xp = x + pl * hw;
                  for (int64_t oy = 0; oy < q->oh; oy++) {
                      int64_t y0, y1;
                      clip(oy, q->sh, q->ph, q->kh, q->h, &y0, &y1);
                      for (int64_t ob = 0; ob < q->ow; ob += POOL_BLOCK) {
                          int64_t oe = ob + POOL_BLOCK < q->ow ? ob + POOL_BLOCK : q->ow;
                          for (int64_t ox = ob; ox < oe; ox++) {
                              int64_t x0 = ox * q->sw - q->pw;
                              best[ox - ob] = -INFINITY;
                              arg[ox - ob] = (int32_t)(pl * hw + y0 * q->w + (x0 < 0 ? 0 : x0));
                          }
                          for (int64_t iy = y0; iy < y1; iy++) {
                              const T *row = xp + iy * q->w;
                              for (int64_t kx = 0; kx < q->kw; kx++) {
                                  /* columns ox with 0 <= ox*sw - pw + kx < w */
                                  int64_t off = kx - q->pw, lo = ob, hi = oe;
                                  if (off < 0) {
                                      int64_t m = (-off + q->sw - 1) / q->sw;
                                      lo = lo > m ? lo : m;
                                  }
                                  int64_t m = q->w - off <= 0 ? 0 : (q->w - off - 1) / q->sw + 1;
                                  hi = hi < m ? hi : m;
                                  if (lo < hi) {
                                      _Generic((T)0, float
                                               : max_taps_f32, double
                                               : max_taps_f64)(
                                          row + lo * q->sw + off, (int32_t)q->sw, best + (lo - ob),
                                          arg + (lo - ob), (int32_t)(hi - lo),
                                          (int32_t)(pl * hw + iy * q->w + off + lo * q->sw));
                                  }
                              }
                          }
                          int64_t o = (pl * q->oh + oy) * q->ow;
                          if (y) {
                              memcpy(y + o + ob, best, (size_t)(oe - ob) * sizeof(T));
                          }
                          if (idx) {
                              memcpy(idx + o + ob, arg, (size_t)(oe - ob) * sizeof(int32_t));
                          }
                      }
                  }
              }
          })

/*
 * The common 2x2 window moved by 2 without padding, in two vectorized
 * passes over a segment of outputs: first down each column of the input
 * rows (the larger of two, the top one on a tie, and which row it came
 * from), then across each pair of columns, where a tie goes to the earlier
 * element in row-major window order (the top row first, then the left
 * column). That is the element max_kernel's tap-by-tap scan keeps, the
 * first maximum, so ties (and the sign of a zero) resolve the same way. A
 * segment holding a NaN is redone tap by tap with max_kernel's rule (the
 * first NaN wins). The value and the index passes are separate loops, so
 * the forward (no index) and max_pool_index (no value) each run only what
 * they store. When the windows tile the planes exactly (h = 2 oh, w = 2 ow,
 * as in most networks) the planes are one long run of row pairs, and a
 * segment is several whole output rows, across planes: rows are short
 * (tens of elements), and the per-row overhead would dominate.
 */
NBI_TYPED(max2_kernel,
          (const pool_geom *q, int64_t p0, int64_t p1, const void *xv, void *yv, int32_t *idx), {
              const T *x = xv;
              T *y = yv, cv[2 * POOL_BLOCK];
              int32_t cr[2 * POOL_BLOCK], off[POOL_BLOCK];
              const int64_t hw = q->h * q->w, w = q->w;
              const bool flat = q->h == 2 * q->oh && w == 2 * q->ow && w <= 2 * POOL_BLOCK;
              /* a segment: nr output rows of n outputs, flat; or one row's block of n */
              const int64_t nr_max = flat ? 2 * POOL_BLOCK / w : 1;
              const int64_t nseg = flat ? q->ow : (q->ow < POOL_BLOCK ? q->ow : POOL_BLOCK);
              for (int64_t k = 0; k < nr_max * nseg;
                   k++) { /* k's top-left input, from the segment's */
                  off[k] = (int32_t)(2 * (k % nseg) + 2 * w * (k / nseg));
              }
              const int64_t rows = flat ? (p1 - p0) * q->oh : 0;
              for (int64_t pl = flat ? 0 : p0; pl < (flat ? 1 : p1); pl++) {
                  for (int64_t s0 = 0; s0 < (flat ? rows : q->oh * q->ow);) {
                      /* the segment: first output o, first input at, rows nr of n outputs */
                      int64_t o, at, nr, n;
                      if (flat) {
                          nr = rows - s0 < nr_max ? rows - s0 : nr_max;
                          n = q->ow;
                          o = p0 * q->oh * q->ow + s0 * n;
                          at = p0 * hw + s0 * 2 * w;
                          s0 += nr;
                      } else {
                          int64_t oy = s0 / q->ow, ob = s0 % q->ow;
                          nr = 1;
                          n = q->ow - ob < POOL_BLOCK ? q->ow - ob : POOL_BLOCK;
                          o = (pl * q->oh + oy) * q->ow + ob;
                          at = pl * hw + 2 * oy * w + 2 * ob;
                          s0 += n;
                      }
                      const T *xs = x + at;
                      int nan = 0;
                      for (int64_t r = 0; r < nr; r++) { /* down each column */
                          const T *restrict r0 = xs + 2 * w * r, *restrict r1 = r0 + w;
                          T *restrict c = cv + 2 * n * r;
                          int32_t *restrict f = cr + 2 * n * r;
                          for (int64_t i = 0; i < 2 * n; i++) {
                              T a = r0[i], b = r1[i];
                              bool down = b > a;
                              c[i] = down ? b : a;
                              f[i] = down;
                              nan |= (a != a) | (b != b);
                          }
                      }
                      const int64_t m = nr * n;
                      if (nan) { /* rare: NaN rules, tap by tap */
                          for (int64_t k = 0; k < m; k++) {
                              const T *t = xs + off[k];
                              const T v[4] = { t[0], t[1], t[w], t[w + 1] };
                              const int32_t d4[4] = { 0, 1, (int32_t)w, (int32_t)w + 1 };
                              T b = -INFINITY;
                              int32_t a = 0;
                              for (int j = 0; j < 4; j++) {
                                  if (v[j] > b || (v[j] != v[j] && b == b)) {
                                      b = v[j];
                                      a = d4[j];
                                  }
                              }
                              if (y) {
                                  y[o + k] = b;
                              }
                              if (idx) {
                                  idx[o + k] = (int32_t)at + off[k] + a;
                              }
                          }
                          continue;
                      }
                      /* across each pair: the right column wins if larger, or equal and higher */
                      if (y) {
                          T *restrict d = y + o;
                          for (int64_t k = 0; k < m; k++) {
                              T c0 = cv[2 * k], c1 = cv[2 * k + 1];
                              bool right = (c1 > c0) | ((c1 == c0) & (cr[2 * k + 1] < cr[2 * k]));
                              d[k] = right ? c1 : c0;
                          }
                      }
                      if (idx) {
                          int32_t *restrict d = idx + o;
                          const int32_t base = (int32_t)at, wi = (int32_t)w;
                          for (int64_t k = 0; k < m; k++) {
                              T c0 = cv[2 * k], c1 = cv[2 * k + 1];
                              int32_t a0 = cr[2 * k], a1 = cr[2 * k + 1];
                              bool right = (c1 > c0) | ((c1 == c0) & (a1 < a0));
                              d[k] = base + off[k] + right + wi * (right ? a1 : a0);
                          }
                      }
                  }
              }
          })

/* Mean of each window, padding counted: y = Σ x over the window / (kh kw). */
NBI_TYPED(avg_kernel, (const pool_geom *q, int64_t p0, int64_t p1, const void *xv, void *yv), {
    const T *x = xv;
    T *y = yv;
    const T inv = (T)1 / (T)(q->kh * q->kw);
    int64_t o = p0 * q->oh * q->ow;
    for (int64_t pl = p0; pl < p1; pl++) {
        const T *xp = x + pl * q->h * q->w;
        for (int64_t oy = 0; oy < q->oh; oy++) {
            int64_t y0, y1;
            clip(oy, q->sh, q->ph, q->kh, q->h, &y0, &y1);
            for (int64_t ox = 0; ox < q->ow; ox++, o++) {
                int64_t x0, x1;
                clip(ox, q->sw, q->pw, q->kw, q->w, &x0, &x1);
                T s = 0;
                for (int64_t iy = y0; iy < y1; iy++) {
                    const T *row = xp + iy * q->w;
                    for (int64_t ix = x0; ix < x1; ix++) {
                        s += row[ix];
                    }
                }
                y[o] = s * inv;
            }
        }
    }
})

/* The adjoint of avg_kernel: each dy spread evenly over its window's input elements. */
NBI_TYPED(avg_grad_kernel, (const pool_geom *q, int64_t p0, int64_t p1, const void *dyv, void *dxv),
          {
              const T *dy = dyv;
              T *dx = dxv;
              const T inv = (T)1 / (T)(q->kh * q->kw);
              memset(dx + p0 * q->h * q->w, 0, (size_t)((p1 - p0) * q->h * q->w) * sizeof(T));
              int64_t o = p0 * q->oh * q->ow;
              for (int64_t pl = p0; pl < p1; pl++) {
                  T *dp = dx + pl * q->h * q->w;
                  for (int64_t oy = 0; oy < q->oh; oy++) {
                      int64_t y0, y1;
                      clip(oy, q->sh, q->ph, q->kh, q->h, &y0, &y1);
                      for (int64_t ox = 0; ox < q->ow; ox++, o++) {
                          int64_t x0, x1;
                          clip(ox, q->sw, q->pw, q->kw, q->w, &x0, &x1);
                          const T v = dy[o] * inv;
                          for (int64_t iy = y0; iy < y1; iy++) {
                              T *row = dp + iy * q->w;
                              for (int64_t ix = x0; ix < x1; ix++) {
                                  row[ix] += v;
                              }
                          }
                      }
                  }
              }
          })

/* ---- builders ---- */

/* x's spatial sizes: its last nsp axes. */
static void spatial_sizes(const nb_node *x, int nsp, int64_t *sp)
{
    for (int d = 0; d < nsp; d++) {
        sp[d] = x->shape[x->rank - nsp + d];
    }
}

/* Checks x (rank 2 + nsp, float) for pool op op with lists ksp; makes the node of shape out. */
static nb_node *pool_node(nb_graph *g, int op, nb_node *x, const nbi_attr *ksp, bool index)
{
    const char *name = nbi_ops[op]->name;
    if (!nbi_check_inputs(g, name, 1, &x) || !nbi_check_float(g, name, 1, &x)) {
        return NULL;
    }
    int nsp = spatial_of(op, x);
    if (x->rank != 2 + nsp) {
        nbi_fail(g, NB_ERR_RANK, name, 1, &x, "x has rank %d; %s takes %s", x->rank, name,
                 op == NBI_OP_MAX_POOL_INDEX ? "[N, C, L] or [N, C, H, W]"
                 : nsp == 1                  ? "[N, C, L]"
                                             : "[N, C, H, W]");
        return NULL;
    }
    int64_t sp[2];
    spatial_sizes(x, nsp, sp);
    pool_geom geo;
    if (!pool_check(g, name, x, nsp, sp, ksp, &geo)) {
        return NULL;
    }
    int64_t shape[NB_MAX_RANK] = { x->shape[0], x->shape[1], geo.oh, geo.ow };
    if (nsp == 1) {
        shape[2] = geo.ow;
    }
    nb_node *y;
    if (index) {
        if (nbi_node_count(x) > INT32_MAX) {
            nbi_fail(g, NB_ERR_SHAPE, name, 1, &x, "x has more than 2^31-1 elements");
            return NULL;
        }
        int64_t n = x->shape[0] * x->shape[1] * geo.oh * geo.ow;
        y = nbi_node_new(g, op, NB_DTYPE_I32, 1, &n, x, NULL);
    } else {
        y = nbi_node_new(g, op, x->dtype, x->rank, shape, x, NULL);
    }
    if (y) {
        store_geom(y, 0, nsp, &geo);
    }
    return y;
}

/* The lists of the scalar builders; a stride of 0 stands for the kernel. */
static void scalar_lists(nbi_attr *ksp, int nsp, const int *k, const int *s, const int *p)
{
    memset(ksp, 0, 3 * sizeof *ksp);
    bool stride_default = true;
    for (int d = 0; d < nsp; d++) {
        stride_default &= s[d] == 0;
    }
    for (int d = 0; d < nsp; d++) {
        ksp[0].list[d] = k[d];
        ksp[1].list[d] = s[d] == 0 ? k[d] : s[d];
        ksp[2].list[d] = p[d];
    }
    ksp[0].n = ksp[2].n = nsp;
    ksp[1].n = stride_default ? 0 : nsp;
}

/* The lists of the array builders: stride NULL is the kernel, padding NULL is 0. */
static void array_lists(nbi_attr *ksp, int nsp, const int *k, const int *s, const int *p)
{
    memset(ksp, 0, 3 * sizeof *ksp);
    for (int d = 0; d < nsp; d++) {
        ksp[0].list[d] = k ? k[d] : 0;
        ksp[1].list[d] = s ? s[d] : 0;
        ksp[2].list[d] = p ? p[d] : 0;
    }
    ksp[0].n = k ? nsp : 0;
    ksp[1].n = s ? nsp : 0;
    ksp[2].n = p ? nsp : 0;
}

nb_node *nb_max_pool2d(nb_graph *g, nb_node *x, int kh, int kw, int sh, int sw, int ph, int pw)
{
    nbi_attr ksp[3];
    scalar_lists(ksp, 2, (int[]){ kh, kw }, (int[]){ sh, sw }, (int[]){ ph, pw });
    return pool_node(g, NBI_OP_MAX_POOL2D, x, ksp, false);
}

nb_node *nb_avg_pool2d(nb_graph *g, nb_node *x, int kh, int kw, int sh, int sw, int ph, int pw)
{
    nbi_attr ksp[3];
    scalar_lists(ksp, 2, (int[]){ kh, kw }, (int[]){ sh, sw }, (int[]){ ph, pw });
    return pool_node(g, NBI_OP_AVG_POOL2D, x, ksp, false);
}

nb_node *nb_max_pool1d(nb_graph *g, nb_node *x, int k, int s, int p)
{
    nbi_attr ksp[3];
    scalar_lists(ksp, 1, &k, &s, &p);
    return pool_node(g, NBI_OP_MAX_POOL1D, x, ksp, false);
}

nb_node *nb_avg_pool1d(nb_graph *g, nb_node *x, int k, int s, int p)
{
    nbi_attr ksp[3];
    scalar_lists(ksp, 1, &k, &s, &p);
    return pool_node(g, NBI_OP_AVG_POOL1D, x, ksp, false);
}

nb_node *nb_max_pool_index(nb_graph *g, nb_node *x, int nsp, const int *kernel, const int *stride,
                           const int *padding)
{
    nbi_attr ksp[3];
    if (nsp != 1 && nsp != 2) {
        if (nbi_check_inputs(g, "max_pool_index", 1, &x)) {
            nbi_fail(g, NB_ERR_ARG, "max_pool_index", 1, &x, "%d spatial axes; it takes 1 or 2",
                     nsp);
        }
        return NULL;
    }
    array_lists(ksp, nsp, kernel, stride, padding);
    if (x && x->rank != 2 + nsp && nbi_check_inputs(g, "max_pool_index", 1, &x)) {
        nbi_fail(g, NB_ERR_RANK, "max_pool_index", 1, &x, "x has rank %d for %d spatial axes",
                 x->rank, nsp);
        return NULL;
    }
    return pool_node(g, NBI_OP_MAX_POOL_INDEX, x, ksp, true);
}

/* The shared build of the four pools and max_pool_index: the lists as read. */
static nb_node *pool_build(nb_graph *g, int op, nb_node *x, const nbi_attr *attr)
{
    return pool_node(g, op, x, attr, op == NBI_OP_MAX_POOL_INDEX);
}

#define POOL_BUILD(NAME, OP)                                                                       \
    static nb_node *NAME##_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)     \
    {                                                                                              \
        (void)n;                                                                                   \
        return pool_build(g, OP, in[0], attr);                                                     \
    }
POOL_BUILD(max_pool1d, NBI_OP_MAX_POOL1D)
POOL_BUILD(max_pool2d, NBI_OP_MAX_POOL2D)
POOL_BUILD(avg_pool1d, NBI_OP_AVG_POOL1D)
POOL_BUILD(avg_pool2d, NBI_OP_AVG_POOL2D)
POOL_BUILD(max_pool_index, NBI_OP_MAX_POOL_INDEX)

nb_node *nb_avg_pool_grad(nb_graph *g, nb_node *dy, int nsp, const int64_t *size, const int *kernel,
                          const int *stride, const int *padding)
{
    nbi_attr a[4];
    memset(a, 0, sizeof a);
    for (int d = 0; d < nsp && d < 2 && size; d++) {
        a[0].list[d] = size[d] > INT32_MAX ? INT32_MAX : (int32_t)size[d];
    }
    a[0].n = size ? nsp : 0;
    if (nsp != 1 && nsp != 2) {
        if (nbi_check_inputs(g, "avg_pool_grad", 1, &dy)) {
            nbi_fail(g, NB_ERR_ARG, "avg_pool_grad", 1, &dy, "%d spatial axes; it takes 1 or 2",
                     nsp);
        }
        return NULL;
    }
    array_lists(&a[1], nsp, kernel, stride, padding);
    return nbi_op_avg_pool_grad.build(g, 1, &dy, a);
}

/* Checks dy against the pooling of size by attr[1..3] and makes the node of x's shape. */
static nb_node *avg_pool_grad_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    nb_node *dy = in[0];
    const char *name = "avg_pool_grad";
    if (!nbi_check_inputs(g, name, 1, &dy) || !nbi_check_float(g, name, 1, &dy)) {
        return NULL;
    }
    if (dy->rank != 3 && dy->rank != 4) {
        nbi_fail(g, NB_ERR_RANK, name, 1, &dy, "dy has rank %d; it takes [N, C, L] or [N, C, H, W]",
                 dy->rank);
        return NULL;
    }
    int nsp = dy->rank - 2;
    if (attr[0].n != nsp) {
        nbi_fail(g, NB_ERR_ARG, name, 1, &dy, "size has %d entries for %d spatial axes",
                 (int)attr[0].n, nsp);
        return NULL;
    }
    int64_t sp[2] = { attr[0].list[0], attr[0].list[nsp - 1] };
    for (int d = 0; d < nsp; d++) {
        if (sp[d] < 1) {
            nbi_fail(g, NB_ERR_ARG, name, 1, &dy, "size %lld must be positive", (long long)sp[d]);
            return NULL;
        }
    }
    pool_geom geo;
    if (!pool_check(g, name, dy, nsp, sp, &attr[1], &geo)) {
        return NULL;
    }
    int64_t have[2], want[2] = { geo.oh, geo.ow };
    spatial_sizes(dy, nsp, have);
    for (int d = 0; d < nsp; d++) {
        if (have[d] != want[2 - nsp + d]) {
            char b1[48], b2[48], b3[48];
            nbi_fail(g, NB_ERR_SHAPE, name, 1, &dy,
                     "dy's spatial size %s is not the pooled size %s of %s",
                     list_str(b1, 48, nsp, have), list_str(b2, 48, nsp, want + 2 - nsp),
                     list_str(b3, 48, nsp, sp));
            return NULL;
        }
    }
    int64_t shape[NB_MAX_RANK] = { dy->shape[0], dy->shape[1], sp[0], sp[1] };
    nb_node *y = nbi_node_new(g, NBI_OP_AVG_POOL_GRAD, dy->dtype, dy->rank, shape, dy, NULL);
    if (y) {
        y->attr[0] = attr[0];
        store_geom(y, 1, nsp, &geo);
    }
    return y;
}

/* ---- forwards ---- */

/* ---- running a kernel over the planes, split across threads ---- */

typedef enum pool_kernel { MAX_KERNEL, AVG_KERNEL, AVG_GRAD_KERNEL } pool_kernel;

typedef struct pool_work {
    pool_kernel kind;
    bool f32;
    const pool_geom *q;
    const void *in;
    void *out;
    int32_t *idx;
} pool_work;

static void pool_part(void *ctx, int k, int nt)
{
    const pool_work *w = ctx;
    int64_t per = (w->q->planes + nt - 1) / nt, p0 = k * per;
    int64_t p1 = p0 + per < w->q->planes ? p0 + per : w->q->planes;
    if (p0 >= p1) {
        return;
    }
    switch (w->kind) {
    case MAX_KERNEL:
        if (w->q->kh == 2 && w->q->kw == 2 && w->q->sh == 2 && w->q->sw == 2 && w->q->ph == 0 &&
            w->q->pw == 0) {
            (w->f32 ? max2_kernel_f32 : max2_kernel_f64)(w->q, p0, p1, w->in, w->out, w->idx);
            break;
        }
        (w->f32 ? max_kernel_f32 : max_kernel_f64)(w->q, p0, p1, w->in, w->out, w->idx);
        break;
    case AVG_KERNEL:
        (w->f32 ? avg_kernel_f32 : avg_kernel_f64)(w->q, p0, p1, w->in, w->out);
        break;
    case AVG_GRAD_KERNEL:
        (w->f32 ? avg_grad_kernel_f32 : avg_grad_kernel_f64)(w->q, p0, p1, w->in, w->out);
        break;
    }
}

/* Runs a kernel on all planes: on nbi_threads() threads when the input is large. */
static void pool_run(pool_kernel kind, bool f32, const pool_geom *q, const void *in, void *out,
                     int32_t *idx)
{
    pool_work w = { kind, f32, q, in, out, idx };
    int64_t n = q->planes * q->h * q->w;
    nbi_parallel(n >= NBI_PAR_MIN && q->planes > 1 ? nbi_threads() : 1, pool_part, &w);
}

/* The geometry of y, a pool (attrs from 0) of x = y->in[0]. */
static pool_geom pool_geom_of(const nb_node *y)
{
    nb_node *x = y->in[0];
    int nsp = spatial_of(y->op, x);
    int64_t sp[2];
    spatial_sizes(x, nsp, sp);
    return geom_of(x, nsp, sp, y->attr);
}

static nb_status max_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    pool_geom q = pool_geom_of(y);
    pool_run(MAX_KERNEL, y->dtype == NB_DTYPE_F32, &q, y->in[0]->data, y->data, NULL);
    return NB_OK;
}

static nb_status avg_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    pool_geom q = pool_geom_of(y);
    pool_run(AVG_KERNEL, y->dtype == NB_DTYPE_F32, &q, y->in[0]->data, y->data, NULL);
    return NB_OK;
}

static nb_status max_index_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nb_node *x = y->in[0];
    pool_geom q = pool_geom_of(y);
    pool_run(MAX_KERNEL, x->dtype == NB_DTYPE_F32, &q, x->data, NULL, y->data);
    return NB_OK;
}

static nb_status avg_grad_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nb_node *dy = y->in[0];
    int nsp = dy->rank - 2;
    int64_t sp[2] = { y->attr[0].list[0], y->attr[0].list[nsp - 1] };
    pool_geom q = geom_of(dy, nsp, sp, &y->attr[1]);
    pool_run(AVG_GRAD_KERNEL, y->dtype == NB_DTYPE_F32, &q, dy->data, y->data, NULL);
    return NB_OK;
}

/* ---- gradients ---- */

/* The lists of node y's attributes from first on, as int arrays (stride, padding NULL when empty). */
typedef struct pool_lists {
    int k[2], s[2], p[2];
    const int *sp, *pp;
} pool_lists;

static void lists_of(const nb_node *y, int first, int nsp, pool_lists *l)
{
    for (int d = 0; d < nsp; d++) {
        l->k[d] = y->attr[first].list[d];
        l->s[d] = y->attr[first + 1].n ? y->attr[first + 1].list[d] : 0;
        l->p[d] = y->attr[first + 2].n ? y->attr[first + 2].list[d] : 0;
    }
    l->sp = y->attr[first + 1].n ? l->s : NULL;
    l->pp = y->attr[first + 2].n ? l->p : NULL;
}

/*
 * dy goes to each window's first maximum (the element max_pool_index names):
 * a scatter_add of the flattened dy at those flat indices, whose gradient is a
 * gather at the same indices, so second derivatives work. The indices are
 * integers: x gets no gradient through them (zero almost everywhere).
 */
static void max_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    int nsp = spatial_of(y->op, x);
    pool_lists l;
    lists_of(y, 0, nsp, &l);
    nb_node *idx = nb_max_pool_index(g, x, nsp, l.k, l.sp, l.pp);
    int64_t n = (int64_t)nbi_node_count(dy);
    nb_node *flat = nb_reshape(g, dy, 1, &n);
    nb_node *sum = nb_scatter_add(g, flat, idx, 0, (int64_t)nbi_node_count(x));
    dx[0] = nb_reshape(g, sum, x->rank, x->shape);
}

/* avg pooling is linear: its gradient is its adjoint, avg_pool_grad */
static void avg_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    int nsp = spatial_of(y->op, x);
    int64_t sp[2];
    spatial_sizes(x, nsp, sp);
    pool_lists l;
    lists_of(y, 0, nsp, &l);
    dx[0] = nb_avg_pool_grad(g, dy, nsp, sp, l.k, l.sp, l.pp);
}

/* the adjoint of the adjoint: avg pooling of the incoming gradient */
static void avg_pool_grad_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    int nsp = y->rank - 2;
    nbi_attr ksp[3] = { y->attr[1], y->attr[2], y->attr[3] };
    dx[0] = pool_build(g, nsp == 1 ? NBI_OP_AVG_POOL1D : NBI_OP_AVG_POOL2D, dy, ksp);
}

/* ---- records ---- */

#define POOL_ATTRS                                                                                 \
    .attrs = { { "kernel", NBI_ATTR_INTS, 0, true },                                               \
               { "stride", NBI_ATTR_INTS, 0, false, false, "kernel" },                             \
               { "padding", NBI_ATTR_INTS, 0, false, false, "0" } },                               \
    .n_attrs = 3

const nbi_op nbi_op_max_pool2d = {
    .name = "max_pool2d",
    .symbol = "maxpool",
    .arity = 1,
    POOL_ATTRS,
    .build = max_pool2d_build,
    .inputs = "x",
    .forward = max_forward,
    .grad = max_grad,
    .formula = "y[n,c,i,j] = max of x[n,c] over the window at (i*sh - ph, j*sw - pw), -inf padding",
    .grad_formula = "dx = scatter_add(dy, max_pool_index(x)): dy to each window's first maximum",
};

const nbi_op nbi_op_max_pool1d = {
    .name = "max_pool1d",
    .symbol = "maxpool",
    .arity = 1,
    POOL_ATTRS,
    .build = max_pool1d_build,
    .inputs = "x",
    .forward = max_forward,
    .grad = max_grad,
    .formula = "y[n,c,i] = max of x[n,c] over the window at i*s - p, -inf padding",
    .grad_formula = "dx = scatter_add(dy, max_pool_index(x)): dy to each window's first maximum",
};

const nbi_op nbi_op_avg_pool2d = {
    .name = "avg_pool2d",
    .symbol = "avgpool",
    .arity = 1,
    POOL_ATTRS,
    .build = avg_pool2d_build,
    .inputs = "x",
    .forward = avg_forward,
    .grad = avg_grad,
    .formula = "y[n,c,i,j] = sum of x[n,c] over the window at (i*sh - ph, j*sw - pw) / (kh*kw)",
    .grad_formula = "dx = avg_pool_grad(dy)",
};

const nbi_op nbi_op_avg_pool1d = {
    .name = "avg_pool1d",
    .symbol = "avgpool",
    .arity = 1,
    POOL_ATTRS,
    .build = avg_pool1d_build,
    .inputs = "x",
    .forward = avg_forward,
    .grad = avg_grad,
    .formula = "y[n,c,i] = (sum of x[n,c] over the window at i*s - p) / k",
    .grad_formula = "dx = avg_pool_grad(dy)",
};

const nbi_op nbi_op_max_pool_index = {
    .name = "max_pool_index",
    .symbol = "argmaxpool",
    .arity = 1,
    POOL_ATTRS,
    .build = max_pool_index_build,
    .inputs = "x",
    .forward = max_index_forward,
    .formula = "y = flat index into x of each window's first maximum, i32, windows in order",
    .grad_formula = "none (the result is integer)",
};

const nbi_op nbi_op_avg_pool_grad = {
    .name = "avg_pool_grad",
    .symbol = "avgpoolᵀ",
    .arity = 1,
    .attrs = { { "size", NBI_ATTR_INTS, 0, true },
               { "kernel", NBI_ATTR_INTS, 0, true },
               { "stride", NBI_ATTR_INTS, 0, false, false, "kernel" },
               { "padding", NBI_ATTR_INTS, 0, false, false, "0" } },
    .n_attrs = 4,
    .build = avg_pool_grad_build,
    .inputs = "dy",
    .forward = avg_grad_forward,
    .grad = avg_pool_grad_grad,
    .formula = "y = zeros [N, C, size]; each dy spread evenly, dy / (kh*kw), over its window",
    .grad_formula = "ddy = avg_pool(d, kernel, stride, padding)",
};
