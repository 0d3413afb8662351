/* The CycleFinder's float filter and rate-table refresh (solarb.strategy.cycle_plan.filter_rows
 * and solarb.strategy.cycles._refresh_rates in C).
 *
 * filter(table, rows, threshold) -> list[tuple[float, int]]
 *   table: a buffer of doubles (array('d')), the finder's rate table;
 *   rows: a buffer of C ints (array('i')), 4 per cycle: (index, a, b, c), slots into table;
 *   returns [(r, index)] for each row, in row order, where r = (table[a] * table[b]) * table[c]
 *   and r > threshold (a NaN product fails, as in Python). The product and the comparison are
 *   the Python loop's own double operations, so the same rows pass with the same floats.
 * Raises ValueError for a wrong buffer format or a row count not a multiple of 4, IndexError for
 * a slot outside the table (nothing is returned then).
 *
 * refresh(table, revs, checks, spot_rate) -> int
 *   table: the rate table (a writable buffer of doubles); revs: a list, revs[s] the rate_revision
 *   the rates at s and s + 1 came from; checks: a tuple of (entry, s) pairs (s an int, the
 *   a_to_b slot of the entry's pool); spot_rate(entry, state, a_to_b) -> float.
 *   For each pair, in order, as the Python loop: an entry whose ``ready`` is true and
 *   ``quarantined`` false gets table[s] = spot_rate(entry, entry.state, True), then
 *   table[s + 1] = spot_rate(entry, state, False), then revs[s] = entry.rate_revision, unless
 *   revs[s] already equals its rate_revision; any other entry gets NaN in both and revs[s] = -1.
 *   Returns the number of entries whose rates were computed. The attributes are read from the
 *   instance's slots directly when the entry's type keeps them as plain object slots (the
 *   finder's PoolEntry), else through getattr. IndexError for a slot with s < 0 or s + 1 outside
 *   the table or s outside revs (the pairs before it are done); TypeError for a malformed pair;
 *   an exception of spot_rate or getattr propagates (the same partial updates as Python).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <math.h>
#include <string.h>

static int
format_is(const Py_buffer *view, const char *want, Py_ssize_t itemsize)
{
    const char *f = view->format == NULL ? "B" : view->format;
    if (f[0] == '@' || f[0] == '=' || f[0] == '<') {
        f++;
    }
    return view->itemsize == itemsize && strcmp(f, want) == 0;
}

static PyObject *
cf_filter(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "filter(table, rows, threshold) takes 3 arguments");
        return NULL;
    }
    double threshold = PyFloat_AsDouble(args[2]);
    if (threshold == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    Py_buffer tb, rb;
    if (PyObject_GetBuffer(args[0], &tb, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &rb, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&tb);
        return NULL;
    }
    PyObject *out = NULL;
    if (!format_is(&tb, "d", (Py_ssize_t)sizeof(double))) {
        PyErr_SetString(PyExc_ValueError, "table must be a buffer of doubles (array('d'))");
        goto done;
    }
    if (!format_is(&rb, "i", (Py_ssize_t)sizeof(int))) {
        PyErr_SetString(PyExc_ValueError, "rows must be a buffer of C ints (array('i'))");
        goto done;
    }
    const double *table = (const double *)tb.buf;
    const int *rows = (const int *)rb.buf;
    Py_ssize_t n = tb.len / (Py_ssize_t)sizeof(double);
    Py_ssize_t m = rb.len / (Py_ssize_t)sizeof(int);
    if (m % 4 != 0) {
        PyErr_SetString(PyExc_ValueError, "rows must hold 4 ints per cycle");
        goto done;
    }
    out = PyList_New(0);
    if (out == NULL) {
        goto done;
    }
    for (Py_ssize_t k = 0; k < m; k += 4) {
        int a = rows[k + 1], b = rows[k + 2], c = rows[k + 3];
        if (a < 0 || a >= n || b < 0 || b >= n || c < 0 || c >= n) {
            PyErr_Format(PyExc_IndexError, "row %zd reads a slot outside the table", k / 4);
            Py_CLEAR(out);
            goto done;
        }
        double r = table[a] * table[b];
        r = r * table[c];
        if (!(r > threshold)) {
            continue;
        }
        PyObject *item = PyTuple_New(2);
        PyObject *rate = PyFloat_FromDouble(r);
        PyObject *index = PyLong_FromLong(rows[k]);
        if (item == NULL || rate == NULL || index == NULL) {
            Py_XDECREF(item);
            Py_XDECREF(rate);
            Py_XDECREF(index);
            Py_CLEAR(out);
            goto done;
        }
        PyTuple_SET_ITEM(item, 0, rate);
        PyTuple_SET_ITEM(item, 1, index);
        int failed = PyList_Append(out, item);
        Py_DECREF(item);
        if (failed < 0) {
            Py_CLEAR(out);
            goto done;
        }
    }
done:
    PyBuffer_Release(&rb);
    PyBuffer_Release(&tb);
    return out;
}

/* ----------------------------------------------------------------------------- refresh */

enum { F_READY, F_QUARANTINED, F_RATE_REVISION, F_STATE, N_FIELDS };
static const char *const FIELD_NAMES[N_FIELDS] = {"ready", "quarantined", "rate_revision", "state"};
static PyObject *field_names[N_FIELDS]; /* interned */

/* The entry type whose slots are read directly (a strong reference), its version tag when they
 * were found, and each field's offset. */
static PyTypeObject *known_type;
static unsigned int known_version;
static Py_ssize_t known_offsets[N_FIELDS];

/* Learn `type`'s slot offsets for the fields: 1 when each is a plain object slot (a member
 * descriptor of type T_OBJECT_EX inside the instance) and the type has a valid version tag
 * (a modified class gets another: it is then learnt again); 0 otherwise (getattr is used). */
static int learn(PyTypeObject *type) {
    Py_CLEAR(known_type);
    if (type->tp_dictoffset != 0) return 0; /* plain slots classes only */
    Py_ssize_t offsets[N_FIELDS];
    for (int k = 0; k < N_FIELDS; k++) {
        PyObject *descr = _PyType_Lookup(type, field_names[k]); /* borrowed */
        if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type) return 0;
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != T_OBJECT_EX || member->offset < (Py_ssize_t)sizeof(PyObject) ||
            member->offset + (Py_ssize_t)sizeof(PyObject *) > type->tp_basicsize ||
            !PyType_IsSubtype(type, PyDescr_TYPE(descr)))
            return 0;
        offsets[k] = member->offset;
    }
    /* the lookups gave the type a version tag unless it cannot have one */
    if (!PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) return 0;
    memcpy(known_offsets, offsets, sizeof offsets);
    Py_INCREF(type);
    known_type = type;
    known_version = type->tp_version_tag;
    return 1;
}

/* entry.<field k> (a new reference), or NULL with an exception set. */
static PyObject *field(PyObject *entry, int k) {
    PyTypeObject *type = Py_TYPE(entry);
    if (type == known_type && type->tp_version_tag == known_version &&
        PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) {
        PyObject *v = *(PyObject **)((char *)entry + known_offsets[k]);
        if (v != NULL) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(entry, field_names[k]); /* also raises for an empty slot */
}

/* spot_rate(entry, state, a_to_b) as a double; -1 with an exception set on failure. */
static int rate_of(PyObject *spot_rate, PyObject *entry, PyObject *state, PyObject *a_to_b,
                   double *out) {
    PyObject *args[3] = {entry, state, a_to_b};
    PyObject *r = PyObject_Vectorcall(spot_rate, args, 3, NULL);
    if (r == NULL) return -1;
    double v = PyFloat_AsDouble(r);
    Py_DECREF(r);
    if (v == -1.0 && PyErr_Occurred()) return -1;
    *out = v;
    return 0;
}

/* One pair: the body of the Python loop. 1: rates computed, 0: not, -1: error. */
static int refresh_one(double *table, Py_ssize_t n, PyObject *revs, PyObject *pair,
                       PyObject *spot_rate) {
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        PyErr_SetString(PyExc_TypeError, "refresh(): checks must hold (entry, slot) pairs");
        return -1;
    }
    PyObject *entry = PyTuple_GET_ITEM(pair, 0);
    Py_ssize_t s = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
    if (s == -1 && PyErr_Occurred()) return -1;
    if (s < 0 || s >= n - 1 || s >= PyList_GET_SIZE(revs)) { /* s + 1 could overflow */
        PyErr_Format(PyExc_IndexError, "refresh(): slot %zd outside the table or revs", s);
        return -1;
    }
    PyTypeObject *type = Py_TYPE(entry);
    if (type != known_type || type->tp_version_tag != known_version) learn(type);
    PyObject *v = field(entry, F_READY);
    if (v == NULL) return -1;
    int tradable = PyObject_IsTrue(v);
    Py_DECREF(v);
    if (tradable < 0) return -1;
    if (tradable) {
        v = field(entry, F_QUARANTINED);
        if (v == NULL) return -1;
        int quarantined = PyObject_IsTrue(v);
        Py_DECREF(v);
        if (quarantined < 0) return -1;
        tradable = !quarantined;
    }
    if (!tradable) {
        table[s] = table[s + 1] = Py_NAN;
        PyObject *none = PyLong_FromLong(-1);
        if (none == NULL) return -1;
        return PyList_SetItem(revs, s, none); /* steals; 0 */
    }
    PyObject *revision = field(entry, F_RATE_REVISION);
    if (revision == NULL) return -1;
    PyObject *old = PyList_GET_ITEM(revs, s);
    int differs = old == revision ? 0 : PyObject_RichCompareBool(old, revision, Py_NE);
    if (differs <= 0) {
        Py_DECREF(revision);
        return differs; /* 0, or -1 on error */
    }
    PyObject *state = field(entry, F_STATE);
    if (state == NULL) {
        Py_DECREF(revision);
        return -1;
    }
    double r;
    int failed = rate_of(spot_rate, entry, state, Py_True, &r);
    if (!failed) {
        table[s] = r;
        failed = rate_of(spot_rate, entry, state, Py_False, &r);
    }
    Py_DECREF(state);
    if (failed) {
        Py_DECREF(revision);
        return -1;
    }
    table[s + 1] = r;
    if (s >= PyList_GET_SIZE(revs)) { /* spot_rate shrank revs */
        Py_DECREF(revision);
        PyErr_Format(PyExc_IndexError, "refresh(): slot %zd outside revs", s);
        return -1;
    }
    PyList_SetItem(revs, s, revision); /* steals */
    return 1;
}

static PyObject *
cf_refresh(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "refresh(table, revs, checks, spot_rate) takes 4 arguments");
        return NULL;
    }
    PyObject *revs = args[1], *checks = args[2], *spot_rate = args[3];
    if (!PyList_Check(revs) || !PyTuple_Check(checks)) {
        PyErr_SetString(PyExc_TypeError, "refresh(): revs must be a list and checks a tuple");
        return NULL;
    }
    Py_buffer tb;
    if (PyObject_GetBuffer(args[0], &tb, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        return NULL;
    }
    if (!format_is(&tb, "d", (Py_ssize_t)sizeof(double))) {
        PyBuffer_Release(&tb);
        PyErr_SetString(PyExc_ValueError, "table must be a buffer of doubles (array('d'))");
        return NULL;
    }
    double *table = (double *)tb.buf;
    Py_ssize_t n = tb.len / (Py_ssize_t)sizeof(double);
    Py_INCREF(checks);
    long computed = 0;
    int failed = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(checks); i++) {
        int r = refresh_one(table, n, revs, PyTuple_GET_ITEM(checks, i), spot_rate);
        if (r < 0) {
            failed = 1;
            break;
        }
        computed += r;
    }
    Py_DECREF(checks);
    PyBuffer_Release(&tb);
    return failed ? NULL : PyLong_FromLong(computed);
}

static PyMethodDef cf_methods[] = {
    {"filter", (PyCFunction)(void (*)(void))cf_filter, METH_FASTCALL,
     "filter(table, rows, threshold) -> [(rate, index)] of the rows whose product passes."},
    {"refresh", (PyCFunction)(void (*)(void))cf_refresh, METH_FASTCALL,
     "refresh(table, revs, checks, spot_rate) -> the number of pools whose rates were computed."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef cf_module = {
    PyModuleDef_HEAD_INIT, "_cycle_filter",
    "The CycleFinder's float filter and rate-table refresh.", -1, cf_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__cycle_filter(void)
{
    for (int k = 0; k < N_FIELDS; k++) {
        field_names[k] = PyUnicode_InternFromString(FIELD_NAMES[k]);
        if (field_names[k] == NULL) {
            return NULL;
        }
    }
    return PyModule_Create(&cf_module);
}
