"""The outbox, the worker's side: fan-out to channels, claim, send, retry, dead letters.

A notification is written by the transaction of the fact that causes it (notifications.notices),
with ``dispatched_at`` null. Then a worker:

1. ``dispatch``: claims undispatched notifications, oldest first (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL, so several workers split them), and in the same transaction chooses their channels
   (the company's enabled channels, less those the recipient muted for the kind) and writes one
   ``notification_delivery`` per channel (``ON CONFLICT (notification_id, channel) DO NOTHING``),
   due when the recipient's quiet hours allow, then sets ``dispatched_at``. Four statements per
   batch whatever its size.
2. ``deliver``: claims due deliveries with one statement (PENDING and due, or SENDING whose lease
   ran out: a worker died holding it) by setting them SENDING with a lease and counting the
   attempt, commits, reads what the batch needs in a constant number of statements, re-checks
   each at send time (expired, channel disabled or muted since, recipient not addressable:
   SKIPPED; inside quiet hours now: back to PENDING when they end, the attempt not counted), sends
   concurrently (bounded), and records the outcomes with conditional updates (``WHERE status =
   'SENDING' AND attempts = <the claimed count>``: a worker whose lease ran out cannot overwrite
   the claim of the one that took over). A failure is retried after ``base·2^(attempts−1)`` seconds
   (at most the cap, with jitter; or the receiver's Retry-After), within quiet hours, until the
   last attempt: then DEAD with the reason. A permanent failure is DEAD at once.

At most once per (event, person, channel): the notification is unique per (recipient,
event_key), its delivery per (notification, channel), and only the worker whose claim set the row
SENDING sends it. The one window: a worker that dies (or loses its lease) after the receiver
accepted a message but before SENT is recorded. After the lease another worker sends it again,
with the same delivery id (webhook ``X-Xuefen-Delivery``, e-mail ``Message-ID``, push collapse
id), so a receiver that remembers ids drops the copy. docs/notification-delivery.md says more.

HR's side: ``dead_letters`` (the company's DEAD deliveries, newest first) and ``retry_delivery``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES
from backend.models import (
    DeliveryChannel,
    DeliveryStatus,
    NotificationDelivery,
    NotificationKind,
)
from backend.observability import metrics
from backend.services.audit import audit
from backend.services.notifications import kinds, push_tokens
from backend.services.notifications.channels.base import (
    Channel,
    DeliveryFailed,
    OutboundMessage,
    Recipient,
    Transport,
)
from backend.services.notifications.channels.push import PushFailed
from backend.services.notifications.channels.registry import CHANNELS, kinds_carried
from backend.services.notifications.quiet_hours import DEFAULT_QUIET_HOURS, QuietHours, next_allowed, zone_named
from backend.services.pagination import BigInt, Keyset, Page, check_page_size
from backend.services.viewer import Viewer
from backend.sql import Params, db_time, insert_many

LOG = logging.getLogger("xuefen.notifications")

JITTER = 0.25  # a retry waits its backoff less up to this share, so a burst of failures spreads out
# A claimed batch must be sent well within its lease, or another worker could take it over while
# a send is still running: what is not sent by this share of the lease goes back unsent.
LEASE_SHARE = 0.8
# Outcomes are recorded as sends finish, a few at a time: the window in which a worker dying loses
# the record of a message that arrived stays this short, without a statement per message.
RECORD_EVERY_SECONDS = 0.05
RECORD_CHUNK = 1000

_DELIVERY_COLUMNS = {
    "tenant_id": "int",
    "notification_id": "bigint",
    "channel": "text",
    "status": "text",
    "attempts": "int",
    "next_attempt_at": "timestamptz",
    "last_error": "text",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


def _moment(value: Any) -> datetime | None:
    """A timestamp as read by plain SQL: a datetime on PostgreSQL, ISO text on SQLite."""
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    if value is None or isinstance(value, (dict, list)):
        return value
    return orjson.loads(value)


def _quiet_of(row: dict[str, Any]) -> QuietHours:
    """The recipient's quiet hours; the defaults without a preference row (or with a stored pair
    outside a day, which the preferences service never writes)."""
    start, end = row.get("quiet_start_minute"), row.get("quiet_end_minute")
    if start is None or end is None:
        return DEFAULT_QUIET_HOURS
    try:
        return QuietHours(int(start), int(end))
    except ValueError:
        return DEFAULT_QUIET_HOURS


def _muted_on(muted: Any, kind: str) -> set[str]:
    channels = (_json(muted) or {}).get(kind) or []
    return {str(channel) for channel in channels}


# --- 1. fan-out ------------------------------------------------------------------------------


async def dispatch(now: datetime, limit: int = 500) -> int:
    """Fan out up to ``limit`` undispatched notifications, oldest first, in one transaction;
    returns how many were dispatched (0: none waiting)."""
    now = now.astimezone(UTC)  # SQLite compares times as text: always written in UTC
    async with in_transaction() as connection:
        postgres = connection.capabilities.dialect == "postgres"
        p = Params(connection)
        # The company's zone when the recipient's site has none; the preference row, if any.
        claimed = await connection.execute_query_dict(
            "SELECT n.id, n.tenant_id, n.kind, COALESCE(s.time_zone, t.time_zone) AS zone, "
            "pr.muted, pr.quiet_start_minute, pr.quiet_end_minute "
            "FROM notification n "
            "JOIN tenant t ON t.id = n.tenant_id "
            "JOIN employee e ON e.id = n.recipient_id AND e.tenant_id = n.tenant_id "
            "LEFT JOIN site s ON s.id = e.site_id AND s.tenant_id = n.tenant_id "
            "LEFT JOIN notification_preference pr ON pr.employee_id = n.recipient_id AND pr.tenant_id = n.tenant_id "
            f"WHERE n.dispatched_at IS NULL ORDER BY n.id LIMIT {p(limit)}"
            + (" FOR UPDATE OF n SKIP LOCKED" if postgres else ""),
            p.values,
        )
        if not claimed:
            return 0
        tenants = sorted({int(row["tenant_id"]) for row in claimed})
        p = Params(connection)
        # Each company's enabled channels with the kinds each carries.
        enabled: dict[int, list[tuple[str, frozenset[str]]]] = {}
        for row in await connection.execute_query_dict(
            "SELECT tenant_id, channel, kinds FROM notification_channel_config "
            f"WHERE tenant_id {p.among(tenants, 'int')} AND enabled = {p(True)} ORDER BY tenant_id, channel",
            p.values,
        ):
            carried = kinds_carried(DeliveryChannel(row["channel"]), _json(row["kinds"]))
            enabled.setdefault(int(row["tenant_id"]), []).append((str(row["channel"]), carried))
        at = db_time(connection, now)
        due_at: dict[tuple[str, QuietHours], object] = {}  # one computation per zone and window
        rows = []
        for row in claimed:
            channels = enabled.get(int(row["tenant_id"]), [])
            if not channels:
                continue
            muted = _muted_on(row["muted"], str(row["kind"]))
            quiet = _quiet_of(row)
            key = (str(row["zone"]), quiet)
            if key not in due_at:
                due_at[key] = db_time(connection, next_allowed(now, zone_named(key[0]), quiet))
            kind = str(row["kind"])
            rows += [
                (row["tenant_id"], row["id"], channel, DeliveryStatus.PENDING.value, 0, due_at[key], "", at, at)
                for channel, carried in channels
                if channel not in muted and kind in carried
            ]
        await insert_many(
            connection,
            "notification_delivery",
            _DELIVERY_COLUMNS,
            rows,
            on_conflict="ON CONFLICT (notification_id, channel) DO NOTHING",
        )
        p = Params(connection)
        await connection.execute_query(
            f"UPDATE notification SET dispatched_at = {p(now)}, updated_at = {p(now)} "
            f"WHERE id {p.among([int(row['id']) for row in claimed], 'bigint')}",
            p.values,
        )
    if rows:
        LOG.debug("dispatched %d notifications to %d deliveries", len(claimed), len(rows))
    return len(claimed)


# --- 2. delivery -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker claimed: ``attempts`` counts this attempt."""

    id: int
    tenant_id: int
    notification_id: int
    channel: DeliveryChannel
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """What becomes of a claimed delivery. ``attempts`` is what the row keeps (the claim's
    count, or one less when nothing was attempted); ``next_attempt_at`` only for PENDING."""

    claimed: Claimed
    status: DeliveryStatus
    attempts: int
    error: str = ""
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Retrying:
    """How often and how long to try (Settings.notify_*)."""

    max_attempts: int = 8
    base_seconds: float = 30
    cap_seconds: float = 6 * 3600
    lease_seconds: float = 120

    @classmethod
    def of(cls, settings: Settings) -> Retrying:
        return cls(
            settings.notify_max_attempts,
            settings.notify_backoff_base_seconds,
            settings.notify_backoff_cap_seconds,
            settings.notify_lease_seconds,
        )

    def backoff(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """How long to wait after the ``attempts``-th failed attempt: the receiver's Retry-After
        when it gave one, else base·2^(attempts−1) less up to ``JITTER`` of it; never over the cap."""
        if retry_after is not None:
            return timedelta(seconds=min(max(retry_after, 0.0), self.cap_seconds))
        delay = min(self.base_seconds * 2.0 ** max(attempts - 1, 0), self.cap_seconds)
        return timedelta(seconds=delay * (1 - JITTER * random.random()))  # spreads retries; not a secret


@dataclass(frozen=True)
class _Context:
    """What one claimed delivery needs to be judged and sent, read for the whole batch."""

    notification: dict[str, Any]
    recipient: Recipient
    zone: str
    quiet: QuietHours
    locale: str
    tenant_code: str


async def _claim(now: datetime, limit: int, lease_seconds: float) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries with one statement, committed on its own."""
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    p = Params(connection)
    sending, pending = p(DeliveryStatus.SENDING.value), p(DeliveryStatus.PENDING.value)
    at = p(now)
    lease = p(now + timedelta(seconds=lease_seconds))
    rows = await connection.execute_query_dict(
        f"UPDATE notification_delivery SET status = {sending}, lease_until = {lease}, "
        f"attempts = attempts + 1, updated_at = {at} "
        "WHERE id IN (SELECT id FROM notification_delivery "
        f"WHERE (status = {pending} AND next_attempt_at <= {at}) OR (status = {sending} AND lease_until < {at}) "
        f"ORDER BY next_attempt_at, id LIMIT {p(limit)}" + (" FOR UPDATE SKIP LOCKED)" if postgres else ")") + " "
        "RETURNING id, tenant_id, notification_id, channel, attempts",
        p.values,
    )
    return [
        Claimed(
            int(row["id"]),
            int(row["tenant_id"]),
            int(row["notification_id"]),
            DeliveryChannel(row["channel"]),
            int(row["attempts"]),
        )
        for row in rows
    ]


def _locale(*choices: Any) -> str:
    for choice in choices:
        if isinstance(choice, str) and choice:
            if choice in SUPPORTED_LOCALES:
                return choice
            if choice.lower().startswith("zh"):
                return "zh-CN"
            if choice.lower().startswith("en"):
                return "en"
    return DEFAULT_LOCALE


async def _contexts(connection: BaseDBAsyncClient, claimed: Sequence[Claimed]) -> dict[int, _Context]:
    """Each claimed notification with its recipient, zone, preferences and locale: one statement."""
    p = Params(connection)
    rows = await connection.execute_query_dict(
        "SELECT n.id, n.tenant_id, n.kind, n.params, n.subject_id, n.expires_at, n.created_at, "
        "e.id AS employee_id, e.employee_no, e.name, e.email, e.phone, e.is_active, e.locale, "
        "es.locale AS settings_locale, COALESCE(s.time_zone, t.time_zone) AS zone, t.code AS tenant_code, "
        "pr.muted, pr.quiet_start_minute, pr.quiet_end_minute "
        "FROM notification n "
        "JOIN tenant t ON t.id = n.tenant_id "
        "JOIN employee e ON e.id = n.recipient_id AND e.tenant_id = n.tenant_id "
        "LEFT JOIN site s ON s.id = e.site_id AND s.tenant_id = n.tenant_id "
        "LEFT JOIN employee_settings es ON es.employee_id = e.id AND es.tenant_id = n.tenant_id "
        "LEFT JOIN notification_preference pr ON pr.employee_id = e.id AND pr.tenant_id = n.tenant_id "
        f"WHERE n.id {p.among(sorted({c.notification_id for c in claimed}), 'bigint')}",
        p.values,
    )
    found: dict[int, _Context] = {}
    for row in rows:
        recipient = Recipient(
            employee_id=int(row["employee_id"]),
            employee_no=str(row["employee_no"]),
            name=str(row["name"]),
            email=row["email"] or None,
            phone=row["phone"] or None,
        )
        found[int(row["id"])] = _Context(
            notification=row,
            recipient=recipient,
            zone=str(row["zone"]),
            quiet=_quiet_of(row),
            locale=_locale(row["settings_locale"], row["locale"]),
            tenant_code=str(row["tenant_code"]),
        )
    return found


async def _batch_reads(
    claimed: Sequence[Claimed],
) -> tuple[dict[int, _Context], dict[tuple[int, str], dict[str, Any]], dict[tuple[int, str, str], tuple[str, str]]]:
    """Everything a batch needs, in three statements whatever its size: the notifications with
    their recipients, the companies' channel settings, their own templates; and the push tokens
    when the batch has push deliveries."""
    connection = connections.get("default")
    contexts = await _contexts(connection, claimed)
    tenants = sorted({c.tenant_id for c in claimed})
    p = Params(connection)
    configs = {
        (int(row["tenant_id"]), str(row["channel"])): row
        for row in await connection.execute_query_dict(
            "SELECT tenant_id, channel, enabled, settings FROM notification_channel_config "
            f"WHERE tenant_id {p.among(tenants, 'int')}",
            p.values,
        )
    }
    p = Params(connection)
    kinds_seen = sorted({str(context.notification["kind"]) for context in contexts.values()})
    templates: dict[tuple[int, str, str], tuple[str, str]] = {}
    if kinds_seen:
        for row in await connection.execute_query_dict(
            "SELECT tenant_id, kind, locale, title, body FROM notification_template "
            f"WHERE tenant_id {p.among(tenants, 'int')} AND kind {p.among(kinds_seen, 'text')}",
            p.values,
        ):
            templates[(int(row["tenant_id"]), str(row["kind"]), str(row["locale"]))] = (
                str(row["title"]),
                str(row["body"]),
            )
    # Push tokens of devices with a live sign-in, by push_tokens' own rule: two statements per
    # company with push deliveries in the batch (one company, nearly always).
    pushed: dict[int, set[int]] = {}
    for c in claimed:
        if c.channel == DeliveryChannel.PUSH and c.notification_id in contexts:
            pushed.setdefault(c.tenant_id, set()).add(contexts[c.notification_id].recipient.employee_id)
    for tenant_id, people in pushed.items():
        tokens = await push_tokens.tokens_of(tenant_id, sorted(people))
        for notification_id, context in list(contexts.items()):
            found = tokens.get(context.recipient.employee_id)
            if found and int(context.notification["tenant_id"]) == tenant_id:
                recipient = replace(context.recipient, push_tokens=tuple(found))
                contexts[notification_id] = replace(context, recipient=recipient)
    return contexts, configs, templates


@dataclass(frozen=True)
class _Send:
    claimed: Claimed
    channel: Channel
    message: OutboundMessage
    settings: dict[str, Any]
    zone: str
    quiet: QuietHours


def _judge(
    claimed: Claimed,
    contexts: dict[int, _Context],
    configs: dict[tuple[int, str], dict[str, Any]],
    templates: dict[tuple[int, str, str], tuple[str, str]],
    now: datetime,
) -> Outcome | _Send:
    """A claimed delivery, re-checked at send time: an outcome without sending, or what to send."""
    uncounted = claimed.attempts - 1  # nothing was attempted
    context = contexts.get(claimed.notification_id)
    if context is None:  # cannot happen: a delivery's notification is deleted with it
        return Outcome(claimed, DeliveryStatus.SKIPPED, uncounted, "notification gone")
    row = context.notification
    expires_at = _moment(row["expires_at"])
    if expires_at is not None and expires_at < now:
        return Outcome(claimed, DeliveryStatus.SKIPPED, uncounted, "expired before it could be sent")
    config = configs.get((claimed.tenant_id, claimed.channel.value))
    channel = CHANNELS.get(claimed.channel)
    if config is None or not config["enabled"] or channel is None:
        return Outcome(claimed, DeliveryStatus.SKIPPED, uncounted, f"{claimed.channel.value} channel disabled")
    kind = str(row["kind"])
    if claimed.channel.value in _muted_on(row["muted"], kind):
        return Outcome(claimed, DeliveryStatus.SKIPPED, uncounted, f"muted by the recipient on {claimed.channel.value}")
    if not row["is_active"]:
        return Outcome(claimed, DeliveryStatus.SKIPPED, uncounted, "recipient no longer active")
    settings = _json(config["settings"]) or {}
    if not channel.addressable(context.recipient, settings):
        return Outcome(
            claimed,
            DeliveryStatus.SKIPPED,
            uncounted,
            f"recipient not addressable on {claimed.channel.value}",
        )
    zone = zone_named(context.zone)
    allowed = next_allowed(now, zone, context.quiet)
    if allowed > now:  # quiet hours began (or were changed) since the delivery was due
        return Outcome(claimed, DeliveryStatus.PENDING, uncounted, next_attempt_at=allowed)
    notification_kind = NotificationKind(kind)
    locale = context.locale if context.locale in kinds.KINDS[notification_kind].templates else DEFAULT_LOCALE
    params = _json(row["params"]) or {}
    title, body = kinds.render(
        notification_kind, params, locale, zone, templates.get((claimed.tenant_id, kind, locale))
    )
    created_at = _moment(row["created_at"]) or now
    message = OutboundMessage(
        delivery_id=claimed.id,
        tenant_code=context.tenant_code,
        kind=kind,
        title=title,
        body=body,
        locale=locale,
        recipient=context.recipient,
        created_at=created_at,
        subject_id=row["subject_id"],
        params=params,
    )
    return _Send(claimed, channel, message, settings, context.zone, context.quiet)


def _failed(send: _Send, failure: DeliveryFailed, now: datetime, retrying: Retrying) -> Outcome:
    claimed = send.claimed
    if failure.permanent or claimed.attempts >= retrying.max_attempts:
        return Outcome(claimed, DeliveryStatus.DEAD, claimed.attempts, failure.reason)
    retry_at = now + retrying.backoff(claimed.attempts, failure.retry_after)
    retry_at = next_allowed(retry_at, zone_named(send.zone), send.quiet)
    return Outcome(claimed, DeliveryStatus.PENDING, claimed.attempts, failure.reason, next_attempt_at=retry_at)


async def _send_one(send: _Send, transport: Transport, deadline: float, now: datetime, retrying: Retrying) -> Outcome:
    remaining = deadline - time.monotonic()
    if remaining <= 0:  # its turn came too late in the lease: back unsent, the attempt not counted
        return Outcome(send.claimed, DeliveryStatus.PENDING, send.claimed.attempts - 1, next_attempt_at=now)
    try:
        async with asyncio.timeout(remaining):
            sent = await send.channel.send(send.message, send.settings, transport)
    except PushFailed as failure:
        if failure.stale_tokens:  # devices the push service says are gone: never tried again
            await push_tokens.drop(send.claimed.tenant_id, [token for _, token in failure.stale_tokens])
        return _failed(send, failure, now, retrying)
    except DeliveryFailed as failure:
        return _failed(send, failure, now, retrying)
    except TimeoutError:
        return _failed(send, DeliveryFailed("timed out"), now, retrying)
    except Exception as error:  # a channel's bug: its class only (a message may carry personal data)
        LOG.warning("notification channel %s raised %s", send.claimed.channel.value, type(error).__name__)
        return _failed(send, DeliveryFailed(f"unexpected error: {type(error).__name__}"), now, retrying)
    if sent is not None and sent.stale_tokens:  # delivered to one device, another's token is gone
        await push_tokens.drop(send.claimed.tenant_id, [token for _, token in sent.stale_tokens])
    return Outcome(send.claimed, DeliveryStatus.SENT, send.claimed.attempts, sent_at=now)


async def record(outcomes: Sequence[Outcome], now: datetime) -> int:
    """Write outcomes with one conditional update: only rows still SENDING with the attempt count
    of the claim change (a row another worker took over after our lease ran out is theirs).
    Returns how many were written."""
    if len(outcomes) > RECORD_CHUNK:  # SQLite takes at most 32,766 parameters in a statement
        return sum([await record(outcomes[i : i + RECORD_CHUNK], now) for i in range(0, len(outcomes), RECORD_CHUNK)])
    if not outcomes:
        return 0
    connection = connections.get("default")
    p = Params(connection)
    table = p.rows(
        [
            (
                o.claimed.id,
                o.claimed.attempts,
                o.status.value,
                o.attempts,
                o.next_attempt_at,
                o.error[:500],
                o.sent_at,
            )
            for o in outcomes
        ],
        ("bigint", "int", "text", "int", "timestamptz", "text", "timestamptz"),
    )
    rows = await connection.execute_query_dict(
        f"WITH r (id, claimed, status, attempts, next_at, error, sent_at) AS ({table}) "
        "UPDATE notification_delivery SET status = r.status, attempts = r.attempts, "
        "next_attempt_at = COALESCE(r.next_at, notification_delivery.next_attempt_at), "
        f"last_error = r.error, sent_at = r.sent_at, lease_until = NULL, updated_at = {p(now)} "
        f"FROM r WHERE notification_delivery.id = r.id AND notification_delivery.status = {p(DeliveryStatus.SENDING.value)} "
        "AND notification_delivery.attempts = r.claimed RETURNING notification_delivery.id",
        p.values,
    )
    written = {row["id"] for row in rows}
    metrics.count_deliveries([(o.claimed.channel.value, o.status.value) for o in outcomes if o.claimed.id in written])
    if len(rows) < len(outcomes):
        LOG.warning("%d delivery outcomes not recorded: their lease ran out first", len(outcomes) - len(rows))
    return len(rows)


async def deliver(
    transport: Transport,
    now: datetime,
    limit: int = 100,
    concurrency: int = 20,
    *,
    settings: Settings | None = None,
) -> int:
    """Claim up to ``limit`` due deliveries, send them (``concurrency`` at a time) and record the
    outcomes; returns how many were claimed (0: nothing due). Outcomes are judged at ``now``."""
    retrying = Retrying.of(settings or Settings())
    started = time.monotonic()
    claimed = await _claim(now, limit, retrying.lease_seconds)
    if not claimed:
        return 0
    deadline = started + retrying.lease_seconds * LEASE_SHARE
    contexts, configs, templates = await _batch_reads(claimed)
    outcomes: list[Outcome] = []
    sends: list[_Send] = []
    for one in claimed:
        try:
            judged = _judge(one, contexts, configs, templates, now)
        except Exception as error:  # one row that cannot be worded must not hold up the batch
            LOG.warning("notification delivery could not be prepared: %s", type(error).__name__)
            judged = Outcome(one, DeliveryStatus.DEAD, one.attempts, f"could not be worded ({type(error).__name__})")
        if isinstance(judged, _Send):
            sends.append(judged)
        else:
            outcomes.append(judged)
    await record(outcomes, now)
    await _send_all(sends, transport, deadline, now, retrying, concurrency)
    return len(claimed)


async def _send_all(
    sends: list[_Send], transport: Transport, deadline: float, now: datetime, retrying: Retrying, concurrency: int
) -> None:
    """Send concurrently, recording outcomes a few at a time as they finish."""
    if not sends:
        return
    gate = asyncio.Semaphore(max(1, concurrency))
    finished: list[Outcome] = []
    arrived, all_arrived = asyncio.Event(), asyncio.Event()
    count = 0

    async def one(send: _Send) -> None:
        nonlocal count
        async with gate:
            outcome = await _send_one(send, transport, deadline, now, retrying)
        finished.append(outcome)
        count += 1
        arrived.set()
        if count == len(sends):
            all_arrived.set()

    tasks = [asyncio.create_task(one(send)) for send in sends]
    recorded = 0
    try:
        while recorded < len(sends):
            await arrived.wait()
            # Let a few more finish, so that one statement records them; the last one ends the wait.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_arrived.wait(), RECORD_EVERY_SECONDS)
            batch, finished[:] = list(finished), []
            arrived.clear()
            await record(batch, now)
            recorded += len(batch)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- 3. HR: dead letters -----------------------------------------------------------------------

DEAD_LETTERS: Keyset[NotificationDelivery] = Keyset("deadLetter", ("id",), (BigInt,), descending=True)


async def dead_letters(
    tenant_id: int, first: int, after: str | None, max_page_size: int = 100
) -> Page[NotificationDelivery]:
    """The company's dead letters, newest first, each with its notification (``last_error`` says
    why it died)."""
    check_page_size(first, max_page_size)
    query = NotificationDelivery.filter(tenant_id=tenant_id, status=DeliveryStatus.DEAD).select_related("notification")
    return await DEAD_LETTERS.fetch(query, first, after)


async def retry_delivery(
    tenant_id: int, delivery_id: int, now: datetime, viewer: Viewer | None = None
) -> NotificationDelivery:
    """Send a dead letter again: DEAD → PENDING, due now (quiet hours still apply when it is sent),
    its attempts counted from zero; ``last_error`` stays until the next outcome. A conditional
    update, so two HR admins retrying at once retry it once. Audited."""
    async with in_transaction() as connection:
        changed = (
            await NotificationDelivery.filter(tenant_id=tenant_id, id=delivery_id, status=DeliveryStatus.DEAD)
            .using_db(connection)
            .update(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, lease_until=None, updated_at=now)
        )
        delivery = (
            await NotificationDelivery.filter(tenant_id=tenant_id, id=delivery_id)
            .using_db(connection)
            .select_related("notification")
            .first()
        )
        if delivery is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        if not changed:
            raise DomainError(
                ErrorCode.INVALID_STATUS_CHANGE,
                field="id",
                status=delivery.status.value,
                to=DeliveryStatus.PENDING.value,
            )
        await audit(
            connection,
            viewer,
            tenant_id,
            "notifications.delivery.retry",
            "NotificationDelivery",
            delivery.id,
            {"channel": delivery.channel.value, "lastError": delivery.last_error},
        )
    return delivery
