"""The in-app inbox: notifications written with their fact, listed in the reader's language and
zone, read state synced between two phones (offline too), preferences, wordings and push tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from backend.ids import from_global_id, to_global_id
from backend.models import Notification, NotificationKind, PushToken, Site
from backend.services.feed import ChangeSet
from backend.services.notifications.notices import Notice
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, PUSH, pull_input, push_input

INBOX = """
query Inbox($first: Int!, $after: String, $unreadOnly: Boolean!) {
  notifications(first: $first, after: $after, unreadOnly: $unreadOnly) {
    unreadCount totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id kind title body params subjectId readAt } }
  }
}
"""

MARK = """
mutation Mark($input: MarkNotificationsReadInput!) {
  markNotificationsRead(input: $input) {
    result { status code result }
    errors { code field }
  }
}
"""

# 09:30 UTC is 15:30 in 乌鲁木齐 (UTC+6), where LRN works.
STARTS = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


async def tell(tenant_id: int, *notices: Notice) -> None:
    """Write notices as a fact's transaction does: through its ChangeSet, published last."""
    async with in_transaction() as connection:
        changes = ChangeSet(tenant_id)
        changes.notify(*notices)
        await changes.publish(connection)


def approved(recipient_id: int, n: int) -> Notice:
    return Notice(
        NotificationKind.ENROLLMENT_APPROVED,
        recipient_id,
        f"test:enrollment:{n}:APPROVED",
        {"session": f"客户沟通实训 {n}", "course": "客户沟通", "startsAt": STARTS.isoformat(), "location": "三楼"},
        subject_id=to_global_id("TrainingSession", n),
    )


@pytest.fixture
async def company(password_hash: str) -> Company:
    return await make_company(password_hash, courses=False)


async def inbox(client, token: str, first: int = 20, after: str | None = None, unread_only: bool = False, **kw: Any):
    body = await gql(client, INBOX, {"first": first, "after": after, "unreadOnly": unread_only}, token, **kw)
    assert "errors" not in body, body
    return body["data"]["notifications"]


async def test_inbox_lists_newest_first_in_the_readers_language_and_zone(client, company: Company) -> None:
    learner, other = company.employees["LRN"], company.employees["OTH"]
    await tell(company.tenant.id, approved(learner.id, 1), approved(learner.id, 2), approved(other.id, 3))
    await tell(company.tenant.id, approved(learner.id, 1))  # the same event again: told once
    token = await token_for(client, company.code, "LRN")

    page = await inbox(client, token, first=1)
    assert page["unreadCount"] == 2 and page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    newest = page["edges"][0]["node"]
    assert newest["kind"] == "ENROLLMENT_APPROVED" and newest["readAt"] is None
    assert newest["title"] == "报名已通过"
    assert "客户沟通实训 2" in newest["body"] and "2026-12-03 15:30" in newest["body"] and "三楼" in newest["body"]
    assert newest["subjectId"] == to_global_id("TrainingSession", 2)
    assert newest["params"]["session"] == "客户沟通实训 2"
    rest = await inbox(client, token, first=5, after=page["pageInfo"]["endCursor"])
    assert [edge["node"]["params"]["session"] for edge in rest["edges"]] == ["客户沟通实训 1"]

    english = await inbox(client, token, language="en")
    assert english["edges"][0]["node"]["title"] == "Enrollment approved"
    assert "2026-12-03 15:30" in english["edges"][0]["node"]["body"]

    # HQ (Asia/Shanghai, UTC+8) reads the same moment as 17:30.
    await tell(company.tenant.id, approved(other.id, 4))
    other_token = await token_for(client, company.code, "OTH")
    assert "17:30" in (await inbox(client, other_token))["edges"][0]["node"]["body"]


async def _pull_notifications(client, token: str, device: str, cursor: str | None) -> tuple[dict[str, Any], str]:
    rows: dict[str, Any] = {}
    while True:
        body = await gql(client, PULL, pull_input(cursor, device_id=device), token)
        page = body["data"]["syncPull"]
        assert page["errors"] == [], page
        for change in page["changes"]:
            if change["entity"] == "NOTIFICATION":
                rows[change["id"]] = change
        cursor = page["cursor"]
        if not page["hasMore"]:
            return rows, cursor


def _read_record(seq: int, payload: Any, record_id: str | None = None) -> dict[str, Any]:
    return {
        "id": record_id or str(uuid.uuid4()),
        "seq": seq,
        "kind": "NOTIFICATIONS_READ",
        "occurredAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "payload": payload,
    }


async def test_a_zone_the_servers_tz_database_lacks_leaves_the_inbox_readable(client, company: Company) -> None:
    """A site's zone is checked when HR writes it, but a server with an older tz database may not
    know it: the inbox and the phone's feed fall back to the company's zone, as deliveries do."""
    learner = company.employees["LRN"]
    await Site.filter(id=learner.site_id).update(time_zone="Asia/Not_A_Zone_Yet")
    await tell(company.tenant.id, approved(learner.id, 1))
    token = await token_for(client, company.code, "LRN", device_id="phone-a")
    (node,) = [edge["node"] for edge in (await inbox(client, token))["edges"]]
    assert "2026-12-03 17:30" in node["body"]  # Shanghai's clock, the company's zone
    rows, _ = await _pull_notifications(client, token, "phone-a", None)
    assert [row["data"]["body"] for row in rows.values()] == [node["body"]]


async def test_read_state_is_synced_between_two_phones(client, company: Company) -> None:
    learner, other = company.employees["LRN"], company.employees["OTH"]
    await tell(company.tenant.id, *(approved(learner.id, n) for n in (1, 2, 3)), approved(other.id, 9))
    phone_a = await token_for(client, company.code, "LRN", device_id="phone-a")
    phone_b = await token_for(client, company.code, "LRN", device_id="phone-b")
    rows_a, cursor_a = await _pull_notifications(client, phone_a, "phone-a", None)
    rows_b, cursor_b = await _pull_notifications(client, phone_b, "phone-b", None)
    assert len(rows_a) == len(rows_b) == 3  # never another person's
    assert all(row["data"]["readAt"] is None for row in rows_a.values())
    ids = sorted(rows_a, key=lambda i: from_global_id(i)[1])
    global_ids = ids

    # Phone A, offline, read the first one; it pushes later. A retry of the same record is a duplicate.
    first_read = _read_record(1, {"ids": [global_ids[0]]})
    for _ in range(2):
        pushed = await gql(client, PUSH, push_input([first_read], device_id="phone-a"), phone_a)
        assert pushed["data"]["syncPush"]["results"][0]["status"] in ("ACCEPTED", "DUPLICATE")
    rows_b2, cursor_b = await _pull_notifications(client, phone_b, "phone-b", cursor_b)
    assert list(rows_b2) == [ids[0]] and rows_b2[ids[0]]["data"]["readAt"] is not None

    # Phone B marks all read "through" the newest it has; one that arrived since stays unread.
    await tell(company.tenant.id, approved(learner.id, 4))
    pushed = await gql(
        client, PUSH, push_input([_read_record(1, {"throughId": global_ids[-1]})], device_id="phone-b"), phone_b
    )
    assert pushed["data"]["syncPush"]["results"][0]["status"] == "ACCEPTED"
    rows_a2, _ = await _pull_notifications(client, phone_a, "phone-a", cursor_a)
    read = {row["data"]["params"]["session"]: row["data"]["readAt"] for row in rows_a2.values()}
    assert read["客户沟通实训 4"] is None
    assert all(read[f"客户沟通实训 {n}"] is not None for n in (1, 2, 3))
    assert (await inbox(client, phone_a))["unreadCount"] == 1
    assert await Notification.filter(recipient_id=other.id, read_at=None).count() == 1


async def test_mark_read_online_touches_only_the_viewers_own(client, company: Company) -> None:
    learner, other = company.employees["LRN"], company.employees["OTH"]
    await tell(company.tenant.id, approved(learner.id, 1), approved(other.id, 2))
    mine = await Notification.get(recipient_id=learner.id)
    theirs = await Notification.get(recipient_id=other.id)
    token = await token_for(client, company.code, "LRN")
    ids = [to_global_id("Notification", mine.id), to_global_id("Notification", theirs.id)]
    body = await gql(client, MARK, {"input": {"ids": ids}}, token)
    assert body["data"]["markNotificationsRead"]["result"] == {
        "status": "ACCEPTED",
        "code": None,
        "result": {"marked": 1},
    }
    await theirs.refresh_from_db()
    assert theirs.read_at is None
    again = await gql(client, MARK, {"input": {"ids": ids[:1]}}, token)
    assert again["data"]["markNotificationsRead"]["result"]["result"] == {"marked": 0}
    # "Everything through" another person's newest: still only one's own.
    await gql(client, MARK, {"input": {"throughId": ids[1]}}, token)
    await theirs.refresh_from_db()
    assert theirs.read_at is None


async def test_unread_only_pages_the_unread_and_what_is_read_drops_out(client, company: Company) -> None:
    learner, other = company.employees["LRN"], company.employees["OTH"]
    await tell(company.tenant.id, *(approved(learner.id, n) for n in range(1, 7)), approved(other.id, 9))
    token = await token_for(client, company.code, "LRN", device_id="phone-a")
    ids = {
        row.params["session"][-1]: to_global_id("Notification", row.id)
        for row in await Notification.filter(recipient_id=learner.id)
    }

    def sessions(page: dict[str, Any]) -> list[str]:
        return [edge["node"]["params"]["session"][-1] for edge in page["edges"]]

    first = await inbox(client, token, first=2, unread_only=True)
    assert sessions(first) == ["6", "5"] and first["pageInfo"]["hasNextPage"]
    assert first["totalCount"] == first["unreadCount"] == 6
    # Between two pages: 4 is read online, 2 on the other phone (a synced record), and 5, the row
    # the cursor points at, too: the next page goes on from where the first ended, unread only.
    marked = await gql(client, MARK, {"input": {"ids": [ids["4"], ids["5"]]}}, token)
    assert marked["data"]["markNotificationsRead"]["result"]["result"] == {"marked": 2}
    phone_b = await token_for(client, company.code, "LRN", device_id="phone-b")
    pushed = await gql(client, PUSH, push_input([_read_record(1, {"ids": [ids["2"]]})], device_id="phone-b"), phone_b)
    assert pushed["data"]["syncPush"]["results"][0]["status"] == "ACCEPTED"

    rest = await inbox(client, token, first=2, after=first["pageInfo"]["endCursor"], unread_only=True)
    assert sessions(rest) == ["3", "1"] and not rest["pageInfo"]["hasNextPage"]
    assert rest["totalCount"] == rest["unreadCount"] == 3
    assert all(edge["node"]["readAt"] is None for edge in rest["edges"])
    whole = await inbox(client, token, unread_only=True)
    assert sessions(whole) == ["6", "3", "1"] and not whole["pageInfo"]["hasNextPage"]
    everything = await inbox(client, token)  # without unreadOnly the read ones are still listed, read
    assert sessions(everything) == ["6", "5", "4", "3", "2", "1"] and everything["totalCount"] == 6
    assert [n for n, edge in zip("654321", everything["edges"]) if edge["node"]["readAt"]] == ["5", "4", "2"]
    # Paged again from the start: two, then the last one.
    one = await inbox(client, token, first=2, unread_only=True)
    assert sessions(one) == ["6", "3"] and one["pageInfo"]["hasNextPage"]
    last = await inbox(client, token, first=2, after=one["pageInfo"]["endCursor"], unread_only=True)
    assert sessions(last) == ["1"] and not last["pageInfo"]["hasNextPage"]

    # Everything through the newest, from phone B: nothing unread is left, and OTH's stays unread.
    pushed = await gql(
        client, PUSH, push_input([_read_record(2, {"throughId": ids["6"]})], device_id="phone-b"), phone_b
    )
    assert pushed["data"]["syncPush"]["results"][0]["status"] == "ACCEPTED"
    none_left = await inbox(client, token, unread_only=True)
    assert none_left["edges"] == [] and not none_left["pageInfo"]["hasNextPage"]
    assert none_left["totalCount"] == none_left["unreadCount"] == 0
    assert (await inbox(client, await token_for(client, company.code, "OTH"), unread_only=True))["totalCount"] == 1


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "ids",
        {},
        {"ids": "all"},
        {"ids": [1]},
        {"ids": [to_global_id("Course", 1)]},
        {"ids": [to_global_id("Notification", 1)] * 501},
        {"throughId": 7},
        {"ids": ["ＴＧ９"]},
    ],
)
async def test_malformed_read_records_are_rejected_alone(client, company: Company, payload: Any) -> None:
    token = await token_for(client, company.code, "LRN")
    good = _read_record(2, {"ids": [to_global_id("Notification", 1)]})
    body = await gql(client, PUSH, push_input([_read_record(1, payload), good]), token)
    results = body["data"]["syncPush"]["results"]
    assert [(r["status"], r["code"]) for r in results] == [("REJECTED", "INVALID_PAYLOAD"), ("ACCEPTED", None)]


PREFS = """
query { notificationPreferences { muted { kind channels } quietStartMinute quietEndMinute version } }
"""
UPDATE_PREFS = """
mutation P($input: UpdateNotificationPreferencesInput!) {
  updateNotificationPreferences(input: $input) {
    preferences { muted { kind channels } quietStartMinute quietEndMinute version }
    errors { code field }
  }
}
"""


async def test_preferences_are_versioned_and_checked(client, company: Company) -> None:
    token = await token_for(client, company.code, "LRN")
    assert (await gql(client, PREFS, token=token))["data"]["notificationPreferences"] == {
        "muted": [],
        "quietStartMinute": 1320,
        "quietEndMinute": 480,
        "version": 0,
    }
    change = {
        "baseVersion": 0,
        "muted": [{"kind": "SESSION_TOMORROW", "channels": ["EMAIL", "EMAIL", "WECOM"]}],
        "quietStartMinute": 23 * 60,
        "quietEndMinute": 7 * 60,
    }
    done = (await gql(client, UPDATE_PREFS, {"input": change}, token))["data"]["updateNotificationPreferences"]
    assert done["errors"] == []
    assert done["preferences"]["muted"] == [{"kind": "SESSION_TOMORROW", "channels": ["EMAIL", "WECOM"]}]
    assert done["preferences"]["version"] == 1
    stale = (await gql(client, UPDATE_PREFS, {"input": change}, token))["data"]["updateNotificationPreferences"]
    assert stale["errors"] == [{"code": "VERSION_CONFLICT", "field": None}]
    for minute in (-1, 1440):
        wrong = {**change, "baseVersion": 1, "quietEndMinute": minute}
        body = (await gql(client, UPDATE_PREFS, {"input": wrong}, token))["data"]["updateNotificationPreferences"]
        assert body["errors"][0]["code"] == "VALIDATION"


TEMPLATE = """
mutation T($input: SetNotificationTemplateInput!) {
  setNotificationTemplate(input: $input) { template { kind language title body } errors { code field } }
}
"""


async def test_company_wording_names_only_the_kinds_parameters(client, company: Company) -> None:
    hr = await token_for(client, company.code, "HR1")
    for body in ("{session.__class__}", "{0}", "{startsAt!r}", "{startsAt:>99999}", "{unknown}", "{session"):
        given = {"kind": "ENROLLMENT_APPROVED", "language": "zh-CN", "title": "通过", "body": body}
        answer = (await gql(client, TEMPLATE, {"input": given}, hr))["data"]["setNotificationTemplate"]
        assert answer["errors"][0]["code"] == "VALIDATION", body
    given = {
        "kind": "ENROLLMENT_APPROVED",
        "language": "zh-CN",
        "title": "好消息",
        "body": "「{session}」{startsAt} 见",
    }
    answer = (await gql(client, TEMPLATE, {"input": given}, hr))["data"]["setNotificationTemplate"]
    assert answer["errors"] == [] and answer["template"]["title"] == "好消息"
    learner = company.employees["LRN"]
    await tell(company.tenant.id, approved(learner.id, 1))
    token = await token_for(client, company.code, "LRN")
    node = (await inbox(client, token))["edges"][0]["node"]
    assert node["title"] == "好消息" and node["body"] == "「客户沟通实训 1」2026-12-03 15:30 见"
    assert (await inbox(client, token, language="en"))["edges"][0]["node"]["title"] == "Enrollment approved"
    reset = {"kind": "ENROLLMENT_APPROVED", "language": "zh-CN"}
    assert (await gql(client, TEMPLATE, {"input": reset}, hr))["data"]["setNotificationTemplate"]["template"] is None
    assert (await inbox(client, token))["edges"][0]["node"]["title"] == "报名已通过"
    # An employee may not reword anything.
    denied = await gql(client, TEMPLATE, {"input": given}, token)
    assert denied["data"]["setNotificationTemplate"]["errors"][0]["code"] == "FORBIDDEN"


REGISTER = """
mutation R($input: RegisterPushTokenInput!) { registerPushToken(input: $input) { registered errors { code } } }
"""


async def test_a_push_token_belongs_to_one_device_and_moves_with_the_phone(client, company: Company) -> None:
    learner, other = company.employees["LRN"], company.employees["OTH"]
    token = await token_for(client, company.code, "LRN", device_id="phone-a")
    given = {"platform": "FCM", "token": "fcm-token-1"}
    assert (await gql(client, REGISTER, {"input": given}, token))["data"]["registerPushToken"]["registered"]
    renewed = {"platform": "FCM", "token": "fcm-token-2"}
    await gql(client, REGISTER, {"input": renewed}, token)
    assert await PushToken.filter(employee_id=learner.id).values_list("token", flat=True) == ["fcm-token-2"]
    # The phone is handed to a colleague who signs in on it: the token is theirs now.
    colleague = await token_for(client, company.code, "OTH", device_id="phone-a")
    await gql(client, REGISTER, {"input": renewed}, colleague)
    assert await PushToken.filter(employee_id=learner.id).count() == 0
    assert await PushToken.filter(employee_id=other.id).values_list("token", flat=True) == ["fcm-token-2"]
    bad = await gql(client, REGISTER, {"input": {"platform": "APNS", "token": "has space"}}, colleague)
    assert bad["data"]["registerPushToken"]["errors"] == [{"code": "VALIDATION"}]
