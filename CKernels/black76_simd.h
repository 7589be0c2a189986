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
// N(x) = Q(|x|) for x < 0, 1 - Q(|x|) otherwise. Relative error below 1e-15 on the whole line,
// tails included down to N = 1e-305 (x = -37.45), 0 below (measured against __float128).
// The two factors are computed separately (tail_ratio, gauss) because Black-76 needs only one
// Gaussian per option: K phi(d2) = F phi(d1), i.e. exp(-d2^2/2) = exp(-d1^2/2) F/K exactly.

// Q(a) exp(a^2/2) = H(a)/(a + 0.8125) for a = |x|, with H(a) = (a + 0.8125) Q(a) exp(a^2/2)
// nearly constant (0.406 at 0, 0.47 at most, 0.399 at infinity), so its polynomial is evaluated
// without cancellation (the earlier form 3 (1 + a/6) erfcx(a/sqrt2) fell from 3 to 0.4 and lost
// 8e-16 to cancellation). H is one degree-21 polynomial in u = (1.3097 a - 6)/(a + 6), the map
// of a in [0, 38.75] onto [-1, 1] (near-minimax Chebyshev interpolation, fit error 1.4e-16);
// beyond 38.75 the Gaussian flushes Q to 0 anyway, so a is clamped. About 3 ulp.
PM_INLINE vd PM_FN(tail_ratio)(vd x) {
    vd a = __builtin_elementwise_abs(x);
    a = a < 38.75 ? a : (vd)38.75;
    vd u = PM_FN(fma)(0x1.4f4704f4704f4p+0, a, -6.0) / (a + 6.0);

    // Even/odd split (second-order Horner) halves the dependency chain.
    vd u2 = u * u;
    vd he = -0x1.5560eb379a241p-31;
    he = PM_FN(fma)(he, u2, 0x1.23400b2caa87bp-27);
    he = PM_FN(fma)(he, u2, -0x1.f80cd85662c87p-25);
    he = PM_FN(fma)(he, u2, -0x1.c52dd63f2f402p-23);
    he = PM_FN(fma)(he, u2, 0x1.178e2a3749136p-16);
    he = PM_FN(fma)(he, u2, -0x1.f42bbc8536947p-13);
    he = PM_FN(fma)(he, u2, -0x1.fb2dc4845d3d7p-9);
    he = PM_FN(fma)(he, u2, -0x1.215391be48998p-6);
    he = PM_FN(fma)(he, u2, -0x1.f23c637c95990p-6);
    he = PM_FN(fma)(he, u2, 0x1.22a1ba9efa4a6p-7);
    he = PM_FN(fma)(he, u2, 0x1.ccbb9bdd4745fp-2);
    vd ho = -0x1.928f11250fb81p-34;
    ho = PM_FN(fma)(ho, u2, 0x1.05ee0bd909fcbp-29);
    ho = PM_FN(fma)(ho, u2, -0x1.06ae3e8faf1b0p-25);
    ho = PM_FN(fma)(ho, u2, 0x1.d67a1ceb8e60dp-22);
    ho = PM_FN(fma)(ho, u2, -0x1.3b9d726619297p-18);
    ho = PM_FN(fma)(ho, u2, 0x1.f0efede0f56b1p-20);
    ho = PM_FN(fma)(ho, u2, 0x1.3d63ccd797078p-10);
    ho = PM_FN(fma)(ho, u2, 0x1.308db9cd2dfc5p-7);
    ho = PM_FN(fma)(ho, u2, 0x1.b497a74484c96p-6);
    ho = PM_FN(fma)(ho, u2, 0x1.53784dbdb0f48p-6);
    ho = PM_FN(fma)(ho, u2, -0x1.d6d8b7fa8562dp-5);
    return PM_FN(fma)(ho, u, he) / (a + 0.8125);
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
// Results that would leave the normal range are flushed to 0: for n < -1014 (|x| > 37.45,
// where the CDF is below 1e-305) the scale is 0. A subnormal or underflowing product costs a
// microcode assist on this CPU (Zen 4: the whole pass ran 2x slower on tail-heavy data), and no
// price can tell 1e-305 F from 0. Clamping |x| to 40 keeps n and r finite for any d.
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
// price = sign (F N(sign d1) - K N(sign d2)); for a put this is K N(-d2) - F N(-d1), as in the
// reference, each CDF taken on the side that keeps its terms small.
PM_INLINE vd PM_FN(price)(vd F, vd K, vd ratio, vd sign, const double *d1, const double *d2,
                          const double *y1, const double *y2) {
    vd D1 = PM_FN(load)(d1), D2 = PM_FN(load)(d2);
    PM_FN(gaussian) g = PM_FN(gauss)(D1);
    vd n1 = PM_FN(cdf_from_tail)(sign * D1, PM_FN(scale_by)(PM_FN(load)(y1), g));
    vd n2 = PM_FN(cdf_from_tail)(sign * D2, PM_FN(scale_by)(PM_FN(load)(y2) * ratio, g));
    return sign * (F * n1 - K * n2);
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
        for (int j = 0; j < 3; j++) halfVariance[j] = 0.5 * v[j] * v[j];

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
