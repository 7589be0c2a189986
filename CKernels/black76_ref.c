// Scalar Black-76 (zero rate) in plain libm: the reference the vector kernels are tested and
// benchmarked against, the "scalar" dispatch path, and the single-option greeks.
#include "CKernels.h"
#include "kernels_internal.h"

#include <math.h>

// The reference is the formula exactly as written: no fused multiply-adds, whatever the target,
// so that every build (and the vector kernels, which follow the same rule) rounds it alike.
#pragma STDC FP_CONTRACT OFF

static const double SQRT2 = 0x1.6a09e667f3bcdp+0;
// 1/sqrt(2) as a double-double, and 2/sqrt(pi), for pm_norm_cdf's argument correction.
static const double INV_SQRT2_HI = 0x1.6a09e667f3bcdp-1;
static const double INV_SQRT2_LO = -0x1.bdd3413b26456p-55;
static const double TWO_OVER_SQRTPI = 0x1.20dd750429b6dp+0;
static const double INV_SQRT_2PI = 0x1.9884533d43651p-2;

// The reference N(x) of the Black-76 paths (docs/model.md §3), deliberately the textbook expression.
static double ref_cdf(double x) { return 0.5 * erfc(-x / SQRT2); }

double pm_norm_cdf(double x) {
    // Beyond |x| = 40 the CDF rounds to 0 or 1 (N(-40) < 1e-349); this also keeps the
    // correction below away from inf - inf at x = -inf.
    if (fabs(x) > 40.0) return x > 0.0 ? 1.0 : 0.0;
    // 0.5 erfc(-x/sqrt2) alone loses accuracy in the lower tail: the rounding error delta of
    // a = -x/sqrt2 changes erfc(a) by a relative 2 a delta, about 1e-13 at x = -37. Recover
    // delta with an FMA and apply erfc'(a) = -2/sqrt(pi) exp(-a^2) to first order.
    double a = -x * INV_SQRT2_HI;
    double delta = fma(-x, INV_SQRT2_HI, -a) + -x * INV_SQRT2_LO;
    return 0.5 * (erfc(a) - delta * TWO_OVER_SQRTPI * exp(-a * a));
}

// d1 and d2 with v = sigma sqrt(T). Inputs are finite and > 0, so v > 0: a tiny T only drives
// |d1| to large finite values and the price to its intrinsic value, never to NaN.
// v is capped at PM_MAX_TOTAL_VOL (see kernels_internal.h) so that an absurd vol prices at its limit.
static void ref_d1d2(double F, double K, double sqrtT, double sigma, double *d1, double *d2) {
    double v = sigma * sqrtT;
    if (v > PM_MAX_TOTAL_VOL) v = PM_MAX_TOTAL_VOL;
    double halfVariance = 0.5 * v * v;
    *d1 = (log(F / K) + halfVariance) / v;
    *d2 = *d1 - v;
}

// Calls and puts each from the CDF arguments that keep their terms small (no put-call parity),
// so an out-of-the-money price keeps its relative accuracy.
static double ref_price(double F, double K, double d1, double d2, int isCall) {
    if (isCall) return F * ref_cdf(d1) - K * ref_cdf(d2);
    return K * ref_cdf(-d2) - F * ref_cdf(-d1);
}

static double ref_black76(double F, double K, double T, double sigma, int isCall) {
    double d1, d2;
    ref_d1d2(F, K, sqrt(T), sigma, &d1, &d2);
    return ref_price(F, K, d1, d2, isCall);
}

void pm_black76_greeks(double F, double K, double T, double sigma, int isCall,
                       double *price, double *delta, double *vega) {
    double sqrtT = sqrt(T);
    double d1, d2;
    ref_d1d2(F, K, sqrtT, sigma, &d1, &d2);
    *price = ref_price(F, K, d1, d2, isCall);
    // The put delta N(d1) - 1 is taken as -N(-d1): the same value without the cancellation.
    *delta = isCall ? ref_cdf(d1) : -ref_cdf(-d1);
    *vega = F * (exp(-0.5 * d1 * d1) * INV_SQRT_2PI) * sqrtT;
}

void pm_black76_batch_ref(size_t n, const double *F, const double *K, const double *T,
                          const double *sigma, const int8_t *isCall, double *out) {
    for (size_t i = 0; i < n; i++)
        out[i] = ref_black76(F[i], K[i], T[i], sigma[i], isCall[i] != 0);
}

void pm_risk_arrays_ref(size_t nOptions, size_t nMoves, const double *moves,
                        const double *F, const double *K, const double *T,
                        const double *volUp, const double *volMid, const double *volDown,
                        const double *moveScale, const int8_t *isCall,
                        const double *mark, const double *settleIndex, double *out) {
    const size_t nS = nMoves * 3;
    for (size_t i = 0; i < nOptions; i++) {
        const double vols[3] = {volUp[i], volMid[i], volDown[i]};
        double *row = out + i * nS;
        for (size_t k = 0; k < nMoves; k++) {
            double movedF = F[i] * (1.0 + moves[k] * moveScale[i]);
            for (size_t j = 0; j < 3; j++) {
                double price = ref_black76(movedF, K[i], T[i], vols[j], isCall[i] != 0);
                row[k * 3 + j] = (price - mark[i]) * settleIndex[i];
            }
        }
    }
}
