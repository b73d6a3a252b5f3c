"""Evidence photos re-encoded on arrival: upright, at most ``MAX_SIDE`` pixels on the longest side,
JPEG at quality 85 (PNG when the picture has transparency), and without metadata: no camera,
owner or time tags, no XMP, no thumbnails; the GPS tags only when the company keeps photo
locations (``tenant.keep_photo_location``). A 12-megapixel phone photo of 4 MB becomes a few
hundred KB a mentor's phone downloads on a bad link. Blocking (Pillow): run in a thread.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 1920
QUALITY = 85
# What a decoder may be made to hold. A JPEG is decoded at 1/8 scale when that covers MAX_SIDE
# (``draft``), so a 200-megapixel sensor's photo costs ~3 megapixels; every other format is decoded
# whole (4 bytes a pixel, and a copy): a phone's PNG or WebP screenshot is far below this cap, a
# crafted 12000×12000 PNG of 0.5 MB (576 MB decoded) is refused before decoding.
MAX_PIXELS = 250_000_000
MAX_FULL_DECODE_PIXELS = 40_000_000
# Pillow picks a decoder from the bytes; only these may run (never EPS, which calls Ghostscript).
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")


class Unreadable(Exception):
    """The bytes are not an image Pillow can decode (or too large a one)."""


@dataclass(frozen=True)
class Photo:
    """The re-encoded file, written beside the spool."""

    path: Path
    sha256: str
    size: int
    mime_type: str
    width: int
    height: int


def reencode(source: Path, directory: Path, keep_location: bool) -> Photo:
    """Re-encode the image at ``source`` into a new file in ``directory`` (see the module)."""
    target = directory / f"{uuid.uuid4().hex}.part"
    try:
        with Image.open(source, formats=FORMATS) as opened:
            pixels = opened.width * opened.height
            if pixels > MAX_PIXELS or (opened.format != "JPEG" and pixels > MAX_FULL_DECODE_PIXELS):
                raise Unreadable("too many pixels")
            gps = opened.getexif().get_ifd(ExifTags.IFD.GPSInfo) if keep_location else None
            if opened.format == "JPEG":
                # Decode at 1/2, 1/4 or 1/8 scale when that still covers MAX_SIDE: a 48-megapixel
                # photo costs a sixteenth of the memory and time.
                opened.draft("RGB", (MAX_SIDE, MAX_SIDE))
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            transparent = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
            if transparent:
                image.convert("RGBA").save(target, "PNG", optimize=True)
                mime_type = "image/png"
            else:
                exif = Image.Exif()
                if gps:
                    exif[ExifTags.IFD.GPSInfo] = gps
                image.convert("RGB").save(
                    target,
                    "JPEG",
                    quality=QUALITY,
                    optimize=True,
                    progressive=True,
                    **({"exif": exif.tobytes()} if gps else {}),
                )
                mime_type = "image/jpeg"
            width, height = image.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        target.unlink(missing_ok=True)
        raise Unreadable(str(exc)) from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return Photo(target, sha256_of(target), target.stat().st_size, mime_type, width, height)


def sha256_of(path: Path) -> str:
    """The sha256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()
