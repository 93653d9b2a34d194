"""One document's DLP verdict: extraction + the streaming matcher + what was left unread.

Used by the fleet's DLP stage and by ``casb dlp scan-file`` alike, so both say the same
thing about the same file:

* ``matched``: the profiles' thresholds were met (even if part of the file was unread);
* ``clean``: every part of the file was read and nothing matched;
* ``skipped``: the file could not be read (an extraction skip reason, or ``too_large`` when
  the worker's memory cap is reached while matching), or it was read only in part and what
  was read matched nothing: ``truncated`` (a cap, the file's time budget, an unreadable
  page or image) or ``ocr_unavailable`` (images needed OCR and Tesseract is missing). A
  partly read file is never called clean.

One time budget covers the whole file: ``deadline`` (a ``limits.clock()`` value; default:
now + ``limits.max_seconds``) is shared by extraction and the matcher, and whichever reaches
it first stops there with the file truncated. A truncated file that matched keeps its
matches, and :attr:`DocumentVerdict.truncated` says why it was cut short.

Evidence says which matches came from OCR: each entry carries ``ocr_count`` (matches whose
text was read from an image) and the evidence an ``ocr`` summary when images were read.
Pure: no I/O beyond the stream given (OCR runs through the engine passed in).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from detectors.dlp.extract import ExtractLimits, ExtractReport, OcrEngine, SkipFile, extract_text
from detectors.dlp.matcher import FileMatch, Policy, SecretProbe
from detectors.dlp.profiles import Profile

__all__ = ["CLEAN", "MATCHED", "SKIPPED", "DocumentVerdict", "ocr_engine_for", "scan_document"]

MATCHED, CLEAN, SKIPPED = "matched", "clean", "skipped"


@dataclass(frozen=True)
class DocumentVerdict:
    outcome: str
    match: FileMatch | None = None
    reason: str | None = None
    detail: str = ""
    report: ExtractReport = field(default_factory=ExtractReport)
    ocr_counts: dict[str, int] = field(default_factory=dict)

    @property
    def truncated(self) -> str | None:
        """Why part of the file was not read (an extraction cap, else the matcher's deadline)."""
        if self.report.truncated:
            return self.report.truncated_reason or "part of the file was not read"
        return self.match.truncated if self.match is not None else None

    def evidence(self) -> dict[str, Any]:
        """Masked, JSON-ready evidence (empty for a skipped file)."""
        if self.match is None:
            return {}
        out = self.match.to_evidence()
        for entry in out["entries"]:
            entry["ocr_count"] = self.ocr_counts.get(entry["entry_id"], 0)
        out.update(self.extraction())
        return out

    def extraction(self) -> dict[str, Any]:
        """What the extraction could not read, and how much OCR did (only what applies)."""
        report = self.report
        out: dict[str, Any] = {}
        if self.truncated:
            out["truncated"] = self.truncated
        if report.images or report.images_unread or report.ocr_unavailable:
            out["ocr"] = {
                "images_read": report.images,
                "images_unread": report.images_unread,
                "unavailable": report.ocr_unavailable,
                "matches": sum(self.ocr_counts.values()),
            }
        return out


def ocr_engine_for(profiles: Iterable[Profile]) -> OcrEngine | None:
    """An OCR engine when any of the profiles opted in to OCR, else None."""
    return OcrEngine() if any(p.ocr for p in profiles) else None


def _in_spans(start: int, spans: list[tuple[int, int]]) -> bool:
    return any(lo <= start < hi for lo, hi in spans)


def scan_document(
    name: str,
    source: BinaryIO,
    policy: Policy,
    limits: ExtractLimits | None = None,
    ocr: OcrEngine | None = None,
    deadline: float | None = None,
    probe: SecretProbe | None = None,
) -> DocumentVerdict:
    """Extract and match one file; never raises for bad input (see the module docstring).

    ``probe`` sees the confirmed values of the entries it wants (``Policy.open_stream``).
    """
    limits = limits or ExtractLimits()
    if deadline is None:
        deadline = limits.clock() + limits.max_seconds
    report = ExtractReport()
    stream = policy.open_stream(
        record_spans=True, deadline=deadline, clock=limits.clock, probe=probe
    )
    try:
        for chunk in extract_text(name, source, limits, report, deadline, ocr):
            stream.feed(chunk)
    except SkipFile as exc:
        stream.abort()
        return DocumentVerdict(SKIPPED, reason=exc.reason, detail=exc.detail, report=report)
    except MemoryError:  # the worker's memory cap, hit while matching (extraction truncates)
        stream.abort()
        return DocumentVerdict(
            SKIPPED, reason="too_large", detail="memory cap reached while matching", report=report
        )
    except BaseException:
        stream.abort()
        raise
    match = stream.close()
    ocr_counts: Counter[str] = Counter()
    if report.ocr_spans:
        for entry_id, start, _end in stream.spans or ():
            if _in_spans(start, report.ocr_spans):
                ocr_counts[entry_id] += 1
    if match.matched:
        return DocumentVerdict(MATCHED, match, report=report, ocr_counts=dict(ocr_counts))
    if report.ocr_unavailable:
        return DocumentVerdict(
            SKIPPED,
            match,
            reason="ocr_unavailable",
            detail=f"{report.images_unread} image(s) not read: Tesseract is not available",
            report=report,
        )
    cut_short = report.truncated_reason if report.truncated else match.truncated
    if report.truncated or match.truncated:
        return DocumentVerdict(
            SKIPPED,
            match,
            reason="truncated",
            detail=cut_short or "part of the file was not read",
            report=report,
        )
    return DocumentVerdict(CLEAN, match, report=report)
