/* Makers of frozen slots dataclasses: the C form of solarb.frozen.frozen_maker (the reference).
 *
 * maker(cls, names) -> make, a callable make(*values) that allocates a cls (cls.tp_alloc, as
 * object.__new__(cls) does) and stores values[i] in the slot names[i], in order: what the
 * reference's generated make does through each slot descriptor's __set__, without the Python
 * frame and the n descriptor calls (a 48-field LbPair: ~0.2 us instead of ~2-3 us).
 *
 * maker() accepts only what the reference's stores would do the same for: cls a heap type without
 * a custom __new__ path to run (the reference calls object.__new__ too), each name an object slot
 * (a member descriptor of type T_OBJECT_EX, writable, inside cls's instance size) found on cls,
 * no name twice; otherwise TypeError. make() takes exactly len(names) positional arguments
 * (TypeError otherwise, as the reference's make). A new object's slots are all empty (tp_alloc
 * zeroes it), so each store only takes a reference.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stddef.h>

#include "gc_fields.h"

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyTypeObject *cls;
    Py_ssize_t n;
    Py_ssize_t offsets[1]; /* n of them (variable size) */
} Maker;

static PyTypeObject MakerType;

static PyObject *maker_call(PyObject *self_obj, PyObject *const *args, size_t nargsf,
                            PyObject *kwnames) {
    Maker *self = (Maker *)self_obj;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (self->cls == NULL) { /* cleared by the collector (only inside a dying cycle) */
        PyErr_SetString(PyExc_TypeError, "make(): the maker was cleared");
        return NULL;
    }
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0) {
        PyErr_Format(PyExc_TypeError, "make() of %s takes no keyword arguments",
                     self->cls->tp_name);
        return NULL;
    }
    if (nargs != self->n) {
        PyErr_Format(PyExc_TypeError, "make() of %s takes %zd positional arguments, %zd given",
                     self->cls->tp_name, self->n, nargs);
        return NULL;
    }
    PyObject *obj = self->cls->tp_alloc(self->cls, 0);
    if (obj == NULL) return NULL;
    char *base = (char *)obj;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyObject *v = args[i];
        Py_INCREF(v);
        *(PyObject **)(base + self->offsets[i]) = v;
    }
    return obj;
}

#define MAKER_OBJS(X) X(cls)
GC_FIELDS_FUNCS(maker, Maker, MAKER_OBJS)

static PyObject *maker_repr(PyObject *self_obj) {
    Maker *self = (Maker *)self_obj;
    if (self->cls == NULL) return PyUnicode_FromString("<slots maker (cleared)>");
    return PyUnicode_FromFormat("<slots maker of %s, %zd fields>", self->cls->tp_name, self->n);
}

static PyTypeObject MakerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "solarb.native._slots.Maker",
    .tp_basicsize = offsetof(Maker, offsets),
    .tp_itemsize = sizeof(Py_ssize_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Maker, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_traverse = maker_traverse,
    .tp_clear = maker_clear,
    .tp_dealloc = maker_dealloc,
    .tp_repr = maker_repr,
    .tp_doc = "make(*values): a new instance with values stored in its slots, in order.",
};

/* The offset of slot `name` of `cls`, or -1 with TypeError set. */
static Py_ssize_t slot_offset(PyTypeObject *cls, PyObject *name) {
    if (!PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "maker(): a field name is not a string");
        return -1;
    }
    PyObject *descr = _PyType_Lookup(cls, name); /* borrowed */
    if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type) {
        PyErr_Format(PyExc_TypeError, "maker(): %s.%U is not a slot", cls->tp_name, name);
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & READONLY)) {
        PyErr_Format(PyExc_TypeError, "maker(): %s.%U is not a writable object slot",
                     cls->tp_name, name);
        return -1;
    }
    PyTypeObject *owner = PyDescr_TYPE(descr);
    if (!PyType_IsSubtype(cls, owner) || member->offset < (Py_ssize_t)sizeof(PyObject) ||
        member->offset + (Py_ssize_t)sizeof(PyObject *) > cls->tp_basicsize) {
        PyErr_Format(PyExc_TypeError, "maker(): %s.%U is outside the instance", cls->tp_name,
                     name);
        return -1;
    }
    return member->offset;
}

static PyObject *make_maker(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "maker(cls, names) takes 2 arguments");
        return NULL;
    }
    if (!PyType_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "maker(cls, names): a type and a tuple of names");
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)args[0];
    PyObject *names = args[1];
    if (!(cls->tp_flags & Py_TPFLAGS_HEAPTYPE) || cls->tp_itemsize != 0 ||
        cls->tp_alloc == NULL || cls->tp_new != PyBaseObject_Type.tp_new) {
        PyErr_Format(PyExc_TypeError, "maker(): %s is not a plain slots class", cls->tp_name);
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    Maker *self = PyObject_GC_NewVar(Maker, &MakerType, n > 0 ? n : 1);
    if (self == NULL) return NULL;
    self->vectorcall = maker_call;
    self->n = n;
    Py_INCREF(cls);
    self->cls = cls;
    PyObject_GC_Track((PyObject *)self);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t off = slot_offset(cls, PyTuple_GET_ITEM(names, i));
        if (off < 0) {
            Py_DECREF(self);
            return NULL;
        }
        for (Py_ssize_t j = 0; j < i; j++) {
            if (self->offsets[j] == off) {
                Py_DECREF(self);
                PyErr_Format(PyExc_TypeError, "maker(): %s: a slot is named twice", cls->tp_name);
                return NULL;
            }
        }
        self->offsets[i] = off;
    }
    return (PyObject *)self;
}

static PyMethodDef module_methods[] = {
    {"maker", (PyCFunction)(void (*)(void))make_maker, METH_FASTCALL,
     "maker(cls, names) -> make(*values): a new cls with values in the slots names, in order."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_slots", "Makers of frozen slots dataclasses (see slots.c).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__slots(void) {
    if (PyType_Ready(&MakerType) < 0) return NULL;
    return PyModule_Create(&module_def);
}
