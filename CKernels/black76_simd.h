// Width-generic vector Black-76 (zero rate), written with clang vector extensions.
//
// Included by black76_vec.c once per instruction set, inside a `#pragma clang attribute` region
// that gives every function here its target, with:
//   PM_W         lanes per vector (a multiple of the register width)
//   PM_FN(name)  the per-ISA name of an entry point or type
//
// Why our own exp/log/CDF: any libm call is a scalar call (errno), which would serialise the
// lanes. Everything below is straight-line, branch-free lane arithmetic; the only "library"
// operations are clang builtins (sqrt, fma) that become single instructions.
//
// This file is compiled with contraction off (black76_vec.c): every fused multiply-add is an
// explicit fma(), so the d1/d2 arithmetic rounds exactly like the scalar reference.

typedef double PM_FN(vdouble) __attribute__((ext_vector_type(PM_W)));
typedef unsigned long long PM_FN(vbits) __attribute__((ext_vector_type(PM_W)));
typedef int8_t PM_FN(vflag) __attribute__((ext_vector_type(PM_W)));
#define vd PM_FN(vdouble)
#define vu PM_FN(vbits)
#define vf PM_FN(vflag)

#define PM_INLINE static inline __attribute__((always_inline))

PM_INLINE vd PM_FN(fma)(vd a, vd b, vd c) { return __builtin_elementwise_fma(a, b, c); }
PM_INLINE vd PM_FN(load)(const double *p) { vd x; memcpy(&x, p, sizeof x); return x; }
PM_INLINE void PM_FN(store)(double *p, vd x) { memcpy(p, &x, sizeof x); }

// +1 for a call, -1 for a put.
PM_INLINE vd PM_FN(load_sign)(const int8_t *isCall) {
    vf flag;
    memcpy(&flag, isCall, sizeof flag);
    return __builtin_convertvector(flag, vd) != 0.0 ? (vd)1.0 : (vd)-1.0;
}

// Natural log of x > 0 (subnormals included). Reduction x = 2^e m, m in [sqrt(1/2), sqrt(2)),
// then the fdlibm scheme: with f = m - 1 and s = f/(2 + f),
// log(m) = f - f^2/2 + s (f^2/2 + R(s^2)), R(z) = z P(z), P a degree-6 fit (near-minimax
// Chebyshev interpolation of (2 atanh(s) - 2s)/s^3 on z = s^2 in [0, 0.0295]).
// e ln2 is added in two parts (the high part has trailing zeros so e ln2_hi is exact).
PM_INLINE vd PM_FN(log)(vd x) {
    __auto_type subnormal = x < 0x1p-1022;
    x = subnormal ? x * 0x1p54 : x;
    // Offsetting by the bits of sqrt(1/2) makes the exponent field carry exactly when
    // m >= sqrt(2), so m lands in [sqrt(1/2), sqrt(2)) without a compare.
    vu ix = (vu)x + (0x3ff0000000000000ULL - 0x3fe6a09e667f3bcdULL);
    vd e = (vd)((ix >> 52) | 0x4330000000000000ULL) - (0x1p52 + 1023.0);
    e = subnormal ? e - 54.0 : e;
    vd m = (vd)((ix & 0x000fffffffffffffULL) + 0x3fe6a09e667f3bcdULL);

    vd f = m - 1.0;
    vd hfsq = 0.5 * f * f;
    vd s = f / (2.0 + f);
    vd z = s * s;
    vd P = 0x1.2b584aae78a57p-3;
    P = PM_FN(fma)(P, z, 0x1.39fe606542ddep-3);
    P = PM_FN(fma)(P, z, 0x1.7462b4ab2ef6bp-3);
    P = PM_FN(fma)(P, z, 0x1.c71c62e5800a1p-3);
    P = PM_FN(fma)(P, z, 0x1.2492492df148dp-2);
    P = PM_FN(fma)(P, z, 0x1.99999999952e2p-2);
    P = PM_FN(fma)(P, z, 0x1.5555555555558p-1);
    vd R = z * P;
    return e * 0x1.62e42fee00000p-1 - ((hfsq - (s * (hfsq + R) + e * 0x1.a39ef35793c76p-33)) - f);
}

// ---- Normal CDF -------------------------------------------------------------------------------
// For a = |x|, the upper tail is Q(a) = N(-a) = exp(-a^2/2) * tail_ratio(a), and
// N(x) = Q(|x|) for x < 0, 1 - Q(|x|) otherwise. Measured against __float128: relative error
// below 4.5e-16 on the whole line, tails included, down to N = 5e-308 (x = -37.5); 0 below.
// The two factors are computed separately (tail_ratio, gauss) because Black-76 needs only one
// Gaussian per option: K phi(d2) = F phi(d1), i.e. exp(-d2^2/2) = exp(-d1^2/2) F/K exactly.

// Q(a) exp(a^2/2) = H(a)/(a + 0.8125) for a = |x|, where H(a) = (a + 0.8125) Q(a) exp(a^2/2) is
// nearly constant (0.406 at 0, at most 0.47, 0.399 at infinity), so that its polynomial is
// evaluated without cancellation. H is one degree-22 polynomial in u = (1.3097 a - 6)/(a + 6),
// the map of a in [0, 38.75] onto [-1, 1] (near-minimax Chebyshev interpolation, fit error
// 4e-17; its constant term is set so that H(0) = 0.40625 to rounding). Beyond 38.75 the Gaussian
// flushes Q to 0 anyway, so a is clamped.
// u is formed as w - 1 with w = 2.3097 a/(a + 6): near a = 0, where at-the-money prices need
// N(d) to the last bit, w is small and u then carries a single rounding.
PM_INLINE vd PM_FN(tail_ratio)(vd x) {
    vd a = __builtin_elementwise_abs(x);
    a = a < 38.75 ? a : (vd)38.75;
    vd u = (0x1.27a3827a3827ap+1 * a) / (a + 6.0) - 1.0;

    // Even/odd split (second-order Horner) halves the dependency chain. The constant term (0.45)
    // is added last, so that only one rounding happens at the size of H (the rest is < 0.06).
    vd u2 = u * u;
    vd he = 0x1.268d551a239eap-34;
    he = PM_FN(fma)(he, u2, -0x1.100fd96f8a755p-30);
    he = PM_FN(fma)(he, u2, 0x1.41627f28642c5p-27);
    he = PM_FN(fma)(he, u2, -0x1.011684985b3bdp-24);
    he = PM_FN(fma)(he, u2, -0x1.c310e980cc555p-23);
    he = PM_FN(fma)(he, u2, 0x1.178be609d79edp-16);
    he = PM_FN(fma)(he, u2, -0x1.f42ba389de3c9p-13);
    he = PM_FN(fma)(he, u2, -0x1.fb2dc4da38ddfp-9);
    he = PM_FN(fma)(he, u2, -0x1.215391bcf0364p-6);
    he = PM_FN(fma)(he, u2, -0x1.f23c637cabbeep-6);
    he = PM_FN(fma)(he, u2, 0x1.22a1ba9efb66fp-7);
    vd ho = -0x1.8b34de953e268p-34;
    ho = PM_FN(fma)(ho, u2, 0x1.04b8e2089b153p-29);
    ho = PM_FN(fma)(ho, u2, -0x1.0682b604e3d16p-25);
    ho = PM_FN(fma)(ho, u2, 0x1.d6734018e9cdfp-22);
    ho = PM_FN(fma)(ho, u2, -0x1.3b9d1d7c0730bp-18);
    ho = PM_FN(fma)(ho, u2, 0x1.f0ef47fb73205p-20);
    ho = PM_FN(fma)(ho, u2, 0x1.3d63cce44a46cp-10);
    ho = PM_FN(fma)(ho, u2, 0x1.308db9cce326dp-7);
    ho = PM_FN(fma)(ho, u2, 0x1.b497a74488935p-6);
    ho = PM_FN(fma)(ho, u2, 0x1.53784dbdb0c77p-6);
    ho = PM_FN(fma)(ho, u2, -0x1.d6d8b7fa85628p-5);
    vd H = PM_FN(fma)(he, u2, ho * u) + 0x1.ccbb9bdd4745fp-2;
    return H / (a + 0.8125);
}

// exp(-x^2/2) as two factors, `mantissa` in [0.7, 1.5) and `scale` a power of two, so that the
// caller can fold its own factors in before the scale: y exp(-x^2/2) = (y * mantissa) * scale.
typedef struct {
    vd mantissa, scale;
} PM_FN(gaussian);

// x^2 is taken as an exact FMA double-double: the rounding of x^2 alone would cost a relative
// x^2 * 1.1e-16 (1.6e-13 at x = 38). Then a Cody-Waite reduction -x^2/2 = n ln2 + r,
// |r| <= ln2/2, ln2 in two parts; with an FMA t - n ln2_hi is exact, and r is kept as a
// double-double r + rlo so that its rounding does not reach the result:
// exp(r + rlo) = 1 + (r + (rlo + r^2 h(r))) to first order in rlo, h a degree-9 fit
// (near-minimax Chebyshev interpolation of (e^r - 1 - r)/r^2 on [-ln2/2, ln2/2], error 1e-17).
// About 1 ulp.
// Results that would leave the normal range are flushed to 0: for n < -1014 (|x| > 37.5,
// where the CDF is below 5e-308) the scale is 0. A subnormal or underflowing product costs a
// microcode assist on this CPU (Zen 4: the whole pass ran 2x slower on tail-heavy data), and no
// price can tell 1e-307 F from 0. Clamping |x| to 40 keeps n and r finite for any d.
PM_INLINE PM_FN(gaussian) PM_FN(gauss)(vd x) {
    vd a = __builtin_elementwise_abs(x);
    a = a < 40.0 ? a : (vd)40.0;
    vd a2 = a * a;
    vd t = -0.5 * a2;
    vd tl = -0.5 * PM_FN(fma)(a, a, -a2);

    const vd shifter = 0x1.8p52; // adding it rounds to an integer, left in the low bits
    vd kd = t * 0x1.71547652b82fep+0 + shifter;
    vd n = kd - shifter;
    vd r0 = PM_FN(fma)(-n, 0x1.62e42fefa39efp-1, t);
    vd c = PM_FN(fma)(-n, 0x1.abc9e3b39803fp-56, tl);
    vd r = r0 + c;
    vd rlo = (r0 - r) + c;

    vd h = 0x1.af389ecfc4b9cp-26;
    h = PM_FN(fma)(h, r, 0x1.28917c89a43a7p-22);
    h = PM_FN(fma)(h, r, 0x1.71de0db2f6b19p-19);
    h = PM_FN(fma)(h, r, 0x1.a019b9149a41cp-16);
    h = PM_FN(fma)(h, r, 0x1.a01a01a7c2efep-13);
    h = PM_FN(fma)(h, r, 0x1.6c16c17889ef1p-10);
    h = PM_FN(fma)(h, r, 0x1.11111111109b5p-7);
    h = PM_FN(fma)(h, r, 0x1.5555555553d68p-5);
    h = PM_FN(fma)(h, r, 0x1.5555555555556p-3);
    h = PM_FN(fma)(h, r, 0x1.0000000000001p-1);
    vd p = (r + PM_FN(fma)(r * r, h, rlo)) + 1.0;

    // kd's bit pattern is 0x4338000000000000 + n, whose low 12 bits shifted left by 52 after
    // adding the bias 1023 are the biased exponent of 2^n (valid for n >= -1022).
    vd pow2n = (vd)(((vu)kd + 1023) << 52);
    PM_FN(gaussian) g = {p, n >= -1014.0 ? pow2n : (vd)0.0};
    return g;
}

// y times the Gaussian.
PM_INLINE vd PM_FN(scale_by)(vd y, PM_FN(gaussian) g) { return (y * g.mantissa) * g.scale; }

// N(x) from its upper tail q = Q(|x|).
PM_INLINE vd PM_FN(cdf_from_tail)(vd x, vd q) { return x < 0.0 ? q : 1.0 - q; }

// ---- Black-76 ---------------------------------------------------------------------------------
// The pricers run in three passes over a block of options, each a short loop of independent
// iterations: (1) d1, d2 and F/K; (2) tail_ratio of all 2n arguments; (3) the Gaussian of d1
// and the prices. One fused loop would be a ~250-cycle dependency chain per vector that the
// out-of-order window cannot overlap with the next one, and would need more constants than
// there are vector registers (the compiler then re-broadcasts them from memory inside the loop).
// The passes share an L1-resident scratch.
//
// Both N(d1) and N(d2) use the single Gaussian exp(-d1^2/2) (K phi(d2) = F phi(d1)):
// Q(|d2|) = exp(-d1^2/2) (F/K) tail_ratio(d2). That saves one exp per option. It is not
// bitwise the reference's N(d2), which rounds d2 = d1 - v first; the difference is of the
// order of that rounding (relative d2^2 * 1e-16), no larger than the reference's own error.

// d1 and d2 of one vector of options, ln(F/K) given so the risk arrays can share it between the
// three vol scenarios. Same operation order as the reference.
PM_INLINE void PM_FN(store_d)(vd logFK, vd v, vd halfVariance, double *d1, double *d2) {
    vd D1 = (logFK + halfVariance) / v;
    PM_FN(store)(d1, D1);
    PM_FN(store)(d2, D1 - v);
}

// tail_ratio over n doubles, n a multiple of PM_W.
PM_INLINE void PM_FN(tail_ratios)(const double *x, double *y, size_t n) {
    for (size_t i = 0; i < n; i += PM_W) PM_FN(store)(y + i, PM_FN(tail_ratio)(PM_FN(load)(x + i)));
}

// One vector of prices from d1, d2, their tail ratios y1, y2 and F/K; sign = +1 call, -1 put.
// As in the reference, call = F N(d1) - K N(d2) and put = K N(-d2) - F N(-d1), each CDF taken on
// the side that keeps its terms small (and a put whose terms are both 0 is +0, not -0).
PM_INLINE vd PM_FN(price)(vd F, vd K, vd ratio, vd sign, const double *d1, const double *d2,
                          const double *y1, const double *y2) {
    vd D1 = PM_FN(load)(d1), D2 = PM_FN(load)(d2);
    PM_FN(gaussian) g = PM_FN(gauss)(D1);
    vd forwardLeg = F * PM_FN(cdf_from_tail)(sign * D1, PM_FN(scale_by)(PM_FN(load)(y1), g));
    vd strikeLeg = K * PM_FN(cdf_from_tail)(sign * D2, PM_FN(scale_by)(PM_FN(load)(y2) * ratio, g));
    return sign > 0.0 ? forwardLeg - strikeLeg : strikeLeg - forwardLeg;
}

enum { PM_FN(BATCH_BLOCK) = 128 }; // options per pass; the scratch stays in L1

// n options, n a multiple of PM_W and at most BATCH_BLOCK.
static void PM_FN(batch_block)(size_t n, const double *F, const double *K, const double *T,
                               const double *sigma, const int8_t *isCall, double *out) {
    enum { BLOCK = PM_FN(BATCH_BLOCK) };
    // d1 of the block then d2, their tail ratios, and F/K
    double d[2 * BLOCK] __attribute__((aligned(64)));
    double y[2 * BLOCK] __attribute__((aligned(64)));
    double ratio[BLOCK] __attribute__((aligned(64)));
    for (size_t i = 0; i < n; i += PM_W) {
        vd FK = PM_FN(load)(F + i) / PM_FN(load)(K + i);
        vd v = PM_FN(load)(sigma + i) * __builtin_elementwise_sqrt(PM_FN(load)(T + i));
        v = v > PM_MAX_TOTAL_VOL ? (vd)PM_MAX_TOTAL_VOL : v;  // once per option (kernels_internal.h)
        vd halfVariance = 0.5 * v * v;
        PM_FN(store)(ratio + i, FK);
        PM_FN(store_d)(PM_FN(log)(FK), v, halfVariance, d + i, d + BLOCK + i);
    }
    PM_FN(tail_ratios)(d, y, n);
    PM_FN(tail_ratios)(d + BLOCK, y + BLOCK, n);
    for (size_t i = 0; i < n; i += PM_W) {
        vd p = PM_FN(price)(PM_FN(load)(F + i), PM_FN(load)(K + i), PM_FN(load)(ratio + i),
                            PM_FN(load_sign)(isCall + i), d + i, d + BLOCK + i, y + i,
                            y + BLOCK + i);
        PM_FN(store)(out + i, p);
    }
}

void PM_FN(pm_black76_batch)(size_t n, const double *F, const double *K, const double *T,
                             const double *sigma, const int8_t *isCall, double *out) {
    size_t full = n - n % PM_W;
    for (size_t i = 0; i < full; i += PM_FN(BATCH_BLOCK)) {
        size_t len = full - i < PM_FN(BATCH_BLOCK) ? full - i : PM_FN(BATCH_BLOCK);
        PM_FN(batch_block)(len, F + i, K + i, T + i, sigma + i, isCall + i, out + i);
    }
    if (full == n) return;
    // Tail: pad the missing lanes with a harmless at-the-money option.
    double f[PM_W], k[PM_W], t[PM_W], s[PM_W], o[PM_W];
    int8_t c[PM_W];
    size_t rest = n - full;
    for (size_t l = 0; l < PM_W; l++) {
        int have = l < rest;
        f[l] = have ? F[full + l] : 1.0;
        k[l] = have ? K[full + l] : 1.0;
        t[l] = have ? T[full + l] : 1.0;
        s[l] = have ? sigma[full + l] : 1.0;
        c[l] = have ? isCall[full + l] : 1;
    }
    PM_FN(batch_block)(PM_W, f, k, t, s, c, o);
    memcpy(out + full, o, rest * sizeof(double));
}

// Risk arrays, vectorised across options: the lanes are PM_W consecutive options, so every
// per-option quantity is one contiguous load, and the work that does not depend on the
// scenario is shared: sqrt(T) and the three shocked v = vol sqrt(T) once per option, F'/K and
// ln(F'/K) once per price move (for all three vols). Scenarios are priced a tile of moves at a
// time (bounded scratch for any nMoves), then the scenarios x lanes tile is transposed into the
// row-major output.
enum { PM_FN(TILE_MOVES) = 11 }; // the standard grid (11 moves) is one tile

void PM_FN(pm_risk_arrays)(size_t nOptions, size_t nMoves, const double *moves,
                           const double *F, const double *K, const double *T,
                           const double *volUp, const double *volMid, const double *volDown,
                           const double *moveScale, const int8_t *isCall,
                           const double *mark, const double *settleIndex, double *out) {
    enum { TILE_MOVES = PM_FN(TILE_MOVES), TILE = TILE_MOVES * 3 * PM_W };
    const size_t nS = nMoves * 3;
    for (size_t i0 = 0; i0 < nOptions; i0 += PM_W) {
        size_t lanes = nOptions - i0 < PM_W ? nOptions - i0 : PM_W;
        // This block's options, padded with copies of its first one at the tail.
        double f[PM_W], k[PM_W], t[PM_W], up[PM_W], mid[PM_W], down[PM_W], scale[PM_W],
            mk[PM_W], settle[PM_W];
        int8_t c[PM_W];
        for (size_t l = 0; l < PM_W; l++) {
            size_t i = i0 + (l < lanes ? l : 0);
            f[l] = F[i]; k[l] = K[i]; t[l] = T[i];
            up[l] = volUp[i]; mid[l] = volMid[i]; down[l] = volDown[i];
            scale[l] = moveScale[i]; c[l] = isCall[i];
            mk[l] = mark[i]; settle[l] = settleIndex[i];
        }
        vd vF = PM_FN(load)(f), vK = PM_FN(load)(k), vScale = PM_FN(load)(scale);
        vd vMark = PM_FN(load)(mk), vSettle = PM_FN(load)(settle);
        vd sign = PM_FN(load_sign)(c);
        vd sqrtT = __builtin_elementwise_sqrt(PM_FN(load)(t));
        vd v[3] = {PM_FN(load)(up) * sqrtT, PM_FN(load)(mid) * sqrtT, PM_FN(load)(down) * sqrtT};
        vd halfVariance[3];
        for (int j = 0; j < 3; j++) {
            v[j] = v[j] > PM_MAX_TOTAL_VOL ? (vd)PM_MAX_TOTAL_VOL : v[j];  // see kernels_internal.h
            halfVariance[j] = 0.5 * v[j] * v[j];
        }

        for (size_t m0 = 0; m0 < nMoves; m0 += TILE_MOVES) {
            size_t tileMoves = nMoves - m0 < TILE_MOVES ? nMoves - m0 : TILE_MOVES;
            size_t used = tileMoves * 3 * PM_W;
            // Per move: F' and F'/K; per scenario (move-major, then lane): d1 then d2, and their
            // tail ratios.
            double movedF[TILE_MOVES][PM_W] __attribute__((aligned(64)));
            double ratio[TILE_MOVES][PM_W] __attribute__((aligned(64)));
            double d[2 * TILE] __attribute__((aligned(64)));
            double y[2 * TILE] __attribute__((aligned(64)));
            for (size_t m = 0; m < tileMoves; m++) {
                vd Fm = vF * (1.0 + moves[m0 + m] * vScale);
                vd FK = Fm / vK;
                PM_FN(store)(movedF[m], Fm);
                PM_FN(store)(ratio[m], FK);
                vd logFK = PM_FN(log)(FK);
                for (int j = 0; j < 3; j++) {
                    size_t at = (m * 3 + j) * PM_W;
                    PM_FN(store_d)(logFK, v[j], halfVariance[j], d + at, d + TILE + at);
                }
            }
            PM_FN(tail_ratios)(d, y, used);
            PM_FN(tail_ratios)(d + TILE, y + TILE, used);
            double tile[TILE_MOVES * 3][PM_W] __attribute__((aligned(64)));
            for (size_t m = 0; m < tileMoves; m++) {
                vd Fm = PM_FN(load)(movedF[m]), FK = PM_FN(load)(ratio[m]);
                for (int j = 0; j < 3; j++) {
                    size_t at = (m * 3 + j) * PM_W;
                    vd p = PM_FN(price)(Fm, vK, FK, sign, d + at, d + TILE + at, y + at,
                                        y + TILE + at);
                    PM_FN(store)(tile[m * 3 + j], (p - vMark) * vSettle);
                }
            }
            for (size_t l = 0; l < lanes; l++) {
                double *row = out + (i0 + l) * nS + m0 * 3;
                for (size_t s = 0; s < tileMoves * 3; s++) row[s] = tile[s][l];
            }
        }
    }
}

#undef vd
#undef vu
#undef vf
#undef PM_INLINE
