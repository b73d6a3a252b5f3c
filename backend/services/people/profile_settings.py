"""An employee's app settings: the first mutable thing, and the model for later ones.

Policy for mutable things (docs/sync-protocol.md): a write names the version it was based on; it
is applied only if that is still the current version (a conditional update, so it holds across
server processes), otherwise the answer is CONFLICT with the server's copy. Nothing is merged
silently.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import F

from backend.errors import ErrorCode
from backend.i18n import SUPPORTED_LOCALES
from backend.models import EmployeeSettings, RecordStatus
from backend.services.feed import Entity
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, invalid_payload
from backend.services.records.spec import Field, Int, Obj, OneOf
from backend.sql import db_time, placeholders

SETTINGS_CHANGED = "SETTINGS_CHANGED"


def settings_copy(settings: EmployeeSettings | None) -> dict[str, Any]:
    """The server copy a client sees (also what a CONFLICT carries)."""
    if settings is None:
        return {"version": 0, "locale": "zh-CN"}
    return {"version": settings.version, "locale": settings.locale}


SETTINGS_PAYLOAD = Obj(
    {
        "baseVersion": Field(Int(0, description="The settings version this change was made on (0: none yet)."), True),
        "locale": Field(OneOf(SUPPORTED_LOCALES, description="The app's language."), True),
    },
    title="SETTINGS_CHANGED",
)


class SettingsChanged:
    """Payload: ``{"baseVersion": n, "locale": "zh-CN" | "en"}``."""

    kind = SETTINGS_CHANGED

    payload_spec = SETTINGS_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> tuple[int, str]:
        SETTINGS_PAYLOAD.check(payload)
        if not isinstance(payload, dict):
            raise invalid_payload("payload")
        base, locale = payload.get("baseVersion"), payload.get("locale")
        if isinstance(base, bool) or not isinstance(base, int) or base < 0:
            raise invalid_payload("baseVersion")
        if locale not in SUPPORTED_LOCALES:
            raise invalid_payload("locale")
        return base, locale

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        viewer, connection = context.viewer, context.connection
        outcomes = []
        for parsed in records:  # in sequence order: each write builds on the one before
            base, locale = parsed.payload
            if await _write_if_version(context, base, locale):
                outcomes.append(Outcome(RecordStatus.ACCEPTED))
                context.changes.touch(Entity.PROFILE, viewer.employee_id, audience=viewer.employee_id)
            else:
                current = await EmployeeSettings.get_or_none(employee_id=viewer.employee_id, using_db=connection)
                outcomes.append(
                    Outcome(RecordStatus.CONFLICT, ErrorCode.VERSION_CONFLICT, server_version=settings_copy(current))
                )
        return outcomes


async def _write_if_version(context: ApplyContext, base: int, locale: str) -> bool:
    viewer, connection = context.viewer, context.connection
    if base == 0:
        # ON CONFLICT DO NOTHING, not try/except: a failed INSERT would abort the transaction.
        # execute_query_dict, not execute_query: Tortoise's asyncpg client runs an INSERT through
        # execute() and returns no RETURNING rows, so the write would look like a conflict.
        now = db_time(connection, context.received_at)
        rows = await connection.execute_query_dict(
            "INSERT INTO employee_settings (tenant_id, employee_id, locale, version, created_at, updated_at) "
            f"VALUES ({placeholders(connection, 6)}) ON CONFLICT (employee_id) DO NOTHING RETURNING id",
            [viewer.tenant_id, viewer.employee_id, locale, 1, now, now],
        )
        return bool(rows)
    updated = (
        await EmployeeSettings.filter(tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, version=base)
        .using_db(connection)
        .update(locale=locale, version=F("version") + 1)
    )
    return updated == 1
