/* Raydium CLMM exact-input swap kernel (static fee): the loop of
 * solarb.dex.raydium_clmm_swap.swap_internal(is_base_input=True, no dynamic fee, price limit
 * MIN+1 / MAX-1) with its _compute_swap, _next_price*, _amounts_for_swap, the tick crossing and the
 * checked-math failures, bit-identical to the Python path.
 *
 * swap_exact_in(plan: bytes, amount: int) -> (amount_in, amount_out, fee, arrays) | False | None
 *   amount_in  input the swap consumed (always `amount`: a partial fill returns None)
 *   amount_out output the swap produced (u64), before transfer fees
 *   fee        total trade fee (lp + protocol + fund) in the fee token
 *   arrays     how many of the plan's tick arrays the instruction passes (raydium_clmm._walked)
 * False: the swap walks past the last initialized tick array (InsufficientLiquidity).
 * quote_exact_in(plan, amount, quote_cls, prefixes) -> quote_cls(amount, amount_out, fee,
 *   prefixes[arrays]) | None: the same swap as a Quote (the bound quoter's probe); None where
 *   swap_exact_in answers None or False, or amount_out is 0 (the full path then answers).
 * with_head(plan, sqrt_price, liquidity, tick) -> plan with those header fields | None.
 * bind(plan, quote_cls, prefixes, quote, state, aux, a_to_b) -> Bound: x -> quote_exact_in(plan,
 *   x, quote_cls, prefixes) or, where that is None, quote(state, aux, x, a_to_b).
 * None: anything else the kernel does not cover or the program rejects (zero amount, a program
 * error, an overflow, a tick with limit orders reached, a tick array not loaded, running past the
 * planned ticks): the caller runs the Python path, which raises the program's typed error.
 *
 * Plan layout (little-endian, built by raydium_clmm_plan._plan):
 *   header 72 B: sqrt_price u128, liquidity u128, tick_current i32, tick_spacing i32,
 *                fee_rate u32, zero_for_one u8, fee_on_input u8, terminal u8 (1: past the last
 *                tick is InsufficientLiquidity, 0: not handled), n_starts u8, n_ticks u32,
 *                starts 5 x i32 (the tick arrays passed, in traversal order)
 *   n_ticks x 40 B, the initialized ticks of those arrays in traversal order (the first array's
 *   ticks behind the current tick included; the kernel skips them):
 *                sqrt_price_at_tick u128, liquidity_net i128, tick i32, stop u32 (1: limit
 *                orders sit on it: reaching it is not handled)
 */
#include "pyint.h"
#include "gc_fields.h"
#include "quote_obj.h"
#include "plan_head.h"
#include <stddef.h>
#include <string.h>

#define MIN_TICK (-443636)
#define MAX_TICK 443636
#define TICK_ARRAY_SIZE 60
#define FEE_DEN 1000000u
#define MAX_STARTS 5

#define U128C(hi, lo) (((u128)(hi) << 64) | (u128)(lo))
#define MIN_SQRT_PRICE ((u128)4295048016ULL)
#define MAX_SQRT_PRICE U128C(0x00000000fffec4b1ULL, 0x845c1aa94e69579bULL)
#define U64_MAXV ((u128)UINT64_MAX)

#define HEADER_LEN 72
#define TICK_LEN 40

/* 2^64 / sqrt(1.0001)^(2^i) in Q64.64: clmm_math._RAY_ODD / _RAY, the program's constants. */
#define RAY_ODD 0xFFFCB933BD6FB800ULL
static const uint64_t RAY[18] = {
    0xFFF97272373D4000ULL, 0xFFF2E50F5F657000ULL, 0xFFE5CACA7E10F000ULL, 0xFFCB9843D60F7000ULL,
    0xFF973B41FA98E800ULL, 0xFF2EA16466C9B000ULL, 0xFE5DEE046A9A3800ULL, 0xFCBE86C7900BB000ULL,
    0xF987A7253AC65800ULL, 0xF3392B0822BB6000ULL, 0xE7159475A2CAF000ULL, 0xD097F3BDFD2F2000ULL,
    0xA9F746462D9F8000ULL, 0x70D869A156F31C00ULL, 0x31BE135F97ED3200ULL, 0x09AA508B5B85A500ULL,
    0x005D6AF8DEDC582CULL, 0x00002216E584F5FAULL,
};

/* clmm_math.raydium_sqrt_price_at_tick; -1 outside MIN_TICK..MAX_TICK. */
static int sqrt_price_at_tick(int32_t tick, u128 *out) {
    if (tick < MIN_TICK || tick > MAX_TICK) return -1;
    uint32_t a = tick < 0 ? (uint32_t)(-tick) : (uint32_t)tick;
    u128 ratio = (a & 1) ? (u128)RAY_ODD : (u128)1 << 64;
    uint32_t bits = a >> 1;
    for (int i = 0; i < 18 && bits; i++, bits >>= 1)
        if (bits & 1) ratio = (ratio * RAY[i]) >> 64;
    if (tick > 0) ratio = U128_MAX / ratio;
    *out = ratio;
    return 0;
}

#define LOG_B_2_X32 ((i128)59543866431248LL)
#define ERR_LOWER_X64 ((i128)184467440737095516LL)
#define ERR_UPPER_X64 ((i128)15793534762490258745ULL)

/* clmm_math.raydium_tick_at_sqrt_price (16-bit log2 precision); -1 where it raises. */
static int tick_at_sqrt_price(u128 p, int32_t *out) {
    if (p < MIN_SQRT_PRICE || p >= MAX_SQRT_PRICE) return -1;
    int msb = 127 - ((p >> 64) ? __builtin_clzll((uint64_t)(p >> 64)) : 64 + __builtin_clzll((uint64_t)p));
    i128 log2_int_x32 = (i128)(msb - 64) * ((i128)1 << 32);
    u128 r = msb >= 64 ? p >> (msb - 63) : p << (63 - msb);
    uint64_t frac = 0, bit = (uint64_t)1 << 63;
    for (int i = 0; i < 16; i++, bit >>= 1) {
        r *= r;
        unsigned more = (unsigned)(r >> 127);
        r >>= 63 + more;
        if (more) frac |= bit;
    }
    i128 logbp = (log2_int_x32 + (i128)(frac >> 32)) * LOG_B_2_X32;
    i128 low = (logbp - ERR_LOWER_X64) >> 64; /* arithmetic shift: Python's floor */
    i128 high = (logbp + ERR_UPPER_X64) >> 64;
    if (low == high) {
        *out = (int32_t)low;
        return 0;
    }
    u128 at;
    if (high < MIN_TICK || high > MAX_TICK || sqrt_price_at_tick((int32_t)high, &at)) return -1;
    *out = (int32_t)(at <= p ? high : low);
    return 0;
}

/* cm.amount_delta_a: ceil/floor(L * (hi - lo) * 2^64 / (hi * lo)); 1: above u64, -1: not
 * handled (numerator above 2^256, zero price). */
static int delta_a(u128 p0, u128 p1, u128 liq, int round_up, u128 *out) {
    u128 lo = p0 < p1 ? p0 : p1, hi = p0 < p1 ? p1 : p0;
    if (lo == 0) return -1;
    u256 prod = u256_mul_128(liq, hi - lo);
    if (u256_bits(prod) > 192) return -1;
    u256 num = u256_shl(prod, 64), den = u256_mul_128(hi, lo);
    u256 q = round_up ? u256_div_ceil(num, den) : u256_div(num, den);
    if (!u256_fits_u128(q) || u256_lo128(q) > U64_MAXV) return 1;
    *out = u256_lo128(q);
    return 0;
}

/* cm.amount_delta_b: L * (hi - lo) >> 64, rounded up on the dropped bits if round_up;
 * 1: above u64. */
static int delta_b(u128 p0, u128 p1, u128 liq, int round_up, u128 *out) {
    u128 lo = p0 < p1 ? p0 : p1, hi = p0 < p1 ? p1 : p0;
    u256 prod = u256_mul_128(liq, hi - lo);
    if (round_up) {
        int of = 0;
        prod = u256_add(prod, u256_from_u128(U64_MAXV), &of); /* < 2^224 + 2^64: no overflow */
    }
    prod = u256_shr(prod, 64);
    if (!u256_fits_u128(prod) || u256_lo128(prod) > U64_MAXV) return 1;
    *out = u256_lo128(prod);
    return 0;
}

/* _amounts_for_swap(p0, p1, L, zero_for_one): 0 with (in, out), 1 for the Python None (either
 * above u64), -1 not handled. */
static int amounts_for_swap(u128 p0, u128 p1, u128 liq, int zfo, u128 *a_in, u128 *a_out) {
    if (p0 == 0 || p1 == 0) return -1;
    int ri, ro;
    if (zfo) {
        ri = delta_a(p0, p1, liq, 1, a_in);
        ro = delta_b(p0, p1, liq, 0, a_out);
    } else {
        ri = delta_b(p0, p1, liq, 1, a_in);
        ro = delta_a(p0, p1, liq, 0, a_out);
    }
    if (ri < 0 || ro < 0) return -1;
    return (ri || ro) ? 1 : 0;
}

/* _next_price for an input amount (is_input = True); -1 where Python raises. */
static int next_price_in(u128 price, u128 liq, u128 amount, int zfo, u128 *out) {
    if (price < MIN_SQRT_PRICE || price >= MAX_SQRT_PRICE || liq == 0) return -1;
    if (amount == 0) {
        *out = price;
        return 0;
    }
    if (zfo) { /* _next_price_from_0, add: ceil(L 2^64 p / (L 2^64 + amount p)) & U128_MAX */
        u256 num = u256_shl(u256_from_u128(liq), 64);
        int of = 0;
        u256 den = u256_add(num, u256_mul_128(amount, price), &of);
        u256 prod;
        if (of || u256_mul(num, u256_from_u128(price), &prod)) return -1;
        *out = u256_lo128(u256_div_ceil(prod, den));
        return 0;
    }
    /* _next_price_from_1, add: price + (amount << 64) // L, within u128 */
    u128 add = (amount << 64) / liq; /* amount <= u64 */
    if (add > U128_MAX - price) return -1;
    *out = price + add;
    return 0;
}

/* _compute_swap for an exact input: 0 ok, -1 not handled / program error. */
static int compute_swap(u128 price, u128 target, u128 liq, u128 remaining, uint32_t fee_rate,
                        int zfo, int fee_on_input, u128 *nxt, u128 *a_in, u128 *a_out, u128 *fee) {
    u128 rest = FEE_DEN - fee_rate;
    u128 for_price = fee_on_input ? remaining * rest / FEE_DEN : remaining;
    u128 t_in, t_out;
    int at = amounts_for_swap(target, price, liq, zfo, &t_in, &t_out);
    if (at < 0) return -1;
    if (at == 0 && for_price >= t_in) {
        *nxt = target;
        *a_in = t_in;
        *a_out = t_out;
    } else {
        if (next_price_in(price, liq, for_price, zfo, nxt)) return -1;
        if (amounts_for_swap(*nxt, price, liq, zfo, a_in, a_out)) return -1; /* MaxTokenOverflow */
    }
    if (zfo ? *nxt < target : target < *nxt) return -1;
    if (fee_on_input) {
        if (*nxt != target) {
            if (*a_in > remaining) return -1;
            *fee = remaining - *a_in;
        } else {
            *fee = (*a_in * fee_rate + rest - 1) / rest;
        }
    } else {
        *fee = (*a_out * fee_rate + FEE_DEN - 1) / FEE_DEN;
        *a_out -= *fee;
        if (*nxt != target) *a_in = remaining;
    }
    return *fee > U64_MAXV ? -1 : 0;
}

static int32_t floor_div(int32_t a, int32_t b) {
    int32_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

enum { SWAP_OK = 0, SWAP_NONE = 1, SWAP_FALSE = 2, SWAP_ERROR = -1 };

/* The swap of `amount_obj` over `plan_obj`: SWAP_OK with *used, *out, *fee_out, *walked;
 * SWAP_NONE (not handled), SWAP_FALSE (liquidity runs out), or SWAP_ERROR with an exception set
 * (wrong types, malformed plan). */
static int run_swap(PyObject *plan_obj, PyObject *amount_obj, u128 *used, u128 *out_amount,
                    u128 *fee_out, long *walked_out) {
    if (!PyBytes_Check(plan_obj)) {
        PyErr_SetString(PyExc_TypeError, "plan must be bytes");
        return SWAP_ERROR;
    }
    const unsigned char *plan = (const unsigned char *)PyBytes_AS_STRING(plan_obj);
    Py_ssize_t plan_len = PyBytes_GET_SIZE(plan_obj);
    if (!PyLong_Check(amount_obj)) {
        PyErr_SetString(PyExc_TypeError, "amount must be an int");
        return SWAP_ERROR;
    }
    uint64_t amount64 = PyLong_AsUnsignedLongLong(amount_obj);
    if (amount64 == (uint64_t)-1 && PyErr_Occurred()) { /* negative or above u64 */
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return SWAP_ERROR;
        PyErr_Clear();
        return SWAP_NONE;
    }
    u128 amount = amount64;
    if (plan_len < HEADER_LEN) goto bad_plan;
    u128 price = rd_u128(plan), liquidity = rd_u128(plan + 16);
    int32_t tick = rd_i32(plan + 32), spacing = rd_i32(plan + 36);
    uint32_t fee_rate = (uint32_t)rd_i32(plan + 40);
    int zfo = plan[44], fee_on_input = plan[45], terminal = plan[46], n_starts = plan[47];
    uint32_t n_ticks = (uint32_t)rd_i32(plan + 48);
    if (n_starts > MAX_STARTS || spacing <= 0 || fee_rate >= FEE_DEN ||
        (uint64_t)plan_len != HEADER_LEN + (uint64_t)n_ticks * TICK_LEN)
        goto bad_plan;
    const unsigned char *ticks = plan + HEADER_LEN;

    if (amount == 0) return SWAP_NONE;
    u128 limit = zfo ? MIN_SQRT_PRICE + 1 : MAX_SQRT_PRICE - 1;
    if (zfo ? !(limit < price) : !(price < limit)) return SWAP_NONE;
    u128 remaining = amount, calculated = 0, fee_total = 0;
    uint32_t k = 0;
    /* the first array's ticks behind the current one (not the swap's: _next_in_array skips them) */
    while (k < n_ticks && (zfo ? rd_i32(ticks + k * TICK_LEN + 32) > tick
                               : rd_i32(ticks + k * TICK_LEN + 32) <= tick))
        k++;

    while (remaining != 0 && price != limit) {
        if (k == n_ticks) {
            if (terminal == 1) return SWAP_FALSE;
            return SWAP_NONE;
        }
        const unsigned char *t = ticks + (size_t)k * TICK_LEN;
        int32_t tick_next = rd_i32(t + 32);
        tick_next = tick_next < MIN_TICK ? MIN_TICK : tick_next > MAX_TICK ? MAX_TICK : tick_next;
        u128 price_next = rd_u128(t);
        int beyond = zfo ? price_next < limit : price_next > limit;
        u128 target = beyond ? limit : price_next;
        if (zfo ? !(tick >= tick_next && price >= price_next && price >= target)
                : !(tick_next > tick && price_next >= price && target >= price))
            return SWAP_NONE;
        u128 new_price = target;
        if (price != target) {
            u128 a_in, a_out, fee;
            if (compute_swap(price, target, liquidity, remaining, fee_rate, zfo, fee_on_input,
                             &new_price, &a_in, &a_out, &fee))
                return SWAP_NONE;
            u128 consumed = fee_on_input ? a_in + fee : a_in;
            if (consumed > remaining || consumed > U64_MAXV) return SWAP_NONE;
            remaining -= consumed;
            calculated += a_out;
            if (calculated > U64_MAXV) return SWAP_NONE;
            fee_total += fee;
        }
        if (new_price == price_next) { /* cross: liquidity_net, sign by direction */
            if (rd_i32(t + 36)) return SWAP_NONE; /* limit orders: the Python path matches them */
            i128 net = rd_i128(t + 16);
            int sub = zfo ? net > 0 : net < 0;
            u128 mag = net < 0 ? (u128)(-(net + 1)) + 1 : (u128)net;
            if (sub) {
                if (mag > liquidity) return SWAP_NONE; /* LiquiditySubValueErr */
                liquidity -= mag;
            } else {
                if (mag > U128_MAX - liquidity) return SWAP_NONE; /* LiquidityAddValueErr */
                liquidity += mag;
            }
            tick = zfo ? tick_next - 1 : tick_next;
            k++;
        } else if (price != new_price) {
            if (tick_at_sqrt_price(new_price, &tick)) return SWAP_NONE;
        }
        price = new_price;
        if (!(remaining == 0 || price == target)) return SWAP_NONE; /* unreachable (static fee) */
    }
    if (remaining != 0) return SWAP_NONE; /* stopped at the price limit: a partial fill */

    long walked = n_starts;
    int32_t span = TICK_ARRAY_SIZE * spacing;
    int32_t end = floor_div(tick, span) * span;
    for (int i = 0; i < n_starts; i++) {
        int32_t start = rd_i32(plan + 52 + 4 * i);
        if (zfo ? start <= end : start >= end) {
            walked = i + 2 < n_starts ? i + 2 : n_starts;
            break;
        }
    }
    *used = amount - remaining;
    *out_amount = calculated;
    *fee_out = fee_total;
    *walked_out = walked;
    return SWAP_OK;

bad_plan:
    PyErr_SetString(PyExc_ValueError, "malformed raydium_clmm plan");
    return SWAP_ERROR;
}

static PyObject *swap_exact_in(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "swap_exact_in(plan: bytes, amount: int)");
        return NULL;
    }
    u128 done, out_amount, fee_total;
    long walked;
    int st = run_swap(args[0], args[1], &done, &out_amount, &fee_total, &walked);
    if (st == SWAP_ERROR) return NULL;
    if (st == SWAP_NONE) Py_RETURN_NONE;
    if (st == SWAP_FALSE) Py_RETURN_FALSE;
    PyObject *res = PyTuple_New(4); /* items set as made: one DECREF frees them on an error */
    if (!res) return NULL;
    PyTuple_SET_ITEM(res, 0, py_from_u128(done));
    PyTuple_SET_ITEM(res, 1, py_from_u128(out_amount));
    PyTuple_SET_ITEM(res, 2, py_from_u128(fee_total));
    PyTuple_SET_ITEM(res, 3, PyLong_FromLong(walked));
    for (Py_ssize_t i = 0; i < 4; i++) {
        if (!PyTuple_GET_ITEM(res, i)) {
            Py_DECREF(res);
            return NULL;
        }
    }
    return res;
}

/* quote_cls(amount, out, fee, prefixes[walked]) of a complete fill (amount_in is the amount
 * asked for: the kernel only answers a complete fill); Py_None (a new reference) where the full
 * path answers: not handled, liquidity runs out or nothing comes out. */
static PyObject *quote_of(PyObject *plan, PyObject *amount, PyObject *quote_cls,
                          PyObject *prefixes) {
    u128 done, out_amount, fee_total;
    long walked;
    int st = run_swap(plan, amount, &done, &out_amount, &fee_total, &walked);
    if (st == SWAP_ERROR) return NULL;
    if (st != SWAP_OK || out_amount == 0) Py_RETURN_NONE; /* the full path answers */
    if (walked < 0 || walked >= PyTuple_GET_SIZE(prefixes)) {
        PyErr_SetString(PyExc_IndexError, "tuple index out of range");
        return NULL;
    }
    PyObject *obj = quote_alloc(quote_cls);
    if (!obj) return NULL;
    PyObject *vals[4] = {Py_NewRef(amount), py_from_u128(out_amount), py_from_u128(fee_total),
                         Py_NewRef(PyTuple_GET_ITEM(prefixes, walked))};
    return quote_fill(obj, vals);
}

/* quote_exact_in(plan, amount, quote_cls, prefixes): the bound quoter's probe. */
static PyObject *quote_exact_in(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4 || !PyTuple_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "quote_exact_in(plan: bytes, amount: int, quote_cls, prefixes: tuple)");
        return NULL;
    }
    return quote_of(args[0], args[1], args[2], args[3]);
}

/* bind(plan, quote_cls, prefixes, quote, state, aux, a_to_b) -> Bound: x -> quote_exact_in(plan,
 * x, quote_cls, prefixes), or quote(state, aux, x, a_to_b) where that answers None:
 * raydium_clmm.quoter's bound quoter with no Python frame per probe (the sizing kernel calls it
 * through vectorcall) and no closure made per binding. Errors as quote_exact_in's (an amount
 * that is not an int: TypeError; a malformed plan: ValueError). */
typedef struct {
    PyObject_HEAD
    PyObject *plan, *quote_cls, *prefixes, *quote, *state, *aux, *a_to_b;
    vectorcallfunc vectorcall;
} bound_t;

static PyObject *bound_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf,
                                  PyObject *kwnames) {
    bound_t *b = (bound_t *)obj;
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "a bound quoter takes one amount");
        return NULL;
    }
    PyObject *q = quote_of(b->plan, args[0], b->quote_cls, b->prefixes);
    if (q != Py_None) return q; /* a quote, or NULL with the exception */
    Py_DECREF(q);
    PyObject *call[4] = {b->state, b->aux, args[0], b->a_to_b};
    return PyObject_Vectorcall(b->quote, call, 4, NULL);
}

#define BOUND_OBJS(X) X(plan) X(quote_cls) X(prefixes) X(quote) X(state) X(aux) X(a_to_b)
GC_FIELDS_FUNCS(bound, bound_t, BOUND_OBJS)

static PyTypeObject BoundType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "solarb.native._raydium_clmm.Bound",
    .tp_basicsize = sizeof(bound_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "x -> quote_exact_in(plan, x, quote_cls, prefixes) or quote(state, aux, x, a_to_b) "
              "(see bind).",
    .tp_vectorcall_offset = offsetof(bound_t, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_traverse = bound_traverse,
    .tp_clear = bound_clear,
    .tp_dealloc = bound_dealloc,
};

static PyObject *bind(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 7 || !PyBytes_Check(args[0]) || !PyTuple_Check(args[2]) ||
        !PyCallable_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "bind(plan: bytes, quote_cls: type, prefixes: tuple, quote: callable, "
                        "state, aux, a_to_b)");
        return NULL;
    }
    if (quote_slots(args[1])) return NULL; /* a class the quotes cannot be made of: now */
    bound_t *b = PyObject_GC_New(bound_t, &BoundType);
    if (!b) return NULL;
    b->plan = Py_NewRef(args[0]);
    b->quote_cls = Py_NewRef(args[1]);
    b->prefixes = Py_NewRef(args[2]);
    b->quote = Py_NewRef(args[3]);
    b->state = Py_NewRef(args[4]);
    b->aux = Py_NewRef(args[5]);
    b->a_to_b = Py_NewRef(args[6]);
    b->vectorcall = bound_vectorcall;
    PyObject_GC_Track((PyObject *)b);
    return (PyObject *)b;
}

/* with_head(plan, sqrt_price, liquidity, tick) -> plan with its first 36 bytes (price u128,
 * liquidity u128, tick i32) set to these (raydium_clmm_plan._moved: a new state of the same
 * navigation); None when a number does not fit its field (the caller packs as before). */
static PyObject *with_head(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    return plan_with_head(args, nargs, HEADER_LEN, "malformed raydium_clmm plan");
}

static PyObject *py_sqrt_price_at_tick(PyObject *self, PyObject *arg) {
    (void)self;
    long tick = PyLong_AsLong(arg);
    if (tick == -1 && PyErr_Occurred()) return NULL;
    u128 p;
    if (tick < MIN_TICK || tick > MAX_TICK || sqrt_price_at_tick((int32_t)tick, &p)) {
        PyErr_SetString(PyExc_ValueError, "tick out of range");
        return NULL;
    }
    return py_from_u128(p);
}

static PyObject *py_tick_at_sqrt_price(PyObject *self, PyObject *arg) {
    (void)self;
    u128 p;
    int32_t tick;
    if (py_to_u128(arg, &p)) return NULL;
    if (tick_at_sqrt_price(p, &tick)) {
        PyErr_SetString(PyExc_ValueError, "sqrt price out of range");
        return NULL;
    }
    return PyLong_FromLong(tick);
}

static PyMethodDef METHODS[] = {
    {"swap_exact_in", (PyCFunction)(void (*)(void))swap_exact_in, METH_FASTCALL,
     "swap_exact_in(plan, amount) -> (amount_in, amount_out, fee, arrays) | False | None: the "
     "static-fee exact-input swap over a plan (see raydium_clmm_plan._plan); False: liquidity "
     "runs out; None: not handled."},
    {"quote_exact_in", (PyCFunction)(void (*)(void))quote_exact_in, METH_FASTCALL,
     "quote_exact_in(plan, amount, quote_cls, prefixes) -> quote_cls(amount, amount_out, fee, "
     "prefixes[arrays]) | None: swap_exact_in as a Quote (no transfer fee); None: not handled, "
     "liquidity runs out or nothing comes out (the full path answers)."},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL,
     "bind(plan, quote_cls, prefixes, quote, state, aux, a_to_b) -> x -> quote_exact_in(plan, x, "
     "quote_cls, prefixes), or quote(state, aux, x, a_to_b) where that is None: the bound "
     "quoter as a C callable."},
    {"with_head", (PyCFunction)(void (*)(void))with_head, METH_FASTCALL,
     "with_head(plan, sqrt_price, liquidity, tick) -> plan with those header fields, or None "
     "when one does not fit (u128, u128, i32)."},
    {"sqrt_price_at_tick", py_sqrt_price_at_tick, METH_O,
     "sqrt_price_at_tick(tick) -> int: clmm_math.raydium_sqrt_price_at_tick (for tests)."},
    {"tick_at_sqrt_price", py_tick_at_sqrt_price, METH_O,
     "tick_at_sqrt_price(sqrt_price_x64) -> int: clmm_math.raydium_tick_at_sqrt_price (for tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_raydium_clmm", "Raydium CLMM exact-input swap kernel.", -1, METHODS,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__raydium_clmm(void) {
    if (quote_obj_init() < 0) return NULL;
    if (PyType_Ready(&BoundType) < 0) return NULL;
    return PyModule_Create(&MODULE);
}
