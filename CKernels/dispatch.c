// Run-time choice of the Black-76 code path, and the public entry points that use it. The path is
// a value: every `_isa` entry point takes it as an argument; the automatic ones pass ISA_AUTO. No
// call changes what another call runs (no process-wide switch), so tests of different paths can
// run in parallel.
#include "CKernels.h"
#include "kernels_internal.h"

#include <stdatomic.h>

enum { ISA_AUTO = 0, ISA_SCALAR = 1, ISA_AVX2 = 2, ISA_AVX512 = 3 };

static const char *const isa_names[] = {
    [ISA_SCALAR] = "scalar", [ISA_AVX2] = "avx2", [ISA_AVX512] = "avx512"};

// The best path this CPU runs; ISA_AUTO until the first call decides (the CPU check is not free).
// A cache of a pure function of the CPU: racing first calls store the same value.
static _Atomic int best_isa_cache = ISA_AUTO;

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

static int best_isa(void) {
    int isa = atomic_load_explicit(&best_isa_cache, memory_order_relaxed);
    if (isa != ISA_AUTO) return isa;
    isa = runnable_isa(ISA_AVX512);
    atomic_store_explicit(&best_isa_cache, isa, memory_order_relaxed);
    return isa;
}

// The path a request runs: AUTO (or any value outside 1…3) the best one; else the best the CPU
// runs that is no wider than the request.
static int resolve_isa(int request) {
    if (request < ISA_SCALAR || request > ISA_AVX512) return best_isa();
    return runnable_isa(request);
}

const char *pm_kernel_isa(void) { return isa_names[best_isa()]; }

const char *pm_kernel_isa_name(int isa) { return isa_names[resolve_isa(isa)]; }

void pm_black76_batch(size_t n, const double *F, const double *K, const double *T,
                      const double *sigma, const int8_t *isCall, double *out) {
    pm_black76_batch_isa(ISA_AUTO, n, F, K, T, sigma, isCall, out);
}

void pm_black76_batch_isa(int isa, size_t n, const double *F, const double *K, const double *T,
                          const double *sigma, const int8_t *isCall, double *out) {
    switch (resolve_isa(isa)) {
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
                           const double *mark, const double *settleIndex, double *out) {
    pm_risk_arrays_isa(ISA_AUTO, nOptions, nMoves, moves, F, K, T, volUp, volMid, volDown, moveScale,
                       isCall, mark, settleIndex, out);
}

void pm_risk_arrays_isa(int isa, size_t nOptions, size_t nMoves, const double *moves,
                        const double *F, const double *K, const double *T,
                        const double *volUp, const double *volMid, const double *volDown,
                        const double *moveScale, const int8_t *isCall,
                        const double *mark, const double *settleIndex, double *out) {
    switch (resolve_isa(isa)) {
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
    pm_gather_pnl_isa(ISA_AUTO, out, nS, block, row, instr, size, count);
}

void pm_gather_pnl_isa(int isa, double *out, size_t nS, const double *block, const int32_t *row,
                       const int32_t *instr, const double *size, size_t count) {
    switch (resolve_isa(isa)) {
#if PM_HAVE_X86_KERNELS
    case ISA_AVX512: pm_gather_pnl_avx512(out, nS, block, row, instr, size, count); return;
    case ISA_AVX2: pm_gather_pnl_avx2(out, nS, block, row, instr, size, count); return;
#endif
    default: pm_gather_pnl_scalar(out, nS, block, row, instr, size, count); return;
    }
}

int pm_kernel_path(int isa) { return resolve_isa(isa); }
