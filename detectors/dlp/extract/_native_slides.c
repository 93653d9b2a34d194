/* The slide tokenizer of detectors.dlp.extract.ooxml_fast in C: the text of a batch of
 * slide or notes parts, as the module's batch pass (slides_text) gives it, in one pass over
 * each part and no Python object per run.
 *
 * slides_text(bodies) takes the parts as slide_body returns them (UTF-8, no XML declaration,
 * no NUL) and returns their text, a newline after each part, or None where the batch pass
 * would bail (the caller then reads the parts one by one). The rules are the batch pass's
 * with the Hyperscan pre-scan, as if the parts were joined with a "<NUL>" boundary:
 *
 *   - a tag ":t", ":p", ":br", ":cr" or ":tab" (followed by a blank, "/" or ">") anywhere
 *     under a prefix other than "a" (or an "a:" not right after "<" or "/") -> None;
 *   - "<a:t>" text "</a:t>" is a run (its text holds no "<"); any other spelling of an
 *     "a:t" tag -> None; a stray "</a:t>" -> None (the ":t>" count would not match);
 *   - "<a:p/>", "<a:br/>", "<a:cr/>", "</a:p>", "</a:br>", "</a:cr>" -> a newline;
 *     "<a:tab/>", "</a:tab>" -> a tab; a plain start tag of those is read by its end tag;
 *     an attributed start or empty tag, or an end tag with a blank -> None;
 *   - "<!" -> None; "<?" -> skipped when it is one of the two XML declarations Office and
 *     python-pptx write, else None;
 *   - the count of ":t>" in the parts is twice the runs found, else None;
 *   - a carriage return or NUL in a run's text -> None;
 *   - the text of the batch: entities decoded as ooxml_fast.text_of decodes them (the five
 *     XML entities, decimal and hexadecimal references to XML characters; anything else
 *     after "&" -> None), then strict UTF-8 (invalid -> None).
 *
 * Memory: one output buffer no larger than the input plus a byte per part; every look-ahead
 * is bounds checked (a byte past a part reads as "<", what the boundary would put there);
 * each byte is looked at a bounded number of times; no recursion.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define PROLOG_LEN 55
static const char PROLOG_SQ[] = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>";
static const char PROLOG_DQ[] = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>";

enum { L_NONE, L_T, L_P, L_BR, L_CR, L_TAB };

/* a byte the run patterns read: what the next tag holds, or "<" past the part */
#define AT(s, n, i) ((i) < (n) ? (s)[i] : (unsigned char)'<')

static inline int
is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline int
is_term(unsigned char c)
{
    return is_blank(c) || c == '/' || c == '>';
}

/* The local name at s[i] if it is one the paragraph reader reacts to, followed by a blank,
 * "/" or ">" (whose index goes to *after); else L_NONE. */
static inline int
local_name(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *after)
{
    unsigned char c = AT(s, n, i);
    if (c == 't') {
        if (is_term(AT(s, n, i + 1))) {
            *after = i + 1;
            return L_T;
        }
        if (AT(s, n, i + 1) == 'a' && AT(s, n, i + 2) == 'b' && is_term(AT(s, n, i + 3))) {
            *after = i + 3;
            return L_TAB;
        }
        return L_NONE;
    }
    if (c == 'p') {
        if (is_term(AT(s, n, i + 1))) {
            *after = i + 1;
            return L_P;
        }
        return L_NONE;
    }
    if ((c == 'b' || c == 'c') && AT(s, n, i + 1) == 'r' && is_term(AT(s, n, i + 2))) {
        *after = i + 2;
        return c == 'b' ? L_BR : L_CR;
    }
    return L_NONE;
}

/* Every ":" of a part: -1 for a reader's local name under another prefix (the Hyperscan
 * patterns "[^a]:NAME[\s/>]" and "[^</]a:NAME[\s/>]" over the joined batch, where the byte
 * before a part other than the first is the boundary's ">"); else 0, the ":t>" counted. */
static int
check_colons(const unsigned char *s, Py_ssize_t n, int first, Py_ssize_t *t_count)
{
    const unsigned char *p = s;
    const unsigned char *end = s + n;
    while (p < end && (p = memchr(p, ':', (size_t)(end - p))) != NULL) {
        Py_ssize_t i = p - s;
        Py_ssize_t after = 0;
        int kind = local_name(s, n, i + 1, &after);
        if (kind != L_NONE) {
            int prev = i >= 1 ? s[i - 1] : (first ? -1 : '>');
            if (prev >= 0 && prev != 'a') {
                return -1;
            }
            if (prev == 'a') {
                int before = i >= 2 ? s[i - 2] : (i == 1 && !first ? '>' : -1);
                if (before >= 0 && before != '<' && before != '/') {
                    return -1;
                }
            }
            if (kind == L_T && AT(s, n, after) == '>') {
                (*t_count)++;
            }
        }
        p++;
    }
    return 0;
}

/* The runs and separators of one part appended at *out; -1 for a spelling the batch pass
 * bails on. */
static int
tokenize(const unsigned char *s, Py_ssize_t n, unsigned char **out, Py_ssize_t *runs)
{
    unsigned char *o = *out;
    const unsigned char *end = s + n;
    const unsigned char *p = s;
    while (p < end && (p = memchr(p, '<', (size_t)(end - p))) != NULL) {
        Py_ssize_t i = p - s;
        unsigned char c = AT(s, n, i + 1);
        Py_ssize_t after = 0;
        int kind;
        if (c == 'a' && AT(s, n, i + 2) == ':') {
            kind = local_name(s, n, i + 3, &after);
            if (kind == L_NONE) {
                p++;
                continue;
            }
            unsigned char t = AT(s, n, after);
            if (kind == L_T) {
                if (t != '>') {
                    return -1; /* an attributed or empty run */
                }
                const unsigned char *text = s + after + 1;
                const unsigned char *close =
                    text < end ? memchr(text, '<', (size_t)(end - text)) : NULL;
                if (close == NULL || end - close < 6 || memcmp(close, "</a:t>", 6) != 0) {
                    return -1; /* a run holding a tag, or cut short */
                }
                size_t len = (size_t)(close - text);
                if (len) {
                    if (memchr(text, '\r', len) != NULL || memchr(text, '\0', len) != NULL) {
                        return -1; /* expat normalises line ends and refuses NUL */
                    }
                    memcpy(o, text, len);
                    o += len;
                }
                (*runs)++;
                p = close + 6;
                continue;
            }
            if (t == '>') {
                p = s + after + 1; /* a plain start tag: its end tag adds the separator */
                continue;
            }
            if (t == '/' && AT(s, n, after + 1) == '>') {
                *o++ = kind == L_TAB ? '\t' : '\n';
                p = s + after + 2;
                continue;
            }
            return -1; /* attributed, or a blank before "/>" */
        }
        if (c == '/' && AT(s, n, i + 2) == 'a' && AT(s, n, i + 3) == ':') {
            kind = local_name(s, n, i + 4, &after);
            if (kind == L_NONE) {
                p++;
                continue;
            }
            unsigned char t = AT(s, n, after);
            if (is_blank(t)) {
                return -1;
            }
            if (t == '>') {
                if (kind == L_T) {
                    return -1; /* the end of no run */
                }
                *o++ = kind == L_TAB ? '\t' : '\n';
                p = s + after + 1;
                continue;
            }
            p++; /* "</a:p/": no tag the batch pass reads */
            continue;
        }
        if (c == '!') {
            return -1; /* comment, CDATA, DTD */
        }
        if (c == '?') {
            if (n - i >= PROLOG_LEN &&
                (memcmp(p, PROLOG_SQ, PROLOG_LEN) == 0 || memcmp(p, PROLOG_DQ, PROLOG_LEN) == 0)) {
                p += PROLOG_LEN;
                continue;
            }
            return -1; /* a processing instruction */
        }
        p++;
    }
    *out = o;
    return 0;
}

static inline int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static inline int
is_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* More decimal digits than this in a reference: None, and the Python path decides (its
 * int() refuses more digits than sys.get_int_max_str_digits(), at least 640). */
#define MAX_DECIMAL_DIGITS 640

/* Entities of buf[0:n] decoded in place, as text_of's pattern
 * "&(#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z]+);|&" and _entity do; the new length, or -1. */
static Py_ssize_t
decode_entities(unsigned char *buf, Py_ssize_t n)
{
    unsigned char *amp = memchr(buf, '&', (size_t)n);
    if (amp == NULL) {
        return n;
    }
    unsigned char *w = amp;
    const unsigned char *r = amp;
    const unsigned char *end = buf + n;
    while (r < end) {
        const unsigned char *next = memchr(r, '&', (size_t)(end - r));
        const unsigned char *stop = next != NULL ? next : end;
        if (stop > r) {
            memmove(w, r, (size_t)(stop - r));
            w += stop - r;
        }
        if (next == NULL) {
            break;
        }
        r = next + 1;
        if (r < end && *r == '#') {
            uint32_t code = 0;
            int big = 0;
            const unsigned char *q;
            if (r + 1 < end && r[1] == 'x') {
                q = r + 2;
                const unsigned char *digits = q;
                int v;
                while (q < end && (v = hex_value(*q)) >= 0) {
                    if (code > 0x10FFFF) {
                        big = 1;
                    } else {
                        code = code * 16 + (uint32_t)v;
                    }
                    q++;
                }
                if (q == digits) {
                    return -1;
                }
            } else {
                q = r + 1;
                const unsigned char *digits = q;
                while (q < end && is_digit(*q)) {
                    if (code > 0x10FFFF) {
                        big = 1;
                    } else {
                        code = code * 10 + (uint32_t)(*q - '0');
                    }
                    q++;
                }
                if (q == digits || q - digits > MAX_DECIMAL_DIGITS) {
                    return -1;
                }
            }
            if (q >= end || *q != ';') {
                return -1;
            }
            if (big || code > 0x10FFFF) {
                return -1; /* chr() refuses it */
            }
            if ((code < 0x20 && code != 0x9 && code != 0xA && code != 0xD) ||
                (code >= 0xD800 && code <= 0xDFFF)) {
                return -1; /* not an XML character */
            }
            if (code < 0x80) {
                *w++ = (unsigned char)code;
            } else if (code < 0x800) {
                *w++ = (unsigned char)(0xC0 | (code >> 6));
                *w++ = (unsigned char)(0x80 | (code & 0x3F));
            } else if (code < 0x10000) {
                *w++ = (unsigned char)(0xE0 | (code >> 12));
                *w++ = (unsigned char)(0x80 | ((code >> 6) & 0x3F));
                *w++ = (unsigned char)(0x80 | (code & 0x3F));
            } else {
                *w++ = (unsigned char)(0xF0 | (code >> 18));
                *w++ = (unsigned char)(0x80 | ((code >> 12) & 0x3F));
                *w++ = (unsigned char)(0x80 | ((code >> 6) & 0x3F));
                *w++ = (unsigned char)(0x80 | (code & 0x3F));
            }
            r = q + 1;
            continue;
        }
        const unsigned char *q = r;
        while (q < end && is_letter(*q)) {
            q++;
        }
        if (q == r || q >= end || *q != ';') {
            return -1; /* a bare "&" */
        }
        size_t len = (size_t)(q - r);
        unsigned char c;
        if (len == 3 && memcmp(r, "amp", 3) == 0) {
            c = '&';
        } else if (len == 2 && memcmp(r, "lt", 2) == 0) {
            c = '<';
        } else if (len == 2 && memcmp(r, "gt", 2) == 0) {
            c = '>';
        } else if (len == 4 && memcmp(r, "quot", 4) == 0) {
            c = '"';
        } else if (len == 4 && memcmp(r, "apos", 4) == 0) {
            c = '\'';
        } else {
            return -1; /* an entity XML does not define */
        }
        *w++ = c;
        r = q + 1;
    }
    return w - buf;
}

PyDoc_STRVAR(slides_text_doc,
             "slides_text(bodies, /)\n--\n\n"
             "The text of slide or notes parts (a list of bytes from slide_body), a newline\n"
             "after each, as ooxml_fast.slides_text gives it; None where it would bail.");

static PyObject *
slides_text(PyObject *module, PyObject *arg)
{
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "slides_text expects a list of bytes");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(arg);
    Py_ssize_t total = 1;
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *item = PyList_GET_ITEM(arg, k);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "slides_text expects a list of bytes");
            return NULL;
        }
        Py_ssize_t size = PyBytes_GET_SIZE(item);
        if (size > PY_SSIZE_T_MAX - total - 1) {
            PyErr_NoMemory();
            return NULL;
        }
        total += size + 1;
    }
    unsigned char *buf = PyMem_Malloc((size_t)total);
    if (buf == NULL) {
        return PyErr_NoMemory();
    }
    unsigned char *o = buf;
    Py_ssize_t runs = 0;
    Py_ssize_t t_count = 0;
    int bail = 0;
    for (Py_ssize_t k = 0; k < count && !bail; k++) {
        PyObject *item = PyList_GET_ITEM(arg, k);
        const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(item);
        Py_ssize_t n = PyBytes_GET_SIZE(item);
        if (check_colons(s, n, k == 0, &t_count) < 0 || tokenize(s, n, &o, &runs) < 0) {
            bail = 1;
            break;
        }
        *o++ = '\n';
    }
    if (count == 0) {
        *o++ = '\n'; /* the batch pass's one boundary */
    }
    if (bail || t_count != 2 * runs) {
        PyMem_Free(buf);
        Py_RETURN_NONE;
    }
    Py_ssize_t len = decode_entities(buf, o - buf);
    if (len < 0) {
        PyMem_Free(buf);
        Py_RETURN_NONE;
    }
    PyObject *text = PyUnicode_DecodeUTF8((const char *)buf, len, "strict");
    PyMem_Free(buf);
    if (text == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        return NULL;
    }
    return text;
}

static PyMethodDef methods[] = {
    {"slides_text", slides_text, METH_O, slides_text_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "detectors.dlp.extract._native_slides",
    "The slide tokenizer of detectors.dlp.extract.ooxml_fast, compiled.",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__native_slides(void)
{
    return PyModule_Create(&module_def);
}
