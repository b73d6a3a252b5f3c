"""The audit log: HR-visible changes, appended in the writer's own transaction."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.models import AuditEntry
from backend.services.viewer import Viewer


async def audit(
    connection: BaseDBAsyncClient,
    viewer: Viewer | None,
    tenant_id: int,
    action: str,
    entity: str,
    entity_id: object,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one HR-visible change (who, what, which row, why) to the audit log."""
    await AuditEntry.create(
        tenant_id=tenant_id,
        actor_id=viewer.employee_id if viewer else None,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        details=details or {},
        using_db=connection,
    )
