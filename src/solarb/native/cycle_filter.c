/* The CycleFinder's float filter (solarb.strategy.cycle_plan.filter_rows in C).
 *
 * filter(table, rows, threshold) -> list[tuple[float, int]]
 *   table: a buffer of doubles (array('d')), the finder's rate table;
 *   rows: a buffer of C ints (array('i')), 4 per cycle: (index, a, b, c), slots into table;
 *   returns [(r, index)] for each row, in row order, where r = (table[a] * table[b]) * table[c]
 *   and r > threshold (a NaN product fails, as in Python). The product and the comparison are
 *   the Python loop's own double operations, so the same rows pass with the same floats.
 * Raises ValueError for a wrong buffer format or a row count not a multiple of 4, IndexError for
 * a slot outside the table (nothing is returned then).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
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

static PyMethodDef cf_methods[] = {
    {"filter", (PyCFunction)(void (*)(void))cf_filter, METH_FASTCALL,
     "filter(table, rows, threshold) -> [(rate, index)] of the rows whose product passes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef cf_module = {
    PyModuleDef_HEAD_INIT, "_cycle_filter",
    "The CycleFinder's float filter over its flat rate table and rows.", -1, cf_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__cycle_filter(void)
{
    return PyModule_Create(&cf_module);
}
