// CSV line splitting for the batch reader: 16 bytes per step with SSE2 (the x86-64 baseline, so
// no run-time dispatch), scalar elsewhere. A byte-at-a-time loop in Swift was the reader's largest
// cost (one unpredictable branch per byte).
//
// Lines end in LF, CRLF or CR (docs/formats.md "CSV is RFC 4180"): a line ends at the first '\n' or
// '\r'; "\r\n" is one line end. A quoted field may hold commas and line breaks: these functions
// only report that a line has a '"' (the caller then parses the record with quoting rules), and
// `pm_csv_next_record` finds record starts with the same quoting grammar for splitting a file
// that has quotes into chunks.
#include "CKernels.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// One step's masks (bit k: byte i+k is a line end / comma / quote / not ASCII), shared by the SSE2
// and AVX2 loops: records the commas before the first line end and the flags; returns 1 when the
// line ends in this step (then `*lineLength` and `*flags` are set).
static inline __attribute__((always_inline))
int csv_step(unsigned mn, unsigned mc, unsigned mq, unsigned mh, size_t i, uint32_t *commas, size_t cap,
             size_t *n, int *quote, int *high, size_t *lineLength, int *flags) {
    if (mn) {
        const unsigned before = (mn & (0u - mn)) - 1;   // bits below the first line end
        mc &= before;
        mq &= before;
        mh &= before;
    }
    *quote |= mq != 0;
    *high |= mh != 0;
    while (mc) {
        if (*n < cap) commas[*n] = (uint32_t)(i + (size_t)__builtin_ctz(mc));
        (*n)++;
        mc &= mc - 1;
    }
    if (mn) {
        *lineLength = i + (size_t)__builtin_ctz(mn);
        *flags = *quote | (*high << 1);
        return 1;
    }
    return 0;
}

// The line scan from offset `i` on, `n` commas and the flags found before it: 16 bytes a step
// (SSE2), then byte by byte. Inlined into both entry points below.
static inline __attribute__((always_inline))
size_t csv_line_from(const uint8_t *p, size_t avail, uint32_t *commas, size_t cap, size_t *lineLength,
                     int *flags, size_t i, size_t n, int quote, int high) {
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'), cm = _mm_set1_epi8(','), qt = _mm_set1_epi8('"');
    while (i + 16 <= avail) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        unsigned mn = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, nl), _mm_cmpeq_epi8(v, cr)));
        unsigned mc = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cm));
        unsigned mq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, qt));
        unsigned mh = (unsigned)_mm_movemask_epi8(v);   // bytes ≥ 0x80 (not ASCII)
        if (csv_step(mn, mc, mq, mh, i, commas, cap, &n, &quote, &high, lineLength, flags)) return n;
        i += 16;
    }
#endif
    for (; i < avail; i++) {
        const uint8_t b = p[i];
        if (b == '\n' || b == '\r') break;
        if (b == ',') {
            if (n < cap) commas[n] = (uint32_t)i;
            n++;
        } else if (b == '"') {
            quote = 1;
        } else if (b >= 0x80) {
            high = 1;
        }
    }
    *lineLength = i;
    *flags = quote | (high << 1);
    return n;
}


#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
// 32 bytes a step (AVX2): a typical 40-byte row line is two steps instead of three. The same
// masks as the SSE2 loop, 32 bits wide.
__attribute__((target("avx2")))
static size_t csv_line_avx2(const uint8_t *p, size_t avail, uint32_t *commas, size_t cap,
                            size_t *lineLength, int *flags) {
    size_t n = 0, i = 0;
    int quote = 0, high = 0;
    const __m256i nl = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r'), cm = _mm256_set1_epi8(','),
                  qt = _mm256_set1_epi8('"');
    while (i + 32 <= avail) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(p + i));
        unsigned mn = (unsigned)_mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(v, nl), _mm256_cmpeq_epi8(v, cr)));
        unsigned mc = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, cm));
        unsigned mq = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, qt));
        unsigned mh = (unsigned)_mm256_movemask_epi8(v);   // bytes ≥ 0x80 (not ASCII)
        if (csv_step(mn, mc, mq, mh, i, commas, cap, &n, &quote, &high, lineLength, flags)) return n;
        i += 32;
    }
    return csv_line_from(p, avail, commas, cap, lineLength, flags, i, n, quote, high);
}
#define PM_CSV_LINE_AVX2 1
#endif

// Not inlined into `pm_csv_line`: that is called once a line, and with the scan inlined it saved
// and restored a frame's worth of registers every call even when it went to the AVX2 path.
__attribute__((noinline))
size_t pm_csv_line_baseline(const uint8_t *p, size_t avail, uint32_t *commas, size_t cap,
                            size_t *lineLength, int *flags) {
    return csv_line_from(p, avail, commas, cap, lineLength, flags, 0, 0, 0, 0);
}

size_t pm_csv_line(const uint8_t *p, size_t avail, uint32_t *commas, size_t cap,
                   size_t *lineLength, int *flags) {
#if defined(PM_CSV_LINE_AVX2)
    // Checked once (every thread that races here stores the same value).
    static int avx2 = -1;
    int have = __atomic_load_n(&avx2, __ATOMIC_RELAXED);
    if (have < 0) {
        have = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&avx2, have, __ATOMIC_RELAXED);
    }
    if (have) return csv_line_avx2(p, avail, commas, cap, lineLength, flags);
#endif
    return pm_csv_line_baseline(p, avail, commas, cap, lineLength, flags);
}

// The whole-buffer scan (`pm_csv_scan`): the separators of many lines in one call. A 64-byte
// block gives four masks (line feeds, carriage returns, commas, and "bad" bytes: '"' or ≥ 0x80);
// its separators are written out in order (one store per separator, no per-line call and no
// per-line branch on the line's end).
typedef struct { uint64_t lf, cr, comma, bad; } csv_masks;

static inline __attribute__((always_inline))
size_t csv_scan_blocks(const uint8_t *p, size_t avail, uint32_t *seps, size_t cap,
                       csv_masks (*masks)(const uint8_t *)) {
    size_t n = 0, lastEnd = 0, i = 0;
    uint64_t prevCR = 0;   // the previous block ended in '\r' (its '\n' here is not a line end)
    while (i + 64 <= avail && n + 64 <= cap) {
        const csv_masks m = masks(p + i);
        uint64_t ends = m.cr | (m.lf & ~((m.cr << 1) | prevCR));
        uint64_t s = m.comma | ends;
        prevCR = m.cr >> 63;
        if (m.bad) {
            // Only what comes before the first bad byte: its line is left to the caller.
            const uint64_t below = (m.bad & (0 - m.bad)) - 1;
            s &= below;
            ends &= below;
        }
        while (s) {
            const unsigned t = (unsigned)__builtin_ctzll(s);
            const uint32_t end = (uint32_t)((ends >> t) & 1);
            seps[n++] = (uint32_t)(i + t) | (end << 31);
            lastEnd = end ? n : lastEnd;
            s &= s - 1;
        }
        if (m.bad) break;
        i += 64;
    }
    return lastEnd;
}

static inline __attribute__((always_inline)) uint64_t csv_eq_bytes(const uint8_t *p, uint8_t c) {
    uint64_t m = 0;
    for (int k = 0; k < 64; k++) m |= (uint64_t)(p[k] == c) << k;
    return m;
}

static csv_masks csv_masks_plain(const uint8_t *p) {
    csv_masks m = {csv_eq_bytes(p, '\n'), csv_eq_bytes(p, '\r'), csv_eq_bytes(p, ','), csv_eq_bytes(p, '"')};
    for (int k = 0; k < 64; k++) m.bad |= (uint64_t)(p[k] >= 0x80) << k;
    return m;
}

__attribute__((noinline))
size_t pm_csv_scan_plain(const uint8_t *p, size_t avail, uint32_t *seps, size_t cap) {
    return csv_scan_blocks(p, avail, seps, cap, csv_masks_plain);
}

#if defined(__x86_64__) && defined(__SSE2__)
__attribute__((target("avx2")))
static inline csv_masks csv_masks_avx2(const uint8_t *p) {
    const __m256i nl = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r'), cm = _mm256_set1_epi8(','),
                  qt = _mm256_set1_epi8('"');
    const __m256i a = _mm256_loadu_si256((const __m256i *)p), b = _mm256_loadu_si256((const __m256i *)(p + 32));
#define PM_MASK64(x, y) ((uint64_t)(uint32_t)_mm256_movemask_epi8(x) | ((uint64_t)(uint32_t)_mm256_movemask_epi8(y) << 32))
    csv_masks m;
    m.lf = PM_MASK64(_mm256_cmpeq_epi8(a, nl), _mm256_cmpeq_epi8(b, nl));
    m.cr = PM_MASK64(_mm256_cmpeq_epi8(a, cr), _mm256_cmpeq_epi8(b, cr));
    m.comma = PM_MASK64(_mm256_cmpeq_epi8(a, cm), _mm256_cmpeq_epi8(b, cm));
    m.bad = PM_MASK64(_mm256_or_si256(a, _mm256_cmpeq_epi8(a, qt)), _mm256_or_si256(b, _mm256_cmpeq_epi8(b, qt)));
#undef PM_MASK64
    return m;
}

__attribute__((target("avx2")))
static size_t csv_scan_avx2(const uint8_t *p, size_t avail, uint32_t *seps, size_t cap) {
    return csv_scan_blocks(p, avail, seps, cap, csv_masks_avx2);
}
#endif

size_t pm_csv_scan(const uint8_t *p, size_t avail, uint32_t *seps, size_t cap) {
    if (avail > 0x7FFFFFFF) avail = 0x7FFFFFFF;   // offsets keep bit 31 for the line-end tag
#if defined(PM_CSV_LINE_AVX2)
    static int avx2 = -1;   // as in pm_csv_line
    int have = __atomic_load_n(&avx2, __ATOMIC_RELAXED);
    if (have < 0) {
        have = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&avx2, have, __ATOMIC_RELAXED);
    }
    if (have) return csv_scan_avx2(p, avail, seps, cap);
#endif
    return pm_csv_scan_plain(p, avail, seps, cap);
}

size_t pm_count_lines(const uint8_t *p, size_t n) {
    // Line ends: every '\n', and every '\r' not followed by '\n'. A '\r' at the very end counts
    // (callers never cut a range between the two bytes of a CRLF).
    size_t count = 0, i = 0;
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    for (; i + 17 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        const __m128i next = _mm_loadu_si128((const __m128i *)(p + i + 1));
        const unsigned mn = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl));
        const unsigned mr = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr));
        const unsigned crlf = mr & (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(next, nl));
        count += (size_t)__builtin_popcount(mn) + (size_t)__builtin_popcount(mr & ~crlf);
    }
#endif
    for (; i < n; i++) {
        if (p[i] == '\n') count++;
        else if (p[i] == '\r' && !(i + 1 < n && p[i + 1] == '\n')) count++;
    }
    if (n > 0 && p[n - 1] != '\n' && p[n - 1] != '\r') count++;   // a last line without its line end
    return count;
}

size_t pm_csv_next_record(const uint8_t *p, size_t n, size_t from, size_t target) {
    // The grammar of the record parser (CSVFile.parseQuotedRecord): a field is quoted only when
    // its first byte is '"'; inside, "" is a quote and anything else (commas, line breaks) is text;
    // after the closing quote the parser expects a comma or a line end (anything else is an error
    // it reports, and for record boundaries it counts as unquoted text, here as there).
    size_t i = from;
    int fieldStart = 1;
    while (i < n) {
        const uint8_t b = p[i];
        if (b == '"' && fieldStart) {
            i++;
            for (;;) {   // inside the quoted field
                if (i >= n) return n;   // unterminated: the rest of the file is one record
                if (p[i] == '"') {
                    if (i + 1 < n && p[i + 1] == '"') { i += 2; continue; }
                    i++;
                    break;
                }
                i++;
            }
            fieldStart = 0;
            continue;
        }
        if (b == ',') { fieldStart = 1; i++; continue; }
        if (b == '\n' || b == '\r') {
            i += (b == '\r' && i + 1 < n && p[i + 1] == '\n') ? 2 : 1;
            fieldStart = 1;
            if (i >= target) return i;
            continue;
        }
        fieldStart = 0;
        i++;
    }
    return n;
}

void pm_prefetch(const void *p) {
    __builtin_prefetch(p, 1, 3);
}
