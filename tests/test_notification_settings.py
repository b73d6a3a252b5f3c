"""HR's notification channels through the API: settings checked, secrets write-only and kept,
versions, roles, and a test message that really reaches a local receiver."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from backend.app import create_app
from backend.config import Settings
from backend.models import AuditEntry, NotificationChannelConfig, NotificationDelivery, NotificationKind
from backend.services.notifications.channels.addresses import outbound_client
from backend.services.notifications.channels.base import Transport
from backend.services.notifications.channels.webhook import verify_webhook
from backend.services.notifications.notices import Notice
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.notification_receivers import (
    DEAD_LETTERS,
    RETRY_DELIVERY,
    WebhookReceiver,
    cancelled,
    dispatch_all,
    drain,
    tell,
    webhook,
    webhook_receiver,
)

SECRET = "whsec-" + "fedcba9876543210" * 3

CHANNELS = """
query { notificationChannels { channel configured enabled settings secretsSet version } }
"""
CONFIGURE = """
mutation C($input: ConfigureNotificationChannelInput!) {
  configureNotificationChannel(input: $input) {
    channel { channel configured enabled settings secretsSet version }
    errors { code field message }
  }
}
"""
TEST = """
mutation T($channel: DeliveryChannel!) {
  testNotificationChannel(channel: $channel) { delivered failure errors { code } }
}
"""


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as app:
        yield app


@pytest.fixture
async def on_premise(database_url: str, test_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app of a company whose receivers are on its own network (private hosts allowed)."""
    settings = test_settings.with_overrides(database_url=database_url, notify_allow_private_hosts=True)
    app = create_app(settings, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://xuefen.test") as http:
        yield http


@pytest.fixture
async def company(password_hash: str) -> Company:
    return await make_company(password_hash, courses=False)


def _webhook(body: dict) -> dict:
    return {"channel": "WEBHOOK", **body}


async def test_hr_configures_a_webhook_with_a_write_only_secret(
    on_premise: httpx.AsyncClient, company: Company, receiver: WebhookReceiver
) -> None:
    hr = await token_for(on_premise, company.code, "HR1")
    listed = (await gql(on_premise, CHANNELS, token=hr))["data"]["notificationChannels"]
    assert {row["channel"] for row in listed} == {"EMAIL", "PUSH", "WECOM", "DINGTALK", "FEISHU", "WEBHOOK"}
    assert all(not row["configured"] and row["version"] == 0 for row in listed)

    url = receiver.url
    given = _webhook({"enabled": True, "version": 0, "settings": {"url": url, "secret": SECRET}})
    done = (await gql(on_premise, CONFIGURE, {"input": given}, hr))["data"]["configureNotificationChannel"]
    assert done["errors"] == []
    assert done["channel"]["secretsSet"] == ["secret"] and SECRET not in str(done)
    assert done["channel"]["settings"]["url"] == url and done["channel"]["version"] == 1

    # Changing the URL without retyping the secret keeps it; a stale version is refused.
    moved = _webhook({"enabled": True, "version": 1, "settings": {"url": receiver.url + "2"}})
    done = (await gql(on_premise, CONFIGURE, {"input": moved}, hr))["data"]["configureNotificationChannel"]
    assert done["errors"] == [] and done["channel"]["secretsSet"] == ["secret"]
    stored = await NotificationChannelConfig.get(tenant_id=company.tenant.id, channel="WEBHOOK")
    assert stored.settings["secret"] == SECRET and stored.version == 2
    stale = (await gql(on_premise, CONFIGURE, {"input": moved}, hr))["data"]["configureNotificationChannel"]
    assert stale["errors"][0]["code"] == "VERSION_CONFLICT"
    # The audit log has the change, never the secret.
    details = await AuditEntry.filter(
        tenant_id=company.tenant.id, action="notifications.channel.configure"
    ).values_list("details", flat=True)
    assert len(details) == 2 and SECRET not in str(details)

    # A short secret, an unknown setting, a non-object: VALIDATION naming the setting.
    for wrong in ({"url": url, "secret": "short"}, {"url": url, "secret": SECRET, "sercet": "x"}, ["url"]):
        bad = _webhook({"enabled": True, "version": 2, "settings": wrong})
        answer = (await gql(on_premise, CONFIGURE, {"input": bad}, hr))["data"]["configureNotificationChannel"]
        assert answer["errors"][0]["code"] == "VALIDATION", wrong

    # The test message reaches the receiver, signed as a receiver checks it.
    tested = (await gql(on_premise, TEST, {"channel": "WEBHOOK"}, hr))["data"]["testNotificationChannel"]
    assert tested == {"delivered": True, "failure": None, "errors": []}
    [seen] = receiver.requests
    assert verify_webhook(SECRET, seen.headers, seen.body, time.time())
    receiver.answer = lambda _: (500, {}, 0.0)
    failed = (await gql(on_premise, TEST, {"channel": "WEBHOOK"}, hr))["data"]["testNotificationChannel"]
    assert failed["delivered"] is False and "500" in failed["failure"]
    not_set = (await gql(on_premise, TEST, {"channel": "EMAIL"}, hr))["data"]["testNotificationChannel"]
    assert not_set["errors"] == [{"code": "NOT_FOUND"}]


async def test_only_hr_admins_see_or_change_channels(client: httpx.AsyncClient, company: Company) -> None:
    for who in ("LRN", "MGR"):
        token = await token_for(client, company.code, who)
        body = await gql(client, CHANNELS, token=token)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        given = _webhook(
            {"enabled": True, "version": 0, "settings": {"url": "https://example.com/x", "secret": SECRET}}
        )
        answer = (await gql(client, CONFIGURE, {"input": given}, token))["data"]["configureNotificationChannel"]
        assert answer["errors"][0]["code"] == "FORBIDDEN"
    assert await NotificationChannelConfig.filter(tenant_id=company.tenant.id).count() == 0


async def test_the_server_refuses_to_call_its_own_network_by_default(
    client: httpx.AsyncClient, company: Company, receiver: WebhookReceiver
) -> None:
    hr = await token_for(client, company.code, "HR1")
    given = _webhook({"enabled": True, "version": 0, "settings": {"url": receiver.url, "secret": SECRET}})
    await gql(client, CONFIGURE, {"input": given}, hr)
    tested = (await gql(client, TEST, {"channel": "WEBHOOK"}, hr))["data"]["testNotificationChannel"]
    assert tested["delivered"] is False and tested["failure"]
    assert receiver.requests == []


async def test_hr_sees_dead_letters_with_the_reason_and_sends_one_again(
    client: httpx.AsyncClient,
    company: Company,
    receiver: WebhookReceiver,
    test_settings: Settings,
    password_hash: str,
) -> None:
    settings = test_settings.with_overrides(notify_allow_private_hosts=True, notify_max_attempts=2)
    await webhook(company.tenant.id, receiver.url)
    receiver.answer = lambda _: (503, {}, 0.0)
    # Tomorrow 10:00 in 乌鲁木齐, where LRN works: outside their quiet hours.
    now = (datetime.now(UTC) + timedelta(days=1)).replace(hour=4, minute=0, second=0, microsecond=0)
    learner = company.employees["LRN"]
    await tell(company.tenant.id, now, cancelled(learner.id, f"dead-{company.code}"))
    async with outbound_client(allow_private_hosts=True) as http:
        transport = Transport(http, 5.0, True)
        for hours in (0, 1, 2, 3):  # each attempt is due by then: backoff is minutes
            await drain(transport, now + timedelta(hours=hours), settings)
    hr = await token_for(client, company.code, "HR1")
    listed = (await gql(client, DEAD_LETTERS, {"first": 10}, hr))["data"]["notificationDeadLetters"]
    assert listed["totalCount"] == 1
    node = listed["edges"][0]["node"]
    assert node["channel"] == "WEBHOOK" and node["status"] == "DEAD" and node["attempts"] == 2
    assert "503" in node["lastError"] and node["kind"] == "SESSION_CANCELLED"
    assert node["recipient"] == {"employeeNo": "LRN", "name": "李学员"}

    again = (await gql(client, RETRY_DELIVERY, {"id": node["id"]}, hr))["data"]["retryNotificationDelivery"]
    assert again["errors"] == [] and again["delivery"]["status"] == "PENDING" and again["delivery"]["attempts"] == 0
    twice = (await gql(client, RETRY_DELIVERY, {"id": node["id"]}, hr))["data"]["retryNotificationDelivery"]
    assert twice["errors"] == [{"code": "INVALID_STATUS_CHANGE"}]
    receiver.answer = lambda _: (200, {}, 0.0)
    async with outbound_client(allow_private_hosts=True) as http:
        await drain(Transport(http, 5.0, True), now + timedelta(hours=5), settings)
    listed = (await gql(client, DEAD_LETTERS, {"first": 10}, hr))["data"]["notificationDeadLetters"]
    assert listed["totalCount"] == 0
    assert len(receiver.requests) == 3 and len(set(receiver.ids())) == 1  # one delivery, three attempts

    # Another company's HR admin, and an employee, see none of it.
    other = await make_company(password_hash, courses=False)
    outsider = await token_for(client, other.code, "HR1")
    listed = (await gql(client, DEAD_LETTERS, {"first": 10}, outsider))["data"]["notificationDeadLetters"]
    assert listed["totalCount"] == 0
    foreign = (await gql(client, RETRY_DELIVERY, {"id": node["id"]}, outsider))["data"]["retryNotificationDelivery"]
    assert foreign["errors"] == [{"code": "NOT_FOUND"}]
    employee = await token_for(client, company.code, "LRN")
    assert (await gql(client, DEAD_LETTERS, {"first": 10}, employee))["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


async def test_a_kept_secret_never_goes_to_a_new_address(client: httpx.AsyncClient, company: Company) -> None:
    """A secret left out is kept only while it goes where it went: an HR admin (or whoever holds
    their session) who points the SMTP host or a push API base elsewhere must type the secret
    again, or the server would log in there with the stored password, or hand it a bearer token."""
    hr = await token_for(client, company.code, "HR1")

    async def configure(channel: str, version: int, settings: dict[str, Any]) -> dict[str, Any]:
        given = {"channel": channel, "enabled": True, "version": version, "settings": settings}
        return (await gql(client, CONFIGURE, {"input": given}, hr))["data"]["configureNotificationChannel"]

    mail = {"host": "smtp.acme.cn", "username": "training@acme.cn", "fromAddress": "training@acme.cn"}
    assert (await configure("EMAIL", 0, {**mail, "password": "smtp-password"}))["errors"] == []
    # The same server, another display name: the password stays.
    assert (await configure("EMAIL", 1, {**mail, "fromName": "培训部"}))["errors"] == []
    for moved in ({"host": "smtp.attacker.example"}, {"port": 2525}, {"security": "tls"}):
        answer = await configure("EMAIL", 2, {**mail, **moved})
        assert [(e["code"], e["field"]) for e in answer["errors"]] == [("VALIDATION", "settings.password")], moved
        assert "{" not in answer["errors"][0]["message"]
    assert (await configure("EMAIL", 2, {**mail, "host": "smtp2.acme.cn", "password": "new-password"}))["errors"] == []
    stored = await NotificationChannelConfig.get(tenant_id=company.tenant.id, channel="EMAIL")
    assert stored.settings["host"] == "smtp2.acme.cn" and stored.settings["password"] == "new-password"

    account = {
        "client_email": "push@acme-app.iam.gserviceaccount.com",
        "private_key": _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    }
    push = {
        "fcmProjectId": "acme-app",
        "apnsKeyId": "KEY1234567",
        "apnsTeamId": "TEAM123456",
        "apnsBundleId": "com.example.xuefen",
    }
    secrets = {"fcmServiceAccount": account, "apnsPrivateKey": _pem(ec.generate_private_key(ec.SECP256R1()))}
    assert (await configure("PUSH", 0, {**push, **secrets}))["errors"] == []
    # Named as stored (the defaults written out) or left to the defaults: the same addresses.
    assert (await configure("PUSH", 1, {**push, "fcmApiBase": "https://fcm.googleapis.com/"}))["errors"] == []
    for moved, field in (
        ({"fcmApiBase": "https://fcm.attacker.example"}, "settings.fcmServiceAccount"),
        ({"apnsApiBase": "https://apns.attacker.example"}, "settings.apnsPrivateKey"),
    ):
        answer = await configure("PUSH", 2, {**push, **moved})
        assert [(e["code"], e["field"]) for e in answer["errors"]] == [("VALIDATION", field)], moved
    stored = await NotificationChannelConfig.get(tenant_id=company.tenant.id, channel="PUSH")
    assert stored.version == 2 and stored.settings["fcmApiBase"] == "https://fcm.googleapis.com"


async def test_testing_a_robot_never_logs_its_url(
    on_premise: httpx.AsyncClient,
    company: Company,
    receiver: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A robot's URL is its credential: the API process's log (INFO, as ``xuefen serve`` sets it)
    must not get httpx's request line when HR tests the channel."""
    hr = await token_for(on_premise, company.code, "HR1")
    key = "robot-key-3f9a1c77e2b54d0a"
    receiver.answer = lambda _: (200, {"json": {"errcode": 0, "errmsg": "ok"}}, 0.0)
    given = {"channel": "WECOM", "enabled": True, "version": 0, "settings": {"url": f"{receiver.url}?key={key}"}}
    assert (await gql(on_premise, CONFIGURE, {"input": given}, hr))["data"]["configureNotificationChannel"][
        "errors"
    ] == []
    logging.getLogger("httpx").setLevel(logging.NOTSET)  # as in a fresh server process
    logging.getLogger("httpcore").setLevel(logging.NOTSET)
    caplog.set_level(logging.INFO)  # configure_logging's default
    tested = (await gql(on_premise, TEST, {"channel": "WECOM"}, hr))["data"]["testNotificationChannel"]
    assert tested["delivered"] is True and len(receiver.requests) == 1
    assert key not in caplog.text


async def test_a_group_robot_carries_only_the_kinds_for_people_who_must_act_unless_hr_chooses(
    client: httpx.AsyncClient, company: Company
) -> None:
    hr = await token_for(client, company.code, "HR1")
    robot = {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-123"}
    given = {"channel": "WECOM", "enabled": True, "version": 0, "settings": robot}
    done = (await gql(client, CONFIGURE_KINDS, {"input": given}, hr))["data"]["configureNotificationChannel"]
    assert done["channel"]["kinds"] == ["ASSIGNMENT_ESCALATED", "ENROLLMENT_REQUESTED"]
    assert done["channel"]["kindsChosen"] is False
    await webhook(company.tenant.id, "https://hooks.example.com/xuefen")  # the webhook carries every kind
    now = datetime.now(UTC)
    learner, manager = company.employees["LRN"], company.employees["MGR"]
    requested = Notice(NotificationKind.ENROLLMENT_REQUESTED, manager.id, f"k-{company.code}-1", {})
    await tell(company.tenant.id, now, cancelled(learner.id, f"k-{company.code}-2"), requested)
    assert await dispatch_all(now) >= 2
    sent = set(
        await NotificationDelivery.filter(tenant_id=company.tenant.id).values_list("notification__kind", "channel")
    )
    assert sent == {
        ("SESSION_CANCELLED", "WEBHOOK"),
        ("ENROLLMENT_REQUESTED", "WEBHOOK"),
        ("ENROLLMENT_REQUESTED", "WECOM"),
    }
    # HR widens the robot to cancellations: the next one goes to the group too.
    given = {**given, "version": 1, "kinds": ["SESSION_CANCELLED"]}
    done = (await gql(client, CONFIGURE_KINDS, {"input": given}, hr))["data"]["configureNotificationChannel"]
    assert done["errors"] == [] and done["channel"]["kinds"] == ["SESSION_CANCELLED"] and done["channel"]["kindsChosen"]
    await tell(company.tenant.id, now, cancelled(learner.id, f"k-{company.code}-3"))
    await dispatch_all(now)
    third = await NotificationDelivery.filter(notification__event_key=f"test:k-{company.code}-3").values_list(
        "channel", flat=True
    )
    assert sorted(third) == ["WEBHOOK", "WECOM"]


CONFIGURE_KINDS = """
mutation C($input: ConfigureNotificationChannelInput!) {
  configureNotificationChannel(input: $input) { channel { kinds kindsChosen } errors { code field } }
}
"""
