/* The loop of detectors.dlp.extract.zipparts._plain_directory in C: the records of a plain
 * zip central directory turned into zipparts.Entry tuples, with the same checks, or None
 * where that loop raises _Unusual (zipfile then reads the directory).
 *
 * entries(directory, count, entry_type, max_version) walks the 46-byte records: signature
 * "PK\1\2", no extra field, a version needed no higher than max_version, no zip64 marker in
 * the sizes or the offset, a name that decodes (UTF-8 when flag 0x800 is set, else ASCII),
 * no NUL in a name, no name twice, the records ending exactly at the directory's end and
 * numbering count. Every read is bounds checked; the work is linear in the directory.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define RECORD 46
#define UTF8_NAME 0x800

static inline uint32_t
le16(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static inline uint32_t
le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

PyDoc_STRVAR(entries_doc,
             "entries(directory, count, entry_type, max_version, /)\n--\n\n"
             "The entries of a plain central directory as entry_type tuples (name, flags,\n"
             "method, CRC, compressed size, size, header offset), or None where\n"
             "zipparts._plain_directory would find it unusual.");

static PyObject *
entries(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4 || !PyBytes_Check(args[0]) || !PyType_Check(args[2]) ||
        !PyType_IsSubtype((PyTypeObject *)args[2], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "entries(bytes, int, tuple type, int)");
        return NULL;
    }
    const unsigned char *dir = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    Py_ssize_t count = PyLong_AsSsize_t(args[1]);
    long max_version = PyLong_AsLong(args[3]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    PyTypeObject *entry_type = (PyTypeObject *)args[2];
    PyObject *out = PyList_New(0);
    PyObject *names = PySet_New(NULL);
    if (out == NULL || names == NULL) {
        Py_XDECREF(out);
        Py_XDECREF(names);
        return NULL;
    }
    Py_ssize_t pos = 0;
    int unusual = 0;
    while (pos < size) {
        if (size - pos < RECORD) {
            unusual = 1;
            break;
        }
        const unsigned char *r = dir + pos;
        uint32_t version = r[6];
        uint32_t flags = le16(r + 8);
        uint32_t method = le16(r + 10);
        uint32_t crc = le32(r + 16);
        uint32_t packed = le32(r + 20);
        uint32_t unpacked = le32(r + 24);
        uint32_t name_len = le16(r + 28);
        uint32_t extra_len = le16(r + 30);
        uint32_t comment_len = le16(r + 32);
        uint32_t offset = le32(r + 42);
        if (memcmp(r, "PK\x01\x02", 4) != 0 || extra_len != 0 || (long)version > max_version) {
            unusual = 1;
            break;
        }
        if (packed == 0xFFFFFFFFu || unpacked == 0xFFFFFFFFu || offset == 0xFFFFFFFFu) {
            unusual = 1; /* zip64 sizes */
            break;
        }
        pos += RECORD;
        if ((Py_ssize_t)name_len > size - pos) {
            unusual = 1; /* (the Python loop ends past the directory's end: unusual too) */
            break;
        }
        const char *raw = (const char *)(dir + pos);
        if (memchr(raw, '\0', name_len) != NULL) {
            unusual = 1; /* zipfile cuts a name at a NUL */
            break;
        }
        PyObject *name = (flags & UTF8_NAME) ? PyUnicode_DecodeUTF8(raw, name_len, NULL)
                                             : PyUnicode_DecodeASCII(raw, name_len, NULL);
        if (name == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                goto fail;
            }
            PyErr_Clear();
            unusual = 1; /* not UTF-8; or cp437 beyond ASCII: zipfile decodes it */
            break;
        }
        pos += name_len + comment_len;
        Py_ssize_t before = PySet_GET_SIZE(names);
        if (PySet_Add(names, name) < 0) {
            Py_DECREF(name);
            goto fail;
        }
        if (PySet_GET_SIZE(names) == before) {
            Py_DECREF(name);
            unusual = 1; /* a repeated name */
            break;
        }
        PyObject *entry = entry_type->tp_alloc(entry_type, 7);
        if (entry == NULL) {
            Py_DECREF(name);
            goto fail;
        }
        PyObject *fields[6] = {
            PyLong_FromUnsignedLong(flags),  PyLong_FromUnsignedLong(method),
            PyLong_FromUnsignedLong(crc),    PyLong_FromUnsignedLong(packed),
            PyLong_FromUnsignedLong(unpacked), PyLong_FromUnsignedLong(offset),
        };
        PyTuple_SET_ITEM(entry, 0, name);
        int bad = 0;
        for (int k = 0; k < 6; k++) {
            if (fields[k] == NULL) {
                bad = 1;
                fields[k] = Py_NewRef(Py_None);
            }
            PyTuple_SET_ITEM(entry, k + 1, fields[k]);
        }
        if (bad || PyList_Append(out, entry) < 0) {
            Py_DECREF(entry);
            goto fail;
        }
        Py_DECREF(entry);
    }
    Py_DECREF(names);
    if (unusual || pos != size || PyList_GET_SIZE(out) != count) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return out;
fail:
    Py_DECREF(out);
    Py_DECREF(names);
    return NULL;
}

static PyMethodDef methods[] = {
    {"entries", (PyCFunction)(void (*)(void))entries, METH_FASTCALL, entries_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "detectors.dlp.extract._native_zipdir",
    "The plain central directory reader of detectors.dlp.extract.zipparts, compiled.",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__native_zipdir(void)
{
    return PyModule_Create(&module_def);
}
