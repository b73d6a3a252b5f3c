"""HR's one decision on a certificate: revoking it, with a reason, once (ALREADY_REVOKED after
that: final). Audited; the holder is told (CERTIFICATE_REVOKED) and their phone's row follows.
From then on the public page answers "revoked" and no completion brings it back."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import Certificate, NotificationKind, Role
from backend.services.audit import audit
from backend.services.feed import ChangeSet, Entity
from backend.services.notifications.notices import Notice
from backend.services.validation import text
from backend.services.viewer import Viewer

MAX_REASON = 2000


async def revoke(viewer: Viewer, certificate_id: int, reason: object, now: datetime | None = None) -> Certificate:
    viewer.require_role(Role.HR_ADMIN)
    why = text(reason, "reason", MAX_REASON)
    now = now or datetime.now(UTC)
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        row = (
            await Certificate.filter(tenant_id=tenant_id, id=certificate_id)
            .select_for_update()
            .using_db(connection)
            .first()
        )
        if row is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="id")
        if row.revoked_at is not None:
            raise DomainError(ErrorCode.ALREADY_REVOKED, field="id")
        row.revoked_at, row.revoke_reason, row.revoked_by_id = now, why, viewer.employee_id
        await row.save(
            using_db=connection, update_fields=["revoked_at", "revoke_reason", "revoked_by_id", "updated_at"]
        )
        await audit(
            connection,
            viewer,
            tenant_id,
            "certificate.revoke",
            "Certificate",
            row.id,
            {"employeeId": row.employee_id, "programId": row.program_id, "reason": why},
        )
        await row.fetch_related("program", using_db=connection)
        changes = ChangeSet(tenant_id)
        changes.touch(Entity.CERTIFICATE, row.id, audience=row.employee_id)
        changes.notify(
            Notice(
                NotificationKind.CERTIFICATE_REVOKED,
                row.employee_id,
                f"certificate:{row.id}:revoked",
                {"certificate": row.program.name, "reason": why},
                to_global_id("Certificate", row.id),
            )
        )
        await changes.publish(connection, now)
    return row
