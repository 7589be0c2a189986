// Run-time choice of the Black-76 code path, and the public entry points that use it.
#include "CKernels.h"
#include "kernels_internal.h"

#include <stdatomic.h>

enum { ISA_AUTO = 0, ISA_SCALAR = 1, ISA_AVX2 = 2, ISA_AVX512 = 3 };

static const char *const isa_names[] = {
    [ISA_SCALAR] = "scalar", [ISA_AVX2] = "avx2", [ISA_AVX512] = "avx512"};

// The path in use; ISA_AUTO until the first call decides (the CPU check is not free).
static _Atomic int active_isa = ISA_AUTO;

static int cpu_has_avx512(void) {
#if PM_HAVE_X86_KERNELS
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

static int cpu_has_avx2(void) {
#if PM_HAVE_X86_KERNELS
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

// The best path the CPU can run that is no wider than `request`.
static int runnable_isa(int request) {
    if (request >= ISA_AVX512 && cpu_has_avx512()) return ISA_AVX512;
    if (request >= ISA_AVX2 && cpu_has_avx2()) return ISA_AVX2;
    return ISA_SCALAR;
}

static int current_isa(void) {
    int isa = atomic_load_explicit(&active_isa, memory_order_relaxed);
    if (isa != ISA_AUTO) return isa;
    int best = runnable_isa(ISA_AVX512);
    // Only replace AUTO: a concurrent pm_kernel_force_isa wins.
    atomic_compare_exchange_strong_explicit(&active_isa, &isa, best, memory_order_relaxed,
                                            memory_order_relaxed);
    return atomic_load_explicit(&active_isa, memory_order_relaxed);
}

const char *pm_kernel_isa(void) { return isa_names[current_isa()]; }

const char *pm_kernel_force_isa(int which) {
    // Out-of-range requests mean auto, like 0.
    int request = (which >= ISA_SCALAR && which <= ISA_AVX512) ? which : ISA_AVX512;
    atomic_store_explicit(&active_isa, runnable_isa(request), memory_order_relaxed);
    return pm_kernel_isa();
}

void pm_black76_batch(size_t n, const double *F, const double *K, const double *T,
                      const double *sigma, const int8_t *isCall, double *out) {
    switch (current_isa()) {
#if PM_HAVE_X86_KERNELS
    case ISA_AVX512: pm_black76_batch_avx512(n, F, K, T, sigma, isCall, out); return;
    case ISA_AVX2: pm_black76_batch_avx2(n, F, K, T, sigma, isCall, out); return;
#endif
    default: pm_black76_batch_ref(n, F, K, T, sigma, isCall, out); return;
    }
}

void pm_option_risk_arrays(size_t nOptions, size_t nMoves, const double *moves,
                           const double *F, const double *K, const double *T,
                           const double *volUp, const double *volMid, const double *volDown,
                           const double *moveScale, const int8_t *isCall,
                           const double *mark, const double *settleIndex,
                           int useReference, double *out) {
    int isa = useReference ? ISA_SCALAR : current_isa();
    switch (isa) {
#if PM_HAVE_X86_KERNELS
    case ISA_AVX512:
        pm_risk_arrays_avx512(nOptions, nMoves, moves, F, K, T, volUp, volMid, volDown,
                              moveScale, isCall, mark, settleIndex, out);
        return;
    case ISA_AVX2:
        pm_risk_arrays_avx2(nOptions, nMoves, moves, F, K, T, volUp, volMid, volDown,
                            moveScale, isCall, mark, settleIndex, out);
        return;
#endif
    default:
        pm_risk_arrays_ref(nOptions, nMoves, moves, F, K, T, volUp, volMid, volDown, moveScale,
                           isCall, mark, settleIndex, out);
        return;
    }
}

void pm_gather_pnl(double *out, size_t nS, const double *block, const int32_t *row,
                   const int32_t *instr, const double *size, size_t count) {
    switch (current_isa()) {
#if PM_HAVE_X86_KERNELS
    case ISA_AVX512: pm_gather_pnl_avx512(out, nS, block, row, instr, size, count); return;
    case ISA_AVX2: pm_gather_pnl_avx2(out, nS, block, row, instr, size, count); return;
#endif
    default: pm_gather_pnl_scalar(out, nS, block, row, instr, size, count); return;
    }
}
