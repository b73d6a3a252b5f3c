"""Feed rows for the viewer's certificates (see mobile_sync/entities.py for the contract).

A CERTIFICATE row goes to its holder only: the program, the number, the status derived today (in
the company's time zone), the dates, the public verification page's path (``/verify/<code>``, on the
server's public address) and where the app downloads the
PDF (``pdfPath``, with its bearer token, to keep it for offline use). A renewal or a revocation
sends the row again; the status a day turns expired is worked out by the app from ``expiresOn``.
"""

from __future__ import annotations

from backend.ids import to_global_id
from backend.models import Certificate
from backend.services.certificates import documents
from backend.services.certificates.queries import today_of
from backend.services.certificates.status import CertificateStatus, status_of
from backend.services.feed import Entity
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, ints, iso
from mobile_sync.shapes import DAY, INT, MOMENT, TEXT, enum, gid, opt, row


async def _certificates(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    rows = await Certificate.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, id__in=ints(ids)
    ).select_related("program")
    today = await today_of(viewer.tenant_id)
    found = {
        r.id: {
            "id": to_global_id("Certificate", r.id),
            "programId": to_global_id("CertificateProgram", r.program_id),
            "programName": r.program.name,
            "number": documents.number_of(r, r.program),
            "status": status_of(r, today).value,
            "issuedOn": r.issued_on.isoformat(),
            "expiresOn": r.expires_on.isoformat() if r.expires_on else None,
            "renewedCount": r.renewed_count,
            "lastRenewedOn": r.last_renewed_on.isoformat() if r.last_renewed_on else None,
            "revokedAt": iso(r.revoked_at),
            "verificationPath": f"/verify/{r.code}",
            "pdfPath": documents.pdf_path(r.id),
        }
        for r in rows
    }
    return {i: found.get(int(i)) if i.isdigit() else None for i in ids}


LOADERS: dict[Entity, Loader] = {Entity.CERTIFICATE: _certificates}
GLOBAL_TYPES: dict[Entity, str] = {Entity.CERTIFICATE: "Certificate"}

SHAPES = {
    Entity.CERTIFICATE: row(
        id=gid("Certificate"),
        programId=gid("CertificateProgram"),
        programName=TEXT,
        number=TEXT,
        status=enum(CertificateStatus),
        issuedOn=DAY,
        expiresOn=opt(DAY),
        renewedCount=INT,
        lastRenewedOn=opt(DAY),
        revokedAt=opt(MOMENT),
        verificationPath=TEXT,
        pdfPath=TEXT,
    ),
}
