/* Compiled versions of the DLP matcher's per-value checks (stage 2): Shannon entropy, the
 * placeholder and published-test-value tests, the random-token, hex-key, mixed-token and UUID
 * validators, Keccak-256 and the EIP-55 address checksum, and the "secret" mask.
 *
 * Each function gives exactly the verdict of the pure-Python function of the same name in
 * detectors/dlp (placeholders.py, validators.py, checks.py, masking.py), which stays the
 * reference and the fallback where this module is not built. Values are read as code points
 * (any str, lone surrogates included); str.lower() is the only Python method called, and only
 * for a value that is not ASCII. The published test values and the placeholder words come
 * from placeholders.py through configure(). Nothing here keeps or reports a value.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define STACK_CHARS 160
#define MARGIN 1e-9

/* ---------------------------------------------------------------------------------------- */
/* Configuration from placeholders.py                                                       */
/* ---------------------------------------------------------------------------------------- */

typedef struct {
    char *text;
    Py_ssize_t len;
} Lit;

static Lit *test_values = NULL;
static Py_ssize_t n_test_values = 0;
static Lit *words = NULL;
static Py_ssize_t n_words = 0;
/* the words by their first two (lowered ASCII) bytes: a position whose pair starts no word is
 * passed over with one lookup; words of one character are looked for on their own */
static uint8_t word_pairs[65536 / 8];
static Py_ssize_t longest_test_value = -1;
static Lit *weak_passwords = NULL;
static Py_ssize_t n_weak_passwords = -1;

static void
free_lits(Lit *lits, Py_ssize_t n)
{
    if (lits == NULL)
        return;
    for (Py_ssize_t i = 0; i < n; i++)
        PyMem_Free(lits[i].text);
    PyMem_Free(lits);
}

/* An iterable of ASCII str -> an array of byte strings. */
static int
load_lits(PyObject *iterable, Lit **out, Py_ssize_t *count)
{
    PyObject *seq = PySequence_Fast(iterable, "expected an iterable of str");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Lit *lits = PyMem_Calloc(n ? (size_t)n : 1, sizeof(Lit));
    if (lits == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(item) || !PyUnicode_IS_ASCII(item)) {
            PyErr_SetString(PyExc_ValueError, "expected ASCII str items");
            free_lits(lits, i);
            Py_DECREF(seq);
            return -1;
        }
        Py_ssize_t len = PyUnicode_GET_LENGTH(item);
        lits[i].text = PyMem_Malloc((size_t)len + 1);
        if (lits[i].text == NULL) {
            free_lits(lits, i);
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
        memcpy(lits[i].text, PyUnicode_1BYTE_DATA(item), (size_t)len);
        lits[i].text[len] = 0;
        lits[i].len = len;
    }
    Py_DECREF(seq);
    *out = lits;
    *count = n;
    return 0;
}

static PyObject *
configure(PyObject *self, PyObject *args)
{
    PyObject *values, *word_list;
    Py_ssize_t longest;
    if (!PyArg_ParseTuple(args, "OOn:configure", &values, &word_list, &longest))
        return NULL;
    Lit *v = NULL, *w = NULL;
    Py_ssize_t nv = 0, nw = 0;
    if (load_lits(values, &v, &nv) < 0)
        return NULL;
    if (load_lits(word_list, &w, &nw) < 0) {
        free_lits(v, nv);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nw; i++) {
        if (w[i].len == 0) {
            free_lits(v, nv);
            free_lits(w, nw);
            PyErr_SetString(PyExc_ValueError, "empty placeholder word");
            return NULL;
        }
    }
    free_lits(test_values, n_test_values);
    free_lits(words, n_words);
    memset(word_pairs, 0, sizeof(word_pairs));
    for (Py_ssize_t i = 0; i < nw; i++) {
        if (w[i].len >= 2) {
            unsigned key = (unsigned char)w[i].text[0] << 8 | (unsigned char)w[i].text[1];
            word_pairs[key >> 3] |= (uint8_t)(1u << (key & 7));
        }
    }
    test_values = v;
    n_test_values = nv;
    words = w;
    n_words = nw;
    longest_test_value = longest;
    Py_RETURN_NONE;
}

static PyObject *
configure_weak_passwords(PyObject *self, PyObject *arg)
{
    Lit *w = NULL;
    Py_ssize_t nw = 0;
    if (load_lits(arg, &w, &nw) < 0)
        return NULL;
    free_lits(weak_passwords, n_weak_passwords < 0 ? 0 : n_weak_passwords);
    weak_passwords = w;
    n_weak_passwords = nw;
    Py_RETURN_NONE;
}

static int
check_configured(void)
{
    if (longest_test_value < 0) {
        PyErr_SetString(PyExc_RuntimeError, "_native_checks.configure() was not called");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* A value as an array of code points                                                       */
/* ---------------------------------------------------------------------------------------- */

typedef struct {
    Py_UCS4 *s;
    Py_ssize_t n;
    int ascii;
    Py_UCS4 stack[STACK_CHARS];
} UBuf;

static int
ubuf_alloc(UBuf *b, Py_ssize_t n)
{
    b->n = n;
    if (n <= STACK_CHARS) {
        b->s = b->stack;
        return 0;
    }
    b->s = PyMem_Malloc((size_t)n * sizeof(Py_UCS4));
    if (b->s == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
ubuf_free(UBuf *b)
{
    if (b->s != NULL && b->s != b->stack)
        PyMem_Free(b->s);
    b->s = NULL;
}

static int
ubuf_from_str(UBuf *b, PyObject *str)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(str);
    if (ubuf_alloc(b, n) < 0)
        return -1;
    int kind = PyUnicode_KIND(str);
    const void *data = PyUnicode_DATA(str);
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *p = data;
        for (Py_ssize_t i = 0; i < n; i++)
            b->s[i] = p[i];
    } else {
        for (Py_ssize_t i = 0; i < n; i++)
            b->s[i] = PyUnicode_READ(kind, data, i);
    }
    b->ascii = PyUnicode_IS_ASCII(str);
    return 0;
}

static int
all_ascii(const Py_UCS4 *s, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        if (s[i] > 127)
            return 0;
    return 1;
}

/* str.lower() of a code-point array, into `out` (allocated here). ASCII is lowered in place
 * of Python's call (the same result); anything else goes through str.lower() itself. */
static int
ubuf_lower(UBuf *out, const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    if (ascii) {
        if (ubuf_alloc(out, n) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS4 c = s[i];
            out->s[i] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        }
        out->ascii = 1;
        return 0;
    }
    PyObject *str = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, s, n);
    if (str == NULL)
        return -1;
    PyObject *low = PyObject_CallMethod(str, "lower", NULL);
    Py_DECREF(str);
    if (low == NULL)
        return -1;
    int rc = ubuf_from_str(out, low);
    Py_DECREF(low);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Shannon entropy                                                                          */
/* ---------------------------------------------------------------------------------------- */

/* Counts of each distinct code point in order of first occurrence (the order in which the
 * Python version sums its terms). `counts` holds n entries; returns the distinct count, or
 * -1 with an exception set. */
static Py_ssize_t
tally(const Py_UCS4 *s, Py_ssize_t n, Py_ssize_t *counts)
{
    Py_UCS4 top = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (s[i] > top)
            top = s[i];
    Py_ssize_t d = 0;
    if (top < 256) {
        uint16_t slot[256]; /* 1 + index into counts; 0: not seen yet */
        memset(slot, 0, sizeof(slot));
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS4 c = s[i];
            if (slot[c] == 0) {
                counts[d++] = 0;
                slot[c] = (uint16_t)d;
            }
            counts[slot[c] - 1]++;
        }
        return d;
    }
    /* open addressing: code point -> index into counts */
    size_t cap = 16;
    while (cap < (size_t)n * 2)
        cap <<= 1;
    Py_UCS4 *keys = PyMem_Malloc(cap * sizeof(Py_UCS4));
    Py_ssize_t *idx = PyMem_Malloc(cap * sizeof(Py_ssize_t));
    if (keys == NULL || idx == NULL) {
        PyMem_Free(keys);
        PyMem_Free(idx);
        PyErr_NoMemory();
        return -1;
    }
    for (size_t j = 0; j < cap; j++)
        idx[j] = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = s[i];
        size_t h = ((size_t)c * 2654435761u) & (cap - 1);
        while (idx[h] >= 0 && keys[h] != c)
            h = (h + 1) & (cap - 1);
        if (idx[h] < 0) {
            keys[h] = c;
            idx[h] = d;
            counts[d++] = 0;
        }
        counts[idx[h]]++;
    }
    PyMem_Free(keys);
    PyMem_Free(idx);
    return d;
}

/* Per-length tables for the lengths most values have (as the Python version keeps them): the
 * terms c/n * log2(c/n) for c in 0..n, and the least entropy of n characters of which d are
 * distinct, each computed once by the same expression as without the table. */
#define TABLE_MAX_N 256

typedef struct {
    double *plogp; /* n + 1 terms */
    double *least; /* n + 1 bounds; index 0 unused */
} LengthTable;

static LengthTable length_tables[TABLE_MAX_N + 1];

static double
least_entropy(Py_ssize_t n, Py_ssize_t d)
{
    double top = (double)(n - d + 1) / (double)n;
    return -(top * log2(top)) + (double)(d - 1) / (double)n * log2((double)n);
}

static double
plogp_term(Py_ssize_t c, Py_ssize_t n)
{
    double p = (double)c / (double)n;
    return p * log2(p);
}

/* the table of length n (1..TABLE_MAX_N), or NULL when out of memory (then computed) */
static const LengthTable *
length_table(Py_ssize_t n)
{
    LengthTable *t = &length_tables[n];
    if (t->plogp == NULL) {
        double *mem = PyMem_Malloc(2 * ((size_t)n + 1) * sizeof(double));
        if (mem == NULL)
            return NULL;
        mem[0] = 0.0;
        for (Py_ssize_t c = 1; c <= n; c++)
            mem[c] = plogp_term(c, n);
        double *least = mem + n + 1;
        least[0] = 0.0;
        for (Py_ssize_t d = 1; d <= n; d++)
            least[d] = least_entropy(n, d);
        t->least = least;
        t->plogp = mem;
    }
    return t;
}

/* -sum(c/n * log2(c/n)) summed as Python's sum() of floats sums (plain addition before
 * 3.12, Neumaier's compensated sum from 3.12 on), in the same order. */
static double
entropy_of_counts(const Py_ssize_t *counts, Py_ssize_t d, Py_ssize_t n)
{
    const LengthTable *table = n <= TABLE_MAX_N ? length_table(n) : NULL;
    double total = 0.0;
#if PY_VERSION_HEX >= 0x030C0000
    double comp = 0.0;
    for (Py_ssize_t i = 0; i < d; i++) {
        double x = table ? table->plogp[counts[i]] : plogp_term(counts[i], n);
        if (i == 0) {
            total = 0.0 + x;
            continue;
        }
        double t = total + x;
        if (fabs(total) >= fabs(x))
            comp += (total - t) + x;
        else
            comp += (x - t) + total;
        total = t;
    }
    if (comp != 0.0 && isfinite(comp))
        total += comp;
#else
    for (Py_ssize_t i = 0; i < d; i++)
        total += table ? table->plogp[counts[i]] : plogp_term(counts[i], n);
#endif
    return -total;
}

/* shannon_entropy of a code-point array; -1.0 with an exception set on failure. */
static double
entropy_u(const Py_UCS4 *s, Py_ssize_t n)
{
    if (n == 0)
        return 0.0;
    Py_ssize_t stack_counts[STACK_CHARS];
    Py_ssize_t *counts = stack_counts;
    if (n > STACK_CHARS) {
        counts = PyMem_Malloc((size_t)n * sizeof(Py_ssize_t));
        if (counts == NULL) {
            PyErr_NoMemory();
            return -1.0;
        }
    }
    Py_ssize_t d = tally(s, n, counts);
    double h = d < 0 ? -1.0 : entropy_of_counts(counts, d, n);
    if (counts != stack_counts)
        PyMem_Free(counts);
    return h;
}

static double log2_table[TABLE_MAX_N + 1];

/* log2(d) for a count d >= 1 */
static double
log2_of(Py_ssize_t d)
{
    if (d > TABLE_MAX_N)
        return log2((double)d);
    if (log2_table[d] == 0.0 && d > 1)
        log2_table[d] = log2((double)d);
    return log2_table[d];
}

/* entropy_at_least: 1, 0, or -1 with an exception set. The same bounds as the Python
 * version (log2 of the distinct count above, the least spread below), then the exact sum. */
static int
entropy_at_least_u(const Py_UCS4 *s, Py_ssize_t n, double bits)
{
    if (n == 0)
        return bits <= 0.0;
    Py_ssize_t stack_counts[STACK_CHARS];
    Py_ssize_t *counts = stack_counts;
    if (n > STACK_CHARS) {
        counts = PyMem_Malloc((size_t)n * sizeof(Py_ssize_t));
        if (counts == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    int r;
    Py_ssize_t d = tally(s, n, counts);
    if (d < 0) {
        r = -1;
    } else if (log2_of(d) < bits - MARGIN) {
        r = 0;
    } else {
        const LengthTable *table = n <= TABLE_MAX_N ? length_table(n) : NULL;
        double least = table ? table->least[d] : least_entropy(n, d);
        r = least >= bits + MARGIN ? 1 : entropy_of_counts(counts, d, n) >= bits;
    }
    if (counts != stack_counts)
        PyMem_Free(counts);
    return r;
}

/* ---------------------------------------------------------------------------------------- */
/* Published test values and placeholders                                                   */
/* ---------------------------------------------------------------------------------------- */

static int
equals_lit(const Py_UCS4 *s, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n_test_values; k++) {
        const Lit *lit = &test_values[k];
        if (lit->len != n)
            continue;
        Py_ssize_t i = 0;
        while (i < n && s[i] == (Py_UCS4)(unsigned char)lit->text[i])
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

static int
is_test_value_u(const Py_UCS4 *s, Py_ssize_t n)
{
    if (n > longest_test_value)
        return 0;
    if (equals_lit(s, n))
        return 1;
    Py_UCS4 compact[STACK_CHARS];
    Py_ssize_t m = 0;
    int sep = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = s[i];
        if (c == ' ' || c == '-' || c == '.')
            sep = 1;
        else if (m < STACK_CHARS)
            compact[m++] = c;
        else
            return 0; /* longer than any published value */
    }
    return sep && equals_lit(compact, m);
}

static int
contains_word(const Py_UCS4 *s, Py_ssize_t n, const Lit *w)
{
    Py_ssize_t k = w->len;
    Py_UCS4 first = (unsigned char)w->text[0];
    for (Py_ssize_t i = 0; i + k <= n; i++) {
        if (s[i] != first)
            continue;
        Py_ssize_t j = 1;
        while (j < k && s[i + j] == (Py_UCS4)(unsigned char)w->text[j])
            j++;
        if (j == k)
            return 1;
    }
    return 0;
}

static inline unsigned char
ascii_lower(Py_UCS4 c)
{
    return (unsigned char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
}

/* Any placeholder word in the lower case of an ASCII value (str.lower() of ASCII is this). */
static int
ascii_has_word(const Py_UCS4 *s, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n_words; k++) /* words of one character, if any */
        if (words[k].len == 1)
            for (Py_ssize_t i = 0; i < n; i++)
                if (ascii_lower(s[i]) == (unsigned char)words[k].text[0])
                    return 1;
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        unsigned key = (unsigned)ascii_lower(s[i]) << 8 | ascii_lower(s[i + 1]);
        if (!(word_pairs[key >> 3] & (1u << (key & 7))))
            continue;
        for (Py_ssize_t k = 0; k < n_words; k++) {
            const Lit *w = &words[k];
            if (w->len < 2 || w->len > n - i)
                continue;
            Py_ssize_t j = 0;
            while (j < w->len && ascii_lower(s[i + j]) == (unsigned char)w->text[j])
                j++;
            if (j == w->len)
                return 1;
        }
    }
    return 0;
}

/* \w of Python's re on str patterns */
static int
is_word(Py_UCS4 c)
{
    return c == '_' || Py_UNICODE_ISALNUM(c);
}

/* _TEMPLATE_RE.search(value) is not None:
 *   \$\{[^}]*\} | \{\{[^}]*\}\} | <[^>]*> | %\(\w+\)[sd] | \$[A-Z_]{3,}  */
static int
template_u(const Py_UCS4 *s, Py_ssize_t n)
{
    Py_ssize_t last_close = -1, last_gt = -1, first_lt = -1, first_dollar_brace = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = s[i];
        if (c == '}')
            last_close = i;
        else if (c == '>')
            last_gt = i;
        else if (c == '<' && first_lt < 0)
            first_lt = i;
        else if (c == '$' && first_dollar_brace < 0 && i + 1 < n && s[i + 1] == '{')
            first_dollar_brace = i;
    }
    /* ${ ... }: a "}" anywhere after the first "${" */
    if (first_dollar_brace >= 0 && last_close > first_dollar_brace + 1)
        return 1;
    /* < ... >: a ">" anywhere after the first "<" */
    if (first_lt >= 0 && last_gt > first_lt)
        return 1;
    /* {{ ... }}: the first "}" after a "{{" is followed by another */
    Py_ssize_t close = -1; /* the first "}" at or after the position looked for */
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        if (s[i] != '{' || s[i + 1] != '{')
            continue;
        if (close < i + 2) {
            close = i + 2;
            while (close < n && s[close] != '}')
                close++;
        }
        if (close >= n)
            break;
        if (close + 1 < n && s[close + 1] == '}')
            return 1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = s[i];
        if (c == '%' && i + 1 < n && s[i + 1] == '(') {
            /* %(name)s or %(name)d */
            Py_ssize_t j = i + 2;
            while (j < n && is_word(s[j]))
                j++;
            if (j > i + 2 && j + 1 < n && s[j] == ')' && (s[j + 1] == 's' || s[j + 1] == 'd'))
                return 1;
        } else if (c == '$') {
            /* $NAME: three or more of A-Z and _ */
            Py_ssize_t j = i + 1;
            while (j < n && j < i + 4 && ((s[j] >= 'A' && s[j] <= 'Z') || s[j] == '_'))
                j++;
            if (j == i + 4)
                return 1;
        }
    }
    return 0;
}

/* is_placeholder: 1, 0, or -1 with an exception set. */
static int
is_placeholder_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    if (n == 0)
        return 1;
    if (is_test_value_u(s, n))
        return 0;
    if (ascii) {
        if (ascii_has_word(s, n))
            return 1;
    } else {
        UBuf low;
        if (ubuf_lower(&low, s, n, ascii) < 0)
            return -1;
        int hit = 0;
        for (Py_ssize_t k = 0; k < n_words && !hit; k++)
            hit = contains_word(low.s, low.n, &words[k]);
        ubuf_free(&low);
        if (hit)
            return 1;
    }
    /* (.)\1{7}: one character other than a newline eight times in a row */
    Py_ssize_t run = 1;
    for (Py_ssize_t i = 1; i < n; i++) {
        if (s[i] == s[i - 1] && s[i] != '\n') {
            if (++run >= 8)
                return 1;
        } else {
            run = 1;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = s[i];
        if (c == '$' || c == '{' || c == '<' || c == '%')
            return template_u(s, n);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Validators                                                                               */
/* ---------------------------------------------------------------------------------------- */

/* Character classes of str.isdigit / isalpha / isupper / islower. */
enum char_class { CLASS_DIGIT, CLASS_ALPHA, CLASS_ALNUM, CLASS_UPPER, CLASS_LOWER };

static int
in_class(Py_UCS4 c, enum char_class kind)
{
    switch (kind) {
    case CLASS_DIGIT:
        return Py_UNICODE_ISDIGIT(c);
    case CLASS_ALPHA:
        return Py_UNICODE_ISALPHA(c);
    case CLASS_ALNUM:
        return Py_UNICODE_ISALNUM(c);
    case CLASS_UPPER:
        return Py_UNICODE_ISUPPER(c);
    default:
        return Py_UNICODE_ISLOWER(c);
    }
}

/* Whether any character of s[0:n] is of the class. */
static int
any_of_class(const Py_UCS4 *s, Py_ssize_t n, enum char_class kind)
{
    for (Py_ssize_t i = 0; i < n; i++)
        if (in_class(s[i], kind))
            return 1;
    return 0;
}

/* The one separator of s[0:n]: every character outside the class, if any, is the same one.
 * Returns 1 and sets *sep when there is one, 0 when there is none, -1 when two differ. */
static int
single_separator(const Py_UCS4 *s, Py_ssize_t n, enum char_class kind, Py_UCS4 *sep)
{
    int have = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (in_class(s[i], kind))
            continue;
        if (!have) {
            *sep = s[i];
            have = 1;
        } else if (s[i] != *sep) {
            return -1;
        }
    }
    return have;
}

/* random_token_ok */
static int
random_token_u(const Py_UCS4 *s, Py_ssize_t n, int ascii, Py_ssize_t min_len, double bits)
{
    if (n < min_len)
        return 0;
    int r = is_placeholder_u(s, n, ascii);
    if (r != 0)
        return r < 0 ? -1 : 0;
    return entropy_at_least_u(s, n, bits);
}

/* hex_key_ok on an already lowered value */
static int
hex_key_lowered_u(const Py_UCS4 *v, Py_ssize_t n, int ascii)
{
    int r = is_placeholder_u(v, n, ascii);
    if (r != 0)
        return r < 0 ? -1 : 0;
    if (!any_of_class(v, n, CLASS_DIGIT) || !any_of_class(v, n, CLASS_ALPHA))
        return 0;
    return entropy_at_least_u(v, n, n >= 32 ? 3.0 : 2.6);
}

static int
hex_key_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    UBuf v;
    if (ubuf_lower(&v, s, n, ascii) < 0)
        return -1;
    int r = hex_key_lowered_u(v.s, v.n, v.ascii);
    ubuf_free(&v);
    return r;
}

/* mixed_token_ok */
static int
mixed_token_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    int r = is_placeholder_u(s, n, ascii);
    if (r != 0)
        return r < 0 ? -1 : 0;
    if (!any_of_class(s, n, CLASS_DIGIT) || !any_of_class(s, n, CLASS_UPPER)
        || !any_of_class(s, n, CLASS_LOWER))
        return 0;
    return entropy_at_least_u(s, n, n < 24 ? 3.0 : 3.5);
}

/* uuid_key_ok */
static int
uuid_key_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    UBuf v;
    if (ubuf_lower(&v, s, n, ascii) < 0)
        return -1;
    int r = 0;
    if (v.n == 36) {
        Py_ssize_t dashes = 0;
        for (Py_ssize_t i = 0; i < 36; i++)
            dashes += v.s[i] == '-';
        Py_UCS4 ver = v.s[14], var = v.s[19];
        if (dashes == 4 && ver >= '1' && ver <= '8' &&
            (var == '8' || var == '9' || var == 'a' || var == 'b')) {
            Py_UCS4 body[36];
            Py_ssize_t m = 0;
            for (Py_ssize_t i = 0; i < 36; i++)
                if (v.s[i] != '-')
                    body[m++] = v.s[i];
            /* hex_key_ok lowers again: a no-op on a lowered value, but for the Unicode
             * characters whose lower case is not its own lower case */
            r = hex_key_u(body, m, all_ascii(body, m));
        }
    }
    ubuf_free(&v);
    return r;
}

/* ---------------------------------------------------------------------------------------- */
/* Keccak-256 and EIP-55                                                                    */
/* ---------------------------------------------------------------------------------------- */

static const uint64_t keccak_rc[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808AULL, 0x8000000080008000ULL,
    0x000000000000808BULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008AULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000AULL,
    0x000000008000808BULL, 0x800000000000008BULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800AULL, 0x800000008000000AULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* rotation of lane x + 5y, and where rho-pi moves it */
static const int keccak_rot[25] = {
    0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14,
};

static inline uint64_t
rotl64(uint64_t v, int k)
{
    return k == 0 ? v : (v << k) | (v >> (64 - k));
}

static void
keccak_f(uint64_t a[25])
{
    uint64_t b[25], c[5], d[5];
    for (int round = 0; round < 24; round++) {
        for (int x = 0; x < 5; x++)
            c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
        for (int x = 0; x < 5; x++)
            d[x] = c[(x + 4) % 5] ^ rotl64(c[(x + 1) % 5], 1);
        for (int x = 0; x < 5; x++)
            for (int y = 0; y < 5; y++) {
                /* pi: (x, y) -> (y, 2x + 3y) */
                int to = y + 5 * ((2 * x + 3 * y) % 5);
                b[to] = rotl64(a[x + 5 * y] ^ d[x], keccak_rot[x + 5 * y]);
            }
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 5; x++)
                a[x + 5 * y] =
                    b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]);
        a[0] ^= keccak_rc[round];
    }
}

/* Keccak-256 with the original padding (0x01 ... 0x80), as Ethereum uses it */
static void
keccak256_bytes(const unsigned char *data, Py_ssize_t len, unsigned char out[32])
{
    enum { RATE = 136 };
    uint64_t a[25];
    memset(a, 0, sizeof(a));
    unsigned char block[RATE];
    Py_ssize_t off = 0;
    int last = 0;
    while (!last) {
        Py_ssize_t take = len - off;
        if (take >= RATE) {
            memcpy(block, data + off, RATE);
            off += RATE;
        } else {
            memset(block, 0, RATE);
            memcpy(block, data + off, (size_t)take);
            block[take] ^= 0x01;
            block[RATE - 1] ^= 0x80;
            last = 1;
        }
        for (int i = 0; i < RATE / 8; i++) {
            uint64_t lane = 0;
            for (int k = 7; k >= 0; k--)
                lane = (lane << 8) | block[8 * i + k];
            a[i] ^= lane;
        }
        keccak_f(a);
    }
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 8; k++)
            out[8 * i + k] = (unsigned char)(a[i] >> (8 * k));
}

static int
hex_value(Py_UCS4 c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (int)(c - 'A' + 10);
    return -1;
}

/* ethereum_address_ok */
static int
ethereum_u(const Py_UCS4 *s, Py_ssize_t n)
{
    if (n != 42) /* value[2:] must be 40 characters */
        return 0;
    const Py_UCS4 *body = s + 2;
    int has_lower = 0, has_upper = 0;
    for (int i = 0; i < 40; i++) {
        Py_UCS4 c = body[i];
        if (hex_value(c) < 0)
            return 0;
        has_lower |= c >= 'a' && c <= 'f';
        has_upper |= c >= 'A' && c <= 'F';
    }
    if (!has_lower || !has_upper) /* body equals its lower or upper case: no checksum */
        return hex_key_u(body, 40, 1);
    unsigned char low[40], digest[32];
    for (int i = 0; i < 40; i++) {
        Py_UCS4 c = body[i];
        low[i] = (unsigned char)((c >= 'A' && c <= 'F') ? c + 32 : c);
    }
    keccak256_bytes(low, 40, digest);
    for (int i = 0; i < 40; i++) {
        Py_UCS4 c = body[i];
        if (c <= '9')
            continue;
        int nibble = (i % 2 == 0) ? digest[i / 2] >> 4 : digest[i / 2] & 15;
        int upper = c >= 'A' && c <= 'F';
        if ((nibble >= 8) != upper)
            return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Payment cards                                                                            */
/* ---------------------------------------------------------------------------------------- */

/* the ASCII digits of a value (_NON_DIGITS removes everything else), at most `cap` of them;
 * returns how many there are in all */
static Py_ssize_t
ascii_digits(const Py_UCS4 *s, Py_ssize_t n, char *out, Py_ssize_t cap)
{
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (s[i] >= '0' && s[i] <= '9') {
            if (m < cap)
                out[m] = (char)s[i];
            m++;
        }
    return m;
}

static int
prefix_int(const char *d, int k)
{
    int v = 0;
    for (int i = 0; i < k; i++)
        v = v * 10 + (d[i] - '0');
    return v;
}

/* card_brand of a string of 12-19 ASCII digits (NULL: none fits) */
static const char *
brand_of_digits(const char *d, Py_ssize_t n)
{
    if (n < 12 || n > 19)
        return NULL;
    int p2 = prefix_int(d, 2), p3 = prefix_int(d, 3), p4 = prefix_int(d, 4);
    int p6 = prefix_int(d, 6);
    if (d[0] == '4' && (n == 13 || n == 16 || n == 19))
        return "visa";
    if (((51 <= p2 && p2 <= 55) || (2221 <= p4 && p4 <= 2720)) && n == 16)
        return "mastercard";
    if ((p2 == 34 || p2 == 37) && n == 15)
        return "amex";
    if (((300 <= p3 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39 || p4 == 3095) &&
        (n == 14 || n == 16))
        return "diners";
    if ((p4 == 6011 || (644 <= p3 && p3 <= 649) || p2 == 65 || (622126 <= p6 && p6 <= 622925)) &&
        (n == 16 || n == 19))
        return "discover";
    if (p2 == 62 && 16 <= n && n <= 19)
        return "unionpay";
    if (3528 <= p4 && p4 <= 3589 && 16 <= n && n <= 19)
        return "jcb";
    return NULL;
}

/* Luhn over ASCII digits (luhn_digits_ok) */
static int
luhn_digits(const char *d, Py_ssize_t n)
{
    static const int doubled[10] = {0, 2, 4, 6, 8, 1, 3, 5, 7, 9};
    int sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int c = d[n - 1 - i] - '0';
        sum += (i & 1) ? doubled[c] : c;
    }
    return sum % 10 == 0;
}

/* validators._CARD_GROUPINGS */
static const int card_groupings[][6] = {
    /* count, lengths */
    {4, 4, 4, 4, 4}, {5, 4, 4, 4, 4, 3}, {4, 4, 4, 4, 1}, {3, 4, 6, 5}, {3, 4, 6, 4},
    {4, 4, 4, 4, 3}, {4, 4, 4, 4, 2},    {5, 4, 4, 4, 4, 2}, {5, 4, 4, 4, 4, 1}, {2, 6, 13},
};

/* card_format_ok: no separator, or one (a character that is not a digit to str.isdigit) that
 * splits the value into a printed grouping */
static int
card_format(const Py_UCS4 *s, Py_ssize_t n)
{
    Py_UCS4 sep = 0;
    int have = single_separator(s, n, CLASS_DIGIT, &sep);
    if (have <= 0)
        return have == 0;
    Py_ssize_t groups[6];
    int count = 0;
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i <= n; i++) {
        if (i == n || s[i] == sep) {
            if (count == 5)
                return 0; /* more groups than any grouping has */
            groups[count++] = i - start;
            start = i + 1;
        }
    }
    size_t rows = sizeof(card_groupings) / sizeof(card_groupings[0]);
    for (size_t r = 0; r < rows; r++) {
        if (card_groupings[r][0] != count)
            continue;
        int k = 0;
        while (k < count && groups[k] == card_groupings[r][k + 1])
            k++;
        if (k == count)
            return 1;
    }
    return 0;
}

/* _card_verdict: the brand of a value that passes card_ok for that brand, else NULL */
static const char *
card_verdict_u(const Py_UCS4 *s, Py_ssize_t n)
{
    char d[20];
    Py_ssize_t m = ascii_digits(s, n, d, 20);
    const char *brand = brand_of_digits(d, m); /* NULL unless 12-19 digits */
    if (brand == NULL || !card_format(s, n) || !luhn_digits(d, m))
        return NULL;
    int seen[10] = {0}, distinct = 0;
    for (Py_ssize_t i = 0; i < m; i++)
        if (!seen[d[i] - '0']++)
            distinct++;
    return distinct > 2 ? brand : NULL;
}

/* luhn_ok: two or more ASCII digits that pass Luhn */
static int
luhn_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    char stack_digits[STACK_CHARS];
    char *d = stack_digits;
    Py_ssize_t m = ascii_digits(s, n, d, STACK_CHARS);
    if (m > STACK_CHARS) {
        d = PyMem_Malloc((size_t)m);
        if (d == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        ascii_digits(s, n, d, m);
    }
    int r = m >= 2 && luhn_digits(d, m);
    if (d != stack_digits)
        PyMem_Free(d);
    return r;
}

/* ---------------------------------------------------------------------------------------- */
/* Numbers printed in groups (SSN, ITIN, SIN, NHS, ABA, NANP phone)                         */
/* ---------------------------------------------------------------------------------------- */

/* _consistent_separators: no character that str.isalnum refuses, or exactly one such
 * character that splits the value into groups of the given lengths */
static int
consistent_separators(const Py_UCS4 *s, Py_ssize_t n, const int *groups, int count)
{
    Py_UCS4 sep = 0;
    int have = single_separator(s, n, CLASS_ALNUM, &sep);
    if (have <= 0)
        return have == 0;
    int k = 0;
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i <= n; i++) {
        if (i == n || s[i] == sep) {
            if (k == count || i - start != groups[k])
                return 0;
            k++;
            start = i + 1;
        }
    }
    return k == count;
}

/* str.isdigit() of the whole value (False when empty) */
static int
all_digits(const Py_UCS4 *s, Py_ssize_t n)
{
    if (n == 0)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (!Py_UNICODE_ISDIGIT(s[i]))
            return 0;
    return 1;
}

static int
distinct_digits(const char *d, Py_ssize_t m)
{
    int seen[10] = {0}, distinct = 0;
    for (Py_ssize_t i = 0; i < m; i++)
        if (!seen[d[i] - '0']++)
            distinct++;
    return distinct;
}

static const int groups_329[3] = {3, 2, 4}, groups_333[3] = {3, 3, 3},
                 groups_334[3] = {3, 3, 4}, groups_441[3] = {4, 4, 1};

/* us_ssn_ok */
static int
us_ssn_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    if (!consistent_separators(s, n, groups_329, 3) || all_digits(s, n))
        return 0;
    char d[16];
    if (ascii_digits(s, n, d, 16) != 9 || distinct_digits(d, 9) == 1)
        return 0;
    int area = prefix_int(d, 3), group = prefix_int(d + 3, 2), serial = prefix_int(d + 5, 4);
    return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

/* us_itin_ok */
static int
us_itin_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    if (!consistent_separators(s, n, groups_329, 3) || all_digits(s, n))
        return 0;
    char d[16];
    if (ascii_digits(s, n, d, 16) != 9 || d[0] != '9' || prefix_int(d + 5, 4) == 0)
        return 0;
    int g = prefix_int(d + 3, 2);
    return (50 <= g && g <= 65) || (70 <= g && g <= 88) || (90 <= g && g <= 92) ||
           (94 <= g && g <= 99);
}

/* ca_sin_ok */
static int
ca_sin_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    if (!consistent_separators(s, n, groups_333, 3))
        return 0;
    char d[16];
    return ascii_digits(s, n, d, 16) == 9 && d[0] != '0' && d[0] != '8' &&
           distinct_digits(d, 9) > 1 && luhn_digits(d, 9);
}

/* uk_nhs_ok */
static int
uk_nhs_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    if (!consistent_separators(s, n, groups_334, 3))
        return 0;
    char d[16];
    if (ascii_digits(s, n, d, 16) != 10 || distinct_digits(d, 10) == 1)
        return 0;
    int total = 0;
    for (int i = 0; i < 9; i++)
        total += (d[i] - '0') * (10 - i);
    int check = 11 - total % 11;
    if (check == 11)
        check = 0;
    return check != 10 && check == d[9] - '0';
}

/* aba_routing_ok */
static int
aba_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    char d[16];
    if (ascii_digits(s, n, d, 16) != 9 || distinct_digits(d, 9) == 1)
        return 0;
    if (n != 9 && !consistent_separators(s, n, groups_441, 3))
        return 0;
    int prefix = prefix_int(d, 2);
    if (!(prefix <= 12 || (21 <= prefix && prefix <= 32) || (61 <= prefix && prefix <= 72) ||
          prefix == 80))
        return 0;
    static const int w[9] = {3, 7, 1, 3, 7, 1, 3, 7, 1};
    int total = 0;
    for (int i = 0; i < 9; i++)
        total += (d[i] - '0') * w[i];
    return total % 10 == 0;
}

/* us_phone_ok */
static int
us_phone_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    char all[16];
    Py_ssize_t m = ascii_digits(s, n, all, 16);
    const char *d = all;
    if (m == 11 && all[0] == '1') {
        d = all + 1;
        m = 10;
    }
    if (m != 10 || distinct_digits(d, 10) <= 2)
        return 0;
    const char *area = d, *exch = d + 3, *line = d + 6;
    if (area[0] == '0' || area[0] == '1' || exch[0] == '0' || exch[0] == '1' ||
        (area[1] == '1' && area[2] == '1') || (exch[1] == '1' && exch[2] == '1'))
        return 0;
    return !(exch[0] == '5' && exch[1] == '5' && exch[2] == '5' && line[0] == '0' &&
             line[1] == '1');
}

/* ---------------------------------------------------------------------------------------- */
/* Passwords and vendor-shaped tokens                                                       */
/* ---------------------------------------------------------------------------------------- */

static int
equals_any(const Py_UCS4 *s, Py_ssize_t n, const Lit *lits, Py_ssize_t count)
{
    for (Py_ssize_t k = 0; k < count; k++) {
        if (lits[k].len != n)
            continue;
        Py_ssize_t i = 0;
        while (i < n && s[i] == (Py_UCS4)(unsigned char)lits[k].text[i])
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

/* value.strip().strip("'\"") as a range [*lo, *hi) of the value */
static void
strip_quoted(const Py_UCS4 *s, Py_ssize_t *lo, Py_ssize_t *hi)
{
    Py_ssize_t a = *lo, b = *hi;
    while (a < b && Py_UNICODE_ISSPACE(s[a]))
        a++;
    while (b > a && Py_UNICODE_ISSPACE(s[b - 1]))
        b--;
    while (a < b && (s[a] == '\'' || s[a] == '"'))
        a++;
    while (b > a && (s[b - 1] == '\'' || s[b - 1] == '"'))
        b--;
    *lo = a;
    *hi = b;
}

static int
is_lower_ascii(Py_UCS4 c)
{
    return c >= 'a' && c <= 'z';
}

static int
is_upper_ascii(Py_UCS4 c)
{
    return c >= 'A' && c <= 'Z';
}

static int
starts_with(const Py_UCS4 *s, Py_ssize_t n, const char *lit)
{
    Py_ssize_t i = 0;
    for (; lit[i]; i++)
        if (i >= n || s[i] != (Py_UCS4)(unsigned char)lit[i])
            return 0;
    return 1;
}

/* vendor_shaped: 10+ characters matching _VENDOR_TOKEN at the start:
 *   [a-z]{2,8}(?:_[a-z]{2,6})?[_-] | [A-Z][A-Z0-9]{1,9}_ | eyJ|ATBB|ATATT|AKIA|ASIA|AIza
 *   | ya29\. | EAA | SG\.
 * The first branch matches exactly when the leading run of a-z is 2-8 long and followed by
 * "_" or "-" (the optional group may always be left out: its "_" serves as the last
 * character); the second when the run of A-Z0-9 after a capital is 1-9 long and followed
 * by "_" (neither run can stop early: a letter or digit is no separator). */
static int
vendor_shaped_u(const Py_UCS4 *s, Py_ssize_t n)
{
    if (n < 10)
        return 0;
    Py_ssize_t k = 0;
    while (k < n && is_lower_ascii(s[k]))
        k++;
    if (k >= 2 && k <= 8 && k < n && (s[k] == '_' || s[k] == '-'))
        return 1;
    if (is_upper_ascii(s[0])) {
        k = 1;
        while (k < n && (is_upper_ascii(s[k]) || (s[k] >= '0' && s[k] <= '9')))
            k++;
        if (k - 1 >= 1 && k - 1 <= 9 && k < n && s[k] == '_')
            return 1;
    }
    static const char *const literal[] = {"eyJ", "ATBB", "ATATT", "AKIA", "ASIA",
                                          "AIza", "ya29.", "EAA", "SG."};
    for (size_t i = 0; i < sizeof(literal) / sizeof(literal[0]); i++)
        if (starts_with(s, n, literal[i]))
            return 1;
    return 0;
}

/* password_ok */
static int
password_u(const Py_UCS4 *s, Py_ssize_t n)
{
    Py_ssize_t lo = 0, hi = n;
    strip_quoted(s, &lo, &hi);
    const Py_UCS4 *v = s + lo;
    Py_ssize_t m = hi - lo;
    if (m < 6 || m > 128)
        return 0;
    int ascii = all_ascii(v, m);
    int r = is_placeholder_u(v, m, ascii);
    if (r != 0)
        return r < 0 ? -1 : 0;
    UBuf low;
    if (ubuf_lower(&low, v, m, ascii) < 0)
        return -1;
    int weak = equals_any(low.s, low.n, weak_passwords, n_weak_passwords);
    ubuf_free(&low);
    if (weak)
        return 0;
    Py_UCS4 first = v[0], last = v[m - 1];
    if (first == '$' || first == '%' || first == '{' || first == '<' || first == '[' ||
        first == '(' || last == '}' || last == '>' || last == ')')
        return 0;
    int lower = 0, upper = 0, digit = 0, other = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        Py_UCS4 c = v[i];
        lower |= Py_UNICODE_ISLOWER(c) ? 1 : 0;
        upper |= Py_UNICODE_ISUPPER(c) ? 1 : 0;
        digit |= Py_UNICODE_ISDIGIT(c) ? 1 : 0;
        other |= Py_UNICODE_ISALNUM(c) ? 0 : 1;
    }
    if (lower + upper + digit + other < 2)
        return 0;
    return entropy_at_least_u(v, m, 2.5);
}

static int
password_check(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    return password_u(s, n);
}

/* password_value_ok */
static int
password_value_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    Py_ssize_t lo = 0, hi = n;
    strip_quoted(s, &lo, &hi);
    int r = password_u(s + lo, hi - lo);
    if (r <= 0)
        return r;
    return !vendor_shaped_u(s + lo, hi - lo);
}

/* url_password_ok: the part after the first ":" of what lies between the first "://" and
 * the last "@" */
static int
url_password_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i + 2 < n; i++)
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            start = i + 3;
            break;
        }
    Py_ssize_t end = n;
    for (Py_ssize_t i = n - 1; i >= start; i--)
        if (s[i] == '@') {
            end = i;
            break;
        }
    for (Py_ssize_t i = start; i < end; i++)
        if (s[i] == ':')
            return password_u(s + i + 1, end - i - 1);
    return 0;
}

/* bearer_token_ok */
static int
bearer_token_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    int r = mixed_token_u(s, n, ascii);
    if (r <= 0)
        return r;
    return !vendor_shaped_u(s, n);
}

/* ---------------------------------------------------------------------------------------- */
/* Bech32                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static const char bech32_chars[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static int
bech32_index(Py_UCS4 c)
{
    if (c > 127)
        return -1;
    const char *p = strchr(bech32_chars, (int)c);
    return (p == NULL || c == 0) ? -1 : (int)(p - bech32_chars);
}

/* checks._bech32_ok: the checksum of hrp "1" data (split at the last "1") is one of `consts` */
static int
bech32_u(const Py_UCS4 *s, Py_ssize_t n, const long *consts, int n_consts)
{
    Py_ssize_t sep = -1;
    for (Py_ssize_t i = n - 1; i >= 0; i--)
        if (s[i] == '1') {
            sep = i;
            break;
        }
    if (sep <= 0 || n - sep - 1 < 6)
        return 0;
    for (Py_ssize_t i = sep + 1; i < n; i++)
        if (bech32_index(s[i]) < 0)
            return 0;
    static const uint32_t gen[5] = {0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3};
    uint32_t chk = 1;
    Py_ssize_t total = 2 * sep + 1 + (n - sep - 1);
    for (Py_ssize_t k = 0; k < total; k++) {
        uint32_t v;
        if (k < sep)
            v = s[k] >> 5;
        else if (k == sep)
            v = 0;
        else if (k < 2 * sep + 1)
            v = s[k - sep - 1] & 31;
        else
            v = (uint32_t)bech32_index(s[k - sep]);
        uint32_t top = chk >> 25;
        chk = ((chk & 0x1FFFFFF) << 5) ^ v;
        for (int i = 0; i < 5; i++)
            if ((top >> i) & 1)
                chk ^= gen[i];
    }
    for (int i = 0; i < n_consts; i++)
        if ((long)chk == consts[i])
            return 1;
    return 0;
}

/* age_key_ok */
static int
age_key_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    static const char head[] = "age-secret-key-1";
    UBuf v;
    if (ubuf_lower(&v, s, n, ascii) < 0)
        return -1;
    int r = 0;
    Py_ssize_t k = (Py_ssize_t)sizeof(head) - 1;
    if (v.n >= k) {
        Py_ssize_t i = 0;
        while (i < k && v.s[i] == (Py_UCS4)head[i])
            i++;
        if (i == k) {
            static const long one[1] = {1};
            r = bech32_u(v.s, v.n, one, 1);
        }
    }
    ubuf_free(&v);
    return r;
}

/* ---------------------------------------------------------------------------------------- */
/* Masking                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static Py_ssize_t
letters_at(PyObject *v, int kind, const void *data, Py_ssize_t n, Py_ssize_t i)
{
    (void)v;
    Py_ssize_t j = i;
    while (j < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, j);
        if (c < 'a' || c > 'z')
            break;
        j++;
    }
    return j - i;
}

static int
is_sep(int kind, const void *data, Py_ssize_t n, Py_ssize_t i)
{
    if (i >= n)
        return 0;
    Py_UCS4 c = PyUnicode_READ(kind, data, i);
    return c == '-' || c == '_';
}

/* length of the match of ^[a-z]{1,8}(?:[-_][a-z]{1,8}){0,2}[-_], or 0. Each run of letters
 * must be followed by a separator, so it is the whole run; two groups are tried before one
 * and one before none, as the greedy repetition backtracks. */
static Py_ssize_t
prefix_len(PyObject *v)
{
    int kind = PyUnicode_KIND(v);
    const void *data = PyUnicode_DATA(v);
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    Py_ssize_t ends[4]; /* end of each "letters + separator" step that matched */
    int steps = 0;
    Py_ssize_t i = 0;
    while (steps < 3) {
        Py_ssize_t k = letters_at(v, kind, data, n, i);
        if (k < 1 || k > 8 || !is_sep(kind, data, n, i + k))
            break;
        i += k + 1;
        ends[steps++] = i;
    }
    return steps ? ends[steps - 1] : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Python entry points                                                                      */
/* ---------------------------------------------------------------------------------------- */

static int
arg_str(PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "expected str, got %.100s", Py_TYPE(arg)->tp_name);
        return -1;
    }
    return 0;
}

static PyObject *
verdict(int r)
{
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

typedef int (*check_fn)(const Py_UCS4 *, Py_ssize_t, int);

static PyObject *
run_check(PyObject *arg, check_fn fn)
{
    if (arg_str(arg) < 0 || check_configured() < 0)
        return NULL;
    UBuf b;
    if (ubuf_from_str(&b, arg) < 0)
        return NULL;
    int r = fn(b.s, b.n, b.ascii);
    ubuf_free(&b);
    return verdict(r);
}

static PyObject *
py_shannon_entropy(PyObject *self, PyObject *arg)
{
    if (arg_str(arg) < 0)
        return NULL;
    UBuf b;
    if (ubuf_from_str(&b, arg) < 0)
        return NULL;
    double h = entropy_u(b.s, b.n);
    ubuf_free(&b);
    if (h == -1.0 && PyErr_Occurred())
        return NULL;
    return PyFloat_FromDouble(h);
}

static PyObject *
py_entropy_at_least(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "entropy_at_least(value, bits)");
        return NULL;
    }
    if (arg_str(args[0]) < 0)
        return NULL;
    double bits = PyFloat_AsDouble(args[1]);
    if (bits == -1.0 && PyErr_Occurred())
        return NULL;
    UBuf b;
    if (ubuf_from_str(&b, args[0]) < 0)
        return NULL;
    int r = entropy_at_least_u(b.s, b.n, bits);
    ubuf_free(&b);
    return verdict(r);
}

static int
test_value_check(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    return is_test_value_u(s, n);
}

static PyObject *
py_is_test_value(PyObject *self, PyObject *arg)
{
    if (arg_str(arg) < 0 || check_configured() < 0)
        return NULL;
    /* most values are longer than any published one: no copy for those */
    if (PyUnicode_GET_LENGTH(arg) > longest_test_value)
        Py_RETURN_FALSE;
    return run_check(arg, test_value_check);
}

/* The Python-facing wrapper of a check over one str argument. */
#define CHECK_WRAPPER(name, check)                                                           \
    static PyObject *name(PyObject *self, PyObject *arg) { return run_check(arg, check); }
#define PASSWORD_CHECK_WRAPPER(name, check)                                                  \
    static PyObject *name(PyObject *self, PyObject *arg)                                     \
    {                                                                                        \
        return run_password_check(arg, check);                                               \
    }

CHECK_WRAPPER(py_is_placeholder, is_placeholder_u)

static PyObject *
py_random_token_ok(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "random_token_ok(value, min_len, min_entropy)");
        return NULL;
    }
    if (arg_str(args[0]) < 0 || check_configured() < 0)
        return NULL;
    Py_ssize_t min_len = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
    if (min_len == -1 && PyErr_Occurred())
        return NULL;
    double bits = PyFloat_AsDouble(args[2]);
    if (bits == -1.0 && PyErr_Occurred())
        return NULL;
    if (PyUnicode_GET_LENGTH(args[0]) < min_len)
        Py_RETURN_FALSE;
    UBuf b;
    if (ubuf_from_str(&b, args[0]) < 0)
        return NULL;
    int r = random_token_u(b.s, b.n, b.ascii, min_len, bits);
    ubuf_free(&b);
    return verdict(r);
}

static int
hex_secret_u(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    int r = is_placeholder_u(s, n, ascii);
    if (r != 0)
        return r < 0 ? -1 : 0;
    return entropy_at_least_u(s, n, 3.0);
}

CHECK_WRAPPER(py_hex_secret_ok, hex_secret_u)

CHECK_WRAPPER(py_hex_key_ok, hex_key_u)

CHECK_WRAPPER(py_mixed_token_ok, mixed_token_u)

CHECK_WRAPPER(py_uuid_key_ok, uuid_key_u)

static int
ethereum_check(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    return ethereum_u(s, n);
}

CHECK_WRAPPER(py_ethereum_address_ok, ethereum_check)

static PyObject *
py_keccak256(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    unsigned char out[32];
    keccak256_bytes(view.buf, view.len, out);
    PyBuffer_Release(&view);
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

static PyObject *
py_mask_secret(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "mask_secret(value, prefix)");
        return NULL;
    }
    PyObject *v = args[0];
    if (arg_str(v) < 0)
        return NULL;
    Py_ssize_t prefix = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
    if (prefix == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    if (prefix <= 0)
        prefix = prefix_len(v);
    if (prefix > n / 3)
        prefix = n / 3;
    Py_ssize_t suffix;
    if (n >= 24) {
        suffix = 3;
    } else if (n >= 12) {
        suffix = 2;
    } else {
        suffix = 0;
        if (prefix > 2)
            prefix = 2;
    }
    /* value[:prefix] of a negative prefix counts from the end, as a slice does */
    Py_ssize_t head_end = prefix < 0 ? (n + prefix > 0 ? n + prefix : 0) : prefix;
    Py_UCS4 top = 0x2026;
    int kind = PyUnicode_KIND(v);
    const void *data = PyUnicode_DATA(v);
    for (Py_ssize_t i = 0; i < head_end; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c > top)
            top = c;
    }
    for (Py_ssize_t i = n - suffix; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c > top)
            top = c;
    }
    PyObject *out = PyUnicode_New(head_end + 1 + suffix, top);
    if (out == NULL)
        return NULL;
    int okind = PyUnicode_KIND(out);
    void *odata = PyUnicode_DATA(out);
    Py_ssize_t o = 0;
    for (Py_ssize_t i = 0; i < head_end; i++)
        PyUnicode_WRITE(okind, odata, o++, PyUnicode_READ(kind, data, i));
    PyUnicode_WRITE(okind, odata, o++, 0x2026);
    for (Py_ssize_t i = n - suffix; i < n; i++)
        PyUnicode_WRITE(okind, odata, o++, PyUnicode_READ(kind, data, i));
    return out;
}

static PyObject *
py_card_verdict(PyObject *self, PyObject *arg)
{
    if (arg_str(arg) < 0)
        return NULL;
    UBuf b;
    if (ubuf_from_str(&b, arg) < 0)
        return NULL;
    const char *brand = card_verdict_u(b.s, b.n);
    ubuf_free(&b);
    if (brand == NULL)
        Py_RETURN_NONE;
    return PyUnicode_InternFromString(brand);
}

static PyObject *
py_luhn_ok(PyObject *self, PyObject *arg)
{
    if (arg_str(arg) < 0)
        return NULL;
    UBuf b;
    if (ubuf_from_str(&b, arg) < 0)
        return NULL;
    int r = luhn_u(b.s, b.n, b.ascii);
    ubuf_free(&b);
    return verdict(r);
}

static PyObject *
py_bech32_ok(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "bech32_ok(value, consts)");
        return NULL;
    }
    if (arg_str(args[0]) < 0)
        return NULL;
    PyObject *seq = PySequence_Fast(args[1], "consts must be a sequence of int");
    if (seq == NULL)
        return NULL;
    Py_ssize_t nc = PySequence_Fast_GET_SIZE(seq);
    long consts[8];
    if (nc > 8) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "at most 8 constants");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nc; i++) {
        consts[i] = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (consts[i] == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    UBuf b;
    if (ubuf_from_str(&b, args[0]) < 0)
        return NULL;
    int r = bech32_u(b.s, b.n, consts, (int)nc);
    ubuf_free(&b);
    return verdict(r);
}

static PyObject *
py_age_key_ok(PyObject *self, PyObject *arg)
{
    if (arg_str(arg) < 0)
        return NULL;
    UBuf b;
    if (ubuf_from_str(&b, arg) < 0)
        return NULL;
    int r = age_key_u(b.s, b.n, b.ascii);
    ubuf_free(&b);
    return verdict(r);
}

CHECK_WRAPPER(py_us_ssn_ok, us_ssn_u)

CHECK_WRAPPER(py_us_itin_ok, us_itin_u)

CHECK_WRAPPER(py_ca_sin_ok, ca_sin_u)

CHECK_WRAPPER(py_uk_nhs_ok, uk_nhs_u)

CHECK_WRAPPER(py_aba_routing_ok, aba_u)

CHECK_WRAPPER(py_us_phone_ok, us_phone_u)

/* masking._mask_digits: every digit (str.isdigit) but the last 4 (of more than 6) or the
 * last 2 becomes "*"; other characters are kept */
static PyObject *
py_mask_digits(PyObject *self, PyObject *arg)
{
    if (arg_str(arg) < 0)
        return NULL;
    UBuf b;
    if (ubuf_from_str(&b, arg) < 0)
        return NULL;
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < b.n; i++)
        total += Py_UNICODE_ISDIGIT(b.s[i]) ? 1 : 0;
    Py_ssize_t keep_from = total > 6 ? total - 4 : total - 2;
    Py_ssize_t seen = 0;
    for (Py_ssize_t i = 0; i < b.n; i++) {
        if (Py_UNICODE_ISDIGIT(b.s[i])) {
            if (seen < keep_from)
                b.s[i] = '*';
            seen++;
        }
    }
    /* (built from the code points: the narrowest kind that holds them, as str.join makes) */
    PyObject *out = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, b.s, b.n);
    ubuf_free(&b);
    return out;
}

static PyObject *
run_password_check(PyObject *arg, check_fn fn)
{
    if (n_weak_passwords < 0) {
        PyErr_SetString(PyExc_RuntimeError, "configure_weak_passwords() was not called");
        return NULL;
    }
    return run_check(arg, fn);
}

PASSWORD_CHECK_WRAPPER(py_password_ok, password_check)

PASSWORD_CHECK_WRAPPER(py_password_value_ok, password_value_u)

PASSWORD_CHECK_WRAPPER(py_url_password_ok, url_password_u)

CHECK_WRAPPER(py_bearer_token_ok, bearer_token_u)

static int
vendor_check(const Py_UCS4 *s, Py_ssize_t n, int ascii)
{
    (void)ascii;
    return vendor_shaped_u(s, n);
}

CHECK_WRAPPER(py_vendor_shaped, vendor_check)

static PyMethodDef methods[] = {
    {"configure_weak_passwords", configure_weak_passwords, METH_O,
     "configure_weak_passwords(words): the dictionary defaults password_ok refuses (ASCII)"},
    {"password_ok", py_password_ok, METH_O, "checks.password_ok"},
    {"password_value_ok", py_password_value_ok, METH_O, "checks.password_value_ok"},
    {"url_password_ok", py_url_password_ok, METH_O, "checks.url_password_ok"},
    {"bearer_token_ok", py_bearer_token_ok, METH_O, "checks.bearer_token_ok"},
    {"vendor_shaped", py_vendor_shaped, METH_O, "checks.vendor_shaped"},
    {"us_ssn_ok", py_us_ssn_ok, METH_O, "validators.us_ssn_ok"},
    {"us_itin_ok", py_us_itin_ok, METH_O, "validators.us_itin_ok"},
    {"ca_sin_ok", py_ca_sin_ok, METH_O, "validators.ca_sin_ok"},
    {"uk_nhs_ok", py_uk_nhs_ok, METH_O, "validators.uk_nhs_ok"},
    {"aba_routing_ok", py_aba_routing_ok, METH_O, "validators.aba_routing_ok"},
    {"us_phone_ok", py_us_phone_ok, METH_O, "validators.us_phone_ok"},
    {"mask_digits", py_mask_digits, METH_O, "masking._mask_digits"},
    {"card_verdict", py_card_verdict, METH_O, "validators._card_verdict (brand or None)"},
    {"luhn_ok", py_luhn_ok, METH_O, "validators.luhn_ok"},
    {"bech32_ok", (PyCFunction)(void (*)(void))py_bech32_ok, METH_FASTCALL,
     "checks._bech32_ok(value, consts)"},
    {"age_key_ok", py_age_key_ok, METH_O, "checks.age_key_ok"},
    {"configure", configure, METH_VARARGS,
     "configure(test_values, placeholder_words, longest_test_value): the published test "
     "values and the placeholder words (ASCII) that the checks compare against."},
    {"shannon_entropy", py_shannon_entropy, METH_O, "placeholders.shannon_entropy"},
    {"entropy_at_least", (PyCFunction)(void (*)(void))py_entropy_at_least, METH_FASTCALL,
     "placeholders.entropy_at_least"},
    {"is_test_value", py_is_test_value, METH_O, "placeholders.is_test_value"},
    {"is_placeholder", py_is_placeholder, METH_O, "placeholders.is_placeholder"},
    {"random_token_ok", (PyCFunction)(void (*)(void))py_random_token_ok, METH_FASTCALL,
     "validators.random_token_ok(value, min_len, min_entropy)"},
    {"hex_secret_ok", py_hex_secret_ok, METH_O, "validators.hex_secret_ok"},
    {"hex_key_ok", py_hex_key_ok, METH_O, "checks.hex_key_ok"},
    {"mixed_token_ok", py_mixed_token_ok, METH_O, "checks.mixed_token_ok"},
    {"uuid_key_ok", py_uuid_key_ok, METH_O, "checks.uuid_key_ok"},
    {"ethereum_address_ok", py_ethereum_address_ok, METH_O, "checks.ethereum_address_ok"},
    {"keccak256", py_keccak256, METH_O, "checks.keccak256"},
    {"mask_secret", (PyCFunction)(void (*)(void))py_mask_secret, METH_FASTCALL,
     "masking._mask_secret(value, prefix)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "detectors.dlp._native_checks",
    "Compiled DLP value checks; the Python functions of the same names are the reference.",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__native_checks(void)
{
    return PyModule_Create(&module);
}
