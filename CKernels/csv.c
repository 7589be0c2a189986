// CSV line splitting for the batch reader: 16 bytes per step with SSE2 (the x86-64 baseline, so
// no run-time dispatch), scalar elsewhere. A byte-at-a-time loop in Swift was the reader's largest
// cost (one unpredictable branch per byte).
#include "CKernels.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

size_t pm_csv_line(const uint8_t *p, size_t avail, uint32_t *commas, size_t cap,
                   size_t *lineLength, int *hasQuote) {
    size_t n = 0, i = 0;
    int quote = 0;
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n'), cm = _mm_set1_epi8(','), qt = _mm_set1_epi8('"');
    while (i + 16 <= avail) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        unsigned mn = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl));
        unsigned mc = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cm));
        unsigned mq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, qt));
        if (mn) {
            const unsigned before = (mn & (0u - mn)) - 1;   // bits below the first newline
            mc &= before;
            mq &= before;
        }
        quote |= mq != 0;
        while (mc) {
            if (n < cap) commas[n] = (uint32_t)(i + (size_t)__builtin_ctz(mc));
            n++;
            mc &= mc - 1;
        }
        if (mn) {
            *lineLength = i + (size_t)__builtin_ctz(mn);
            *hasQuote = quote;
            return n;
        }
        i += 16;
    }
#endif
    for (; i < avail; i++) {
        const uint8_t b = p[i];
        if (b == '\n') break;
        if (b == ',') {
            if (n < cap) commas[n] = (uint32_t)i;
            n++;
        } else if (b == '"') {
            quote = 1;
        }
    }
    *lineLength = i;
    *hasQuote = quote;
    return n;
}

size_t pm_count_lines(const uint8_t *p, size_t n) {
    size_t count = 0, i = 0;
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n');
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        count += (size_t)__builtin_popcount((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)));
    }
#endif
    for (; i < n; i++) count += p[i] == '\n';
    if (n > 0 && p[n - 1] != '\n') count++;   // a last line without its newline
    return count;
}
