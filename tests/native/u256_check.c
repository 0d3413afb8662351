/* Reads "op a b" lines (hex operands) on stdin and prints each result in hex: the test drives
 * u256.h with random and edge operands and compares with Python's integers. */
#include <stdio.h>
#include <string.h>

#include "u256.h"

static u256 parse(const char *s) {
    u256 r = {{0, 0, 0, 0}};
    size_t n = strlen(s);
    if (n > 64) { /* the test never sends more than 256 bits: keep the low 64 digits */
        s += n - 64;
        n = 64;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[n - 1 - i];
        uint64_t v = (c >= '0' && c <= '9') ? (uint64_t)(c - '0') : (uint64_t)(c - 'a' + 10);
        r.w[i / 16] |= v << (4 * (i % 16));
    }
    return r;
}

static void show(u256 a) {
    printf("%016llx%016llx%016llx%016llx", (unsigned long long)a.w[3], (unsigned long long)a.w[2],
           (unsigned long long)a.w[1], (unsigned long long)a.w[0]);
}

int main(void) {
    char op[16], sa[80], sb[80];
    while (scanf("%15s %79s %79s", op, sa, sb) == 3) {
        u256 a = parse(sa), b = parse(sb), q, r;
        if (!strcmp(op, "mul128")) {
            show(u256_mul_128(u256_lo128(a), u256_lo128(b)));
        } else if (!strcmp(op, "mul")) {
            int over = u256_mul(a, b, &q);
            show(q);
            printf(" %d", over);
        } else if (!strcmp(op, "divmod")) {
            u256_divmod(a, b, &q, &r);
            show(q);
            printf(" ");
            show(r);
        } else if (!strcmp(op, "divceil")) {
            show(u256_div_ceil(a, b));
        } else if (!strcmp(op, "add")) {
            int over = 0;
            show(u256_add(a, b, &over));
            printf(" %d", over);
        } else if (!strcmp(op, "sub")) {
            show(u256_sub(a, b));
        } else if (!strcmp(op, "shl")) {
            show(u256_shl(a, (unsigned)b.w[0]));
        } else if (!strcmp(op, "shr")) {
            show(u256_shr(a, (unsigned)b.w[0]));
        } else if (!strcmp(op, "cmp")) {
            printf("%d %d", u256_cmp(a, b), u256_bits(a));
        } else {
            return 2;
        }
        printf("\n");
    }
    return 0;
}
