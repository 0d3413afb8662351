/* Python int <-> u128 for the kernels' arguments and results (CPython C API only). */
#ifndef SOLARB_PYINT_H
#define SOLARB_PYINT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "u256.h"

/* A non-negative Python int below 2^128 as u128; -1 with an exception set otherwise. */
static int py_to_u128(PyObject *obj, u128 *out) {
    if (!PyLong_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "expected an int");
        return -1;
    }
    if (_PyLong_Sign(obj) < 0) {
        PyErr_SetString(PyExc_OverflowError, "negative value for an unsigned 128-bit integer");
        return -1;
    }
    if (_PyLong_NumBits(obj) > 128) {
        PyErr_SetString(PyExc_OverflowError, "value above 2^128 - 1");
        return -1;
    }
    uint64_t lo = PyLong_AsUnsignedLongLongMask(obj);
    if (lo == (uint64_t)-1 && PyErr_Occurred()) return -1;
    PyObject *shift = PyLong_FromLong(64);
    if (!shift) return -1;
    PyObject *high = PyNumber_Rshift(obj, shift);
    Py_DECREF(shift);
    if (!high) return -1;
    uint64_t hi = PyLong_AsUnsignedLongLong(high);
    Py_DECREF(high);
    if (hi == (uint64_t)-1 && PyErr_Occurred()) return -1;
    *out = ((u128)hi << 64) | lo;
    return 0;
}

/* An int in [0, 2^64) as a u64: 1 with *out set; 0 (no exception) when obj is not an int
 * (PyLong_Check) or is an int outside that range, so the caller can fall back to its general path;
 * -1 with an exception set on another error (none is known). Builds no Python object and raises
 * nothing in between: one PyLong_AsLongLongAndOverflow (a digit loop; PyLong_AsUnsignedLongLong
 * converts an int of two digits or more, >= 2^30, through a byte array) answers below 2^63, the
 * bit length and PyLong_AsUnsignedLongLongMask (exact there) the rest. */
static inline int py_as_u64(PyObject *obj, uint64_t *out) {
    if (!PyLong_Check(obj)) return 0;
    int overflow;
    long long small = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow == 0) {
        if (small < 0) return small == -1 && PyErr_Occurred() ? -1 : 0;
        *out = (uint64_t)small;
        return 1;
    }
    if (overflow < 0) return 0;
    size_t bits = _PyLong_NumBits(obj); /* >= 64 here */
    if (bits > 64) {
        if (bits == (size_t)-1 && PyErr_Occurred()) { /* more bits than a size_t counts */
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return -1;
            PyErr_Clear();
        }
        return 0;
    }
    uint64_t v = PyLong_AsUnsignedLongLongMask(obj);
    if (v == UINT64_MAX && PyErr_Occurred()) return -1;
    *out = v;
    return 1;
}

/* A u128 as a Python int (new reference, NULL on memory error). */
static PyObject *py_from_u128(u128 v) {
    if (!(v >> 64)) return PyLong_FromUnsignedLongLong((uint64_t)v);
    PyObject *hi = PyLong_FromUnsignedLongLong((uint64_t)(v >> 64));
    PyObject *lo = PyLong_FromUnsignedLongLong((uint64_t)v);
    PyObject *shift = PyLong_FromLong(64);
    PyObject *out = NULL;
    if (hi && lo && shift) {
        PyObject *up = PyNumber_Lshift(hi, shift);
        if (up) {
            out = PyNumber_Or(up, lo);
            Py_DECREF(up);
        }
    }
    Py_XDECREF(hi);
    Py_XDECREF(lo);
    Py_XDECREF(shift);
    return out;
}

#endif /* SOLARB_PYINT_H */
