// Shortest round-trip text of a double, byte for byte what Swift's `Double.description` prints
// (docs/model.md §11.17: numbers print in shortest round-trip form). The batch writes ~19 numbers per
// account; `description` allocates a String per number and was a third of the end-to-end time.
//
// Digits: Dragonbox (see `shortest`) — the shortest decimal in the rounding interval of the
// double, the closest one when several are as short, ties to even. The 128-bit powers of ten come
// from scripts/ckernels/gen_dtoa_tables.py.
// Layout (Swift's rules, checked against `description` by the tests on many millions of doubles):
// decimal notation when 1e-4 <= |v| <= 2^53 ("0.0001", "100.0", "9007199254740992.0"), otherwise
// d[.ddd]e±XX with at least two exponent digits ("1e-05", "1.2345678901234568e+17").
#include "CKernels.h"
#include "dtoa_tables.h"
#include <string.h>

typedef __uint128_t u128;

// floor(log10(2^e)), floor(log2(10^e)) and floor(log10(2^e · 3/4)) for the exponents of doubles
// (Dragonbox's fixed-point forms, exact for |e| well beyond ±1100).
static inline int32_t floorLog10Pow2(int32_t e) { return (e * 315653) >> 20; }
static inline int32_t floorLog2Pow10(int32_t e) { return (e * 1741647) >> 19; }
static inline int32_t floorLog10Pow2MinusLog10Of4Over3(int32_t e) { return (e * 631305 - 261663) >> 21; }

// The upper 128 bits of the 192-bit product x · cache (cache = {high, low}).
static inline u128 mulUpper128(uint64_t x, const uint64_t *cache) {
    return (u128)x * cache[0] + (((u128)x * cache[1]) >> 64);
}

// The parity bit and the "fraction is zero" test of x · cache · 2^beta (Dragonbox's
// compute_mul_parity): from the lower 128 bits of the 192-bit product.
static inline void mulParity(uint64_t x, const uint64_t *cache, int32_t beta, int *parity, int *isInteger) {
    const u128 lowProduct = (u128)x * cache[1];
    const uint64_t high = x * cache[0] + (uint64_t)(lowProduct >> 64);
    const uint64_t low = (uint64_t)lowProduct;
    *parity = (int)((high >> (64 - beta)) & 1);
    *isInteger = ((high << beta) | (low >> (64 - beta))) == 0;
}

static inline uint64_t rotr64(uint64_t n, unsigned r) { return (n >> r) | (n << ((64 - r) & 63)); }

// Strips the trailing decimal zeros of n (up to 15), adding their count to *e: branch-free
// divisibility tests by 10^8, 10^4, 10^2, 10 (multiplication by the modular inverse, rotated).
static inline void removeTrailingZeros(uint64_t *n, int32_t *e) {
    uint64_t s = *n, r;
    int b, count = 0;
    r = rotr64(s * 28999941890838049ull, 8);        b = r < 184467440738ull;        count = count * 2 + b; s = b ? r : s;
    r = rotr64(s * 182622766329724561ull, 4);       b = r < 1844674407370956ull;    count = count * 2 + b; s = b ? r : s;
    r = rotr64(s * 10330176681277348905ull, 2);     b = r < 184467440737095517ull;  count = count * 2 + b; s = b ? r : s;
    r = rotr64(s * 14757395258967641293ull, 1);     b = r < 1844674407370955162ull; count = count * 2 + b; s = b ? r : s;
    *n = s;
    *e += count;
}

// The shortest decimal digits of a finite, nonzero |v|: v = digits · 10^exponent; of several
// equally short, the closest; of two equally close, the even one (what `description` prints).
//
// Dragonbox (Junekey Jeon, "Dragonbox: A New Floating-Point Binary-to-Decimal Conversion
// Algorithm", 2020/2024; github.com/jk-jeon/dragonbox, its simple_dragonbox.h followed step for
// step, "nearest, ties to even" policies). It replaced Ryu here: Ryu multiplies three 128-bit
// products (the interval's ends and its centre) and then removes digits one division at a time;
// Dragonbox needs one 64×128 product for the common case, and the batch's numbers are mostly 16–17
// digits (units.csv: max_loss, mm, im…), where its "small divisor" step ends with one more
// multiplication. Same digits by definition (both print the shortest, closest, ties to even), and
// checked against `description` on hundreds of millions of doubles (NumberFormatDigitTests).
// Attribution and the reference's license: CKernels/NOTICE-dragonbox.txt.
static inline void shortest(uint64_t ieeeMantissa, uint32_t ieeeExponent, uint64_t *digits, int32_t *exponent) {
    const int isEven = (ieeeMantissa & 1) == 0;   // an even significand owns its interval's ends
    uint64_t twoFc = ieeeMantissa << 1;
    int32_t e2;
    if (ieeeExponent != 0) {
        e2 = (int32_t)ieeeExponent - 1023 - 52;
        if (twoFc == 0) {
            // A power of two: the interval below is half as wide as above (Dragonbox's "shorter
            // interval case", Schubfach's way).
            const int32_t minusK = floorLog10Pow2MinusLog10Of4Over3(e2);
            const int32_t beta = e2 + floorLog2Pow10(-minusK);
            const uint64_t *cache = PM_POW10_CACHE[-minusK - PM_POW10_MIN_K];
            uint64_t xi = (cache[0] - (cache[0] >> 54)) >> (11 - beta);
            const uint64_t zi = (cache[0] + (cache[0] >> 53)) >> (11 - beta);
            if (!(e2 >= 2 && e2 <= 3)) ++xi;   // the left end is an integer only for e2 in 2…3
            uint64_t s = zi / 10;
            if (s * 10 >= xi) {
                int32_t e = minusK + 1;
                removeTrailingZeros(&s, &e);
                *digits = s; *exponent = e;
                return;
            }
            s = ((cache[0] >> (10 - beta)) + 1) / 2;   // the round-up of the centre
            if ((s & 1) && e2 == -77) --s;              // the only exponent where a tie occurs: to even
            else if (s < xi) ++s;
            *digits = s; *exponent = minusK;
            return;
        }
        twoFc |= 1ull << 53;
    } else {
        e2 = -1022 - 52;   // subnormal
    }

    // Step 1: the scaled right end zi (kappa = 2: 10^2 <= deltai < 10^3, the interval's width).
    const int32_t minusK = floorLog10Pow2(e2) - 2;
    const uint64_t *cache = PM_POW10_CACHE[-minusK - PM_POW10_MIN_K];
    const int32_t beta = e2 + floorLog2Pow10(-minusK);
    const uint64_t deltai = cache[0] >> (63 - beta);
    const u128 z = mulUpper128((twoFc | 1) << beta, cache);
    const uint64_t zi = (uint64_t)(z >> 64);
    const int zIsInteger = (uint64_t)z == 0;

    // Step 2: a multiple of 1000 in the interval is the shortest; strip its zeros.
    uint64_t s = (uint64_t)(((u128)zi * 4722366482869645214ull) >> 64) >> 8;   // zi / 1000
    uint64_t r = zi - 1000 * s;
    if (r < deltai) {
        if ((r | (uint64_t)!zIsInteger | (uint64_t)isEven) == 0) {
            --s;   // the right end itself, excluded (odd significand): the small-divisor step
            r = 1000;
            goto smallDivisor;
        }
    } else if (r > deltai) {
        goto smallDivisor;
    } else {
        int xParity, xIsInteger;   // r == deltai: compare the fractional parts of the ends
        mulParity(twoFc - 1, cache, beta, &xParity, &xIsInteger);
        if (!(xParity | (xIsInteger & isEven))) goto smallDivisor;
    }
    {
        int32_t e = minusK + 3;
        removeTrailingZeros(&s, &e);
        *digits = s; *exponent = e;
        return;
    }

smallDivisor:
    // Step 3: one digit more, the one closest to the centre (ties to even).
    s *= 10;
    {
        uint64_t dist = r - (deltai / 2) + 50;
        const int approxYParity = ((dist ^ 50) & 1) != 0;
        const uint32_t prod = (uint32_t)(dist * 656);   // dist / 100 and dist % 100 == 0, dist <= 1000
        const int divisible = (prod & 0xffff) < 656;
        s += prod >> 16;
        if (divisible) {
            int yParity, yIsInteger;
            mulParity(twoFc, cache, beta, &yParity, &yIsInteger);
            if (yParity != approxYParity) --s;
            else if ((s & 1) & (uint64_t)yIsInteger) --s;
        }
    }
    *digits = s;
    *exponent = minusK + 2;
}

static const uint64_t pow10Table[18] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
    10000000ull, 100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
    10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull};

// The number of decimal digits of 1 <= v < 10^17: log10 estimated from the bit length, then one
// comparison (the estimate is the exact count or one less).
static inline int decimalLength(uint64_t v) {
    const int t = ((64 - __builtin_clzll(v)) * 1233) >> 12;
    return t + (v >= pow10Table[t]);
}

static const char digitPairs[200] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

// The 8 digits of x < 10^8 (leading zeros included) into d[0…7], two at a time without division
// (J. Jeaiii's fixed-point method): y holds x / 10^6 in 32.32 fixed point, rounded up just enough
// that each multiplication by 100 brings the next two digits into the integer part exactly. The
// constants (2^51 / 10^6 + 2, shift 19, + 4) were checked against snprintf for every x < 10^8.
static inline void write8(uint32_t x, char *d) {
    uint64_t y = ((uint64_t)x * 2251799815u >> 19) + 4;
    memcpy(d, digitPairs + 2 * (y >> 32), 2); y = (uint64_t)(uint32_t)y * 100;
    memcpy(d + 2, digitPairs + 2 * (y >> 32), 2); y = (uint64_t)(uint32_t)y * 100;
    memcpy(d + 4, digitPairs + 2 * (y >> 32), 2); y = (uint64_t)(uint32_t)y * 100;
    memcpy(d + 6, digitPairs + 2 * (y >> 32), 2);
}

size_t pm_format_double(double value, char *out) {
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    const int negative = (int)(bits >> 63);
    const uint64_t mantissa = bits & ((1ull << 52) - 1);
    const uint32_t exponent = (uint32_t)((bits >> 52) & 0x7ff);
    char *p = out;
    if (negative) *p++ = '-';
    if (exponent == 0x7ff) {
        if (mantissa) { memcpy(out, "nan", 3); return 3; }
        memcpy(p, "inf", 3);
        return (size_t)(p - out) + 3;
    }
    if (exponent == 0 && mantissa == 0) {
        memcpy(p, "0.0", 3);
        return (size_t)(p - out) + 3;
    }
    uint64_t digits;
    int32_t e10;
    shortest(mantissa, exponent, &digits, &e10);
    // Digits are copied in fixed 16-byte blocks (no variable-length memcpy calls); `out` has room
    // for PM_FORMAT_DOUBLE_ROOM bytes, so the overshoot past the text is harmless.
    // The digits end at buf + 17: v < 10^17 is written as up to 17 digits, zero-padded on the left.
    char buf[48];
    const int n = decimalLength(digits);
    if (digits < 100000000ull) {
        write8((uint32_t)digits, buf + 9);
    } else {
        const uint64_t hi = digits / 100000000ull;   // < 10^9
        write8((uint32_t)(digits - hi * 100000000ull), buf + 9);
        const uint32_t top = (uint32_t)(hi / 100000000ull);
        write8((uint32_t)(hi - (uint64_t)top * 100000000ull), buf + 1);
        buf[0] = (char)('0' + top);
    }
    // The block copies below read past the digits (up to buf + 33): bytes that land past the text,
    // where later writes overwrite them. They were zeroed first; not zeroing them is 1.5 ns a
    // number less on the batch's values (24.6 vs 26.0 ns in a C loop), the returned text the same.
    const char *d = buf + 17 - n;
    const int32_t sci = e10 + n - 1;   // value = d[0].d[1…] × 10^sci
    const double magnitude = negative ? -value : value;
    if (sci < -4 || magnitude > 9007199254740992.0) {
        *p++ = d[0];
        if (n > 1) { *p++ = '.'; memcpy(p, d + 1, 16); p += n - 1; }
        *p++ = 'e';
        *p++ = sci < 0 ? '-' : '+';
        int32_t a = sci < 0 ? -sci : sci;
        if (a >= 100) { *p++ = (char)('0' + a / 100); a %= 100; }
        memcpy(p, digitPairs + 2 * a, 2);
        p += 2;
    } else if (sci < 0) {
        memcpy(p, "0.000", 5);   // "0." and up to three zeros (sci >= -4)
        p += 1 - sci;
        memcpy(p, d, 16); memcpy(p + 16, d + 16, 1); p += n;
    } else if (n <= sci + 1) {
        memcpy(p, d, 16);
        memcpy(p + n, "0000000000000000", 16);   // sci <= 15: at most 16 digits before the point
        p += sci + 1;
        *p++ = '.'; *p++ = '0';
    } else {
        memcpy(p, d, 16);
        p += sci + 1;
        *p++ = '.';
        memcpy(p, d + sci + 1, 16);
        p += n - sci - 1;
    }
    return (size_t)(p - out);
}
