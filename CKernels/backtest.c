// The coverage backtest's per-scenario passes (docs/model.md §13), one unit or one account at a
// time over its S scenario losses: the breach sequence (count and Christoffersen transitions), the
// first worst loss, the finiteness check, the account's running loss, the per-scenario breach
// counts and the exact per-scenario sums in quanta of 2^-32 USD; and the whole pass over a block
// of accounts, scenario tile by scenario tile.
//
// Every path computes each scenario's values with the same IEEE operations in the same order as
// the plain per-scenario loop (an add, a multiply, a compare per element: vector lanes are
// independent; the gather sums a scenario's entries in entry order), so all paths, and any tile
// width, give the same bits. Counts and integer sums are exact, hence do not depend on how the
// scenarios are split into vectors or tiles.
#include "CKernels.h"

#pragma clang fp contract(off)
#include "kernels_internal.h"

#include <math.h>
#include <string.h>

// Quanta per USD (2^32) and the bound below which a quantity in quanta is summed in 64 bits.
#define PM_QUANTA 4294967296.0
#define PM_FAST_LIMIT 2251799813685248.0   // 2^51
// Accounts added into a 64-bit sum before it is moved into the 128-bit one: 4095 · 2^51 < 2^63.
#define PM_FAST_ACCOUNTS 4095
// Scenarios per tile of the block pass: the gather's 40-wide register tile. A tile of every
// instrument row (40 · 8 bytes each) stays in a core's L2 cache while the block's accounts
// are run through it.
#define PM_TILE PM_BACKTEST_TILE

// ---- The breach sequence, a tile (≤ 64 scenarios) at a time -----------------------------------
//
// While a sequence is fed, the stats hold: breaches, n11 (so far), n00 = the first scenario's
// breach bit, n10 = the last one fed. pm_bt_finish turns them into the counts, from
// n01 + n11 = B − b[0] (breaches on days 1…S−1), n10 + n11 = B − b[S−1] (breaches on days
// 0…S−2) and n00 + n01 + n10 + n11 = S − 1.

static void bt_start(pm_backtest_stats *st) {
    memset(st, 0, sizeof *st);
    st->worst = -INFINITY;
    st->finite = 1;
}

// Feeds the breach bits `w` of scenarios t0 … t0 + n − 1 (bit k: scenario t0 + k; no bit at or
// above n), and the tile's first maximum (worst at index `at`).
static inline void bt_feed(pm_backtest_stats *st, size_t t0, size_t n, uint64_t w, double worst, int64_t at) {
    uint64_t prev = t0 == 0 ? 0 : (uint64_t)st->n10;   // no transition into scenario 0
    if (t0 == 0) st->n00 = (int64_t)(w & 1);
    st->n11 += __builtin_popcountll(w & ((w << 1) | prev));
    st->breaches += __builtin_popcountll(w);
    if (n) st->n10 = (int64_t)((w >> (n - 1)) & 1);
    if (worst > st->worst) { st->worst = worst; st->worstAt = at; }   // strict: an earlier tile wins a tie
}

static void bt_finish(pm_backtest_stats *st, size_t nS) {
    if (nS == 0) { st->n00 = st->n10 = st->n11 = 0; return; }
    int64_t b = st->breaches, first = st->n00, last = st->n10, n11 = st->n11;
    st->n01 = b - first - n11;
    st->n10 = b - last - n11;
    st->n00 = (int64_t)nS - 1 - st->n01 - st->n10 - n11;
}

// The integer value of `r`, an integral double with |r| < 2^127 (the callers' bound: |r| ≤ 2^96,
// a loss of at most 2^64 USD in quanta); beyond that (unreachable) it saturates instead of
// shifting out of range.
static __int128 integral_to_i128(double r) {
    if (r == 0 || r != r) return 0;
    uint64_t bits;
    memcpy(&bits, &r, sizeof bits);
    int e = (int)((bits >> 52) & 0x7FF) - 1075;   // |r| = mantissa · 2^e, e ≥ −52 as |r| ≥ 1
    uint64_t mantissa = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    unsigned __int128 v;
    if (e > 74) v = ((unsigned __int128)1 << 126);
    else if (e >= 0) v = (unsigned __int128)mantissa << e;
    else v = mantissa >> -e;
    return (bits >> 63) ? -(__int128)v : (__int128)v;
}

// `y` rounded to the nearest integer, ties to even, with no reliance on the rounding mode:
// round() rounds ties away from zero; a tie that landed on an odd integer steps back by one.
static double round_even(double y) {
    if (!(fabs(y) < 4503599627370496.0)) return y;   // 2^52: already integral (or not finite)
    double r = round(y);
    double d = r - y;                                  // exact: |d| ≤ 0.5
    if (fabs(d) == 0.5 && ((int64_t)r & 1)) r -= 2 * d;   // |r| ≤ 2^52: exact in an int64
    return r;
}

// wide[q] (two 64-bit words, low first: a little-endian 128-bit two's complement integer) += v.
static inline void add_wide(uint64_t *wide, size_t q, __int128 v) {
    unsigned __int128 cur = ((unsigned __int128)wide[2 * q + 1] << 64) | wide[2 * q];
    cur += (unsigned __int128)v;
    wide[2 * q] = (uint64_t)cur;
    wide[2 * q + 1] = (uint64_t)(cur >> 64);
}

// Adds `x` USD in quanta (x · 2^32 rounded to nearest, ties to even) to scenario q: into the 64-bit
// fast[q] when |x · 2^32| < 2^51 (then |term| ≤ 2^51), else into the 128-bit wide[q].
static inline void add_quanta(int64_t *fast, uint64_t *wide, size_t q, double x) {
    double y = x * PM_QUANTA;
    double r = round_even(y);
    if (fabs(y) < PM_FAST_LIMIT) fast[q] += (int64_t)r;
    else add_wide(wide, q, integral_to_i128(r));
}

// Moves fast[0 ..< n] into wide[0 ..< n] and clears it.
static void flush_fast(int64_t *fast, uint64_t *wide, size_t n) {
    for (size_t q = 0; q < n; q++) {
        if (fast[q]) add_wide(wide, q, (__int128)fast[q]);
        fast[q] = 0;
    }
}

// ---- Tiles: scalar ----------------------------------------------------------------------------
// A tile is n ≤ 64 scenarios starting at t0; pointers are to the tile's first scenario.

static void gather_tile_scalar(double *out, size_t n, const double *table, size_t stride, const int32_t *row,
                               const int32_t *instr, const double *size, size_t count) {
    for (size_t k = 0; k < n; k++) out[k] = 0;
    for (size_t e = 0; e < count; e++) {
        const double q = size[e];
        const double *r = table + (size_t)row[instr[e]] * stride;
        for (size_t k = 0; k < n; k++) out[k] += q * r[k];
    }
}

static void unit_tile_scalar(size_t t0, size_t n, const double *pnl, const double *move, double hedge, double mm,
                             double *accountLoss, pm_backtest_stats *st) {
    uint64_t w = 0;
    double worst = -INFINITY;
    int64_t at = 0;
    for (size_t k = 0; k < n; k++) {
        double u = pnl[k];
        if (hedge != 0) {
            double v = hedge * move[k];
            if (hedge < 0) v = v >= 0 ? v : 0;   // Swift's max(0, v): v when v ≥ 0, else (also NaN) 0
            u += v;
        }
        double loss = -u;
        if (loss > mm) w |= 1ULL << k;
        if (loss > worst) { worst = loss; at = (int64_t)(t0 + k); }
        if (loss - loss != 0) st->finite = 0;   // NaN or ±inf
        accountLoss[k] += loss;
    }
    bt_feed(st, t0, n, w, worst, at);
}

static int in_range_scalar(size_t n, const double *loss, double maxLoss) {
    for (size_t k = 0; k < n; k++)
        if (!(fabs(loss[k]) <= maxLoss)) return 0;
    return 1;
}

// The account tile, its losses already checked in range.
static void account_tile_scalar(size_t t0, size_t n, const double *loss, double totalMM, double totalIM,
                                int64_t *breachedMM, int64_t *breachedIM, int64_t *fastLoss, uint64_t *wideLoss,
                                int64_t *fastShortfall, uint64_t *wideShortfall, pm_backtest_stats *st) {
    uint64_t w = 0;
    double worst = -INFINITY;
    int64_t at = 0;
    for (size_t k = 0; k < n; k++) {
        double x = loss[k];
        if (x > totalMM) {
            w |= 1ULL << k;
            breachedMM[k] += 1;
            add_quanta(fastShortfall, wideShortfall, k, x - totalMM);
        }
        if (x > totalIM) { st->breachesIM++; breachedIM[k] += 1; }
        if (x > worst) { worst = x; at = (int64_t)(t0 + k); }
        add_quanta(fastLoss, wideLoss, k, x);
    }
    bt_feed(st, t0, n, w, worst, at);
}

// ---- Tiles: AVX2 ------------------------------------------------------------------------------

#if PM_HAVE_X86_KERNELS
#include <immintrin.h>

// The largest of 4 lanes that never hold NaN (the running _mm256_max_pd(x, m) below keeps m
// when x is NaN, returning its second operand).
__attribute__((target("avx2")))
static double lanes_max(__m256d m) {
    double v[4];
    _mm256_storeu_pd(v, m);
    double best = v[0];
    for (int k = 1; k < 4; k++)
        if (v[k] > best) best = v[k];
    return best;
}

// The tile's first maximum as the scalar loop takes it (strict >, from the sequence's worst so
// far), found again over the tile's losses only when the tile's largest loss `m` beats that worst:
// after the first tiles, rarely. Otherwise (−inf, t0), which bt_feed ignores.
static inline void first_worst(const pm_backtest_stats *st, size_t t0, size_t n, const double *loss, double m,
                               double *worst, int64_t *at) {
    *worst = -INFINITY;
    *at = (int64_t)t0;
    if (!(m > st->worst)) return;
    double w = st->worst;
    for (size_t k = 0; k < n; k++)
        if (loss[k] > w) { w = loss[k]; *at = (int64_t)(t0 + k); }
    *worst = w;
}

// The gather of gather.c's AVX2 path for one tile of n ≤ 40 scenarios (row stride `stride`).
__attribute__((target("avx2")))
static void gather_tile_avx2(double *out, size_t n, const double *table, size_t stride, const int32_t *row,
                             const int32_t *instr, const double *size, size_t count) {
    __m256d a[10];
    for (int k = 0; k < 10; k++) a[k] = _mm256_setzero_pd();
    if (n == 40) {
        for (size_t e = 0; e < count; e++) {
            const __m256d q = _mm256_set1_pd(size[e]);
            const double *r = table + (size_t)row[instr[e]] * stride;
            for (int k = 0; k < 10; k++) a[k] = _mm256_add_pd(a[k], _mm256_mul_pd(q, _mm256_loadu_pd(r + 4 * k)));
        }
        for (int k = 0; k < 10; k++) _mm256_storeu_pd(out + 4 * k, a[k]);
        return;
    }
    __m256i m[10];
    for (int k = 0; k < 10; k++) {
        long long lane[4];
        for (int j = 0; j < 4; j++) lane[j] = (size_t)(4 * k + j) < n ? -1 : 0;
        m[k] = _mm256_setr_epi64x(lane[0], lane[1], lane[2], lane[3]);
    }
    for (size_t e = 0; e < count; e++) {
        const __m256d q = _mm256_set1_pd(size[e]);
        const double *r = table + (size_t)row[instr[e]] * stride;
        for (int k = 0; k < 10; k++) a[k] = _mm256_add_pd(a[k], _mm256_mul_pd(q, _mm256_maskload_pd(r + 4 * k, m[k])));
    }
    for (int k = 0; k < 10; k++) _mm256_maskstore_pd(out + 4 * k, m[k], a[k]);
}

__attribute__((target("avx2")))
static void unit_tile_avx2(size_t t0, size_t n, const double *pnl, const double *move, double hedge, double mm,
                           double *accountLoss, pm_backtest_stats *st) {
    const __m256d sign = _mm256_set1_pd(-0.0), zero = _mm256_setzero_pd();
    const __m256d vm = _mm256_set1_pd(mm), vh = _mm256_set1_pd(hedge);
    __m256d wv = _mm256_set1_pd(-INFINITY), bad = zero;
    const int leg = hedge != 0, liability = hedge < 0;
    double loss[64];   // the tile's losses, for first_worst
    uint64_t w = 0;
    size_t k = 0;
    for (; k + 4 <= n; k += 4) {
        __m256d u = _mm256_loadu_pd(pnl + k);
        if (leg) {
            __m256d v = _mm256_mul_pd(vh, _mm256_loadu_pd(move + k));
            if (liability) v = _mm256_and_pd(v, _mm256_cmp_pd(v, zero, _CMP_GE_OQ));   // v ≥ 0 ? v : +0
            u = _mm256_add_pd(u, v);
        }
        __m256d x = _mm256_xor_pd(u, sign);
        w |= (uint64_t)_mm256_movemask_pd(_mm256_cmp_pd(x, vm, _CMP_GT_OQ)) << k;
        wv = _mm256_max_pd(x, wv);
        _mm256_storeu_pd(loss + k, x);
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(_mm256_sub_pd(x, x), zero, _CMP_NEQ_UQ));
        _mm256_storeu_pd(accountLoss + k, _mm256_add_pd(_mm256_loadu_pd(accountLoss + k), x));
    }
    double m = lanes_max(wv);
    if (_mm256_movemask_pd(bad)) st->finite = 0;
    for (; k < n; k++) {
        double u = pnl[k];
        if (leg) {
            double v = hedge * move[k];
            if (liability) v = v >= 0 ? v : 0;
            u += v;
        }
        double x = -u;
        if (x > mm) w |= 1ULL << k;
        if (x > m) m = x;
        loss[k] = x;
        if (x - x != 0) st->finite = 0;
        accountLoss[k] += x;
    }
    double worst;
    int64_t at;
    first_worst(st, t0, n, loss, m, &worst, &at);
    bt_feed(st, t0, n, w, worst, at);
}

__attribute__((target("avx2")))
static int in_range_avx2(size_t n, const double *loss, double maxLoss) {
    const __m256d sign = _mm256_set1_pd(-0.0), vmax = _mm256_set1_pd(maxLoss);
    __m256d bad = _mm256_setzero_pd();
    size_t k = 0;
    for (; k + 4 <= n; k += 4)
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(_mm256_andnot_pd(sign, _mm256_loadu_pd(loss + k)), vmax, _CMP_NLE_UQ));
    if (_mm256_movemask_pd(bad)) return 0;
    for (; k < n; k++)
        if (!(fabs(loss[k]) <= maxLoss)) return 0;
    return 1;
}

// Adds the 4 quantities `x` (USD) to scenarios k…k+3: when every |x · 2^32| < 2^51, rounded to
// an integer (ties to even, explicitly) and turned into an int64 by adding 1.5 · 2^52, whose
// binade [2^52, 2^53) has spacing 1, so the integer r is exactly the bit pattern of r + 1.5 · 2^52
// minus that of 1.5 · 2^52; otherwise lane by lane (add_quanta).
__attribute__((target("avx2")))
static inline void add_quanta4(int64_t *fast, uint64_t *wide, size_t k, __m256d x) {
    const __m256d scale = _mm256_set1_pd(PM_QUANTA), limit = _mm256_set1_pd(PM_FAST_LIMIT);
    const __m256d magic = _mm256_set1_pd(6755399441055744.0);   // 1.5 · 2^52
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d y = _mm256_mul_pd(x, scale);
    __m256d ok = _mm256_cmp_pd(_mm256_andnot_pd(sign, y), limit, _CMP_LT_OQ);
    if (_mm256_movemask_pd(ok) == 0xF) {
        __m256d r = _mm256_round_pd(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256i t = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(r, magic)), _mm256_castpd_si256(magic));
        __m256i f = _mm256_loadu_si256((const __m256i *)(fast + k));
        _mm256_storeu_si256((__m256i *)(fast + k), _mm256_add_epi64(f, t));
    } else {
        double v[4];
        _mm256_storeu_pd(v, x);
        for (int j = 0; j < 4; j++) add_quanta(fast, wide, k + j, v[j]);
    }
}

__attribute__((target("avx2")))
static void account_tile_avx2(size_t t0, size_t n, const double *loss, double totalMM, double totalIM,
                              int64_t *breachedMM, int64_t *breachedIM, int64_t *fastLoss, uint64_t *wideLoss,
                              int64_t *fastShortfall, uint64_t *wideShortfall, pm_backtest_stats *st) {
    const __m256d vmm = _mm256_set1_pd(totalMM), vim = _mm256_set1_pd(totalIM);
    __m256d wv = _mm256_set1_pd(-INFINITY);
    uint64_t w = 0;
    int64_t breachesIM = 0;
    size_t k = 0;
    for (; k + 4 <= n; k += 4) {
        __m256d x = _mm256_loadu_pd(loss + k);
        __m256d bm = _mm256_cmp_pd(x, vmm, _CMP_GT_OQ), bi = _mm256_cmp_pd(x, vim, _CMP_GT_OQ);
        int mask = _mm256_movemask_pd(bm), maskIM = _mm256_movemask_pd(bi);
        w |= (uint64_t)mask << k;
        wv = _mm256_max_pd(x, wv);
        add_quanta4(fastLoss, wideLoss, k, x);
        if (mask) {
            // A mask lane is all ones (−1): subtracting it counts one breach.
            __m256i c = _mm256_loadu_si256((const __m256i *)(breachedMM + k));
            _mm256_storeu_si256((__m256i *)(breachedMM + k), _mm256_sub_epi64(c, _mm256_castpd_si256(bm)));
            // Unbreached lanes add +0 (their difference masked off).
            add_quanta4(fastShortfall, wideShortfall, k, _mm256_and_pd(_mm256_sub_pd(x, vmm), bm));
        }
        if (maskIM) {
            breachesIM += __builtin_popcount((unsigned)maskIM);
            __m256i c = _mm256_loadu_si256((const __m256i *)(breachedIM + k));
            _mm256_storeu_si256((__m256i *)(breachedIM + k), _mm256_sub_epi64(c, _mm256_castpd_si256(bi)));
        }
    }
    double m = lanes_max(wv);
    for (; k < n; k++) {
        double x = loss[k];
        if (x > totalMM) {
            w |= 1ULL << k;
            breachedMM[k] += 1;
            add_quanta(fastShortfall, wideShortfall, k, x - totalMM);
        }
        if (x > totalIM) { breachesIM++; breachedIM[k] += 1; }
        if (x > m) m = x;
        add_quanta(fastLoss, wideLoss, k, x);
    }
    double worst;
    int64_t at;
    first_worst(st, t0, n, loss, m, &worst, &at);
    st->breachesIM += breachesIM;
    bt_feed(st, t0, n, w, worst, at);
}
#endif

// ---- The code paths ---------------------------------------------------------------------------

typedef struct {
    void (*gather)(double *, size_t, const double *, size_t, const int32_t *, const int32_t *, const double *, size_t);
    void (*unit)(size_t, size_t, const double *, const double *, double, double, double *, pm_backtest_stats *);
    int (*in_range)(size_t, const double *, double);
    void (*account)(size_t, size_t, const double *, double, double, int64_t *, int64_t *, int64_t *, uint64_t *,
                    int64_t *, uint64_t *, pm_backtest_stats *);
} bt_path;

static bt_path bt_path_for(int isa) {
#if PM_HAVE_X86_KERNELS
    if (pm_kernel_path(isa) >= 2) return (bt_path){gather_tile_avx2, unit_tile_avx2, in_range_avx2, account_tile_avx2};
#endif
    (void)isa;
    return (bt_path){gather_tile_scalar, unit_tile_scalar, in_range_scalar, account_tile_scalar};
}

void pm_backtest_unit_isa(int isa, size_t nS, const double *pnl, const double *move, double hedge, double mm,
                          double *accountLoss, pm_backtest_stats *st) {
    bt_path p = bt_path_for(isa);
    bt_start(st);
    for (size_t t0 = 0; t0 < nS; t0 += 64) {
        size_t n = nS - t0 < 64 ? nS - t0 : 64;
        p.unit(t0, n, pnl + t0, hedge != 0 ? move + t0 : move, hedge, mm, accountLoss + t0, st);
    }
    bt_finish(st, nS);
    if (!isfinite(st->worst)) st->finite = 0;
}

int pm_backtest_account_isa(int isa, size_t nS, const double *loss, double totalMM, double totalIM, double maxLoss,
                            int64_t *breachedMM, int64_t *breachedIM, int64_t *fastLoss, uint64_t *wideLoss,
                            int64_t *fastShortfall, uint64_t *wideShortfall, pm_backtest_stats *st) {
    bt_path p = bt_path_for(isa);
    if (!p.in_range(nS, loss, maxLoss)) return 0;
    bt_start(st);
    for (size_t t0 = 0; t0 < nS; t0 += 64) {
        size_t n = nS - t0 < 64 ? nS - t0 : 64;
        p.account(t0, n, loss + t0, totalMM, totalIM, breachedMM + t0, breachedIM + t0, fastLoss + t0, wideLoss + 2 * t0,
                  fastShortfall + t0, wideShortfall + 2 * t0, st);
    }
    bt_finish(st, nS);
    return 1;
}

size_t pm_backtest_tiles_count(size_t rows, size_t nS) {
    return (nS + PM_TILE - 1) / PM_TILE * rows * PM_TILE;
}

void pm_backtest_tile_table(const double *table, size_t rows, size_t nS, double *tiles) {
    for (size_t t0 = 0; t0 < nS; t0 += PM_TILE) {
        const size_t n = nS - t0 < PM_TILE ? nS - t0 : PM_TILE;
        double *tile = tiles + t0 * rows;   // (t0 / PM_TILE) · rows · PM_TILE
        for (size_t r = 0; r < rows; r++) {
            memcpy(tile + r * PM_TILE, table + r * nS + t0, n * sizeof(double));
            for (size_t k = n; k < PM_TILE; k++) tile[r * PM_TILE + k] = 0;
        }
    }
}

size_t pm_backtest_block_isa(int isa, const pm_backtest_block *b, pm_backtest_stats *unitStats,
                             pm_backtest_stats *accountStats, uint8_t *failed, int64_t *breachedMM, int64_t *breachedIM,
                             uint64_t *wideLoss, uint64_t *wideShortfall) {
    bt_path p = bt_path_for(isa);
    const size_t nS = b->scenarios;
    double unitLoss[PM_TILE], accountLoss[PM_TILE];
    int64_t fastLoss[PM_TILE], fastShortfall[PM_TILE];
    const size_t flushEvery = b->flushEvery == 0 || b->flushEvery > PM_FAST_ACCOUNTS ? PM_FAST_ACCOUNTS : b->flushEvery;
    for (size_t a = 0; a < b->accounts; a++) {
        failed[a] = 0;
        if (!b->active[a]) continue;
        bt_start(&accountStats[a]);
        for (int64_t u = b->accountUnits[a]; u < b->accountUnits[a + 1]; u++) bt_start(&unitStats[u]);
    }
    for (size_t t0 = 0; t0 < nS; t0 += PM_TILE) {
        const size_t n = nS - t0 < PM_TILE ? nS - t0 : PM_TILE;
        // Tiled: the tile's rows are PM_TILE apart and padded with zeros, so the gather runs all
        // PM_TILE lanes (its unmasked path) and the lanes past n, never read, hold 0 · size.
        const double *table = b->tiles ? b->tiles + t0 * b->tableRows : b->table + t0;
        const size_t stride = b->tiles ? PM_TILE : nS, lanes = b->tiles ? PM_TILE : n;
        size_t pending = 0;
        memset(fastLoss, 0, sizeof fastLoss);
        memset(fastShortfall, 0, sizeof fastShortfall);
        for (size_t a = 0; a < b->accounts; a++) {
            if (!b->active[a] || failed[a]) continue;
            for (size_t k = 0; k < n; k++) accountLoss[k] = 0;
            for (int64_t u = b->accountUnits[a]; u < b->accountUnits[a + 1]; u++) {
                p.gather(unitLoss, lanes, table, stride, b->row, b->instr + b->unitEntry[u], b->size + b->unitEntry[u],
                         (size_t)b->unitEntries[u]);
                double h = b->unitHedge[u];
                const double *move = h != 0 ? b->move + (size_t)b->unitCoin[u] * nS + t0 : NULL;
                p.unit(t0, n, unitLoss, move, h, b->unitMM[u], accountLoss, &unitStats[u]);
                if (!unitStats[u].finite) failed[a] = 1;
            }
            if (failed[a] || !p.in_range(n, accountLoss, b->maxLoss)) { failed[a] = 1; continue; }
            if (pending == flushEvery) {
                flush_fast(fastLoss, wideLoss + 2 * t0, n);
                flush_fast(fastShortfall, wideShortfall + 2 * t0, n);
                pending = 0;
            }
            p.account(t0, n, accountLoss, b->totalMM[a], b->totalIM[a], breachedMM + t0, breachedIM + t0, fastLoss,
                      wideLoss + 2 * t0, fastShortfall, wideShortfall + 2 * t0, &accountStats[a]);
            pending++;
        }
        flush_fast(fastLoss, wideLoss + 2 * t0, n);
        flush_fast(fastShortfall, wideShortfall + 2 * t0, n);
    }
    size_t failures = 0;
    for (size_t a = 0; a < b->accounts; a++) {
        if (!b->active[a]) continue;
        for (int64_t u = b->accountUnits[a]; u < b->accountUnits[a + 1]; u++) {
            bt_finish(&unitStats[u], nS);
            if (!isfinite(unitStats[u].worst)) unitStats[u].finite = 0;
            if (!unitStats[u].finite) failed[a] = 1;
        }
        bt_finish(&accountStats[a], nS);
        failures += failed[a];
    }
    return failures;
}
