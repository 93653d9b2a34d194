/* Stage-2 bookkeeping of the DLP matcher's stream, compiled (see detectors/dlp/matcher.py).
 *
 * Each function here does what one loop of MatchStream does in Python, with the same
 * results in the same order: ``absorb`` (engine events -> pending candidates, keyword ends,
 * keyword regions) and ``finalize`` (the ready candidates in (start, id, end) order, each
 * confirmed: consumed bytes trimmed, context keywords, value extraction, validator, test
 * values, counts, spans and masked excerpts). Validators, value patterns, the test-value
 * check, masking, the probe and the deadline check stay Python callables, called as the
 * Python path calls them.
 *
 * The history bytearray is read through its current buffer pointer each time it is needed:
 * no pointer is kept across a call back into Python (which could resize it), and every
 * offset is checked against its current size. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SPAN 4096
#define MAX_EXCERPTS 3
#define DEADLINE_EVERY 64

static PyObject *str_count, *str_last_end, *str_mask_tries, *str_excerpts, *str_group,
    *str_wants, *str_observe, *str_span, *one_obj;

/* -- helpers ------------------------------------------------------------------------------ */

static int
as_ll(PyObject *o, long long *out)
{
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

/* bytearray.find(needle, a, b) >= 0 with Python's clamping of a and b (both >= 0 here) */
static int
hist_has(PyObject *hist, const char *needle, Py_ssize_t nlen, long long a, long long b)
{
    Py_ssize_t len = PyByteArray_GET_SIZE(hist);
    const char *buf = PyByteArray_AS_STRING(hist);
    if (b > len)
        b = len;
    if (a < 0)
        a = 0;
    if (b - a < nlen)
        return 0;
    for (long long i = a; i + nlen <= b; i++) {
        const char *p = memchr(buf + i, needle[0], (size_t)(b - nlen + 1 - i));
        if (p == NULL)
            return 0;
        i = p - buf;
        if (memcmp(p, needle, (size_t)nlen) == 0)
            return 1;
    }
    return 0;
}

/* hist[i] as Python indexes it (i >= 0 here); -1 with IndexError set when out of range */
static int
hist_byte(PyObject *hist, long long i)
{
    if (i < 0 || i >= PyByteArray_GET_SIZE(hist)) {
        PyErr_SetString(PyExc_IndexError, "bytearray index out of range");
        return -1;
    }
    return (unsigned char)PyByteArray_AS_STRING(hist)[i];
}

/* a byte class: a 256-byte table (bytes) or None for "no class" */
static int
class_has(PyObject *table, int byte)
{
    return PyBytes_AS_STRING(table)[byte] != 0;
}

/* -- absorb ------------------------------------------------------------------------------- */

static int
mark_region(PyObject *regions, PyObject *searched, PyObject *gid, PyObject *info,
            long long kw_start, long long kw_end)
{
    /* info: (gate_window, max_width) */
    long long window, width, done = 0, lo, hi;
    if (!PyTuple_Check(info) || PyTuple_GET_SIZE(info) != 2) {
        PyErr_SetString(PyExc_TypeError, "gate info must be a pair");
        return -1;
    }
    if (as_ll(PyTuple_GET_ITEM(info, 0), &window) < 0 ||
        as_ll(PyTuple_GET_ITEM(info, 1), &width) < 0)
        return -1;
    PyObject *s = PyDict_GetItemWithError(searched, gid);
    if (s == NULL && PyErr_Occurred())
        return -1;
    if (s != NULL && as_ll(s, &done) < 0)
        return -1;
    lo = kw_start - window - width;
    if (done > lo)
        lo = done;
    hi = kw_end + window;
    PyObject *list = PyDict_GetItemWithError(regions, gid);
    if (list == NULL && PyErr_Occurred())
        return -1;
    if (list == NULL || !PyList_Check(list) || PyList_GET_SIZE(list) == 0) {
        if (list != NULL) {
            /* the Python path indexes regions[-1]: an empty list there is an error */
            PyErr_SetString(PyExc_IndexError, "list index out of range");
            return -1;
        }
        PyObject *pair = Py_BuildValue("[LL]", lo, hi);
        if (pair == NULL)
            return -1;
        PyObject *outer = PyList_New(1);
        if (outer == NULL) {
            Py_DECREF(pair);
            return -1;
        }
        PyList_SET_ITEM(outer, 0, pair);
        int rc = PyDict_SetItem(regions, gid, outer);
        Py_DECREF(outer);
        return rc;
    }
    PyObject *last = PyList_GET_ITEM(list, PyList_GET_SIZE(list) - 1);
    long long last_hi;
    if (!PyList_Check(last) || PyList_GET_SIZE(last) != 2) {
        PyErr_SetString(PyExc_TypeError, "a region must be a [lo, hi] list");
        return -1;
    }
    if (as_ll(PyList_GET_ITEM(last, 1), &last_hi) < 0)
        return -1;
    if (lo > last_hi) {
        PyObject *pair = Py_BuildValue("[LL]", lo, hi);
        if (pair == NULL)
            return -1;
        int rc = PyList_Append(list, pair);
        Py_DECREF(pair);
        return rc;
    }
    if (hi > last_hi) {
        PyObject *v = PyLong_FromLongLong(hi);
        if (v == NULL)
            return -1;
        return PyList_SetItem(last, 1, v); /* steals v */
    }
    return 0;
}

/* Whether ``check`` (the stream's deadline test) says stop: 1 stop, 0 go on, -1 error. */
static int
past_deadline(PyObject *check)
{
    PyObject *r = PyObject_CallNoArgs(check);
    if (r == NULL)
        return -1;
    int stop = PyObject_IsTrue(r);
    Py_DECREF(r);
    return stop;
}

PyDoc_STRVAR(absorb_doc,
             "absorb(events, kw_base, lit_len, kw_ends, word_entries, kw_gates, gate_info,\n"
             "       regions, searched, nosom, pending, unstarted, check) -> None\n\n"
             "MatchStream._absorb: every event into pending / unstarted / keyword ends and\n"
             "regions; ``nosom`` is None when starts are exact; ``check`` (or None) is called\n"
             "every 64 events and stops the loop when true. Clears ``events`` when done.");

static PyObject *
absorb(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 13) {
        PyErr_SetString(PyExc_TypeError, "absorb() takes 13 arguments");
        return NULL;
    }
    PyObject *events = args[0], *lit_len = args[2], *kw_ends = args[3],
             *word_entries = args[4], *kw_gates = args[5], *gate_info = args[6],
             *regions = args[7], *searched = args[8], *nosom = args[9], *pending = args[10],
             *unstarted = args[11], *check = args[12];
    long long kw_base;
    if (as_ll(args[1], &kw_base) < 0)
        return NULL;
    if (!PyList_Check(events) || !PyDict_Check(lit_len) || !PyDict_Check(kw_ends) ||
        !PyDict_Check(kw_gates) || !PyDict_Check(gate_info) || !PyDict_Check(regions) ||
        !PyDict_Check(searched) || !PyDict_Check(pending) || !PyList_Check(unstarted)) {
        PyErr_SetString(PyExc_TypeError, "absorb(): unexpected argument types");
        return NULL;
    }
    if (check == Py_None)
        check = NULL;
    if (nosom == Py_None)
        nosom = NULL;
    for (Py_ssize_t n = 0; n < PyList_GET_SIZE(events); n++) {
        if (check != NULL && n && n % DEADLINE_EVERY == 0) {
            int stop = past_deadline(check);
            if (stop < 0)
                return NULL;
            if (stop)
                Py_RETURN_NONE;
            if (n >= PyList_GET_SIZE(events))
                break;
        }
        PyObject *ev = PyList_GET_ITEM(events, n);
        if (!PyTuple_Check(ev) || PyTuple_GET_SIZE(ev) != 3) {
            PyErr_SetString(PyExc_TypeError, "an event must be an (id, start, end) tuple");
            return NULL;
        }
        Py_INCREF(ev);
        PyObject *eid = PyTuple_GET_ITEM(ev, 0), *frm = PyTuple_GET_ITEM(ev, 1),
                 *to = PyTuple_GET_ITEM(ev, 2);
        long long id, end;
        if (as_ll(eid, &id) < 0 || as_ll(to, &end) < 0)
            goto fail;
        if (id >= kw_base) {
            PyObject *len_obj = PyDict_GetItemWithError(lit_len, eid);
            long long n_len;
            if (len_obj == NULL) {
                if (!PyErr_Occurred())
                    PyErr_SetObject(PyExc_KeyError, eid);
                goto fail;
            }
            if (as_ll(len_obj, &n_len) < 0)
                goto fail;
            long long start = end - n_len;
            PyObject *ends = PyDict_GetItemWithError(kw_ends, eid);
            if (ends == NULL) {
                if (PyErr_Occurred())
                    goto fail;
                PyObject *fresh = PyList_New(1);
                if (fresh == NULL)
                    goto fail;
                Py_INCREF(to);
                PyList_SET_ITEM(fresh, 0, to);
                int rc = PyDict_SetItem(kw_ends, eid, fresh);
                Py_DECREF(fresh);
                if (rc < 0)
                    goto fail;
            }
            else if (PyList_Append(ends, to) < 0)
                goto fail;
            int has = PySequence_Contains(word_entries, eid);
            if (has < 0)
                goto fail;
            if (has) {
                PyObject *key = Py_BuildValue("(OL)", eid, start);
                if (key == NULL)
                    goto fail;
                int rc = PyDict_SetItem(pending, key, to);
                Py_DECREF(key);
                if (rc < 0)
                    goto fail;
            }
            PyObject *gids = PyDict_GetItemWithError(kw_gates, eid);
            if (gids == NULL && PyErr_Occurred())
                goto fail;
            if (gids != NULL) {
                if (!PyTuple_Check(gids)) {
                    PyErr_SetString(PyExc_TypeError, "keyword gates must be tuples");
                    goto fail;
                }
                Py_INCREF(gids);
                for (Py_ssize_t g = 0; g < PyTuple_GET_SIZE(gids); g++) {
                    PyObject *gid = PyTuple_GET_ITEM(gids, g);
                    PyObject *info = PyDict_GetItemWithError(gate_info, gid);
                    if (info == NULL) {
                        if (!PyErr_Occurred())
                            PyErr_SetObject(PyExc_KeyError, gid);
                        Py_DECREF(gids);
                        goto fail;
                    }
                    if (mark_region(regions, searched, gid, info, start, end) < 0) {
                        Py_DECREF(gids);
                        goto fail;
                    }
                }
                Py_DECREF(gids);
            }
            Py_DECREF(ev);
            continue;
        }
        if (nosom != NULL) {
            int has = PySet_Contains(nosom, eid);
            if (has < 0)
                goto fail;
            if (has) {
                PyObject *item = PyTuple_Pack(2, eid, to);
                if (item == NULL)
                    goto fail;
                int rc = PyList_Append(unstarted, item);
                Py_DECREF(item);
                if (rc < 0)
                    goto fail;
                Py_DECREF(ev);
                continue;
            }
        }
        PyObject *key = PyTuple_Pack(2, eid, frm);
        if (key == NULL)
            goto fail;
        PyObject *old = PyDict_GetItemWithError(pending, key);
        long long old_end = -1;
        if ((old == NULL && PyErr_Occurred()) || (old != NULL && as_ll(old, &old_end) < 0)) {
            Py_DECREF(key);
            goto fail;
        }
        if (old_end < end && PyDict_SetItem(pending, key, to) < 0) {
            Py_DECREF(key);
            goto fail;
        }
        Py_DECREF(key);
        Py_DECREF(ev);
        continue;
    fail:
        Py_DECREF(ev);
        return NULL;
    }
    if (PyList_SetSlice(events, 0, PyList_GET_SIZE(events), NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* -- finalize ----------------------------------------------------------------------------- */

typedef struct {
    long long start, eid, end;
    PyObject *key; /* strong reference: the (eid, start) key in pending */
} Ready;

static int
ready_cmp(const void *pa, const void *pb)
{
    const Ready *a = pa, *b = pb;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->eid != b->eid)
        return a->eid < b->eid ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    return 0;
}

typedef struct {
    PyObject *hist;
    long long base;
    PyObject *kw_ends;
    PyObject *state;
    PyObject *state_cls;
    PyObject *spans; /* NULL when not recording */
    PyObject *probe; /* NULL when none */
    PyObject *is_test_value;
    PyObject *mask_value;
} Ctx;

/* Stream._blank_line_between: 1 when a blank line separates the keyword and candidate */
static int
blank_line_between(Ctx *c, long long kw_start, long long kw_end, long long start, long long end)
{
    long long a, b;
    if (kw_end <= start) {
        a = kw_end;
        b = start;
    }
    else if (kw_start >= end) {
        a = end;
        b = kw_start;
    }
    else
        return 0;
    a = (a - 1 > c->base ? a - 1 : c->base) - c->base;
    b = (b + 1 > c->base ? b + 1 : c->base) - c->base;
    return hist_has(c->hist, "\n\n", 2, a, b) || hist_has(c->hist, "\n\r\n", 3, a, b);
}

/* Python's bisect_right(ends, x) on a list of ints (the same halving, whatever the order) */
static int
bisect_right_ll(PyObject *ends, long long x, Py_ssize_t *out)
{
    Py_ssize_t lo = 0, hi = PyList_GET_SIZE(ends);
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        long long v;
        if (as_ll(PyList_GET_ITEM(ends, mid), &v) < 0)
            return -1;
        if (x < v)
            hi = mid;
        else
            lo = mid + 1;
    }
    *out = lo;
    return 0;
}

/* Stream._in_context: 1 in context, 0 not, -1 error. ctx: tuple of (kid, length) pairs */
static int
in_context(Ctx *c, PyObject *ctx, long long window, long long start, long long end)
{
    long long lo = start - window, hi = end + window;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(ctx); k++) {
        PyObject *pair = PyTuple_GET_ITEM(ctx, k);
        PyObject *kid = PyTuple_GET_ITEM(pair, 0);
        long long n;
        if (as_ll(PyTuple_GET_ITEM(pair, 1), &n) < 0)
            return -1;
        PyObject *ends = PyDict_GetItemWithError(c->kw_ends, kid);
        if (ends == NULL) {
            if (PyErr_Occurred())
                return -1;
            continue;
        }
        if (!PyList_Check(ends)) {
            PyErr_SetString(PyExc_TypeError, "keyword ends must be lists");
            return -1;
        }
        Py_ssize_t size = PyList_GET_SIZE(ends);
        long long last;
        if (size == 0)
            continue;
        if (as_ll(PyList_GET_ITEM(ends, size - 1), &last) < 0)
            return -1;
        if (last <= lo)
            continue;
        Py_ssize_t i;
        if (bisect_right_ll(ends, lo, &i) < 0)
            return -1;
        for (; i < PyList_GET_SIZE(ends); i++) {
            long long e;
            if (as_ll(PyList_GET_ITEM(ends, i), &e) < 0)
                return -1;
            if (e - n >= hi)
                break;
            if (!blank_line_between(c, e - n, e, start, end))
                return 1;
        }
    }
    return 0;
}

static int
get_ll_attr(PyObject *o, PyObject *name, long long *out)
{
    PyObject *v = PyObject_GetAttr(o, name);
    if (v == NULL)
        return -1;
    int rc = as_ll(v, out);
    Py_DECREF(v);
    return rc;
}

static int
set_ll_attr(PyObject *o, PyObject *name, long long value)
{
    PyObject *v = PyLong_FromLongLong(value);
    if (v == NULL)
        return -1;
    int rc = PyObject_SetAttr(o, name, v);
    Py_DECREF(v);
    return rc;
}

/* A Python call whose Exception (not BaseException) counts as a False verdict, as the
 * Python path's ``except Exception`` does: 1 true, 0 false, -1 error to propagate */
static int
verdict_of(PyObject *validate, PyObject *value)
{
    PyObject *r = PyObject_CallOneArg(validate, value);
    if (r == NULL) {
        if (PyErr_ExceptionMatches(PyExc_Exception)) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    int ok = PyObject_IsTrue(r);
    Py_DECREF(r);
    if (ok < 0) {
        if (PyErr_ExceptionMatches(PyExc_Exception)) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    return ok;
}

#define MAX_VERDICTS 32

/* Stream._confirm for one candidate. plan: (slot, ctx, window, value_search, validate,
 * skip_test_values, entry, entry_id, mask, mask_prefix) */
static int
confirm_one(Ctx *c, PyObject *plans, PyObject *term, PyObject *lead, long long start,
            long long end)
{
    long long base = c->base;
    long long s = start > base ? start : base;
    long long e = end < s + MAX_SPAN ? end : s + MAX_SPAN;
    int byte;
    if (term != Py_None && e > s) {
        if ((byte = hist_byte(c->hist, e - 1 - base)) < 0)
            return -1;
        if (!class_has(term, byte))
            e -= 1;
    }
    if (lead != Py_None && e > s) {
        if ((byte = hist_byte(c->hist, s - base)) < 0)
            return -1;
        if (!class_has(lead, byte))
            s += 1;
    }
    if (e <= s)
        return 0;
    Py_ssize_t len = PyByteArray_GET_SIZE(c->hist);
    long long a = s - base, b = e - base;
    if (a > len)
        a = len;
    if (b > len)
        b = len;
    if (b < a)
        b = a;
    PyObject *text =
        PyUnicode_DecodeUTF8(PyByteArray_AS_STRING(c->hist) + a, (Py_ssize_t)(b - a), "replace");
    if (text == NULL)
        return -1;
    PyObject *verdict_fn[MAX_VERDICTS];
    int verdict_ok[MAX_VERDICTS];
    int n_verdicts = 0;
    int test_text = -1;
    int rc = -1;
    Py_INCREF(plans);
    for (Py_ssize_t p = 0; p < PyTuple_GET_SIZE(plans); p++) {
        PyObject *plan = PyTuple_GET_ITEM(plans, p);
        PyObject *slot = PyTuple_GET_ITEM(plan, 0), *ctx = PyTuple_GET_ITEM(plan, 1),
                 *value_search = PyTuple_GET_ITEM(plan, 3),
                 *validate = PyTuple_GET_ITEM(plan, 4), *entry = PyTuple_GET_ITEM(plan, 6);
        int skip_test = PyObject_IsTrue(PyTuple_GET_ITEM(plan, 5));
        PyObject *st = PyDict_GetItemWithError(c->state, slot);
        if (st == NULL && PyErr_Occurred())
            goto done;
        Py_XINCREF(st);
        if (st != NULL) {
            long long last_end;
            if (get_ll_attr(st, str_last_end, &last_end) < 0)
                goto plan_fail;
            if (start < last_end)
                goto plan_next; /* overlaps a match already counted for this entry */
        }
        if (PyTuple_GET_SIZE(ctx)) {
            long long window;
            if (as_ll(PyTuple_GET_ITEM(plan, 2), &window) < 0)
                goto plan_fail;
            int inside = in_context(c, ctx, window, start, end);
            if (inside < 0)
                goto plan_fail;
            if (!inside)
                goto plan_next;
        }
        PyObject *value = text;
        Py_INCREF(value);
        if (value_search != Py_None) {
            PyObject *m = PyObject_CallOneArg(value_search, text);
            if (m == NULL) {
                Py_DECREF(value);
                goto plan_fail;
            }
            if (m == Py_None) {
                Py_DECREF(m);
                Py_DECREF(value);
                goto plan_next;
            }
            PyObject *g = PyObject_CallMethodOneArg(m, str_group, one_obj);
            Py_DECREF(m);
            Py_DECREF(value);
            if (g == NULL)
                goto plan_fail;
            value = g;
        }
        if (validate != Py_None) {
            int ok = -2;
            if (value == text) {
                for (int v = 0; v < n_verdicts; v++)
                    if (verdict_fn[v] == validate) {
                        ok = verdict_ok[v];
                        break;
                    }
            }
            if (ok == -2) {
                ok = verdict_of(validate, value);
                if (ok < 0) {
                    Py_DECREF(value);
                    goto plan_fail;
                }
                if (value == text && n_verdicts < MAX_VERDICTS) {
                    verdict_fn[n_verdicts] = validate; /* held by plans */
                    verdict_ok[n_verdicts++] = ok;
                }
            }
            if (!ok) {
                Py_DECREF(value);
                goto plan_next;
            }
        }
        if (skip_test) {
            int is_test;
            if (value != text || test_text < 0) {
                PyObject *r = PyObject_CallOneArg(c->is_test_value, value);
                if (r == NULL) {
                    Py_DECREF(value);
                    goto plan_fail;
                }
                is_test = PyObject_IsTrue(r);
                Py_DECREF(r);
                if (is_test < 0) {
                    Py_DECREF(value);
                    goto plan_fail;
                }
                if (value == text)
                    test_text = is_test;
            }
            else
                is_test = test_text;
            if (is_test) {
                Py_DECREF(value);
                goto plan_next;
            }
        }
        if (c->probe != NULL) {
            PyObject *w = PyObject_CallMethodOneArg(c->probe, str_wants, entry);
            if (w == NULL) {
                Py_DECREF(value);
                goto plan_fail;
            }
            int wants = PyObject_IsTrue(w);
            Py_DECREF(w);
            if (wants < 0) {
                Py_DECREF(value);
                goto plan_fail;
            }
            if (wants) {
                /* a probe bug must not leak the value via a traceback */
                PyObject *r = PyObject_CallMethodObjArgs(c->probe, str_observe, entry, value, NULL);
                if (r == NULL) {
                    if (!PyErr_ExceptionMatches(PyExc_Exception)) {
                        Py_DECREF(value);
                        goto plan_fail;
                    }
                    PyErr_Clear();
                }
                Py_XDECREF(r);
            }
        }
        if (st == NULL) {
            st = PyObject_CallNoArgs(c->state_cls);
            if (st == NULL || PyDict_SetItem(c->state, slot, st) < 0) {
                Py_DECREF(value);
                goto plan_fail;
            }
        }
        {
            long long count, tries;
            if (get_ll_attr(st, str_count, &count) < 0 || set_ll_attr(st, str_count, count + 1) < 0 ||
                set_ll_attr(st, str_last_end, e) < 0) {
                Py_DECREF(value);
                goto plan_fail;
            }
            if (c->spans != NULL) {
                PyObject *span = Py_BuildValue("(OLL)", PyTuple_GET_ITEM(plan, 7), s, e);
                if (span == NULL || PyList_Append(c->spans, span) < 0) {
                    Py_XDECREF(span);
                    Py_DECREF(value);
                    goto plan_fail;
                }
                Py_DECREF(span);
            }
            PyObject *excerpts = PyObject_GetAttr(st, str_excerpts);
            if (excerpts == NULL) {
                Py_DECREF(value);
                goto plan_fail;
            }
            Py_ssize_t n_ex = PyObject_Length(excerpts);
            if (n_ex < 0 || get_ll_attr(st, str_mask_tries, &tries) < 0) {
                Py_DECREF(excerpts);
                Py_DECREF(value);
                goto plan_fail;
            }
            if (n_ex < MAX_EXCERPTS && tries < 8 * MAX_EXCERPTS) {
                if (set_ll_attr(st, str_mask_tries, tries + 1) < 0) {
                    Py_DECREF(excerpts);
                    Py_DECREF(value);
                    goto plan_fail;
                }
                PyObject *masked = PyObject_CallFunctionObjArgs(
                    c->mask_value, value, PyTuple_GET_ITEM(plan, 8), PyTuple_GET_ITEM(plan, 9),
                    NULL);
                int seen = masked == NULL ? -1 : PySequence_Contains(excerpts, masked);
                if (seen == 0 && PyList_Append(excerpts, masked) < 0)
                    seen = -1;
                Py_XDECREF(masked);
                if (seen < 0) {
                    Py_DECREF(excerpts);
                    Py_DECREF(value);
                    goto plan_fail;
                }
            }
            Py_DECREF(excerpts);
        }
        Py_DECREF(value);
    plan_next:
        Py_XDECREF(st);
        continue;
    plan_fail:
        Py_XDECREF(st);
        goto done;
    }
    rc = 0;
done:
    Py_DECREF(plans);
    Py_DECREF(text);
    return rc;
}

PyDoc_STRVAR(finalize_doc,
             "finalize(pending, limit, cap, check, confirming, hist, base, kw_ends, state,\n"
             "         state_cls, spans, probe, is_test_value, mask_value) -> None\n\n"
             "MatchStream._finalize after start recovery: the candidates of ``pending`` that\n"
             "start at or before ``limit``, in (start, id, end) order (the first ``cap`` when\n"
             "cap >= 0), each removed from ``pending`` and confirmed. ``confirming`` maps an\n"
             "id to (plans, terminator table or None, leader table or None).");

static PyObject *
finalize(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 14) {
        PyErr_SetString(PyExc_TypeError, "finalize() takes 14 arguments");
        return NULL;
    }
    PyObject *pending = args[0], *check = args[3], *confirming = args[4];
    long long limit, cap;
    Ctx c;
    c.hist = args[5];
    c.kw_ends = args[7];
    c.state = args[8];
    c.state_cls = args[9];
    c.spans = args[10] == Py_None ? NULL : args[10];
    c.probe = args[11] == Py_None ? NULL : args[11];
    c.is_test_value = args[12];
    c.mask_value = args[13];
    if (as_ll(args[1], &limit) < 0 || as_ll(args[2], &cap) < 0 || as_ll(args[6], &c.base) < 0)
        return NULL;
    if (!PyDict_Check(pending) || !PyDict_Check(confirming) || !PyByteArray_Check(c.hist) ||
        !PyDict_Check(c.kw_ends) || !PyDict_Check(c.state) ||
        (c.spans != NULL && !PyList_Check(c.spans))) {
        PyErr_SetString(PyExc_TypeError, "finalize(): unexpected argument types");
        return NULL;
    }
    if (check == Py_None)
        check = NULL;
    Py_ssize_t size = PyDict_GET_SIZE(pending), n_ready = 0;
    Ready *ready = PyMem_Malloc((size ? size : 1) * sizeof(Ready));
    if (ready == NULL)
        return PyErr_NoMemory();
    PyObject *key, *value, *result = NULL;
    Py_ssize_t pos = 0;
    while (PyDict_Next(pending, &pos, &key, &value)) {
        long long eid, start, end;
        if (!PyTuple_Check(key) || PyTuple_GET_SIZE(key) != 2) {
            PyErr_SetString(PyExc_TypeError, "a pending key must be an (id, start) pair");
            goto out;
        }
        if (as_ll(PyTuple_GET_ITEM(key, 0), &eid) < 0 ||
            as_ll(PyTuple_GET_ITEM(key, 1), &start) < 0 || as_ll(value, &end) < 0)
            goto out;
        if (start > limit)
            continue;
        if (n_ready >= size)
            break; /* (cannot happen: the dict does not change while walked here) */
        Py_INCREF(key);
        ready[n_ready++] = (Ready){start, eid, end, key};
    }
    qsort(ready, (size_t)n_ready, sizeof(Ready), ready_cmp);
    Py_ssize_t todo = n_ready;
    if (cap >= 0 && todo > cap)
        todo = (Py_ssize_t)cap;
    for (Py_ssize_t n = 0; n < todo; n++) {
        if (check != NULL && n && n % DEADLINE_EVERY == 0) {
            int stop = past_deadline(check);
            if (stop < 0)
                goto out;
            if (stop)
                break;
        }
        Ready *r = &ready[n];
        if (PyDict_DelItem(pending, r->key) < 0)
            goto out;
        PyObject *eid = PyTuple_GET_ITEM(r->key, 0);
        PyObject *how = PyDict_GetItemWithError(confirming, eid);
        if (how == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, eid);
            goto out;
        }
        if (!PyTuple_Check(how) || PyTuple_GET_SIZE(how) != 3 ||
            !PyTuple_Check(PyTuple_GET_ITEM(how, 0))) {
            PyErr_SetString(PyExc_TypeError, "confirming[id] must be (plans, term, lead)");
            goto out;
        }
        Py_INCREF(how);
        int rc = confirm_one(&c, PyTuple_GET_ITEM(how, 0), PyTuple_GET_ITEM(how, 1),
                             PyTuple_GET_ITEM(how, 2), r->start, r->end);
        Py_DECREF(how);
        if (rc < 0)
            goto out;
    }
    result = Py_None;
    Py_INCREF(result);
out:
    for (Py_ssize_t i = 0; i < n_ready; i++)
        Py_DECREF(ready[i].key);
    PyMem_Free(ready);
    return result;
}

/* -- keyword regions ---------------------------------------------------------------------- */

static const char *WORD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";

static int
is_word(int byte)
{
    return byte != 0 && strchr(WORD_CHARS, byte) != NULL;
}

/* search(hist, at, end) of a Python pattern: 1 with s and e set, 0 no match, -1 error */
static int
call_search(PyObject *search, PyObject *hist, long long at, long long end_at, long long *s,
            long long *e)
{
    PyObject *a = PyLong_FromLongLong(at), *b = PyLong_FromLongLong(end_at);
    if (a == NULL || b == NULL) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        return -1;
    }
    PyObject *argv[3] = {hist, a, b};
    PyObject *m = PyObject_Vectorcall(search, argv, 3, NULL);
    Py_DECREF(a);
    Py_DECREF(b);
    if (m == NULL)
        return -1;
    if (m == Py_None) {
        Py_DECREF(m);
        return 0;
    }
    PyObject *span = PyObject_CallMethodNoArgs(m, str_span);
    Py_DECREF(m);
    if (span == NULL)
        return -1;
    int rc = -1;
    if (PyTuple_Check(span) && PyTuple_GET_SIZE(span) == 2 &&
        as_ll(PyTuple_GET_ITEM(span, 0), s) == 0 && as_ll(PyTuple_GET_ITEM(span, 1), e) == 0)
        rc = 1;
    else if (!PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "span() must give two ints");
    Py_DECREF(span);
    return rc;
}

/* MatchStream._search_region: returns the searches made so far, -1 past the deadline, -2 on
 * error */
static long long
search_region(PyObject *gid, PyObject *search, int lead_boundary, long long lo, long long stop,
              long long seg_lo, long long seg_hi, long long searches, PyObject *hist,
              long long base, PyObject *furthest_map, PyObject *pending, PyObject *check)
{
    long long at = (lo > seg_lo ? lo : seg_lo) - base, limit = stop - base, end_at = seg_hi - base;
    long long furthest = -1;
    PyObject *f = PyDict_GetItemWithError(furthest_map, gid);
    if (f == NULL && PyErr_Occurred())
        return -2;
    if (f != NULL && as_ll(f, &furthest) < 0)
        return -2;
    furthest -= base;
    for (;;) {
        if (check != NULL && searches && searches % DEADLINE_EVERY == 0) {
            int stop_now = past_deadline(check);
            if (stop_now < 0)
                return -2;
            if (stop_now)
                return -1;
        }
        searches++;
        long long s, e;
        int found = call_search(search, hist, at, end_at, &s, &e);
        if (found < 0)
            return -2;
        if (!found || s >= limit)
            break;
        if (lead_boundary && s) {
            int byte = hist_byte(hist, s - 1);
            if (byte < 0)
                return -2;
            if (is_word(byte)) {
                at = s + 1; /* inside a word: the full pattern's \b fails here */
                continue;
            }
        }
        if (e > furthest) {
            PyObject *key = Py_BuildValue("(OL)", gid, base + s);
            if (key == NULL)
                return -2;
            PyObject *old = PyDict_GetItemWithError(pending, key);
            long long old_end = -1;
            int bad = (old == NULL && PyErr_Occurred()) || (old != NULL && as_ll(old, &old_end) < 0);
            if (!bad && old_end < base + e) {
                PyObject *v = PyLong_FromLongLong(base + e);
                bad = v == NULL || PyDict_SetItem(pending, key, v) < 0;
                Py_XDECREF(v);
            }
            Py_DECREF(key);
            if (bad)
                return -2;
            furthest = e;
        }
        at = s + 1;
    }
    PyObject *v = PyLong_FromLongLong(furthest + base);
    if (v == NULL)
        return -2;
    int rc = PyDict_SetItem(furthest_map, gid, v);
    Py_DECREF(v);
    return rc < 0 ? -2 : searches;
}

PyDoc_STRVAR(search_regions_doc,
             "search_regions(regions, final, pos, base, hist, region_info, searched, furthest,\n"
             "               pending, check) -> None\n\n"
             "MatchStream._search_regions: region_info maps a keyword-led expression to\n"
             "(max width, its pattern's search, lead boundary).");

static PyObject *
search_regions(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "search_regions() takes 10 arguments");
        return NULL;
    }
    PyObject *regions_map = args[0], *hist = args[4], *info_map = args[5], *searched = args[6],
             *furthest = args[7], *pending = args[8], *check = args[9];
    long long pos, base, searches = 0;
    int final = PyObject_IsTrue(args[1]);
    if (final < 0 || as_ll(args[2], &pos) < 0 || as_ll(args[3], &base) < 0)
        return NULL;
    if (!PyDict_Check(regions_map) || !PyByteArray_Check(hist) || !PyDict_Check(info_map) ||
        !PyDict_Check(searched) || !PyDict_Check(furthest) || !PyDict_Check(pending)) {
        PyErr_SetString(PyExc_TypeError, "search_regions(): unexpected argument types");
        return NULL;
    }
    if (check == Py_None)
        check = NULL;
    /* the dict's items as they are now (a callback cannot move the walk) */
    PyObject *items = PyDict_Items(regions_map);
    if (items == NULL)
        return NULL;
    PyObject *done = PyList_New(0);
    if (done == NULL) {
        Py_DECREF(items);
        return NULL;
    }
    PyObject *result = NULL;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(items); k++) {
        PyObject *item = PyList_GET_ITEM(items, k);
        PyObject *gid = PyTuple_GET_ITEM(item, 0), *regions = PyTuple_GET_ITEM(item, 1);
        PyObject *info = PyDict_GetItemWithError(info_map, gid);
        long long width;
        if (info == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, gid);
            goto out;
        }
        if (!PyTuple_Check(info) || PyTuple_GET_SIZE(info) != 3 || !PyList_Check(regions)) {
            PyErr_SetString(PyExc_TypeError, "search_regions(): unexpected region state");
            goto out;
        }
        if (as_ll(PyTuple_GET_ITEM(info, 0), &width) < 0)
            goto out;
        PyObject *search = PyTuple_GET_ITEM(info, 1);
        int lead_boundary = PyObject_IsTrue(PyTuple_GET_ITEM(info, 2));
        if (lead_boundary < 0)
            goto out;
        while (PyList_GET_SIZE(regions)) {
            PyObject *region = PyList_GET_ITEM(regions, 0);
            long long lo, hi;
            if (!PyList_Check(region) || PyList_GET_SIZE(region) != 2) {
                PyErr_SetString(PyExc_TypeError, "a region must be a [lo, hi] list");
                goto out;
            }
            if (as_ll(PyList_GET_ITEM(region, 0), &lo) < 0 ||
                as_ll(PyList_GET_ITEM(region, 1), &hi) < 0)
                goto out;
            long long stop = hi;
            if (!final && pos - width - 1 < hi)
                stop = pos - width - 1;
            if (stop <= lo)
                break; /* the later regions are not complete either */
            PyObject *v = PyLong_FromLongLong(stop);
            if (v == NULL)
                goto out;
            int rc = PyDict_SetItem(searched, gid, v);
            if (rc == 0) {
                if (stop >= hi)
                    rc = PyList_SetSlice(regions, 0, 1, NULL);
                else {
                    Py_INCREF(v);
                    rc = PyList_SetItem(region, 0, v); /* steals the new reference */
                }
            }
            Py_DECREF(v);
            if (rc < 0)
                goto out;
            long long seg_lo = lo - 1 > base ? lo - 1 : base; /* a leading \b's left byte */
            long long seg_hi = stop + width + 1 < pos ? stop + width + 1 : pos;
            if (seg_hi > seg_lo) {
                searches = search_region(gid, search, lead_boundary, lo, stop, seg_lo, seg_hi,
                                         searches, hist, base, furthest, pending, check);
                if (searches == -2)
                    goto out;
                if (searches < 0) {
                    /* past the deadline: the regions are dropped with the rest */
                    result = Py_None;
                    Py_INCREF(result);
                    goto out;
                }
            }
        }
        if (PyList_GET_SIZE(regions) == 0 && PyList_Append(done, gid) < 0)
            goto out;
    }
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(done); k++)
        if (PyDict_DelItem(regions_map, PyList_GET_ITEM(done, k)) < 0)
            goto out;
    result = Py_None;
    Py_INCREF(result);
out:
    Py_DECREF(items);
    Py_DECREF(done);
    return result;
}

/* -- start recovery ----------------------------------------------------------------------- */

/* bytearray.find / rfind(needle, start, end) with Python's index adjustment */
static long long
py_find(PyObject *hist, const char *needle, Py_ssize_t nlen, long long start, long long end,
        int reverse)
{
    long long len = PyByteArray_GET_SIZE(hist);
    const char *buf = PyByteArray_AS_STRING(hist);
    if (end > len)
        end = len;
    else if (end < 0) {
        end += len;
        if (end < 0)
            end = 0;
    }
    if (start < 0) {
        start += len;
        if (start < 0)
            start = 0;
    }
    if (end - start < nlen)
        return -1;
    if (nlen == 0)
        return reverse ? end : start;
    if (!reverse) {
        for (long long i = start; i + nlen <= end; i++) {
            const char *p = memchr(buf + i, needle[0], (size_t)(end - nlen + 1 - i));
            if (p == NULL)
                return -1;
            i = p - buf;
            if (memcmp(p, needle, (size_t)nlen) == 0)
                return i;
        }
        return -1;
    }
    for (long long i = end - nlen; i >= start; i--)
        if (buf[i] == needle[0] && memcmp(buf + i, needle, (size_t)nlen) == 0)
            return i;
    return -1;
}

/* match(hist, a, b) of a Python pattern: 1 matched, 0 not, -1 error */
static int
call_match(PyObject *match, PyObject *hist, long long a, long long b)
{
    PyObject *x = PyLong_FromLongLong(a), *y = PyLong_FromLongLong(b);
    if (x == NULL || y == NULL) {
        Py_XDECREF(x);
        Py_XDECREF(y);
        return -1;
    }
    PyObject *argv[3] = {hist, x, y};
    PyObject *m = PyObject_Vectorcall(match, argv, 3, NULL);
    Py_DECREF(x);
    Py_DECREF(y);
    if (m == NULL)
        return -1;
    int ok = PyObject_IsTrue(m);
    Py_DECREF(m);
    return ok;
}

#define PREFIX_TRIES 8

/* MatchStream._recover_start: 1 with *start set, 0 no start, -1 error. how: (expr, widths,
 * sized match, prefix, reach, lone, anchored match, stops); ``tail`` the Python rest */
static int
recover_one(PyObject *how, PyObject *tail, PyObject *hist, long long base, PyObject *end_obj,
            long long end, long long *start)
{
    PyObject *expr = PyTuple_GET_ITEM(how, 0), *widths = PyTuple_GET_ITEM(how, 1),
             *sized = PyTuple_GET_ITEM(how, 2), *prefix = PyTuple_GET_ITEM(how, 3),
             *anchored = PyTuple_GET_ITEM(how, 6), *stops = PyTuple_GET_ITEM(how, 7);
    long long hi = end - base, reach;
    int lone = PyObject_IsTrue(PyTuple_GET_ITEM(how, 5));
    if (lone < 0 || as_ll(PyTuple_GET_ITEM(how, 4), &reach) < 0)
        return -1;
    if (PyTuple_GET_SIZE(widths)) {
        /* each width the pattern allows, widest first: the first that matches is leftmost */
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(widths); k++) {
            long long width;
            if (as_ll(PyTuple_GET_ITEM(widths, k), &width) < 0)
                return -1;
            if (width <= hi) {
                int ok = call_match(sized, hist, hi - width, hi);
                if (ok < 0)
                    return -1;
                if (ok) {
                    *start = end - width;
                    return 1;
                }
            }
        }
        return 0;
    }
    if (lone) {
        const char *pre = PyBytes_AS_STRING(prefix);
        Py_ssize_t plen = PyBytes_GET_SIZE(prefix);
        long long i = py_find(hist, pre, plen, hi - reach > 0 ? hi - reach : 0, hi, 1);
        if (i < 0 || i + plen >= hi - 1) /* it may end in the terminator byte */
            i = -2;
        if (i >= 0) {
            int ok = call_match(anchored, hist, i, hi);
            if (ok < 0)
                return -1;
            if (!ok)
                return 0;
            *start = base + i;
            return 1;
        }
    }
    else if (anchored != Py_None) {
        const char *pre = PyBytes_AS_STRING(prefix);
        Py_ssize_t plen = PyBytes_GET_SIZE(prefix);
        long long lo = hi - reach > 0 ? hi - reach : 0;
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(stops); k++) {
            PyObject *stop = PyTuple_GET_ITEM(stops, k);
            long long at = py_find(hist, PyBytes_AS_STRING(stop), PyBytes_GET_SIZE(stop), lo,
                                   hi - 1, 1) + 1;
            if (at > lo)
                lo = at;
        }
        long long i = py_find(hist, pre, plen, lo, hi, 0);
        int tries = 0;
        while (i >= 0 && tries < PREFIX_TRIES) {
            int ok = call_match(anchored, hist, i, hi);
            if (ok < 0)
                return -1;
            if (ok) {
                *start = base + i;
                return 1;
            }
            tries++;
            i = py_find(hist, pre, plen, i + 1, hi, 0);
        }
        if (i < 0)
            return 0;
    }
    PyObject *argv[2] = {expr, end_obj};
    PyObject *r = PyObject_Vectorcall(tail, argv, 2, NULL);
    if (r == NULL)
        return -1;
    if (r == Py_None) {
        Py_DECREF(r);
        return 0;
    }
    int rc = as_ll(r, start);
    Py_DECREF(r);
    return rc < 0 ? -1 : 1;
}

PyDoc_STRVAR(recover_starts_doc,
             "recover_starts(unstarted, recovery, tail, hist, base, pending) -> None\n\n"
             "MatchStream._recover_starts: each (id, end) of ``unstarted`` gets its start\n"
             "(recovery maps an id to its paths; ``tail(expr, end)`` is the reversed-pattern\n"
             "and RE2 rest) and is queued in ``pending``; ``unstarted`` is cleared.");

static PyObject *
recover_starts(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "recover_starts() takes 6 arguments");
        return NULL;
    }
    PyObject *unstarted = args[0], *recovery = args[1], *tail = args[2], *hist = args[3],
             *pending = args[5];
    long long base;
    if (as_ll(args[4], &base) < 0)
        return NULL;
    if (!PyList_Check(unstarted) || !PyDict_Check(recovery) || !PyByteArray_Check(hist) ||
        !PyDict_Check(pending)) {
        PyErr_SetString(PyExc_TypeError, "recover_starts(): unexpected argument types");
        return NULL;
    }
    for (Py_ssize_t n = 0; n < PyList_GET_SIZE(unstarted); n++) {
        PyObject *item = PyList_GET_ITEM(unstarted, n);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_SetString(PyExc_TypeError, "unstarted holds (id, end) pairs");
            return NULL;
        }
        Py_INCREF(item);
        PyObject *eid = PyTuple_GET_ITEM(item, 0), *end_obj = PyTuple_GET_ITEM(item, 1);
        PyObject *how = PyDict_GetItemWithError(recovery, eid);
        long long end, start;
        int rc = -1;
        if (how == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, eid);
        }
        else if (!PyTuple_Check(how) || PyTuple_GET_SIZE(how) != 8)
            PyErr_SetString(PyExc_TypeError, "recovery[id] must be an 8-tuple");
        else if (as_ll(end_obj, &end) == 0) {
            Py_INCREF(how);
            rc = recover_one(how, tail, hist, base, end_obj, end, &start);
            Py_DECREF(how);
        }
        if (rc == 1) {
            PyObject *key = Py_BuildValue("(OL)", eid, start);
            PyObject *old = key == NULL ? NULL : PyDict_GetItemWithError(pending, key);
            long long old_end = -1;
            if (key == NULL || (old == NULL && PyErr_Occurred()) ||
                (old != NULL && as_ll(old, &old_end) < 0))
                rc = -1;
            else if (old_end < end && PyDict_SetItem(pending, key, end_obj) < 0)
                rc = -1;
            Py_XDECREF(key);
        }
        Py_DECREF(item);
        if (rc < 0)
            return NULL;
    }
    if (PyList_SetSlice(unstarted, 0, PyList_GET_SIZE(unstarted), NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"absorb", (PyCFunction)(void (*)(void))absorb, METH_FASTCALL, absorb_doc},
    {"finalize", (PyCFunction)(void (*)(void))finalize, METH_FASTCALL, finalize_doc},
    {"search_regions", (PyCFunction)(void (*)(void))search_regions, METH_FASTCALL,
     search_regions_doc},
    {"recover_starts", (PyCFunction)(void (*)(void))recover_starts, METH_FASTCALL,
     recover_starts_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "detectors.dlp._native_stream",
    "Compiled stage-2 bookkeeping of the DLP matcher's stream (optional; see matcher.py).",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__native_stream(void)
{
#define INTERN(var, text)                                                                      \
    if ((var = PyUnicode_InternFromString(text)) == NULL)                                      \
        return NULL;
    INTERN(str_count, "count");
    INTERN(str_last_end, "last_end");
    INTERN(str_mask_tries, "mask_tries");
    INTERN(str_excerpts, "excerpts");
    INTERN(str_group, "group");
    INTERN(str_wants, "wants");
    INTERN(str_observe, "observe");
    INTERN(str_span, "span");
#undef INTERN
    if ((one_obj = PyLong_FromLong(1)) == NULL)
        return NULL;
    return PyModule_Create(&module);
}
