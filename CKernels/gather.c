// The scenario P&L of a portfolio (docs/model.md §3): out[s] = Σ_e size[e] · block[row[instr[e]]·nS + s].
//
// Swift compiles at the baseline x86-64 target (2-wide SSE2); this loop is the engine's hottest,
// so it gets AVX-512 and AVX2 variants chosen at run time. Scenarios are done in tiles of 40
// (5 zmm / 10 ymm accumulators, masked at the end): 33 scenarios take a single pass over the
// holdings. The sum runs over holdings in order, as a separate multiply and add (no FMA), in every
// variant: all paths give the same bits as plain `acc + size·risk`. That matters for ties — close
// to expiry an option's three vol scenarios differ only by rounding, and the worst one is the
// first minimum (docs/model.md §11.6).
#include "CKernels.h"

#pragma clang fp contract(off)
#include "kernels_internal.h"

void pm_gather_pnl_scalar(double *out, size_t nS, const double *block, const int32_t *row,
                          const int32_t *instr, const double *size, size_t count) {
    for (size_t s = 0; s < nS; s++) out[s] = 0;
    for (size_t e = 0; e < count; e++) {
        const double q = size[e];
        const double *r = block + (size_t)row[instr[e]] * nS;
        for (size_t s = 0; s < nS; s++) out[s] += q * r[s];
    }
}

#if PM_HAVE_X86_KERNELS
#include <immintrin.h>

__attribute__((target("avx512f")))
void pm_gather_pnl_avx512(double *out, size_t nS, const double *block, const int32_t *row,
                          const int32_t *instr, const double *size, size_t count) {
    for (size_t s0 = 0; s0 < nS; s0 += 40) {
        size_t left = nS - s0;
        __mmask8 m[5];
        for (int k = 0; k < 5; k++) {
            size_t n = left > (size_t)(8 * k) ? left - 8 * k : 0;
            m[k] = n >= 8 ? 0xFF : (__mmask8)((1u << n) - 1);
        }
        __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, a4 = a0;
        for (size_t e = 0; e < count; e++) {
            const __m512d q = _mm512_set1_pd(size[e]);
            const double *r = block + (size_t)row[instr[e]] * nS + s0;
            a0 = _mm512_add_pd(a0, _mm512_mul_pd(q, _mm512_maskz_loadu_pd(m[0], r)));
            a1 = _mm512_add_pd(a1, _mm512_mul_pd(q, _mm512_maskz_loadu_pd(m[1], r + 8)));
            a2 = _mm512_add_pd(a2, _mm512_mul_pd(q, _mm512_maskz_loadu_pd(m[2], r + 16)));
            a3 = _mm512_add_pd(a3, _mm512_mul_pd(q, _mm512_maskz_loadu_pd(m[3], r + 24)));
            a4 = _mm512_add_pd(a4, _mm512_mul_pd(q, _mm512_maskz_loadu_pd(m[4], r + 32)));
        }
        _mm512_mask_storeu_pd(out + s0, m[0], a0);
        _mm512_mask_storeu_pd(out + s0 + 8, m[1], a1);
        _mm512_mask_storeu_pd(out + s0 + 16, m[2], a2);
        _mm512_mask_storeu_pd(out + s0 + 24, m[3], a3);
        _mm512_mask_storeu_pd(out + s0 + 32, m[4], a4);
    }
}

__attribute__((target("avx2")))
void pm_gather_pnl_avx2(double *out, size_t nS, const double *block, const int32_t *row,
                        const int32_t *instr, const double *size, size_t count) {
    for (size_t s0 = 0; s0 < nS; s0 += 40) {
        size_t left = nS - s0;
        __m256i m[10];
        for (int k = 0; k < 10; k++) {
            long long lane[4];
            for (int j = 0; j < 4; j++) lane[j] = (size_t)(4 * k + j) < left ? -1 : 0;
            m[k] = _mm256_setr_epi64x(lane[0], lane[1], lane[2], lane[3]);
        }
        __m256d a[10];
        for (int k = 0; k < 10; k++) a[k] = _mm256_setzero_pd();
        for (size_t e = 0; e < count; e++) {
            const __m256d q = _mm256_set1_pd(size[e]);
            const double *r = block + (size_t)row[instr[e]] * nS + s0;
            for (int k = 0; k < 10; k++) a[k] = _mm256_add_pd(a[k], _mm256_mul_pd(q, _mm256_maskload_pd(r + 4 * k, m[k])));
        }
        for (int k = 0; k < 10; k++) _mm256_maskstore_pd(out + s0 + 4 * k, m[k], a[k]);
    }
}
#endif
