"""Audit log types: one entry (who did what to which row, when) and the filter of the log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from backend import models
from schema.people.types import Colleague


@strawberry.type(description="One HR-visible change in the audit log: who did what to which row, and when.")
class AuditEntry:
    id: strawberry.ID = strawberry.field(
        description="Number of the entry in the log (not a node ID): later entries have larger numbers."
    )
    action: str = strawberry.field(description="What was done, e.g. `rubric.create` or `credits.adjust`.")
    entity: str = strawberry.field(description="Kind of row it was done to, e.g. `Rubric`.")
    entity_id: str = strawberry.field(description="ID of that row as stored (a database id or a key).")
    at: datetime = strawberry.field(description="When it was done (UTC).")
    details: JSON = strawberry.field(
        description="What changed, as the writer recorded it (before/after values, reasons); never personal "
        "data, passwords, codes or tokens."
    )
    _row: strawberry.Private[models.AuditEntry]

    @strawberry.field(
        description="Who did it (name and number); null for the system (imports, scheduled jobs, the CLI)."
    )
    async def actor(self, info: strawberry.Info) -> Colleague | None:
        if self._row.actor_id is None:
            return None
        row = await (await info.context.loaders()).employee.load(self._row.actor_id)
        return Colleague.from_model(row) if row else None

    @classmethod
    def from_model(cls, row: models.AuditEntry) -> AuditEntry:
        details: Any = row.details
        return cls(
            id=strawberry.ID(str(row.id)),
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            at=row.at,
            details=details,
            _row=row,
        )


@strawberry.input(description="Conditions narrowing the audit log; every one given must hold.")
class AuditLogFilter:
    actor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global ID of the employee who made the changes."
    )
    entity: str | None = strawberry.field(default=None, description="Kind of row, exactly, e.g. `Rubric`.")
    action: str | None = strawberry.field(default=None, description="Action, exactly, e.g. `rubric.create`.")
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Entries at or after this time (with an offset)."
    )
    to: datetime | None = strawberry.field(
        default=None, description="Entries before this time (with an offset); must be after `from`."
    )
