/* Bound quoters of the constant-product pools: the per-probe part of
 * solarb.dex.raydium_cpmm.quoter (swap_base_input) and solarb.dex.raydium_amm_v4.quoter
 * (swap_amounts and the program's post-checks), bit-identical to the Python closures.
 *
 * cpmm(r_in, r_out, trade_rate, creator_rate, on_input, general, fallback, quote_cls)
 * amm_v4(r_in, r_out, fee_numerator, fee_denominator, general, fallback, quote_cls)
 *   -> a callable x -> quote_cls(x, amount_out, fee), or None when a number is not an int in
 *   [0, 2^64) (the caller keeps its Python closure). The reserves and rates are read once, at
 *   binding, by the adapter (which has already checked status, open time and reserves).
 *
 * Per call: x that is not an exact int goes to `fallback` (the Python closure this object
 * replaces: same result for any argument type). Every case the Python closure sends to its
 * `general(x)` (the full quote, which raises the program's typed error or answers the same
 * quote) goes to `general`: x outside (0, 2^64), a zero rate sum with an input-side creator fee,
 * a fee above the input or the output, a zero denominator, out == 0, out >= r_out (AMM v4), and
 * any product that would overflow 128 bits (only possible with rates near 2^64; the Python
 * closure answers those exactly, so `general` does too).
 */
#include "pyint.h"
#include "gc_fields.h"
#include "quote_obj.h"

#include <stddef.h>

#define CPMM_FEE_DEN 1000000u

enum { KIND_CPMM = 0, KIND_AMM_V4 = 1 };

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    int kind;
    int on_input;        /* CPMM: creator fee taken from the input */
    uint64_t r_in, r_out;
    uint64_t a, b;       /* CPMM: trade rate, creator rate; AMM v4: fee numerator, denominator */
    PyObject *general;   /* x -> the adapter's quote(state, aux, x, a_to_b) */
    PyObject *fallback;  /* the Python bound closure (x not an exact int) */
    PyObject *quote_cls;
} Quoter;

/* ceil(v * num / den) as solarb's -(-v * num // den) for non-negative operands; 1 on overflow. */
static int ceil_mul_div(u128 v, u128 num, u128 den, u128 *out) {
    u128 p;
    if (__builtin_mul_overflow(v, num, &p)) return 1;
    *out = p / den + (p % den != 0);
    return 0;
}

/* raydium_cpmm.swap_base_input for x in [1, 2^64): 1 with (out, fee) where the closure
 * returns a Quote, 0 where it calls general. */
static int cpmm_swap(const Quoter *q, uint64_t x, uint64_t *out, uint64_t *fee) {
    u128 trade_rate = q->a, creator_rate = q->b, total, net;
    if (q->on_input) {
        u128 rate = trade_rate + creator_rate; /* < 2^65 */
        if (rate == 0) return 0;               /* QuoteError: split_creator_fee divides by it */
        if (ceil_mul_div(x, rate, CPMM_FEE_DEN, &total)) return 0;
        if (total > x) return 0;               /* QuoteError: fee above input */
        net = x - total;
        *fee = (uint64_t)total; /* trade + creator = total */
    } else {
        if (ceil_mul_div(x, trade_rate, CPMM_FEE_DEN, &total)) return 0;
        if (total > x) return 0;
        net = x - total;
        *fee = (uint64_t)total;
    }
    u128 den = (u128)q->r_in + net;
    if (den == 0) return -1; /* ZeroDivisionError in Python: the closure raises it */
    u128 swapped = net * (u128)q->r_out / den; /* net, r_out < 2^64 */
    u128 o = swapped;
    if (!q->on_input) {
        u128 creator;
        if (ceil_mul_div(swapped, creator_rate, CPMM_FEE_DEN, &creator)) return 0;
        if (creator > swapped) return 0; /* QuoteError: creator fee above output */
        o = swapped - creator;
    }
    if (o == 0) return 0;
    *out = (uint64_t)o;
    return 1;
}

/* raydium_amm_v4.swap_amounts plus the closure's checks, same convention as cpmm_swap. */
static int amm_v4_swap(const Quoter *q, uint64_t x, uint64_t *out, uint64_t *fee) {
    if (q->b == 0) return 0; /* QuoteError: zero denominator */
    u128 f;
    if (ceil_mul_div(x, q->a, q->b, &f)) return 0;
    if (f > x) return 0; /* QuoteError: fee above input */
    u128 net = x - f;
    u128 den = (u128)q->r_in + net;
    if (den == 0) return 0; /* InsufficientLiquidity */
    u128 o = (u128)q->r_out * net / den;
    if (o == 0 || o >= q->r_out) return 0;
    *out = (uint64_t)o;
    *fee = (uint64_t)f;
    return 1;
}

static PyObject *quoter_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
                                   PyObject *kwnames) {
    Quoter *q = (Quoter *)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 1 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        return PyObject_Vectorcall(q->fallback, args, nargsf, kwnames); /* its TypeError */
    }
    PyObject *x = args[0];
    if (!PyLong_CheckExact(x)) return PyObject_CallOneArg(q->fallback, x);
    uint64_t v;
    int in_range = py_as_u64(x, &v);
    if (in_range < 0) return NULL;
    if (!in_range || v == 0) return PyObject_CallOneArg(q->general, x); /* outside (0, 2^64) */
    uint64_t out = 0, fee = 0;
    int r = q->kind == KIND_CPMM ? cpmm_swap(q, v, &out, &fee) : amm_v4_swap(q, v, &out, &fee);
    if (r < 0) return PyObject_CallOneArg(q->fallback, x);
    if (r == 0) return PyObject_CallOneArg(q->general, x);
    return quote_make(q->quote_cls, x, out, fee, EMPTY_TUPLE);
}

#define QUOTER_OBJS(X) X(general) X(fallback) X(quote_cls)
GC_FIELDS_FUNCS(quoter, Quoter, QUOTER_OBJS)

static PyTypeObject QuoterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "solarb.native._constant_product.Quoter",
    .tp_doc = "x -> Quote: a constant-product pool's bound quoter (see the module docstring).",
    .tp_basicsize = sizeof(Quoter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Quoter, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_traverse = quoter_traverse,
    .tp_clear = quoter_clear,
    .tp_dealloc = quoter_dealloc,
};

/* A Quoter from four u64 numbers and the three objects after them, or None. */
static PyObject *new_quoter(int kind, PyObject *const *nums, int on_input, PyObject *const *objs) {
    uint64_t v[4];
    for (int i = 0; i < 4; i++) {
        int r = py_as_u64(nums[i], &v[i]);
        if (r < 0) return NULL;
        if (r == 0) Py_RETURN_NONE;
    }
    if (quote_slots(objs[2])) return NULL;
    Quoter *q = PyObject_GC_New(Quoter, &QuoterType);
    if (!q) return NULL;
    q->vectorcall = quoter_vectorcall;
    q->kind = kind;
    q->on_input = on_input;
    q->r_in = v[0];
    q->r_out = v[1];
    q->a = v[2];
    q->b = v[3];
    q->general = Py_NewRef(objs[0]);
    q->fallback = Py_NewRef(objs[1]);
    q->quote_cls = Py_NewRef(objs[2]);
    PyObject_GC_Track((PyObject *)q);
    return (PyObject *)q;
}

static PyObject *py_cpmm(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "cpmm(r_in, r_out, trade_rate, creator_rate, on_input, "
                                         "general, fallback, quote_cls)");
        return NULL;
    }
    int on_input = PyObject_IsTrue(args[4]);
    if (on_input < 0) return NULL;
    return new_quoter(KIND_CPMM, args, on_input, args + 5);
}

static PyObject *py_amm_v4(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "amm_v4(r_in, r_out, fee_numerator, fee_denominator, "
                                         "general, fallback, quote_cls)");
        return NULL;
    }
    return new_quoter(KIND_AMM_V4, args, 0, args + 4);
}

static PyMethodDef METHODS[] = {
    {"cpmm", (PyCFunction)(void (*)(void))py_cpmm, METH_FASTCALL,
     "cpmm(r_in, r_out, trade_rate, creator_rate, on_input, general, fallback, quote_cls) -> "
     "Quoter | None: raydium_cpmm's bound quoter (swap_base_input, no transfer fee)."},
    {"amm_v4", (PyCFunction)(void (*)(void))py_amm_v4, METH_FASTCALL,
     "amm_v4(r_in, r_out, fee_numerator, fee_denominator, general, fallback, quote_cls) -> "
     "Quoter | None: raydium_amm_v4's bound quoter (swap_amounts and its post-checks)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_constant_product",
    "Constant-product bound quoters (Raydium CPMM, AMM v4).", -1, METHODS, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__constant_product(void) {
    if (quote_obj_init() < 0 || PyType_Ready(&QuoterType) < 0) return NULL;
    return PyModule_Create(&MODULE);
}
