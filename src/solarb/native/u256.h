/* Exact unsigned 256-bit integers for the concentrated-liquidity kernels.
 *
 * Four little-endian 64-bit limbs; products and quotients are exact, like the programs' U256
 * (Orca's and Raydium's `U256`, Meteora's `U256` mul_div). Every function is static inline, so
 * each kernel compiles its own copy. Division is Knuth's algorithm D over 64-bit limbs.
 * Little-endian readers for plan buffers (u64/i64/u128/i128) are here too.
 */
#ifndef SOLARB_U256_H
#define SOLARB_U256_H

#include <stdint.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef __int128 i128;

typedef struct {
    uint64_t w[4]; /* w[0] least significant */
} u256;

#define U128_MAX (~(u128)0)

static inline u256 u256_from_u128(u128 x) {
    u256 r = {{(uint64_t)x, (uint64_t)(x >> 64), 0, 0}};
    return r;
}

static inline int u256_is_zero(u256 a) { return !(a.w[0] | a.w[1] | a.w[2] | a.w[3]); }

static inline int u256_fits_u128(u256 a) { return !(a.w[2] | a.w[3]); }

/* The low 128 bits (the value itself when u256_fits_u128). */
static inline u128 u256_lo128(u256 a) { return ((u128)a.w[1] << 64) | a.w[0]; }

static inline int u256_cmp(u256 a, u256 b) {
    for (int i = 3; i >= 0; i--)
        if (a.w[i] != b.w[i]) return a.w[i] < b.w[i] ? -1 : 1;
    return 0;
}

/* Number of significant bits (0 for zero). */
static inline int u256_bits(u256 a) {
    for (int i = 3; i >= 0; i--)
        if (a.w[i]) return 64 * i + 64 - __builtin_clzll(a.w[i]);
    return 0;
}

/* a + b; *overflow set to 1 when the sum is >= 2^256 (left untouched otherwise). */
static inline u256 u256_add(u256 a, u256 b, int *overflow) {
    u256 r;
    u128 c = 0;
    for (int i = 0; i < 4; i++) {
        c += (u128)a.w[i] + b.w[i];
        r.w[i] = (uint64_t)c;
        c >>= 64;
    }
    if (c && overflow) *overflow = 1;
    return r;
}

/* a - b modulo 2^256 (callers check a >= b where it matters). */
static inline u256 u256_sub(u256 a, u256 b) {
    u256 r;
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t x = a.w[i], y = b.w[i];
        uint64_t d = x - y - borrow;
        borrow = (x < y) || (x == y && borrow) ? 1 : 0;
        r.w[i] = d;
    }
    return r;
}

/* a << s for 0 <= s < 256; bits shifted past 2^256 are dropped. */
static inline u256 u256_shl(u256 a, unsigned s) {
    u256 r = {{0, 0, 0, 0}};
    unsigned limbs = s / 64, bits = s % 64;
    for (int i = 3; i >= (int)limbs; i--) {
        uint64_t v = a.w[i - limbs] << bits;
        if (bits && i - (int)limbs - 1 >= 0) v |= a.w[i - limbs - 1] >> (64 - bits);
        r.w[i] = v;
    }
    return r;
}

/* a >> s for 0 <= s < 256. */
static inline u256 u256_shr(u256 a, unsigned s) {
    u256 r = {{0, 0, 0, 0}};
    unsigned limbs = s / 64, bits = s % 64;
    for (unsigned i = 0; i + limbs < 4; i++) {
        uint64_t v = a.w[i + limbs] >> bits;
        if (bits && i + limbs + 1 < 4) v |= a.w[i + limbs + 1] << (64 - bits);
        r.w[i] = v;
    }
    return r;
}

/* The exact 256-bit product of two u128. */
static inline u256 u256_mul_128(u128 a, u128 b) {
    uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64);
    uint64_t b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
    u128 p00 = (u128)a0 * b0, p01 = (u128)a0 * b1, p10 = (u128)a1 * b0, p11 = (u128)a1 * b1;
    u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
    u128 top = (mid >> 64) + (p01 >> 64) + (p10 >> 64) + (uint64_t)p11;
    u256 r = {{(uint64_t)p00, (uint64_t)mid, (uint64_t)top, (uint64_t)((top >> 64) + (p11 >> 64))}};
    return r;
}

/* a * b modulo 2^256; returns 1 when the exact product is >= 2^256, else 0. */
static inline int u256_mul(u256 a, u256 b, u256 *out) {
    uint64_t r[8] = {0};
    for (int i = 0; i < 4; i++) {
        u128 carry = 0;
        if (!a.w[i]) continue;
        for (int j = 0; j < 4; j++) {
            u128 t = (u128)a.w[i] * b.w[j] + r[i + j] + carry;
            r[i + j] = (uint64_t)t;
            carry = t >> 64;
        }
        r[i + 4] = (uint64_t)carry;
    }
    memcpy(out->w, r, sizeof out->w);
    return (r[4] | r[5] | r[6] | r[7]) != 0;
}

/* q = n / d, rem = n % d (either may be NULL). d must not be zero (callers check). */
static inline void u256_divmod(u256 n, u256 d, u256 *q, u256 *rem) {
    u256 quot = {{0, 0, 0, 0}}, r = {{0, 0, 0, 0}};
    int k = 4;
    while (k > 0 && !d.w[k - 1]) k--;
    int m = 4;
    while (m > 0 && !n.w[m - 1]) m--;
    if (k == 0) { /* division by zero: callers never get here; keep it defined */
        if (q) *q = quot;
        if (rem) *rem = r;
        return;
    }
    if (u256_cmp(n, d) < 0) {
        if (q) *q = quot;
        if (rem) *rem = n;
        return;
    }
    if (k == 1) {
        uint64_t dv = d.w[0];
        u128 acc = 0;
        for (int i = m - 1; i >= 0; i--) {
            acc = (acc << 64) | n.w[i];
            quot.w[i] = (uint64_t)(acc / dv);
            acc %= dv;
        }
        r.w[0] = (uint64_t)acc;
        if (q) *q = quot;
        if (rem) *rem = r;
        return;
    }
    /* Knuth D: normalise so the divisor's top limb has its high bit set. */
    int s = __builtin_clzll(d.w[k - 1]);
    uint64_t dn[4], un[5];
    for (int i = k - 1; i > 0; i--) dn[i] = s ? (d.w[i] << s) | (d.w[i - 1] >> (64 - s)) : d.w[i];
    dn[0] = d.w[0] << s;
    un[m] = s ? n.w[m - 1] >> (64 - s) : 0;
    for (int i = m - 1; i > 0; i--) un[i] = s ? (n.w[i] << s) | (n.w[i - 1] >> (64 - s)) : n.w[i];
    un[0] = n.w[0] << s;
    const u128 base = (u128)1 << 64;
    for (int j = m - k; j >= 0; j--) {
        u128 num = ((u128)un[j + k] << 64) | un[j + k - 1];
        u128 qhat = num / dn[k - 1];
        u128 rhat = num % dn[k - 1];
        while (qhat >= base || qhat * dn[k - 2] > ((rhat << 64) | un[j + k - 2])) {
            qhat--;
            rhat += dn[k - 1];
            if (rhat >= base) break;
        }
        i128 borrow = 0, t;
        for (int i = 0; i < k; i++) {
            u128 p = qhat * dn[i];
            t = (i128)un[i + j] - borrow - (i128)(uint64_t)p;
            un[i + j] = (uint64_t)t;
            borrow = (i128)(p >> 64) - (t >> 64);
        }
        t = (i128)un[j + k] - borrow;
        un[j + k] = (uint64_t)t;
        if (t < 0) { /* qhat was one too large: add the divisor back */
            qhat--;
            u128 c = 0;
            for (int i = 0; i < k; i++) {
                c += (u128)un[i + j] + dn[i];
                un[i + j] = (uint64_t)c;
                c >>= 64;
            }
            un[j + k] += (uint64_t)c;
        }
        quot.w[j] = (uint64_t)qhat;
    }
    for (int i = 0; i < k; i++)
        r.w[i] = s ? (un[i] >> s) | (un[i + 1] << (64 - s)) : un[i];
    if (q) *q = quot;
    if (rem) *rem = r;
}

/* floor(n / d); d != 0. */
static inline u256 u256_div(u256 n, u256 d) {
    u256 q;
    u256_divmod(n, d, &q, NULL);
    return q;
}

/* ceil(n / d); d != 0. */
static inline u256 u256_div_ceil(u256 n, u256 d) {
    u256 q, r;
    u256_divmod(n, d, &q, &r);
    if (!u256_is_zero(r)) {
        u256 one = {{1, 0, 0, 0}};
        q = u256_add(q, one, NULL);
    }
    return q;
}

/* ---- little-endian readers for plan buffers built with Python's struct module ---- */

static inline uint64_t rd_u64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline int64_t rd_i64(const unsigned char *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline int32_t rd_i32(const unsigned char *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline u128 rd_u128(const unsigned char *p) { return ((u128)rd_u64(p + 8) << 64) | rd_u64(p); }

static inline i128 rd_i128(const unsigned char *p) { return (i128)rd_u128(p); }

#endif /* SOLARB_U256_H */
