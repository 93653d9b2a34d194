"""Images read by OCR: Pillow decodes under explicit caps, Tesseract reads the text.

Only used when the caller hands ``extract_text`` an :class:`OcrEngine` (a DLP profile opted
in). This is the one extractor that runs a process: ``pytesseract`` writes the decoded image
to a private temporary file, runs the ``tesseract`` binary on it with a time budget (the
process is killed past it) and removes the file. Nothing else leaves the process.

Caps, checked before any pixel is decoded: the encoded size, width x height (Pillow's own
``MAX_IMAGE_PIXELS`` is set to the same value, so its bomb check agrees), the number of
frames of a GIF/TIFF, and only the decoders of PNG, JPEG, WebP, GIF and TIFF are offered to
Pillow (never one that shells out, such as EPS).
"""

from __future__ import annotations

import io
import os
import re
import threading
import warnings
import zipfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from detectors.dlp.extract.errors import ExtractLimits, ExtractReport, SkipFile, Truncated

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "IMAGE_EXTENSIONS",
    "IMAGE_FORMATS",
    "OcrEngine",
    "OcrText",
    "image_text",
    "iter_image_file",
    "iter_zip_images",
    "looks_like_image",
    "ocr_embedded",
    "ocr_embedded_image",
    "rejoined_lines",
]

#: Pillow decoders offered for OCR, and the file extensions that name them.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "TIFF")
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "jpe", "webp", "gif", "tif", "tiff"})
#: PNG text chunks (tEXt/zTXt/iTXt) are metadata, never OCR input: keep them small.
_PNG_TEXT_CHUNK_CAP = 256 * 1024
# Text smaller than this (pixel height of the whole image) is scaled up before OCR:
# Tesseract reads best with glyphs of 20+ pixels, screenshots often have 10-16.
_UPSCALE_BELOW = 1400
_MAX_UPSCALED_PIXELS = 12_000_000
_pillow_lock = threading.Lock()


class OcrText(str):
    """A piece of extracted text that came from OCR (``extract_text`` records its span)."""

    __slots__ = ()


def looks_like_image(head: bytes) -> bool:
    """PNG, JPEG, GIF, WebP or TIFF by magic bytes."""
    return (
        head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a"))
        or head.startswith((b"II*\x00", b"MM\x00*"))
        or (head.startswith(b"RIFF") and head[8:12] == b"WEBP")
    )


class OcrEngine:
    """Tesseract through pytesseract: one process per image, ``OMP_THREAD_LIMIT=1``.

    ``command`` overrides the binary (default: ``pytesseract.pytesseract.tesseract_cmd``,
    ``tesseract`` on PATH). A missing binary raises ``SkipFile('ocr_unavailable')``.
    """

    def __init__(self, language: str = "eng", command: str | None = None) -> None:
        self.language = language
        self.command = command

    def read(self, image: Image, seconds: float) -> str:
        import pytesseract
        from pytesseract.pytesseract import TesseractError, TesseractNotFoundError

        if self.command is not None:
            pytesseract.pytesseract.tesseract_cmd = self.command
        # one core per OCR run: the DLP worker sizes its concurrency by processes
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        try:
            return str(
                pytesseract.image_to_string(
                    image, lang=self.language, config="--psm 3", timeout=max(seconds, 0.1)
                )
            )
        except TesseractNotFoundError:
            raise SkipFile("ocr_unavailable", "the tesseract binary was not found") from None
        except TesseractError as exc:
            if "Failed loading language" in str(exc) or "Error opening data file" in str(exc):
                raise SkipFile("ocr_unavailable", "tesseract has no language data") from None
            raise SkipFile("corrupt", "tesseract could not read the image") from None
        except RuntimeError as exc:
            if "timeout" in str(exc).lower():
                raise SkipFile("timeout", f"OCR took over {seconds:.0f} s") from None
            raise


_TOKEN = re.compile(r"[A-Za-z0-9_+/=.:@|\]-]+")
_KEYISH = re.compile(r"(?=[^ ]*[0-9])[A-Za-z0-9_+/=.:|\]-]{8,}")
# glyphs OCR reads in place of key characters: ']' for 'J', '|' for 'l'
_KEY_GLYPHS = str.maketrans({"]": "J", "|": "l"})


def _glued(left: str, right: str) -> bool:
    """Whether OCR probably split one token at this space (long keys often are)."""
    if not (_TOKEN.fullmatch(left) and _TOKEN.fullmatch(right)):
        return False
    if (right[0] in "-_" and len(right) > 1) or (left[-1] in "-_" and len(left) > 1):
        return True
    return _KEYISH.fullmatch(left) is not None


def rejoined_lines(text: str) -> str:
    """Lines of OCR text with the spaces OCR put inside key-like tokens removed; only the
    lines that change. Matched in addition to the text as read, so a key split by OCR
    (``sk-proj-q7Xv R2mT...``) is still one token for the matcher."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 2:
            continue
        merged = [words[0]]
        for word in words[1:]:
            if _glued(merged[-1], word):
                merged[-1] += word
            else:
                merged.append(word)
        fixed = [w.translate(_KEY_GLYPHS) if _KEYISH.fullmatch(w) else w for w in merged]
        if fixed != words:
            out.append(" ".join(fixed))
    return "\n".join(out)


def _configure_pillow(limits: ExtractLimits) -> None:
    from PIL import Image, PngImagePlugin

    with _pillow_lock:
        # Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that; our own check
        # below refuses at the cap itself, before decoding.
        Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
        PngImagePlugin.MAX_TEXT_CHUNK = _PNG_TEXT_CHUNK_CAP
        PngImagePlugin.MAX_TEXT_MEMORY = 4 * _PNG_TEXT_CHUNK_CAP


def _check_size(width: int, height: int, limits: ExtractLimits) -> None:
    if width * height > limits.max_image_pixels:
        raise SkipFile(
            "too_large",
            f"image of {width}x{height} pixels (limit {limits.max_image_pixels} pixels)",
        )


def _for_ocr(frame: Image) -> Image:
    """Greyscale on white (transparent text stays visible), scaled up when small."""
    from PIL import Image as PILImage

    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        white = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        frame = white
    grey = frame.convert("L")
    width, height = grey.size
    if height < _UPSCALE_BELOW:
        factor = 3 if height < _UPSCALE_BELOW // 3 else 2
        if width * height * factor * factor <= _MAX_UPSCALED_PIXELS:
            grey = grey.resize((width * factor, height * factor), PILImage.Resampling.LANCZOS)
    return grey


def _ocr_pieces(text: str) -> Iterator[OcrText]:
    yield OcrText(text)
    yield OcrText("\n")
    extra = rejoined_lines(text)
    if extra:
        yield OcrText(extra)
        yield OcrText("\n")


def image_text(
    source: BinaryIO,
    engine: OcrEngine,
    limits: ExtractLimits,
    report: ExtractReport,
    deadline: float,
) -> Iterator[OcrText]:
    """OCR text of one encoded image, frame by frame (``SkipFile`` when it can't be read)."""
    from PIL import Image, UnidentifiedImageError

    _configure_pillow(limits)
    try:
        with warnings.catch_warnings():
            # between the cap and twice the cap Pillow only warns; our check below refuses
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(source, formats=IMAGE_FORMATS)
    except Image.DecompressionBombError:
        raise SkipFile("too_large", "image above the pixel cap") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise SkipFile("corrupt", "not a readable image") from None
    with image:
        _check_size(*image.size, limits)
        if min(image.size) < limits.min_image_side:
            return  # an icon or a spacer: no room for a readable line of text
        frames = int(getattr(image, "n_frames", 1) or 1)
        for index in range(min(frames, limits.max_image_frames)):
            try:
                if index:
                    image.seek(index)
                _check_size(*image.size, limits)
                image.load()
                prepared = _for_ocr(image)
            except SkipFile:
                raise
            except Image.DecompressionBombError:
                raise SkipFile("too_large", "image above the pixel cap") from None
            except (OSError, ValueError, SyntaxError, EOFError):
                raise SkipFile("corrupt", "image data is damaged") from None
            remaining = min(limits.max_image_seconds, deadline - limits.clock())
            if remaining <= 0:
                raise Truncated(f"time budget of {limits.max_seconds:g} s spent")
            text = engine.read(prepared, remaining)
            report.images += 1
            yield from _ocr_pieces(text)
        if frames > limits.max_image_frames:
            report.truncate(f"more than {limits.max_image_frames} image frames")


def iter_image_file(
    source: BinaryIO,
    engine: OcrEngine,
    limits: ExtractLimits,
    report: ExtractReport,
    deadline: float,
) -> Iterator[str]:
    """An image file: its size is capped like an embedded image's, then OCR."""
    data = source.read(limits.max_image_bytes + 1)
    if len(data) > limits.max_image_bytes:
        raise SkipFile("too_large", f"image over {limits.max_image_bytes} bytes")
    report.bytes_in = len(data)
    yield from image_text(io.BytesIO(data), engine, limits, report, deadline)


def ocr_embedded(
    data: bytes,
    engine: OcrEngine,
    limits: ExtractLimits,
    report: ExtractReport,
    deadline: float,
) -> Iterator[str]:
    """An image inside a document: failures mark the document, they don't end it.

    A refused or unreadable image makes the document ``truncated`` (its text is still
    scanned); a missing Tesseract sets ``report.ocr_unavailable``. Tesseract killed at the
    per-image budget skips the file (``timeout``); the file's own time budget, once spent,
    truncates it like any other extraction (:class:`Truncated`).
    """
    if report.images + report.images_unread >= limits.max_images:
        report.images_unread += 1
        report.truncate(f"more than {limits.max_images} embedded images")
        return
    if len(data) > limits.max_image_bytes:
        report.images_unread += 1
        report.truncate(f"an embedded image is over {limits.max_image_bytes} bytes")
        return
    try:
        pieces = list(image_text(io.BytesIO(data), engine, limits, report, deadline))
    except SkipFile as exc:
        _image_unread(report, exc)
        return
    yield from pieces


def _image_unread(report: ExtractReport, exc: SkipFile) -> None:
    """Count an embedded image OCR did not read; a spent time budget stops the whole file."""
    if exc.reason == "timeout":
        raise exc
    report.images_unread += 1
    if exc.reason == "ocr_unavailable":
        report.ocr_unavailable = True
    else:
        report.truncate(f"an embedded image was not read ({exc.reason})")


def ocr_embedded_image(
    image: Image,
    engine: OcrEngine,
    limits: ExtractLimits,
    report: ExtractReport,
    deadline: float,
) -> Iterator[str]:
    """An already decoded embedded image (a PDF's, through PDFium)."""
    try:
        remaining = min(limits.max_image_seconds, deadline - limits.clock())
        if remaining <= 0:
            raise Truncated(f"time budget of {limits.max_seconds:g} s spent")
        text = engine.read(_for_ocr(image), remaining)
    except SkipFile as exc:
        _image_unread(report, exc)
        return
    report.images += 1
    yield from _ocr_pieces(text)


def _zip_media_names(zf: zipfile.ZipFile) -> list[str]:
    out = []
    for name in zf.namelist():
        folder, _, base = name.rpartition("/")
        if folder.endswith("/media") and base.rsplit(".", 1)[-1].lower() in IMAGE_EXTENSIONS:
            out.append(name)
    return sorted(out)


def iter_zip_images(
    zf: zipfile.ZipFile,
    engine: OcrEngine,
    limits: ExtractLimits,
    report: ExtractReport,
    deadline: float,
) -> Iterator[str]:
    """Images stored in an Office document's ``*/media/`` folders (the zip was vetted)."""
    for name in _zip_media_names(zf):
        if report.images + report.images_unread >= limits.max_images:
            report.images_unread += 1
            report.truncate(f"more than {limits.max_images} embedded images")
            continue
        if zf.getinfo(name).file_size > limits.max_image_bytes:
            report.images_unread += 1
            report.truncate(f"an embedded image is over {limits.max_image_bytes} bytes")
            continue
        with zf.open(name) as fh:
            data = fh.read(limits.max_image_bytes + 1)
        yield from ocr_embedded(data, engine, limits, report, deadline)
