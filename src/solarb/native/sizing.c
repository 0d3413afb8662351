/* Exact sizing search of a cycle: solarb.strategy.sizing.maximize_chain_model in C.
 *
 * search(steps, lo, hi, rate, seed, tol_ppm, width_ppm, max_steps, refine, min_width, dex_error
 *        [, retired]) -> (amount_in, amount_out, quotes, fallback, chain) | None
 *
 * steps      tuple of bound quoters x -> Quote (the cycle's hops in order); out(x) chains them on
 *            each Quote's amount_out, 0 as soon as a hop outputs <= 0
 * lo, hi     the search range (u64; None when hi < lo)
 * rate       float product of the spot rates; seed: int or None (the warm start)
 * tol_ppm, width_ppm (<= 10^6), max_steps: as maximize_profit_model
 * refine     None: move to the step start when the step width (ceil(x / smallest intermediate
 *            output) of the best size) is >= min_width; True / False: always / never
 * dex_error  the exception class that marks a size infeasible; any other exception propagates
 * retired    optional, a list or None: when a list, a successful search appends one tuple of
 *            every Quote it recorded instead of freeing them (the caller frees them off its
 *            latency path by emptying the list); the result is the same either way
 * Result: the best size, its output, the number of distinct sizes quoted, the fallback reason
 * ("" when the model held) and the tuple of Quotes at the best size (None when a hop output 0
 * there); None when no size was feasible. Arguments outside u64 raise OverflowError (TypeError:
 * not an int); so does a hop's positive amount_out above u64 ("Quote.amount_out above 2^64 - 1",
 * right after that hop's quote: no later hop is asked), which no swap of a u64 amount answers.
 * A Quote of exactly solarb.dex.base.Quote has its amount_out read through the slot descriptor
 * (quote_obj.h); any other object through getattr.
 *
 * Floats only choose where to probe, with the same IEEE operations in the same order as the
 * Python reference (float(int) correctly rounded, no contraction into FMA); every amount comes
 * from the quoters, so the result is bit-identical to the Python search (differential tests).
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC optimize("fp-contract=off")
#endif

#include <math.h>

#include "pyint.h"
#include "quote_obj.h"

#define INFEAS (-((i128)1 << 100)) /* profit of an infeasible size: below every real profit */
#define RESID_MULT 4.0
#define PARABOLIC_STEPS 12
#define RESOLUTION_DIV 32
#define GOLD_NUM 618034u
#define GOLD_DEN 1000000u
#define PPM 1000000u

typedef uint64_t u64;

typedef struct {
    u64 x, y;     /* size, its chained output (when feasible) */
    u64 width;    /* the step-width estimate at x (1: no chain or one hop) */
    int feasible; /* 0: a step raised dex_error */
    Py_ssize_t q; /* index of its chain in Search.quotes, -1: none (a hop output 0) */
} Probe;

typedef struct {
    PyObject *const *steps;
    Py_ssize_t nsteps;
    PyObject *dex_error;
    Probe *p;
    Py_ssize_t n, cap;
    PyObject **quotes; /* nsteps Quote references per recorded chain */
    Py_ssize_t nq, qcap;
} Search;

static PyObject *R_EMPTY, *R_POLISH, *R_RATE, *R_MODEL, *R_NOT_IMPROVING,
    *R_INFEASIBLE, *R_STEPS;

/* Release the search's memory. retired (a list, or NULL): on success the recorded Quotes are
 * handed to it as one tuple (references moved, none freed here) for the caller to free later. */
static void search_free(Search *s, PyObject *retired) {
    PyObject *held = retired && s->nq ? PyTuple_New(s->nq) : NULL;
    if (held) {
        for (Py_ssize_t i = 0; i < s->nq; i++) PyTuple_SET_ITEM(held, i, s->quotes[i]);
        if (PyList_Append(retired, held) < 0) PyErr_Clear(); /* then freed with the tuple */
        Py_DECREF(held);
    } else {
        if (retired && s->nq) PyErr_Clear(); /* PyTuple_New failed: free them now */
        for (Py_ssize_t i = 0; i < s->nq; i++) Py_DECREF(s->quotes[i]);
    }
    PyMem_Free(s->quotes);
    PyMem_Free(s->p);
}

static Py_ssize_t find(const Search *s, u64 x) {
    for (Py_ssize_t i = 0; i < s->n; i++)
        if (s->p[i].x == x) return i;
    return -1;
}

/* 1 once QUOTE_CLS is solarb.dex.base.Quote (its amount_out descriptor readable), -1 when it
 * could not be had (getattr then reads every Quote), 0 before the first search looks. */
static int quote_type;

/* Look up solarb.dex.base.Quote for amount_out's fast path (once; no exception left set). */
static void find_quote_type(void) {
    PyObject *mod = PyImport_ImportModule("solarb.dex.base");
    PyObject *cls = mod ? PyObject_GetAttrString(mod, "Quote") : NULL;
    Py_XDECREF(mod);
    quote_type = cls && quote_slots(cls) == 0 && Py_TYPE(QUOTE_SLOTS[1])->tp_descr_get ? 1 : -1;
    Py_XDECREF(cls);
    if (quote_type < 0) {
        PyErr_Clear();
        Py_CLEAR(QUOTE_CLS); /* no Quote type matches: always getattr */
    }
}

/* A Quote's amount_out: 1 with *v set when > 0, 0 when <= 0, -1 with an exception set. */
static int amount_out(PyObject *q, PyObject **obj, u64 *v) {
    PyObject *a;
    if ((PyObject *)Py_TYPE(q) == QUOTE_CLS) { /* a plain slots dataclass: its member descriptor */
        PyObject *d = QUOTE_SLOTS[1];
        a = Py_TYPE(d)->tp_descr_get(d, q, QUOTE_CLS);
    } else {
        a = PyObject_GetAttr(q, S_FIELDS[1]);
    }
    if (!a) return -1;
    if (!PyLong_Check(a)) {
        Py_DECREF(a);
        PyErr_SetString(PyExc_TypeError, "Quote.amount_out must be an int");
        return -1;
    }
    if (_PyLong_Sign(a) <= 0) {
        Py_DECREF(a);
        return 0;
    }
    int r = py_as_u64(a, v);
    if (r <= 0) {
        Py_DECREF(a);
        if (r == 0) PyErr_SetString(PyExc_OverflowError, "Quote.amount_out above 2^64 - 1");
        return -1;
    }
    *obj = a;
    return 1;
}

/* Chain the steps on x into s->quotes[s->nq ...]: 1 complete (out *y, smallest intermediate
 * *m), 0 a hop output <= 0 (nothing kept), -1 an exception (nothing kept). */
static int chain_out(Search *s, u64 x, u64 *y, u64 *m) {
    PyObject *arg = PyLong_FromUnsignedLongLong(x);
    if (!arg) return -1;
    Py_ssize_t k = 0;
    int rc = 1;
    u64 v = x, mn = UINT64_MAX;
    for (; k < s->nsteps; k++) {
        PyObject *q = PyObject_CallOneArg(s->steps[k], arg);
        Py_DECREF(arg);
        arg = NULL;
        if (!q) {
            rc = -1;
            break;
        }
        s->quotes[s->nq + k] = q;
        rc = amount_out(q, &arg, &v);
        if (rc <= 0) {
            k++;
            break;
        }
        if (k + 1 < s->nsteps && v < mn) mn = v;
    }
    Py_XDECREF(arg);
    if (rc <= 0) {
        for (Py_ssize_t i = 0; i < k; i++) Py_DECREF(s->quotes[s->nq + i]);
        return rc;
    }
    *y = v;
    *m = mn;
    return 1;
}

/* Index of x's probe, quoting it first if new; -1 with an exception set. */
static Py_ssize_t probe(Search *s, u64 x) {
    Py_ssize_t i = find(s, x);
    if (i >= 0) return i;
    if (s->n == s->cap) {
        Py_ssize_t cap = s->cap ? 2 * s->cap : 32;
        Probe *p = PyMem_Realloc(s->p, (size_t)cap * sizeof *p);
        if (!p) {
            PyErr_NoMemory();
            return -1;
        }
        s->p = p;
        s->cap = cap;
    }
    if (s->nq + s->nsteps > s->qcap) {
        Py_ssize_t cap = s->qcap ? 2 * s->qcap : 32 * s->nsteps;
        PyObject **q = PyMem_Realloc(s->quotes, (size_t)cap * sizeof *q);
        if (!q) {
            PyErr_NoMemory();
            return -1;
        }
        s->quotes = q;
        s->qcap = cap;
    }
    Probe *e = &s->p[s->n];
    e->x = x;
    e->y = 0;
    e->width = 1;
    e->feasible = 1;
    e->q = -1;
    u64 y, m;
    int rc = chain_out(s, x, &y, &m);
    if (rc < 0) {
        if (!PyErr_ExceptionMatches(s->dex_error)) return -1;
        PyErr_Clear();
        e->feasible = 0;
    } else if (rc == 1) {
        e->y = y;
        e->q = s->nq;
        s->nq += s->nsteps;
        if (s->nsteps >= 2) e->width = x / m + (x % m != 0);
    }
    return s->n++;
}

static inline i128 profit_at(const Probe *e) { return e->feasible ? (i128)e->y - e->x : INFEAS; }

/* profit(x) into *out; -1 on an exception. */
static int f(Search *s, u64 x, i128 *out) {
    Py_ssize_t i = probe(s, x);
    if (i < 0) return -1;
    *out = profit_at(&s->p[i]);
    return 0;
}

/* The caller's noise: the step width at x when x was quoted, else 1 (as step_width). */
static u64 width_at(const Search *s, u64 x) {
    Py_ssize_t i = find(s, x);
    return i < 0 ? 1 : s->p[i].width;
}

/* x's recorded profit; INFEAS when x was not probed (the callers ask only for probed sizes:
 * the best probe once a feasible one exists; this keeps an index of -1 out of the array). */
static i128 profit_of(const Search *s, u64 x) {
    Py_ssize_t i = find(s, x);
    return i < 0 ? INFEAS : profit_at(&s->p[i]);
}

/* The feasible probe with the highest profit, the smallest on ties (0 when none). */
static u64 best_probe(const Search *s) {
    u64 bx = 0;
    i128 bp = INFEAS;
    for (Py_ssize_t i = 0; i < s->n; i++) {
        const Probe *e = &s->p[i];
        if (!e->feasible) continue;
        i128 p = profit_at(e);
        if (p > bp || (p == bp && e->x < bx)) bx = e->x, bp = p;
    }
    return bx;
}

static void bracket(const Search *s, u64 lo, u64 hi, u64 *a, u64 *b) {
    *a = lo;
    *b = hi;
    int any = 0;
    for (Py_ssize_t i = 0; i < s->n; i++) any |= s->p[i].feasible;
    if (!any) return;
    u64 best = best_probe(s);
    for (Py_ssize_t i = 0; i < s->n; i++) {
        u64 x = s->p[i].x;
        if (*a < x && x < best)
            *a = x;
        else if (best < x && x < *b)
            *b = x;
    }
}

/* Python's x // 16 for a signed x. */
static inline i128 floordiv16(i128 v) { return v >= 0 ? v / 16 : -((-v + 15) / 16); }

static inline u128 absdiff(u64 a, u64 b) { return a > b ? a - b : b - a; }

/* f >= n exactly, as Python compares a float with an int (n >= 1). */
static int float_ge_int(double f, u128 n) {
    if (!(f >= 1.0)) return 0; /* NaN, or below every n >= 1 */
    if (f >= ldexp(1.0, 128)) return 1;
    return (u128)floor(f) >= n;
}

static double gain(double c0, double c1, u64 x, u64 nx) {
    double dn = (double)nx, dx = (double)x;
    return (dn / (c0 + c1 * dn) - dn) - (dx / (c0 + c1 * dx) - dx);
}

/* Golden-section search of [lo, hi] then a scan of the final bracket: *found 0 when every
 * size examined was infeasible. -1 on an exception. */
static int golden(Search *s, u64 lo, u64 hi, u64 scan_width, i128 flat_tolerance, u64 width_ppm,
                  int *found, u64 *best_out) {
    u64 a = lo, b = hi;
    i128 p_hi, fc = 0, fd = 0;
    if (f(s, hi, &p_hi)) return -1;
    if (b - a > scan_width) {
        u64 d = a + (u64)((u128)(b - a) * GOLD_NUM / GOLD_DEN);
        u64 c = a + b - d;
        if (f(s, c, &fc) || f(s, d, &fd)) return -1;
        while (b - a > scan_width) {
            if (width_ppm && (u128)(b - a) * PPM <= (u128)width_ppm * b) break;
            if (!(a < c && c < d && d < b)) {
                d = a + (u64)((u128)(b - a) * GOLD_NUM / GOLD_DEN);
                c = a + b - d;
                if (!(a < c && c < d && d < b)) break;
                if (f(s, c, &fc) || f(s, d, &fd)) return -1;
            }
            if (flat_tolerance && find(s, a) >= 0 && find(s, b) >= 0) {
                i128 pa, pb;
                if (f(s, a, &pa) || f(s, b, &pb)) return -1;
                i128 low = pa < pb ? pa : pb;
                if (low != INFEAS && (fc > fd ? fc : fd) - low <= flat_tolerance) break;
            }
            if (fc == INFEAS && fd == INFEAS) {
                if (p_hi != INFEAS)
                    a = d;
                else
                    b = c;
                d = a + (u64)((u128)(b - a) * GOLD_NUM / GOLD_DEN);
                c = a + b - d;
                if (f(s, c, &fc) || f(s, d, &fd)) return -1;
            } else if (fc == fd) {
                a = c;
                b = d;
                d = a + (u64)((u128)(b - a) * GOLD_NUM / GOLD_DEN);
                c = a + b - d;
                if (f(s, c, &fc) || f(s, d, &fd)) return -1;
            } else if (fc < fd) {
                a = c;
                c = d;
                fc = fd;
                d = a + b - c;
                if (f(s, d, &fd)) return -1;
            } else {
                b = d;
                d = c;
                fd = fc;
                c = a + b - d;
                if (f(s, c, &fc)) return -1;
            }
        }
    }
    u64 best_x = a;
    i128 best_p = INFEAS, p;
    if (b - a <= scan_width) {
        for (u64 x = a; a <= b; x++) {
            if (f(s, x, &p)) return -1;
            if (p > best_p || (p == best_p && x < best_x)) best_x = x, best_p = p;
            if (x == b) break;
        }
    } else { /* stopped on a flat top: the best probe so far inside the bracket */
        for (Py_ssize_t i = 0; i < s->n; i++) {
            u64 x = s->p[i].x;
            if (x < a || x > b) continue;
            p = profit_at(&s->p[i]);
            if (p > best_p || (p == best_p && x < best_x)) best_x = x, best_p = p;
        }
    }
    if (p_hi > best_p) best_x = hi, best_p = p_hi;
    *found = best_p != INFEAS;
    *best_out = best_x;
    return 0;
}

/* float(v) of the signed 256-bit integer (neg, mag), correctly rounded like Python's. */
static double s256_to_double(int neg, u256 mag) {
    int bits = u256_bits(mag);
    double r;
    if (bits <= 64) {
        r = (double)mag.w[0];
    } else {
        unsigned shift = (unsigned)bits - 64;
        u256 top = u256_shr(mag, shift);
        u64 t = top.w[0];
        if (!u256_is_zero(u256_sub(mag, u256_shl(top, shift)))) t |= 1; /* sticky */
        r = ldexp((double)t, (int)shift);
    }
    return neg ? -r : r;
}

/* (neg, mag) of a - b for signed 256-bit integers given as (sign, magnitude). */
static void s256_sub(int an, u256 am, int bn, u256 bm, int *rn, u256 *rm) {
    bn = !bn;
    if (an == bn) {
        *rm = u256_add(am, bm, NULL);
        *rn = an;
    } else if (u256_cmp(am, bm) >= 0) {
        *rm = u256_sub(am, bm);
        *rn = an;
    } else {
        *rm = u256_sub(bm, am);
        *rn = bn;
    }
    if (u256_is_zero(*rm)) *rn = 0;
}

static inline u128 iabs(i128 v) { return v < 0 ? (u128)-v : (u128)v; }

/* Successive parabolic interpolation then golden on the rest (sizing._parabolic). */
static int parabolic(Search *s, u64 lo, u64 hi, u64 tol_ppm, u64 width_ppm, u64 rounding,
                     int *found, u64 *best_out) {
    int any = 0;
    for (Py_ssize_t i = 0; i < s->n; i++) any |= s->p[i].feasible && s->p[i].y > 0;
    u64 a, b;
    if (!any) {
        bracket(s, lo, hi, &a, &b);
        return golden(s, a, b, 8, 1, width_ppm, found, best_out);
    }
    u128 width = (u128)(hi - lo) + 1;
    for (int it = 0; it < PARABOLIC_STEPS; it++) {
        u64 m = best_probe(s);
        bracket(s, lo, hi, &a, &b);
        int slow = (u128)(b - a) * 10 > width * 7;
        width = b - a;
        if (b == hi && find(s, hi) < 0) {
            i128 dummy;
            if (f(s, hi, &dummy)) return -1;
            continue;
        }
        if ((u128)(b - a) * PPM <= (u128)width_ppm * b || b - a <= 8) break;
        u64 x1 = (a == lo && find(s, lo) < 0) ? 0 : a, x2 = m, x3 = b;
        i128 p1 = 0, p2, p3;
        if (x1 != 0 && f(s, x1, &p1)) return -1;
        if (f(s, x2, &p2) || f(s, x3, &p3)) return -1;
        if (p1 == INFEAS || p3 == INFEAS) break;
        if (p2 - (p1 > p3 ? p1 : p3) <= (i128)rounding && x1) break;
        i128 d1 = (i128)x2 - x1, d3 = (i128)x2 - x3, q1 = p2 - p1, q3 = p2 - p3;
        int nn, dn;
        u256 num, den;
        s256_sub(q3 < 0, u256_mul_128(iabs(d1) * iabs(d1), iabs(q3)), q1 < 0,
                 u256_mul_128(iabs(d3) * iabs(d3), iabs(q1)), &nn, &num);
        s256_sub((d1 < 0) != (q3 < 0), u256_mul_128(iabs(d1), iabs(q3)), (d3 < 0) != (q1 < 0),
                 u256_mul_128(iabs(d3), iabs(q1)), &dn, &den);
        i128 step = (i128)((u128)tol_ppm * x2 / PPM) + 1;
        i128 u;
        if (slow || u256_is_zero(den)) { /* a golden step into the wider side */
            if (x3 - x2 > x2 - x1)
                u = x2 + (i128)((u128)(x3 - x2) * (GOLD_DEN - GOLD_NUM) / GOLD_DEN);
            else
                u = x2 - (i128)((u128)(x2 - x1) * (GOLD_DEN - GOLD_NUM) / GOLD_DEN);
        } else {
            double v = (double)x2 - 0.5 * s256_to_double(nn, num) / s256_to_double(dn, den);
            double r = nearbyint(v); /* round(): half-even */
            if (!(r > -0x1p100 && r < 0x1p100)) break; /* far outside (x1, x3): Python breaks */
            u = (i128)r;
        }
        i128 dist = u - x2;
        if ((dist < 0 ? -dist : dist) < step) u = x3 - x2 > x2 - x1 ? x2 + step : x2 - step;
        i128 low = x1 > (i128)lo - 1 ? (i128)x1 : (i128)lo - 1;
        if (!(low < u && u < (i128)x3) || u == (i128)x2 || find(s, (u64)u) >= 0) break;
        i128 dummy;
        if (f(s, (u64)u, &dummy)) return -1;
    }
    bracket(s, lo, hi, &a, &b);
    int ok;
    u64 g;
    if (golden(s, a, b, 8, 1, width_ppm, &ok, &g)) return -1;
    u64 best = best_probe(s);
    *found = 1;
    *best_out = (!ok || profit_of(s, best) > profit_of(s, g)) ? best : g;
    return 0;
}

/* The line-model iteration (sizing._model_search): *reason NULL with *best_out, R_POLISH with
 * *best_out, or another reason (no best). -1 on an exception. */
static int model_search(Search *s, u64 lo, u64 hi, double rate, u64 x, u64 tol_ppm,
                        long long max_steps, PyObject **reason, u64 *best_out) {
    *reason = NULL;
    if (!(1.0 < rate && rate < INFINITY)) {
        *reason = R_RATE;
        return 0;
    }
    double g0 = 1.0 / rate;
    u64 lower = 0;
    i128 best_p = INFEAS;
    long long steps = 0, backoffs = 0;
    while (steps < max_steps) {
        Py_ssize_t i = probe(s, x);
        if (i < 0) return -1;
        Probe e = s->p[i];
        if (!e.feasible || e.y == 0) { /* back off 15/16 of the way */
            i128 nx = (i128)lower + floordiv16((i128)x - lower);
            backoffs++;
            if (e.feasible || nx < (i128)lo || nx == (i128)x || nx == (i128)lower ||
                backoffs > max_steps) {
                *reason = R_INFEASIBLE;
                return 0;
            }
            x = (u64)nx;
            continue;
        }
        steps++;
        u64 rounding = e.width;
        u64 y = e.y;
        i128 p = (i128)y - x;
        if (p < best_p - 2 * (i128)rounding - 1) {
            *reason = R_NOT_IMPROVING;
            return 0;
        }
        if (p > best_p) best_p = p;
        lower = x;
        double g = (double)x / (double)y;
        if (fabs(g - g0) <= RESID_MULT * (double)((u128)rounding + 1) / (double)y && x < hi) {
            u128 nx = (u128)x * 16;
            x = nx < hi ? (u64)nx : hi;
            continue;
        }
        double c1 = (g - g0) / (double)x;
        if (!(0.0 < c1 && c1 < INFINITY) || !(0.0 < g0 && g0 < 1.0)) {
            *reason = R_MODEL;
            return 0;
        }
        double v = (sqrt(g0) - g0) / c1 + 0.5;
        u64 nx;
        if (!(v >= 1.0)) /* int(v) <= 0 (v > 0 here; NaN cannot occur): lo */
            nx = lo;
        else if (v >= 0x1p64)
            nx = hi;
        else {
            nx = (u64)v;
            nx = nx < lo ? lo : (nx < hi ? nx : hi);
        }
        if (absdiff(nx, x) * PPM > (u128)tol_ppm * x &&
            float_ge_int(gain(g0, c1, x, nx), (u128)rounding + 1) && find(s, nx) < 0) {
            x = nx;
            continue;
        }
        u64 best = best_probe(s);
        i128 pb = profit_of(s, best);
        if (pb - p > 2 * (i128)rounding + 1 && absdiff(best, x) * PPM > (u128)tol_ppm * x) {
            *reason = R_NOT_IMPROVING;
            return 0;
        }
        *best_out = best;
        u64 check = 0, out_c = 0;
        for (Py_ssize_t j = 0; j < s->n; j++) {
            const Probe *c = &s->p[j];
            if (c->feasible && c->y && x / 4 <= c->x && (u128)c->x <= (u128)x * 2 &&
                absdiff(c->x, x) * 8 >= x) {
                check = c->x;
                out_c = c->y;
                break;
            }
        }
        if (!check) return 0;
        double tol_g = RESID_MULT * ((double)((u128)rounding + 1) / (double)y *
                                         ((double)check / (double)x) +
                                     (double)((u128)width_at(s, check) + 1) / (double)out_c);
        if (fabs(g0 + c1 * (double)check - (double)check / (double)out_c) > tol_g)
            *reason = R_POLISH;
        return 0;
    }
    *reason = R_STEPS;
    return 0;
}

/* Smallest x' in [lo, x] with out(x') == out(x), to within max(1, width // 32). */
static int step_start(Search *s, u64 x, u64 lo, u64 width, u64 *res) {
    Py_ssize_t i = probe(s, x);
    if (i < 0) return -1;
    Probe ref = s->p[i];
#define SAME(e) ((e).feasible == ref.feasible && (!ref.feasible || (e).y == ref.y))
    u128 step = width / 2 > 1 ? width / 2 : 1;
    u64 resolution = width / RESOLUTION_DIV > 1 ? width / RESOLUTION_DIV : 1;
    u64 good = x, bad;
    for (;;) {
        i128 c = (i128)x - (i128)step;
        u64 cand = c > (i128)lo ? (u64)c : lo;
        if ((i = probe(s, cand)) < 0) return -1;
        if (SAME(s->p[i])) {
            good = cand;
            if (cand == lo) {
                *res = lo;
                return 0;
            }
            step *= 2;
            continue;
        }
        bad = cand;
        break;
    }
    while (good - bad > resolution) {
        u64 mid = (u64)(((u128)good + bad) / 2);
        if ((i = probe(s, mid)) < 0) return -1;
        if (SAME(s->p[i]))
            good = mid;
        else
            bad = mid;
    }
#undef SAME
    *res = good;
    return 0;
}

/* An argument in [0, 2^64) into *out: 0, or -1 with TypeError (not an int) or OverflowError. */
static int arg_u64(PyObject *o, const char *name, u64 *out) {
    int r = py_as_u64(o, out);
    if (r) return r < 0 ? -1 : 0;
    if (!PyLong_Check(o))
        PyErr_Format(PyExc_TypeError, "%s must be an int", name);
    else
        PyErr_Format(PyExc_OverflowError, "%s outside [0, 2^64 - 1]", name);
    return -1;
}

static PyObject *search(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 11 && nargs != 12) {
        PyErr_SetString(PyExc_TypeError, "search() takes 11 or 12 arguments");
        return NULL;
    }
    PyObject *retired = nargs == 12 && args[11] != Py_None ? args[11] : NULL;
    if (retired && !PyList_CheckExact(retired)) {
        PyErr_SetString(PyExc_TypeError, "retired must be a list or None");
        return NULL;
    }
    PyObject *steps = args[0], *seed_o = args[4], *refine_o = args[8], *dex_error = args[10];
    u64 lo, hi, tol_ppm, width_ppm, min_width, seed = 0;
    if (!PyTuple_Check(steps) || PyTuple_GET_SIZE(steps) < 1) {
        PyErr_SetString(PyExc_TypeError, "steps must be a non-empty tuple");
        return NULL;
    }
    if (arg_u64(args[1], "lo", &lo) || arg_u64(args[2], "hi", &hi) ||
        arg_u64(args[5], "tol_ppm", &tol_ppm) || arg_u64(args[6], "width_ppm", &width_ppm) ||
        arg_u64(args[9], "min_width", &min_width))
        return NULL;
    if (tol_ppm > PPM || width_ppm > PPM) {
        PyErr_SetString(PyExc_ValueError, "tol_ppm and width_ppm must be <= 10^6");
        return NULL;
    }
    double rate = PyFloat_AsDouble(args[3]);
    if (rate == -1.0 && PyErr_Occurred()) return NULL;
    long long max_steps = PyLong_AsLongLong(args[7]);
    if (max_steps == -1 && PyErr_Occurred()) return NULL;
    if (refine_o != Py_None && refine_o != Py_True && refine_o != Py_False) {
        PyErr_SetString(PyExc_TypeError, "refine must be None, True or False");
        return NULL;
    }
    if (!PyExceptionClass_Check(dex_error)) {
        PyErr_SetString(PyExc_TypeError, "dex_error must be an exception class");
        return NULL;
    }
    if (seed_o != Py_None) {
        if (!PyLong_Check(seed_o)) {
            PyErr_SetString(PyExc_TypeError, "seed must be an int or None");
            return NULL;
        }
        if (_PyLong_Sign(seed_o) < 0)
            seed = 0;
        else if (_PyLong_NumBits(seed_o) > 64)
            seed = UINT64_MAX;
        else if (arg_u64(seed_o, "seed", &seed))
            return NULL;
    }
    if (hi < lo) Py_RETURN_NONE;
    if (!quote_type) find_quote_type();
    u64 x0 = seed_o == Py_None ? hi : (seed < lo ? lo : (seed < hi ? seed : hi));
    Search s = {((PyTupleObject *)steps)->ob_item, PyTuple_GET_SIZE(steps), dex_error, NULL, 0, 0,
                NULL, 0, 0};
    PyObject *reason, *result = NULL;
    u64 best = 0;
    if (model_search(&s, lo, hi, rate, x0, tol_ppm, max_steps, &reason, &best)) goto done;
    if (!reason) reason = R_EMPTY;
    if (reason != R_EMPTY) {
        int found;
        u64 noise_at = (reason == R_POLISH && best) ? best : hi;
        if (parabolic(&s, lo, hi, tol_ppm, width_ppm, width_at(&s, noise_at), &found, &best))
            goto done;
        if (!found) {
            result = Py_NewRef(Py_None);
            goto done;
        }
    }
    if (refine_o == Py_True || (refine_o == Py_None && width_at(&s, best) >= min_width)) {
        if (step_start(&s, best, lo, width_at(&s, best), &best)) goto done;
    }
    Py_ssize_t i = probe(&s, best);
    if (i < 0) goto done;
    const Probe *e = &s.p[i];
    if (!e->feasible) {
        PyErr_SetString(PyExc_SystemError, "sizing: the best size is infeasible");
        goto done;
    }
    PyObject *chain;
    if (e->q < 0) {
        chain = Py_NewRef(Py_None);
    } else {
        chain = PyTuple_New(s.nsteps);
        if (!chain) goto done;
        for (Py_ssize_t k = 0; k < s.nsteps; k++)
            PyTuple_SET_ITEM(chain, k, Py_NewRef(s.quotes[e->q + k]));
    }
    result = Py_BuildValue("(NNnON)", PyLong_FromUnsignedLongLong(e->x),
                           PyLong_FromUnsignedLongLong(e->y), s.n, reason, chain);
done:
    search_free(&s, result ? retired : NULL); /* an error: nothing retired, no error masked */
    return result;
}

static PyMethodDef METHODS[] = {
    {"search", (PyCFunction)(void (*)(void))search, METH_FASTCALL,
     "search(steps, lo, hi, rate, seed, tol_ppm, width_ppm, max_steps, refine, min_width, "
     "dex_error[, retired]) -> (amount_in, amount_out, quotes, fallback, chain) | None: "
     "solarb.strategy.sizing.maximize_chain_model in C (see the module comment)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_sizing", "Exact model-seeded sizing search of a cycle.", -1, METHODS,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sizing(void) {
    if (quote_obj_init() < 0) return NULL;
    R_EMPTY = PyUnicode_InternFromString("");
    R_POLISH = PyUnicode_InternFromString("polish");
    R_RATE = PyUnicode_InternFromString("rate");
    R_MODEL = PyUnicode_InternFromString("model");
    R_NOT_IMPROVING = PyUnicode_InternFromString("not_improving");
    R_INFEASIBLE = PyUnicode_InternFromString("infeasible");
    R_STEPS = PyUnicode_InternFromString("steps");
    if (!R_EMPTY || !R_POLISH || !R_RATE || !R_MODEL || !R_NOT_IMPROVING ||
        !R_INFEASIBLE || !R_STEPS)
        return NULL;
    return PyModule_Create(&MODULE);
}
