/*
 * ops/conv.c: convolutions on NCHW and NCL tensors, as PyTorch's F.conv2d,
 * F.conv1d and F.conv_transpose2d, and conv2d_weight_grad, the weight
 * gradient as an op of its own. The three 2-d ops are one convolution seen
 * from its three tensors (input X, weight W, output Y): conv2d makes Y from
 * X and W, conv_transpose2d makes X from Y and W (conv2d's input gradient),
 * conv2d_weight_grad makes W from X and Y. Each one's gradient is the other
 * two, so every order of derivative is a graph of these ops. The kernels run
 * on BLIS GEMMs over im2col buffers that span several images, planned in the
 * executor's workspace (the record's scratch); 1x1 convolutions copy nothing;
 * convolutions of few taps (as LeNet's first) run as direct loops instead.
 */
/* blis.h uses POSIX threads types, hidden by plain -std=c11 */
#define _POSIX_C_SOURCE 200809L

#include "kernel.h"

/* BLIS, or under NBI_PLAIN_GEMM (no BLIS: WebAssembly) plain loops with its API */
#ifdef NBI_PLAIN_GEMM
#include "gemm_plain.h"
#else
#include <blis.h>
#endif
#include <stdint.h>

/*
 * At most this many bytes of im2col buffer per chunk of images (one image at
 * least): about half an L2 cache, so the GEMM reads what im2col just wrote.
 */
#define CHUNK_BYTES ((size_t)1 << 20)

/*
 * The direct loops (conv_geom's loops) take convolutions of at most
 * LOOP_TAPS taps per output (c/groups kh kw) and kernels at most LOOP_KW
 * wide: below that a GEMM's depth is too short for BLIS to run near its
 * peak and im2col's buffer is LOOP_TAPS times the input. An output block is
 * LOOP_NB vectors of 32 bytes.
 */
#define LOOP_TAPS 32
#define LOOP_KW   8
#define LOOP_NB   4

/*
 * The convolution Y = conv(X, W): X[n, c, h, w], W[o, c/groups, kh, kw],
 * Y[n, o, oh, ow], windows moved by sh, sw over X padded by ph, pw on each
 * side, kernel taps dh, dw apart. A 1-d convolution has h = kh = oh = 1.
 */
typedef struct conv_geom {
    int64_t n, c, h, w;
    int64_t o, kh, kw;
    int64_t oh, ow;
    int64_t sh, sw, ph, pw, dh, dw, groups;
    int64_t nimg; /* images per chunk of the im2col buffer */
    bool direct;  /* 1x1, stride 1, no padding: GEMMs straight on X and Y */
    /*
     * The forward and the weight gradient at stride 1 along the width: im2col
     * rows are whole rows of X padded to hp x wp, so each tap of each image
     * is one block copy; the GEMM runs over wp - ow extra columns per row,
     * dropped after (forward) or zero (weight gradient).
     */
    bool wide;
    int64_t hp, wp;
    /*
     * Few taps (c/groups kh kw at most LOOP_TAPS) at stride 1 along the
     * width, forward and weight gradient: direct loops over X padded to
     * hp x wp, vectorized along the output row, no im2col and no GEMM.
     */
    bool loops;
    /*
     * The data gradient at stride 1 along the width with rows of X at most
     * four vectors: col2im sums each row of X in registers (fold_rows),
     * reading col's rows shifted by each tap and masked to the columns the
     * tap reaches; col then has fold_pre elements before it and fold_post
     * after the scratch, read and masked away.
     */
    bool fold;
} conv_geom;

/* The attribute lists of an op, by role: index in the op's attrs, or -1. */
typedef struct conv_roles {
    int stride, padding, dilation, groups, output_padding, kernel;
} conv_roles;

static conv_roles roles_of(int op)
{
    switch (op) {
    case NBI_OP_CONV_TRANSPOSE2D:
        return (conv_roles){ 0, 1, 3, 4, 2, -1 };
    case NBI_OP_CONV2D_WEIGHT_GRAD:
        return (conv_roles){ 1, 2, 3, 4, -1, 0 };
    default: /* conv2d, conv1d */
        return (conv_roles){ 0, 1, 2, 3, -1, -1 };
    }
}

/* The settings of a convolution, per spatial axis (nsp of them). */
typedef struct conv_params {
    int nsp;
    int64_t s[2], p[2], d[2], op[2], k[2];
    int64_t groups;
} conv_params;

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

/* Reads list a (empty: def; one entry: on every axis) into v; an error for too many entries. */
static bool read_list(nb_graph *g, const char *op, int n, nb_node *const *in, const char *what,
                      int nsp, const nbi_attr *a, int64_t def, int64_t *v)
{
    if (a->n > nsp) {
        nbi_fail(g, NB_ERR_ARG, op, n, in, "%s has %d entries; it takes %s", what, (int)a->n,
                 nsp == 1 ? "one number" : "a number or [h, w]");
        return false;
    }
    for (int k = 0; k < nsp; k++) {
        v[k] = a->n == 0 ? def : a->list[a->n == 1 ? 0 : k];
    }
    return true;
}

/* Reads and checks the settings of an op's attribute values (as the language gives them). */
static bool read_params(nb_graph *g, int op, int n, nb_node *const *in, const nbi_attr *attr,
                        int nsp, conv_params *cp)
{
    const char *name = nbi_ops[op]->name;
    conv_roles r = roles_of(op);
    char b1[48], b2[48], b3[48];
    memset(cp, 0, sizeof *cp);
    cp->nsp = nsp;
    if (!read_list(g, name, n, in, "stride", nsp, &attr[r.stride], 1, cp->s) ||
        !read_list(g, name, n, in, "padding", nsp, &attr[r.padding], 0, cp->p) ||
        !read_list(g, name, n, in, "dilation", nsp, &attr[r.dilation], 1, cp->d)) {
        return false;
    }
    if (r.output_padding >= 0 &&
        !read_list(g, name, n, in, "output_padding", nsp, &attr[r.output_padding], 0, cp->op)) {
        return false;
    }
    if (r.kernel >= 0) {
        if (attr[r.kernel].n == 0) {
            nbi_fail(g, NB_ERR_ARG, name, n, in, "kernel is empty");
            return false;
        }
        if (!read_list(g, name, n, in, "kernel", nsp, &attr[r.kernel], 0, cp->k)) {
            return false;
        }
    }
    cp->groups = attr[r.groups].i;
    for (int d = 0; d < nsp; d++) {
        if (cp->s[d] < 1) {
            nbi_fail(g, NB_ERR_ARG, name, n, in, "stride %s must be positive",
                     list_str(b1, sizeof b1, nsp, cp->s));
            return false;
        }
        if (cp->p[d] < 0) {
            nbi_fail(g, NB_ERR_ARG, name, n, in, "padding %s must not be negative",
                     list_str(b1, sizeof b1, nsp, cp->p));
            return false;
        }
        if (cp->d[d] < 1) {
            nbi_fail(g, NB_ERR_ARG, name, n, in, "dilation %s must be positive",
                     list_str(b1, sizeof b1, nsp, cp->d));
            return false;
        }
        if (r.kernel >= 0 && cp->k[d] < 1) {
            nbi_fail(g, NB_ERR_ARG, name, n, in, "kernel %s must be positive",
                     list_str(b1, sizeof b1, nsp, cp->k));
            return false;
        }
    }
    for (int d = 0; d < nsp && r.output_padding >= 0; d++) {
        if (cp->op[d] < 0) {
            nbi_fail(g, NB_ERR_ARG, name, n, in, "output_padding %s must not be negative",
                     list_str(b1, sizeof b1, nsp, cp->op));
            return false;
        }
        /* PyTorch: "output padding must be smaller than either stride or dilation" */
        if (cp->op[d] >= cp->s[d] && cp->op[d] >= cp->d[d]) {
            nbi_fail(g, NB_ERR_ARG, name, n, in,
                     "output_padding %s must be smaller than the stride %s or the dilation %s "
                     "on each axis (PyTorch's rule)",
                     list_str(b1, sizeof b1, nsp, cp->op), list_str(b2, sizeof b2, nsp, cp->s),
                     list_str(b3, sizeof b3, nsp, cp->d));
            return false;
        }
    }
    if (cp->groups < 1) {
        nbi_fail(g, NB_ERR_ARG, name, n, in, "groups %lld must be positive", (long long)cp->groups);
        return false;
    }
    return true;
}

/* Stores v in a, or an empty list when every entry is def (the attribute's default). */
static void store_list(nbi_attr *a, int nsp, const int64_t *v, int64_t def)
{
    bool same = true;
    for (int d = 0; d < nsp; d++) {
        same &= v[d] == def;
    }
    a->n = same ? 0 : nsp;
    for (int d = 0; d < nsp; d++) {
        a->list[d] = same ? 0 : (int32_t)v[d];
    }
}

static void store_params(nb_node *y, const conv_params *cp)
{
    conv_roles r = roles_of(y->op);
    store_list(&y->attr[r.stride], cp->nsp, cp->s, 1);
    store_list(&y->attr[r.padding], cp->nsp, cp->p, 0);
    store_list(&y->attr[r.dilation], cp->nsp, cp->d, 1);
    if (r.output_padding >= 0) {
        store_list(&y->attr[r.output_padding], cp->nsp, cp->op, 0);
    }
    if (r.kernel >= 0) {
        y->attr[r.kernel].n = cp->nsp;
        for (int d = 0; d < cp->nsp; d++) {
            y->attr[r.kernel].list[d] = (int32_t)cp->k[d];
        }
    }
    y->attr[r.groups].i = cp->groups;
}

/* The settings stored in node y (valid: its build checked them). */
static conv_params params_of(const nb_node *y)
{
    conv_params cp;
    int nsp = y->op == NBI_OP_CONV1D ? 1 : 2;
    bool ok = read_params(NULL, y->op, 0, NULL, y->attr, nsp, &cp);
    NBI_ASSERT(ok);
    (void)ok;
    return cp;
}

/* The output size along one axis of a convolution of an input of size n. */
static int64_t conv_out(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d)
{
    return (n + 2 * p - d * (k - 1) - 1) / s + 1;
}

/*
 * Bytes of im2col buffer (c kh kw rows) and gathered Y (o rows) one image
 * takes; SIZE_MAX when that overflows (the executor then reports no memory).
 */
static size_t image_bytes(const conv_geom *q, size_t es)
{
    size_t rows, cols, b, pad = 0;
    if (q->loops) { /* the padded planes only */
        return nbi_mul_overflows((size_t)q->c, (size_t)q->hp, &b) ||
                       nbi_mul_overflows(b, (size_t)q->wp, &b) || nbi_mul_overflows(b, es, &b)
                   ? SIZE_MAX
                   : b;
    }
    if (nbi_mul_overflows((size_t)q->c, (size_t)(q->kh * q->kw), &rows) ||
        rows > SIZE_MAX - (size_t)q->o ||
        nbi_mul_overflows((size_t)q->oh, (size_t)(q->wide ? q->wp : q->ow), &cols) ||
        nbi_mul_overflows(rows + (size_t)q->o, cols, &b) ||
        (q->wide &&
         (nbi_mul_overflows((size_t)q->c, (size_t)(q->hp * q->wp), &pad) || b > SIZE_MAX - pad)) ||
        nbi_mul_overflows(b + pad, es, &b)) {
        return SIZE_MAX;
    }
    return b;
}

/* Fills the geometry of the convolution of X[xs] by W[ws] into Y[ys] (4-d shapes, 1-d as h = 1). */
static conv_geom geom_make(const int64_t *xs, const int64_t *ws, const int64_t *ys,
                           const conv_params *cp, size_t es, bool wide_ok)
{
    conv_geom q;
    int o = cp->nsp == 1 ? 1 : 0; /* params' index of the width axis minus one */
    q.n = xs[0];
    q.c = xs[1];
    q.h = xs[2];
    q.w = xs[3];
    q.o = ws[0];
    q.kh = ws[2];
    q.kw = ws[3];
    q.oh = ys[2];
    q.ow = ys[3];
    q.sh = cp->nsp == 1 ? 1 : cp->s[0];
    q.ph = cp->nsp == 1 ? 0 : cp->p[0];
    q.dh = cp->nsp == 1 ? 1 : cp->d[0];
    q.sw = cp->s[1 - o];
    q.pw = cp->p[1 - o];
    q.dw = cp->d[1 - o];
    q.groups = cp->groups;
    q.direct = q.kh == 1 && q.kw == 1 && q.sh == 1 && q.sw == 1 && q.ph == 0 && q.pw == 0 &&
               q.oh == q.h && q.ow == q.w;
    q.hp = q.h + 2 * q.ph;
    q.wp = q.w + 2 * q.pw;
    /* worth it while the extra columns cost the GEMM at most a quarter more */
    q.loops = wide_ok && !q.direct && q.sw == 1 && q.kw <= LOOP_KW &&
              (q.c / q.groups) * q.kh * q.kw <= LOOP_TAPS;
    q.wide = wide_ok && !q.direct && !q.loops && q.sw == 1 && 4 * q.wp <= 5 * q.ow;
    q.fold = !wide_ok && !q.direct && q.sw == 1 && q.w * (int64_t)es <= 4 * 32;
    size_t per_image = image_bytes(&q, es);
    size_t nimg = per_image ? CHUNK_BYTES / per_image : 1;
    q.nimg = nimg < 1 ? 1 : nimg > (size_t)q.n ? q.n : (int64_t)nimg;
    return q;
}

/* A node's shape as 4-d (1-d shapes get h = 1 before the last axis). */
static void shape4(const nb_node *t, int64_t *s)
{
    if (t->rank == 3) {
        s[0] = t->shape[0];
        s[1] = t->shape[1];
        s[2] = 1;
        s[3] = t->shape[2];
    } else {
        memcpy(s, t->shape, 4 * sizeof *s);
    }
}

/* The convolution node y computes, whichever of its three tensors y is. */
static conv_geom geom_of(const nb_node *y)
{
    conv_params cp = params_of(y);
    int64_t a[4], b[4], c[4];
    size_t es = nbi_dtype_size(y->dtype);
    switch (y->op) {
    case NBI_OP_CONV_TRANSPOSE2D: /* X is y, Y is x */
        shape4(y, a);
        shape4(y->in[1], b);
        shape4(y->in[0], c);
        break;
    case NBI_OP_CONV2D_WEIGHT_GRAD: /* W is y */
        shape4(y->in[0], a);
        shape4(y, b);
        shape4(y->in[1], c);
        break;
    default:
        shape4(y->in[0], a);
        shape4(y->in[1], b);
        shape4(y, c);
    }
    /*
     * The data gradient (conv_transpose2d) keeps the plain layout: its
     * extra columns would add into real ones, and a non-finite weight would
     * make them NaN.
     */
    return geom_make(a, b, c, &cp, es, y->op != NBI_OP_CONV_TRANSPOSE2D);
}

/* The elements col2im's folded rows read before col and past the scratch (conv_geom's fold). */
static int64_t fold_pre(const conv_geom *q)
{
    return (q->kw - 1) * q->dw;
}

static int64_t fold_post(const conv_geom *q)
{
    return q->pw + 4 * 32 / (int64_t)sizeof(float); /* four vectors of the narrower type */
}

/* Bytes of im2col buffer (c kh kw rows) and gathered Y (o rows) for nimg images. */
static size_t conv_scratch(const nb_node *y)
{
    conv_geom q = geom_of(y);
    if (q.direct) {
        return 0;
    }
    size_t per_image = image_bytes(&q, nbi_dtype_size(y->dtype));
    /* nimg * per_image <= max(CHUNK_BYTES, per_image): no overflow */
    if (per_image == SIZE_MAX) {
        return SIZE_MAX;
    }
    /*
     * a wide im2col reads up to (kw - 1) dw elements past the last padded
     * plane, the direct loops up to a block of outputs
     */
    size_t es = nbi_dtype_size(y->dtype);
    size_t slack = q.wide    ? (size_t)((q.kw - 1) * q.dw) * es
                   : q.loops ? (size_t)LOOP_NB * 32
                   : q.fold  ? (size_t)(fold_pre(&q) + fold_post(&q)) * es
                             : 0;
    return (size_t)q.nimg * per_image + slack;
}

/* ---- kernels ---- */

/*
 * The im2col layout of a chunk of nimg images starting at n0: col[r, b*P + i]
 * with r = (ci*kh + ki)*kw + kj a tap of an input channel, b the image in the
 * chunk, i = oy*ow + ox an output position, P = oh*ow: each group's rows are a
 * contiguous [c/groups*kh*kw, nimg*P] matrix, so one GEMM covers the chunk.
 */

/* The output columns ox whose input column ox*s + off lies in [0, w): [*lo, *hi). */
static inline void valid_range(int64_t off, int64_t s, int64_t w, int64_t ow, int64_t *lo,
                               int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = w - 1 - off < 0 ? 0 : (w - 1 - off) / s + 1;
    *lo = a < ow ? a : ow;
    *hi = b < ow ? b : ow;
    if (*hi < *lo) {
        *hi = *lo;
    }
}

/*
 * Rows u0..u1 of the units (r, b) = (u / nimg, u % nimg): x -> col. The rows
 * and columns of a tap that fall in the padding are found once per unit, so
 * the inner loop is a plain copy; rows are short (tens of elements), so a
 * stride-1 row moves in 32-byte pieces, the last one overlapping, rather
 * than through a loop with a remainder or a memcpy call.
 */
NBI_TYPED(im2col,
          (const conv_geom *q, const void *xv, void *colv, int64_t n0, int64_t u0, int64_t u1), {
              enum { V = 32 / sizeof(T) };
              const T *x = xv;
              T *col = colv;
              const int64_t P = q->oh * q->ow, ld = q->nimg * P, ow = q->ow, plane = q->h * q->w;
              for (int64_t u = u0; u < u1;) {
                  /* the tap r's geometry once, then its images b from u's on */
                  int64_t r = u / q->nimg, b = u % q->nimg;
                  int64_t bend = q->nimg - b < u1 - u ? q->nimg : b + (u1 - u);
                  int64_t kj = r % q->kw, ki = (r / q->kw) % q->kh, ci = r / (q->kw * q->kh);
                  int64_t offx = kj * q->dw - q->pw, offy = ki * q->dh - q->ph, lo, hi, y0, y1;
                  valid_range(offx, q->sw, q->w, ow, &lo, &hi);
                  valid_range(offy, q->sh, q->h, q->oh, &y0, &y1);
                  const int64_t n = hi - lo;
                  for (; b < bend; b++, u++) {
                      const T *xp = x + ((n0 + b) * q->c + ci) * plane;
                      T *dst = col + r * ld + b * P;
                      if (y0 > 0) { /* most taps have no padding rows: no call for those */
                          memset(dst, 0, (size_t)(y0 * ow) * sizeof(T));
                      }
                      if (y1 < q->oh) {
                          memset(dst + y1 * ow, 0, (size_t)((q->oh - y1) * ow) * sizeof(T));
                      }
                      for (int64_t oy = y0; oy < y1; oy++) {
                          const T *restrict src = xp + (oy * q->sh + offy) * q->w + offx;
                          T *restrict d = dst + oy * ow;
                          for (int64_t ox = 0; ox < lo; ox++) {
                              d[ox] = 0;
                          }
                          for (int64_t ox = hi; ox < ow; ox++) {
                              d[ox] = 0;
                          }
                          if (q->sw != 1) {
                              for (int64_t ox = lo; ox < hi; ox++) {
                                  d[ox] = src[ox * q->sw];
                              }
                          } else if (n >= V) {
                              for (int64_t i = lo; i + V <= hi; i += V) {
                                  memcpy(d + i, src + i, V * sizeof(T));
                              }
                              memcpy(d + hi - V, src + hi - V, V * sizeof(T));
                          } else {
                              for (int64_t ox = lo; ox < hi; ox++) {
                                  d[ox] = src[ox];
                              }
                          }
                      }
                  }
              }
          })

/*
 * col2im for conv_geom's fold, units (b, ci) = (u / c, u % c): each row iy of
 * x[n0 + b, ci] summed in up to four vector registers and stored once (no
 * read-modify-write of x per tap), from the taps (kj outer, ki inner, as
 * col2im) whose output row oy = (iy + ph - ki dh) / sh exists: col's row oy
 * read shifted so that lane ix holds output column ix + pw - kj dw, masked
 * to the columns in [0, ow). Each element gets the same sums in the same
 * order as col2im, the masked lanes adding +0, so the bits are col2im's.
 */
/* One row iy of fold_rows in NC vectors (a constant, so the sums stay in registers). */
#define FOLD_ROW(NC)                                                                               \
    do {                                                                                           \
        VT acc[NC];                                                                                \
        memset(acc, 0, sizeof acc);                                                                \
        for (int64_t kj = 0; kj < kw; kj++) {                                                      \
            for (int64_t ki = 0; ki < q->kh; ki++) {                                               \
                int64_t t = iy + q->ph - ki * q->dh, oy = t;                                       \
                if (q->sh != 1) { /* a division only off stride 1 */                               \
                    oy = t >= 0 && t % q->sh == 0 ? t / q->sh : -1;                                \
                }                                                                                  \
                if (oy < 0 || oy >= q->oh) {                                                       \
                    continue;                                                                      \
                }                                                                                  \
                const T *s = cb + (ki * kw + kj) * ld + oy * ow + q->pw - kj * q->dw;              \
                for (int c = 0; c < (NC); c++) {                                                   \
                    MT mk;                                                                         \
                    if (table) {                                                                   \
                        mk = m[kj * nc + c];                                                       \
                    } else {                                                                       \
                        for (int i = 0; i < V; i++) {                                              \
                            int64_t ox = c * V + i + q->pw - kj * q->dw;                           \
                            mk[i] = ox >= 0 && ox < ow && c * V + i < w ? -1 : 0;                  \
                        }                                                                          \
                    }                                                                              \
                    VT v;                                                                          \
                    memcpy(&v, s + c * V, sizeof v);                                               \
                    acc[c] += (VT)((MT)v & mk);                                                    \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        T *d = xp + iy * w;                                                                        \
        for (int c = 0; c < (NC); c++) {                                                           \
            if ((c + 1) * V <= w) {                                                                \
                memcpy(d + c * V, &acc[c], sizeof acc[c]);                                         \
            } else {                                                                               \
                for (int64_t i = c * V; i < w; i++) {                                              \
                    d[i] = acc[c][i - c * V];                                                      \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/*
 * col2im for conv_geom's fold, units (b, ci) = (u / c, u % c): each row iy of
 * x[n0 + b, ci] summed in up to four vector registers and stored once (no
 * read-modify-write of x per tap), from the taps (kj outer, ki inner, as
 * col2im) whose output row oy = (iy + ph - ki dh) / sh exists: col's row oy
 * read shifted so that lane ix holds output column ix + pw - kj dw, masked
 * to the columns in [0, ow). Each element gets the same sums in the same
 * order as col2im, the masked lanes adding +0, so the bits are col2im's.
 */
NBI_TYPED(fold_rows,
          (const conv_geom *q, const void *colv, void *xv, int64_t n0, int64_t u0, int64_t u1), {
              enum { V = 32 / sizeof(T) };
              typedef T VT __attribute__((vector_size(32)));
              typedef __typeof__((VT){ 0 } < (VT){ 0 }) MT;
              const T *col = colv;
              T *x = xv;
              const int64_t P = q->oh * q->ow, ld = q->nimg * P, ow = q->ow, w = q->w;
              const int64_t kw = q->kw, nc = (w + V - 1) / V; /* q->fold: w <= 4 V */
              MT m[64]; /* the masks by (kj, vector) while they fit, else made per tap */
              const bool table = kw * nc <= 64;
              for (int64_t kj = 0; table && kj < kw; kj++) {
                  for (int64_t c = 0; c < nc; c++) {
                      for (int i = 0; i < V; i++) {
                          int64_t ox = c * V + i + q->pw - kj * q->dw;
                          m[kj * nc + c][i] = ox >= 0 && ox < ow && c * V + i < w ? -1 : 0;
                      }
                  }
              }
              for (int64_t u = u0; u < u1; u++) {
                  int64_t b = u / q->c, ci = u % q->c;
                  T *xp = x + ((n0 + b) * q->c + ci) * q->h * w;
                  const T *cb = col + ci * q->kh * kw * ld + b * P;
                  for (int64_t iy = 0; iy < q->h; iy++) {
                      switch (nc) {
                      case 1:
                          FOLD_ROW(1);
                          break;
                      case 2:
                          FOLD_ROW(2);
                          break;
                      case 3:
                          FOLD_ROW(3);
                          break;
                      default:
                          FOLD_ROW(4);
                          break;
                      }
                  }
              }
          })

/* Units u0..u1 of (b, ci) = (u / c, u % c): x[n0 + b, ci] = sum of its taps in col. */
NBI_TYPED(
    col2im, (const conv_geom *q, const void *colv, void *xv, int64_t n0, int64_t u0, int64_t u1), {
        enum { V = 32 / sizeof(T) };
        const T *col = colv;
        T *x = xv;
        const int64_t P = q->oh * q->ow, ld = q->nimg * P, ow = q->ow;
        if (q->fold) {
            _Generic((T)0, float : fold_rows_f32, double : fold_rows_f64)(q, colv, xv, n0, u0, u1);
            return;
        }
        for (int64_t u = u0; u < u1; u++) {
            int64_t b = u / q->c, ci = u % q->c;
            T *xp = x + ((n0 + b) * q->c + ci) * q->h * q->w;
            memset(xp, 0, (size_t)(q->h * q->w) * sizeof(T));
            /*
                   * kj outermost: taps kj and kj + 1 add to the same row at
                   * columns one apart, and a load that overlaps part of a
                   * store still in flight stalls (store forwarding fails);
                   * taps of one kj hit the same columns, which forwards.
                   */
            for (int64_t kj = 0; kj < q->kw; kj++) {
                for (int64_t ki = 0; ki < q->kh; ki++) {
                    int64_t r = (ci * q->kh + ki) * q->kw + kj;
                    int64_t offx = kj * q->dw - q->pw, offy = ki * q->dh - q->ph;
                    int64_t lo, hi, y0, y1;
                    valid_range(offx, q->sw, q->w, ow, &lo, &hi);
                    valid_range(offy, q->sh, q->h, q->oh, &y0, &y1);
                    for (int64_t oy = y0; oy < y1; oy++) {
                        /* col and x never overlap: no alias checks in the row loops */
                        const T *restrict s = col + r * ld + b * P + oy * ow;
                        T *restrict d = xp + (oy * q->sh + offy) * q->w + offx;
                        if (q->sw != 1) {
                            for (int64_t ox = lo; ox < hi; ox++) {
                                d[ox * q->sw] += s[ox];
                            }
                            continue;
                        }
                        int64_t ox = lo;
                        for (; ox + V <= hi; ox += V) {
                            for (int k = 0; k < V; k++) {
                                d[ox + k] += s[ox + k];
                            }
                        }
                        for (; ox < hi; ox++) {
                            d[ox] += s[ox];
                        }
                    }
                }
            }
        }
    })

/*
 * Between an NCHW tensor t[n, ch, P] and the chunk layout m[ch, b*P + i]:
 * to_chunk copies t -> m, else m -> t adding bias[ch] (bias may be NULL).
 * Units (b, k) = (u / ch, u % ch).
 */
NBI_TYPED(rechunk,
          (const conv_geom *q, int64_t ch, int64_t P, void *tv, void *mv, const void *biasv,
           bool to_chunk, int64_t n0, int64_t u0, int64_t u1),
          {
              T *t = tv, *m = mv;
              const T *bias = biasv;
              const int64_t ld = q->nimg * P;
              for (int64_t u = u0; u < u1; u++) {
                  int64_t b = u / ch, k = u % ch;
                  T *tp = t + ((n0 + b) * ch + k) * P, *mp = m + k * ld + b * P;
                  if (to_chunk) {
                      memcpy(mp, tp, (size_t)P * sizeof(T));
                  } else if (bias) {
                      const T v = bias[k];
                      for (int64_t i = 0; i < P; i++) {
                          tp[i] = mp[i] + v;
                      }
                  } else {
                      memcpy(tp, mp, (size_t)P * sizeof(T));
                  }
              }
          })

/* Adds bias[k] to the planes t[n0 + b, k, :] for units (b, k) = (u / ch, u % ch). */
NBI_TYPED(add_bias,
          (int64_t ch, int64_t P, void *tv, const void *biasv, int64_t n0, int64_t u0, int64_t u1),
          {
              T *t = tv;
              const T *bias = biasv;
              for (int64_t u = u0; u < u1; u++) {
                  T *tp = t + (n0 * ch + u) * P;
                  const T v = bias[u % ch];
                  for (int64_t i = 0; i < P; i++) {
                      tp[i] += v;
                  }
              }
          })

/* Units (b, ci) = u: x[n0 + b, ci] into xp[u], padded with zeros to hp x wp. */
NBI_TYPED(pad_planes,
          (const conv_geom *q, const void *xv, void *xpv, int64_t n0, int64_t u0, int64_t u1), {
              const T *x = xv;
              T *xp = xpv;
              const int64_t wp = q->wp, pw = q->pw;
              for (int64_t u = u0; u < u1; u++) {
                  const T *restrict src = x + (n0 * q->c + u) * q->h * q->w;
                  T *restrict d = xp + u * q->hp * wp;
                  memset(d, 0, (size_t)(q->ph * wp) * sizeof(T));
                  d += q->ph * wp;
                  for (int64_t iy = 0; iy < q->h; iy++, d += wp, src += q->w) {
                      for (int64_t i = 0; i < pw; i++) {
                          d[i] = 0;
                          d[pw + q->w + i] = 0;
                      }
                      memcpy(d + pw, src, (size_t)q->w * sizeof(T));
                  }
                  memset(d, 0, (size_t)(q->ph * wp) * sizeof(T));
              }
          })

/*
 * Units (r, b) = (u / nb, u % nb) of a chunk of nb images: the wide im2col,
 * col[r, b*oh*wp + oy*wp + i] = xp[b, ci, oy*sh + ki*dh, i + kj*dw] for i < wp
 * (columns from ow on read past the row: garbage the GEMM's extra columns take;
 * zeroed with zero_extra, for the weight gradient, whose sums run over them).
 */
NBI_TYPED(im2col_wide,
          (const conv_geom *q, const void *xpv, void *colv, int64_t nb, bool zero_extra, int64_t u0,
           int64_t u1),
          {
              const T *xp = xpv;
              T *col = colv;
              const int64_t wp = q->wp, PP = q->oh * wp, ld = q->nimg * PP;
              for (int64_t u = u0; u < u1; u++) {
                  int64_t r = u / nb, b = u % nb;
                  int64_t kj = r % q->kw, ki = (r / q->kw) % q->kh, ci = r / (q->kw * q->kh);
                  const T *src = xp + (b * q->c + ci) * q->hp * wp + ki * q->dh * wp + kj * q->dw;
                  T *dst = col + r * ld + b * PP;
                  if (q->sh == 1) {
                      memcpy(dst, src, (size_t)PP * sizeof(T));
                  } else {
                      for (int64_t oy = 0; oy < q->oh; oy++) {
                          memcpy(dst + oy * wp, src + oy * q->sh * wp, (size_t)wp * sizeof(T));
                      }
                  }
                  for (int64_t oy = 0; zero_extra && oy < q->oh; oy++) {
                      for (int64_t i = q->ow; i < wp; i++) {
                          dst[oy * wp + i] = 0;
                      }
                  }
              }
          })

/* Units (b, k) = (u / o, u % o): dy[n0 + b, k] into m's wide rows, zeros in the extra columns. */
NBI_TYPED(to_wide,
          (const conv_geom *q, const void *tv, void *mv, int64_t n0, int64_t u0, int64_t u1), {
              const T *t = tv;
              T *m = mv;
              const int64_t wp = q->wp, ow = q->ow, PP = q->oh * wp, ld = q->nimg * PP;
              for (int64_t u = u0; u < u1; u++) {
                  int64_t b = u / q->o, k = u % q->o;
                  const T *restrict src = t + ((n0 + b) * q->o + k) * q->oh * ow;
                  T *restrict d = m + k * ld + b * PP;
                  for (int64_t oy = 0; oy < q->oh; oy++, src += ow, d += wp) {
                      for (int64_t i = 0; i < ow; i++) {
                          d[i] = src[i];
                      }
                      for (int64_t i = ow; i < wp; i++) {
                          d[i] = 0;
                      }
                  }
              }
          })

/* Units (b, k) = (u / o, u % o): y[n0 + b, k] = the first ow columns of m's rows + bias[k]. */
NBI_TYPED(unwide,
          (const conv_geom *q, const void *mv, void *yv, const void *biasv, int64_t n0, int64_t u0,
           int64_t u1),
          {
              const T *m = mv;
              T *y = yv;
              const T *bias = biasv;
              const int64_t wp = q->wp, ow = q->ow, PP = q->oh * wp, ld = q->nimg * PP;
              for (int64_t u = u0; u < u1; u++) {
                  int64_t b = u / q->o, k = u % q->o;
                  const T *restrict src = m + k * ld + b * PP;
                  T *restrict d = y + ((n0 + b) * q->o + k) * q->oh * ow;
                  const T v = bias ? bias[k] : 0;
                  for (int64_t oy = 0; oy < q->oh; oy++, src += wp, d += ow) {
                      for (int64_t i = 0; i < ow; i++) {
                          d[i] = src[i] + v;
                      }
                  }
              }
          })

/*
 * The direct loops are compiled, on x86-64, for the baseline and for
 * x86-64-v3 (AVX2 with FMA), with a product and a sum contracted into one
 * FMA: the forward then rounds exactly as BLIS's FMA micro-kernels do (one
 * fused multiply-add per tap, in the GEMM's order, from zero), so on such a
 * CPU it gives the im2col path's bits. (Short copies stay loops: a call to
 * memcpy would spill the accumulators.)
 */
#ifdef NBI_SIMD_CLONES
#define LOOP_SIMD                                                                                  \
    __attribute__((target_clones("arch=x86-64-v3", "default"),                                     \
                   optimize("fp-contract=fast", "no-tree-loop-distribute-patterns")))
#else
#define LOOP_SIMD
#endif
#define LOOP_TYPED(NAME, PARAMS, ...)                                                              \
    LOOP_SIMD static void NAME##_f32 PARAMS                                                        \
    {                                                                                              \
        typedef float T;                                                                           \
        typedef T VT __attribute__((vector_size(32)));                                             \
        __VA_ARGS__                                                                                \
    }                                                                                              \
    LOOP_SIMD static void NAME##_f64 PARAMS                                                        \
    {                                                                                              \
        typedef double T;                                                                          \
        typedef T VT __attribute__((vector_size(32)));                                             \
        __VA_ARGS__                                                                                \
    }

/*
 * Units (b, op) = (u / np, u % np) of a chunk, np = the pairs of output
 * channels of each group (an odd last channel computed twice, stored once):
 * y[n0 + b, o] = bias[o] + the sum over o's taps r = (ci, ki, kj), in that
 * order, of w[o, r] times the padded planes xp[b] shifted by the tap, for a
 * block of LOOP_NB vectors of one output row at a time. Two channels share
 * each load of x, and their 2 LOOP_NB accumulators, in registers, are enough
 * independent sums to keep both FMA units busy. Lanes past the row read the
 * next row or the slack and are not stored.
 */
/* One block of loop_forward for a kernel KW wide (a constant: the taps of a row unrolled). */
#define LOOP_FORWARD_TAPS(KW)                                                                      \
    do {                                                                                           \
        for (int64_t ci = 0; ci < cg; ci++) {                                                      \
            for (int64_t ki = 0; ki < q->kh; ki++, w0 += (KW), w1 += (KW)) {                       \
                const T *row = xb + ci * plane + (oy * q->sh + ki * q->dh) * wp + ox0;             \
                for (int kj = 0; kj < (KW); kj++) {                                                \
                    const T *src = row + kj * q->dw, k0 = w0[kj], k1 = w1[kj];                     \
                    for (int v = 0; v < LOOP_NB; v++) {                                            \
                        VT xv;                                                                     \
                        memcpy(&xv, src + v * V, sizeof xv);                                       \
                        a0[v] += k0 * xv;                                                          \
                        a1[v] += k1 * xv;                                                          \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

LOOP_TYPED(loop_forward,
           (const conv_geom *q, const void *xpv, const void *wv, const void *biasv, void *yv,
            int64_t n0, int64_t u0, int64_t u1),
           {
               enum { V = 32 / sizeof(T), B = LOOP_NB * V };
               const T *xp = xpv, *w = wv, *bias = biasv;
               T *y = yv;
               const int64_t cg = q->c / q->groups, og = q->o / q->groups, wp = q->wp;
               const int64_t plane = q->hp * wp, kk = cg * q->kh * q->kw, ow = q->ow;
               const int64_t np = (og + 1) / 2, pairs = q->groups * np;
               for (int64_t u = u0; u < u1; u++) {
                   const int64_t b = u / pairs, gi = (u % pairs) / np;
                   const int64_t o0 = gi * og + 2 * ((u % pairs) % np);
                   const int64_t o1 = o0 + 1 < (gi + 1) * og ? o0 + 1 : o0;
                   const T *xb = xp + (b * q->c + gi * cg) * plane;
                   T *y0 = y + ((n0 + b) * q->o + o0) * q->oh * ow;
                   T *y1 = y + ((n0 + b) * q->o + o1) * q->oh * ow;
                   const T b0 = bias ? bias[o0] : 0, b1 = bias ? bias[o1] : 0;
                   for (int64_t oy = 0; oy < q->oh; oy++) {
                       for (int64_t ox0 = 0; ox0 < ow; ox0 += B) {
                           VT a0[LOOP_NB], a1[LOOP_NB];
                           memset(a0, 0, sizeof a0);
                           memset(a1, 0, sizeof a1);
                           const T *w0 = w + o0 * kk, *w1 = w + o1 * kk;
                           switch (q->kw) {
                           case 1:
                               LOOP_FORWARD_TAPS(1);
                               break;
                           case 2:
                               LOOP_FORWARD_TAPS(2);
                               break;
                           case 3:
                               LOOP_FORWARD_TAPS(3);
                               break;
                           case 4:
                               LOOP_FORWARD_TAPS(4);
                               break;
                           case 5:
                               LOOP_FORWARD_TAPS(5);
                               break;
                           case 6:
                               LOOP_FORWARD_TAPS(6);
                               break;
                           case 7:
                               LOOP_FORWARD_TAPS(7);
                               break;
                           default:
                               LOOP_FORWARD_TAPS(LOOP_KW);
                               break;
                           }
                           /* whole vectors straight from the registers, the row's last lanes one by one */
                           T *d0 = y0 + oy * ow + ox0, *d1 = y1 + oy * ow + ox0;
                           const int64_t n = ow - ox0 < B ? ow - ox0 : B;
                           for (int v = 0; v < LOOP_NB; v++) {
                               if (bias) {
                                   a0[v] += b0;
                                   a1[v] += b1;
                               }
                               if ((v + 1) * V <= n) {
                                   memcpy(d1 + v * V, &a1[v], sizeof a1[v]);
                                   memcpy(d0 + v * V, &a0[v], sizeof a0[v]);
                               } else {
                                   for (int64_t i = v * V; i < n; i++) {
                                       d1[i] = a1[v][i - v * V];
                                       d0[i] = a0[v][i - v * V];
                                   }
                               }
                           }
                       }
                   }
               }
           })

#define LOOP_WEIGHT_ROW(AC, OY)                                                                    \
    do {                                                                                           \
        const T *d = dyo + (OY)*ow, *row = xc + (OY)*q->sh * wp;                                   \
        for (int64_t v = 0; v < full; v++) {                                                       \
            VT dv;                                                                                 \
            memcpy(&dv, d + v * V, sizeof dv);                                                     \
            for (int kj = 0; kj < KW_; kj++) {                                                     \
                VT xv;                                                                             \
                memcpy(&xv, row + v * V + kj * q->dw, sizeof xv);                                  \
                AC[kj] += dv * xv;                                                                 \
            }                                                                                      \
        }                                                                                          \
        if (rest && full) { /* the row's last V columns, those before full V masked */             \
            VT dv;                                                                                 \
            memcpy(&dv, d + ow - V, sizeof dv);                                                    \
            dv = (VT)((MT)dv & mask);                                                              \
            for (int kj = 0; kj < KW_; kj++) {                                                     \
                VT xv;                                                                             \
                memcpy(&xv, row + ow - V + kj * q->dw, sizeof xv);                                 \
                xv = (VT)((MT)xv & mask);                                                          \
                AC[kj] += dv * xv;                                                                 \
            }                                                                                      \
        } else if (rest) { /* a row shorter than a vector */                                       \
            VT dv = { 0 };                                                                         \
            for (int64_t i = 0; i < rest; i++) {                                                   \
                dv[i] = d[i];                                                                      \
            }                                                                                      \
            for (int kj = 0; kj < KW_; kj++) {                                                     \
                VT xv;                                                                             \
                memcpy(&xv, row + kj * q->dw, sizeof xv);                                          \
                xv = (VT)((MT)xv & mask);                                                          \
                AC[kj] += dv * xv;                                                                 \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/*
 * The rows of loop_weight for a kernel KW wide (a constant, so the
 * accumulators stay in registers), even and odd rows of dy into sets of
 * their own (two independent sums per tap keep the FMA units busy).
 */
#define LOOP_WEIGHT_ROWS(KW)                                                                       \
    do {                                                                                           \
        enum { KW_ = (KW) };                                                                       \
        VT a0[KW_], a1[KW_];                                                                       \
        memset(a0, 0, sizeof a0);                                                                  \
        memset(a1, 0, sizeof a1);                                                                  \
        for (int64_t b = 0; b < nb; b++) {                                                         \
            const T *dyo = dy + ((n0 + b) * q->o + o) * P;                                         \
            const T *xc = xp + (b * q->c + (o / og) * cg + ci) * plane + ki * q->dh * wp;          \
            int64_t oy = 0;                                                                        \
            for (; oy + 1 < q->oh; oy += 2) {                                                      \
                LOOP_WEIGHT_ROW(a0, oy);                                                           \
                LOOP_WEIGHT_ROW(a1, oy + 1);                                                       \
            }                                                                                      \
            if (oy < q->oh) {                                                                      \
                LOOP_WEIGHT_ROW(a0, oy);                                                           \
            }                                                                                      \
        }                                                                                          \
        for (int kj = 0; kj < KW_; kj++) {                                                         \
            VT a = a0[kj] + a1[kj];                                                                \
            T sum = a[0];                                                                          \
            for (int i = 1; i < V; i++) {                                                          \
                sum += a[i];                                                                       \
            }                                                                                      \
            out[kj] = first ? sum : out[kj] + sum;                                                 \
        }                                                                                          \
    } while (0)

/*
 * Units (o, ci, ki) = u: the weight gradient's row w[o, ci, ki, :] from a
 * chunk of nb images, dw = the sum over images, rows and columns of dy times
 * the padded planes shifted by the tap (added to dw unless first): each row
 * of dy in vectors, each vector against the kw taps at once. A row's
 * columns past its last whole vector come from a vector ending at the row's
 * end, its lanes of columns already counted masked to zero in dy and in x
 * (a non-finite x times a zero would be NaN); a row shorter than a vector
 * is copied. Each lane sums its columns in order; the lanes are added in
 * order at the end.
 */
LOOP_TYPED(loop_weight,
           (const conv_geom *q, const void *xpv, const void *dyv, void *dwv, int64_t n0, int64_t nb,
            bool first, int64_t u0, int64_t u1),
           {
               enum { V = 32 / sizeof(T) };
               typedef __typeof__((VT){ 0 } < (VT){ 0 }) MT;
               const T *xp = xpv, *dy = dyv;
               T *dw = dwv;
               const int64_t cg = q->c / q->groups, og = q->o / q->groups, wp = q->wp;
               const int64_t plane = q->hp * wp, ow = q->ow, P = q->oh * ow;
               const int64_t full = ow / V, rest = ow % V;
               MT mask; /* the lanes of a row's last rest columns in its last vector */
               for (int i = 0; i < V; i++) {
                   mask[i] = (full ? i >= V - rest : i < rest) ? -1 : 0;
               }
               for (int64_t u = u0; u < u1; u++) {
                   const int64_t ki = u % q->kh, ci = (u / q->kh) % cg, o = u / (q->kh * cg);
                   T *out = dw + ((o * cg + ci) * q->kh + ki) * q->kw;
                   switch (q->kw) {
                   case 1:
                       LOOP_WEIGHT_ROWS(1);
                       break;
                   case 2:
                       LOOP_WEIGHT_ROWS(2);
                       break;
                   case 3:
                       LOOP_WEIGHT_ROWS(3);
                       break;
                   case 4:
                       LOOP_WEIGHT_ROWS(4);
                       break;
                   case 5:
                       LOOP_WEIGHT_ROWS(5);
                       break;
                   case 6:
                       LOOP_WEIGHT_ROWS(6);
                       break;
                   case 7:
                       LOOP_WEIGHT_ROWS(7);
                       break;
                   default:
                       LOOP_WEIGHT_ROWS(LOOP_KW);
                       break;
                   }
               }
           })

/* One of the loops above, split over threads by units. */
typedef enum {
    JOB_IM2COL,
    JOB_COL2IM,
    JOB_RECHUNK,
    JOB_BIAS,
    JOB_PAD,
    JOB_IM2COL_WIDE,
    JOB_UNWIDE,
    JOB_TO_WIDE,
    JOB_LOOP_FORWARD,
    JOB_LOOP_WEIGHT
} job_kind;

typedef struct conv_job {
    job_kind kind;
    const conv_geom *q;
    bool f32;
    const void *src;
    void *dst;
    const void *bias;
    const void *w; /* the direct loops' weight (forward) or dy (weight gradient) */
    int64_t ch, P, n0, units;
    bool to_chunk;
} conv_job;

static void job_run(void *ctx, int k, int nt)
{
    const conv_job *j = ctx;
    int64_t u0 = j->units * k / nt, u1 = j->units * (k + 1) / nt;
    switch (j->kind) {
    case JOB_IM2COL:
        if (j->f32) {
            im2col_f32(j->q, j->src, j->dst, j->n0, u0, u1);
        } else {
            im2col_f64(j->q, j->src, j->dst, j->n0, u0, u1);
        }
        break;
    case JOB_COL2IM:
        if (j->f32) {
            col2im_f32(j->q, j->src, j->dst, j->n0, u0, u1);
        } else {
            col2im_f64(j->q, j->src, j->dst, j->n0, u0, u1);
        }
        break;
    case JOB_RECHUNK:
        /* to_chunk: src is the tensor; otherwise src is the chunk */
        if (j->f32) {
            rechunk_f32(j->q, j->ch, j->P, j->to_chunk ? (void *)j->src : j->dst,
                        j->to_chunk ? j->dst : (void *)j->src, j->bias, j->to_chunk, j->n0, u0, u1);
        } else {
            rechunk_f64(j->q, j->ch, j->P, j->to_chunk ? (void *)j->src : j->dst,
                        j->to_chunk ? j->dst : (void *)j->src, j->bias, j->to_chunk, j->n0, u0, u1);
        }
        break;
    case JOB_PAD:
        if (j->f32) {
            pad_planes_f32(j->q, j->src, j->dst, j->n0, u0, u1);
        } else {
            pad_planes_f64(j->q, j->src, j->dst, j->n0, u0, u1);
        }
        break;
    case JOB_IM2COL_WIDE: /* ch holds the chunk's images, to_chunk asks for zero_extra */
        if (j->f32) {
            im2col_wide_f32(j->q, j->src, j->dst, j->ch, j->to_chunk, u0, u1);
        } else {
            im2col_wide_f64(j->q, j->src, j->dst, j->ch, j->to_chunk, u0, u1);
        }
        break;
    case JOB_TO_WIDE:
        if (j->f32) {
            to_wide_f32(j->q, j->src, j->dst, j->n0, u0, u1);
        } else {
            to_wide_f64(j->q, j->src, j->dst, j->n0, u0, u1);
        }
        break;
    case JOB_UNWIDE:
        if (j->f32) {
            unwide_f32(j->q, j->src, j->dst, j->bias, j->n0, u0, u1);
        } else {
            unwide_f64(j->q, j->src, j->dst, j->bias, j->n0, u0, u1);
        }
        break;
    case JOB_LOOP_FORWARD:
        if (j->f32) {
            loop_forward_f32(j->q, j->src, j->w, j->bias, j->dst, j->n0, u0, u1);
        } else {
            loop_forward_f64(j->q, j->src, j->w, j->bias, j->dst, j->n0, u0, u1);
        }
        break;
    case JOB_LOOP_WEIGHT: /* ch holds the chunk's images, to_chunk asks for the first chunk */
        if (j->f32) {
            loop_weight_f32(j->q, j->src, j->w, j->dst, j->n0, j->ch, j->to_chunk, u0, u1);
        } else {
            loop_weight_f64(j->q, j->src, j->w, j->dst, j->n0, j->ch, j->to_chunk, u0, u1);
        }
        break;
    case JOB_BIAS:
        if (j->f32) {
            add_bias_f32(j->ch, j->P, j->dst, j->bias, j->n0, u0, u1);
        } else {
            add_bias_f64(j->ch, j->P, j->dst, j->bias, j->n0, u0, u1);
        }
        break;
    }
}

/* Runs job over its units, on several threads when there is enough work (elements). */
static void job_go(conv_job *j, int64_t elements)
{
    int nt = elements >= NBI_PAR_MIN ? nbi_threads() : 1;
    if (nt > j->units) {
        nt = (int)j->units;
    }
    nbi_parallel(nt, job_run, j);
}

static void im2col_go(const conv_geom *q, bool f32, const void *x, void *col, int64_t n0,
                      int64_t nb)
{
    int64_t rows = q->c * q->kh * q->kw;
    conv_job j = { .kind = JOB_IM2COL, .q = q, .f32 = f32, .src = x, .dst = col, .n0 = n0 };
    /* units (r, b) with b < nimg; a short last chunk skips the missing images */
    j.units = rows * q->nimg;
    if (nb == q->nimg) {
        job_go(&j, rows * nb * q->oh * q->ow);
        return;
    }
    for (int64_t r = 0; r < rows; r++) {
        if (f32) {
            im2col_f32(q, x, col, n0, r * q->nimg, r * q->nimg + nb);
        } else {
            im2col_f64(q, x, col, n0, r * q->nimg, r * q->nimg + nb);
        }
    }
}

static void col2im_go(const conv_geom *q, bool f32, const void *col, void *x, int64_t n0,
                      int64_t nb)
{
    conv_job j = { .kind = JOB_COL2IM, .q = q, .f32 = f32, .src = col, .dst = x, .n0 = n0 };
    j.units = nb * q->c;
    job_go(&j, nb * q->c * q->kh * q->kw * q->oh * q->ow);
}

static void rechunk_go(const conv_geom *q, bool f32, int64_t ch, int64_t P, const void *src,
                       void *dst, const void *bias, bool to_chunk, int64_t n0, int64_t nb)
{
    conv_job j = { .kind = JOB_RECHUNK,
                   .q = q,
                   .f32 = f32,
                   .src = src,
                   .dst = dst,
                   .bias = bias,
                   .ch = ch,
                   .P = P,
                   .n0 = n0,
                   .to_chunk = to_chunk };
    j.units = nb * ch;
    job_go(&j, nb * ch * P);
}

static void bias_go(bool f32, int64_t ch, int64_t P, void *t, const void *bias, int64_t n0,
                    int64_t nb)
{
    conv_job j = {
        .kind = JOB_BIAS, .f32 = f32, .dst = t, .bias = bias, .ch = ch, .P = P, .n0 = n0
    };
    j.units = nb * ch;
    job_go(&j, nb * ch * P);
}

/*
 * c[m, n] = op(a) op(b) + beta c on BLIS, matrices row-major with row strides
 * lda, ldb (of a and b as stored) and ldc.
 */
static void gemm(bool f32, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *a,
                 int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc)
{
    trans_t tra = ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    trans_t trb = tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    if (f32) {
        float one = 1, bt = (float)beta;
        bli_sgemm(tra, trb, m, n, k, &one, (float *)a, lda, 1, (float *)b, ldb, 1, &bt, c, ldc, 1);
    } else {
        double one = 1;
        bli_dgemm(tra, trb, m, n, k, &one, (double *)a, lda, 1, (double *)b, ldb, 1, &beta, c, ldc,
                  1);
    }
}

/* Element offset helper: p + i elements of the dtype. */
static inline void *at(void *p, int64_t i, size_t es)
{
    return (unsigned char *)p + (size_t)i * es;
}

/* Pads the chunk's images into xp, then copies each tap's rows into col. */
static void im2col_wide_go(const conv_geom *q, bool f32, const void *x, void *xp, void *col,
                           int64_t n0, int64_t nb, bool zero_extra)
{
    int64_t rows = q->c * q->kh * q->kw;
    conv_job j = { .kind = JOB_PAD, .q = q, .f32 = f32, .src = x, .dst = xp, .n0 = n0 };
    j.units = nb * q->c;
    job_go(&j, nb * q->c * q->hp * q->wp);
    j = (conv_job){ .kind = JOB_IM2COL_WIDE,
                    .q = q,
                    .f32 = f32,
                    .src = xp,
                    .dst = col,
                    .ch = nb,
                    .units = rows * nb,
                    .to_chunk = zero_extra };
    job_go(&j, rows * nb * q->oh * q->wp);
}

/* The scratch of a wide im2col: col, tmp and xp, whose slack is zeroed here. */
static void wide_buffers(const conv_geom *q, size_t es, void *scratch, void **col, void **tmp,
                         void **xp)
{
    int64_t rows = q->c * q->kh * q->kw, ld = q->nimg * q->oh * q->wp;
    *col = scratch;
    *tmp = at(scratch, rows * ld, es);
    *xp = at(*tmp, q->o * ld, es);
    memset(at(*xp, q->nimg * q->c * q->hp * q->wp, es), 0, (size_t)((q->kw - 1) * q->dw) * es);
}

/*
 * The wide forward: per chunk, pad the images (xp), copy each tap's block
 * (col), one GEMM per group into tmp, then drop the extra columns into Y.
 * scratch: col [c kh kw, nimg oh wp], tmp [o, nimg oh wp], xp [nimg c, hp wp]
 * and (kw - 1) dw elements of slack read past the last plane.
 */
static void conv_forward_wide(const conv_geom *q, bool f32, const void *x, const void *w,
                              const void *bias, void *y, void *scratch)
{
    size_t es = f32 ? sizeof(float) : sizeof(double);
    int64_t G = q->groups, cg = q->c / G, og = q->o / G, kk = cg * q->kh * q->kw;
    int64_t PP = q->oh * q->wp, ld = q->nimg * PP;
    void *col, *tmp, *xp;
    wide_buffers(q, es, scratch, &col, &tmp, &xp);
    for (int64_t n0 = 0; n0 < q->n; n0 += q->nimg) {
        int64_t nb = q->n - n0 < q->nimg ? q->n - n0 : q->nimg;
        im2col_wide_go(q, f32, x, xp, col, n0, nb, false);
        for (int64_t gi = 0; gi < G; gi++) {
            gemm(f32, false, false, og, nb * PP, kk, at((void *)w, gi * og * kk, es), kk,
                 at(col, gi * kk * ld, es), ld, 0, at(tmp, gi * og * ld, es), ld);
        }
        conv_job j = { .kind = JOB_UNWIDE,
                       .q = q,
                       .f32 = f32,
                       .src = tmp,
                       .dst = y,
                       .bias = bias,
                       .n0 = n0,
                       .units = nb * q->o };
        job_go(&j, nb * q->o * q->oh * q->ow);
    }
}

/* Pads the chunk's images into xp (units (b, ci)) for the direct loops. */
static void pad_go(const conv_geom *q, bool f32, const void *x, void *xp, int64_t n0, int64_t nb)
{
    conv_job j = { .kind = JOB_PAD, .q = q, .f32 = f32, .src = x, .dst = xp, .n0 = n0 };
    j.units = nb * q->c;
    job_go(&j, nb * q->c * q->hp * q->wp);
}

/* The direct loops' scratch: the padded planes of a chunk, then the slack, zeroed here. */
static void *loop_buffer(const conv_geom *q, size_t es, void *scratch)
{
    memset(at(scratch, q->nimg * q->c * q->hp * q->wp, es), 0, (size_t)LOOP_NB * 32);
    return scratch;
}

/* The direct forward: per chunk, pad the images, then units (b, o) of loop_forward. */
static void conv_forward_loops(const conv_geom *q, bool f32, const void *x, const void *w,
                               const void *bias, void *y, void *scratch)
{
    void *xp = loop_buffer(q, f32 ? sizeof(float) : sizeof(double), scratch);
    int64_t taps = q->c / q->groups * q->kh * q->kw;
    for (int64_t n0 = 0; n0 < q->n; n0 += q->nimg) {
        int64_t nb = q->n - n0 < q->nimg ? q->n - n0 : q->nimg;
        pad_go(q, f32, x, xp, n0, nb);
        conv_job j = { .kind = JOB_LOOP_FORWARD,
                       .q = q,
                       .f32 = f32,
                       .src = xp,
                       .dst = y,
                       .bias = bias,
                       .w = w,
                       .n0 = n0,
                       .units = nb * q->groups * ((q->o / q->groups + 1) / 2) };
        job_go(&j, nb * q->o * q->oh * q->ow * taps);
    }
}

/* The direct weight gradient: per chunk, pad the images, then units (o, ci, ki) of loop_weight. */
static void conv_weight_loops(const conv_geom *q, bool f32, const void *x, const void *dy, void *dw,
                              void *scratch)
{
    void *xp = loop_buffer(q, f32 ? sizeof(float) : sizeof(double), scratch);
    int64_t cg = q->c / q->groups;
    for (int64_t n0 = 0; n0 < q->n; n0 += q->nimg) {
        int64_t nb = q->n - n0 < q->nimg ? q->n - n0 : q->nimg;
        pad_go(q, f32, x, xp, n0, nb);
        conv_job j = { .kind = JOB_LOOP_WEIGHT,
                       .q = q,
                       .f32 = f32,
                       .src = xp,
                       .dst = dw,
                       .w = dy,
                       .n0 = n0,
                       .ch = nb,
                       .to_chunk = n0 == 0,
                       .units = q->o * cg * q->kh };
        job_go(&j, nb * q->o * q->oh * q->ow * cg * q->kh * q->kw);
    }
}

/* Y = conv(X, W) + bias (bias may be NULL). scratch: conv_scratch bytes. */
static void conv_forward_kernel(const conv_geom *q, bool f32, const void *x, const void *w,
                                const void *bias, void *y, void *scratch)
{
    size_t es = f32 ? sizeof(float) : sizeof(double);
    int64_t G = q->groups, cg = q->c / G, og = q->o / G, kk = cg * q->kh * q->kw;
    int64_t P = q->oh * q->ow, HW = q->h * q->w;
    if (q->loops) {
        conv_forward_loops(q, f32, x, w, bias, y, scratch);
        return;
    }
    if (q->wide) {
        conv_forward_wide(q, f32, x, w, bias, y, scratch);
        return;
    }
    if (q->direct) {
        for (int64_t n = 0; n < q->n; n++) {
            for (int64_t gi = 0; gi < G; gi++) {
                gemm(f32, false, false, og, P, cg, at((void *)w, gi * og * cg, es), cg,
                     at((void *)x, (n * q->c + gi * cg) * HW, es), P, 0,
                     at(y, (n * q->o + gi * og) * P, es), P);
            }
        }
        if (bias) {
            bias_go(f32, q->o, P, y, bias, 0, q->n);
        }
        return;
    }
    void *col = scratch, *tmp = at(scratch, q->c * q->kh * q->kw * q->nimg * P, es);
    for (int64_t n0 = 0; n0 < q->n; n0 += q->nimg) {
        int64_t nb = q->n - n0 < q->nimg ? q->n - n0 : q->nimg, ld = q->nimg * P;
        im2col_go(q, f32, x, col, n0, nb);
        /* one image: its [o, P] block of Y is the GEMM's output itself */
        void *out = q->nimg == 1 ? at(y, n0 * q->o * P, es) : tmp;
        for (int64_t gi = 0; gi < G; gi++) {
            gemm(f32, false, false, og, nb == q->nimg ? ld : nb * P, kk,
                 at((void *)w, gi * og * kk, es), kk, at(col, gi * kk * ld, es), ld, 0,
                 at(out, gi * og * ld, es), ld);
        }
        if (q->nimg == 1) {
            if (bias) {
                bias_go(f32, q->o, P, y, bias, n0, 1);
            }
        } else {
            rechunk_go(q, f32, q->o, P, tmp, y, bias, false, n0, nb);
        }
    }
}

/* X = convᵀ(Y, W) + bias[c] (bias may be NULL): the adjoint of the convolution in X. */
static void conv_data_kernel(const conv_geom *q, bool f32, const void *dy, const void *w,
                             const void *bias, void *dx, void *scratch)
{
    size_t es = f32 ? sizeof(float) : sizeof(double);
    int64_t G = q->groups, cg = q->c / G, og = q->o / G, kk = cg * q->kh * q->kw;
    int64_t P = q->oh * q->ow, HW = q->h * q->w;
    if (q->direct) {
        for (int64_t n = 0; n < q->n; n++) {
            for (int64_t gi = 0; gi < G; gi++) {
                gemm(f32, true, false, cg, P, og, at((void *)w, gi * og * cg, es), cg,
                     at((void *)dy, (n * q->o + gi * og) * P, es), P, 0,
                     at(dx, (n * q->c + gi * cg) * HW, es), HW);
            }
        }
    } else {
        /* fold: col after fold_pre elements, fold_post more after tmp; zero so nothing is stale */
        void *col = q->fold ? at(scratch, fold_pre(q), es) : scratch;
        void *tmp = at(col, q->c * q->kh * q->kw * q->nimg * P, es);
        if (q->fold) {
            memset(scratch, 0, (size_t)fold_pre(q) * es);
            memset(at(tmp, q->o * q->nimg * P, es), 0, (size_t)fold_post(q) * es);
        }
        for (int64_t n0 = 0; n0 < q->n; n0 += q->nimg) {
            int64_t nb = q->n - n0 < q->nimg ? q->n - n0 : q->nimg, ld = q->nimg * P;
            const void *src = at((void *)dy, n0 * q->o * P, es);
            if (q->nimg > 1) {
                rechunk_go(q, f32, q->o, P, dy, tmp, NULL, true, n0, nb);
                src = tmp;
            }
            for (int64_t gi = 0; gi < G; gi++) {
                gemm(f32, true, false, kk, nb == q->nimg ? ld : nb * P, og,
                     at((void *)w, gi * og * kk, es), kk, at((void *)src, gi * og * ld, es), ld, 0,
                     at(col, gi * kk * ld, es), ld);
            }
            col2im_go(q, f32, col, dx, n0, nb);
        }
    }
    if (bias) {
        bias_go(f32, q->c, HW, dx, bias, 0, q->n);
    }
}

/*
 * The wide weight gradient: col's and dy's rows padded to wp with zeros in
 * the extra columns, so the GEMM's sum over them adds exactly 0 * 0.
 */
static void conv_weight_wide(const conv_geom *q, bool f32, const void *x, const void *dy, void *dw,
                             void *scratch)
{
    size_t es = f32 ? sizeof(float) : sizeof(double);
    int64_t G = q->groups, cg = q->c / G, og = q->o / G, kk = cg * q->kh * q->kw;
    int64_t PP = q->oh * q->wp, ld = q->nimg * PP;
    void *col, *tmp, *xp;
    wide_buffers(q, es, scratch, &col, &tmp, &xp);
    for (int64_t n0 = 0; n0 < q->n; n0 += q->nimg) {
        int64_t nb = q->n - n0 < q->nimg ? q->n - n0 : q->nimg;
        im2col_wide_go(q, f32, x, xp, col, n0, nb, true);
        conv_job j = { .kind = JOB_TO_WIDE,
                       .q = q,
                       .f32 = f32,
                       .src = dy,
                       .dst = tmp,
                       .n0 = n0,
                       .units = nb * q->o };
        job_go(&j, nb * q->o * PP);
        for (int64_t gi = 0; gi < G; gi++) {
            gemm(f32, false, true, og, kk, nb * PP, at(tmp, gi * og * ld, es), ld,
                 at(col, gi * kk * ld, es), ld, n0 ? 1 : 0, at(dw, gi * og * kk, es), kk);
        }
    }
}

/* W = the weight gradient: dW[o, r] = sum over images and positions of dY[o] col(X)[r]. */
static void conv_weight_kernel(const conv_geom *q, bool f32, const void *x, const void *dy,
                               void *dw, void *scratch)
{
    size_t es = f32 ? sizeof(float) : sizeof(double);
    int64_t G = q->groups, cg = q->c / G, og = q->o / G, kk = cg * q->kh * q->kw;
    int64_t P = q->oh * q->ow, HW = q->h * q->w;
    if (q->loops) {
        conv_weight_loops(q, f32, x, dy, dw, scratch);
        return;
    }
    if (q->wide) {
        conv_weight_wide(q, f32, x, dy, dw, scratch);
        return;
    }
    if (q->direct) {
        for (int64_t n = 0; n < q->n; n++) {
            for (int64_t gi = 0; gi < G; gi++) {
                gemm(f32, false, true, og, cg, P, at((void *)dy, (n * q->o + gi * og) * P, es), P,
                     at((void *)x, (n * q->c + gi * cg) * HW, es), HW, n ? 1 : 0,
                     at(dw, gi * og * cg, es), cg);
            }
        }
        return;
    }
    void *col = scratch, *tmp = at(scratch, q->c * q->kh * q->kw * q->nimg * P, es);
    for (int64_t n0 = 0; n0 < q->n; n0 += q->nimg) {
        int64_t nb = q->n - n0 < q->nimg ? q->n - n0 : q->nimg, ld = q->nimg * P;
        im2col_go(q, f32, x, col, n0, nb);
        const void *src = at((void *)dy, n0 * q->o * P, es);
        if (q->nimg > 1) {
            rechunk_go(q, f32, q->o, P, dy, tmp, NULL, true, n0, nb);
            src = tmp;
        }
        for (int64_t gi = 0; gi < G; gi++) {
            gemm(f32, false, true, og, kk, nb == q->nimg ? ld : nb * P,
                 at((void *)src, gi * og * ld, es), ld, at(col, gi * kk * ld, es), ld, n0 ? 1 : 0,
                 at(dw, gi * og * kk, es), kk);
        }
    }
}

/* ---- forwards ---- */

static nb_status conv_forward(nb_graph *g, nb_node *y)
{
    conv_geom q = geom_of(y);
    conv_forward_kernel(&q, y->dtype == NB_DTYPE_F32, y->in[0]->data, y->in[1]->data,
                        y->arity > 2 ? y->in[2]->data : NULL, y->data, g->scratch);
    return NB_OK;
}

static nb_status conv_transpose_forward(nb_graph *g, nb_node *y)
{
    conv_geom q = geom_of(y);
    conv_data_kernel(&q, y->dtype == NB_DTYPE_F32, y->in[0]->data, y->in[1]->data,
                     y->arity > 2 ? y->in[2]->data : NULL, y->data, g->scratch);
    return NB_OK;
}

static nb_status weight_grad_forward(nb_graph *g, nb_node *y)
{
    conv_geom q = geom_of(y);
    conv_weight_kernel(&q, y->dtype == NB_DTYPE_F32, y->in[0]->data, y->in[1]->data, y->data,
                       g->scratch);
    return NB_OK;
}

/* ---- builders ---- */

/* Checks the inputs' count, graph and dtype; names x, w (or dy) and b in messages. */
static bool check_common(nb_graph *g, const char *name, int n, nb_node *const *in)
{
    return nbi_check_inputs(g, name, n, in) && nbi_check_float(g, name, n, in);
}

/* Checks rank of t: 2 + nsp. */
static bool check_rank(nb_graph *g, const char *name, int n, nb_node *const *in, int i,
                       const char *what, int nsp, const char *form)
{
    if (in[i]->rank != 2 + nsp) {
        nbi_fail(g, NB_ERR_RANK, name, n, in, "%s has rank %d; %s takes %s", what, in[i]->rank,
                 name, form);
        return false;
    }
    return true;
}

/* The spatial sizes of t: its last nsp axes. */
static void spatial(const nb_node *t, int nsp, int64_t *sp)
{
    for (int d = 0; d < nsp; d++) {
        sp[d] = t->shape[t->rank - nsp + d];
    }
}

/* b must be [channels]. */
static bool check_bias(nb_graph *g, const char *name, int n, nb_node *const *in, int64_t ch)
{
    if (n < 3) {
        return true;
    }
    nb_node *b = in[2];
    if (!(b->rank == 1 && b->shape[0] == ch)) {
        char s[96];
        nbi_format_shape(b->rank, b->shape, s, sizeof s);
        nbi_fail(g, NB_ERR_SHAPE, name, n, in,
                 "b is %s but the output has %lld channels; it must be [%lld]", s, (long long)ch,
                 (long long)ch);
        return false;
    }
    return true;
}

/* The output sizes of conv over sp, or an error when a dilated kernel exceeds the padded input. */
static bool conv_sizes(nb_graph *g, const char *name, int n, nb_node *const *in, int nsp,
                       const int64_t *sp, const int64_t *k, const conv_params *cp, int64_t *out)
{
    for (int d = 0; d < nsp; d++) {
        int64_t span = cp->d[d] * (k[d] - 1) + 1;
        if (sp[d] + 2 * cp->p[d] < span) {
            if (cp->d[d] > 1) {
                nbi_fail(g, NB_ERR_SHAPE, name, n, in,
                         "the window %lld (kernel %lld, dilation %lld) is larger than the padded "
                         "input %lld on axis %d",
                         (long long)span, (long long)k[d], (long long)cp->d[d],
                         (long long)(sp[d] + 2 * cp->p[d]), 2 + d);
            } else {
                nbi_fail(g, NB_ERR_SHAPE, name, n, in,
                         "the window %lld is larger than the padded input %lld on axis %d",
                         (long long)span, (long long)(sp[d] + 2 * cp->p[d]), 2 + d);
            }
            return false;
        }
        out[d] = conv_out(sp[d], k[d], cp->s[d], cp->p[d], cp->d[d]);
    }
    return true;
}

/* conv2d and conv1d: x[N, C, *sp], w[O, C/groups, *k], b[O]. */
static nb_node *conv_build_op(nb_graph *g, int op, int n, nb_node *const *in, const nbi_attr *attr)
{
    const char *name = nbi_ops[op]->name;
    int nsp = op == NBI_OP_CONV1D ? 1 : 2;
    if (n != 2 && n != 3) {
        nbi_fail(g, NB_ERR_ARG, name, n, in, "takes x, w and optionally b; got %d inputs", n);
        return NULL;
    }
    if (!check_common(g, name, n, in) ||
        !check_rank(g, name, n, in, 0, "x", nsp, nsp == 1 ? "x[N, C, L]" : "x[N, C, H, W]") ||
        !check_rank(g, name, n, in, 1, "w", nsp,
                    nsp == 1 ? "w[O, C/groups, k]" : "w[O, C/groups, kh, kw]")) {
        return NULL;
    }
    conv_params cp;
    if (!read_params(g, op, n, in, attr, nsp, &cp)) {
        return NULL;
    }
    nb_node *x = in[0], *w = in[1];
    int64_t C = x->shape[1], O = w->shape[0], G = cp.groups;
    if (O % G != 0) {
        nbi_fail(g, NB_ERR_SHAPE, name, n, in,
                 "groups %lld does not divide w's %lld output channels", (long long)G,
                 (long long)O);
        return NULL;
    }
    if (w->shape[1] * G != C) {
        nbi_fail(g, NB_ERR_SHAPE, name, n, in,
                 "x has %lld channels but w takes %lld (groups %lld x w's %lld per group)",
                 (long long)C, (long long)(w->shape[1] * G), (long long)G, (long long)w->shape[1]);
        return NULL;
    }
    if (!check_bias(g, name, n, in, O)) {
        return NULL;
    }
    int64_t sp[2], k[2], o[2];
    spatial(x, nsp, sp);
    spatial(w, nsp, k);
    if (!conv_sizes(g, name, n, in, nsp, sp, k, &cp, o)) {
        return NULL;
    }
    int64_t shape[4] = { x->shape[0], O, o[0], o[nsp - 1] };
    nb_node *y = nbi_node_newv(g, op, x->dtype, 2 + nsp, shape, n, in);
    if (y) {
        store_params(y, &cp);
    }
    return y;
}

/* conv_transpose2d: x[N, Cin, H, W], w[Cin, O/groups, kh, kw], b[O]. */
static nb_node *conv_transpose_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    const char *name = "conv_transpose2d";
    if (n != 2 && n != 3) {
        nbi_fail(g, NB_ERR_ARG, name, n, in, "takes x, w and optionally b; got %d inputs", n);
        return NULL;
    }
    if (!check_common(g, name, n, in) || !check_rank(g, name, n, in, 0, "x", 2, "x[N, C, H, W]") ||
        !check_rank(g, name, n, in, 1, "w", 2, "w[C, O/groups, kh, kw]")) {
        return NULL;
    }
    conv_params cp;
    if (!read_params(g, NBI_OP_CONV_TRANSPOSE2D, n, in, attr, 2, &cp)) {
        return NULL;
    }
    nb_node *x = in[0], *w = in[1];
    int64_t C = x->shape[1], G = cp.groups;
    if (w->shape[0] != C) {
        nbi_fail(g, NB_ERR_SHAPE, name, n, in, "x has %lld channels but w takes %lld", (long long)C,
                 (long long)w->shape[0]);
        return NULL;
    }
    if (C % G != 0) {
        nbi_fail(g, NB_ERR_SHAPE, name, n, in,
                 "groups %lld does not divide w's %lld input channels", (long long)G, (long long)C);
        return NULL;
    }
    int64_t O = w->shape[1] * G;
    if (!check_bias(g, name, n, in, O)) {
        return NULL;
    }
    int64_t o[2];
    for (int d = 0; d < 2; d++) {
        o[d] = (x->shape[2 + d] - 1) * cp.s[d] - 2 * cp.p[d] + cp.d[d] * (w->shape[2 + d] - 1) +
               cp.op[d] + 1;
    }
    if (o[0] < 1 || o[1] < 1) {
        char b1[48];
        nbi_fail(g, NB_ERR_SHAPE, name, n, in, "the output size %s is not positive",
                 list_str(b1, sizeof b1, 2, o));
        return NULL;
    }
    int64_t shape[4] = { x->shape[0], O, o[0], o[1] };
    nb_node *y = nbi_node_newv(g, NBI_OP_CONV_TRANSPOSE2D, x->dtype, 4, shape, n, in);
    if (y) {
        store_params(y, &cp);
    }
    return y;
}

/* conv2d_weight_grad: x[N, C, H, W], dy[N, O, OH, OW] -> [O, C/groups, kh, kw]. */
static nb_node *weight_grad_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    const char *name = "conv2d_weight_grad";
    (void)n;
    if (!check_common(g, name, 2, in) || !check_rank(g, name, 2, in, 0, "x", 2, "x[N, C, H, W]") ||
        !check_rank(g, name, 2, in, 1, "dy", 2, "dy[N, O, OH, OW]")) {
        return NULL;
    }
    conv_params cp;
    if (!read_params(g, NBI_OP_CONV2D_WEIGHT_GRAD, 2, in, attr, 2, &cp)) {
        return NULL;
    }
    nb_node *x = in[0], *dy = in[1];
    int64_t C = x->shape[1], O = dy->shape[1], G = cp.groups;
    if (x->shape[0] != dy->shape[0]) {
        nbi_fail(g, NB_ERR_SHAPE, name, 2, in, "x's batch %lld and dy's batch %lld differ",
                 (long long)x->shape[0], (long long)dy->shape[0]);
        return NULL;
    }
    if (C % G != 0 || O % G != 0) {
        nbi_fail(g, NB_ERR_SHAPE, name, 2, in, "groups %lld does not divide %s's %lld channels",
                 (long long)G, C % G ? "x" : "dy", (long long)(C % G ? C : O));
        return NULL;
    }
    int64_t sp[2], o[2];
    spatial(x, 2, sp);
    if (!conv_sizes(g, name, 2, in, 2, sp, cp.k, &cp, o)) {
        return NULL;
    }
    if (dy->shape[2] != o[0] || dy->shape[3] != o[1]) {
        char b1[48], b2[48];
        int64_t have[2] = { dy->shape[2], dy->shape[3] };
        nbi_fail(g, NB_ERR_SHAPE, name, 2, in,
                 "dy's spatial size %s is not the convolution's output size %s",
                 list_str(b1, sizeof b1, 2, have), list_str(b2, sizeof b2, 2, o));
        return NULL;
    }
    int64_t shape[4] = { O, C / G, cp.k[0], cp.k[1] };
    nb_node *y = nbi_node_new(g, NBI_OP_CONV2D_WEIGHT_GRAD, x->dtype, 4, shape, x, dy);
    if (y) {
        store_params(y, &cp);
    }
    return y;
}

static nb_node *conv2d_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    return conv_build_op(g, NBI_OP_CONV2D, n, in, attr);
}

static nb_node *conv1d_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    return conv_build_op(g, NBI_OP_CONV1D, n, in, attr);
}

/* The attribute values of opts for op (NULL opts: the defaults; 0 stands for the default). */
static void opts_attrs(int op, int nsp, const nb_conv_opts *opts, const int *kernel, nbi_attr *attr)
{
    static const nb_conv_opts none;
    const nb_conv_opts *o = opts ? opts : &none;
    conv_roles r = roles_of(op);
    memset(attr, 0, NBI_MAX_ATTRS * sizeof *attr);
    for (int d = 0; d < nsp; d++) {
        attr[r.stride].list[d] = o->stride[d] ? o->stride[d] : 1;
        attr[r.padding].list[d] = o->padding[d];
        attr[r.dilation].list[d] = o->dilation[d] ? o->dilation[d] : 1;
        if (r.output_padding >= 0) {
            attr[r.output_padding].list[d] = o->output_padding[d];
        }
        if (r.kernel >= 0) {
            attr[r.kernel].list[d] = kernel[d];
        }
    }
    attr[r.stride].n = attr[r.padding].n = attr[r.dilation].n = nsp;
    if (r.output_padding >= 0) {
        attr[r.output_padding].n = nsp;
    }
    if (r.kernel >= 0) {
        attr[r.kernel].n = nsp;
    }
    attr[r.groups].i = o->groups ? o->groups : 1;
}

/* output_padding belongs to conv_transpose2d: elsewhere a set one is an error, not ignored. */
static bool no_output_padding(nb_graph *g, int op, int n, nb_node *const *in,
                              const nb_conv_opts *opts)
{
    if (opts && (opts->output_padding[0] || opts->output_padding[1])) {
        if (nbi_check_inputs(g, nbi_ops[op]->name, n, in)) {
            nbi_fail(g, NB_ERR_ARG, nbi_ops[op]->name, n, in,
                     "output_padding is a setting of conv_transpose2d only");
        }
        return false;
    }
    return true;
}

/* The inputs x, w and b (b may be NULL) as an array of 2 or 3. */
static int inputs3(nb_node **in, nb_node *x, nb_node *w, nb_node *b)
{
    in[0] = x;
    in[1] = w;
    in[2] = b;
    return b ? 3 : 2;
}

nb_node *nb_conv2d(nb_graph *g, nb_node *x, nb_node *w, nb_node *b, const nb_conv_opts *opts)
{
    nb_node *in[3];
    nbi_attr attr[NBI_MAX_ATTRS];
    int n = inputs3(in, x, w, b);
    if (!no_output_padding(g, NBI_OP_CONV2D, n, in, opts)) {
        return NULL;
    }
    opts_attrs(NBI_OP_CONV2D, 2, opts, NULL, attr);
    return conv_build_op(g, NBI_OP_CONV2D, n, in, attr);
}

nb_node *nb_conv1d(nb_graph *g, nb_node *x, nb_node *w, nb_node *b, const nb_conv_opts *opts)
{
    nb_node *in[3];
    nbi_attr attr[NBI_MAX_ATTRS];
    int n = inputs3(in, x, w, b);
    if (!no_output_padding(g, NBI_OP_CONV1D, n, in, opts)) {
        return NULL;
    }
    opts_attrs(NBI_OP_CONV1D, 1, opts, NULL, attr);
    return conv_build_op(g, NBI_OP_CONV1D, n, in, attr);
}

nb_node *nb_conv_transpose2d(nb_graph *g, nb_node *x, nb_node *w, nb_node *b,
                             const nb_conv_opts *opts)
{
    nb_node *in[3];
    nbi_attr attr[NBI_MAX_ATTRS];
    opts_attrs(NBI_OP_CONV_TRANSPOSE2D, 2, opts, NULL, attr);
    return conv_transpose_build(g, inputs3(in, x, w, b), in, attr);
}

nb_node *nb_conv2d_weight_grad(nb_graph *g, nb_node *x, nb_node *dy, int kh, int kw,
                               const nb_conv_opts *opts)
{
    nb_node *in[2] = { x, dy };
    nbi_attr attr[NBI_MAX_ATTRS];
    if (!no_output_padding(g, NBI_OP_CONV2D_WEIGHT_GRAD, 2, in, opts)) {
        return NULL;
    }
    opts_attrs(NBI_OP_CONV2D_WEIGHT_GRAD, 2, opts, (const int[]){ kh, kw }, attr);
    return weight_grad_build(g, 2, in, attr);
}

/* ---- gradients ---- */

/* The options of node y's settings (2-d; a 1-d node's on the width axis, height plain). */
static nb_conv_opts opts_of(const nb_node *y)
{
    conv_params cp = params_of(y);
    nb_conv_opts o;
    memset(&o, 0, sizeof o);
    int first = cp.nsp == 1 ? 1 : 0;
    for (int d = 0; d < 2; d++) {
        int k = d - first;
        o.stride[d] = k < 0 ? 1 : (int)cp.s[k];
        o.padding[d] = k < 0 ? 0 : (int)cp.p[k];
        o.dilation[d] = k < 0 ? 1 : (int)cp.d[k];
        o.output_padding[d] = k < 0 ? 0 : (int)cp.op[k];
    }
    o.groups = (int)cp.groups;
    return o;
}

/*
 * The output_padding that makes convᵀ of dy (spatial size out) come back to
 * size in: in - ((out - 1) s - 2p + d (k - 1) + 1), in [0, s) since the
 * convolution's floor dropped at most s - 1 rows.
 */
static void back_padding(nb_conv_opts *o, const int64_t *in, const int64_t *out, const int64_t *k)
{
    for (int d = 0; d < 2; d++) {
        o->output_padding[d] = (int)(in[d] - ((out[d] - 1) * o->stride[d] - 2 * o->padding[d] +
                                              o->dilation[d] * (k[d] - 1) + 1));
    }
}

/* b's gradient: dy summed over every axis but the channels. */
static nb_node *bias_grad(nb_graph *g, nb_node *dy)
{
    static const int axes[3] = { 0, 2, 3 };
    return nb_sum_axes(g, dy, dy->rank - 1, axes, false);
}

/* dx = convᵀ(dy, w), dw = conv2d_weight_grad(x, dy), db = sum of dy; 4-d x, w, dy. */
static void conv_grads4(nb_graph *g, nb_node *x, nb_node *w, nb_node *dy, nb_conv_opts o,
                        const bool *need, nb_node **dx, nb_node **dw)
{
    if (!x || !w || !dy) {
        return; /* conv1d's reshapes failed (out of memory): the error is recorded */
    }
    if (need[0]) {
        back_padding(&o, x->shape + 2, dy->shape + 2, w->shape + 2);
        *dx = nb_conv_transpose2d(g, dy, w, NULL, &o);
        memset(o.output_padding, 0, sizeof o.output_padding);
    }
    if (need[1]) {
        *dw = nb_conv2d_weight_grad(g, x, dy, (int)w->shape[2], (int)w->shape[3], &o);
    }
}

static void conv2d_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    conv_grads4(g, y->in[0], y->in[1], dy, opts_of(y), need, &dx[0], &dx[1]);
    if (y->arity > 2 && need[2]) {
        dx[2] = bias_grad(g, dy);
    }
}

/* a [N, C, L] tensor as [N, C, 1, L] */
static nb_node *as4(nb_graph *g, nb_node *t)
{
    if (!t) {
        return NULL; /* an earlier reshape failed: its error is recorded */
    }
    int64_t s[4];
    shape4(t, s);
    return nb_reshape(g, t, 4, s);
}

/* conv1d is conv2d of height 1: its gradients are the 2-d ones, reshaped back */
static void conv1d_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    nb_node *x = y->in[0], *w = y->in[1];
    nb_node *d4[2] = { NULL, NULL };
    conv_grads4(g, as4(g, x), as4(g, w), as4(g, dy), opts_of(y), need, &d4[0], &d4[1]);
    if (need[0]) {
        dx[0] = nb_reshape(g, d4[0], x->rank, x->shape);
    }
    if (need[1]) {
        dx[1] = nb_reshape(g, d4[1], w->rank, w->shape);
    }
    if (y->arity > 2 && need[2]) {
        dx[2] = bias_grad(g, dy);
    }
}

/*
 * y = convᵀ(x, w) is the input gradient of the convolution X = y, Y = x, so
 * dx = conv2d(dy, w) and dw = conv2d_weight_grad(dy, x). When output_padding
 * reaches the stride (allowed below the dilation) that convolution would have
 * more outputs than x: dx keeps the first ones and x is padded with zeros.
 */
static void conv_transpose_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need,
                                nb_node **dx)
{
    nb_node *x = y->in[0], *w = y->in[1];
    nb_conv_opts o = opts_of(y);
    int64_t out[2];
    int64_t pad[8] = { 0 };
    bool longer = false;
    for (int d = 0; d < 2; d++) {
        out[d] =
            conv_out(y->shape[2 + d], w->shape[2 + d], o.stride[d], o.padding[d], o.dilation[d]);
        pad[2 * (2 + d) + 1] = (int)(out[d] - x->shape[2 + d]);
        longer |= out[d] != x->shape[2 + d];
    }
    memset(o.output_padding, 0, sizeof o.output_padding);
    if (need[0]) {
        nb_node *c = nb_conv2d(g, dy, w, NULL, &o);
        for (int d = 0; d < 2 && longer; d++) {
            c = nb_slice(g, c, 2 + d, 0, x->shape[2 + d], 1);
        }
        dx[0] = c;
    }
    if (need[1]) {
        nb_node *xp = longer ? nb_pad(g, x, 8, pad, 0) : x;
        dx[1] = nb_conv2d_weight_grad(g, dy, xp, (int)w->shape[2], (int)w->shape[3], &o);
    }
    if (y->arity > 2 && need[2]) {
        dx[2] = bias_grad(g, dy);
    }
}

/*
 * dW(x, dy) is bilinear: with ddw the gradient of W, the gradient of x is the
 * input gradient of a convolution by ddw, convᵀ(dy, ddw), and the gradient of
 * dy is that convolution itself, conv2d(x, ddw).
 */
static void weight_grad_grad(nb_graph *g, nb_node *y, nb_node *ddw, const bool *need, nb_node **dx)
{
    nb_node *x = y->in[0], *dy = y->in[1];
    nb_conv_opts o = opts_of(y);
    if (need[0]) {
        nb_conv_opts t = o;
        back_padding(&t, x->shape + 2, dy->shape + 2, y->shape + 2);
        dx[0] = nb_conv_transpose2d(g, dy, ddw, NULL, &t);
    }
    if (need[1]) {
        dx[1] = nb_conv2d(g, x, ddw, NULL, &o);
    }
}

/* ---- records ---- */

#define CONV_ATTRS_SPD                                                                             \
    { "stride", NBI_ATTR_INTS, 0, false, false, "1" },                                             \
    {                                                                                              \
        "padding", NBI_ATTR_INTS, 0, false, false, "0"                                             \
    }
#define CONV_ATTR_DILATION                                                                         \
    {                                                                                              \
        "dilation", NBI_ATTR_INTS, 0, false, false, "1"                                            \
    }
#define CONV_ATTR_GROUPS                                                                           \
    {                                                                                              \
        "groups", NBI_ATTR_INT, 1                                                                  \
    }

const nbi_op nbi_op_conv2d = {
    .name = "conv2d",
    .symbol = "conv",
    .arity = NBI_VARIADIC,
    .attrs = { CONV_ATTRS_SPD, CONV_ATTR_DILATION, CONV_ATTR_GROUPS },
    .n_attrs = 4,
    .build = conv2d_build,
    .inputs = "x, w[, b]",
    .forward = conv_forward,
    .grad = conv2d_grad,
    .scratch = conv_scratch,
    .formula = "y[n,o,i,j] = b[o] + sum over c in o's group, ki, kj of "
               "w[o,c,ki,kj] x[n,c,i*sh - ph + ki*dh, j*sw - pw + kj*dw], zero padding",
    .grad_formula = "dx = conv_transpose2d(dy, w), dw = conv2d_weight_grad(x, dy), "
                    "db = sum(dy, [0, 2, 3])",
};

const nbi_op nbi_op_conv1d = {
    .name = "conv1d",
    .symbol = "conv",
    .arity = NBI_VARIADIC,
    .attrs = { CONV_ATTRS_SPD, CONV_ATTR_DILATION, CONV_ATTR_GROUPS },
    .n_attrs = 4,
    .build = conv1d_build,
    .inputs = "x, w[, b]",
    .forward = conv_forward,
    .grad = conv1d_grad,
    .scratch = conv_scratch,
    .formula = "y[n,o,i] = b[o] + sum over c in o's group, k of w[o,c,k] x[n,c,i*s - p + k*d], "
               "zero padding",
    .grad_formula = "as conv2d of height 1: dx, dw by conv_transpose2d and conv2d_weight_grad "
                    "on [N, C, 1, L], reshaped; db = sum(dy, [0, 2])",
};

const nbi_op nbi_op_conv_transpose2d = {
    .name = "conv_transpose2d",
    .symbol = "convᵀ",
    .arity = NBI_VARIADIC,
    .attrs = { CONV_ATTRS_SPD,
               { "output_padding", NBI_ATTR_INTS, 0, false, false, "0" },
               CONV_ATTR_DILATION,
               CONV_ATTR_GROUPS },
    .n_attrs = 5,
    .build = conv_transpose_build,
    .inputs = "x, w[, b]",
    .forward = conv_transpose_forward,
    .grad = conv_transpose_grad,
    .scratch = conv_scratch,
    .formula = "y = b + the adjoint of conv2d by w applied to x: each x[n,c,i,j] adds "
               "x w[c,o,ki,kj] at y[n,o,i*sh - ph + ki*dh, j*sw - pw + kj*dw]",
    .grad_formula = "dx = conv2d(dy, w), dw = conv2d_weight_grad(dy, x), db = sum(dy, [0, 2, 3])",
};

const nbi_op nbi_op_conv2d_weight_grad = {
    .name = "conv2d_weight_grad",
    .symbol = "conv∂w",
    .arity = 2,
    .attrs = { { "kernel", NBI_ATTR_INTS, 0, true },
               CONV_ATTRS_SPD,
               CONV_ATTR_DILATION,
               CONV_ATTR_GROUPS },
    .n_attrs = 5,
    .build = weight_grad_build,
    .inputs = "x, dy",
    .forward = weight_grad_forward,
    .grad = weight_grad_grad,
    .scratch = conv_scratch,
    .formula = "y[o,c,ki,kj] = sum over n, i, j of dy[n,o,i,j] "
               "x[n,c',i*sh - ph + ki*dh, j*sw - pw + kj*dw], c' = c + (o's group) C/groups",
    .grad_formula = "dx = conv_transpose2d(dy, ddw), ddy = conv2d(x, ddw)",
};
