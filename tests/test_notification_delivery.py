"""Delivery of notifications beyond the app: fan-out to a company's channels less what a person
muted, claims and leases, retries with growing waits, dead letters and HR's retry, quiet hours in
the recipient's zone, the checks made at send time, the worker, and several workers racing (on
PostgreSQL). Against a real HTTP receiver on 127.0.0.1 and a real SMTP server (aiosmtpd); time is
driven by passing ``now``."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import re
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.app import create_app
from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import (
    AuthSession,
    DeliveryChannel,
    DeliveryStatus,
    Device,
    EmployeeSettings,
    Notification,
    NotificationChannelConfig,
    NotificationDelivery,
    NotificationPreference,
    PushPlatform,
    PushToken,
    Site,
)
from backend.services.notifications import inbox, outbox
from backend.services.notifications.channels.base import Transport
from backend.services.notifications.channels.registry import CHANNELS
from backend.services.notifications.channels.webhook import verify_webhook
from backend.services.notifications.quiet_hours import (
    DEFAULT_QUIET_HOURS,
    QuietHours,
    is_quiet,
    next_allowed,
    zone_named,
)
from backend.worker import Worker
from tests.conftest import count_queries
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.notification_receivers import (
    DEAD_LETTERS,
    RETRY_DELIVERY,
    SECRET,
    WebhookReceiver,
    cancelled,
    configure,
    dispatch_all,
    drain,
    email,
    smtp_server,
    tell,
    webhook,
    webhook_receiver,
)
from tests.servers import ROOT

# 12:00 in Shanghai, 10:00 in 乌鲁木齐 (Asia/Urumqi, UTC+6, where LRN works): nobody's quiet hours.
NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


@pytest.fixture
def settings(test_settings: Settings, database_url: str) -> Settings:
    return test_settings.with_overrides(
        database_url=database_url,
        notify_allow_private_hosts=True,
        notify_timeout_seconds=1.0,
        notify_lease_seconds=60,
        notify_max_attempts=4,
        notify_backoff_base_seconds=30,
        notify_backoff_cap_seconds=3600,
        worker_poll_seconds=0.05,
    )


@pytest.fixture
async def transport(settings: Settings) -> AsyncIterator[Transport]:
    made = Worker(settings).transport()  # the worker's own client: addresses checked at connect time
    yield made
    await made.http.aclose()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as running:
        yield running


@pytest.fixture
async def company(password_hash: str) -> AsyncIterator[Company]:
    """A company of its own; afterwards nothing of it is left for another test's worker."""
    made = await make_company(password_hash, courses=False)
    yield made
    tenant_id = made.tenant.id
    await NotificationChannelConfig.filter(tenant_id=tenant_id).update(enabled=False)
    await Notification.filter(tenant_id=tenant_id, dispatched_at=None).update(dispatched_at=NOW)
    await NotificationDelivery.filter(
        tenant_id=tenant_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]
    ).update(status=DeliveryStatus.SKIPPED)


async def deliveries(company: Company) -> list[NotificationDelivery]:
    return await NotificationDelivery.filter(tenant_id=company.tenant.id).select_related("notification").order_by("id")


# --- quiet hours (pure) ------------------------------------------------------------------------


def local(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone_named(zone)).astimezone(UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        # 03:00 in 乌鲁木齐 waits until 08:00 there (02:00 UTC), not 08:00 Beijing time.
        ("Asia/Urumqi", (2026, 3, 10, 3, 0), (2026, 3, 10, 8, 0)),
        # 23:15 in St. John's (UTC−2:30 in summer time) waits until 08:00 the next day.
        ("America/St_Johns", (2026, 7, 10, 23, 15), (2026, 7, 11, 8, 0)),
        # UTC+14: 07:59 in Kiritimati is still night; a minute later it is not.
        ("Pacific/Kiritimati", (2026, 3, 10, 7, 59), (2026, 3, 10, 8, 0)),
        # The evening part of the window: 22:00 sharp is quiet until tomorrow 08:00.
        ("Asia/Shanghai", (2026, 3, 10, 22, 0), (2026, 3, 11, 8, 0)),
        # Daytime is not quiet.
        ("Asia/Shanghai", (2026, 3, 10, 12, 0), (2026, 3, 10, 12, 0)),
        ("Asia/Shanghai", (2026, 3, 10, 8, 0), (2026, 3, 10, 8, 0)),
        # New York's clocks moved forward on 2026-03-08: 08:00 is 12:00 UTC that morning.
        ("America/New_York", (2026, 3, 8, 1, 30), (2026, 3, 8, 8, 0)),
    ],
)
def test_next_allowed_is_the_end_of_the_local_quiet_hours(zone: str, now: tuple, expected: tuple) -> None:
    moment = local(zone, *now)
    allowed = next_allowed(moment, zone_named(zone), DEFAULT_QUIET_HOURS)
    assert allowed == local(zone, *expected)
    assert not is_quiet(allowed, zone_named(zone), DEFAULT_QUIET_HOURS)


def test_quiet_hours_around_daylight_saving_and_skipped_days() -> None:
    new_york = zone_named("America/New_York")
    # A window ending at 02:30 on the night 02:00–03:00 does not exist ends at the jump (03:00 EDT).
    assert next_allowed(local("America/New_York", 2026, 3, 8, 1, 0), new_york, QuietHours(22 * 60, 150)) == datetime(
        2026, 3, 8, 7, 0, tzinfo=UTC
    )
    # 01:00–02:00 happens twice on 2026-11-01: a window ending 01:30 ends at the first 01:30 …
    first = datetime(2026, 11, 1, 1, 10, tzinfo=new_york).astimezone(UTC)
    assert next_allowed(first, new_york, QuietHours(0, 90)) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    # … and, for someone in the second 01:10, at the second one (never before now).
    second = datetime(2026, 11, 1, 1, 10, tzinfo=new_york, fold=1).astimezone(UTC)
    assert next_allowed(second, new_york, QuietHours(0, 90)) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    # Kiritimati skipped 1994-12-31 altogether: its clock went from 30 Dec 23:59 (UTC−10) to
    # 1 Jan 00:00 (UTC+14), still night, so the window ends at 08:00 on 1 January.
    kiritimati = zone_named("Pacific/Kiritimati")
    night = datetime(1994, 12, 30, 23, 0, tzinfo=kiritimati).astimezone(UTC)
    assert next_allowed(night, kiritimati, DEFAULT_QUIET_HOURS).astimezone(kiritimati).replace(tzinfo=None) == (
        datetime(1995, 1, 1, 8, 0)
    )


def test_quiet_hours_shapes() -> None:
    zone = zone_named("Asia/Shanghai")
    at_three = local("Asia/Shanghai", 2026, 3, 10, 3, 0)
    assert next_allowed(at_three, zone, QuietHours(600, 600)) == at_three  # start == end: none
    daytime = QuietHours(12 * 60, 13 * 60)  # a lunch break, not wrapping midnight
    assert next_allowed(local("Asia/Shanghai", 2026, 3, 10, 12, 30), zone, daytime) == local(
        "Asia/Shanghai", 2026, 3, 10, 13, 0
    )
    assert next_allowed(local("Asia/Shanghai", 2026, 3, 10, 11, 59), zone, daytime) == local(
        "Asia/Shanghai", 2026, 3, 10, 11, 59
    )
    with pytest.raises(ValueError):
        QuietHours(0, 24 * 60)
    assert zone_named("Not/A_Zone").key == "Asia/Shanghai"  # a lost zone falls back, never fails a delivery


# --- fan-out -----------------------------------------------------------------------------------


async def test_fan_out_is_the_enabled_channels_less_the_muted_ones(company: Company, receiver) -> None:
    tenant_id = company.tenant.id
    learner, manager, hr = company.employees["LRN"], company.employees["MGR"], company.employees["HR1"]
    await webhook(tenant_id, receiver.url)
    async with smtp_server() as (_, port):
        await email(tenant_id, port)
    await NotificationChannelConfig.create(
        tenant_id=tenant_id, channel=DeliveryChannel.FEISHU, enabled=False, settings={"url": "https://x.invalid/"}
    )
    # LRN does not want cancellations by e-mail (other kinds still come by e-mail).
    await NotificationPreference.create(
        tenant_id=tenant_id, employee_id=learner.id, muted={"SESSION_CANCELLED": ["EMAIL"]}
    )
    await tell(tenant_id, NOW, cancelled(learner.id, "s1"), cancelled(manager.id, "s1"), cancelled(hr.id, "s1"))

    assert await dispatch_all(NOW) >= 3
    chosen = {(d.notification.recipient_id, d.channel) for d in await deliveries(company)}
    assert chosen == {
        (learner.id, DeliveryChannel.WEBHOOK),
        (manager.id, DeliveryChannel.WEBHOOK),
        (manager.id, DeliveryChannel.EMAIL),
        (hr.id, DeliveryChannel.WEBHOOK),
        (hr.id, DeliveryChannel.EMAIL),
    }
    assert all(d.status == DeliveryStatus.PENDING and d.next_attempt_at == NOW for d in await deliveries(company))
    assert await Notification.filter(tenant_id=tenant_id, dispatched_at=None).count() == 0
    # Dispatched once: running it again writes nothing, and the same event told again is no new one.
    await tell(tenant_id, NOW, cancelled(learner.id, "s1"))
    while await outbox.dispatch(NOW):
        pass
    assert len(await deliveries(company)) == 5


async def test_fan_out_costs_the_same_statements_for_few_or_many(company: Company, receiver) -> None:
    tenant_id = company.tenant.id
    people = [company.employees[no].id for no in ("LRN", "MGR", "HR1", "OTH")]
    await webhook(tenant_id, receiver.url)
    while await outbox.dispatch(NOW):  # nothing of another test left waiting
        pass

    async def statements_for(count: int, batch: str) -> int:
        await tell(tenant_id, NOW, *(cancelled(people[i % 4], f"{batch}-{i}") for i in range(count)))
        with count_queries() as statements:
            assert await outbox.dispatch(NOW, limit=500) == count
        return len(statements)

    assert await statements_for(3, "few") == await statements_for(120, "many")
    assert await NotificationDelivery.filter(tenant_id=tenant_id).count() == 123


# --- sending -----------------------------------------------------------------------------------


async def test_each_delivery_is_sent_once_signed_in_the_recipients_language(
    company: Company, receiver, transport: Transport, settings: Settings
) -> None:
    tenant_id = company.tenant.id
    learner, manager = company.employees["LRN"], company.employees["MGR"]
    await EmployeeSettings.create(tenant_id=tenant_id, employee_id=learner.id, locale="en")
    await set_email(manager, "mgr@example.com")
    await webhook(tenant_id, receiver.url)
    async with smtp_server() as (mailbox, port):
        await email(tenant_id, port)
        await tell(tenant_id, NOW, cancelled(learner.id, "once"), cancelled(manager.id, "once"))
        await drain(transport, NOW, settings)
        await drain(transport, NOW + timedelta(hours=1), settings)  # nothing is sent twice

        rows = await deliveries(company)
        assert {(d.notification.recipient_id, d.channel): (d.status, d.attempts, d.sent_at) for d in rows} == {
            (learner.id, DeliveryChannel.WEBHOOK): (DeliveryStatus.SENT, 1, NOW),
            (learner.id, DeliveryChannel.EMAIL): (DeliveryStatus.SKIPPED, 0, None),  # LRN has no e-mail
            (manager.id, DeliveryChannel.WEBHOOK): (DeliveryStatus.SENT, 1, NOW),
            (manager.id, DeliveryChannel.EMAIL): (DeliveryStatus.SENT, 1, NOW),
        }
        sent = [d for d in rows if d.status == DeliveryStatus.SENT]
        hooks = {d.id: d for d in sent if d.channel == DeliveryChannel.WEBHOOK}
        assert sorted(receiver.ids()) == sorted(hooks)
        for request in receiver.requests:
            assert verify_webhook(SECRET, request.headers, request.body, time.time())
        by_recipient = {hooks[r.delivery_id].notification.recipient_id: r.body.decode() for r in receiver.requests}
        assert "Training cancelled" in by_recipient[learner.id]  # LRN reads English
        assert "培训已取消" in by_recipient[manager.id]
        # 02:00 UTC is shown in each one's zone: 08:00 in 乌鲁木齐, 10:00 in Shanghai.
        assert "2026-03-12 08:00" in by_recipient[learner.id] and "2026-03-12 10:00" in by_recipient[manager.id]

        (mail_delivery,) = [d for d in sent if d.channel == DeliveryChannel.EMAIL]
        assert [to for to, _ in mailbox.messages] == [["mgr@example.com"]]
        mail = message_from_bytes(mailbox.messages[0][1], policy=policy.default)
        assert str(mail["Subject"]) == "培训已取消"
        assert str(mail_delivery.id) in str(mail["Message-ID"])


async def set_email(employee, address: str) -> None:
    employee.email = address
    await employee.save(update_fields=["email"])


async def attempt_until_settled(
    delivery_id: int, transport: Transport, settings: Settings, now: datetime, failure: str
) -> tuple[NotificationDelivery, list[float], datetime]:
    """Attempt one delivery, due at ``now`` and the only one due, each time it falls due until it
    is SENT or DEAD. Every attempt counts once; each failed one says ``failure`` and, short of the
    last, waits base·2^(attempts−1) seconds (at most the cap) less up to a quarter of jitter; a
    second before it is due nothing is claimed. The row as it ended, the waits, and when the last
    attempt was made."""
    waits: list[float] = []
    for attempt in range(1, settings.notify_max_attempts + 1):
        assert await outbox.deliver(transport, now, settings=settings) == 1
        row = await NotificationDelivery.get(id=delivery_id)
        assert row.attempts == attempt
        if row.status in (DeliveryStatus.SENT, DeliveryStatus.DEAD):
            assert row.lease_until is None
            return row, waits, now
        assert row.status == DeliveryStatus.PENDING and failure in row.last_error, row.last_error
        wait = (row.next_attempt_at - now).total_seconds()
        full = min(settings.notify_backoff_base_seconds * 2 ** (attempt - 1), settings.notify_backoff_cap_seconds)
        assert 0.75 * full <= wait <= full
        waits.append(wait)
        assert await outbox.deliver(transport, row.next_attempt_at - timedelta(seconds=1), settings=settings) == 0
        now = row.next_attempt_at
    raise AssertionError(f"still {row.status} after {settings.notify_max_attempts} attempts")


async def test_a_failing_receiver_is_retried_at_growing_intervals_then_dead(
    company: Company, receiver, transport: Transport, settings: Settings
) -> None:
    tenant_id = company.tenant.id
    await webhook(tenant_id, receiver.url)
    receiver.answer = lambda n: (500, {}, 0.0)
    await tell(tenant_id, NOW, cancelled(company.employees["MGR"].id, "fail"))
    assert await dispatch_all(NOW) >= 1

    (row,) = await deliveries(company)
    dead, waits, now = await attempt_until_settled(row.id, transport, settings, NOW, "HTTP 500")
    assert dead.status == DeliveryStatus.DEAD and dead.attempts == settings.notify_max_attempts
    assert "HTTP 500" in dead.last_error
    assert waits == sorted(waits) and len(set(waits)) == len(waits)
    assert receiver.ids() == [dead.id] * settings.notify_max_attempts  # the same id on every attempt
    assert await outbox.deliver(transport, now + timedelta(days=1), settings=settings) == 0  # dead stays dead

    # HR sees it among the dead letters, with the reason, and sends it again.
    page = await outbox.dead_letters(tenant_id, 10, None)
    assert [d.id for d in page.items] == [dead.id] and "HTTP 500" in page.items[0].last_error
    assert page.items[0].notification.recipient_id == company.employees["MGR"].id
    receiver.answer = lambda n: (200, {}, 0.0)
    later = now + timedelta(days=1)
    retried = await outbox.retry_delivery(tenant_id, dead.id, later)
    assert (retried.status, retried.attempts, retried.next_attempt_at) == (DeliveryStatus.PENDING, 0, later)
    assert (await outbox.dead_letters(tenant_id, 10, None)).items == []
    await drain(transport, later, settings)
    (sent,) = await deliveries(company)
    assert (sent.status, sent.attempts, sent.sent_at) == (DeliveryStatus.SENT, 1, later)
    assert receiver.ids() == [dead.id] * (settings.notify_max_attempts + 1)

    # Only a dead letter can be retried, and only the company's own.
    with pytest.raises(DomainError) as refused:
        await outbox.retry_delivery(tenant_id, dead.id, later)
    assert refused.value.code == ErrorCode.INVALID_STATUS_CHANGE
    with pytest.raises(DomainError) as missing:
        await outbox.retry_delivery(tenant_id + 1_000_000, dead.id, later)
    assert missing.value.code == ErrorCode.NOT_FOUND


async def test_a_greylisting_mail_server_is_retried_at_growing_intervals_and_gets_the_mail_once(
    company: Company, transport: Transport, settings: Settings
) -> None:
    tenant_id = company.tenant.id
    manager = company.employees["MGR"]
    await set_email(manager, "mgr@example.com")
    async with smtp_server() as (mailbox, port):
        await email(tenant_id, port)
        # "Try again later" to the first three attempts (greylisting), then the mail is taken.
        mailbox.refuse = lambda _: "451 4.7.1 greylisted, try again later" if len(mailbox.asked) <= 3 else None
        await tell(tenant_id, NOW, cancelled(manager.id, "greylisted"))
        assert await dispatch_all(NOW) >= 1
        (row,) = await deliveries(company)
        assert row.channel == DeliveryChannel.EMAIL

        sent, waits, last = await attempt_until_settled(
            row.id, transport, settings, NOW, "the mail server refused the recipient (451)"
        )
        assert (sent.status, sent.attempts, sent.sent_at, sent.last_error) == (DeliveryStatus.SENT, 4, last, "")
        assert len(waits) == 3 and waits == sorted(waits) and len(set(waits)) == 3
        assert mailbox.asked == ["mgr@example.com"] * 4
        assert [to for to, _ in mailbox.messages] == [["mgr@example.com"]]
        mail = message_from_bytes(mailbox.messages[0][1], policy=policy.default)
        assert str(mail["Subject"]) == "培训已取消" and f".{row.id}@" in str(mail["Message-ID"])
        # Sent is sent: a day later nothing goes out again.
        await drain(transport, last + timedelta(days=1), settings)
        assert len(mailbox.messages) == 1 and len(mailbox.asked) == 4


async def test_mail_refused_for_good_or_until_the_last_attempt_is_a_dead_letter_hr_sends_again_once(
    client, company: Company, transport: Transport, settings: Settings
) -> None:
    tenant_id = company.tenant.id
    manager, other = company.employees["MGR"], company.employees["OTH"]
    await set_email(manager, "mgr@example.com")
    await set_email(other, "oth@example.com")
    fixed = False

    def refuse(address: str) -> str | None:
        if fixed:
            return None
        if address.startswith("oth@"):
            return "550 5.1.1 mailbox unavailable"  # permanent: no second attempt
        return "451 4.3.0 queue full, try again later"  # temporary, but every time

    async with smtp_server() as (mailbox, port):
        await email(tenant_id, port)
        mailbox.refuse = refuse
        await tell(tenant_id, NOW, cancelled(other.id, "refused"))
        assert await dispatch_all(NOW) >= 1
        assert await outbox.deliver(transport, NOW, settings=settings) == 1
        (refused,) = await deliveries(company)
        assert (refused.status, refused.attempts) == (DeliveryStatus.DEAD, 1)
        assert refused.last_error == "the mail server refused the recipient (550)"

        await tell(tenant_id, NOW, cancelled(manager.id, "queue-full"))
        assert await dispatch_all(NOW) >= 1
        (waiting,) = [d for d in await deliveries(company) if d.notification.recipient_id == manager.id]
        dead, waits, _ = await attempt_until_settled(
            waiting.id, transport, settings, NOW, "refused the recipient (451)"
        )
        assert (dead.status, dead.attempts) == (DeliveryStatus.DEAD, settings.notify_max_attempts)
        assert dead.last_error == "the mail server refused the recipient (451)"
        assert len(waits) == settings.notify_max_attempts - 1 and waits == sorted(waits)
        assert mailbox.messages == [] and len(mailbox.asked) == 1 + settings.notify_max_attempts

        # HR sees both, with the reason, through the API.
        hr = await token_for(client, company.code, "HR1")
        listed = (await gql(client, DEAD_LETTERS, {"first": 10}, hr))["data"]["notificationDeadLetters"]
        nodes = [edge["node"] for edge in listed["edges"]]
        assert listed["totalCount"] == 2
        assert [(n["recipient"]["employeeNo"], n["channel"], n["status"], n["attempts"]) for n in nodes] == [
            ("MGR", "EMAIL", "DEAD", settings.notify_max_attempts),
            ("OTH", "EMAIL", "DEAD", 1),
        ]
        assert [n["lastError"] for n in nodes] == [dead.last_error, refused.last_error]
        assert all(n["kind"] == "SESSION_CANCELLED" for n in nodes)

        # The mail server is fixed; HR sends both again; each arrives once.
        fixed = True
        for node in nodes:
            again = (await gql(client, RETRY_DELIVERY, {"id": node["id"]}, hr))["data"]["retryNotificationDelivery"]
            assert again["errors"] == [] and again["delivery"]["status"] == "PENDING", again
        # Tomorrow at noon in Shanghai (where both work), after the retry: due, outside quiet hours.
        noon = (datetime.now(UTC) + timedelta(days=1)).replace(hour=4, minute=0, second=0, microsecond=0)
        await drain(transport, noon, settings)
        await drain(transport, noon + timedelta(days=1), settings)
        assert sorted(to for to, _ in mailbox.messages) == [["mgr@example.com"], ["oth@example.com"]]
        outcome = {d.id: (d.status, d.attempts, d.sent_at) for d in await deliveries(company)}
        assert outcome == {
            dead.id: (DeliveryStatus.SENT, 1, noon),
            refused.id: (DeliveryStatus.SENT, 1, noon),
        }
        listed = (await gql(client, DEAD_LETTERS, {"first": 10}, hr))["data"]["notificationDeadLetters"]
        assert listed["totalCount"] == 0


async def test_dead_letters_page_newest_first(company: Company, receiver, transport, settings: Settings) -> None:
    tenant_id = company.tenant.id
    await webhook(tenant_id, receiver.url)
    receiver.answer = lambda n: (410, {}, 0.0)  # Gone: permanent, dead at the first attempt
    people = [company.employees[no].id for no in ("LRN", "MGR", "HR1")]
    await tell(tenant_id, NOW, *(cancelled(person, "gone") for person in people))
    await drain(transport, NOW, settings)
    dead = sorted((d.id for d in await deliveries(company) if d.status == DeliveryStatus.DEAD), reverse=True)
    assert len(dead) == 3 and all(d.attempts == 1 for d in await deliveries(company))
    first = await outbox.dead_letters(tenant_id, 2, None)
    assert [d.id for d in first.items] == dead[:2] and first.has_next_page
    rest = await outbox.dead_letters(tenant_id, 2, first.cursor_of(first.items[-1]))
    assert [d.id for d in rest.items] == dead[2:] and not rest.has_next_page
    assert await (await outbox.dead_letters(tenant_id, 2, None)).count_total() == 3


async def test_retry_after_and_timeouts(company: Company, receiver, transport, settings: Settings) -> None:
    tenant_id = company.tenant.id
    await webhook(tenant_id, receiver.url)
    # 429 with Retry-After: 120 is waited exactly; a receiver that hangs past the timeout is retried.
    receiver.answer = lambda n: (429, {"Retry-After": "120"}, 0.0) if n == 0 else (200, {}, 3.0)
    await tell(tenant_id, NOW, cancelled(company.employees["OTH"].id, "slow"))
    await drain(transport, NOW, settings)
    (row,) = await deliveries(company)
    assert (row.status, row.attempts, row.next_attempt_at) == (DeliveryStatus.PENDING, 1, NOW + timedelta(seconds=120))
    assert "HTTP 429" in row.last_error
    started = time.monotonic()
    assert await outbox.deliver(transport, row.next_attempt_at, settings=settings) == 1
    assert time.monotonic() - started < 2.5  # gave up after the 1 s timeout, not the receiver's 3 s
    (row,) = await deliveries(company)
    assert row.status == DeliveryStatus.PENDING and row.attempts == 2 and "did not answer in time" in row.last_error


async def test_a_crashed_workers_claim_is_taken_over_with_the_same_delivery_id(
    company: Company, receiver, transport, settings: Settings
) -> None:
    tenant_id = company.tenant.id
    await webhook(tenant_id, receiver.url)
    await tell(tenant_id, NOW, cancelled(company.employees["MGR"].id, "crash"))
    assert await dispatch_all(NOW) >= 1
    # A worker claims it, the receiver accepts the message, and the worker dies before recording it.
    (claimed,) = await outbox._claim(NOW, 10, settings.notify_lease_seconds)
    contexts, configs, templates = await outbox._batch_reads([claimed])
    send = outbox._judge(claimed, contexts, configs, templates, NOW)
    assert isinstance(send, outbox._Send)
    await send.channel.send(send.message, send.settings, transport)
    assert receiver.ids() == [claimed.id]

    # While its lease runs, nobody else touches it.
    assert await outbox.deliver(transport, NOW + timedelta(seconds=30), settings=settings) == 0
    # After the lease another worker sends it again, with the same delivery id for the receiver to drop.
    after_lease = NOW + timedelta(seconds=settings.notify_lease_seconds + 1)
    assert await outbox.deliver(transport, after_lease, settings=settings) == 1
    assert receiver.ids() == [claimed.id, claimed.id]
    (row,) = await deliveries(company)
    assert (row.status, row.attempts, row.sent_at) == (DeliveryStatus.SENT, 2, after_lease)
    # The first worker coming back to life cannot overwrite the newer claim's outcome.
    late = outbox.Outcome(claimed, DeliveryStatus.PENDING, claimed.attempts, "late", next_attempt_at=NOW)
    assert await outbox.record([late], after_lease) == 0
    (row,) = await deliveries(company)
    assert row.status == DeliveryStatus.SENT and row.last_error == ""


async def test_push_goes_to_live_devices_and_forgets_tokens_the_service_calls_gone(
    company: Company, receiver, transport, settings: Settings
) -> None:
    tenant_id = company.tenant.id
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    await configure(
        tenant_id,
        DeliveryChannel.PUSH,
        {
            "apnsKeyId": "KEY1234567",
            "apnsTeamId": "TEAM123456",
            "apnsBundleId": "com.example.xuefen",
            "apnsPrivateKey": pem.decode(),
            "apnsApiBase": receiver.url.removesuffix("/hook"),
        },
    )
    live, gone, signed_out = "a1" * 32, "b2" * 32, "c3" * 32  # APNs device tokens are hex
    # APNs answers 410 Unregistered for a token of a phone that dropped the app.
    receiver.answer = lambda n: (
        (410, {"json": {"reason": "Unregistered"}}, 0.0) if gone in receiver.requests[n].path else (200, {}, 0.0)
    )
    phones = {"MGR": (live, False), "OTH": (gone, False), "HR1": (signed_out, True)}
    for no, (token, revoked) in phones.items():
        person = company.employees[no]
        device = await Device.create(tenant_id=tenant_id, employee=person, device_uid=f"phone-{no}")
        await AuthSession.create(
            id=uuid.uuid4(), tenant_id=tenant_id, employee=person, device=device, revoked_at=NOW if revoked else None
        )
        await PushToken.create(
            tenant_id=tenant_id, device=device, employee=person, platform=PushPlatform.APNS, token=token
        )
    # MGR's old tablet dropped the app too: the phone gets the message, the tablet's token goes.
    tablet_token = "d4" * 32
    tablet = await Device.create(tenant_id=tenant_id, employee=company.employees["MGR"], device_uid="tablet-MGR")
    await AuthSession.create(id=uuid.uuid4(), tenant_id=tenant_id, employee=company.employees["MGR"], device=tablet)
    await PushToken.create(
        tenant_id=tenant_id,
        device=tablet,
        employee=company.employees["MGR"],
        platform=PushPlatform.APNS,
        token=tablet_token,
    )
    receiver.answer = lambda n: (
        (410, {"json": {"reason": "Unregistered"}}, 0.0)
        if gone in receiver.requests[n].path or tablet_token in receiver.requests[n].path
        else (200, {}, 0.0)
    )
    await tell(tenant_id, NOW, *(cancelled(company.employees[no].id, "push") for no in phones))
    await drain(transport, NOW, settings)
    outcome = {d.notification.recipient_id: (d.status, d.last_error) for d in await deliveries(company)}
    manager, other, hr = (company.employees[no].id for no in ("MGR", "OTH", "HR1"))
    assert outcome[manager] == (DeliveryStatus.SENT, "")
    assert outcome[other][0] == DeliveryStatus.DEAD  # no device left to try: permanent
    assert outcome[hr] == (DeliveryStatus.SKIPPED, "recipient not addressable on PUSH")  # signed out
    assert sorted(r.path for r in receiver.requests) == sorted(
        f"/3/device/{token}" for token in (live, gone, tablet_token)
    )
    assert sorted(await PushToken.filter(tenant_id=tenant_id).values_list("token", flat=True)) == [live, signed_out]


# --- checks at send time -----------------------------------------------------------------------


async def test_what_no_longer_should_be_sent_is_skipped(company: Company, receiver, transport, settings) -> None:
    tenant_id = company.tenant.id
    learner, manager, other, hr = (company.employees[no] for no in ("LRN", "MGR", "OTH", "HR1"))
    await set_email(manager, "mgr@example.com")
    await webhook(tenant_id, receiver.url)
    async with smtp_server() as (mailbox, port):
        await email(tenant_id, port)
        # Expired by the time it is due; OTH has no e-mail address; HR1 mutes e-mail after dispatch.
        await tell(
            tenant_id,
            NOW,
            cancelled(learner.id, "expired", expires_at=NOW - timedelta(minutes=1)),
            cancelled(other.id, "no-mail"),
            cancelled(hr.id, "muted-later"),
            cancelled(manager.id, "disabled-later"),
        )
        while await outbox.dispatch(NOW):
            pass
        await NotificationPreference.create(
            tenant_id=tenant_id, employee_id=hr.id, muted={"SESSION_CANCELLED": ["EMAIL"]}
        )
        await NotificationChannelConfig.filter(tenant_id=tenant_id, channel=DeliveryChannel.WEBHOOK).update(
            enabled=False
        )
        await drain(transport, NOW, settings)
        outcome = {
            (d.notification.recipient_id, d.channel): (d.status, d.attempts, d.last_error)
            for d in await deliveries(company)
        }
        assert outcome == {
            (learner.id, DeliveryChannel.WEBHOOK): (DeliveryStatus.SKIPPED, 0, "expired before it could be sent"),
            (learner.id, DeliveryChannel.EMAIL): (DeliveryStatus.SKIPPED, 0, "expired before it could be sent"),
            (other.id, DeliveryChannel.WEBHOOK): (DeliveryStatus.SKIPPED, 0, "WEBHOOK channel disabled"),
            (other.id, DeliveryChannel.EMAIL): (DeliveryStatus.SKIPPED, 0, "recipient not addressable on EMAIL"),
            (hr.id, DeliveryChannel.WEBHOOK): (DeliveryStatus.SKIPPED, 0, "WEBHOOK channel disabled"),
            (hr.id, DeliveryChannel.EMAIL): (DeliveryStatus.SKIPPED, 0, "muted by the recipient on EMAIL"),
            (manager.id, DeliveryChannel.WEBHOOK): (DeliveryStatus.SKIPPED, 0, "WEBHOOK channel disabled"),
            (manager.id, DeliveryChannel.EMAIL): (DeliveryStatus.SENT, 1, ""),
        }
        assert receiver.requests == [] and [to for to, _ in mailbox.messages] == [["mgr@example.com"]]


async def test_one_notification_that_cannot_be_worded_never_holds_up_the_others(
    company: Company, receiver, transport, settings
) -> None:
    """A time at the edge of what Python can show in the reader's zone (year 9999, eight hours
    ahead in Shanghai) is shown as written; a row that cannot be worded at all (params not an
    object) is a dead letter of its own. Before, either raised out of ``deliver`` after the claim:
    the whole batch, other companies' messages too, stayed SENDING and was claimed again first
    after every lease, for ever."""
    tenant_id = company.tenant.id
    manager, other, hr = (company.employees[no] for no in ("MGR", "OTH", "HR1"))
    await webhook(tenant_id, receiver.url)
    edge = cancelled(manager.id, "year-9999")
    edge.params["startsAt"] = "9999-12-31T23:00:00+00:00"
    await tell(tenant_id, NOW, edge, cancelled(other.id, "corrupt"), cancelled(hr.id, "fine"))
    await Notification.filter(tenant_id=tenant_id, recipient_id=other.id).update(params=["not", "an", "object"])
    await drain(transport, NOW, settings)
    outcome = {d.notification.recipient_id: (d.status, d.attempts) for d in await deliveries(company)}
    assert outcome == {
        manager.id: (DeliveryStatus.SENT, 1),
        hr.id: (DeliveryStatus.SENT, 1),
        other.id: (DeliveryStatus.DEAD, 1),
    }
    bodies = [request.body.decode() for request in receiver.requests]
    assert len(bodies) == 2 and any("9999-12-31T23:00:00+00:00" in body for body in bodies)
    (dead,) = [d for d in await deliveries(company) if d.status == DeliveryStatus.DEAD]
    assert dead.last_error == "could not be worded (AttributeError)"
    # The inbox shows the edge time as written too.
    reader = await inbox.reader_of(tenant_id, manager.id)
    (row,) = await Notification.filter(tenant_id=tenant_id, recipient_id=manager.id)
    assert "9999-12-31T23:00:00+00:00" in reader.show(row).body


async def test_a_batch_reads_what_it_needs_in_a_fixed_number_of_statements(
    company: Company, receiver, transport, settings
) -> None:
    tenant_id = company.tenant.id
    people = [company.employees[no].id for no in ("LRN", "MGR", "HR1", "OTH")]
    await webhook(tenant_id, receiver.url)
    await tell(tenant_id, NOW, *(cancelled(people[i % 4], f"n{i}") for i in range(60)))
    while await outbox.dispatch(NOW):
        pass
    with count_queries() as statements:
        assert await outbox.deliver(transport, NOW, limit=100, settings=settings) == 60
    # claim, four reads at most, and the outcomes written a few at a time: not one per message
    assert len(statements) <= 12, statements
    assert len(receiver.requests) == 60


# --- quiet hours -------------------------------------------------------------------------------


async def test_a_night_notification_in_urumqi_waits_for_eight_oclock_there(
    company: Company, receiver, transport, settings
) -> None:
    tenant_id = company.tenant.id
    learner = company.employees["LRN"]  # works at the 乌鲁木齐 office; no preferences: 22:00–08:00
    await webhook(tenant_id, receiver.url)
    three_am = local("Asia/Urumqi", 2026, 3, 10, 3, 0)  # 21:00 UTC the day before, 05:00 in Beijing
    eight_am = local("Asia/Urumqi", 2026, 3, 10, 8, 0)
    await tell(tenant_id, three_am, cancelled(learner.id, "night"))
    await drain(transport, three_am, settings)
    (row,) = await deliveries(company)
    assert row.status == DeliveryStatus.PENDING and row.next_attempt_at == eight_am
    await drain(transport, eight_am - timedelta(seconds=1), settings)
    assert receiver.requests == []
    await drain(transport, eight_am, settings)
    assert receiver.ids() == [row.id]
    (row,) = await deliveries(company)
    assert (row.status, row.attempts, row.sent_at) == (DeliveryStatus.SENT, 1, eight_am)


async def test_quiet_hours_follow_each_persons_site_zone(company: Company, receiver, transport, settings) -> None:
    tenant_id = company.tenant.id
    new_york = await Site.create(tenant_id=tenant_id, code="NYC", name="纽约办事处", time_zone="America/New_York")
    shanghai_person, new_york_person, no_quiet = (company.employees[no] for no in ("MGR", "OTH", "HR1"))
    new_york_person.site_id = new_york.id
    await new_york_person.save(update_fields=["site_id"])
    no_quiet.site_id = new_york.id
    await no_quiet.save(update_fields=["site_id"])
    await NotificationPreference.create(  # start == end: no quiet hours
        tenant_id=tenant_id, employee_id=no_quiet.id, quiet_start_minute=600, quiet_end_minute=600
    )
    await webhook(tenant_id, receiver.url)
    # 03:00 UTC: 11:00 in Shanghai, 23:00 the evening before in New York (EDT since 8 March).
    at = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    await tell(tenant_id, at, *(cancelled(p.id, "zones") for p in (shanghai_person, new_york_person, no_quiet)))
    await drain(transport, at, settings)
    due = {d.notification.recipient_id: (d.status, d.next_attempt_at) for d in await deliveries(company)}
    new_york_morning = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 08:00 EDT
    assert due == {
        shanghai_person.id: (DeliveryStatus.SENT, at),
        new_york_person.id: (DeliveryStatus.PENDING, new_york_morning),
        no_quiet.id: (DeliveryStatus.SENT, at),
    }
    await drain(transport, new_york_morning, settings)
    assert len(receiver.requests) == 3


async def test_quiet_hours_set_after_dispatch_hold_the_message_without_counting_an_attempt(
    company: Company, receiver, transport, settings
) -> None:
    tenant_id = company.tenant.id
    person = company.employees["MGR"]  # Shanghai
    await NotificationPreference.create(
        tenant_id=tenant_id, employee_id=person.id, quiet_start_minute=0, quiet_end_minute=0
    )
    await webhook(tenant_id, receiver.url)
    late_evening = local("Asia/Shanghai", 2026, 3, 10, 23, 0)
    await tell(tenant_id, late_evening, cancelled(person.id, "changed"))
    while await outbox.dispatch(late_evening):
        pass
    (row,) = await deliveries(company)
    assert row.next_attempt_at == late_evening  # no quiet hours when it was dispatched
    await NotificationPreference.filter(employee_id=person.id).update(
        quiet_start_minute=22 * 60, quiet_end_minute=8 * 60
    )
    await drain(transport, late_evening, settings)
    (row,) = await deliveries(company)
    next_morning = local("Asia/Shanghai", 2026, 3, 11, 8, 0)
    assert (row.status, row.attempts, row.next_attempt_at) == (DeliveryStatus.PENDING, 0, next_morning)
    assert receiver.requests == []
    await drain(transport, next_morning, settings)
    (row,) = await deliveries(company)
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 1)


# --- the worker --------------------------------------------------------------------------------


async def test_the_worker_fans_out_and_delivers(company: Company, receiver, settings: Settings) -> None:
    tenant_id = company.tenant.id
    await webhook(tenant_id, receiver.url)
    await tell(tenant_id, NOW, *(cancelled(company.employees[no].id, "worker") for no in ("MGR", "HR1")))
    await Worker(settings, clock=lambda: NOW, jobs=()).run(asyncio.Event(), once=True)
    assert sorted(receiver.ids()) == sorted(d.id for d in await deliveries(company))
    assert {d.status for d in await deliveries(company)} == {DeliveryStatus.SENT}


async def test_the_embedded_worker_runs_in_the_servers_lifespan(company: Company, receiver, settings: Settings) -> None:
    tenant_id = company.tenant.id
    await webhook(tenant_id, receiver.url)
    # Its own worker only to leave out the scheduled jobs: they would scan every company of the
    # test database. The app starts and stops it as it does XUEFEN_EMBEDDED_WORKER's.
    app = create_app(settings, manage_db=False, embedded_worker=Worker(settings, jobs=()))
    async with app.router.lifespan_context(app):
        # Told now (the embedded worker runs on the real clock): people at 22:00–08:00 would wait.
        person = company.employees["MGR"]
        await NotificationPreference.create(
            tenant_id=tenant_id, employee_id=person.id, quiet_start_minute=0, quiet_end_minute=0
        )
        await tell(tenant_id, datetime.now(UTC), cancelled(person.id, "embedded"))
        for _ in range(200):
            if receiver.requests:
                break
            await asyncio.sleep(0.05)
    (row,) = await deliveries(company)
    assert receiver.ids() == [row.id] and row.status == DeliveryStatus.SENT


async def test_xuefen_worker_command_stops_cleanly_on_sigterm(company: Company, receiver, database_url: str) -> None:
    tenant_id = company.tenant.id
    await webhook(tenant_id, receiver.url)
    person = company.employees["MGR"]
    await NotificationPreference.create(
        tenant_id=tenant_id, employee_id=person.id, quiet_start_minute=0, quiet_end_minute=0
    )
    await tell(tenant_id, datetime.now(UTC), cancelled(person.id, "command"))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        # --no-jobs: the scheduled jobs would scan every company of the test database
        *("-m", "backend.cli", "worker", "--concurrency", "4", "--no-jobs"),
        cwd=ROOT,
        env={
            **os.environ,
            "XUEFEN_DATABASE_URL": database_url,
            "XUEFEN_NOTIFY_ALLOW_PRIVATE_HOSTS": "true",
            "XUEFEN_WORKER_POLL_SECONDS": "0.1",
            "XUEFEN_LOG_LEVEL": "INFO",
        },
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(400):
            if receiver.requests:
                break
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, errors = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
    log = errors.decode()
    assert process.returncode == 0, log
    assert "notification worker stopped" in log
    assert person.name not in log and "127.0.0.1" not in log  # no personal data, no addresses
    (row,) = await deliveries(company)
    assert receiver.ids() == [row.id] and row.status == DeliveryStatus.SENT


# --- several workers on PostgreSQL -------------------------------------------------------------


@pytest.mark.postgres_only
async def test_workers_racing_deliver_each_message_exactly_once(company: Company, receiver, settings: Settings) -> None:
    # Forty requests in flight on a loaded CI machine can outlast the 1 s timeout the other tests
    # use; a timed-out send is retried later (receivers dedupe by delivery id), which is right but
    # not what this test is about: here every answer must arrive as it was sent.
    settings = dataclasses.replace(settings, notify_timeout_seconds=30.0)
    transport = Worker(settings).transport()
    tenant_id = company.tenant.id
    people = [company.employees[no].id for no in ("LRN", "MGR", "HR1", "OTH")]
    await webhook(tenant_id, receiver.url)
    # Receivers take a moment, so workers' batches overlap in time.
    receiver.answer = lambda n: (200, {}, random.random() * 0.005)
    await tell(tenant_id, NOW, *(cancelled(people[i % 4], f"race-{i}") for i in range(1000)))

    async def dispatcher() -> int:
        dispatched = 0
        while count := await outbox.dispatch(NOW, limit=100):
            dispatched += count
        return dispatched

    # Two fan-outs racing split the notifications between them: none is dispatched twice.
    assert sum(await asyncio.gather(dispatcher(), dispatcher())) >= 1000
    assert await NotificationDelivery.filter(tenant_id=tenant_id).count() == 1000

    async def worker() -> int:
        claimed = 0
        while count := await outbox.deliver(transport, NOW, limit=40, concurrency=10, settings=settings):
            claimed += count
        return claimed

    try:
        claims = await asyncio.gather(*(worker() for _ in range(4)))
    finally:
        await transport.http.aclose()
    assert sum(claims) == 1000 and sum(1 for c in claims if c) >= 2, claims  # they did share the work
    rows = await NotificationDelivery.filter(tenant_id=tenant_id).values_list("id", "status", "attempts", "last_error")
    seen = Counter(receiver.ids())
    assert set(seen) == {row[0] for row in rows}  # every one arrived
    assert set(seen.values()) == {1}  # and exactly once
    outcomes = {(status, attempts) for _, status, attempts, _ in rows}
    assert outcomes == {(DeliveryStatus.SENT, 1)}, {row[3] for row in rows}


@pytest.mark.postgres_only
@pytest.mark.slow
async def test_two_worker_processes_deliver_each_message_exactly_once(
    company: Company, receiver: WebhookReceiver, database_url: str
) -> None:
    """Two `xuefen worker --once` processes on the same PostgreSQL outbox. The receiver holds every
    request until more have arrived than one process sends at a time (its --concurrency): both
    processes hold claims at once (one claims at most a batch of 100 of the 300 before its sends
    are answered). Then each message arrives exactly once, and the deliveries the two processes
    say they handled add up to the messages."""
    tenant_id = company.tenant.id
    people = [company.employees[no] for no in ("LRN", "MGR", "HR1", "OTH")]
    for person in people:  # the workers run on the real clock: no quiet hours to wait for
        await NotificationPreference.create(
            tenant_id=tenant_id, employee_id=person.id, quiet_start_minute=0, quiet_end_minute=0
        )
    await webhook(tenant_id, receiver.url)
    count, concurrency = 300, 10
    now = datetime.now(UTC)
    await tell(tenant_id, now, *(cancelled(people[i % 4].id, f"processes-{i}") for i in range(count)))
    # Fanned out here (two fan-outs racing are the test above): a `--once` worker that starts while
    # the other one's fan-out holds the notifications finds nothing to do yet, and stops.
    assert await dispatch_all(now) >= count
    receiver.gate = asyncio.Event()
    environment = {
        **os.environ,
        "XUEFEN_DATABASE_URL": database_url,
        "XUEFEN_NOTIFY_ALLOW_PRIVATE_HOSTS": "true",
        "XUEFEN_NOTIFY_TIMEOUT": "30",  # held requests must not time out (a retry is not the point)
        "XUEFEN_NOTIFY_LEASE": "120",
        "XUEFEN_LOG_LEVEL": "INFO",
    }
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            # --no-jobs: the scheduled jobs would scan every company of the test database
            *("-m", "backend.cli", "worker", "--once", "--no-jobs", "--concurrency", str(concurrency)),
            cwd=ROOT,
            env=environment,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 40
        while len(receiver.requests) <= concurrency:
            exited = [worker.returncode for worker in workers if worker.returncode is not None]
            assert not exited and time.monotonic() < deadline, (exited, len(receiver.requests))
            await asyncio.sleep(0.05)
        receiver.gate.set()
        logs = [(await asyncio.wait_for(worker.communicate(), 45))[1].decode(errors="replace") for worker in workers]
    finally:
        receiver.gate.set()
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    assert [worker.returncode for worker in workers] == [0, 0], logs
    rows = await NotificationDelivery.filter(tenant_id=tenant_id).values_list("id", "status", "attempts")
    assert len(rows) == count
    seen = Counter(receiver.ids())
    assert set(seen) == {row[0] for row in rows} and set(seen.values()) == {1}  # every one, exactly once
    assert {(status, attempts) for _, status, attempts in rows} == {(DeliveryStatus.SENT, 1)}
    handled = [sum(int(n) for n in re.findall(r"deliveries handled (\d+)", log)) for log in logs]
    assert sum(handled) == count and all(handled), handled


def test_every_channel_is_in_the_registry() -> None:
    assert set(CHANNELS) == set(DeliveryChannel)
