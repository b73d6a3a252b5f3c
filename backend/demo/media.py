"""Files the demo company's lessons and evidence are made of, generated on the spot (nothing binary
is kept in the repository): slide decks as PDF and photos as JPEG (Pillow, with a Chinese font when
the system has one), and a short video (ffmpeg, when installed)."""

from __future__ import annotations

import hashlib
import io
import random
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# Where Debian/Ubuntu packages put common Chinese fonts (fonts-wqy-microhei, fonts-noto-cjk).
_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


def _font(size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    """A font for Chinese text if the system has one (True), else Pillow's own (Latin only)."""
    for candidate in _CJK_FONTS:
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, size), True
    return ImageFont.load_default(size), False


def slides_pdf(title: str, points: list[str], fallback_title: str) -> bytes:
    """A small slide deck: a title page and one page per point (A4 landscape at 72 dpi)."""
    heading, chinese = _font(40)
    body, _ = _font(28)
    pages = []
    for number, text in enumerate([title, *points]):
        page = Image.new("RGB", (842, 595), "white")
        draw = ImageDraw.Draw(page)
        draw.rectangle((0, 0, 842, 70), fill=(23, 92, 160))
        draw.text((40, 14), title if chinese else fallback_title, font=heading, fill="white")
        shown = text if chinese else f"Page {number + 1}"
        draw.text((60, 250), shown, font=heading if number == 0 else body, fill=(30, 30, 30))
        draw.text((780, 555), str(number + 1), font=body, fill=(120, 120, 120))
        pages.append(page)
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=72)
    return out.getvalue()


def photo_jpeg(caption: str, seed: int) -> bytes:
    """A "photo" of finished work: a 1600x1200 picture with a caption, as a phone would send it."""
    rng = random.Random(seed)
    image = Image.new("RGB", (1600, 1200), (rng.randrange(150, 220), rng.randrange(150, 220), rng.randrange(150, 220)))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(1600), rng.randrange(1200)
        draw.rectangle((x, y, x + rng.randrange(40, 300), y + rng.randrange(40, 200)), outline=(60, 60, 60), width=4)
    font, chinese = _font(64)
    draw.text((60, 1080), caption if chinese else "work order photo", font=font, fill=(20, 20, 20))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def video_mp4(path: Path, seconds: int = 12, ffmpeg: str = "ffmpeg") -> bool:
    """A short 720p H.264/AAC lesson video (ffmpeg's test pattern and a tone); False without ffmpeg."""
    if shutil.which(ffmpeg) is None:
        return False
    subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=duration={seconds}:size=1280x720:rate=25",
         "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-b:v", "1500k", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "96k", "-shortest", "-movflags", "+faststart", str(path)],
        check=True,
    )  # fmt: skip
    return True


# Captions of the photos E0001's first practice logs carry (demo/ojt.py), in order.
EVIDENCE_PHOTOS = ("拜访记录签字页", "客户现场照片", "需求清单")


@dataclass(frozen=True)
class EvidencePhoto:
    """A demo evidence photo: its place in EVIDENCE_PHOTOS, its bytes, and how a record names it."""

    index: int
    data: bytes

    def id_in(self, tenant_id: int) -> uuid.UUID:
        # Attachment ids are global (a client's UUIDs): each demo company names its own.
        return uuid.uuid5(uuid.NAMESPACE_URL, f"https://xuefen.invalid/demo/{tenant_id}/evidence/{self.index}")

    def named(self, tenant_id: int) -> dict[str, object]:
        return {
            "id": str(self.id_in(tenant_id)),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "sizeBytes": len(self.data),
            "mimeType": "image/jpeg",
            "fileName": f"{EVIDENCE_PHOTOS[self.index]}.jpg",
        }


@cache
def evidence_photo(index: int) -> EvidencePhoto:
    """The demo's ``index``-th evidence photo (the same bytes every time)."""
    return EvidencePhoto(index, photo_jpeg(EVIDENCE_PHOTOS[index], seed=index))
