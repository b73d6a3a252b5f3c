"""How one person wants to be told: kinds muted per channel, and quiet hours.

A mutable thing with the policy of the app settings (docs/sync-protocol.md): a write names the
version it was based on and applies only if that is still current (a conditional update, so it
holds across server processes), else VERSION_CONFLICT. The in-app inbox is never muted: it is
where everything can be found again. Quiet hours are minutes after local midnight in the
person's site time zone (start == end: none); outbound messages wait until they end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import DeliveryChannel, NotificationKind, NotificationPreference
from backend.services.viewer import Viewer
from backend.sql import db_time, insert_many

DEFAULT_QUIET = (22 * 60, 8 * 60)
_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "muted": "jsonb",
    "quiet_start_minute": "smallint",
    "quiet_end_minute": "smallint",
    "version": "int",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Preferences:
    muted: dict[str, list[str]]  # kind -> channels it is not sent on
    quiet_start_minute: int
    quiet_end_minute: int
    version: int


def preferences_copy(row: NotificationPreference | None) -> Preferences:
    if row is None:
        return Preferences({}, *DEFAULT_QUIET, 0)
    return Preferences(dict(row.muted or {}), row.quiet_start_minute, row.quiet_end_minute, row.version)


async def preferences_of(viewer: Viewer) -> Preferences:
    return preferences_copy(await NotificationPreference.get_or_none(employee_id=viewer.employee_id))


def check_muted(muted: dict[str, list[str]]) -> dict[str, list[str]]:
    """Known kinds and outbound channels only, each listed once; kinds muted nowhere dropped."""
    clean: dict[str, list[str]] = {}
    for kind, channels in muted.items():
        if kind not in NotificationKind.__members__:
            raise DomainError(ErrorCode.VALIDATION, field="muted.kind", reason_key="reason.field", name=kind[:64])
        for channel in channels:
            if channel not in DeliveryChannel.__members__:
                raise DomainError(
                    ErrorCode.VALIDATION, field="muted.channels", reason_key="reason.field", name=channel[:64]
                )
        if channels:
            clean[kind] = sorted(set(channels))
    return clean


def check_minute(value: int, name: str) -> int:
    if isinstance(value, bool) or not 0 <= value < MINUTES_PER_DAY:
        raise DomainError(ErrorCode.VALIDATION, field=name, reason_key="reason.field", name=name)
    return value


async def update(
    viewer: Viewer, base_version: int, muted: dict[str, list[str]], quiet_start: int, quiet_end: int
) -> Preferences:
    """Replace the viewer's preferences if ``base_version`` is still theirs (0: none yet)."""
    muted = check_muted(muted)
    quiet_start = check_minute(quiet_start, "quietStartMinute")
    quiet_end = check_minute(quiet_end, "quietEndMinute")
    async with in_transaction() as connection:
        if base_version == 0:
            # ON CONFLICT DO NOTHING: a failed INSERT would abort the transaction on PostgreSQL.
            now = datetime.now(UTC)
            written = bool(
                await insert_many(
                    connection,
                    "notification_preference",
                    _COLUMNS,
                    [
                        (viewer.tenant_id, viewer.employee_id, orjson.dumps(muted).decode(), quiet_start, quiet_end, 1)
                        + (db_time(connection, now),) * 2
                    ],
                    on_conflict="ON CONFLICT (employee_id) DO NOTHING",
                    returning="id",
                )
            )
        else:
            written = (
                await NotificationPreference.filter(
                    tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, version=base_version
                )
                .using_db(connection)
                .update(
                    muted=muted,
                    quiet_start_minute=quiet_start,
                    quiet_end_minute=quiet_end,
                    version=F("version") + 1,
                )
            ) == 1
    current = await preferences_of(viewer)
    if not written:
        raise DomainError(ErrorCode.VERSION_CONFLICT)
    return current
