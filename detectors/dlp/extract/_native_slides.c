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
 * slide_batch reads one batch of a deck's parts straight from the container's bytes (with
 * the inflater module PartReader chose, and the checks of PartReader.read_each and
 * slide_body), see ooxml._pptx_native.
 *
 * Memory: one output buffer no larger than the input plus a byte per part; every look-ahead
 * is bounds checked (a byte past a part reads as "<", what the boundary would put there);
 * each byte is looked at a bounded number of times; no recursion.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/* A ":" at s[i]: -1 for a reader's local name under another prefix (the Hyperscan patterns
 * "[^a]:NAME[\s/>]" and "[^</]a:NAME[\s/>]" over the joined batch, where the byte before a
 * part other than the first is the boundary's ">"); else 0, a ":t>" counted. */
static inline int
colon_at(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, int first, Py_ssize_t *t_count)
{
    Py_ssize_t after = 0;
    int kind = local_name(s, n, i + 1, &after);
    if (kind == L_NONE) {
        return 0;
    }
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
    return 0;
}

typedef struct {
    unsigned char *out;      /* where the next text goes */
    Py_ssize_t runs;         /* runs read */
    Py_ssize_t t_count;      /* ":t>" seen */
    Py_ssize_t text;         /* inside a run: where its text starts; else -1 */
} Scan;

/* A "<" at s[i] (see scan_part); -1 for a spelling the batch pass bails on. */
static inline int
tag_at(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, Scan *st)
{
    if (st->text >= 0) {
        /* the first "<" after a run's start tag must end the run */
        if (n - i < 6 || memcmp(s + i, "</a:t>", 6) != 0) {
            return -1; /* a run holding a tag */
        }
        size_t len = (size_t)(i - st->text);
        if (len) {
            const unsigned char *text = s + st->text;
            if (memchr(text, '\r', len) != NULL || memchr(text, '\0', len) != NULL) {
                return -1; /* expat normalises line ends and refuses NUL */
            }
            memcpy(st->out, text, len);
            st->out += len;
        }
        st->runs++;
        st->text = -1;
        return 0;
    }
    unsigned char c = AT(s, n, i + 1);
    Py_ssize_t after = 0;
    int kind;
    if (c == 'a' && AT(s, n, i + 2) == ':') {
        kind = local_name(s, n, i + 3, &after);
        if (kind == L_NONE) {
            return 0;
        }
        unsigned char t = AT(s, n, after);
        if (kind == L_T) {
            if (t != '>') {
                return -1; /* an attributed or empty run */
            }
            st->text = after + 1;
            return 0;
        }
        if (t == '>') {
            return 0; /* a plain start tag: its end tag adds the separator */
        }
        if (t == '/' && AT(s, n, after + 1) == '>') {
            *st->out++ = kind == L_TAB ? '\t' : '\n';
            return 0;
        }
        return -1; /* attributed, or a blank before "/>" */
    }
    if (c == '/' && AT(s, n, i + 2) == 'a' && AT(s, n, i + 3) == ':') {
        kind = local_name(s, n, i + 4, &after);
        if (kind == L_NONE) {
            return 0;
        }
        unsigned char t = AT(s, n, after);
        if (is_blank(t)) {
            return -1;
        }
        if (t == '>') {
            if (kind == L_T) {
                return -1; /* the end of no run */
            }
            *st->out++ = kind == L_TAB ? '\t' : '\n';
        }
        return 0; /* ("</a:p/": no tag the batch pass reads) */
    }
    if (c == '!') {
        return -1; /* comment, CDATA, DTD */
    }
    if (c == '?') {
        /* one of the two declarations is read as nothing (it holds no "<" or ":") */
        if (n - i >= PROLOG_LEN &&
            (memcmp(s + i, PROLOG_SQ, PROLOG_LEN) == 0 || memcmp(s + i, PROLOG_DQ, PROLOG_LEN) == 0)) {
            return 0;
        }
        return -1; /* a processing instruction */
    }
    return 0;
}

/* One part, in one pass over its "<" and ":" bytes in order: the runs and separators
 * appended at st->out, the ":t>" counted, -1 for a spelling the batch pass bails on. Every
 * "<" is looked at, the end tag of a run included (where the Python pattern's match of the
 * run ends), and no "<" lies between a run's start and end tags. */
static int
scan_part(const unsigned char *s, Py_ssize_t n, int first, Scan *st)
{
    Py_ssize_t i = 0;
    st->text = -1;
#ifdef __SSE2__
    const __m128i lt = _mm_set1_epi8('<');
    const __m128i colon = _mm_set1_epi8(':');
    for (; n - i >= 16; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        unsigned mask = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, colon)));
        while (mask) {
            Py_ssize_t at = i + __builtin_ctz(mask);
            mask &= mask - 1;
            int bad = s[at] == '<' ? tag_at(s, n, at, st) : colon_at(s, n, at, first, &st->t_count);
            if (bad) {
                return -1;
            }
        }
    }
#endif
    for (; i < n; i++) {
        int bad = 0;
        if (s[i] == '<') {
            bad = tag_at(s, n, i, st);
        } else if (s[i] == ':') {
            bad = colon_at(s, n, i, first, &st->t_count);
        }
        if (bad) {
            return -1;
        }
    }
    if (st->text >= 0) {
        return -1; /* a run cut short */
    }
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

/* The text of parts[0:count] (lens[k] bytes each) as slides_text gives it: a new str, a new
 * reference to None where the batch pass would bail, or NULL with an exception set. */
static PyObject *
batch_text(const unsigned char *const *parts, const Py_ssize_t *lens, Py_ssize_t count)
{
    Py_ssize_t total = 1;
    for (Py_ssize_t k = 0; k < count; k++) {
        if (lens[k] > PY_SSIZE_T_MAX - total - 1) {
            return PyErr_NoMemory();
        }
        total += lens[k] + 1;
    }
    unsigned char *buf = PyMem_Malloc((size_t)total);
    if (buf == NULL) {
        return PyErr_NoMemory();
    }
    Scan st = {buf, 0, 0, -1};
    int bail = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        if (scan_part(parts[k], lens[k], k == 0, &st) < 0) {
            bail = 1;
            break;
        }
        *st.out++ = '\n';
    }
    if (count == 0) {
        *st.out++ = '\n'; /* the batch pass's one boundary */
    }
    unsigned char *o = st.out;
    if (bail || st.t_count != 2 * st.runs) {
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

PyDoc_STRVAR(slides_text_doc,
             "slides_text(bodies, /)\n--\n\n"
             "The text of slide or notes parts (a list of bytes from slide_body), a newline\n"
             "after each, as ooxml_fast.slides_text gives it; None where it would bail.");

static PyObject *
slides_text(PyObject *module, PyObject *arg)
{
    (void)module;
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "slides_text expects a list of bytes");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(arg);
    const unsigned char **parts = PyMem_Malloc(sizeof(*parts) * (size_t)(count + 1));
    Py_ssize_t *lens = PyMem_Malloc(sizeof(*lens) * (size_t)(count + 1));
    if (parts == NULL || lens == NULL) {
        PyMem_Free(parts);
        PyMem_Free(lens);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *item = PyList_GET_ITEM(arg, k);
        if (!PyBytes_Check(item)) {
            PyMem_Free(parts);
            PyMem_Free(lens);
            PyErr_SetString(PyExc_TypeError, "slides_text expects a list of bytes");
            return NULL;
        }
        parts[k] = (const unsigned char *)PyBytes_AS_STRING(item);
        lens[k] = PyBytes_GET_SIZE(item);
    }
    /* (no Python code runs in batch_text: the list's items stay alive) */
    PyObject *text = batch_text(parts, lens, count);
    PyMem_Free(parts);
    PyMem_Free(lens);
    return text;
}


/* ----------------------------------------------------------------- reading a deck's parts */

/* How many "<" s[0:n] holds, counting stopped once past limit. */
static Py_ssize_t
count_tags(const unsigned char *s, Py_ssize_t n, Py_ssize_t limit)
{
    Py_ssize_t count = 0;
    Py_ssize_t i = 0;
#ifdef __SSE2__
    const __m128i lt = _mm_set1_epi8('<');
    while (n - i >= 16 && count <= limit) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        count += __builtin_popcount((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, lt)));
        i += 16;
    }
#endif
    for (; i < n && count <= limit; i++) {
        count += s[i] == '<';
    }
    return count;
}

/* Whether "xmlns" occurs in s[0:n]. */
static int
has_xmlns(const unsigned char *s, Py_ssize_t n)
{
    const unsigned char *p = s;
    const unsigned char *end = s + n;
    while (end - p >= 2 && (p = memchr(p, 'n', (size_t)(end - p - 1))) != NULL) {
        /* "xmlns": an 'n' at index 3, an 's' after it */
        if (p - s >= 3 && p[1] == 's' && p[-1] == 'l' && p[-2] == 'm' && p[-3] == 'x') {
            return 1;
        }
        p++;
    }
    return 0;
}

static inline int
is_py_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static inline uint32_t
le16(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

enum { BATCH_DONE = 0, BATCH_STOP = 1, BATCH_ERROR = 2 };

typedef struct {
    Py_ssize_t count;
    Py_ssize_t cap;
    const unsigned char **ptr; /* a part's body, inside keep[k] */
    Py_ssize_t *len;
    PyObject *keep; /* list: the bytes holding each part */
} Batch;

static int
batch_add(Batch *b, const unsigned char *ptr, Py_ssize_t len, PyObject *owner)
{
    if (b->count == b->cap) {
        Py_ssize_t cap = b->cap ? b->cap * 2 : 64;
        const unsigned char **p = PyMem_Realloc(b->ptr, sizeof(*p) * (size_t)cap);
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->ptr = p;
        Py_ssize_t *l = PyMem_Realloc(b->len, sizeof(*l) * (size_t)cap);
        if (l == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->len = l;
        b->cap = cap;
    }
    if (PyList_Append(b->keep, owner) < 0) {
        return -1;
    }
    b->ptr[b->count] = ptr;
    b->len[b->count] = len;
    b->count++;
    return 0;
}

/* An Entry's integer field (-1 with an exception set if it is not an int in range). */
static long long
field(PyObject *info, Py_ssize_t k)
{
    return PyLong_AsLongLong(PyTuple_GET_ITEM(info, k));
}

/* The CRC-32 of a part's bytes by the inflater module's crc32; -1 with an exception set. */
static long long
crc_of(PyObject *crc32, PyObject *part)
{
    PyObject *value = PyObject_CallOneArg(crc32, part);
    if (value == NULL) {
        return -1;
    }
    long long crc = PyLong_AsLongLong(value);
    Py_DECREF(value);
    return crc;
}

PyDoc_STRVAR(slide_batch_doc,
             "slide_batch(data, infos, start, max_size, max_depth, block, root_tags, body,\n"
             "            read, inflater, /)\n--\n\n"
             "One batch of a deck's slide and notes parts read from the container's bytes, as\n"
             "ooxml._pptx reads it: (status, next, text, bodies). See ooxml._pptx_native.");

static PyObject *
slide_batch(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "slide_batch takes 10 arguments");
        return NULL;
    }
    PyObject *data_obj = args[0];
    PyObject *infos = args[1];
    PyObject *root_tags = args[6];
    PyObject *body_fn = args[7];
    PyObject *read_fn = args[8];
    if (!PyBytes_Check(data_obj) || !PyList_Check(infos) || !PyDict_Check(root_tags)) {
        PyErr_SetString(PyExc_TypeError, "slide_batch: bytes, list, ..., dict expected");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[2]);
    Py_ssize_t max_size = PyLong_AsSsize_t(args[3]);
    Py_ssize_t max_depth = PyLong_AsSsize_t(args[4]);
    Py_ssize_t block = PyLong_AsSsize_t(args[5]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(data_obj);
    Py_ssize_t data_len = PyBytes_GET_SIZE(data_obj);
    Py_ssize_t n = PyList_GET_SIZE(infos);
    if (start < 0) {
        start = 0;
    }

    PyObject *decompressobj = PyObject_GetAttrString(args[9], "decompressobj");
    if (decompressobj == NULL) {
        return NULL;
    }
    PyObject *crc32 = PyObject_GetAttrString(args[9], "crc32");
    if (crc32 == NULL) {
        Py_DECREF(decompressobj);
        return NULL;
    }
    Batch b = {0};
    b.keep = PyList_New(0);
    PyObject *last_tag = NULL; /* the last root tag looked up, and the end tag it needs */
    PyObject *last_end = NULL;
    PyObject *result = NULL;
    PyObject *text = NULL;
    PyObject *bodies = NULL;
    int status = BATCH_DONE;
    Py_ssize_t batched = 0;
    Py_ssize_t k = start;
    if (b.keep == NULL) {
        goto fail;
    }

    for (; k < n; k++) {
        PyObject *info = PyList_GET_ITEM(infos, k);
        if (!PyTuple_Check(info) || PyTuple_GET_SIZE(info) < 7) {
            PyErr_SetString(PyExc_TypeError, "slide_batch: zip entries expected");
            goto fail;
        }
        long long method = field(info, 2);
        long long crc = field(info, 3);
        long long packed = field(info, 4);
        long long size = field(info, 5);
        long long header = field(info, 6);
        if (PyErr_Occurred()) {
            goto fail;
        }
        if (size > max_size) {
            status = BATCH_STOP; /* streamed through expat */
            break;
        }
        PyObject *owned = NULL; /* the part's bytes */
        if (method == 8 || method == 0) {
            /* PartReader.read_each's checks; a failure is for its own reader to report */
            if (header < 0 || size < 0 || packed < 0 || header > data_len ||
                data_len - header < 30) {
                status = BATCH_ERROR;
                break;
            }
            const unsigned char *h = data + header;
            if (memcmp(h, "PK\x03\x04", 4) != 0) {
                status = BATCH_ERROR;
                break;
            }
            long long begin = header + 30 + (long long)le16(h + 26) + (long long)le16(h + 28);
            if (begin > data_len || data_len - begin < packed) {
                if (!(packed == 0 && begin > data_len)) {
                    status = BATCH_ERROR; /* the member's data ends early */
                    break;
                }
                begin = data_len; /* an empty slice past the end, as Python's */
            }
            const char *in = (const char *)data + begin;
            if (method == 0) {
                if (packed != size) {
                    status = BATCH_ERROR;
                    break;
                }
                owned = PyBytes_FromStringAndSize(in, (Py_ssize_t)size);
                if (owned == NULL) {
                    goto fail;
                }
            } else {
                /* the inflater PartReader chose, at most one byte past the declared size */
                PyObject *packed_bytes = PyBytes_FromStringAndSize(in, (Py_ssize_t)packed);
                if (packed_bytes == NULL) {
                    goto fail;
                }
                PyObject *inflater = PyObject_CallFunction(decompressobj, "i", -15);
                if (inflater == NULL) {
                    Py_DECREF(packed_bytes);
                    goto fail;
                }
                PyObject *out = PyObject_CallMethod(inflater, "decompress", "On", packed_bytes,
                                                    (Py_ssize_t)(size + 1));
                Py_DECREF(inflater);
                Py_DECREF(packed_bytes);
                if (out == NULL) {
                    goto fail; /* the inflater's error, as Python's reader raises it */
                }
                if (!PyBytes_CheckExact(out)) {
                    Py_SETREF(out, PyBytes_FromObject(out));
                    if (out == NULL) {
                        goto fail;
                    }
                }
                if (PyBytes_GET_SIZE(out) != size) {
                    Py_DECREF(out);
                    status = BATCH_ERROR;
                    break;
                }
                owned = out;
            }
            long long got = crc_of(crc32, owned);
            if (got == -1 && PyErr_Occurred()) {
                Py_DECREF(owned);
                goto fail;
            }
            if (got != crc) {
                Py_DECREF(owned);
                status = BATCH_ERROR;
                break;
            }
        } else {
            owned = PyObject_CallOneArg(read_fn, info); /* another method: zipfile's reader */
            if (owned == NULL) {
                goto fail;
            }
            if (!PyBytes_Check(owned)) {
                Py_DECREF(owned);
                PyErr_SetString(PyExc_TypeError, "slide_batch: read must return bytes");
                goto fail;
            }
        }
        const unsigned char *raw = (const unsigned char *)PyBytes_AS_STRING(owned);
        Py_ssize_t raw_len = PyBytes_GET_SIZE(owned);

        /* slide_body's checks; a part not of the usual shape goes to slide_body itself */
        const unsigned char *body = NULL;
        Py_ssize_t body_len = 0;
        int python = 0;
        if (memchr(raw, '\0', (size_t)raw_len) != NULL) {
            Py_XDECREF(owned);
            status = BATCH_STOP;
            break;
        }
        if (raw_len >= PROLOG_LEN && (memcmp(raw, PROLOG_SQ, PROLOG_LEN) == 0 ||
                                      memcmp(raw, PROLOG_DQ, PROLOG_LEN) == 0)) {
            body = raw + PROLOG_LEN;
            body_len = raw_len - PROLOG_LEN;
        } else {
            python = 1; /* another declaration, or none */
        }
        const unsigned char *root_end = NULL;
        PyObject *end_tag = NULL;
        if (!python) {
            root_end = memchr(body, '>', (size_t)body_len);
            if (root_end == NULL) {
                python = 1;
            }
        }
        if (!python) {
            Py_ssize_t tag_len = root_end - body + 1;
            if (last_tag != NULL && PyBytes_GET_SIZE(last_tag) == tag_len &&
                memcmp(PyBytes_AS_STRING(last_tag), body, (size_t)tag_len) == 0) {
                end_tag = last_end;
            } else {
                PyObject *tag = PyBytes_FromStringAndSize((const char *)body, tag_len);
                if (tag == NULL) {
                    Py_XDECREF(owned);
                    goto fail;
                }
                PyObject *found = PyDict_GetItemWithError(root_tags, tag);
                if (found == NULL && PyErr_Occurred()) {
                    Py_DECREF(tag);
                    Py_XDECREF(owned);
                    goto fail;
                }
                if (found != NULL && PyBytes_Check(found)) {
                    Py_XSETREF(last_tag, tag);
                    Py_INCREF(found);
                    Py_XSETREF(last_end, found);
                    end_tag = found;
                } else {
                    Py_DECREF(tag);
                    python = 1; /* a root tag not checked yet */
                }
            }
        }
        if (!python) {
            Py_ssize_t e = body_len;
            while (e > 0 && is_py_space(body[e - 1])) {
                e--;
            }
            Py_ssize_t end_len = PyBytes_GET_SIZE(end_tag);
            if (e < end_len || memcmp(body + e - end_len, PyBytes_AS_STRING(end_tag),
                                      (size_t)end_len) != 0) {
                Py_XDECREF(owned);
                status = BATCH_STOP; /* not closed at its end: expat's to call corrupt */
                break;
            }
            if (body_len > 3 * max_depth && count_tags(body, body_len, max_depth) > max_depth) {
                Py_XDECREF(owned);
                status = BATCH_STOP; /* possibly nested past the cap: expat's */
                break;
            }
            if (has_xmlns(root_end, body + body_len - root_end)) {
                python = 1; /* declarations past the root tag */
            }
        }
        if (python) {
            PyObject *got = PyObject_CallFunction(body_fn, "On", owned, max_depth);
            Py_DECREF(owned);
            owned = NULL;
            if (got == NULL) {
                goto fail;
            }
            if (got == Py_None) {
                Py_DECREF(got);
                status = BATCH_STOP; /* slide_body bails: expat reads the part */
                break;
            }
            if (!PyBytes_Check(got)) {
                Py_DECREF(got);
                PyErr_SetString(PyExc_TypeError, "slide_batch: body must return bytes");
                goto fail;
            }
            body = (const unsigned char *)PyBytes_AS_STRING(got);
            body_len = PyBytes_GET_SIZE(got);
            int added = batch_add(&b, body, body_len, got);
            Py_DECREF(got);
            if (added < 0) {
                goto fail;
            }
        } else {
            int added = batch_add(&b, body, body_len, owned);
            Py_DECREF(owned);
            if (added < 0) {
                goto fail;
            }
        }
        batched += body_len;
        if (batched >= block) {
            k++;
            break;
        }
    }

    if (status != BATCH_ERROR && b.count > 0) {
        text = batch_text(b.ptr, b.len, b.count);
        if (text == NULL) {
            goto fail;
        }
    } else {
        text = Py_NewRef(Py_None);
    }
    if (text == Py_None && b.count > 0) {
        /* the parts go one by one (or, after a zip error, back to Python's reader) */
        bodies = PyList_New(b.count);
        if (bodies == NULL) {
            goto fail;
        }
        for (Py_ssize_t j = 0; j < b.count; j++) {
            PyObject *item = PyBytes_FromStringAndSize((const char *)b.ptr[j], b.len[j]);
            if (item == NULL) {
                goto fail;
            }
            PyList_SET_ITEM(bodies, j, item);
        }
    } else {
        bodies = Py_NewRef(Py_None);
    }
    result = Py_BuildValue("(inNN)", status, k, text, bodies);
    text = NULL;
    bodies = NULL;
fail:
    Py_XDECREF(text);
    Py_XDECREF(bodies);
    Py_XDECREF(last_tag);
    Py_XDECREF(last_end);
    Py_DECREF(decompressobj);
    Py_DECREF(crc32);
    PyMem_Free(b.ptr);
    PyMem_Free(b.len);
    Py_XDECREF(b.keep);
    return result;
}

static PyMethodDef methods[] = {
    {"slides_text", slides_text, METH_O, slides_text_doc},
    {"slide_batch", (PyCFunction)(void (*)(void))slide_batch, METH_FASTCALL,
     slide_batch_doc},
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
