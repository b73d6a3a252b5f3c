"""The printable certificate: one A4 landscape page (fpdf2), the company's name, the holder's name,
the program, issue and expiry dates, the certificate number and a QR code of the public
verification URL (``/verify/<code>``), with a TrueType font holding Chinese glyphs embedded
(subset: only the glyphs used), so it prints the same on any machine.

The font is ``XUEFEN_CERTIFICATE_FONT`` (a .ttf, or a .ttc collection: its first face), else the first
of ``FONT_CANDIDATES`` found (Debian's fonts-wqy-microhei, installed by the Dockerfile and .ci/run).
fpdf2 embeds TrueType outlines only: a CFF-flavoured OpenType font (Noto Sans CJK's .otf/.ttc) is
not one of them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import qrcode
from fpdf import FPDF

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


class FontMissing(RuntimeError):
    """No font with Chinese glyphs to embed: install fonts-wqy-microhei or set XUEFEN_CERTIFICATE_FONT."""


def font_path(configured: str) -> Path:
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise FontMissing(f"XUEFEN_CERTIFICATE_FONT={configured} is not a file")
        return path
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing("no CJK TrueType font found: install fonts-wqy-microhei or set XUEFEN_CERTIFICATE_FONT")


@dataclass(frozen=True)
class Printed:
    """What the page says (all of it public: it is what the verification page shows, plus the company)."""

    company: str
    holder: str
    program: str
    number: str
    issued_on: date
    expires_on: date | None
    renewed_on: date | None
    verify_url: str


def qr_png(text: str) -> bytes:
    image = qrcode.make(text, box_size=10, border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def render(printed: Printed, font: Path) -> bytes:
    """The PDF's bytes (CPU work: run it in a thread)."""
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(f"{printed.program} · {printed.number}")
    pdf.set_author(printed.company)
    pdf.set_creator("Xuefen")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    # A .ttc collection: its first face (fpdf2 ignores the number for a plain .ttf).
    pdf.add_font("cjk", fname=str(font), collection_font_number=0)
    pdf.set_draw_color(150, 120, 60)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    pdf.set_line_width(0.3)
    pdf.rect(14, 14, 269, 182)

    def line(text: str, size: float, y: float, x: float = 14, width: float = 269, align: str = "C") -> None:
        pdf.set_font("cjk", size=size)
        pdf.set_xy(x, y)
        pdf.cell(width, size * 0.5, text, align=align)

    line(printed.company, 16, 26)
    line("证 书", 36, 42)
    line("CERTIFICATE", 14, 60)
    line("兹证明 This certifies that", 13, 76)
    line(printed.holder, 28, 88)
    line("已完成培训并取得 has completed the training for", 13, 108)
    line(printed.program, 22, 120)
    expiry = printed.expires_on.isoformat() if printed.expires_on else "长期有效 No expiry"
    details = [
        f"证书编号 Certificate No.: {printed.number}",
        f"颁发日期 Issued: {printed.issued_on.isoformat()}",
        f"有效期至 Valid through: {expiry}",
    ]
    if printed.renewed_on is not None:
        details.append(f"最近复训 Last renewed: {printed.renewed_on.isoformat()}")
    for index, text in enumerate(details):
        line(text, 11, 146 + index * 8, x=30, width=170, align="L")
    pdf.image(io.BytesIO(qr_png(printed.verify_url)), x=226, y=136, w=44, h=44)
    line("扫码验证 Scan to verify", 9, 182, x=214, width=68)
    line(printed.verify_url, 7, 188, x=20, width=257)
    return bytes(pdf.output())
