"""Generated images for the OCR tests and bench/dlp_formats.py: screenshots of text (a
terminal, an editor, a chat window) and photographed-style payment cards, rendered by Pillow
with the DejaVu fonts (Debian's fonts-dejavu-core) when present, Pillow's own font otherwise."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
#: font file stems the screenshots use, monospace first (terminals and editors)
FONTS = ("DejaVuSansMono", "DejaVuSans", "DejaVuSerif", "DejaVuSansMono-Bold")


def font(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for folder in FONT_DIRS:
        path = folder / f"{name}.ttf"
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def screenshot(
    lines: list[str],
    *,
    font_name: str = "DejaVuSansMono",
    size: int = 14,
    dark: bool = False,
    width: int | None = None,
) -> Image.Image:
    """Lines of text as a window would show them: margins, line spacing, a title bar."""
    face = font(font_name, size)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    text_w = max(int(probe.textlength(line, font=face)) for line in lines)
    line_h = int(size * 1.5)
    w = max(width or 0, text_w + 2 * size)
    h = 28 + line_h * len(lines) + size
    bg, fg = ((30, 30, 30), (220, 220, 220)) if dark else ((255, 255, 255), (20, 20, 20))
    img = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, w, 22), fill=(60, 60, 70) if dark else (225, 225, 230))
    for i, dot in enumerate(((237, 106, 94), (245, 191, 79), (98, 197, 84))):
        draw.ellipse((8 + 18 * i, 6, 20 + 18 * i, 18), fill=dot)
    for i, line in enumerate(lines):
        draw.text((size, 28 + i * line_h), line, font=face, fill=fg)
    return img


def card_photo(number: str, *, seed: int = 7, holder: str = "JANE Q SAMPLE") -> Image.Image:
    """A payment card as a phone photo shows it: a tinted card on a desk, slightly rotated,
    soft focus, sensor noise, JPEG-compressed by the caller if wanted."""
    rng = random.Random(seed)
    card_w, card_h = 856, 540  # ISO/IEC 7810 ID-1 at 10 px/mm
    card = Image.new("RGB", (card_w, card_h), (28, 60, 120))
    draw = ImageDraw.Draw(card)
    for y in range(card_h):  # a gentle gradient, as printed cards have
        shade = int(40 * y / card_h)
        draw.line((0, y, card_w, y), fill=(28 + shade, 60 + shade, 120 + shade))
    draw.rounded_rectangle((70, 170, 190, 260), radius=12, fill=(212, 180, 90))  # chip
    digits = font("DejaVuSansMono-Bold", 58)
    draw.text((70, 320), number, font=digits, fill=(245, 245, 245))
    small = font("DejaVuSans", 30)
    draw.text((70, 430), "VALID THRU 09/29", font=small, fill=(230, 230, 230))
    draw.text((70, 470), holder, font=small, fill=(230, 230, 230))
    draw.text((600, 60), "BANK", font=font("DejaVuSans-Bold", 48), fill=(250, 250, 250))
    mask = Image.new("L", card.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, card_w, card_h), radius=36, fill=255)
    desk = Image.new("RGB", (1100, 800), (150, 120, 90))
    desk_draw = ImageDraw.Draw(desk)
    for _ in range(400):  # wood-ish grain
        x, y = rng.randrange(1100), rng.randrange(800)
        tone = rng.randrange(120, 175)
        desk_draw.line((x, y, x + rng.randrange(40, 200), y), fill=(tone, tone - 30, tone - 60))
    desk.paste(card, (120, 130), mask)
    photo = desk.rotate(
        rng.uniform(-3.0, 3.0), resample=Image.Resampling.BICUBIC, fillcolor=(140, 110, 80)
    )
    photo = photo.filter(ImageFilter.GaussianBlur(1.1))
    noise = Image.effect_noise(photo.size, 18).convert("RGB")
    return Image.blend(photo, noise, 0.08)
