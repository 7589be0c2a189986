// Internal interface between the CKernels translation units (not part of the public header).
#ifndef PM_KERNELS_INTERNAL_H
#define PM_KERNELS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "CKernels.h"

// The largest total volatility v = sigma sqrt(T) the pricers use (docs/model.md §10: a price stays
// within its no-arbitrage bounds whatever the vol). Beyond about 1.34e154, v^2/2 overflows and
// d1 = d2 = +inf, which prices a call at F - K (negative out of the money) instead of its limit F.
// At v = 1e100, d1 = +5e99 and d2 = -5e99 already give N = 1 and 0 exactly, the limit prices
// (call F, put K), so capping v there changes no finite price; an infinite v (an overflowed
// shock) gets the same limit. A NaN v is left alone (comparisons with NaN are false).
#define PM_MAX_TOTAL_VOL 1e100

// Risk arrays through the scalar libm reference (black76_ref.c). Same contract as
// pm_option_risk_arrays; also the "scalar" path of the dispatcher.
void pm_risk_arrays_ref(size_t nOptions, size_t nMoves, const double *moves,
                        const double *F, const double *K, const double *T,
                        const double *volUp, const double *volMid, const double *volDown,
                        const double *moveScale, const int8_t *isCall,
                        const double *mark, const double *settleIndex, double *out);

// The portfolio P&L gather (gather.c): scalar, and the vector variants below.
void pm_gather_pnl_scalar(double *out, size_t nS, const double *block, const int32_t *row,
                          const int32_t *instr, const double *size, size_t count);

// The code path a request `isa` runs on this CPU: 1 scalar, 2 avx2, 3 avx512 (dispatch.c).
int pm_kernel_path(int isa);

// The vector kernels exist only where the x86 target attributes and clang's vector builtins do.
#if defined(__x86_64__) && defined(__clang__)
#define PM_HAVE_X86_KERNELS 1

void pm_black76_batch_avx512(size_t n, const double *F, const double *K, const double *T,
                             const double *sigma, const int8_t *isCall, double *out);
void pm_black76_batch_avx2(size_t n, const double *F, const double *K, const double *T,
                           const double *sigma, const int8_t *isCall, double *out);

void pm_risk_arrays_avx512(size_t nOptions, size_t nMoves, const double *moves,
                           const double *F, const double *K, const double *T,
                           const double *volUp, const double *volMid, const double *volDown,
                           const double *moveScale, const int8_t *isCall,
                           const double *mark, const double *settleIndex, double *out);
void pm_risk_arrays_avx2(size_t nOptions, size_t nMoves, const double *moves,
                         const double *F, const double *K, const double *T,
                         const double *volUp, const double *volMid, const double *volDown,
                         const double *moveScale, const int8_t *isCall,
                         const double *mark, const double *settleIndex, double *out);

void pm_gather_pnl_avx512(double *out, size_t nS, const double *block, const int32_t *row,
                          const int32_t *instr, const double *size, size_t count);
void pm_gather_pnl_avx2(double *out, size_t nS, const double *block, const int32_t *row,
                        const int32_t *instr, const double *size, size_t count);

#endif

#endif
