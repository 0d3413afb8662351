/* Orca Whirlpool exact-input swap kernel (static fee): the loop of
 * solarb.dex.orca_whirlpool.swap(detail=False, final_tick=False, is_input=True, no price limit,
 * no oracle) with clmm_math.swap_step_amounts, bit-identical to the Python path.
 *
 * swap_exact_in(plan: bytes, amount: int) -> (amount_in, amount_out, fee) | None
 * quote_exact_in(plan, amount, Quote[, aux, keys, datas]) -> Quote(amount_in, amount_out, fee)
 *   | None: the same swap as a Quote; with aux, also None unless aux[keys[i]] is datas[i] for
 *   every i (None: absent), the adapter's check that the plan's tick arrays are still current
 * bind(plan, Quote, quote, state, aux, a_to_b) -> Bound: x -> quote_exact_in(plan, x, Quote)
 *   or, where that is None, quote(state, aux, x, a_to_b) (the adapter's bound quoter, a C
 *   callable)
 * with_head(plan, sqrt_price, liquidity, tick) -> plan with those header fields | None (a
 *   number that does not fit its field)
 *   amount_in  input the swap consumed (amount - remaining), before transfer fees
 *   amount_out output the swap produced (u64), before transfer fees
 *   fee        total trade fee in the input token (LP + protocol)
 * None: anything the Python path would reject or that the kernel does not cover (zero amount,
 * amount outside u64, any program error, a tick array not loaded, running past the arrays):
 * the caller then runs the Python path, which raises the program's typed error.
 *
 * Plan layout (little-endian, built by orca_whirlpool_plan.build_plan):
 *   header 64 B: sqrt_price u128, liquidity u128, tick_current i32, tick_spacing i32,
 *                fee_rate u32, a_to_b u32, n_slots u32, 12 B padding
 *   n_slots x slot header 16 B: kind i32 (0 empty array, 1 decoded array, 2 not loaded),
 *                start_tick i32, n_ticks i32, 4 B padding
 *     followed (kind 1) by n_ticks x 24 B: offset i64 (0..87, ascending), liquidity_net i128
 */
#include "pyint.h"
#include "gc_fields.h"
#include "quote_obj.h"
#include "plan_head.h"
#include <stddef.h>
#include <string.h>

#define MIN_TICK (-443636)
#define MAX_TICK 443636
#define TICK_ARRAY_SIZE 88
#define FEE_RATE_MUL 1000000u
#define MAX_SLOTS 8
#define MAX_STEPS 100000 /* defensive bound: the Python loop always ends far earlier */

#define U128C(hi, lo) (((u128)(hi) << 64) | (u128)(lo))
#define MIN_SQRT_PRICE ((u128)4295048016ULL)
#define MAX_SQRT_PRICE U128C(0x00000000fffec4b1ULL, 0x35bb7f32a81b33afULL)
#define U64_MAXV ((u128)UINT64_MAX)

#define HEADER_LEN 64
#define SLOT_LEN 16
#define TICK_LEN 24
#define MALFORMED_PLAN "whirlpool: malformed swap plan" /* the ValueError of a bad plan */

enum { SLOT_EMPTY = 0, SLOT_ARRAY = 1, SLOT_MISSING = 2 };

/* sqrt(1.0001)^(2^i) in Q32.96 (positive ticks), sqrt(1.0001)^-(2^i) in Q64.64 (negative):
 * clmm_math._WP_POS / _WP_NEG, the program's constants. */
#define POS_ODD U128C(0x00000001000346d6ULL, 0xff11672ae55ad00fULL)
static const u128 POS[18] = {
    U128C(0x0000000100068db8ULL, 0xbac710cb295e9e1bULL),
    U128C(0x00000001000d1b9cULL, 0x68abe5f76b30fb75ULL),
    U128C(0x00000001001a37e4ULL, 0xa234cb0830516e51ULL),
    U128C(0x0000000100347278ULL, 0xab0e92ada25ab460ULL),
    U128C(0x000000010068efb0ULL, 0x0a525480a5d7fdc2ULL),
    U128C(0x0000000100d20a63ULL, 0xb4173839df9daaa5ULL),
    U128C(0x0000000101a4c11cULL, 0x742dd7729738df5eULL),
    U128C(0x00000001034c35c3ULL, 0x1f64cfa6dc0d6de4ULL),
    U128C(0x0000000106a34b78ULL, 0xc8aaffbf81bed5a3ULL),
    U128C(0x000000010d72a6a4ULL, 0x6ccd8bce9ae771b1ULL),
    U128C(0x000000011b9a258eULL, 0x63928596dc757faaULL),
    U128C(0x000000013a2e2bdaULL, 0x04f8379f3cd17be5ULL),
    U128C(0x0000000181954be6ULL, 0x9e0da8fe77f2ab42ULL),
    U128C(0x0000000244c2655dULL, 0x185a029080252877ULL),
    U128C(0x0000000525816eebULL, 0x9f935b1c616779e8ULL),
    U128C(0x0000001a7c8d00b5ULL, 0x51684ff4d31ae065ULL),
    U128C(0x000002bd893d0b2dULL, 0xf7c97884590c66cdULL),
    U128C(0x00078278e1e19e44ULL, 0x8cf8b95d2152dccfULL),
};
static const uint64_t NEG_ODD = 0xfffcb933bd6fad37ULL;
static const uint64_t NEG[18] = {
    0xfff97272373d4132ULL, 0xfff2e50f5f656932ULL, 0xffe5caca7e10e4e6ULL, 0xffcb9843d60f6159ULL,
    0xff973b41fa98c081ULL, 0xff2ea16466c96a38ULL, 0xfe5dee046a99a2a8ULL, 0xfcbe86c7900a88aeULL,
    0xf987a7253ac41317ULL, 0xf3392b0822b70005ULL, 0xe7159475a2c29b74ULL, 0xd097f3bdfd2022b8ULL,
    0xa9f746462d870fdfULL, 0x70d869a156d2a1b8ULL, 0x31be135f97d08fd9ULL, 0x09aa508b5b7a84e1ULL,
    0x005d6af8dedb8119ULL, 0x00002216e584f5faULL,
};

/* (a * b) >> 96 truncated to 128 bits (the positive-tick products stay below 2^224). */
static inline u128 mul_shr96(u128 a, u128 b) {
    u256 p = u256_mul_128(a, b);
    uint64_t lo = (p.w[1] >> 32) | (p.w[2] << 32), hi = (p.w[2] >> 32) | (p.w[3] << 32);
    return ((u128)hi << 64) | lo;
}

/* clmm_math.sqrt_price_at_tick for MIN_TICK <= tick <= MAX_TICK (callers check the range). */
static u128 sqrt_price_at_tick(int64_t tick) {
    if (tick >= 0) {
        u128 ratio = (tick & 1) ? POS_ODD : (u128)1 << 96;
        uint64_t bits = (uint64_t)tick >> 1;
        for (int i = 0; i < 18 && bits; i++, bits >>= 1)
            if (bits & 1) ratio = mul_shr96(ratio, POS[i]);
        return ratio >> 32;
    }
    uint64_t a = (uint64_t)(-tick);
    u128 ratio = (a & 1) ? (u128)NEG_ODD : (u128)1 << 64;
    uint64_t bits = a >> 1;
    for (int i = 0; i < 18 && bits; i++, bits >>= 1)
        if (bits & 1) ratio = (ratio * NEG[i]) >> 64; /* ratio <= 2^64: the product fits */
    return ratio;
}

typedef struct {
    int32_t kind, start, n;
    const unsigned char *ticks; /* n x TICK_LEN */
} slot_t;

typedef struct {
    u128 sqrt_price, liquidity;
    int64_t tick, ts;
    uint32_t fee_rate;
    int a_to_b, n_slots;
    slot_t slots[MAX_SLOTS];
} plan_t;

/* 0 on success; -1 (ValueError set) when the buffer is not a well-formed plan. */
static int parse_plan(const unsigned char *p, Py_ssize_t len, plan_t *out) {
    if (len < HEADER_LEN) goto bad;
    out->sqrt_price = rd_u128(p);
    out->liquidity = rd_u128(p + 16);
    out->tick = rd_i32(p + 32);
    out->ts = rd_i32(p + 36);
    out->fee_rate = (uint32_t)rd_i32(p + 40);
    out->a_to_b = rd_i32(p + 44) != 0;
    out->n_slots = rd_i32(p + 48);
    if (out->n_slots < 1 || out->n_slots > MAX_SLOTS || out->ts <= 0 || out->fee_rate >= FEE_RATE_MUL)
        goto bad;
    Py_ssize_t pos = HEADER_LEN;
    for (int i = 0; i < out->n_slots; i++) {
        if (len - pos < SLOT_LEN) goto bad;
        slot_t *s = &out->slots[i];
        s->kind = rd_i32(p + pos);
        s->start = rd_i32(p + pos + 4);
        s->n = rd_i32(p + pos + 8);
        pos += SLOT_LEN;
        if (s->kind < SLOT_EMPTY || s->kind > SLOT_MISSING || s->n < 0 || s->n > TICK_ARRAY_SIZE)
            goto bad;
        if (s->kind != SLOT_ARRAY && s->n) goto bad;
        if ((len - pos) / TICK_LEN < s->n) goto bad;
        s->ticks = p + pos;
        pos += (Py_ssize_t)s->n * TICK_LEN;
    }
    if (pos != len) goto bad;
    return 0;
bad:
    PyErr_SetString(PyExc_ValueError, MALFORMED_PLAN);
    return -1;
}

static inline int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static inline int64_t tick_offset(const slot_t *s, int k) { return rd_i64(s->ticks + k * TICK_LEN); }

/* The number of initialized offsets <= off (bisect_right over the ascending offsets). */
static int upper_bound(const slot_t *s, int64_t off) {
    int lo = 0, hi = s->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (tick_offset(s, mid) <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* orca_whirlpool_swap._next_init: the next initialized tick (or array edge) from `tick` at or after
 * slot `i`. 0 and (*out_i, *out_tick), or -1 where the Python path raises. */
static int next_init(const plan_t *pl, int64_t tick, int i, int *out_i, int64_t *out_tick) {
    const int64_t ts = pl->ts, span = TICK_ARRAY_SIZE * ts;
    const int a_to_b = pl->a_to_b;
    for (;;) {
        if (i >= pl->n_slots) return -1; /* TickArraySequenceInvalidIndex */
        const slot_t *s = &pl->slots[i];
        if (s->kind == SLOT_MISSING) return -1; /* MissingAccount */
        const int64_t start = s->start, shift = a_to_b ? 0 : ts;
        if (!(start - shift <= tick && tick < start + span - shift)) return -1;
        const int64_t off = floor_div(tick - start, ts);
        if (s->kind == SLOT_ARRAY && s->n) {
            int k = upper_bound(s, off); /* a_to_b: the last offset <= off; else the first > off */
            if (a_to_b ? k > 0 : k < s->n) {
                *out_i = i;
                *out_tick = start + tick_offset(s, a_to_b ? k - 1 : k) * ts;
                return 0;
            }
        }
        *out_i = i;
        if (a_to_b && start <= MIN_TICK) {
            *out_tick = MIN_TICK;
            return 0;
        }
        if (!a_to_b && start + span > MAX_TICK) {
            *out_tick = MAX_TICK;
            return 0;
        }
        if (i + 1 == pl->n_slots) {
            *out_tick = a_to_b ? start : start + span - 1;
            return 0;
        }
        tick = a_to_b ? start - 1 : start + span - 1;
        i++;
    }
}

/* clmm_math._wp_delta: 0 and *out, 1 when the delta exceeds u64 (Python's None), -1 on the hard
 * MultiplicationOverflow (or a zero denominator, where Python raises too). */
static int wp_delta(u128 cur, u128 tgt, u128 liq, int use_a, int round_up, uint64_t *out) {
    u128 lo = cur < tgt ? cur : tgt, hi = cur < tgt ? tgt : cur;
    u256 p = u256_mul_128(liq, hi - lo);
    if (use_a) {
        if (u256_bits(p) > 192) return -1;
        u256 den = u256_mul_128(hi, lo);
        if (u256_is_zero(den)) return -1;
        u256 num = u256_shl(p, 64);
        u256 v = round_up ? u256_div_ceil(num, den) : u256_div(num, den);
        if (v.w[1] | v.w[2] | v.w[3]) return 1;
        *out = v.w[0];
        return 0;
    }
    if (!u256_fits_u128(p)) return 1;
    u128 q = u256_lo128(p);
    u128 v = (q >> 64) + (round_up && (uint64_t)q ? 1 : 0);
    if (v > U64_MAXV) return 1;
    *out = (uint64_t)v;
    return 0;
}

/* clmm_math.next_sqrt_price for an input amount: token A (a_to_b) rounds the price up, token B
 * rounds it down. 0 and *out, -1 where the Python raises. */
static int next_sqrt_price_in(u128 cur, u128 liq, uint64_t amount, int a_to_b, u128 *out) {
    if (a_to_b) {
        if (amount == 0) {
            *out = cur;
            return 0;
        }
        u256 lp = u256_mul_128(liq, cur);
        if (u256_bits(lp) > 192) return -1; /* MultiplicationOverflow */
        u256 num = u256_shl(lp, 64);
        u256 den = u256_add(u256_shl(u256_from_u128(liq), 64), u256_mul_128(cur, amount), NULL);
        if (u256_is_zero(den)) return -1;
        u256 price = u256_div_ceil(num, den);
        if (!u256_fits_u128(price)) return -1;
        u128 v = u256_lo128(price);
        if (v < MIN_SQRT_PRICE || v > MAX_SQRT_PRICE) return -1;
        *out = v;
        return 0;
    }
    if (liq == 0) return -1; /* DivideByZero */
    u128 add = ((u128)amount << 64) / liq;
    if (cur + add < cur) return -1; /* SqrtPriceOutOfBounds: above u128 */
    *out = cur + add;
    return 0;
}

/* clmm_math.swap_step_amounts with is_input=True. 0 on success, -1 where Python raises. */
static int swap_step(uint64_t remaining, uint32_t rate, u128 liq, u128 cur, u128 tgt, int a_to_b,
                     uint64_t *s_in, uint64_t *s_out, u128 *s_price, uint64_t *s_fee) {
    uint64_t fixed_full = 0, fixed, unfixed;
    int r = wp_delta(cur, tgt, liq, a_to_b, 1, &fixed_full);
    if (r < 0) return -1;
    const int have_full = r == 0;
    uint64_t calc = (uint64_t)((u128)remaining * (FEE_RATE_MUL - rate) / FEE_RATE_MUL);
    u128 nxt;
    if (have_full && calc >= fixed_full)
        nxt = tgt;
    else if (next_sqrt_price_in(cur, liq, calc, a_to_b, &nxt))
        return -1;
    const int is_max = nxt == tgt;
    if (wp_delta(cur, nxt, liq, !a_to_b, 0, &unfixed)) return -1;
    if (is_max && have_full)
        fixed = fixed_full;
    else if (wp_delta(cur, nxt, liq, a_to_b, 1, &fixed))
        return -1;
    if (!is_max) {
        if (fixed > remaining) return -1; /* a negative fee: leave it to the Python path */
        *s_fee = remaining - fixed;
    } else {
        u128 num = (u128)fixed * rate, den = FEE_RATE_MUL - rate;
        u128 fee = num / den + (num % den ? 1 : 0);
        if (fee > U64_MAXV) return -1; /* NumberDownCastError */
        *s_fee = (uint64_t)fee;
    }
    *s_in = fixed;
    *s_out = unfixed;
    *s_price = nxt;
    return 0;
}

/* Whether slot s has an initialized tick at `off`, and its liquidity_net. */
static int tick_net(const slot_t *s, int64_t off, i128 *net) {
    int k = upper_bound(s, off) - 1;
    if (k < 0 || tick_offset(s, k) != off) return 0;
    *net = rd_i128(s->ticks + k * TICK_LEN + 8);
    return 1;
}

/* The swap loop of orca_whirlpool.swap. 0 and the results, -1 for "not handled". */
static int run_swap(const plan_t *pl, uint64_t amount, uint64_t *done, uint64_t *out, u128 *fees) {
    const int a_to_b = pl->a_to_b;
    const u128 limit = a_to_b ? MIN_SQRT_PRICE : MAX_SQRT_PRICE;
    u128 price = pl->sqrt_price, liq = pl->liquidity, fee_sum = 0, calculated = 0;
    int64_t tick = pl->tick;
    int arr_i = 0;
    uint64_t remaining = amount;
    if (a_to_b ? limit >= price : limit <= price) return -1; /* InvalidSqrtPriceLimitDirection */
    if (amount == 0) return -1;                              /* ZeroTradableAmount */
    for (int n = 0; remaining > 0 && price != limit; n++) {
        if (n >= MAX_STEPS) return -1;
        int next_i;
        int64_t next_tick;
        if (next_init(pl, tick, arr_i, &next_i, &next_tick)) return -1;
        if (next_tick < MIN_TICK || next_tick > MAX_TICK) return -1; /* TickIndexOutOfBounds */
        const u128 next_price = sqrt_price_at_tick(next_tick);
        const u128 target = a_to_b ? (next_price > limit ? next_price : limit)
                                   : (next_price < limit ? next_price : limit);
        for (int m = 0;; m++) {
            uint64_t s_in, s_out, fee;
            u128 s_price;
            if (m >= MAX_STEPS) return -1;
            if (swap_step(remaining, pl->fee_rate, liq, price, target, a_to_b, &s_in, &s_out,
                          &s_price, &fee))
                return -1;
            u128 spent = (u128)s_in + fee;
            if (spent > remaining) return -1; /* AmountRemainingOverflow */
            remaining -= (uint64_t)spent;
            calculated += s_out;
            if (calculated > U64_MAXV) return -1; /* AmountCalcOverflow */
            fee_sum += fee;
            if (s_price == next_price) {
                const slot_t *s = &pl->slots[next_i];
                const int64_t diff = next_tick - s->start, off = floor_div(diff, pl->ts);
                i128 net;
                if (s->kind == SLOT_ARRAY && diff % pl->ts == 0 && tick_net(s, off, &net)) {
                    /* liq -/+ net: |net| as u128 (exact for i128's minimum too) */
                    const u128 mag = net < 0 ? (u128)(-(net + 1)) + 1 : (u128)net;
                    if ((net < 0) != a_to_b) {
                        if (mag > liq) return -1; /* LiquidityUnderflow */
                        liq -= mag;
                    } else {
                        if (liq + mag < liq) return -1; /* LiquidityOverflow */
                        liq += mag;
                    }
                }
                const int at_edge = a_to_b ? off == 0 : off == TICK_ARRAY_SIZE - 1;
                arr_i = at_edge ? next_i + 1 : next_i;
                tick = a_to_b ? next_tick - 1 : next_tick;
            } else if (s_price != price) {
                if (s_price < MIN_SQRT_PRICE || s_price > MAX_SQRT_PRICE) return -1;
            }
            price = s_price;
            if (remaining == 0 || price == target) break;
        }
    }
    *done = amount - remaining;
    *out = (uint64_t)calculated;
    *fees = fee_sum;
    return 0;
}

/* The swap of amount (an int) over a parsed plan: 1 with the results, 0 for "not handled"
 * (amount outside u64 included), -1 with an exception set. */
static int swap_amount(const plan_t *pl, PyObject *amount, uint64_t *done, uint64_t *out,
                       u128 *fee) {
    uint64_t v;
    int in_range = py_as_u64(amount, &v);
    if (in_range <= 0) return in_range;
    return run_swap(pl, v, done, out, fee) ? 0 : 1;
}

/* Parses (plan, amount) and runs the swap: 1 with the results, 0 for "not handled", -1 with an
 * exception set (wrong argument types, malformed plan). */
static int swap_args(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want, const char *usage,
                     uint64_t *done, uint64_t *out, u128 *fee) {
    if (nargs != want || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, usage);
        return -1;
    }
    if (!PyLong_Check(args[1])) return 0; /* not an int: the Python path decides */
    plan_t pl;
    if (parse_plan((const unsigned char *)PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), &pl))
        return -1;
    return swap_amount(&pl, args[1], done, out, fee);
}

static PyObject *swap_exact_in(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    uint64_t done, out;
    u128 fee;
    int r = swap_args(args, nargs, 2, "swap_exact_in(plan: bytes, amount: int)", &done, &out, &fee);
    if (r <= 0) {
        if (r < 0) return NULL;
        Py_RETURN_NONE;
    }
    PyObject *f = py_from_u128(fee);
    if (!f) return NULL;
    return Py_BuildValue("(KKN)", (unsigned long long)done, (unsigned long long)out, f);
}

/* quote_cls(amount_in, amount_out, fee) for a frozen slots dataclass (solarb.dex.base.Quote)
 * with an `arrays` field left empty: allocated and filled through its slot descriptors (as
 * solarb.frozen.frozen_maker does; the frozen __init__ costs more than the swap). */
static PyObject *make_quote(PyObject *cls, uint64_t done, uint64_t out, u128 fee) {
    PyObject *obj = quote_alloc(cls);
    if (!obj) return NULL;
    PyObject *vals[4] = {PyLong_FromUnsignedLongLong(done), PyLong_FromUnsignedLongLong(out),
                         py_from_u128(fee), Py_NewRef(EMPTY_TUPLE)};
    return quote_fill(obj, vals);
}

/* 1 when aux (an exact dict) maps every keys[i] to the very object datas[i] (None: absent),
 * 0 when not (or aux is another mapping), -1 with an exception set. */
static int same_sources(PyObject *aux, PyObject *keys, PyObject *datas) {
    if (!PyDict_CheckExact(aux) || !PyList_CheckExact(keys) || !PyList_CheckExact(datas)) return 0;
    Py_ssize_t n = PyList_GET_SIZE(keys);
    if (PyList_GET_SIZE(datas) != n) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyDict_GetItemWithError(aux, PyList_GET_ITEM(keys, i)); /* borrowed */
        if (!v) {
            if (PyErr_Occurred()) return -1;
            v = Py_None;
        }
        if (v != PyList_GET_ITEM(datas, i)) return 0;
    }
    return 1;
}

static PyObject *quote_exact_in(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    uint64_t done, out;
    u128 fee;
    if (nargs == 6) { /* the plan's cache check: aux must still hold the same array objects */
        int same = same_sources(args[3], args[4], args[5]);
        if (same <= 0) {
            if (same < 0) return NULL;
            Py_RETURN_NONE;
        }
        nargs = 3;
    }
    int r = swap_args(args, nargs, 3,
                      "quote_exact_in(plan: bytes, amount: int, quote_cls: type"
                      "[, aux: dict, keys: list, datas: list])",
                      &done, &out, &fee);
    if (r <= 0) {
        if (r < 0) return NULL;
        Py_RETURN_NONE;
    }
    return make_quote(args[2], done, out, fee);
}

/* bind(plan, quote_cls, quote, state, aux, a_to_b) -> a callable x -> quote_exact_in(plan, x,
 * quote_cls), or quote(state, aux, x, a_to_b) where that answers None: orca_whirlpool.quoter's
 * bound quoter with no Python frame per probe (the sizing kernel calls it through vectorcall)
 * and no closure made per binding. The plan is parsed once, at binding (pl points into the bytes object `plan` holds);
 * a malformed plan still raises its ValueError on each call with an int, as quote_exact_in
 * does. */
typedef struct {
    PyObject_HEAD
    PyObject *plan, *quote_cls, *quote, *state, *aux, *a_to_b;
    vectorcallfunc vectorcall;
    int malformed; /* parse_plan failed at binding */
    plan_t pl;
} bound_t;

/* What the bound quoter answers where the kernel does not: quote(state, aux, x, a_to_b). */
static PyObject *bound_fallback(bound_t *b, PyObject *x) {
    PyObject *call[4] = {b->state, b->aux, x, b->a_to_b};
    return PyObject_Vectorcall(b->quote, call, 4, NULL);
}

static PyObject *bound_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf,
                                  PyObject *kwnames) {
    bound_t *b = (bound_t *)obj;
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "a bound quoter takes one amount");
        return NULL;
    }
    PyObject *x = args[0];
    uint64_t done, out;
    u128 fee;
    if (!PyLong_Check(x)) return bound_fallback(b, x); /* the Python path decides */
    if (b->malformed) {
        PyErr_SetString(PyExc_ValueError, MALFORMED_PLAN);
        return NULL;
    }
    int r = swap_amount(&b->pl, x, &done, &out, &fee);
    if (r < 0) return NULL;
    if (r == 0) return bound_fallback(b, x);
    return make_quote(b->quote_cls, done, out, fee);
}

#define BOUND_OBJS(X) X(plan) X(quote_cls) X(quote) X(state) X(aux) X(a_to_b)
GC_FIELDS_FUNCS(bound, bound_t, BOUND_OBJS)

static PyTypeObject BoundType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "solarb.native._whirlpool.Bound",
    .tp_basicsize = sizeof(bound_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "x -> quote_exact_in(plan, x, quote_cls) or quote(state, aux, x, a_to_b) (see bind).",
    .tp_vectorcall_offset = offsetof(bound_t, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_traverse = bound_traverse,
    .tp_clear = bound_clear,
    .tp_dealloc = bound_dealloc,
};

static PyObject *bind(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 6 || !PyBytes_Check(args[0]) || !PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "bind(plan: bytes, quote_cls: type, quote: callable, state, aux, a_to_b)");
        return NULL;
    }
    if (quote_slots(args[1])) return NULL; /* a class the quotes cannot be made of: now */
    bound_t *b = PyObject_GC_New(bound_t, &BoundType);
    if (!b) return NULL;
    b->plan = Py_NewRef(args[0]);
    b->quote_cls = Py_NewRef(args[1]);
    b->quote = Py_NewRef(args[2]);
    b->state = Py_NewRef(args[3]);
    b->aux = Py_NewRef(args[4]);
    b->a_to_b = Py_NewRef(args[5]);
    b->vectorcall = bound_vectorcall;
    b->malformed = parse_plan((const unsigned char *)PyBytes_AS_STRING(b->plan),
                              PyBytes_GET_SIZE(b->plan), &b->pl) != 0;
    if (b->malformed) PyErr_Clear(); /* raised again per call, as before */
    PyObject_GC_Track((PyObject *)b);
    return (PyObject *)b;
}

static PyObject *py_sqrt_price_at_tick(PyObject *self, PyObject *arg) {
    (void)self;
    long t = PyLong_AsLong(arg);
    if (t == -1 && PyErr_Occurred()) return NULL;
    if (t < MIN_TICK || t > MAX_TICK) {
        PyErr_SetString(PyExc_ValueError, "tick outside MIN_TICK..MAX_TICK");
        return NULL;
    }
    return py_from_u128(sqrt_price_at_tick(t));
}

/* with_head(plan, sqrt_price, liquidity, tick) -> a copy of plan with its first 36 bytes (price
 * u128, liquidity u128, tick i32) set to these (orca_whirlpool._moved: a later state of the
 * pool over the same tick arrays and header fields); None when a number does not fit its field
 * (the caller packs the header as before). */
static PyObject *with_head(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    return plan_with_head(args, nargs, HEADER_LEN, MALFORMED_PLAN);
}

static PyMethodDef METHODS[] = {
    {"swap_exact_in", (PyCFunction)(void (*)(void))swap_exact_in, METH_FASTCALL,
     "swap_exact_in(plan, amount) -> (amount_in, amount_out, fee) | None: the static-fee "
     "exact-input swap over a plan (see orca_whirlpool_plan.build_plan); None: not handled."},
    {"quote_exact_in", (PyCFunction)(void (*)(void))quote_exact_in, METH_FASTCALL,
     "quote_exact_in(plan, amount, quote_cls[, aux, keys, datas]) -> quote_cls(amount_in, "
     "amount_out, fee) | None: swap_exact_in as a Quote (no transfer fee); None: not handled, "
     "or aux does not map each of keys to the same object in datas (None: absent)."},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL,
     "bind(plan, quote_cls, quote, state, aux, a_to_b) -> x -> quote_exact_in(plan, x, "
     "quote_cls), or quote(state, aux, x, a_to_b) where that is None: the bound quoter as a C "
     "callable."},
    {"with_head", (PyCFunction)(void (*)(void))with_head, METH_FASTCALL,
     "with_head(plan, sqrt_price, liquidity, tick) -> the plan with those header fields, or "
     "None where a number does not fit its field (u128, u128, i32)."},
    {"sqrt_price_at_tick", py_sqrt_price_at_tick, METH_O,
     "sqrt_price_at_tick(tick) -> int: clmm_math.sqrt_price_at_tick (for tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_whirlpool", "Orca Whirlpool exact-input swap kernel.", -1, METHODS,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__whirlpool(void) {
    if (quote_obj_init() < 0) return NULL;
    if (PyType_Ready(&BoundType) < 0) return NULL;
    return PyModule_Create(&MODULE);
}
