/* A Quote (solarb.dex.base.Quote: a frozen slots dataclass amount_in, amount_out, fee, arrays)
 * built through its slot descriptors, as solarb.frozen.frozen_maker does (the frozen __init__
 * costs more than the swap). Shared by the kernels that answer Quotes, and by the sizing kernel,
 * which reads amount_out through the descriptor.
 *
 * Contract: static functions and state, so each extension that includes this keeps its own copy.
 * The module's init calls quote_obj_init() (0, or -1 with an exception) before anything else here.
 * quote_alloc(cls) checks cls (remembering its descriptors) and allocates; quote_fill(obj, vals)
 * then sets the four fields in order and steals obj and vals (any NULL val: the creation failed
 * and its exception is set). Callers make vals between the two, so a bad cls fails first.
 * quote_make(cls, amount_in, out, fee, arrays) does both for u64 out and fee.
 */
#ifndef SOLARB_QUOTE_OBJ_H
#define SOLARB_QUOTE_OBJ_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *S_FIELDS[4]; /* amount_in, amount_out, fee, arrays */
static PyObject *EMPTY_TUPLE;
static PyObject *QUOTE_CLS, *QUOTE_SLOTS[4]; /* the last quote_cls and its field descriptors */

/* Intern the four field names and make the empty tuple. 0, or -1 with an exception. */
static int quote_obj_init(void) {
    const char *names[4] = {"amount_in", "amount_out", "fee", "arrays"};
    for (int i = 0; i < 4; i++) {
        S_FIELDS[i] = PyUnicode_InternFromString(names[i]);
        if (!S_FIELDS[i]) return -1;
    }
    EMPTY_TUPLE = PyTuple_New(0);
    return EMPTY_TUPLE ? 0 : -1;
}

/* Remember cls's slot descriptors for the four Quote fields. 0, or -1 with an exception. */
static int quote_slots(PyObject *cls) {
    if (cls == QUOTE_CLS) return 0;
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "quote_cls must be a type");
        return -1;
    }
    PyObject *found[4] = {0};
    for (int i = 0; i < 4; i++) {
        found[i] = PyObject_GetAttr(cls, S_FIELDS[i]);
        if (!found[i] || !Py_TYPE(found[i])->tp_descr_set) {
            if (found[i]) PyErr_SetString(PyExc_TypeError, "quote_cls fields must be slots");
            for (int j = 0; j <= i; j++) Py_XDECREF(found[j]);
            return -1;
        }
    }
    for (int i = 0; i < 4; i++) Py_XSETREF(QUOTE_SLOTS[i], found[i]);
    Py_INCREF(cls);
    Py_XSETREF(QUOTE_CLS, cls);
    return 0;
}

/* An empty instance of quote_cls (checked by quote_slots), or NULL with an exception. */
static PyObject *quote_alloc(PyObject *cls) {
    if (quote_slots(cls)) return NULL;
    PyTypeObject *tp = (PyTypeObject *)cls;
    return tp->tp_alloc(tp, 0);
}

/* obj from quote_alloc with its four fields set to vals (amount_in, amount_out, fee, arrays);
 * steals obj and the vals (NULL ones are skipped). obj, or NULL with an exception. */
static PyObject *quote_fill(PyObject *obj, PyObject *vals[4]) {
    int bad = !vals[0] || !vals[1] || !vals[2] || !vals[3];
    for (int i = 0; i < 4 && !bad; i++) {
        PyObject *d = QUOTE_SLOTS[i];
        bad = Py_TYPE(d)->tp_descr_set(d, obj, vals[i]) < 0;
    }
    for (int i = 0; i < 4; i++) Py_XDECREF(vals[i]);
    if (bad) {
        Py_DECREF(obj);
        return NULL;
    }
    return obj;
}

/* quote_cls(amount_in, out, fee, arrays) with out and fee u64 (amount_in and arrays borrowed):
 * a new Quote, or NULL with an exception. */
static PyObject *quote_make(PyObject *cls, PyObject *amount_in, uint64_t out, uint64_t fee,
                            PyObject *arrays) {
    PyObject *obj = quote_alloc(cls);
    if (!obj) return NULL;
    PyObject *vals[4] = {Py_NewRef(amount_in), PyLong_FromUnsignedLongLong(out),
                         PyLong_FromUnsignedLongLong(fee), Py_NewRef(arrays)};
    return quote_fill(obj, vals);
}

#endif /* SOLARB_QUOTE_OBJ_H */
