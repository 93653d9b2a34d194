"""Types of the compiled slide tokenizer and reader (``_native_slides.c``)."""

from collections.abc import Callable
from types import ModuleType
from typing import Any

def slides_text(bodies: list[bytes], /) -> str | None: ...
def slide_batch(
    data: bytes,
    infos: list[Any],
    start: int,
    max_size: int,
    max_depth: int,
    block: int,
    root_tags: dict[bytes, bytes],
    body: Callable[[bytes, int], bytes | None],
    read: Callable[[Any], bytes],
    inflater: ModuleType,
    /,
) -> tuple[int, int, str | None, list[bytes] | None]: ...
