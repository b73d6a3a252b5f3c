"""The audit log: HR-visible changes, appended in the writer's own transaction, and read by HR
admins page by page, newest first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.errors import DomainError, ErrorCode
from backend.models import AuditEntry, Employee, Role
from backend.services.pagination import BigInt, Keyset, Page, check_page_size
from backend.services.validation import text
from backend.services.viewer import Viewer
from backend.sql import db_time, insert_many


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


AUDIT_COLUMNS = {
    "tenant_id": "int",
    "actor_id": "int",
    "action": "text",
    "entity": "text",
    "entity_id": "text",
    "details": "jsonb",
    "at": "timestamptz",
}


async def audit_many(
    connection: BaseDBAsyncClient,
    tenant_id: int,
    actor_id: int | None,
    entries: Sequence[tuple[str, str, object, dict[str, Any]]],
    now: datetime,
) -> None:
    """Append many entries ``(action, entity, entity id, details)`` in one statement: what ``audit``
    writes one at a time, for bulk writes (imports, batches of activation codes)."""
    at = db_time(connection, now)
    await insert_many(
        connection,
        "audit_entry",
        AUDIT_COLUMNS,
        [
            (tenant_id, actor_id, action, entity, str(entity_id), json.dumps(details, ensure_ascii=False), at)
            for action, entity, entity_id, details in entries
        ],
    )


# --- reading the log (HR admins) --------------------------------------------------------------

# Newest first; entries written in the same instant follow their ids (64-bit).
AUDIT_ORDER: Keyset[AuditEntry] = Keyset("audit", ("at", "id"), (datetime, BigInt), descending=True)
MAX_ENTITY = 32  # AuditEntry.entity
MAX_ACTION = 64  # AuditEntry.action


@dataclass(frozen=True)
class AuditFilter:
    """What the log may be narrowed by; every condition given must hold. ``since`` is inclusive,
    ``until`` exclusive."""

    actor_id: int | None = None
    entity: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def audit_log(
    viewer: Viewer, audit_filter: AuditFilter, first: int, after: str | None, max_page_size: int
) -> Page[AuditEntry]:
    """A page of the tenant's audit log, newest first (HR admins; anyone else FORBIDDEN). An actor
    of another tenant looks missing (NOT_FOUND); ``until`` not after ``since`` is VALIDATION."""
    viewer.require_role(Role.HR_ADMIN)  # before any input is read
    first = check_page_size(first, max_page_size)
    tenant_id = viewer.tenant_id
    query = AuditEntry.filter(tenant_id=tenant_id)
    if audit_filter.entity is not None:
        query = query.filter(entity=text(audit_filter.entity, "filter.entity", MAX_ENTITY))
    if audit_filter.action is not None:
        query = query.filter(action=text(audit_filter.action, "filter.action", MAX_ACTION))
    if audit_filter.since is not None:
        query = query.filter(at__gte=audit_filter.since)
    if audit_filter.until is not None:
        if audit_filter.since is not None and audit_filter.until <= audit_filter.since:
            raise DomainError(ErrorCode.VALIDATION, field="filter.to", reason_key="reason.ends_before_start")
        query = query.filter(at__lt=audit_filter.until)
    if audit_filter.actor_id is not None:
        if not await Employee.filter(tenant_id=tenant_id, id=audit_filter.actor_id).exists():
            raise DomainError(ErrorCode.NOT_FOUND)
        query = query.filter(actor_id=audit_filter.actor_id)
    return await AUDIT_ORDER.fetch(query, first, after)
