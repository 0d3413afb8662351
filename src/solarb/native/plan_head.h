/* with_head for the CL kernels whose plans start with the same head: price u128, liquidity u128,
 * tick i32, little-endian, in the first 36 bytes (raydium_clmm.c, whirlpool.c). Needs pyint.h
 * (py_to_u128) included before it. */
#ifndef SOLARB_PLAN_HEAD_H
#define SOLARB_PLAN_HEAD_H

#define PLAN_HEAD_LEN 36

static void plan_head_write_le(unsigned char *d, u128 v, int n) {
    for (int i = 0; i < n; i++, v >>= 8) d[i] = (unsigned char)(v & 0xFF);
}

/* with_head(plan, sqrt_price, liquidity, tick) -> a copy of plan (at least header_len bytes,
 * else ValueError(malformed)) with its head set to these; None when a number does not fit its
 * field (the caller packs the plan as before). */
static PyObject *plan_with_head(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t header_len,
                                const char *malformed) {
    if (nargs != 4 || !PyBytes_Check(args[0]) || !PyLong_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "with_head(plan: bytes, sqrt_price: int, liquidity: int, tick: int)");
        return NULL;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(args[0]);
    if (n < header_len || n < PLAN_HEAD_LEN) {
        PyErr_SetString(PyExc_ValueError, malformed);
        return NULL;
    }
    u128 price, liq;
    if (py_to_u128(args[1], &price) || py_to_u128(args[2], &liq)) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return NULL;
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    int overflow;
    long long tick = PyLong_AsLongLongAndOverflow(args[3], &overflow);
    if (tick == -1 && PyErr_Occurred()) return NULL;
    if (overflow || tick < INT32_MIN || tick > INT32_MAX) Py_RETURN_NONE;
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) return NULL;
    unsigned char *d = (unsigned char *)PyBytes_AS_STRING(out);
    memcpy(d + PLAN_HEAD_LEN, PyBytes_AS_STRING(args[0]) + PLAN_HEAD_LEN,
           (size_t)(n - PLAN_HEAD_LEN));
    plan_head_write_le(d, price, 16);
    plan_head_write_le(d + 16, liq, 16);
    plan_head_write_le(d + 32, (u128)(uint32_t)(int32_t)tick, 4);
    return out;
}

#endif
