// Width-generic vector Black-76 (zero rate), written with clang vector extensions.
//
// Included by black76_vec.c once per instruction set, inside a `#pragma clang attribute` region
// that gives every function here its target, with:
//   PM_W         lanes per vector (8 doubles = one zmm, 4 = one ymm)
//   PM_FN(name)  the per-ISA name of an entry point or type
//
// Why own exp/log/CDF: any libm call is a scalar call (errno), which would serialise the lanes.
// Everything below is straight-line, branch-free lane arithmetic; the only "library" operations
// are clang builtins (sqrt, fma) that become single instructions.
//
// Accuracy (measured against __float128, see the CKernels report): exp and log below 1 ulp,
// the normal CDF below 5e-16 relative on the whole line, tails included.
//
// This file is compiled with contraction off (black76_vec.c): every fused multiply-add is an
// explicit fma(), so the d1/d2/price arithmetic rounds exactly like the scalar reference.

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

// y * exp(t + tl) for t in [-751, 0], |tl| <= ulp(t), y a normal number near 1.
// Cody-Waite reduction t + tl = n ln2 + r, |r| <= ln2/2, ln2 in two parts; with an FMA
// t - n ln2_hi is exact, and r is kept as a double-double r + rlo so that its rounding does
// not reach the result: exp(r + rlo) = 1 + (r + (rlo + r^2 h(r))) to first order in rlo
// (|rlo| <= ulp(r)/2), h a degree-9 fit (near-minimax Chebyshev interpolation of
// (e^r - 1 - r)/r^2 on [-ln2/2, ln2/2], error 1e-17). About 0.75 ulp.
// 2^n is applied as two normal factors 2^floor(n/2) 2^ceil(n/2) so that a result deep in the
// subnormal range is rounded only once.
PM_INLINE vd PM_FN(exp_mul)(vd t, vd tl, vd y) {
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

    // kd's bit pattern is 0x4338000000000000 + n: an even offset plus n, so an integer shift
    // halves n (rounding down) and the offset's low 12 bits are 0. Shifting (n/2 + 1023) left
    // by 52 keeps exactly those 12 bits: the biased exponent of 2^(n/2).
    vu kbits = (vu)kd;
    vu half = kbits >> 1;
    vd lower = (vd)((half + 1023) << 52);
    vd upper = (vd)((kbits - half + 1023) << 52);
    return (y * p * lower) * upper;
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

// Standard normal CDF N(x), relative error < 5e-16 over the whole line.
// For a = |x|, Q(a) = N(-a) = exp(-a^2/2) G(a) / (a + 6), where G(a) = 3 (1 + a/6) erfcx(a/sqrt2)
// is smooth and bounded (3 at a = 0, 0.4 at infinity). G is one degree-21 polynomial in
// u = (1.3097 a - 6)/(a + 6), the map of a in [0, 38.75] onto [-1, 1] (near-minimax Chebyshev
// interpolation, max relative error 1.4e-16); beyond 38.75 Q underflows to 0, so a is clamped.
// exp(-a^2/2) takes a^2 as an exact FMA double-double: otherwise the rounding of a^2 alone would
// cost a relative a^2 * 1.1e-16 (1.6e-13 at a = 38) in the tail. Lower half: N = Q, relative
// accuracy kept into the subnormals; upper half: N = 1 - Q.
PM_INLINE vd PM_FN(norm_cdf)(vd x) {
    vd a = __builtin_elementwise_abs(x);
    a = a < 38.75 ? a : (vd)38.75;
    vd r = 1.0 / (a + 6.0);
    vd u = PM_FN(fma)(0x1.4f4704f4704f4p+0, a, -6.0) * r;

    // Even/odd split (second-order Horner) halves the dependency chain.
    vd u2 = u * u;
    vd ge = -0x1.d11030bc6841cp-32;
    ge = PM_FN(fma)(ge, u2, 0x1.0352c4949217dp-27);
    ge = PM_FN(fma)(ge, u2, -0x1.b13561e63a239p-24);
    ge = PM_FN(fma)(ge, u2, 0x1.42252f6fdafc5p-20);
    ge = PM_FN(fma)(ge, u2, -0x1.413a618078a2bp-17);
    ge = PM_FN(fma)(ge, u2, -0x1.33f4b900987a7p-14);
    ge = PM_FN(fma)(ge, u2, 0x1.03e8c63166febp-8);
    ge = PM_FN(fma)(ge, u2, 0x1.7af5bc3972d18p-5);
    ge = PM_FN(fma)(ge, u2, 0x1.c50a61b306309p-3);
    ge = PM_FN(fma)(ge, u2, 0x1.27020aab75628p-1);
    ge = PM_FN(fma)(ge, u2, 0x1.c3ec340e65e98p-1);
    vd go = 0x1.202c5554b82bdp-33;
    go = PM_FN(fma)(go, u2, -0x1.efc74cf0bed8fp-30);
    go = PM_FN(fma)(go, u2, 0x1.e3bcaac80cf28p-27);
    go = PM_FN(fma)(go, u2, -0x1.74d821534fd4ep-26);
    go = PM_FN(fma)(go, u2, -0x1.26bfe8b02e35ep-19);
    go = PM_FN(fma)(go, u2, 0x1.e2c1c068634a9p-15);
    go = PM_FN(fma)(go, u2, -0x1.199f7ffcd5a27p-11);
    go = PM_FN(fma)(go, u2, -0x1.01d85af37024bp-6);
    go = PM_FN(fma)(go, u2, -0x1.c34135d027367p-4);
    go = PM_FN(fma)(go, u2, -0x1.87a73d3e489d8p-2);
    go = PM_FN(fma)(go, u2, -0x1.859908408d8c7p-1);
    vd G = PM_FN(fma)(go, u, ge);

    vd a2 = a * a;
    vd a2lo = PM_FN(fma)(a, a, -a2);
    vd q = PM_FN(exp_mul)(-0.5 * a2, -0.5 * a2lo, G * r);
    return x < 0.0 ? q : 1.0 - q;
}

// Black-76 of one vector of options; sign = +1 call, -1 put. With logF = ln(F/K) given, so the
// risk-array kernel can share it between the three vol scenarios. Same operation order as the
// reference; put = -(F N(-d1) - K N(-d2)) is bitwise K N(-d2) - F N(-d1).
PM_INLINE vd PM_FN(price)(vd F, vd K, vd logFK, vd v, vd halfVariance, vd sign) {
    vd d1 = (logFK + halfVariance) / v;
    vd d2 = d1 - v;
    return sign * (F * PM_FN(norm_cdf)(sign * d1) - K * PM_FN(norm_cdf)(sign * d2));
}

PM_INLINE vd PM_FN(black76)(vd F, vd K, vd T, vd sigma, vd sign) {
    vd v = sigma * __builtin_elementwise_sqrt(T);
    vd halfVariance = 0.5 * v * v;
    return PM_FN(price)(F, K, PM_FN(log)(F / K), v, halfVariance, sign);
}

void PM_FN(pm_black76_batch)(size_t n, const double *F, const double *K, const double *T,
                             const double *sigma, const int8_t *isCall, double *out) {
    size_t i = 0;
    for (; i + PM_W <= n; i += PM_W) {
        vd p = PM_FN(black76)(PM_FN(load)(F + i), PM_FN(load)(K + i), PM_FN(load)(T + i),
                              PM_FN(load)(sigma + i), PM_FN(load_sign)(isCall + i));
        PM_FN(store)(out + i, p);
    }
    if (i == n) return;
    // Tail: pad the missing lanes with a harmless at-the-money option.
    double f[PM_W], k[PM_W], t[PM_W], s[PM_W], o[PM_W];
    int8_t c[PM_W];
    size_t rest = n - i;
    for (size_t l = 0; l < PM_W; l++) {
        int have = l < rest;
        f[l] = have ? F[i + l] : 1.0;
        k[l] = have ? K[i + l] : 1.0;
        t[l] = have ? T[i + l] : 1.0;
        s[l] = have ? sigma[i + l] : 1.0;
        c[l] = have ? isCall[i + l] : 1;
    }
    PM_FN(store)(o, PM_FN(black76)(PM_FN(load)(f), PM_FN(load)(k), PM_FN(load)(t),
                                   PM_FN(load)(s), PM_FN(load_sign)(c)));
    memcpy(out + i, o, rest * sizeof(double));
}

// Risk arrays, vectorised across options: the lanes are PM_W consecutive options, so every
// per-option quantity is one contiguous load, and the work that does not depend on the
// scenario is shared: sqrt(T) and the three shocked v = vol sqrt(T) once per option, ln(F'/K)
// once per price move (for all three vols). A tile of scenarios x lanes is then transposed
// into the row-major output. MOVES_PER_TILE bounds the tile for any nMoves.
enum { PM_FN(MOVES_PER_TILE) = 16 };

void PM_FN(pm_risk_arrays)(size_t nOptions, size_t nMoves, const double *moves,
                           const double *F, const double *K, const double *T,
                           const double *volUp, const double *volMid, const double *volDown,
                           const double *moveScale, const int8_t *isCall,
                           const double *mark, const double *settleIndex, double *out) {
    enum { TILE_MOVES = PM_FN(MOVES_PER_TILE) };
    const size_t nS = nMoves * 3;
    for (size_t i0 = 0; i0 < nOptions; i0 += PM_W) {
        size_t lanes = nOptions - i0 < PM_W ? nOptions - i0 : PM_W;
        // Gather this block's options (padded with copies of the first one at the tail).
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
            double tile[TILE_MOVES * 3][PM_W] __attribute__((aligned(64)));
            for (size_t m = 0; m < tileMoves; m++) {
                vd movedF = vF * (1.0 + moves[m0 + m] * vScale);
                vd logFK = PM_FN(log)(movedF / vK);
                for (int j = 0; j < 3; j++) {
                    vd p = PM_FN(price)(movedF, vK, logFK, v[j], halfVariance[j], sign);
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
