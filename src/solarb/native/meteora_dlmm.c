/* Meteora DLMM exact-input swap kernel (solarb.native._meteora_dlmm).
 *
 * Mirrors solarb.dex.meteora_dlmm._exact_in / meteora_dlmm_math bit for bit for the common case:
 * market-maker liquidity only, fee on the input or on the output, the variable fee recomputed per
 * bin from the clock-updated references. The adapter builds, per pair state and direction, a
 * header (fee parameters, the stretches of the walk: a bin array and the bin range scanned in it)
 * and, per bin-array account version, a compact record of its non-empty bins (extract_bins, or
 * extract_runs for the market's run-length form of the account),
 * planning more stretches when the kernel walks past the last one. Anything the kernel does not
 * cover (a limit-order fill, a checked operation that would overflow, a walk the
 * plan could not describe) returns None and the adapter runs the Python path, which raises the
 * program's exact error. The adapter plans only pairs whose protocol share is at most 100%, so the
 * protocol part of a fee (not returned) can never overflow.
 *
 * Header layout (little endian, HEADER_LEN bytes, then n_arrays (stretches) x 12 bytes):
 *   0 u8 swap_for_y | 1 u8 fee_on_input | 2 u8 support_limit_orders | 3 u8 terminal
 *   4 u16 bin_step | 6 u16 (unused) | 8 u32 n_arrays | 12 i32 active_id | 16 i32 index_reference
 *   20 u32 volatility_accumulator | 24 u32 volatility_reference | 28 u32 max_volatility_accumulator
 *   32 u32 variable_fee_control | 36 u16 filter_period | 38 u16 decay_period
 *   40 u16 reduction_factor | 42 u16 (unused) | 44 i64 last_update_timestamp
 *   52 u64 base fee rate (capped at MAX_FEE_RATE)
 *   per stretch: i32 lower bin id of its array, i32 first and i32 last bin position (0..69, in
 *   walk order); arrays[i] holds the records of (at least) those bins
 * Bin record (RECORD_LEN bytes, ascending position): u32 position, u32 limit-order flags
 *   (bit 0: orders X->Y would fill, bit 1: orders Y->X would fill), u64 amount_x, u64 amount_y,
 *   u128 stored price.
 * Result: None, or (code, total_out, fee, stretches walked), fee being the trading fee on the input
 * (0 when the pair takes it from the output); code 0 = filled, else the walk ended at the plan's
 * terminal: 1 no liquidity, 2 bin id out of bounds, 3 next array not loaded, 5 not planned yet (the
 * adapter plans one more stretch and runs again); terminal 4 (the Python walk decides) gives None.
 * bind(walk, now, Quote, quote, state, aux, a_to_b, records, spare, view): the adapter's bound
 * quoter as a C callable (no Python frame per probe): runs, extends the walk and builds the Quote
 * as meteora_dlmm.quoter did; its at(now) is the same quoter bound at another clock (module
 * attribute Bound: its type). The older bind(walk, now, Quote, general, extend, spare) form takes
 * the three callables ready made.
 */
#include "pyint.h"
#include "gc_fields.h"
#include "quote_obj.h"
#include <stddef.h>

#define HEADER_LEN 60
#define ARRAY_ENTRY_LEN 12
#define RECORD_LEN 40
#define BINS_PER_ARRAY 70
#define BIN_LEN 144
#define OFF_BINS 56
#define FEE_PRECISION 1000000000ULL
#define MAX_FEE_RATE 100000000ULL
#define BASIS_POINT_MAX 10000
#define MAX_EXPONENT 0x80000
#define U64_MAX UINT64_MAX
#define ONE ((u128)1 << 64)
#define TERMINAL_FALLBACK 4
#define TERMINAL_EXTEND 5

/* ---- checked arithmetic (0 = ok, -1 = the program's MathOverflow: not handled here) ---- */

/* _mul_div(x, y, ONE, up) (a Q64.64 product scaled down) whose result must fit u64. */
static int mul_shr64_u64(u128 x, u128 y, int up, uint64_t *out) {
    u256 prod = u256_mul_128(x, y);
    if (prod.w[3] | prod.w[2]) return -1;
    u128 v = prod.w[1];
    if (up && prod.w[0]) v += 1;
    if (v > U64_MAX) return -1;
    *out = (uint64_t)v;
    return 0;
}

/* _mul_div(x, ONE, den, up) for x < 2^64 (x << 64 fits u128) whose result must fit u64. */
static int shl64_div_u64(uint64_t x, u128 den, int up, uint64_t *out) {
    if (den == 0) return -1;
    u128 num = (u128)x << 64, v = num / den;
    if (up && num % den) v += 1;
    if (v > U64_MAX) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int amount_out(uint64_t amount, u128 price, int swap_for_y, uint64_t *out) {
    if (swap_for_y) return mul_shr64_u64(price, amount, 0, out);
    return shl64_div_u64(amount, price, 0, out);
}

static int amount_in(uint64_t out_amount, u128 price, int swap_for_y, uint64_t *out) {
    if (swap_for_y) return shl64_div_u64(out_amount, price, 1, out);
    return mul_shr64_u64(out_amount, price, 1, out);
}

/* ceil(a * rate / den); a < 2^64 and rate <= MAX_FEE_RATE, so it never exceeds a. */
static uint64_t fee_ceil(uint64_t a, uint64_t rate, uint64_t den) {
    u128 n = (u128)a * rate;
    return (uint64_t)((n + den - 1) / den);
}

/* u64x64_math::pow as pow_q64: base ** exp in Q64.64; -1 where the program returns None. */
static int pow_q64(u128 base, int64_t exp, u128 *out) {
    if (exp == 0) {
        *out = ONE;
        return 0;
    }
    int invert = exp < 0;
    uint64_t e = invert ? (uint64_t)(-exp) : (uint64_t)exp;
    if (e >= MAX_EXPONENT) return -1;
    u128 sq = base;
    if (sq >= ONE) {
        sq = U128_MAX / sq;
        invert = !invert;
    }
    u128 result = ONE;
    for (int bit = 0; bit < 19; bit++) {
        if (bit) {
            u256 p = u256_mul_128(sq, sq);
            if (!u256_fits_u128(p)) return -1;
            sq = u256_lo128(p) >> 64;
        }
        if (e & ((uint64_t)1 << bit)) {
            u256 p = u256_mul_128(result, sq);
            if (!u256_fits_u128(p)) return -1;
            result = u256_lo128(p) >> 64;
        }
    }
    if (result == 0) return -1;
    *out = invert ? U128_MAX / result : result;
    return 0;
}

/* ---- the swap ---- */

typedef struct {
    int swap_for_y, on_input, support_lo;
    uint64_t bin_step, base_rate, vfc, max_va, vr;
    int64_t iref;
} params_t;

static uint64_t fee_rate_at(const params_t *p, int64_t bin_id) {
    int64_t d = p->iref - bin_id;
    uint64_t va = p->vr + (uint64_t)(d < 0 ? -d : d) * BASIS_POINT_MAX;
    if (va > p->max_va) va = p->max_va;
    u128 var = 0;
    if (p->vfc > 0) {
        u128 vs = (u128)va * p->bin_step; /* < 2^48 */
        u128 n = (u128)p->vfc * (vs * vs); /* < 2^128 */
        var = n / 100000000000ULL + (n % 100000000000ULL != 0);
    }
    u128 rate = (u128)p->base_rate + var;
    return rate > MAX_FEE_RATE ? MAX_FEE_RATE : (uint64_t)rate;
}

/* swap_exact_in_at_bin without limit orders: gross input taken, net output, trading fee. */
static int swap_at_bin(const params_t *p, uint64_t left, uint64_t max_out, u128 price,
                       uint64_t rate, uint64_t *gross_in, uint64_t *net_out, uint64_t *fee) {
    uint64_t f = 0, net_in = left, max_in, filled, out;
    if (p->on_input) {
        f = fee_ceil(left, rate, FEE_PRECISION);
        net_in = left - f;
    }
    if (amount_in(max_out, price, p->swap_for_y, &max_in)) return -1;
    if (net_in >= max_in) {
        filled = max_in;
        out = max_out;
    } else {
        filled = net_in;
        if (amount_out(net_in, price, p->swap_for_y, &out)) return -1;
    }
    uint64_t g = left;
    if (net_in > filled) {
        if (p->on_input) {
            f = fee_ceil(filled, rate, FEE_PRECISION - rate);
            if ((u128)filled + f > U64_MAX) return -1;
            g = filled + f;
        } else {
            g = filled;
        }
    }
    if (!p->on_input) {
        f = fee_ceil(out, rate, FEE_PRECISION);
        out -= f;
    }
    *gross_in = g;
    *net_out = out;
    *fee = f;
    return 0;
}

/* The walk of `amount` (> 0, u64) over header and records at clock `now`: 1 with *code, *out,
 * *fee, *walked (the result tuple's fields), 0 for None (not handled), -1 with TypeError set. */
static int run_walk(PyObject *header, PyObject *arrays, uint64_t amount, long long now, int *code,
                    uint64_t *out_total, uint64_t *out_fee, uint32_t *walked) {
    if (!PyBytes_Check(header) || !PyTuple_Check(arrays)) {
        PyErr_SetString(PyExc_TypeError, "header must be bytes, records a tuple");
        return -1;
    }
    const unsigned char *h = (const unsigned char *)PyBytes_AS_STRING(header);
    Py_ssize_t hlen = PyBytes_GET_SIZE(header);
    if (hlen < HEADER_LEN) return 0;
    params_t p;
    p.swap_for_y = h[0];
    p.on_input = h[1];
    p.support_lo = h[2];
    int terminal = h[3];
    p.bin_step = (uint16_t)(h[4] | h[5] << 8);
    uint32_t n_arrays = (uint32_t)rd_i32(h + 8);
    int64_t active = rd_i32(h + 12);
    p.iref = rd_i32(h + 16);
    uint64_t va0 = (uint32_t)rd_i32(h + 20);
    p.vr = (uint32_t)rd_i32(h + 24);
    p.max_va = (uint32_t)rd_i32(h + 28);
    p.vfc = (uint32_t)rd_i32(h + 32);
    uint64_t filter = (uint16_t)(h[36] | h[37] << 8), decay = (uint16_t)(h[38] | h[39] << 8);
    uint64_t reduction = (uint16_t)(h[40] | h[41] << 8);
    int64_t last_ts = rd_i64(h + 44);
    p.base_rate = rd_u64(h + 52);
    if ((Py_ssize_t)(HEADER_LEN + (size_t)n_arrays * ARRAY_ENTRY_LEN) > hlen ||
        PyTuple_GET_SIZE(arrays) < (Py_ssize_t)n_arrays || amount == 0)
        return 0;
    /* update_references(clock.unix_timestamp) */
    i128 elapsed = (i128)now - last_ts;
    if (elapsed >= (i128)filter) {
        p.iref = active;
        p.vr = elapsed < (i128)decay ? va0 * reduction / BASIS_POINT_MAX : 0;
    }
    u128 pow_base = ONE + ((u128)p.bin_step << 64) / BASIS_POINT_MAX;
    uint64_t left = amount;
    u128 total_out = 0, total_fee = 0;
    uint32_t lo_bit = p.swap_for_y ? 1u : 2u;
    for (uint32_t i = 0; i < n_arrays; i++) {
        const unsigned char *a = h + HEADER_LEN + (size_t)i * ARRAY_ENTRY_LEN;
        int64_t lower = rd_i32(a);
        int32_t first = rd_i32(a + 4), last = rd_i32(a + 8);
        PyObject *rec_obj = PyTuple_GET_ITEM(arrays, i);
        if (!PyBytes_Check(rec_obj)) return 0;
        const unsigned char *rec = (const unsigned char *)PyBytes_AS_STRING(rec_obj);
        Py_ssize_t n_rec = PyBytes_GET_SIZE(rec_obj) / RECORD_LEN;
        Py_ssize_t k = p.swap_for_y ? n_rec - 1 : 0, dk = p.swap_for_y ? -1 : 1;
        for (; k >= 0 && k < n_rec; k += dk) {
            const unsigned char *r = rec + k * RECORD_LEN;
            int32_t pos = rd_i32(r);
            if (p.swap_for_y ? pos > first : pos < first) continue;
            if (p.swap_for_y ? pos < last : pos > last) break;
            uint32_t lo_flags = (uint32_t)rd_i32(r + 4);
            if (p.support_lo && (lo_flags & lo_bit)) return 0; /* limit orders: Python */
            uint64_t max_out = rd_u64(r + (p.swap_for_y ? 16 : 8));
            if (max_out == 0) continue;
            int64_t bin_id = lower + pos;
            u128 price = rd_u128(r + 24);
            if (price == 0 && pow_q64(pow_base, bin_id, &price)) return 0;
            uint64_t g, out, fee;
            if (swap_at_bin(&p, left, max_out, price, fee_rate_at(&p, bin_id), &g, &out, &fee))
                return 0;
            if (g > 0) {
                total_out += out;
                total_fee += fee;
                if (g >= left) {
                    if (total_out > U64_MAX || total_fee > U64_MAX) return 0;
                    *code = 0;
                    *out_total = (uint64_t)total_out;
                    *out_fee = p.on_input ? (uint64_t)total_fee : 0;
                    *walked = i + 1;
                    return 1;
                }
                left -= g;
            }
        }
    }
    if (terminal == TERMINAL_FALLBACK || terminal == 0) return 0;
    *code = terminal;
    *out_total = *out_fee = 0;
    *walked = n_arrays;
    return 1;
}

static PyObject *swap_exact_in(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4 || !PyBytes_Check(args[0]) || !PyTuple_Check(args[1]) ||
        !PyLong_Check(args[2]) || !PyLong_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "swap_exact_in(header: bytes, records: tuple, amount: int, now: int)");
        return NULL;
    }
    unsigned long long amount = PyLong_AsUnsignedLongLong(args[2]);
    if (amount == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return NULL;
        PyErr_Clear(); /* negative or above u64: the Python walk rejects it */
        Py_RETURN_NONE;
    }
    long long now = PyLong_AsLongLong(args[3]);
    if (now == -1 && PyErr_Occurred()) return NULL;
    int code;
    uint64_t out, fee;
    uint32_t walked;
    int r = run_walk(args[0], args[1], amount, now, &code, &out, &fee, &walked);
    if (r <= 0) {
        if (r < 0) return NULL;
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(iKKI)", code, (unsigned long long)out, (unsigned long long)fee, walked);
}

/* ---- KernelWalk.restarted's header ---- */

/* The int v as an integer in [lo, hi]: 1 (in *out), 0 when it is not an int or out of range,
 * -1 with an exception. */
static int int_in(PyObject *v, long long lo, long long hi, long long *out) {
    if (!PyLong_Check(v)) return 0;
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (overflow || x < lo || x > hi) return 0;
    *out = x;
    return 1;
}

static void wr_le(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* restart_head(header, old_fee, fee, active_id, entry, fee_on_input, support_lo): the header of
 * KernelWalk.restarted when only the pair's dynamic fields moved: `header` (bytes) with
 * active_id, index_reference (fee[11]), volatility accumulator and reference (fee[9], fee[10])
 * and last_update_timestamp (fee[12]) written over and, when entry >= 0, the first stretch's
 * entry position. None (the caller packs the head anew) when fee's first nine fields differ
 * from old_fee's (unless fee is old_fee), the header's fee side or limit-order flag is not
 * fee_on_input or support_lo, a value does not fit its field, or the header has no first
 * stretch for an entry. fee and old_fee: tuples of the 13 FeeParams fields. */
static PyObject *restart_head(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 7 || !PyBytes_Check(args[0]) || !PyTuple_Check(args[1]) ||
        !PyTuple_Check(args[2]) || PyTuple_GET_SIZE(args[1]) != 13 ||
        PyTuple_GET_SIZE(args[2]) != 13) {
        PyErr_SetString(PyExc_TypeError, "restart_head(header: bytes, old_fee: tuple[13], "
                                         "fee: tuple[13], active_id, entry, fee_on_input, "
                                         "support_lo)");
        return NULL;
    }
    PyObject *header = args[0], *old = args[1], *fee = args[2];
    const unsigned char *h = (const unsigned char *)PyBytes_AS_STRING(header);
    Py_ssize_t len = PyBytes_GET_SIZE(header);
    if (len < HEADER_LEN) Py_RETURN_NONE;
    int on_input = PyObject_IsTrue(args[5]), support_lo = PyObject_IsTrue(args[6]);
    if (on_input < 0 || support_lo < 0) return NULL;
    if (h[1] != on_input || h[2] != support_lo) Py_RETURN_NONE;
    if (fee != old) {
        for (Py_ssize_t i = 0; i < 9; i++) {
            int eq = PyObject_RichCompareBool(PyTuple_GET_ITEM(fee, i), PyTuple_GET_ITEM(old, i),
                                              Py_EQ);
            if (eq < 0) return NULL;
            if (!eq) Py_RETURN_NONE;
        }
    }
    /* active_id, entry, index_reference, va, vr, last_update_timestamp */
    PyObject *vals[6] = {args[3], args[4], PyTuple_GET_ITEM(fee, 11), PyTuple_GET_ITEM(fee, 9),
                         PyTuple_GET_ITEM(fee, 10), PyTuple_GET_ITEM(fee, 12)};
    const long long lo[6] = {INT32_MIN, -1, INT32_MIN, 0, 0, LLONG_MIN};
    const long long hi[6] = {INT32_MAX, BINS_PER_ARRAY - 1, INT32_MAX, UINT32_MAX, UINT32_MAX,
                             LLONG_MAX};
    long long x[6];
    for (int i = 0; i < 6; i++) {
        int r = int_in(vals[i], lo[i], hi[i], &x[i]);
        if (r < 0) return NULL;
        if (!r) Py_RETURN_NONE;
    }
    long long active = x[0], entry = x[1], iref = x[2], va = x[3], vr = x[4], ts = x[5];
    if (entry >= 0 && len < HEADER_LEN + ARRAY_ENTRY_LEN) Py_RETURN_NONE;
    PyObject *out = PyBytes_FromStringAndSize(NULL, len);
    if (!out) return NULL;
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    memcpy(o, h, (size_t)len);
    wr_le(o + 12, (uint64_t)active, 4);
    wr_le(o + 16, (uint64_t)iref, 4);
    wr_le(o + 20, (uint64_t)va, 4);
    wr_le(o + 24, (uint64_t)vr, 4);
    wr_le(o + 44, (uint64_t)ts, 8);
    if (entry >= 0) wr_le(o + HEADER_LEN + 4, (uint64_t)entry, 4);
    return out;
}

/* ---- the bound quoter (meteora_dlmm.quoter) as a C callable ---- */

static PyObject *S_HEADER, *S_RECORDS, *S_SPARED, *S_EXTEND; /* interned names */

/* bind(walk, now, quote_cls, general, extend, spare): x -> the walk's Quote of x at clock `now`
 * (arrays: walk.spared[n], or spare(n) when None), or general(x) where the kernel answers None,
 * an error code, or x is not an amount in 1..u64::MAX; KERNEL_EXTEND calls extend() and runs
 * again. bind(walk, now, quote_cls, quote, state, aux, a_to_b, records, spare, view) is the
 * same with general(x) = quote(state, aux, x, a_to_b), extend() = walk.extend(aux, records) and
 * spare(n) = spare(walk, view, a_to_b, n), called without making those callables. walk.header and walk.records are read at binding and again after each extend() (which
 * replaces both); walk.spared, a list the walk only appends to, is taken once at binding.
 * A header read earlier is a prefix of the walk's current plan (a stretch more is planned only by
 * extend(), after a run answered KERNEL_EXTEND: the header's terminal is then KERNEL_EXTEND), so
 * a run over it fills as a run over the current plan does, or answers KERNEL_EXTEND: then the
 * plan is read again and extend() called only if nobody extended the walk meanwhile (the same
 * runs and extend() calls as reading the walk's attributes on every run). */
typedef struct {
    PyObject_HEAD
    /* the older form: general, extend, spare as given; state, aux, a_to_b, view NULL. The wide
     * form: general = quote, extend = records, spare = spare, all of state .. view set. */
    PyObject *walk, *quote_cls, *general, *extend, *spare;
    PyObject *state, *aux, *a_to_b, *view;
    PyObject *header, *records, *spared; /* walk's, see above */
    long long now;
    int wide;
    vectorcallfunc vectorcall;
} bound_t;

/* general(x): quote(state, aux, x, a_to_b) in the wide form. */
static PyObject *call_general(bound_t *b, PyObject *x) {
    if (!b->wide) return PyObject_CallOneArg(b->general, x);
    PyObject *args[4] = {b->state, b->aux, x, b->a_to_b};
    return PyObject_Vectorcall(b->general, args, 4, NULL);
}

/* extend(): walk.extend(aux, records) in the wide form. */
static PyObject *call_extend(bound_t *b) {
    if (!b->wide) return PyObject_CallNoArgs(b->extend);
    PyObject *args[3] = {b->walk, b->aux, b->extend};
    return PyObject_VectorcallMethod(S_EXTEND, args, 3, NULL);
}

/* spare(n): spare(walk, view, a_to_b, n) in the wide form. */
static PyObject *call_spare(bound_t *b, PyObject *pn) {
    if (!b->wide) return PyObject_CallOneArg(b->spare, pn);
    PyObject *args[4] = {b->walk, b->view, b->a_to_b, pn};
    return PyObject_Vectorcall(b->spare, args, 4, NULL);
}

#define MAX_RUNS 1000 /* defensive: each extend adds a stretch (at most 32) or ends the walk */

/* (Re)read walk.header and walk.records into b. 0, or -1 with an exception (b unchanged). */
static int read_plan(bound_t *b) {
    PyObject *header = PyObject_GetAttr(b->walk, S_HEADER);
    if (!header) return -1;
    PyObject *records = PyObject_GetAttr(b->walk, S_RECORDS);
    if (!records) {
        Py_DECREF(header);
        return -1;
    }
    Py_XSETREF(b->header, header);
    Py_XSETREF(b->records, records);
    return 0;
}

static PyObject *bound_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf,
                                  PyObject *kwnames) {
    bound_t *b = (bound_t *)obj;
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "a bound quoter takes one amount");
        return NULL;
    }
    PyObject *x = args[0];
    uint64_t amount;
    int in_range = py_as_u64(x, &amount);
    if (in_range < 0) return NULL;
    if (!in_range || amount == 0) return call_general(b, x);
    int code = 0;
    uint64_t out = 0, fee = 0;
    uint32_t n = 0;
    for (int run = 0;; run++) {
        if (run == MAX_RUNS) return call_general(b, x);
        int r = run_walk(b->header, b->records, amount, b->now, &code, &out, &fee, &n);
        if (r < 0) return NULL;
        if (r == 0) return call_general(b, x); /* not handled: the Python walk */
        if (code != TERMINAL_EXTEND) break; /* else plan one more stretch and run again */
        PyObject *seen = Py_NewRef(b->header);
        int moved = read_plan(b) ? -1 : b->header != seen;
        Py_DECREF(seen);
        if (moved) {
            if (moved < 0) return NULL;
            continue; /* extended elsewhere (quote() on the same walk): run over that first */
        }
        PyObject *done = call_extend(b);
        if (!done) return NULL;
        Py_DECREF(done);
        if (read_plan(b)) return NULL;
    }
    if (code) return call_general(b, x); /* an error: quote() raises it */
    PyObject *spared_list = b->spared;
    if ((Py_ssize_t)n >= PyList_GET_SIZE(spared_list)) {
        PyErr_SetString(PyExc_IndexError, "walk.spared has no slot for the stretches walked");
        return NULL;
    }
    PyObject *spared = Py_NewRef(PyList_GET_ITEM(spared_list, n));
    if (spared == Py_None) { /* spare(n) makes and remembers it */
        Py_DECREF(spared);
        PyObject *pn = PyLong_FromUnsignedLong(n);
        if (!pn) return NULL;
        spared = call_spare(b, pn);
        Py_DECREF(pn);
        if (!spared) return NULL;
    }
    PyObject *q = quote_make(b->quote_cls, x, out, fee, spared);
    Py_DECREF(spared);
    return q;
}

#define BOUND_OBJS(X) \
    X(walk) X(quote_cls) X(general) X(extend) X(spare) X(state) X(aux) X(a_to_b) X(view) \
    X(header) X(records) X(spared)
GC_FIELDS_FUNCS(bound, bound_t, BOUND_OBJS)

/* new_bound's objects: walk, quote_cls, general, extend, spare, then (wide form) state, aux,
 * a_to_b, view */
#define BOUND_ARGS 9

static PyObject *new_bound(PyObject *const *objs, int wide, long long now);

/* bound.at(now): bind(...) with this bound quoter's walk and other arguments at clock `now`: the
 * same quoter at another clock (Meteora's reclock, see meteora_dlmm.reclock); the walk's plan is
 * read again, as bind reads it. */
static PyObject *bound_at(PyObject *obj, PyObject *arg) {
    bound_t *b = (bound_t *)obj;
    if (!PyLong_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "at(now: int)");
        return NULL;
    }
    long long now = PyLong_AsLongLong(arg);
    if (now == -1 && PyErr_Occurred()) return NULL;
    PyObject *objs[BOUND_ARGS] = {b->walk,  b->quote_cls, b->general, b->extend, b->spare,
                                  b->state, b->aux,       b->a_to_b,  b->view};
    int n = b->wide ? BOUND_ARGS : 5;
    for (int i = 0; i < n; i++) {
        if (!objs[i]) {
            PyErr_SetString(PyExc_ValueError, "at: the bound quoter was cleared");
            return NULL;
        }
    }
    for (int i = 0; i < n; i++) Py_INCREF(objs[i]); /* held while new_bound reads the walk */
    PyObject *r = new_bound(objs, b->wide, now);
    for (int i = 0; i < n; i++) Py_DECREF(objs[i]);
    return r;
}

static PyMethodDef bound_methods[] = {
    {"at", bound_at, METH_O,
     "at(now) -> the same bound quoter at clock `now` (bind with the same walk and callables)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject BoundType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "solarb.native._meteora_dlmm.Bound",
    .tp_basicsize = sizeof(bound_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "x -> the bound walk's Quote of x, or general(x) (see bind).",
    .tp_vectorcall_offset = offsetof(bound_t, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_traverse = bound_traverse,
    .tp_clear = bound_clear,
    .tp_dealloc = bound_dealloc,
    .tp_methods = bound_methods,
};

/* A new bound quoter (see bind; its arguments checked): objs as BOUND_ARGS lists them, the last
 * four only when wide. */
static PyObject *new_bound(PyObject *const *objs, int wide, long long now) {
    PyObject *spared = PyObject_GetAttr(objs[0], S_SPARED);
    if (!spared) return NULL;
    if (!PyList_Check(spared)) {
        Py_DECREF(spared);
        PyErr_SetString(PyExc_TypeError, "bind: walk.spared must be a list");
        return NULL;
    }
    bound_t *b = PyObject_GC_New(bound_t, &BoundType);
    if (!b) {
        Py_DECREF(spared);
        return NULL;
    }
    b->walk = Py_NewRef(objs[0]);
    b->quote_cls = Py_NewRef(objs[1]);
    b->general = Py_NewRef(objs[2]);
    b->extend = Py_NewRef(objs[3]);
    b->spare = Py_NewRef(objs[4]);
    b->state = wide ? Py_NewRef(objs[5]) : NULL;
    b->aux = wide ? Py_NewRef(objs[6]) : NULL;
    b->a_to_b = wide ? Py_NewRef(objs[7]) : NULL;
    b->view = wide ? Py_NewRef(objs[8]) : NULL;
    b->header = b->records = NULL;
    b->spared = spared;
    b->now = now;
    b->wide = wide;
    b->vectorcall = bound_vectorcall;
    PyObject_GC_Track((PyObject *)b);
    if (read_plan(b)) {
        Py_DECREF(b);
        return NULL;
    }
    return (PyObject *)b;
}

static PyObject *bind(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs == 10) { /* walk, now, quote_cls, quote, state, aux, a_to_b, records, spare, view */
        if (!PyLong_Check(args[1]) || !PyCallable_Check(args[3]) || !PyCallable_Check(args[7]) ||
            !PyCallable_Check(args[8])) {
            PyErr_SetString(PyExc_TypeError,
                            "bind(walk, now: int, quote_cls: type, quote: callable, state, aux, "
                            "a_to_b, records, spare: callables, view)");
            return NULL;
        }
    } else if (nargs != 6 || !PyLong_Check(args[1]) || !PyCallable_Check(args[3]) ||
               !PyCallable_Check(args[4]) || !PyCallable_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "bind(walk, now: int, quote_cls: type, general, extend, "
                                         "spare: callables)");
        return NULL;
    }
    long long now = PyLong_AsLongLong(args[1]);
    if (now == -1 && PyErr_Occurred()) return NULL;
    if (quote_slots(args[2])) return NULL;
    if (nargs == 6) {
        PyObject *objs[5] = {args[0], args[2], args[3], args[4], args[5]};
        return new_bound(objs, 0, now);
    }
    /* general = quote, extend = records, spare = spare; then state, aux, a_to_b, view */
    PyObject *objs[BOUND_ARGS] = {args[0], args[2], args[3], args[7], args[8],
                                  args[4], args[5], args[6], args[9]};
    return new_bound(objs, 1, now);
}

/* The non-empty bins among `count` consecutive Bin structs at d (positions first.. of a
 * BinArray) as RECORD_LEN records (ascending position). */
static PyObject *records_of(const unsigned char *d, Py_ssize_t first, Py_ssize_t count) {
    unsigned char out[BINS_PER_ARRAY * RECORD_LEN];
    size_t n = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        const unsigned char *bin = d + i * BIN_LEN;
        uint64_t ax = rd_u64(bin), ay = rd_u64(bin + 8);
        uint64_t open = rd_u64(bin + 112), processed = rd_u64(bin + 128);
        int ask = bin[140] != 0;
        uint32_t flags = 0;
        if (open | processed) flags = ask ? 2u : 1u; /* side filled when swap_for_y != ask */
        if (!(ax | ay) && !flags) continue;
        unsigned char *r = out + n * RECORD_LEN;
        int32_t pos = (int32_t)(first + i);
        memcpy(r, &pos, 4);
        memcpy(r + 4, &flags, 4);
        memcpy(r + 8, bin, 16);       /* amount_x, amount_y */
        memcpy(r + 24, bin + 16, 16); /* price */
        n++;
    }
    return PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)(n * RECORD_LEN));
}

static int bad_bins(Py_ssize_t offset, Py_ssize_t first, Py_ssize_t count, Py_ssize_t len) {
    if (offset < 0 || first < 0 || count < 0 || first + count > BINS_PER_ARRAY ||
        offset + count * BIN_LEN > len) {
        PyErr_SetString(PyExc_ValueError, "bins out of the buffer or of the bin array");
        return 1;
    }
    return 0;
}

/* extract_bins(buf, offset, first, count): the non-empty bins among `count` consecutive Bin
 * structs at buf[offset:], which are the bins at positions first.. of a BinArray, as RECORD_LEN
 * records (ascending position). */
static PyObject *extract_bins(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer b;
    Py_ssize_t offset, first, count;
    if (!PyArg_ParseTuple(args, "y*nnn", &b, &offset, &first, &count)) return NULL;
    PyObject *r = NULL;
    if (!bad_bins(offset, first, count, b.len))
        r = records_of((const unsigned char *)b.buf + offset, first, count);
    PyBuffer_Release(&b);
    return r;
}

/* The runs of market.compact.SparseBytes: `chunks` the non-zero runs back to back; the index
 * an array of 'H' or 'I' holding the n runs' starts, their n + 1 offsets in chunks, then the
 * data's length; zeros elsewhere. */
typedef struct {
    const unsigned char *chunks;
    Py_ssize_t chunks_len, n, len;
    const void *index;
    int wide;
} runs_t;

static Py_ssize_t runs_at(const runs_t *r, Py_ssize_t k) {
    return r->wide ? (Py_ssize_t)((const uint32_t *)r->index)[k]
                   : (Py_ssize_t)((const uint16_t *)r->index)[k];
}

/* data[lo:hi] (0 <= lo <= hi <= len) into out. 0, or -1 with ValueError on a run outside the
 * chunks or the data. */
static int runs_read(const runs_t *r, Py_ssize_t lo, Py_ssize_t hi, unsigned char *out) {
    memset(out, 0, (size_t)(hi - lo));
    for (Py_ssize_t i = 0; i < r->n; i++) {
        Py_ssize_t start = runs_at(r, i), a = runs_at(r, r->n + i), e = runs_at(r, r->n + i + 1);
        if (a > e || e > r->chunks_len || start + (e - a) > r->len) {
            PyErr_SetString(PyExc_ValueError, "a run outside the chunks or the data");
            return -1;
        }
        Py_ssize_t s0 = start > lo ? start : lo, s1 = start + (e - a) < hi ? start + (e - a) : hi;
        if (s0 < s1) memcpy(out + (s0 - lo), r->chunks + a + (s0 - start), (size_t)(s1 - s0));
    }
    return 0;
}

/* extract_runs(chunks, index, head, offset, first, count): extract_bins over data stored as
 * runs (runs_t), None when the data does not start with the bytes `head` (a discriminator).
 * Only the head and the bins' span are rebuilt, in zeroed buffers. ValueError when the index
 * does not describe runs inside chunks and the data (or the bins are not inside it). */
static PyObject *extract_runs(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer c, ib, hd;
    PyObject *index, *res = NULL;
    Py_ssize_t offset, first, count;
    if (!PyArg_ParseTuple(args, "y*Oy*nnn", &c, &index, &hd, &offset, &first, &count))
        return NULL;
    if (PyObject_GetBuffer(index, &ib, PyBUF_FORMAT | PyBUF_ND) < 0) {
        PyBuffer_Release(&hd);
        PyBuffer_Release(&c);
        return NULL;
    }
    runs_t r = {(const unsigned char *)c.buf, c.len, 0, 0, ib.buf, 0};
    r.wide = ib.format && ib.itemsize == 4 && ib.format[0] == 'I' && !ib.format[1];
    int narrow = ib.format && ib.itemsize == 2 && ib.format[0] == 'H' && !ib.format[1];
    Py_ssize_t m = (r.wide || narrow) ? ib.len / ib.itemsize : 0;
    unsigned char head[16], buf[BINS_PER_ARRAY * BIN_LEN];
    if (m < 2 || m % 2 || hd.len > (Py_ssize_t)sizeof head) {
        PyErr_SetString(PyExc_ValueError, "not an index of runs ('H' or 'I'), or a long head");
        goto done;
    }
    r.n = (m - 2) / 2;
    r.len = runs_at(&r, m - 1);
    if (bad_bins(offset, first, count, r.len)) goto done;
    if (hd.len > r.len) {
        res = Py_NewRef(Py_None);
        goto done;
    }
    if (runs_read(&r, 0, hd.len, head) < 0) goto done;
    if (memcmp(head, hd.buf, (size_t)hd.len)) {
        res = Py_NewRef(Py_None);
        goto done;
    }
    if (runs_read(&r, offset, offset + count * BIN_LEN, buf) == 0)
        res = records_of(buf, first, count);
done:
    PyBuffer_Release(&ib);
    PyBuffer_Release(&hd);
    PyBuffer_Release(&c);
    return res;
}

static PyMethodDef methods[] = {
    {"swap_exact_in", (PyCFunction)(void (*)(void))swap_exact_in, METH_FASTCALL,
     "swap_exact_in(header, bin_records, amount, now) -> (code, out, fee, arrays) | None"},
    {"extract_bins", extract_bins, METH_VARARGS,
     "extract_bins(buf, offset, first, count) -> the non-empty bins as fixed-size records"},
    {"extract_runs", extract_runs, METH_VARARGS,
     "extract_runs(chunks, index, head, offset, first, count) -> extract_bins over data stored as "
     "runs, None when it does not start with head"},
    {"restart_head", (PyCFunction)(void (*)(void))restart_head, METH_FASTCALL,
     "restart_head(header, old_fee, fee, active_id, entry, fee_on_input, support_lo) -> the "
     "restarted walk's header, or None: pack the head anew (see KernelWalk.restarted)"},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL,
     "bind(walk, now, quote_cls, quote, state, aux, a_to_b, records, spare, view) (or the older "
     "bind(walk, now, quote_cls, general, extend, spare)) -> x -> Quote: the bound quoter (see "
     "meteora_dlmm.quoter) as a C callable"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_meteora_dlmm",
    "Meteora DLMM exact-input swap kernel (see solarb.dex.meteora_dlmm).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__meteora_dlmm(void) {
    if (quote_obj_init() < 0) return NULL;
    S_HEADER = PyUnicode_InternFromString("header");
    S_RECORDS = PyUnicode_InternFromString("records");
    S_SPARED = PyUnicode_InternFromString("spared");
    S_EXTEND = PyUnicode_InternFromString("extend");
    if (!S_HEADER || !S_RECORDS || !S_SPARED || !S_EXTEND || PyType_Ready(&BoundType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddObjectRef(m, "Bound", (PyObject *)&BoundType) < 0) Py_CLEAR(m);
    return m;
}
