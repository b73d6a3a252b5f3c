"""The in-app inbox: a person's notifications, newest first, rendered in their language and zone,
and read state as a synced record.

Reading is a fact like any other: a NOTIFICATIONS_READ record (online, ``markNotificationsRead``
is a push of one) names the notifications read, or "everything up to this one" (``throughId``: a
phone offline marks read what it has, never what arrived since on another phone). Applying it sets
``read_at`` where it is still null, for the sender's own notifications only, and puts each changed
row back on the feed, so the person's other phones see it read. Marking twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.errors import DomainError
from backend.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES
from backend.ids import expect_global_id
from backend.models import (
    Employee,
    EmployeeSettings,
    Notification,
    NotificationTemplate,
    RecordStatus,
    Tenant,
)
from backend.services.feed import ChangeSet, Entity
from backend.services.notifications import kinds
from backend.services.notifications.quiet_hours import zone_named
from backend.services.pagination import BigInt, Keyset, Page, check_page_size
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, invalid_payload
from backend.services.records.spec import Field, GlobalId, ListOf, Nullable, Obj
from backend.services.viewer import Viewer
from backend.sql import Params

NOTIFICATIONS_READ = "NOTIFICATIONS_READ"
MAX_IDS = 500  # ids per record: a phone marks a screenful, or "through" the newest it has

INBOX_ORDER: Keyset[Notification] = Keyset("notifications", ("id",), (BigInt,), descending=True)


@dataclass(frozen=True)
class Shown:
    """A notification as its recipient reads it."""

    row: Notification
    title: str
    body: str


@dataclass(frozen=True)
class Reader:
    """How one person reads: their language, their zone, and their company's own wordings."""

    locale: str
    zone: ZoneInfo
    overrides: dict[tuple[str, str], tuple[str, str]]  # (kind, locale) -> (title, body)

    def show(self, row: Notification) -> Shown:
        override = self.overrides.get((row.kind.value, self.locale))
        title, body = kinds.render(row.kind, row.params or {}, self.locale, self.zone, override)
        return Shown(row, title, body)


async def reader_of(tenant_id: int, employee_id: int, locale: str | None = None) -> Reader:
    """The reader for one person: ``locale`` (the caller's) or their app setting; their site's zone,
    else the company's."""
    employee = await Employee.filter(tenant_id=tenant_id, id=employee_id).select_related("site").first()
    tenant = await Tenant.get(id=tenant_id)
    if locale not in SUPPORTED_LOCALES:
        settings = await EmployeeSettings.get_or_none(employee_id=employee_id)
        locale = settings.locale if settings else (employee.locale if employee else None)
    if locale not in SUPPORTED_LOCALES:
        locale = DEFAULT_LOCALE
    site_zone = employee.site.time_zone if employee and employee.site else None
    overrides = {
        (kind, lang): (title, body)
        for kind, lang, title, body in await NotificationTemplate.filter(tenant_id=tenant_id).values_list(
            "kind", "locale", "title", "body"
        )
    }
    # As deliveries read it: a zone this server's tz database lacks falls back to the company's.
    return Reader(str(locale), zone_named(site_zone, tenant.time_zone), overrides)


async def inbox_page(
    viewer: Viewer, first: int, after: str | None, unread_only: bool, max_page_size: int
) -> Page[Notification]:
    """The viewer's notifications, newest first."""
    first = check_page_size(first, max_page_size)
    query = Notification.filter(tenant_id=viewer.tenant_id, recipient_id=viewer.employee_id)
    if unread_only:
        query = query.filter(read_at=None)
    return await INBOX_ORDER.fetch(query, first, after)


async def unread_count(viewer: Viewer) -> int:
    return await Notification.filter(tenant_id=viewer.tenant_id, recipient_id=viewer.employee_id, read_at=None).count()


@dataclass(frozen=True)
class ReadMark:
    """What a NOTIFICATIONS_READ record says: these ids, and/or everything up to ``through``."""

    ids: tuple[int, ...] = ()
    through: int | None = None


READ_PAYLOAD = Obj(
    {
        "ids": Field(
            ListOf(GlobalId("Notification"), max_items=MAX_IDS, description="Notifications read."), default=[]
        ),
        "throughId": Field(Nullable(GlobalId("Notification", "Everything up to this notification is read."))),
    },
    title="NOTIFICATIONS_READ",
    description="At least one of a non-empty ids and a throughId.",
    all_of=[
        {
            "anyOf": [
                {"required": ["ids"], "properties": {"ids": {"minItems": 1}}},
                {"required": ["throughId"], "properties": {"throughId": {"type": "string"}}},
            ]
        }
    ],
)


def parse_mark(payload: Any) -> ReadMark:
    """Payload: ``{"ids": [global ID, …]}`` (at most 500) and/or ``{"throughId": global ID}``."""
    READ_PAYLOAD.check(payload)
    if not isinstance(payload, dict):
        raise invalid_payload("payload")
    raw_ids, raw_through = payload.get("ids", []), payload.get("throughId")
    if not isinstance(raw_ids, list) or len(raw_ids) > MAX_IDS:
        raise invalid_payload("ids")
    if not raw_ids and raw_through is None:
        raise invalid_payload("ids")
    ids = [_notification_id(raw, "ids") for raw in raw_ids]
    through = _notification_id(raw_through, "throughId") if raw_through is not None else None
    return ReadMark(tuple(sorted(set(ids))), through)


def _notification_id(raw: Any, name: str) -> int:
    if not isinstance(raw, str):
        raise invalid_payload(name)
    try:
        return expect_global_id(raw, "Notification", name)
    except DomainError as error:
        raise invalid_payload(name) from error


async def mark_read(
    connection: BaseDBAsyncClient, tenant_id: int, employee_id: int, mark: ReadMark, at: datetime
) -> list[int]:
    """Set ``read_at`` on the person's own unread notifications the mark names; the ids changed."""
    p = Params(connection)
    named = []
    if mark.ids:
        named.append(f"id {p.among(mark.ids, 'bigint')}")
    if mark.through is not None:
        named.append(f"id <= {p(mark.through)}")
    rows = await connection.execute_query_dict(
        f"UPDATE notification SET read_at = {p(at)} "
        f"WHERE tenant_id = {p(tenant_id)} AND recipient_id = {p(employee_id)} AND read_at IS NULL "
        f"AND ({' OR '.join(named)}) RETURNING id",
        p.values,
    )
    return [int(row["id"]) for row in rows]


class NotificationsRead:
    """The NOTIFICATIONS_READ record kind: read state, synced."""

    kind = NOTIFICATIONS_READ

    payload_spec = READ_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> ReadMark:
        return parse_mark(payload)

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        viewer = context.viewer
        outcomes = []
        for parsed in records:
            changed = await mark_read(
                context.connection, viewer.tenant_id, viewer.employee_id, parsed.payload, context.received_at
            )
            for notification_id in changed:
                context.changes.touch(Entity.NOTIFICATION, notification_id, audience=viewer.employee_id)
            outcomes.append(Outcome(RecordStatus.ACCEPTED, result={"marked": len(changed)}))
        return outcomes


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    """The backfiller: every notification is a feed row of its recipient's."""
    for notification_id, recipient_id in await Notification.filter(tenant_id=tenant_id).values_list(
        "id", "recipient_id"
    ):
        changes.touch(Entity.NOTIFICATION, notification_id, audience=recipient_id)
