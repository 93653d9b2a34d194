"""Optional C accelerators: every ``_native_*.c`` under detectors/ becomes an extension module
of the same dotted name. Each is optional: where no C compiler is present the build goes on
without it and the pure-Python path beside it runs instead (same results, slower)."""

from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).parent


def native_extensions() -> list[Extension]:
    modules = []
    for source in sorted(ROOT.glob("detectors/**/_native_*.c")):
        relative = source.relative_to(ROOT)
        name = ".".join(relative.with_suffix("").parts)
        modules.append(Extension(name, [str(relative)], optional=True, extra_compile_args=["-O2"]))
    return modules


if __name__ == "__main__":  # (setuptools runs this file as __main__; tests import it)
    setup(ext_modules=native_extensions())
