"""Types of the compiled central directory loop (``_native_zipdir.c``)."""

from typing import Any

def entries(
    directory: bytes, count: int, entry_type: type, max_version: int, /
) -> list[Any] | None: ...
