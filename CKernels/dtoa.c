// Shortest round-trip text of a double, byte for byte what Swift's `Double.description` prints
// (MODEL.md §11.17: numbers print in shortest round-trip form). The batch writes ~19 numbers per
// account; `description` allocates a String per number and was a third of the end-to-end time.
//
// Digits: Ryu (Ulf Adams, "Ryū: fast float-to-string conversion", PLDI 2018) — the shortest
// decimal in the rounding interval of the double, the closest one when several are as short, ties
// to even. The 128-bit multipliers come from scripts/ckernels/gen_dtoa_tables.py.
// Layout (Swift's rules, checked against `description` by the tests on many millions of doubles):
// decimal notation when 1e-4 <= |v| <= 2^53 ("0.0001", "100.0", "9007199254740992.0"), otherwise
// d[.ddd]e±XX with at least two exponent digits ("1e-05", "1.2345678901234568e+17").
#include "CKernels.h"
#include "dtoa_tables.h"
#include <string.h>

typedef __uint128_t u128;

enum { POW5_INV_BITCOUNT = 125, POW5_BITCOUNT = 125 };

// ceil(log2(5^e)) for e >= 1, and 1 for e == 0 (valid for 0 <= e <= 3528).
static inline int32_t pow5bits(int32_t e) { return (int32_t)(((uint32_t)e * 1217359u) >> 19) + 1; }
// floor(log10(2^e)) and floor(log10(5^e)) for 0 <= e <= 1650 / 2620.
static inline uint32_t log10Pow2(int32_t e) { return ((uint32_t)e * 78913u) >> 18; }
static inline uint32_t log10Pow5(int32_t e) { return ((uint32_t)e * 732923u) >> 20; }

static inline uint32_t pow5Factor(uint64_t v) {
    uint32_t count = 0;
    for (;;) {
        const uint64_t q = v / 5;
        if (v - 5 * q != 0) return count;
        v = q;
        ++count;
    }
}
static inline int multipleOfPowerOf5(uint64_t v, uint32_t p) { return pow5Factor(v) >= p; }
static inline int multipleOfPowerOf2(uint64_t v, uint32_t p) { return (v & ((1ull << p) - 1)) == 0; }

// (m * mul) >> j for a 128-bit mul {low, high} and j >= 64.
static inline uint64_t mulShift64(uint64_t m, const uint64_t *mul, int32_t j) {
    const u128 b0 = (u128)m * mul[0];
    const u128 b2 = (u128)m * mul[1];
    return (uint64_t)(((b0 >> 64) + b2) >> (j - 64));
}

// The shortest decimal digits of a finite, nonzero |v|: v = digits · 10^exponent.
static void shortest(uint64_t ieeeMantissa, uint32_t ieeeExponent, uint64_t *digits, int32_t *exponent) {
    int32_t e2;
    uint64_t m2;
    if (ieeeExponent == 0) {
        e2 = 1 - 1023 - 52 - 2;
        m2 = ieeeMantissa;
    } else {
        e2 = (int32_t)ieeeExponent - 1023 - 52 - 2;
        m2 = (1ull << 52) | ieeeMantissa;
    }
    const int acceptBounds = (m2 & 1) == 0;   // an even mantissa owns its halfway points
    const uint64_t mv = 4 * m2;
    const uint32_t mmShift = ieeeMantissa != 0 || ieeeExponent <= 1;

    uint64_t vr, vp, vm;
    int32_t e10;
    int vmIsTrailingZeros = 0, vrIsTrailingZeros = 0;
    if (e2 >= 0) {
        const uint32_t q = log10Pow2(e2) - (e2 > 3);
        e10 = (int32_t)q;
        const int32_t k = POW5_INV_BITCOUNT + pow5bits((int32_t)q) - 1;
        const int32_t i = -e2 + (int32_t)q + k;
        vr = mulShift64(4 * m2, PM_POW5_INV_SPLIT[q], i);
        vp = mulShift64(4 * m2 + 2, PM_POW5_INV_SPLIT[q], i);
        vm = mulShift64(4 * m2 - 1 - mmShift, PM_POW5_INV_SPLIT[q], i);
        if (q <= 21) {
            // Only one of mp, mv and mm can be a multiple of 5, if any.
            if (mv % 5 == 0) {
                vrIsTrailingZeros = multipleOfPowerOf5(mv, q);
            } else if (acceptBounds) {
                vmIsTrailingZeros = multipleOfPowerOf5(mv - 1 - mmShift, q);
            } else {
                vp -= (uint64_t)multipleOfPowerOf5(mv + 2, q);
            }
        }
    } else {
        const uint32_t q = log10Pow5(-e2) - (-e2 > 1);
        e10 = (int32_t)q + e2;
        const int32_t i = -e2 - (int32_t)q;
        const int32_t k = pow5bits(i) - POW5_BITCOUNT;
        const int32_t j = (int32_t)q - k;
        vr = mulShift64(4 * m2, PM_POW5_SPLIT[i], j);
        vp = mulShift64(4 * m2 + 2, PM_POW5_SPLIT[i], j);
        vm = mulShift64(4 * m2 - 1 - mmShift, PM_POW5_SPLIT[i], j);
        if (q <= 1) {
            // mv has at least q trailing zero bits (it is 4·m2), so vr is exact.
            vrIsTrailingZeros = 1;
            if (acceptBounds) {
                vmIsTrailingZeros = mmShift == 1;
            } else {
                --vp;
            }
        } else if (q < 63) {
            // The full product has at least q trailing zeros iff mv has q trailing zero bits.
            vrIsTrailingZeros = multipleOfPowerOf2(mv, q);
        }
    }

    // Remove digits while the interval still holds a shorter decimal.
    int32_t removed = 0;
    uint8_t lastRemovedDigit = 0;
    uint64_t output;
    if (vmIsTrailingZeros || vrIsTrailingZeros) {
        for (;;) {
            const uint64_t vpDiv10 = vp / 10, vmDiv10 = vm / 10;
            if (vpDiv10 <= vmDiv10) break;
            const uint32_t vmMod10 = (uint32_t)(vm - 10 * vmDiv10);
            const uint64_t vrDiv10 = vr / 10;
            const uint32_t vrMod10 = (uint32_t)(vr - 10 * vrDiv10);
            vmIsTrailingZeros &= vmMod10 == 0;
            vrIsTrailingZeros &= lastRemovedDigit == 0;
            lastRemovedDigit = (uint8_t)vrMod10;
            vr = vrDiv10; vp = vpDiv10; vm = vmDiv10;
            ++removed;
        }
        if (vmIsTrailingZeros) {
            for (;;) {
                const uint64_t vmDiv10 = vm / 10;
                const uint32_t vmMod10 = (uint32_t)(vm - 10 * vmDiv10);
                if (vmMod10 != 0) break;
                const uint64_t vpDiv10 = vp / 10, vrDiv10 = vr / 10;
                const uint32_t vrMod10 = (uint32_t)(vr - 10 * vrDiv10);
                vrIsTrailingZeros &= lastRemovedDigit == 0;
                lastRemovedDigit = (uint8_t)vrMod10;
                vr = vrDiv10; vp = vpDiv10; vm = vmDiv10;
                ++removed;
            }
        }
        if (vrIsTrailingZeros && lastRemovedDigit == 5 && vr % 2 == 0) lastRemovedDigit = 4;   // exactly …5: to even
        output = vr + ((vr == vm && (!acceptBounds || !vmIsTrailingZeros)) || lastRemovedDigit >= 5);
    } else {
        // The common case: no trailing-zero bookkeeping.
        // Four digits at a time first: money-like values keep few of their 17 candidates. Removing
        // k digits at once ends where removing one at a time would (floor division is monotone)
        // and rounds on the first digit removed last, as the one-at-a-time loop does.
        int roundUp = 0;
        for (;;) {
            const uint64_t vpDiv = vp / 10000, vmDiv = vm / 10000;
            if (vpDiv <= vmDiv) break;
            const uint64_t vrDiv = vr / 10000;
            roundUp = vr - 10000 * vrDiv >= 5000;
            vr = vrDiv; vp = vpDiv; vm = vmDiv;
            removed += 4;
        }
        const uint64_t vpDiv100 = vp / 100, vmDiv100 = vm / 100;
        if (vpDiv100 > vmDiv100) {
            const uint64_t vrDiv100 = vr / 100;
            const uint32_t vrMod100 = (uint32_t)(vr - 100 * vrDiv100);
            roundUp = vrMod100 >= 50;
            vr = vrDiv100; vp = vpDiv100; vm = vmDiv100;
            removed += 2;
        }
        for (;;) {
            const uint64_t vpDiv10 = vp / 10, vmDiv10 = vm / 10;
            if (vpDiv10 <= vmDiv10) break;
            const uint64_t vrDiv10 = vr / 10;
            const uint32_t vrMod10 = (uint32_t)(vr - 10 * vrDiv10);
            roundUp = vrMod10 >= 5;
            vr = vrDiv10; vp = vpDiv10; vm = vmDiv10;
            ++removed;
        }
        output = vr + (vr == vm || roundUp);
    }
    *digits = output;
    *exponent = e10 + removed;
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
    memset(buf + 17, 0, 24);   // the block copies below read past the digits (up to buf + 33)
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
