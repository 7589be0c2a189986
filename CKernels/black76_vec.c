// AVX-512 and AVX2+FMA instantiations of the vector Black-76 kernels (black76_simd.h).
// SwiftPM compiles this file for baseline x86-64; the target attributes below let these
// functions use the wider instruction sets, and dispatch.c only calls them on CPUs that have them.
#include "kernels_internal.h"

#if PM_HAVE_X86_KERNELS
#include <string.h>

// Contraction off: fused multiply-adds are written explicitly where wanted (see black76_simd.h).
#pragma STDC FP_CONTRACT OFF

// Each vector is two machine registers wide (16 doubles = 2 zmm, 8 = 2 ymm): every instruction
// of the source then becomes two independent ones, which hides the latency of the long
// polynomial chains and lets each broadcast constant feed two operations. Measured on Zen 4:
// +7% (AVX-512) and +15% (AVX2) over one register per vector.

// avx512dq gives the 64-bit integer <-> double conversions, avx512vl the narrow masked forms.
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512vl"))), apply_to = function)
#define PM_W 16
#define PM_FN(name) name##_avx512
#include "black76_simd.h"
#undef PM_FN
#undef PM_W
#pragma clang attribute pop

// -Wpsabi warns that a 64-byte vector argument would be passed differently without AVX-512.
// Every helper taking one is always_inline, so no such call exists.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define PM_W 8
#define PM_FN(name) name##_avx2
#include "black76_simd.h"
#undef PM_FN
#undef PM_W
#pragma clang attribute pop
#pragma clang diagnostic pop

#endif
