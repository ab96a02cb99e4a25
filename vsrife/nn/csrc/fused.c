/* Fused full-resolution stages of the v4 IFNet forward pass on the CPU (vsrife.fused).
 *
 * Between two IFBlocks the eager model upsamples every earlier block's output (flow, mask, features) to full
 * resolution, sums the flows, warps both source frames with grid_sample, downscales everything to the next
 * block's resolution and concatenates it.  Each of those steps writes a full-resolution tensor.  The two
 * functions here compute the same values row by row, reading only the block outputs and the sources:
 *
 *   vsrife_block_input: the next block's NHWC input at 1/s resolution (in the channel order below; FastV4
 *                       permutes the block's first convolution to it).  A bilinear 1/s downscale
 *                       (align_corners=False, s even) is the mean of the 2x2 full-resolution points
 *                       (s*y + s/2 - 1, s*y + s/2); for s = 1 the point itself.
 *   vsrife_final:       the interpolated frame, w1 + (w0 - w1) * sigmoid(mask), as 3 NCHW planes.
 *
 * Upsampling follows torch's upsample_bilinear2d with a scale factor (align_corners=False): the source
 * coordinate of output index q is (q + 0.5) / up - 0.5, clamped below at 0.  Warping follows grid_sample
 * (bilinear, border padding, align_corners=True): the source coordinate is q + flow, clamped to the frame.
 * Work is split by output rows [y0, y1) so that callers can run row bands on several threads.
 *
 * Speed: per row, each level is first interpolated vertically at its own width, then horizontally into a
 * row of 16-float slots (flow 0-3, mask 4, features 5-12), so every tap is one 16-wide multiply-add; the
 * sampling and accumulation loops have compile-time channel counts for the 4.25 (7-channel sources) and
 * 4.0 (3-channel) layouts.
 *
 * ISA levels: with GCC on x86-64 each exported kernel is compiled three times (x86-64-v4: AVX-512,
 * x86-64-v3: AVX2/FMA, and baseline x86-64) and dispatched at run time on the CPU's features, so one library
 * serves every x86-64 CPU (no -march flags needed, none wanted in a distributed wheel).  The dispatch is our own
 * (a switch on vsrife_isa()) rather than target_clones, which needs ELF ifuncs: the same code builds for Windows
 * (mingw-w64), and vsrife_set_isa() lets tests run the lower builds on a CPU that has the higher ones.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(VSRIFE_NOCLONES)
#define VSRIFE_DISPATCH 1
#define ON_V4 __attribute__((target("arch=x86-64-v4")))
#define ON_V3 __attribute__((target("arch=x86-64-v3")))
#else
#define VSRIFE_DISPATCH 0
#endif

#ifdef _WIN32
#include <malloc.h>
#define EXPORT __declspec(dllexport)
/* the Windows C runtime has no aligned_alloc; _aligned_malloc blocks must be freed with _aligned_free */
#define ALIGNED_ALLOC(align, size) _aligned_malloc((size), (align))
#define ALIGNED_FREE(p) _aligned_free(p)
#else
#define EXPORT __attribute__((visibility("default")))
#define ALIGNED_ALLOC(align, size) aligned_alloc((align), (size))
#define ALIGNED_FREE(p) free(p)
#endif
#define INLINE static inline __attribute__((always_inline))
#define SLOT 16 /* floats per full-resolution point in the flow row: 4 flow, 1 mask, up to 11 features */

typedef float v16 __attribute__((vector_size(SLOT * sizeof(float)))); /* one point's slot, 64-byte aligned */
typedef float v16u __attribute__((vector_size(SLOT * sizeof(float)), aligned(4)));
typedef int vi16 __attribute__((vector_size(SLOT * sizeof(int))));
typedef unsigned int vu16 __attribute__((vector_size(SLOT * sizeof(int))));
typedef unsigned short vh16 __attribute__((vector_size(SLOT * sizeof(short))));
typedef unsigned short vh16u __attribute__((vector_size(SLOT * sizeof(short)), aligned(2)));
typedef unsigned int vu8 __attribute__((vector_size(8 * sizeof(int))));
typedef unsigned short vh8u __attribute__((vector_size(8 * sizeof(short)), aligned(2)));

/* float -> bfloat16 bits, rounding to nearest even (as torch's conversion does for finite values). */
#define TO_BF16(v, vu, vh) __builtin_convertvector((((vu)(v)) + 0x7fffu + ((((vu)(v)) >> 16) & 1u)) >> 16, vh)

typedef struct {
    const void *data; /* NHWC [h][w][c], float32 or bfloat16 */
    int h, w, c;      /* c: channels of the tensor */
    int up;           /* integer upsampling factor to full resolution */
    int bf16;         /* data holds bfloat16 */
    int shuf;         /* data is [h/2][w/2][4c], the layout before PixelShuffle(2): (y, x, j) at j*4 + (y%2)*2 + x%2 */
    int flip;         /* an output of the reversed pass (ensemble): its flow pairs swapped and its mask negated */
    int mask;         /* its mask logit counts even when masks do not accumulate (a pass's latest output) */
} Level;

/* Source index pair and weight of output index q for an upsample by `up` of n samples. */
static void up_tap(int q, int up, int n, int *i0, int *i1, float *l1) {
    float src = ((float)q + 0.5f) * (1.0f / (float)up) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int a = (int)src;
    *i0 = a;
    *i1 = a < n - 1 ? a + 1 : a;
    float l = src - (float)a;
    *l1 = l < 0.0f ? 0.0f : (l > 1.0f ? 1.0f : l);
}

typedef struct {
    int nlev, acc, nfeat, nq;
    const Level *lev;
    const int *cols; /* the nq full-resolution columns that are evaluated */
    float *row;      /* [max level width][SLOT]: one level's vertically interpolated row */
    float *v;        /* [nq][SLOT]: flow, mask, features at the evaluated points of the current row */
    int *c0, *c1;    /* [nlev][nq] horizontal taps */
    float *cw;
} Flow;

static void flow_free(Flow *F) {
    ALIGNED_FREE(F->row);
    ALIGNED_FREE(F->v);
    free(F->c0);
    free(F->c1);
    free(F->cw);
}

static int flow_init(Flow *F, int nlev, const Level *lev, int acc, int nfeat, const int *cols, int nq) {
    memset(F, 0, sizeof(*F));
    F->nlev = nlev;
    F->lev = lev;
    F->acc = acc;
    F->nfeat = nfeat;
    F->cols = cols;
    F->nq = nq;
    int maxw = 1;
    for (int k = 0; k < nlev; k++) maxw = lev[k].w > maxw ? lev[k].w : maxw;
    F->row = ALIGNED_ALLOC(64, sizeof(float) * SLOT * (size_t)maxw);
    F->v = ALIGNED_ALLOC(64, sizeof(float) * SLOT * (size_t)nq);
    F->c0 = malloc(sizeof(int) * (size_t)nlev * nq);
    F->c1 = malloc(sizeof(int) * (size_t)nlev * nq);
    F->cw = malloc(sizeof(float) * (size_t)nlev * nq);
    if (!F->row || !F->v || !F->c0 || !F->c1 || !F->cw) return -1;
    for (int k = 0; k < nlev; k++)
        for (int i = 0; i < nq; i++)
            up_tap(cols[i], lev[k].up, lev[k].w, &F->c0[k * nq + i], &F->c1[k * nq + i], &F->cw[k * nq + i]);
    return 0;
}

/* bfloat16 -> float: the upper 16 bits of a float32. */
INLINE float bf16_float(unsigned short h) {
    unsigned int u = (unsigned int)h << 16;
    float f;
    __builtin_memcpy(&f, &u, sizeof f);
    return f;
}

/* 16 channels of a level pixel starting at element i (the caller checks the bounds). */
INLINE v16 load_level(const Level *L, size_t i, const int bf) {
    if (bf) { /* two 8-lane widenings: one instruction each with AVX2 (a 16-lane one is split badly) */
        const unsigned short *p = (const unsigned short *)L->data + i;
        vu8 lo = __builtin_convertvector(*(const vh8u *)p, vu8) << 16;
        vu8 hi = __builtin_convertvector(*(const vh8u *)(p + 8), vu8) << 16;
        v16 r;
        __builtin_memcpy(&r, &lo, sizeof lo);
        __builtin_memcpy((char *)&r + sizeof lo, &hi, sizeof hi);
        return r;
    }
    return *(const v16u *)((const float *)L->data + i);
}

INLINE float level_at(const Level *L, size_t i, const int bf) {
    return bf ? bf16_float(((const unsigned short *)L->data)[i]) : ((const float *)L->data)[i];
}

/* Vertical pass of level k at full-resolution row qy into F->row: channels [0, nc) in 16-float slots, the
 * other slots 0.  Whole slots are loaded (the channels of the next pixel are masked off) except where a
 * 16-element load would pass the end of the tensor. */
INLINE void level_row_as(Flow *F, const Level *L, int qy, int nc, const int bf, const int shuf) {
    int r0, r1;
    float b;
    up_tap(qy, L->up, L->h, &r0, &r1, &b);
    float a = 1.0f - b;
    v16 *o = (v16 *)F->row;
    if (shuf) {
        size_t c4 = (size_t)L->c * 4, w2 = (size_t)L->w / 2, end = (size_t)L->h / 2 * w2 * c4;
        size_t p0 = (size_t)(r0 >> 1) * w2 * c4, p1 = (size_t)(r1 >> 1) * w2 * c4;
        int d0 = (r0 & 1) * 2, d1 = (r1 & 1) * 2;
        vi16 keep, m0[2], m1[2]; /* lane j of column parity dx: element 4j + 2*(row parity) + dx */
        for (int j = 0; j < SLOT; j++) {
            keep[j] = j < nc ? -1 : 0;
            for (int dx = 0; dx < 2; dx++) {
                m0[dx][j] = j < nc ? 4 * j + d0 + dx : 0;
                m1[dx][j] = j < nc ? 4 * j + d1 + dx : 0;
            }
        }
        for (int X = 0; X < (int)w2; X++) {
            size_t u = p0 + (size_t)X * c4, d = p1 + (size_t)X * c4;
            if (c4 <= 2 * SLOT && u + 2 * SLOT <= end && d + 2 * SLOT <= end) {
                v16 ulo = load_level(L, u, bf), uhi = load_level(L, u + SLOT, bf);
                v16 dlo = load_level(L, d, bf), dhi = load_level(L, d + SLOT, bf);
                for (int dx = 0; dx < 2; dx++) {
                    v16 v = __builtin_shuffle(ulo, uhi, m0[dx]) * a + __builtin_shuffle(dlo, dhi, m1[dx]) * b;
                    o[2 * X + dx] = (v16)((vi16)v & keep);
                }
            } else {
                for (int dx = 0; dx < 2; dx++) {
                    v16 v = {0};
                    for (int j = 0; j < nc; j++)
                        v[j] = level_at(L, u + 4 * j + d0 + dx, bf) * a + level_at(L, d + 4 * j + d1 + dx, bf) * b;
                    o[2 * X + dx] = v;
                }
            }
        }
        return;
    }
    size_t p0 = (size_t)r0 * L->w * L->c, p1 = (size_t)r1 * L->w * L->c, end = (size_t)L->h * L->w * L->c;
    vi16 keep;
    for (int j = 0; j < SLOT; j++) keep[j] = j < nc ? -1 : 0;
    for (int x = 0; x < L->w; x++) {
        size_t u = p0 + (size_t)x * L->c, d = p1 + (size_t)x * L->c;
        if (u + SLOT <= end && d + SLOT <= end) {
            v16 v = load_level(L, u, bf) * a + load_level(L, d, bf) * b;
            o[x] = (v16)((vi16)v & keep);
        } else {
            v16 v = {0};
            for (int j = 0; j < nc; j++) v[j] = level_at(L, u + j, bf) * a + level_at(L, d + j, bf) * b;
            o[x] = v;
        }
    }
}

/* level_row with the storage type and layout as constants, so each loop is compiled for one case. */
INLINE void level_row(Flow *F, int k, int qy, int nc) {
    const Level *L = &F->lev[k];
    if (L->bf16)
        L->shuf ? level_row_as(F, L, qy, nc, 1, 1) : level_row_as(F, L, qy, nc, 1, 0);
    else
        L->shuf ? level_row_as(F, L, qy, nc, 0, 1) : level_row_as(F, L, qy, nc, 0, 0);
    if (L->flip) /* the reversed pass: F_t->1 of it is F_t->0 of the forward pass and its mask logit the negative */
        for (int x = 0; x < L->w; x++) {
            float *o = F->row + (size_t)x * SLOT, f0 = o[0], f1 = o[1];
            o[0] = o[2];
            o[1] = o[3];
            o[2] = f0;
            o[3] = f1;
            o[4] = -o[4];
        }
}

/* Horizontal pass of F->row into F->v: add (first = 0) or set (first = 1) all 16 slots. */
INLINE void level_cols(Flow *F, int k, int first) {
    const int *c0 = F->c0 + (size_t)k * F->nq, *c1 = F->c1 + (size_t)k * F->nq;
    const float *cw = F->cw + (size_t)k * F->nq;
    const v16 *row = (const v16 *)F->row;
    v16 *v = (v16 *)F->v;
    if (first)
        for (int i = 0; i < F->nq; i++) v[i] = row[c0[i]] * (1.0f - cw[i]) + row[c1[i]] * cw[i];
    else
        for (int i = 0; i < F->nq; i++) v[i] += row[c0[i]] * (1.0f - cw[i]) + row[c1[i]] * cw[i];
}

/* Flow, mask and features of full-resolution row qy at the evaluated columns, into F->v. */
INLINE void flow_row(Flow *F, int qy) {
    int last = F->nlev - 1;
    /* the latest level first (it sets every slot: its mask and features are always used) */
    level_row(F, last, qy, 5 + F->nfeat);
    level_cols(F, last, 1);
    for (int k = 0; k < last; k++) {
        level_row(F, k, qy, F->acc || F->lev[k].mask ? 5 : 4); /* else the mask is the latest level's */
        level_cols(F, k, 0);
    }
}

/* 1 / (1 + exp(-x)) with exp from 2^n * p(r) (Cody-Waite reduction, degree-6 polynomial; relative error of
 * exp below 2e-7): branch-free, so the loop over a row vectorises. */
INLINE float sigmoid(float x) {
    float z = -x;
    z = z > 88.0f ? 88.0f : (z < -88.0f ? -88.0f : z);
    float n = __builtin_floorf(z * 1.44269504f + 0.5f);
    float r = z - n * 0.693145752f - n * 1.42860677e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416665226f + r * (0.00833336264f +
                      r * 0.00139449223f)))));
    int e = ((int)n + 127) << 23;
    float two_n;
    __builtin_memcpy(&two_n, &e, sizeof two_n);
    return 1.0f / (1.0f + p * two_n);
}

typedef float v8 __attribute__((vector_size(8 * sizeof(float))));
typedef float v8u __attribute__((vector_size(8 * sizeof(float)), aligned(4))); /* unaligned loads/stores */

/* Bilinear sample of an NHWC source (C <= 8 channels) at (sx, sy), border-clamped; lanes >= C are junk.
 * `n` is the source's length in floats: taps whose 8-float load would pass its end are read one by one. */
INLINE v8 sample(const float *restrict src, int h, int w, int C, size_t n, float sx, float sy) {
    /* written so that NaN lands on 0: an index computed from NaN would read outside the frame */
    sx = sx >= 0.0f ? (sx <= (float)(w - 1) ? sx : (float)(w - 1)) : 0.0f;
    sy = sy >= 0.0f ? (sy <= (float)(h - 1) ? sy : (float)(h - 1)) : 0.0f;
    int x0 = (int)sx, y0 = (int)sy;
    float tx = sx - (float)x0, ty = sy - (float)y0;
    size_t dx = x0 < w - 1 ? (size_t)C : 0, dy = y0 < h - 1 ? (size_t)w * C : 0;
    size_t i = ((size_t)y0 * w + x0) * C;
    float wa = (1.0f - tx) * (1.0f - ty), wb = tx * (1.0f - ty), wd = (1.0f - tx) * ty, we = tx * ty;
    if (i + dy + dx + 8 <= n)
        return *(const v8u *)(src + i) * wa + *(const v8u *)(src + i + dx) * wb + *(const v8u *)(src + i + dy) * wd +
               *(const v8u *)(src + i + dy + dx) * we;
    v8 r = {0};
    for (int k = 0; k < C; k++)
        r[k] = src[i + k] * wa + src[i + dx + k] * wb + src[i + dy + k] * wd + src[i + dy + dx + k] * we;
    return r;
}

/* The block input body for C source channels and NF feature channels (constants after inlining). */
INLINE int block_input_body(const float *x0, const float *x1, int H, int W, const int C, const int NF, int nlev,
                            const Level *lev, int acc, int s, float t, void *out, int out_bf16, int y0, int y1) {
    const int cin = 2 * C + 2 + NF + 4;
    int w = W / s, nsub = s == 1 ? 1 : 2, off = s == 1 ? 0 : s / 2 - 1, nq = w * nsub;
    size_t n = (size_t)H * W * C;
    int *cols = malloc(sizeof(int) * (size_t)nq);
    size_t w8 = (sizeof(v8) * (size_t)w + 63) / 64 * 64; /* aligned_alloc sizes are multiples of the alignment */
    v8 *A = ALIGNED_ALLOC(64, w8), *B = ALIGNED_ALLOC(64, w8);
    v16 *V = ALIGNED_ALLOC(64, sizeof(v16) * (size_t)w);
    Flow F;
    int rc = -1;
    if (!cols || !A || !B || !V) goto done;
    for (int i = 0; i < nq; i++) cols[i] = s * (i / nsub) + off + i % nsub;
    if (flow_init(&F, nlev, lev, acc, NF, cols, nq) != 0) {
        flow_free(&F);
        goto done;
    }
    float norm = 1.0f / (float)(nsub * nsub), fs = norm / (float)s;
    v16 vscale; /* flow: mean / s; mask and features: mean */
    for (int j = 0; j < SLOT; j++) vscale[j] = j < 4 ? fs : norm;
    for (int y = y0; y < y1; y++) {
        for (int sy = 0; sy < nsub; sy++) {
            int qy = s * y + off + sy;
            flow_row(&F, qy);
            const v16 *fv = (const v16 *)F.v;
            for (int i = 0; i < nq; i++) {
                v16 v = fv[i];
                float qx = (float)cols[i];
                v8 a = sample(x0, H, W, C, n, qx + v[0], (float)qy + v[1]);
                v8 b = sample(x1, H, W, C, n, qx + v[2], (float)qy + v[3]);
                int x = nsub == 1 ? i : i >> 1;
                if (sy == 0 && (nsub == 1 || (i & 1) == 0)) {
                    A[x] = a;
                    B[x] = b;
                    V[x] = v;
                } else {
                    A[x] += a;
                    B[x] += b;
                    V[x] += v;
                }
            }
        }
        /* channels: w0 (C), w1 (C), flow / s (4), mask, features (NF), t; whole vectors are stored and the
         * next store overwrites the junk lanes; the last pixel of a row is stored lane by lane (no spill
         * into the next row, which another thread may be writing) */
        for (int x = 0; x < w; x++) {
            size_t r = ((size_t)y * w + x) * cin;
            v8 a = A[x] * norm, b = B[x] * norm;
            v16 v = V[x] * vscale;
            v[4 + 1 + NF] = t; /* the lane after the features holds t */
            if (out_bf16) {
                unsigned short *o = (unsigned short *)out + r;
                vh8u ha = TO_BF16(a, vu8, vh8u), hb = TO_BF16(b, vu8, vh8u);
                vh16u hv = TO_BF16(v, vu16, vh16u);
                if (x < w - 1) {
                    *(vh8u *)o = ha;
                    *(vh8u *)(o + C) = hb;
                    *(vh16u *)(o + 2 * C) = hv;
                } else {
                    for (int j = 0; j < C; j++) o[j] = ha[j];
                    for (int j = 0; j < C; j++) o[C + j] = hb[j];
                    for (int j = 0; j < 6 + NF; j++) o[2 * C + j] = hv[j];
                }
            } else {
                float *o = (float *)out + r;
                if (x < w - 1) {
                    *(v8u *)o = a;
                    *(v8u *)(o + C) = b;
                    *(v16u *)(o + 2 * C) = v;
                } else {
                    for (int j = 0; j < C; j++) o[j] = a[j];
                    for (int j = 0; j < C; j++) o[C + j] = b[j];
                    for (int j = 0; j < 6 + NF; j++) o[2 * C + j] = v[j];
                }
            }
        }
    }
    flow_free(&F);
    rc = 0;
done:
    free(cols);
    ALIGNED_FREE(A);
    ALIGNED_FREE(B);
    ALIGNED_FREE(V);
    return rc;
}

/* Which build of the kernels this CPU runs: 4 (x86-64-v4: AVX-512), 3 (x86-64-v3: AVX2/FMA) or 0 (baseline).
 * vsrife.fused asks it to choose layouts: the 16-lane two-source permutes that read pre-shuffle block outputs
 * are single instructions only with AVX-512. */
static int cpu_isa(void) {
#if VSRIFE_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return 4;
    if (__builtin_cpu_supports("x86-64-v3")) return 3;
    return 0;
#elif defined(__AVX512F__)
    return 4;
#elif defined(__AVX2__)
    return 3;
#else
    return 0;
#endif
}

static int chosen_isa = -1; /* the build the kernels dispatch to; -1 until the first call */

EXPORT int vsrife_isa(void) {
    int level = __atomic_load_n(&chosen_isa, __ATOMIC_RELAXED);
    if (level < 0) {
        level = cpu_isa();
        __atomic_store_n(&chosen_isa, level, __ATOMIC_RELAXED);
    }
    return level;
}

/* Run the build for `level` (0, 3 or 4; -1: this CPU's best) from now on, e.g. to test the lower builds.
 * Returns the level in effect, or -1 (nothing changed) when this CPU or this library cannot run `level`. */
EXPORT int vsrife_set_isa(int level) {
    int best = cpu_isa();
    if (level == -1) level = best;
    if (level != 0 && level != 3 && level != 4) return -1;
    if (level > best || (!VSRIFE_DISPATCH && level != best)) return -1;
    __atomic_store_n(&chosen_isa, level, __ATOMIC_RELAXED);
    return level;
}

/* The next block's input rows [y0, y1) at 1/s of the full size (H, W); out is NHWC [h][w][cin], cin = 2C+6+nfeat,
 * float32 or (out_bf16) bfloat16.
 * Channel order: w0 (C: the source's channels), w1 (C), flow / s (4), mask, features (nfeat), t; FastV4
 * permutes the first convolution's input channels to match.  Returns 0, -1 when out of memory, -2 for
 * unsupported sizes. */
INLINE int block_input_any(const float *x0, const float *x1, int H, int W, int C, int nlev, const Level *lev,
                           int acc, int nfeat, int s, float t, void *out, int out_bf16, int y0, int y1) {
    if (C < 3 || C > 8 || nfeat > SLOT - 6 || nlev < 1) return -2;
    for (int k = 0; k < nlev; k++)
        if (lev[k].c < (k == nlev - 1 ? 5 + nfeat : 5)) return -2;
    if (C == 7 && nfeat == 8)
        return block_input_body(x0, x1, H, W, 7, 8, nlev, lev, acc, s, t, out, out_bf16, y0, y1);
    if (C == 3 && nfeat == 0)
        return block_input_body(x0, x1, H, W, 3, 0, nlev, lev, acc, s, t, out, out_bf16, y0, y1);
    return block_input_body(x0, x1, H, W, C, nfeat, nlev, lev, acc, s, t, out, out_bf16, y0, y1);
}

INLINE int final_body(const float *x0, const float *x1, int H, int W, const int C, int nlev, const Level *lev,
                      int acc, float gain, float *out, int y0, int y1) {
    int *cols = malloc(sizeof(int) * (size_t)W);
    float *m = malloc(sizeof(float) * (size_t)W);
    Flow F;
    if (!cols || !m) {
        free(cols);
        free(m);
        return -1;
    }
    for (int i = 0; i < W; i++) cols[i] = i;
    if (flow_init(&F, nlev, lev, acc, 0, cols, W) != 0) {
        flow_free(&F);
        free(cols);
        free(m);
        return -1;
    }
    size_t plane = (size_t)H * W, n = plane * C;
    for (int qy = y0; qy < y1; qy++) {
        flow_row(&F, qy);
        float *o = out + (size_t)qy * W;
        if (gain != 1.0f)
            for (size_t i = 0; i < (size_t)W * SLOT; i++) F.v[i] *= gain;
        for (int qx = 0; qx < W; qx++) m[qx] = sigmoid(F.v[(size_t)qx * SLOT + 4]);
        for (int qx = 0; qx < W; qx++) {
            const float *v = F.v + (size_t)qx * SLOT;
            v8 a = sample(x0, H, W, C, n, (float)qx + v[0], (float)qy + v[1]);
            v8 b = sample(x1, H, W, C, n, (float)qx + v[2], (float)qy + v[3]);
            for (int j = 0; j < 3; j++) o[j * plane + qx] = b[j] + (a[j] - b[j]) * m[qx];
        }
    }
    flow_free(&F);
    free(cols);
    free(m);
    return 0;
}

/* The interpolated frame rows [y0, y1): out is NCHW [3][H][W]; sources have C >= 3 channels (RGB first).
 * Flow and mask are the sum over the levels times `gain` (0.5 averages a forward and a reversed pass). */
INLINE int final_any(const float *x0, const float *x1, int H, int W, int C, int nlev, const Level *lev, int acc,
                     float gain, float *out, int y0, int y1) {
    if (C < 3 || C > 8 || nlev < 1) return -2;
    for (int k = 0; k < nlev; k++)
        if (lev[k].c < 5) return -2;
    if (C == 7) return final_body(x0, x1, H, W, 7, nlev, lev, acc, gain, out, y0, y1);
    if (C == 3) return final_body(x0, x1, H, W, 3, nlev, lev, acc, gain, out, y0, y1);
    return final_body(x0, x1, H, W, C, nlev, lev, acc, gain, out, y0, y1);
}

/* One copy of each kernel per ISA level (the bodies above are inlined into each), and the exported entry points
 * that pick one by vsrife_isa(). */
#define BI_PARAMS                                                                                             \
    (const float *x0, const float *x1, int H, int W, int C, int nlev, const Level *lev, int acc, int nfeat,   \
     int s, float t, void *out, int out_bf16, int y0, int y1)
#define BI_ARGS (x0, x1, H, W, C, nlev, lev, acc, nfeat, s, t, out, out_bf16, y0, y1)
#define FI_PARAMS                                                                                             \
    (const float *x0, const float *x1, int H, int W, int C, int nlev, const Level *lev, int acc, float gain,  \
     float *out, int y0, int y1)
#define FI_ARGS (x0, x1, H, W, C, nlev, lev, acc, gain, out, y0, y1)

#if VSRIFE_DISPATCH
ON_V4 static int block_input_v4 BI_PARAMS { return block_input_any BI_ARGS; }
ON_V3 static int block_input_v3 BI_PARAMS { return block_input_any BI_ARGS; }
ON_V4 static int final_v4 FI_PARAMS { return final_any FI_ARGS; }
ON_V3 static int final_v3 FI_PARAMS { return final_any FI_ARGS; }
#endif

EXPORT int vsrife_block_input BI_PARAMS {
#if VSRIFE_DISPATCH
    switch (vsrife_isa()) {
    case 4: return block_input_v4 BI_ARGS;
    case 3: return block_input_v3 BI_ARGS;
    }
#endif
    return block_input_any BI_ARGS;
}

EXPORT int vsrife_final FI_PARAMS {
#if VSRIFE_DISPATCH
    switch (vsrife_isa()) {
    case 4: return final_v4 FI_ARGS;
    case 3: return final_v3 FI_ARGS;
    }
#endif
    return final_any FI_ARGS;
}
