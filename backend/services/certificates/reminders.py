"""CERTIFICATE_EXPIRING, a scheduled job: the holder is told 30 days and again 7 days before a
certificate's expiry date (the company's local dates), once each.

The event key names the certificate, its expiry date and the threshold
(``certificate:<id>:expiring:<date>:<30|7>``), so a rerun tells nobody twice, a job that first sees
a certificate 5 days before sends only the 7-day notice, and a renewal (a new expiry date) starts
a new pair. Revoked certificates, expired ones and inactive people are not told.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.ids import to_global_id
from backend.models import Certificate, NotificationKind, Tenant
from backend.services.certificates.status import local_today
from backend.services.notifications import standalone
from backend.services.notifications.notices import Notice

THRESHOLDS = (30, 7)  # days before the expiry date, widest first


def expiring_key(certificate_id: int, expires_on: object, threshold: int) -> str:
    return f"certificate:{certificate_id}:expiring:{expires_on}:{threshold}"


async def certificates_expiring(tenant_id: int, now: datetime) -> int:
    """Tell the company's holders of certificates expiring within 30 days; how many were new."""
    tenant = await Tenant.filter(id=tenant_id).first()
    if tenant is None:
        return 0
    today = local_today(tenant.time_zone, now)
    rows = (
        await Certificate.filter(
            tenant_id=tenant_id,
            revoked_at__isnull=True,
            expires_on__gte=today,
            expires_on__lte=today + timedelta(days=THRESHOLDS[0]),
            employee__is_active=True,
        )
        .select_related("program")
        .order_by("id")
    )
    told = []
    for row in rows:
        assert row.expires_on is not None
        days = (row.expires_on - today).days
        threshold = min(t for t in THRESHOLDS if days <= t)
        told.append(
            Notice(
                NotificationKind.CERTIFICATE_EXPIRING,
                row.employee_id,
                expiring_key(row.id, row.expires_on.isoformat(), threshold),
                {"certificate": row.program.name, "expiresOn": row.expires_on.isoformat(), "days": days},
                to_global_id("Certificate", row.id),
            )
        )
    return await standalone.tell(tenant_id, told, now)
