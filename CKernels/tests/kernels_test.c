// The C kernels checked on their own, without Swift: every code path this build has against the
// scalar reference (black76_ref.c) and against plain loops written here, on many inputs. Built and
// run by scripts/test-arm64.sh natively and for aarch64 (under qemu-user), where only the scalar
// paths exist: there it checks that the dispatcher picks them and that the text kernels (CSV
// scanner, number formatter, hash, UTF-8 check) give the same answers as on x86-64.
//
// Prints one line per group and "kernels_test: ok"; exits 1 on the first failing group.
#include "CKernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (failures < 20) {                                                                   \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                               \
                fprintf(stderr, __VA_ARGS__);                                                      \
                fputc('\n', stderr);                                                               \
            }                                                                                      \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

// SplitMix64, the generator the Swift tests use.
static uint64_t rng_state;
static uint64_t next_u64(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double unit(void) { return (double)(next_u64() >> 11) * 0x1p-53; }

static const int paths[] = {0, 1, 2, 3};   // automatic, scalar, avx2, avx512 (dispatch.c)

// Every path of the batch pricer against the libm reference: 1e-13 relative, with an absolute
// floor of 1e-15·F (the reference's own cancellation near the money), as CKernels.h promises.
static void test_black76(void) {
    enum { N = 20000 };
    static double F[N], K[N], T[N], S[N], ref[N], out[N];
    static int8_t C[N];
    rng_state = 7;
    for (int i = 0; i < N; i++) {
        F[i] = 1 + unit() * 200000;
        K[i] = F[i] * (0.2 + unit() * 4.8);
        T[i] = 1e-7 + unit() * 3;
        S[i] = 0.01 + unit() * 4.99;
        C[i] = unit() < 0.5;
    }
    pm_black76_batch_ref(N, F, K, T, S, C, ref);
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        // Lengths that end inside a vector, and the whole batch.
        const size_t lengths[] = {1, 7, 15, 17, 33, N};
        for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++) {
            const size_t n = lengths[l];
            for (size_t i = 0; i < N; i++) out[i] = -1;
            pm_black76_batch_isa(paths[p], n, F, K, T, S, C, out);
            double worst = 0;
            for (size_t i = 0; i < n; i++) {
                const double err = fabs(out[i] - ref[i]);
                if (err > 1e-15 * F[i]) {
                    const double rel = err / fmax(fabs(ref[i]), 1e-300);
                    if (rel > worst) worst = rel;
                }
            }
            CHECK(worst <= 1e-13, "black76 path %s n %zu: worst relative error %g",
                  pm_kernel_isa_name(paths[p]), n, worst);
            if (n < N) CHECK(out[n] == -1, "black76 path %s wrote past n %zu", pm_kernel_isa_name(paths[p]), n);
        }
    }
    // One option through the single-option greeks agrees with the batch reference exactly.
    for (int i = 0; i < 100; i++) {
        double price, delta, vega;
        pm_black76_greeks(F[i], K[i], T[i], S[i], C[i], &price, &delta, &vega);
        CHECK(fabs(price - ref[i]) <= 1e-13 * fmax(ref[i], F[i] * 1e-2), "greeks price %d: %.17g vs %.17g", i, price, ref[i]);
        CHECK(C[i] ? (delta >= 0 && delta <= 1) : (delta >= -1 && delta <= 0), "greeks delta %d: %g", i, delta);
        CHECK(vega >= 0, "greeks vega %d: %g", i, vega);
    }
    // N(x) to full relative precision (mpmath), and its exact ends.
    CHECK(fabs(pm_norm_cdf(-5) / 2.866515718791939116737523e-7 - 1) < 1e-14, "norm_cdf(-5)");
    CHECK(fabs(pm_norm_cdf(-20) / 2.753624118606233695075623e-89 - 1) < 1e-13, "norm_cdf(-20)");
    CHECK(fabs(pm_norm_cdf(0.3) - 0.6179114221889526) < 1e-15, "norm_cdf(0.3)");
    CHECK(pm_norm_cdf(-41) == 0 && pm_norm_cdf(41) == 1, "norm_cdf beyond ±40");
    printf("black76: %zu paths x 20000 options against the reference (automatic = %s)\n",
           sizeof paths / sizeof *paths, pm_kernel_isa());
}

// Risk arrays on every path against the scalar path (docs/model.md §3): each cell is a price
// difference times the settlement index, so the price tolerance scales with F·index.
static void test_risk_arrays(void) {
    enum { NO = 777, NM = 13 };
    const size_t nS = NM * 3;
    static double F[NO], K[NO], T[NO], up[NO], mid[NO], down[NO], scale[NO], mark[NO], idx[NO];
    static int8_t C[NO];
    static double ref[NO * NM * 3], out[NO * NM * 3];
    double moves[NM];
    for (int k = 0; k < NM; k++) moves[k] = -0.3 + 0.05 * k;
    rng_state = 11;
    for (int i = 0; i < NO; i++) {
        F[i] = 100 + unit() * 100000;
        K[i] = F[i] * (0.3 + unit() * 2);
        T[i] = 1e-4 + unit() * 2;
        mid[i] = 0.1 + unit() * 1.5;
        up[i] = mid[i] * 1.3;
        down[i] = mid[i] * 0.7;
        scale[i] = 0.5 + unit();
        mark[i] = unit() * F[i] * 0.1;
        idx[i] = unit() < 0.5 ? 1 : 1 / F[i];
        C[i] = unit() < 0.5;
    }
    pm_risk_arrays_isa(1, NO, NM, moves, F, K, T, up, mid, down, scale, C, mark, idx, ref);
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        pm_risk_arrays_isa(paths[p], NO, NM, moves, F, K, T, up, mid, down, scale, C, mark, idx, out);
        size_t bad = 0;
        for (size_t i = 0; i < NO; i++)
            for (size_t s = 0; s < nS; s++) {
                const double a = out[i * nS + s], b = ref[i * nS + s];
                if (!(fabs(a - b) <= 1e-13 * 2 * F[i] * idx[i])) bad++;
            }
        CHECK(bad == 0, "risk arrays path %s: %zu cells off", pm_kernel_isa_name(paths[p]), bad);
    }
    printf("risk arrays: %zu paths x %d options x %zu scenarios against the scalar path\n",
           sizeof paths / sizeof *paths, NO, nS);
}

// The portfolio gather: every path gives the bits of a plain multiply-then-add in holding order
// (this file is compiled without contraction, like the kernels), and writes nothing past nS.
static void test_gather(void) {
    rng_state = 3;
    const size_t grids[] = {3, 9, 21, 33, 39, 40, 41, 63, 120};
    enum { ROWS = 50 };
    for (size_t g = 0; g < sizeof grids / sizeof *grids; g++) {
        const size_t nS = grids[g];
        double *block = malloc(ROWS * nS * sizeof *block);
        for (size_t i = 0; i < ROWS * nS; i++) block[i] = (unit() - 0.5) * 1000;
        int32_t row[ROWS];
        for (int r = 0; r < ROWS; r++) row[r] = (r * 7) % ROWS;
        const size_t counts[] = {0, 1, 5, 200};
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
            const size_t count = counts[c];
            int32_t instr[200];
            double size[200];
            for (size_t e = 0; e < count; e++) {
                instr[e] = (int32_t)(next_u64() % ROWS);
                size[e] = (unit() - 0.5) * 10;
            }
            double plain[121] = {0};
            for (size_t e = 0; e < count; e++)
                for (size_t s = 0; s < nS; s++) plain[s] += size[e] * block[(size_t)row[instr[e]] * nS + s];
            for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
                double out[121];
                for (size_t s = 0; s < nS; s++) out[s] = NAN;
                out[nS] = 42;
                pm_gather_pnl_isa(paths[p], out, nS, block, row, instr, size, count);
                for (size_t s = 0; s < nS; s++)
                    CHECK(memcmp(&out[s], &plain[s], sizeof(double)) == 0, "gather %s nS %zu count %zu s %zu",
                          pm_kernel_isa_name(paths[p]), nS, count, s);
                CHECK(out[nS] == 42, "gather %s nS %zu wrote past the grid", pm_kernel_isa_name(paths[p]), nS);
            }
        }
        free(block);
    }
    printf("gather: %zu grids x 4 portfolio sizes, bit for bit on every path\n", sizeof grids / sizeof *grids);
}

// The CSV line scanner (both entry points) against a byte loop, on lines built from the bytes
// that matter (',', '"', line ends, a byte ≥ 0x80) at every length around the 16- and 32-byte steps.
static size_t plain_csv_line(const uint8_t *p, size_t avail, uint32_t *commas, size_t cap,
                             size_t *lineLength, int *flags) {
    size_t n = 0, i = 0;
    int f = 0;
    for (; i < avail && p[i] != '\n' && p[i] != '\r'; i++) {
        if (p[i] == ',') { if (n < cap) commas[n] = (uint32_t)i; n++; }
        if (p[i] == '"') f |= PM_CSV_QUOTE;
        if (p[i] >= 0x80) f |= PM_CSV_NON_ASCII;
    }
    *lineLength = i;
    *flags = f;
    return n;
}

static size_t plain_count_lines(const uint8_t *p, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\n' || (p[i] == '\r' && !(i + 1 < n && p[i + 1] == '\n'))) count++;
    if (n > 0 && p[n - 1] != '\n' && p[n - 1] != '\r') count++;
    return count;
}

// The whole-buffer scan against the line scanner: its entries are the commas and line ends of a
// prefix of whole, clean lines (no '"', no byte ≥ 0x80), line by line as `plain_csv_line` splits
// them; both entry points agree; and a clean first line that ends in the first block is taken.
static void test_csv_scan(void) {
    rng_state = 11;
    static const uint8_t alphabet[] = {',', ',', ',', '\n', '\n', '\r', '"', 0xc3, '0'};
    enum { MAXLEN = 400 };
    uint8_t buf[MAXLEN];
    uint32_t got[512], plain[512], commas[MAXLEN];
    size_t cases = 0, taken = 0;
    for (int trial = 0; trial < 100000; trial++) {
        const size_t avail = next_u64() % MAXLEN;
        const unsigned rare = 1 + (unsigned)(next_u64() % 200);   // how rare '"' and 0xc3 are
        for (size_t i = 0; i < avail; i++) {
            const uint64_t r = next_u64();
            uint8_t b = (r % 6 == 0) ? alphabet[(r >> 8) % 6] : (uint8_t)('a' + (r >> 16) % 26);
            if ((r >> 24) % rare == 0) b = alphabet[6 + (r >> 32) % 2];
            buf[i] = b;
        }
        const size_t cap = 64 + next_u64() % 448;
        const size_t n = pm_csv_scan(buf, avail, got, cap);
        const size_t nPlain = pm_csv_scan_plain(buf, avail, plain, cap);
        CHECK(n == nPlain && memcmp(got, plain, n * sizeof *got) == 0, "csv_scan vs plain trial %d", trial);
        CHECK(n <= cap, "csv_scan trial %d wrote past cap", trial);
        size_t k = 0, at = 0;
        while (k < n) {
            size_t len;
            int flags;
            const size_t c = plain_csv_line(buf + at, avail - at, commas, MAXLEN, &len, &flags);
            CHECK(flags == 0 && at + len < avail, "csv_scan trial %d: line at %zu not clean and whole", trial, at);
            for (size_t j = 0; j < c; j++, k++)
                CHECK(k < n && got[k] == (uint32_t)(at + commas[j]), "csv_scan trial %d comma %zu", trial, k);
            CHECK(k < n && got[k] == ((uint32_t)(at + len) | PM_CSV_SEP_END), "csv_scan trial %d end %zu", trial, k);
            k++;
            at += len + ((buf[at + len] == '\r' && at + len + 1 < avail && buf[at + len + 1] == '\n') ? 2 : 1);
        }
        size_t len;
        int flags;
        plain_csv_line(buf, avail, commas, MAXLEN, &len, &flags);
        if (flags == 0 && len < 64 && avail >= 64) { CHECK(n > 0, "csv_scan trial %d: a clean first line not taken", trial); }
        taken += n > 0;
        cases++;
    }
    printf("csv_scan: %zu random buffers (%zu with lines taken), both entry points, against the line scanner\n", cases, taken);
}

static void test_csv(void) {
    // Samples with known answers.
    {
        const char *line = "acct1,BTC-27JUN25-60000-C,1.5\nnext";
        uint32_t commas[8];
        size_t len;
        int flags;
        size_t n = pm_csv_line((const uint8_t *)line, strlen(line), commas, 8, &len, &flags);
        CHECK(n == 2 && commas[0] == 5 && commas[1] == 25 && len == 29 && flags == 0, "csv sample 1");
        const char *quoted = "a,\"b,c\",\xc3\xa9\r\n";
        n = pm_csv_line((const uint8_t *)quoted, strlen(quoted), commas, 8, &len, &flags);
        CHECK(n == 3 && len == 10 && flags == (PM_CSV_QUOTE | PM_CSV_NON_ASCII), "csv sample 2: n %zu len %zu flags %d", n, len, flags);
        const char *lines = "a\nb\r\nc\rd";
        CHECK(pm_count_lines((const uint8_t *)lines, strlen(lines)) == 4, "count_lines sample");
        const char *records = "h1,h2\n\"x\ny\",1\nz,2\n";
        // From the header, the first record start at or after offset 7 (inside the quoted field) is 14.
        CHECK(pm_csv_next_record((const uint8_t *)records, strlen(records), 0, 7) == 14, "next_record over a quoted line break");
        CHECK(pm_csv_next_record((const uint8_t *)records, strlen(records), 0, 1) == 6, "next_record first");
        CHECK(pm_csv_next_record((const uint8_t *)records, strlen(records), 0, 19) == strlen(records), "next_record none");
    }
    rng_state = 5;
    static const uint8_t alphabet[] = {'a', '0', '.', ',', ',', '"', '\n', '\r', 0xc3, 'x', 'y', '-'};
    enum { MAXLEN = 100 };
    uint8_t buf[MAXLEN];
    size_t cases = 0;
    for (int trial = 0; trial < 50000; trial++) {
        const size_t avail = next_u64() % MAXLEN;
        // Mostly plain bytes with an occasional special one, so lines are long enough to reach the vector steps.
        for (size_t i = 0; i < avail; i++) {
            const uint64_t r = next_u64();
            buf[i] = (r % 8 == 0) ? alphabet[(r >> 8) % sizeof alphabet] : (uint8_t)('a' + (r >> 16) % 26);
        }
        const size_t cap = next_u64() % 12;
        uint32_t want[16], got[16], base[16];
        size_t wantLen, gotLen, baseLen;
        int wantFlags, gotFlags, baseFlags;
        const size_t nWant = plain_csv_line(buf, avail, want, cap, &wantLen, &wantFlags);
        const size_t nGot = pm_csv_line(buf, avail, got, cap, &gotLen, &gotFlags);
        const size_t nBase = pm_csv_line_baseline(buf, avail, base, cap, &baseLen, &baseFlags);
        CHECK(nGot == nWant && gotLen == wantLen && gotFlags == wantFlags, "csv_line trial %d", trial);
        CHECK(nBase == nWant && baseLen == wantLen && baseFlags == wantFlags, "csv_line_baseline trial %d", trial);
        const size_t stored = nWant < cap ? nWant : cap;
        CHECK(memcmp(got, want, stored * sizeof *want) == 0, "csv_line commas trial %d", trial);
        CHECK(memcmp(base, want, stored * sizeof *want) == 0, "csv_line_baseline commas trial %d", trial);
        CHECK(pm_count_lines(buf, avail) == plain_count_lines(buf, avail), "count_lines trial %d", trial);
        cases++;
    }
    printf("csv: samples, and %zu random lines through both scanners and the line counter\n", cases);
    test_csv_scan();
}

// The number formatter: the layout of Swift's Double.description on samples, and on random bit
// patterns the shortest digits that read back to the same double, laid out the same way.
static const char *format(double v, char *out) {
    size_t n = pm_format_double(v, out);
    out[n] = 0;
    return out;
}

// The expected text from printf's correctly rounded digits: the fewest significant digits (1…17)
// that read back to v, in Swift's layout (fixed from 1e-4 up to 2^53, else d.ddde±XX).
static void expected_text(double v, char *out) {
    char digits[40];
    int p = 1;
    for (; p <= 17; p++) {
        snprintf(digits, sizeof digits, "%.*e", p - 1, v);
        if (strtod(digits, NULL) == v) break;
    }
    // digits = "[-]d[.ddd]e±XX"
    const char *s = digits;
    char *o = out;
    if (*s == '-') *o++ = *s++;
    char mant[20];
    int m = 0;
    for (; *s != 'e'; s++)
        if (*s != '.') mant[m++] = *s;
    mant[m] = 0;
    const int exp10 = atoi(s + 1);
    const double a = fabs(v);
    if (a >= 1e-4 && a <= 0x1p53) {
        if (exp10 < 0) {
            o += sprintf(o, "0.");
            for (int i = 0; i < -exp10 - 1; i++) *o++ = '0';
            o += sprintf(o, "%s", mant);
        } else {
            for (int i = 0; i <= exp10; i++) *o++ = i < m ? mant[i] : '0';
            *o++ = '.';
            if (exp10 + 1 < m) o += sprintf(o, "%s", mant + exp10 + 1);
            else *o++ = '0';
        }
        *o = 0;
    } else {
        *o++ = mant[0];
        if (m > 1) { *o++ = '.'; o += sprintf(o, "%s", mant + 1); }
        sprintf(o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    }
}

static void test_format(void) {
    static const struct { double v; const char *text; } cases[] = {
        {1, "1.0"}, {0.1, "0.1"}, {100, "100.0"}, {1e15, "1000000000000000.0"}, {1e16, "1e+16"},
        {9007199254740992.0, "9007199254740992.0"}, {9007199254740994.0, "9.007199254740994e+15"},
        {1e-4, "0.0001"}, {1e-5, "1e-05"}, {0.00012345, "0.00012345"}, {2.5e-7, "2.5e-07"},
        {4.9406564584124654e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
        {1e100, "1e+100"}, {-1.5e-5, "-1.5e-05"}, {2.0 / 3.0, "0.6666666666666666"},
        {123456789012.5, "123456789012.5"}, {0.0, "0.0"}, {-0.0, "-0.0"},
    };
    char out[PM_FORMAT_DOUBLE_ROOM + 1], want[64];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK(strcmp(format(cases[i].v, out), cases[i].text) == 0, "format %s printed %s", cases[i].text, out);
    CHECK(strcmp(format(INFINITY, out), "inf") == 0 && strcmp(format(-INFINITY, out), "-inf") == 0, "format inf");
    CHECK(strcmp(format(NAN, out), "nan") == 0, "format nan");
    rng_state = 42;
    size_t checked = 0;
    for (int i = 0; i < 50000; i++) {
        double v;
        uint64_t bits = next_u64() & 0x7fefffffffffffffULL;
        // Half the values near the outputs' own range (cents, prices, margins), half any finite double.
        if (i % 2) { memcpy(&v, &bits, sizeof v); }
        else { v = (double)(int64_t)(next_u64() % 100000000000ULL) / ((i / 2) % 3 == 0 ? 100.0 : 1e6); }
        if (v == 0) continue;
        for (int sign = 0; sign < 2; sign++, v = -v) {
            expected_text(v, want);
            CHECK(strcmp(format(v, out), want) == 0, "format %.17g printed %s, want %s", v, out, want);
            CHECK(strtod(out, NULL) == v, "format %.17g does not read back", v);
            checked++;
        }
    }
    printf("format: %zu samples, %zu random doubles (shortest round trip, Swift's layout)\n",
           sizeof cases / sizeof *cases + 3, checked);
}

// XXH64 against the reference implementation's published values, and streamed in pieces equal
// to one call; the UTF-8 check on samples.
static void test_hash_and_utf8(void) {
    CHECK(pm_xxh64((const uint8_t *)"", 0, 0) == 0xEF46DB3751D8E999ULL, "xxh64 empty");
    CHECK(pm_xxh64((const uint8_t *)"a", 1, 0) == 0xD24EC4F1A98C6E5BULL, "xxh64 a");
    CHECK(pm_xxh64((const uint8_t *)"abc", 3, 0) == 0x44BC2CF5AD770999ULL, "xxh64 abc");
    rng_state = 9;
    static uint8_t data[1000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)next_u64();
    for (size_t n = 0; n <= sizeof data; n += 37) {
        const uint64_t whole = pm_xxh64(data, n, 0);
        pm_xxh64_state s;
        pm_xxh64_init(&s, 0);
        size_t done = 0;
        // Feed in uneven pieces; each call consumes whole stripes, the rest is carried over.
        while (n - done >= 32) {
            size_t piece = 32 + (next_u64() % 100);
            if (piece > n - done) piece = n - done;
            done += pm_xxh64_stripes(&s, data + done, piece);
        }
        CHECK(pm_xxh64_finish(&s, data + done, n - done) == whole, "xxh64 streamed n %zu", n);
    }
    CHECK(pm_utf8_valid((const uint8_t *)"plain", 5) == 1, "utf8 ascii");
    CHECK(pm_utf8_valid((const uint8_t *)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9) == 1, "utf8 é € 😀");
    CHECK(pm_utf8_valid((const uint8_t *)"\xc0\xaf", 2) == 0, "utf8 overlong");
    CHECK(pm_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3) == 0, "utf8 surrogate");
    CHECK(pm_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4) == 0, "utf8 above U+10FFFF");
    CHECK(pm_utf8_valid((const uint8_t *)"\xe2\x82", 2) == 0, "utf8 truncated");
    printf("xxh64 and utf-8: published vectors, streamed pieces, samples\n");
}


// A backtest loss: mostly moderate, with the edge values the passes must agree on — exact ties
// (with mm, with each other), ±0, halves of a quantum (rounding ties), values around the 64-bit
// fast path's bound 2^51 quanta = 2^19 USD, and (when `special`) NaN and ±inf.
static double backtest_value(double mm, int special) {
    uint64_t k = next_u64() % 16;
    switch (k) {
    case 0: return mm;
    case 1: return -mm;
    case 2: return (next_u64() & 1) ? 0.0 : -0.0;
    case 3: return ((double)(int64_t)(next_u64() % 2001) - 1000.0 + 0.5) * 0x1p-32;   // a tie in quanta
    case 4: return (next_u64() & 1 ? 1 : -1) * (0x1p19 - 0x1p-32 * (double)(next_u64() % 3));
    case 5: return (next_u64() & 1 ? 1 : -1) * (0x1p19 + 0x1p-33 * (double)(next_u64() % 3));
    case 6: return (unit() - 0.5) * 0x1p40;
    case 7:
        if (!special) return 3.0;
        switch (next_u64() % 3) { case 0: return NAN; case 1: return INFINITY; default: return -INFINITY; }
    default: return (unit() - 0.5) * 2 * mm * 1.5;
    }
}

static unsigned __int128 wide_at(const uint64_t *w, size_t q) {
    return ((unsigned __int128)w[2 * q + 1] << 64) | w[2 * q];
}

static void test_backtest(void) {
    static const size_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 63, 64, 65, 127, 128, 129, 130, 1973};
    size_t cases = 0;
    rng_state = 404;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t nS = sizes[si];
        size_t cap = nS ? nS : 1, words = (nS + 63) / 64 + 1;
        double *pnl = malloc(cap * sizeof(double)), *move = malloc(cap * sizeof(double));
        double *acc[4], *loss = malloc(cap * sizeof(double));
        int64_t *bm[4], *bi[4], *fl[4], *fs[4];
        uint64_t *wl[4], *ws[4], *bits = malloc(words * sizeof(uint64_t));
        for (int p = 0; p < 4; p++) {
            acc[p] = malloc(cap * sizeof(double));
            bm[p] = malloc(cap * 8); bi[p] = malloc(cap * 8); fl[p] = malloc(cap * 8); fs[p] = malloc(cap * 8);
            wl[p] = malloc(cap * 16); ws[p] = malloc(cap * 16);
        }
        for (int trial = 0; trial < 200; trial++, cases++) {
            double mm = trial % 5 == 0 ? 0 : unit() * 1000;
            int special = trial % 4 == 3;
            double hedge = trial % 3 == 0 ? 0 : (unit() - 0.5) * 4;
            for (size_t q = 0; q < nS; q++) {
                pnl[q] = backtest_value(mm, special);
                move[q] = (unit() - 0.5) * 100;
                loss[q] = backtest_value(mm, special);
            }
            for (int p = 0; p < 4; p++) {
                for (size_t q = 0; q < nS; q++) {
                    acc[p][q] = loss[q];
                    bm[p][q] = bi[p][q] = fl[p][q] = fs[p][q] = 0;
                    wl[p][2 * q] = ws[p][2 * q] = 5;                   // 128-bit 5 …
                    wl[p][2 * q + 1] = ws[p][2 * q + 1] = (uint64_t)-1;   // … − 2^64
                }
            }
            pm_backtest_stats ref, got;
            pm_backtest_unit_isa(1, nS, pnl, move, hedge, mm, acc[1], &ref);
            for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
                int p = paths[i];
                if (p == 1) continue;
                pm_backtest_unit_isa(p, nS, pnl, move, hedge, mm, acc[p], &got);
                CHECK(got.breaches == ref.breaches && got.n00 == ref.n00 && got.n01 == ref.n01 &&
                      got.n10 == ref.n10 && got.n11 == ref.n11 && got.worstAt == ref.worstAt &&
                      memcmp(&got.worst, &ref.worst, 8) == 0 && got.finite == ref.finite,
                      "backtest unit path %d nS %zu trial %d: %lld/%lld %lld/%lld worst %g@%lld / %g@%lld finite %d/%d",
                      p, nS, trial, (long long)got.breaches, (long long)ref.breaches, (long long)got.n11,
                      (long long)ref.n11, got.worst, (long long)got.worstAt, ref.worst, (long long)ref.worstAt,
                      got.finite, ref.finite);
                CHECK(nS == 0 || memcmp(acc[p], acc[1], nS * sizeof(double)) == 0, "backtest unit path %d nS %zu: account loss", p, nS);
            }
            // The transitions by their definition, as a plain check of the reference.
            int64_t n[2][2] = {{0, 0}, {0, 0}}, b = 0;
            for (size_t q = 0; q < nS; q++) {
                double u = pnl[q];
                if (hedge != 0) { double v = hedge * move[q]; if (hedge < 0 && !(v >= 0)) v = 0; u += v; }
                int x = -u > mm;
                b += x;
                if (q > 0) { double w = pnl[q - 1]; if (hedge != 0) { double v = hedge * move[q - 1]; if (hedge < 0 && !(v >= 0)) v = 0; w += v; } n[-w > mm][x]++; }
            }
            CHECK(ref.breaches == b && ref.n00 == n[0][0] && ref.n01 == n[0][1] && ref.n10 == n[1][0] && ref.n11 == n[1][1],
                  "backtest unit reference nS %zu: transitions", nS);

            double totalMM = mm, totalIM = mm * 1.25;
            double maxLoss = trial % 7 == 6 ? 0x1p18 : 0x1p64;
            int okRef = pm_backtest_account_isa(1, nS, loss, totalMM, totalIM, maxLoss, bm[1], bi[1], fl[1], wl[1], fs[1], ws[1], &ref);
            for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
                int p = paths[i];
                if (p == 1) continue;
                int ok = pm_backtest_account_isa(p, nS, loss, totalMM, totalIM, maxLoss, bm[p], bi[p], fl[p], wl[p], fs[p], ws[p], &got);
                CHECK(ok == okRef, "backtest account path %d nS %zu trial %d: ok %d/%d", p, nS, trial, ok, okRef);
                if (!ok || !okRef) continue;
                CHECK(got.breaches == ref.breaches && got.n00 == ref.n00 && got.n01 == ref.n01 &&
                      got.n10 == ref.n10 && got.n11 == ref.n11 && got.breachesIM == ref.breachesIM &&
                      got.worstAt == ref.worstAt && memcmp(&got.worst, &ref.worst, 8) == 0,
                      "backtest account path %d nS %zu trial %d: stats", p, nS, trial);
                for (size_t q = 0; q < nS; q++) {
                    CHECK(bm[p][q] == bm[1][q] && bi[p][q] == bi[1][q], "backtest account path %d nS %zu q %zu: counts", p, nS, q);
                    CHECK(wide_at(wl[p], q) + (unsigned __int128)(__int128)fl[p][q] == wide_at(wl[1], q) + (unsigned __int128)(__int128)fl[1][q],
                          "backtest account path %d nS %zu q %zu: loss sum (x = %a)", p, nS, q, loss[q]);
                    CHECK(wide_at(ws[p], q) + (unsigned __int128)(__int128)fs[p][q] == wide_at(ws[1], q) + (unsigned __int128)(__int128)fs[1][q],
                          "backtest account path %d nS %zu q %zu: shortfall sum", p, nS, q);
                }
            }
            // The reference's quanta by an independent rule on values whose quanta are exact in a double.
            if (okRef) {
                for (size_t q = 0; q < nS; q++) {
                    double y = loss[q] * 0x1p32;
                    if (!(fabs(y) < 0x1p52)) continue;
                    double fl0 = floor(y), r = y - fl0 > 0.5 ? fl0 + 1 : (y - fl0 < 0.5 ? fl0 : (fmod(fl0, 2) == 0 ? fl0 : fl0 + 1));
                    __int128 want = (__int128)(int64_t)r + 5 - ((__int128)1 << 64);
                    CHECK((__int128)(wide_at(wl[1], q) + (unsigned __int128)(__int128)fl[1][q]) == want,
                          "backtest account reference q %zu: quanta of %a", q, loss[q]);
                }
            }
        }
        for (int p = 0; p < 4; p++) { free(acc[p]); free(bm[p]); free(bi[p]); free(fl[p]); free(fs[p]); free(wl[p]); free(ws[p]); }
        free(pnl); free(move); free(loss); free(bits);
    }
    printf("backtest: %zu unit and account passes (S = 0 … 1973, NaN/inf, ties, the 2^51-quanta bound) on every path\n", cases);
}

static int same_stats(const pm_backtest_stats *x, const pm_backtest_stats *y) {
    return x->breaches == y->breaches && x->n00 == y->n00 && x->n01 == y->n01 && x->n10 == y->n10 &&
           x->n11 == y->n11 && x->breachesIM == y->breachesIM && memcmp(&x->worst, &y->worst, 8) == 0 &&
           x->worstAt == y->worstAt && x->finite == y->finite;
}

// The block pass reading the tiled table (pm_backtest_tile_table) against the scalar path reading
// the table in place: odd scenario counts (a last tile of 1 … 39 lanes, or none), odd row counts,
// NaN and ±inf in the table (units not finite, the account failed) and losses beyond maxLoss.
static void test_backtest_block(void) {
    static const size_t sizes[] = {1, 2, 39, 40, 41, 79, 80, 81, 1973};
    static const size_t rowCounts[] = {1, 3, 17};
    size_t cases = 0;
    rng_state = 505;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        for (size_t ri = 0; ri < sizeof rowCounts / sizeof *rowCounts; ri++) {
            const size_t nS = sizes[si], rows = rowCounts[ri], instruments = rows + 2, accounts = 37, coins = 2;
            double *table = malloc(rows * nS * sizeof(double)), *move = malloc(coins * nS * sizeof(double));
            double *tiles = malloc(pm_backtest_tiles_count(rows, nS) * sizeof(double));
            int32_t row[instruments];
            for (size_t i = 0; i < instruments; i++) row[i] = i < rows ? (int32_t)(rows - 1 - i) : -1;
            for (size_t q = 0; q < rows * nS; q++) {
                uint64_t k = next_u64() % 500;
                table[q] = k == 0 ? NAN : k == 1 ? INFINITY : k == 2 ? 0x1p70 : (unit() - 0.5) * 200;
            }
            for (size_t q = 0; q < coins * nS; q++) move[q] = (unit() - 0.5) * 50;
            pm_backtest_tile_table(table, rows, nS, tiles);
            // The layout: tile t of row r at (t · rows + r) · 40, zeros past the last scenario.
            size_t tileCount = (nS + PM_BACKTEST_TILE - 1) / PM_BACKTEST_TILE, bad = 0;
            CHECK(pm_backtest_tiles_count(rows, nS) == tileCount * rows * PM_BACKTEST_TILE, "backtest tiles count nS %zu", nS);
            for (size_t t = 0; t < tileCount; t++)
                for (size_t r = 0; r < rows; r++)
                    for (size_t k = 0; k < PM_BACKTEST_TILE; k++) {
                        size_t q = t * PM_BACKTEST_TILE + k;
                        double want = q < nS ? table[r * nS + q] : 0, got = tiles[(t * rows + r) * PM_BACKTEST_TILE + k];
                        bad += memcmp(&want, &got, 8) != 0;
                    }
            CHECK(bad == 0, "backtest tiled table nS %zu rows %zu: %zu values misplaced", nS, rows, bad);

            int64_t accountUnits[accounts + 1], unitEntry[4 * accounts], unitEntries[4 * accounts], unitCoin[4 * accounts];
            double unitHedge[4 * accounts], unitMM[4 * accounts], totalMM[accounts], totalIM[accounts];
            int32_t instr[40 * accounts];
            double size[40 * accounts];
            uint8_t active[accounts];
            size_t units = 0, entries = 0;
            accountUnits[0] = 0;
            for (size_t a = 0; a < accounts; a++) {
                active[a] = a % 11 != 5;
                for (size_t u = 0, nu = 1 + next_u64() % 4; u < nu; u++, units++) {
                    unitEntry[units] = (int64_t)entries;
                    size_t ne = next_u64() % 9;   // 0 … 8 entries
                    for (size_t e = 0; e < ne; e++, entries++) {
                        instr[entries] = (int32_t)(next_u64() % rows);
                        size[entries] = (unit() - 0.5) * (a == 7 ? 1e300 : 20);
                    }
                    unitEntries[units] = (int64_t)ne;
                    unitCoin[units] = (int64_t)(next_u64() % coins);
                    unitHedge[units] = units % 3 == 0 ? 0 : (unit() - 0.5) * 4;
                    unitMM[units] = unit() * 100;
                }
                accountUnits[a + 1] = (int64_t)units;
                totalMM[a] = unit() * 300;
                totalIM[a] = totalMM[a] * 1.5;
            }
            pm_backtest_block block = {
                .scenarios = nS, .table = table, .row = row, .instr = instr, .size = size, .move = move,
                .accounts = accounts, .accountUnits = accountUnits, .unitEntry = unitEntry, .unitEntries = unitEntries,
                .unitCoin = unitCoin, .unitHedge = unitHedge, .unitMM = unitMM, .active = active,
                .totalMM = totalMM, .totalIM = totalIM, .maxLoss = 0x1p64, .flushEvery = 3, .tiles = NULL, .tableRows = rows};
            pm_backtest_stats refUnit[4 * accounts], refAccount[accounts], gotUnit[4 * accounts], gotAccount[accounts];
            uint8_t refFailed[accounts], gotFailed[accounts];
            int64_t *refBM = calloc(nS, 8), *refBI = calloc(nS, 8), *gotBM = calloc(nS, 8), *gotBI = calloc(nS, 8);
            uint64_t *refWL = calloc(2 * nS, 8), *refWS = calloc(2 * nS, 8), *gotWL = calloc(2 * nS, 8), *gotWS = calloc(2 * nS, 8);
            size_t refFailures = pm_backtest_block_isa(1, &block, refUnit, refAccount, refFailed, refBM, refBI, refWL, refWS);
            for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
                block.tiles = tiles;
                memset(gotBM, 0, nS * 8); memset(gotBI, 0, nS * 8); memset(gotWL, 0, 16 * nS); memset(gotWS, 0, 16 * nS);
                size_t gotFailures = pm_backtest_block_isa(paths[i], &block, gotUnit, gotAccount, gotFailed, gotBM, gotBI, gotWL, gotWS);
                block.tiles = NULL;
                size_t diff = gotFailures != refFailures;
                for (size_t a = 0; a < accounts; a++) {
                    if (!active[a]) continue;
                    diff += gotFailed[a] != refFailed[a];
                    if (!refFailed[a]) diff += !same_stats(&gotAccount[a], &refAccount[a]);
                    for (int64_t u = accountUnits[a]; u < accountUnits[a + 1]; u++)
                        if (!refFailed[a]) diff += !same_stats(&gotUnit[u], &refUnit[u]);
                }
                diff += memcmp(gotBM, refBM, nS * 8) != 0 || memcmp(gotBI, refBI, nS * 8) != 0;
                diff += memcmp(gotWL, refWL, 16 * nS) != 0 || memcmp(gotWS, refWS, 16 * nS) != 0;
                CHECK(diff == 0, "backtest block tiled path %d nS %zu rows %zu: %zu differences", paths[i], nS, rows, diff);
                cases++;
            }
            free(table); free(move); free(tiles);
            free(refBM); free(refBI); free(gotBM); free(gotBI); free(refWL); free(refWS); free(gotWL); free(gotWS);
        }
    }
    printf("backtest block: %zu tiled passes (S = 1 … 1973, odd rows, NaN/inf, out of range) against the scalar in-place pass\n", cases);
}

int main(void) {
    test_black76();
    test_risk_arrays();
    test_gather();
    test_csv();
    test_format();
    test_hash_and_utf8();
    test_backtest();
    test_backtest_block();
    if (failures) {
        fprintf(stderr, "kernels_test: %d failures\n", failures);
        return 1;
    }
    printf("kernels_test: ok\n");
    return 0;
}
