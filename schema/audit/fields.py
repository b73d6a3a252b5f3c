"""Audit log fields: ``auditLog``, HR admins' view of every audited change. Thin: it calls
backend.services.audit."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services import audit
from schema.audit.types import AuditEntry, AuditLogFilter
from schema.connection import Connection
from schema.ids import expect_global_id
from schema.sync.types import utc


def _audit_filter(given: AuditLogFilter | None) -> audit.AuditFilter:
    if given is None:
        return audit.AuditFilter()
    return audit.AuditFilter(
        actor_id=expect_global_id(given.actor_id, "Employee", "filter.actorId") if given.actor_id is not None else None,
        entity=given.entity,
        action=given.action,
        since=utc(given.from_) if given.from_ is not None else None,
        until=utc(given.to) if given.to is not None else None,
    )


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description="The company's audit log, newest first, as a Relay connection (HR admins; anyone else "
        "FORBIDDEN). An actor who is not the company's is NOT_FOUND."
    )
    async def audit_log(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 50,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        filter: Annotated[
            AuditLogFilter | None, strawberry.argument(description="Conditions to narrow the log.")
        ] = None,
    ) -> Connection[AuditEntry]:
        viewer = await info.context.require_viewer()
        page = await audit.audit_log(viewer, _audit_filter(filter), first, after, info.context.settings.max_page_size)
        return Connection[AuditEntry].from_page(page, AuditEntry.from_model)
