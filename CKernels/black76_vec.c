// AVX-512 and AVX2+FMA instantiations of the vector Black-76 kernels (black76_simd.h).
// SwiftPM compiles this file for baseline x86-64; the target attributes below let these
// functions use the wider instruction sets, and dispatch.c only calls them on CPUs that have them.
#include "kernels_internal.h"

#if PM_HAVE_X86_KERNELS
#include <string.h>

// Contraction off: fused multiply-adds are written explicitly where wanted (see black76_simd.h).
#pragma STDC FP_CONTRACT OFF

// One zmm per vector. (avx512dq gives the 64-bit integer conversions, avx512vl the masked
// narrow forms the compiler likes for the int8 call/put flags.)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512vl"))), apply_to = function)
#define PM_W 8
#define PM_FN(name) name##_avx512
#include "black76_simd.h"
#undef PM_FN
#undef PM_W
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define PM_W 4
#define PM_FN(name) name##_avx2
#include "black76_simd.h"
#undef PM_FN
#undef PM_W
#pragma clang attribute pop

#endif
