/* The account-notification reader: one pass over a PubSub frame instead of orjson.loads.
 *
 * account_note(frame, b64decode) -> (subscription, slot, data, owner, lamports) or None.
 *
 * Reads a frame of the one shape every watched account's notification has,
 *
 *   {"params": {"result": {"context": {"slot": S}, "value": {"data": ["<b64>", "base64"],
 *    "lamports": L, "owner": "<text>", ...}, ...}, "subscription": N, ...}, ...}
 *
 * keys in any order, any other keys and values anywhere (validated, not kept), and returns what
 * the general path (orjson.loads, then PubSubConnection._dispatch and rpc.client.decode_account)
 * would take from it: N, S, the decoded data (``b64decode(<b64>, validate=True)``, the caller's
 * function, called on a read-only view of the frame that holds the frame), the owner's text
 * and L.
 *
 * None (no exception) for anything else, so the caller falls back to the general path and gets
 * its results and errors: the frame is not bytes; it is not one JSON object the reader accepts
 * (the accepted grammar is a subset of JSON that orjson parses to the same values: strings of
 * printable ASCII without escapes, integers from -2**63 to 2**64 - 1 without fraction or
 * exponent, true/false/null, arrays, objects, nesting up to MAX_DEPTH); a key it reads occurs
 * twice in its object (orjson keeps the last: left to it); one of them is missing or of another
 * type (N, S or L not an integer >= 0, data not exactly [string, "base64"], owner not a string);
 * the base64 text holds a backslash or does not decode (b64decode raises ValueError).
 * The base64 text is the one string not checked byte by byte here: b64decode with validate=True
 * accepts only the base64 alphabet (ASCII, so the same str for orjson) or raises.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 32

typedef struct {
    const char *p;
    const char *end;
} Cursor;

static inline void skip_ws(Cursor *c) {
    while (c->p < c->end) {
        char ch = *c->p;
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') return;
        c->p++;
    }
}

/* 1 for the bytes a string may hold here: printable ASCII but the quote and the backslash. */
static unsigned char plain[256];

/* A string without escapes of printable ASCII; on success s and n hold its contents. */
static int read_string(Cursor *c, const char **s, Py_ssize_t *n) {
    if (c->p >= c->end || *c->p != '"') return 0;
    const char *start = ++c->p;
    const char *p = start, *end = c->end;
    while (p < end && plain[(unsigned char)*p]) p++;
    if (p >= end || *p != '"') return 0;
    *s = start;
    *n = p - start;
    c->p = p + 1;
    return 1;
}

/* An integer in [-2**63, 2**64 - 1] (JSON grammar: no leading zero, no fraction/exponent).
 * *neg tells the sign; *v the magnitude. */
static int read_int(Cursor *c, int *neg, uint64_t *v) {
    const char *p = c->p;
    *neg = 0;
    if (p < c->end && *p == '-') {
        *neg = 1;
        p++;
    }
    if (p >= c->end || *p < '0' || *p > '9') return 0;
    uint64_t x = 0;
    if (*p == '0') {
        p++;
    } else {
        while (p < c->end && *p >= '0' && *p <= '9') {
            unsigned d = (unsigned)(*p - '0');
            if (x > (UINT64_MAX - d) / 10) return 0; /* beyond u64: orjson makes a float */
            x = x * 10 + d;
            p++;
        }
    }
    if (p < c->end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
        return 0;
    if (*neg && x > (uint64_t)INT64_MAX + 1) return 0;
    *v = x;
    c->p = p;
    return 1;
}

static int read_uint(Cursor *c, uint64_t *v) {
    int neg;
    return read_int(c, &neg, v) && !neg;
}

static int skip_value(Cursor *c, int depth);

/* An object or an array (c->p at its '{' or '['): keys and values validated and passed. */
static int skip_container(Cursor *c, int depth) {
    const char *s;
    Py_ssize_t n;
    const char close = *c->p == '{' ? '}' : ']';
    if (depth > MAX_DEPTH) return 0;
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 1;
    }
    for (;;) {
        skip_ws(c);
        if (close == '}') {
            if (!read_string(c, &s, &n)) return 0;
            skip_ws(c);
            if (c->p >= c->end || *c->p != ':') return 0;
            c->p++;
            skip_ws(c);
        }
        if (!skip_value(c, depth + 1)) return 0;
        skip_ws(c);
        if (c->p >= c->end) return 0;
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (*c->p == close) {
            c->p++;
            return 1;
        }
        return 0;
    }
}

static int skip_literal(Cursor *c, const char *word, Py_ssize_t n) {
    if (c->end - c->p < n || memcmp(c->p, word, (size_t)n) != 0) return 0;
    c->p += n;
    return 1;
}

/* Validate (and pass) one value of the accepted grammar. */
static int skip_value(Cursor *c, int depth) {
    const char *s;
    Py_ssize_t n;
    int neg;
    uint64_t v;
    if (c->p >= c->end) return 0;
    switch (*c->p) {
    case '{':
    case '[': return skip_container(c, depth);
    case '"': return read_string(c, &s, &n);
    case 't': return skip_literal(c, "true", 4);
    case 'f': return skip_literal(c, "false", 5);
    case 'n': return skip_literal(c, "null", 4);
    default: return read_int(c, &neg, &v);
    }
}

/* What the reader keeps of a frame. */
typedef struct {
    uint64_t sub, slot, lamports;
    const char *b64, *owner;
    Py_ssize_t b64_len, owner_len;
} Note;

enum { K_OTHER, K_PARAMS, K_SUBSCRIPTION, K_RESULT, K_CONTEXT, K_SLOT, K_VALUE, K_DATA,
       K_LAMPORTS, K_OWNER };

/* Levels of the path read: 0 message, 1 params, 2 result, 3 context, 4 value. */
static int key_of(int level, const char *s, Py_ssize_t n) {
#define IS(word) (n == (Py_ssize_t)sizeof(word) - 1 && memcmp(s, word, sizeof(word) - 1) == 0)
    switch (level) {
    case 0: return IS("params") ? K_PARAMS : K_OTHER;
    case 1: return IS("subscription") ? K_SUBSCRIPTION : IS("result") ? K_RESULT : K_OTHER;
    case 2: return IS("context") ? K_CONTEXT : IS("value") ? K_VALUE : K_OTHER;
    case 3: return IS("slot") ? K_SLOT : K_OTHER;
    default:
        return IS("data") ? K_DATA : IS("lamports") ? K_LAMPORTS : IS("owner") ? K_OWNER : K_OTHER;
    }
#undef IS
}

/* The data array: exactly ["<b64 text without backslash>", "base64"]. */
static int read_data(Cursor *c, Note *note) {
    const char *s;
    Py_ssize_t n;
    if (c->p >= c->end || *c->p != '[') return 0;
    c->p++;
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"') return 0;
    const char *start = c->p + 1;
    const char *close = memchr(start, '"', (size_t)(c->end - start));
    if (close == NULL || memchr(start, '\\', (size_t)(close - start)) != NULL) return 0;
    note->b64 = start;
    note->b64_len = close - start;
    c->p = close + 1;
    skip_ws(c);
    if (c->p >= c->end || *c->p != ',') return 0;
    c->p++;
    skip_ws(c);
    if (!read_string(c, &s, &n) || n != 6 || memcmp(s, "base64", 6) != 0) return 0;
    skip_ws(c);
    if (c->p >= c->end || *c->p != ']') return 0;
    c->p++;
    return 1;
}

/* One object of the path at ``level``: its keys read, the others validated and passed. */
static int read_level(Cursor *c, int level, Note *note) {
    const char *s;
    Py_ssize_t n;
    unsigned seen = 0;
    if (c->p >= c->end || *c->p != '{') return 0;
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') return 0; /* empty: a key is missing */
    for (;;) {
        skip_ws(c);
        if (!read_string(c, &s, &n)) return 0;
        skip_ws(c);
        if (c->p >= c->end || *c->p != ':') return 0;
        c->p++;
        skip_ws(c);
        int key = key_of(level, s, n);
        if (key != K_OTHER) {
            if (seen & (1u << key)) return 0; /* twice: orjson keeps the last, left to it */
            seen |= 1u << key;
        }
        int ok;
        switch (key) {
        case K_PARAMS: ok = read_level(c, 1, note); break;
        case K_RESULT: ok = read_level(c, 2, note); break;
        case K_CONTEXT: ok = read_level(c, 3, note); break;
        case K_VALUE: ok = read_level(c, 4, note); break;
        case K_SUBSCRIPTION: ok = read_uint(c, &note->sub); break;
        case K_SLOT: ok = read_uint(c, &note->slot); break;
        case K_LAMPORTS: ok = read_uint(c, &note->lamports); break;
        case K_DATA: ok = read_data(c, note); break;
        case K_OWNER: ok = read_string(c, &note->owner, &note->owner_len); break;
        default: ok = skip_value(c, level + 1); break;
        }
        if (!ok) return 0;
        skip_ws(c);
        if (c->p >= c->end) return 0;
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (*c->p != '}') return 0;
        c->p++;
        break;
    }
    switch (level) { /* every key read must be there */
    case 0: return seen == (1u << K_PARAMS);
    case 1: return seen == ((1u << K_SUBSCRIPTION) | (1u << K_RESULT));
    case 2: return seen == ((1u << K_CONTEXT) | (1u << K_VALUE));
    case 3: return seen == (1u << K_SLOT);
    default: return seen == ((1u << K_DATA) | (1u << K_LAMPORTS) | (1u << K_OWNER));
    }
}

static PyObject *validate_kwnames; /* ("validate",) */

static PyObject *account_note(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "account_note(frame, b64decode) takes 2 arguments");
        return NULL;
    }
    PyObject *frame = args[0];
    if (!PyBytes_CheckExact(frame)) Py_RETURN_NONE;
    Note note;
    memset(&note, 0, sizeof note);
    Cursor c = {PyBytes_AS_STRING(frame), PyBytes_AS_STRING(frame) + PyBytes_GET_SIZE(frame)};
    skip_ws(&c);
    if (!read_level(&c, 0, &note)) Py_RETURN_NONE;
    skip_ws(&c);
    if (c.p != c.end) Py_RETURN_NONE;
    if (note.sub > (uint64_t)INT64_MAX || note.slot > (uint64_t)INT64_MAX) Py_RETURN_NONE;
    /* a slice of a view of the frame: it holds the frame, so a view the callable keeps (or
     * derives) never outlives the bytes it reads */
    PyObject *whole = PyMemoryView_FromObject(frame);
    if (whole == NULL) return NULL;
    Py_ssize_t at = note.b64 - PyBytes_AS_STRING(frame);
    PyObject *view = PySequence_GetSlice(whole, at, at + note.b64_len);
    Py_DECREF(whole);
    if (view == NULL) return NULL;
    PyObject *call_args[2] = {view, Py_True};
    PyObject *data = PyObject_Vectorcall(args[1], call_args, 1, validate_kwnames);
    Py_DECREF(view);
    if (data == NULL) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) { /* bad base64: the general path's */
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        return NULL;
    }
    if (!PyBytes_CheckExact(data)) { /* it must not hold the view of the frame */
        Py_DECREF(data);
        PyErr_SetString(PyExc_TypeError, "account_note: b64decode must return bytes");
        return NULL;
    }
    PyObject *out = PyTuple_New(5); /* items set as made: one DECREF frees them on an error */
    if (out == NULL) {
        Py_DECREF(data);
        return NULL;
    }
    PyTuple_SET_ITEM(out, 0, PyLong_FromLongLong((long long)note.sub));
    PyTuple_SET_ITEM(out, 1, PyLong_FromLongLong((long long)note.slot));
    PyTuple_SET_ITEM(out, 2, data);
    PyTuple_SET_ITEM(out, 3, PyUnicode_DecodeASCII(note.owner, note.owner_len, NULL));
    PyTuple_SET_ITEM(out, 4, PyLong_FromUnsignedLongLong(note.lamports));
    if (!PyTuple_GET_ITEM(out, 0) || !PyTuple_GET_ITEM(out, 1) || !PyTuple_GET_ITEM(out, 3) ||
        !PyTuple_GET_ITEM(out, 4)) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

static PyMethodDef module_methods[] = {
    {"account_note", (PyCFunction)(void (*)(void))account_note, METH_FASTCALL,
     "account_note(frame, b64decode) -> (subscription, slot, data, owner, lamports) or None "
     "(see notes.c)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_notes", "The account-notification reader (see notes.c).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__notes(void) {
    for (int ch = 0x20; ch < 0x7f; ch++) plain[ch] = ch != '"' && ch != '\\';
    if (validate_kwnames == NULL) {
        PyObject *name = PyUnicode_InternFromString("validate");
        if (name == NULL) return NULL;
        validate_kwnames = PyTuple_Pack(1, name);
        Py_DECREF(name);
        if (validate_kwnames == NULL) return NULL;
    }
    return PyModule_Create(&module_def);
}
