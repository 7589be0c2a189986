// The input digest (docs/formats.md "Scale-out": a file's size and a fast 64-bit hash of its bytes):
// XXH64, seed 0 — Yann Collet's xxHash64 algorithm (public specification, BSD), written here from
// the specification, nothing copied. Four independent 64-bit lanes over 32-byte stripes: about one
// multiply per 8 bytes, ~10 GB/s on one x86-64 core, so hashing every input while it is read costs
// a few percent of the read. The result equals the reference implementation's `XXH64(p, n, 0)`
// (the tests check published vectors), so anyone can recompute it with `xxhsum -H1`.
//
// Streaming: the reader hashes each block right after reading it (still in cache) with
// `pm_xxh64_stripes`, which consumes whole 32-byte stripes only; the file's last < 32 bytes go to
// `pm_xxh64_finish`. The stripe loop also ORs every word together (`bytesOr`), so the reader
// learns for free whether a file is pure ASCII (then no field needs a UTF-8 check).
#include "CKernels.h"
#include <string.h>

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }   // little-endian hosts
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t round64(uint64_t acc, uint64_t in) { acc += in * P2; acc = rotl(acc, 31); return acc * P1; }
static inline uint64_t merge64(uint64_t h, uint64_t v) { h ^= round64(0, v); return h * P1 + P4; }

void pm_xxh64_init(pm_xxh64_state *s, uint64_t seed) {
    s->lane[0] = seed + P1 + P2;
    s->lane[1] = seed + P2;
    s->lane[2] = seed;
    s->lane[3] = seed - P1;
    s->seed = seed;
    s->consumed = 0;
    s->bytesOr = 0;
}

size_t pm_xxh64_stripes(pm_xxh64_state *s, const uint8_t *p, size_t n) {
    uint64_t v1 = s->lane[0], v2 = s->lane[1], v3 = s->lane[2], v4 = s->lane[3], o = s->bytesOr;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const uint64_t a = rd64(p + i), b = rd64(p + i + 8), c = rd64(p + i + 16), d = rd64(p + i + 24);
        v1 = round64(v1, a); v2 = round64(v2, b); v3 = round64(v3, c); v4 = round64(v4, d);
        o |= (a | b) | (c | d);
    }
    s->lane[0] = v1; s->lane[1] = v2; s->lane[2] = v3; s->lane[3] = v4;
    s->bytesOr = o;
    s->consumed += i;
    return i;
}

uint64_t pm_xxh64_finish(pm_xxh64_state *s, const uint8_t *p, size_t n) {
    uint64_t h;
    const uint64_t total = s->consumed + n;
    if (s->consumed > 0) {
        const uint64_t v1 = s->lane[0], v2 = s->lane[1], v3 = s->lane[2], v4 = s->lane[3];
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = merge64(h, v1); h = merge64(h, v2); h = merge64(h, v3); h = merge64(h, v4);
    } else {
        h = s->seed + P5;
    }
    h += total;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint64_t w = rd64(p + i);
        s->bytesOr |= w;
        h ^= round64(0, w);
        h = rotl(h, 27) * P1 + P4;
    }
    if (i + 4 <= n) {
        const uint32_t w = rd32(p + i);
        s->bytesOr |= w;
        h ^= (uint64_t)w * P1;
        h = rotl(h, 23) * P2 + P3;
        i += 4;
    }
    for (; i < n; i++) {
        s->bytesOr |= p[i];
        h ^= (uint64_t)p[i] * P5;
        h = rotl(h, 11) * P1;
    }
    h ^= h >> 33; h *= P2;
    h ^= h >> 29; h *= P3;
    h ^= h >> 32;
    return h;
}

uint64_t pm_xxh64(const uint8_t *p, size_t n, uint64_t seed) {
    pm_xxh64_state s;
    pm_xxh64_init(&s, seed);
    const size_t done = n >= 32 ? pm_xxh64_stripes(&s, p, n) : 0;
    return pm_xxh64_finish(&s, p + done, n - done);
}

// UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. ASCII runs are
// skipped 8 bytes at a time.
int pm_utf8_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n && (rd64(p + i) & 0x8080808080808080ULL) == 0) { i += 8; continue; }
        const uint8_t b = p[i];
        if (b < 0x80) { i++; continue; }
        size_t len;
        uint8_t lo = 0x80, hi = 0xBF;   // the allowed range of the second byte
        if (b >= 0xC2 && b <= 0xDF) len = 2;
        else if (b == 0xE0) { len = 3; lo = 0xA0; }
        else if (b >= 0xE1 && b <= 0xEC) len = 3;
        else if (b == 0xED) { len = 3; hi = 0x9F; }   // no surrogates
        else if (b >= 0xEE && b <= 0xEF) len = 3;
        else if (b == 0xF0) { len = 4; lo = 0x90; }
        else if (b >= 0xF1 && b <= 0xF3) len = 4;
        else if (b == 0xF4) { len = 4; hi = 0x8F; }   // ≤ U+10FFFF
        else return 0;
        if (i + len > n) return 0;
        if (p[i + 1] < lo || p[i + 1] > hi) return 0;
        for (size_t k = 2; k < len; k++) if ((p[i + k] & 0xC0) != 0x80) return 0;
        i += len;
    }
    return 1;
}
