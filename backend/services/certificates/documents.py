"""A certificate as its holder carries it: the PDF and its download link, and what the public
verification page may say (``public_view``: the holder's name, the certificate, its dates and
status, and the issuing company; nothing else about the person)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from backend import signing
from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import Certificate, CertificateProgram, Employee, Tenant
from backend.services.certificates import pdf
from backend.services.certificates.badges import verify_url
from backend.services.certificates.status import CertificateStatus, local_today, status_of

CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # what issue.new_code makes
LINK_KIND = "c1"  # signed PDF links (backend/signing.py)
LINK_TTL_SECONDS = 10 * 60


def number_of(certificate: Certificate, program: CertificateProgram) -> str:
    """The certificate number printed on it: the program's code and the row's id."""
    return f"{program.code}-{certificate.id:06d}"


@dataclass(frozen=True)
class PublicView:
    holder: str
    program: str
    company: str
    number: str
    issued_on: date
    expires_on: date | None
    status: CertificateStatus


async def public_view(code: str, now: datetime | None = None) -> PublicView | None:
    """What /verify/<code> shows; None for a code no certificate has (malformed ones included,
    refused before the database is asked)."""
    if not CODE_PATTERN.fullmatch(code):  # fullmatch: ``$`` alone would let a trailing newline through
        return None
    row = await Certificate.filter(code=code).select_related("program").first()
    if row is None:
        return None
    tenant = await Tenant.get(id=row.tenant_id)
    holder = await Employee.filter(id=row.employee_id).first().values_list("name", flat=True)
    return PublicView(
        holder=str(holder or ""),
        program=row.program.name,
        company=tenant.name,
        number=number_of(row, row.program),
        issued_on=row.issued_on,
        expires_on=row.expires_on,
        status=status_of(row, local_today(tenant.time_zone, now)),
    )


async def render_pdf(settings: Settings, certificate: Certificate) -> bytes:
    """The certificate's PDF (pdf.FontMissing when no CJK font is installed)."""
    program = await CertificateProgram.get(id=certificate.program_id)
    tenant = await Tenant.get(id=certificate.tenant_id)
    holder = await Employee.filter(id=certificate.employee_id).first().values_list("name", flat=True)
    printed = pdf.Printed(
        company=tenant.name,
        holder=str(holder or ""),
        program=program.name,
        number=number_of(certificate, program),
        issued_on=certificate.issued_on,
        expires_on=certificate.expires_on,
        renewed_on=certificate.last_renewed_on,
        verify_url=verify_url(settings, certificate.code),
    )
    font = pdf.font_path(settings.certificate_font)
    return await asyncio.to_thread(pdf.render, printed, font)


def pdf_path(certificate_id: int) -> str:
    """Where the PDF is fetched with the app's bearer token (the feed carries it)."""
    return f"/certificates/{certificate_id}.pdf"


def pdf_link(settings: Settings, tenant_id: int, certificate_id: int, now: datetime | None = None) -> str:
    """A signed link to the PDF for a browser (no token), working for ten minutes."""
    expires = signing.expiry(now or datetime.now(UTC), LINK_TTL_SECONDS)
    key = signing.sign(settings.keys, LINK_KIND, [tenant_id, certificate_id, expires])
    return f"{pdf_path(certificate_id)}?k={key}"


def check_link(settings: Settings, key: str, certificate_id: int, now: datetime | None = None) -> int:
    """The tenant a signed PDF link is for; UNAUTHENTICATED for a bad, altered or expired one or one
    for another certificate."""
    try:
        tenant_id, signed_id, expires = signing.unsign(settings.keys, LINK_KIND, key)
    except (ValueError, TypeError):
        raise DomainError(ErrorCode.UNAUTHENTICATED) from None
    moment = (now or datetime.now(UTC)).timestamp()
    if signed_id != certificate_id or not isinstance(expires, int) or expires < moment:
        raise DomainError(ErrorCode.UNAUTHENTICATED)
    return int(tenant_id)
