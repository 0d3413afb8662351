/* Garbage-collector support for the kernels' bound-quoter types, whose PyObject * members are
 * listed once in an X-macro: FIELDS(X) expands X(member) for each of them.
 *
 * GC_FIELDS_FUNCS(prefix, type, FIELDS) defines prefix_traverse (visits each member), prefix_clear
 * (clears each member) and prefix_dealloc (untracks, clears, frees: a PyObject_GC_New object) for
 * the type's tp_traverse, tp_clear and tp_dealloc. The same code as written out by hand.
 */
#ifndef SOLARB_GC_FIELDS_H
#define SOLARB_GC_FIELDS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define GC_FIELDS_VISIT_(member) Py_VISIT(self_->member);
#define GC_FIELDS_CLEAR_(member) Py_CLEAR(self_->member);

#define GC_FIELDS_FUNCS(prefix, type, FIELDS)                                         \
    static int prefix##_traverse(PyObject *obj, visitproc visit, void *arg) {         \
        type *self_ = (type *)obj;                                                    \
        FIELDS(GC_FIELDS_VISIT_)                                                      \
        return 0;                                                                     \
    }                                                                                 \
    static int prefix##_clear(PyObject *obj) {                                        \
        type *self_ = (type *)obj;                                                    \
        FIELDS(GC_FIELDS_CLEAR_)                                                      \
        return 0;                                                                     \
    }                                                                                 \
    static void prefix##_dealloc(PyObject *obj) {                                     \
        PyObject_GC_UnTrack(obj);                                                     \
        prefix##_clear(obj);                                                          \
        PyObject_GC_Del(obj);                                                         \
    }

#endif /* SOLARB_GC_FIELDS_H */
