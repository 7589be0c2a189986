// What the CPU supports, for the OpenBLAS kernel check (docs/readings.md item 26): OpenBLAS 0.3.21 may not recognise a virtual machine's masked CPU model and fall
// back to its Prescott (SSE3) kernels on a CPU with AVX-512. The Swift side compares
// `openblas_get_corename()` with these bits (BLASKernel.swift).
#include "CPlatform.h"

uint32_t pm_cpu_features(void) {
    uint32_t f = 0;
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx")) f |= PM_CPU_AVX;
    if (__builtin_cpu_supports("avx2")) f |= PM_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) f |= PM_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) f |= PM_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512dq")) f |= PM_CPU_AVX512DQ;
    if (__builtin_cpu_supports("avx512bw")) f |= PM_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vl")) f |= PM_CPU_AVX512VL;
#endif
    return f;
}
