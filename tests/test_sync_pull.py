"""The change feed: snapshot, resumable pages, scope and tombstones, signed cursors, resets, and a
cursor that never skips a change, even with overlapping transactions."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from backend.ids import to_global_id
from backend.models import CourseModule, ModuleKind, SyncChange
from backend.services import feed
from backend.services.feed import ChangeSet, Entity
from tests.conftest import is_postgres_run
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, PUSH, lesson, pull_input, push_input

SET_STATUS = """
mutation Set($input: SetCourseStatusInput!) {
  setCourseStatus(input: $input) { course { code status } errors { code } }
}
"""


async def pull_all(client, token, cursor=None, limit=200, device_id="device-1"):
    """Pull until hasMore is false; returns (changes, last cursor, pages)."""
    changes, pages = [], 0
    while True:
        body = await gql(client, PULL, pull_input(cursor, limit, device_id), token=token)
        page = body["data"]["syncPull"]
        assert page["errors"] == [], page["errors"]
        changes += page["changes"]
        cursor, pages = page["cursor"], pages + 1
        if not page["hasMore"]:
            return changes, cursor, pages


def upserts(changes, entity):
    return {c["id"]: c["data"] for c in changes if c["entity"] == entity and c["op"] == "UPSERT"}


def local_store(changes):
    """Apply changes like a phone would: last write wins per (entity, id)."""
    store = {}
    for change in changes:
        key = (change["entity"], change["id"])
        if change["op"] == "UPSERT":
            store[key] = change["data"]
        else:
            store.pop(key, None)
    return store


@pytest.fixture
async def company(password_hash):
    return await make_company(password_hash)


async def test_first_sync_is_a_paged_snapshot_of_what_the_viewer_may_see(client, company):
    token = await token_for(client, company.code, "LRN")
    changes, _, pages = await pull_all(client, token, limit=5)
    store = local_store(changes)
    published = {c.code for c in company.courses.values() if c.status == "PUBLISHED"}
    courses = {data["code"] for (entity, _), data in store.items() if entity == "COURSE"}
    assert courses == published and "S-007" not in courses
    modules = [data for (entity, _), data in store.items() if entity == "COURSE_MODULE"]
    assert len(modules) == 2 * len(published)
    profiles = [data for (entity, _), data in store.items() if entity == "PROFILE"]
    assert [p["employeeNo"] for p in profiles] == ["LRN"]  # nobody else's profile
    assert profiles[0]["name"] == "李学员" and profiles[0]["orgUnit"]["name"] == "华东销售组"
    completions = [data for (entity, _), data in store.items() if entity == "COURSE_COMPLETION"]
    assert [c["courseId"] for c in completions] == [to_global_id("Course", company.courses["S-001"].id)]
    assert pages >= len(changes) // 5


async def test_pages_are_resumable_and_replayable(client, company):
    token = await token_for(client, company.code, "LRN")
    first = (await gql(client, PULL, pull_input(limit=4), token=token))["data"]["syncPull"]
    again = (await gql(client, PULL, pull_input(first["cursor"], 4), token=token))["data"]["syncPull"]
    replay = (await gql(client, PULL, pull_input(first["cursor"], 4), token=token))["data"]["syncPull"]
    assert again == replay and again["changes"] != first["changes"]
    seen = {(c["entity"], c["id"]) for c in first["changes"] + again["changes"]}
    assert len(seen) == 8


async def test_pushed_records_come_back_as_progress_and_outcomes(client, company):
    token = await token_for(client, company.code, "LRN")
    _, cursor, _ = await pull_all(client, token)
    module = await CourseModule.filter(course=company.courses["S-001"], kind=ModuleKind.LESSON).first()
    records = [lesson(module.id, 1, seconds=30), lesson(module.id, 2, seconds=45)]
    await gql(client, PUSH, push_input(records), token=token)
    body = await gql(client, PULL, pull_input(cursor), token=token)
    page = body["data"]["syncPull"]
    assert page["appliedSeq"] == 2 and page["hasMore"] is False
    progress = upserts(page["changes"], "MODULE_PROGRESS")
    assert list(progress.values()) == [
        {
            "id": to_global_id("CourseModule", module.id),
            "moduleId": to_global_id("CourseModule", module.id),
            "courseId": to_global_id("Course", company.courses["S-001"].id),
            "completedCount": 2,
            "requiredCount": 1,
            "required": True,
            "secondsSpent": 75,
            "completed": True,
            "lastCompletedAt": progress[to_global_id("CourseModule", module.id)]["lastCompletedAt"],
        }
    ]
    outcomes = upserts(page["changes"], "RECORD_OUTCOME")
    assert {o["seq"]: o["status"] for o in outcomes.values()} == {1: "ACCEPTED", 2: "ACCEPTED"}
    # Another employee sees none of it.
    other = await token_for(client, company.code, "OTH", device_id="device-9")
    theirs, _, _ = await pull_all(client, other, device_id="device-9")
    assert not upserts(theirs, "MODULE_PROGRESS") and not upserts(theirs, "RECORD_OUTCOME")


async def test_unpublished_courses_leave_and_republished_ones_return(client, company):
    learner = await token_for(client, company.code, "LRN")
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    _, cursor, _ = await pull_all(client, learner)
    _, hr_cursor, _ = await pull_all(client, hr, device_id="hr-desk")
    course_id = to_global_id("Course", company.courses["S-002"].id)

    done = await gql(client, SET_STATUS, {"input": {"courseId": course_id, "status": "DRAFT"}}, token=hr)
    assert done["data"]["setCourseStatus"] == {"course": {"code": "S-002", "status": "DRAFT"}, "errors": []}
    changes, cursor, _ = await pull_all(client, learner, cursor)
    # The course, its modules and its download manifest (COURSE_CONTENT) leave together.
    expected = {("COURSE", "DELETE"), ("COURSE_MODULE", "DELETE"), ("COURSE_CONTENT", "DELETE")}
    assert {(c["entity"], c["op"]) for c in changes} == expected
    assert len(changes) == 4 and all(c["data"] is None for c in changes)
    staff_view, _, _ = await pull_all(client, hr, hr_cursor, device_id="hr-desk")
    assert upserts(staff_view, "COURSE")[course_id]["status"] == "DRAFT"  # HR still sees drafts

    await gql(client, SET_STATUS, {"input": {"courseId": course_id, "status": "PUBLISHED"}}, token=hr)
    back, _, _ = await pull_all(client, learner, cursor)
    assert upserts(back, "COURSE")[course_id]["code"] == "S-002"
    assert upserts(back, "COURSE_CONTENT")[course_id]["courseId"] == course_id
    assert len(upserts(back, "COURSE_MODULE")) == 2


async def test_only_hr_admins_change_course_status(client, company):
    learner = await token_for(client, company.code, "LRN")
    course_id = to_global_id("Course", company.courses["S-002"].id)
    body = await gql(client, SET_STATUS, {"input": {"courseId": course_id, "status": "DRAFT"}}, token=learner)
    assert body["data"]["setCourseStatus"] == {"course": None, "errors": [{"code": "FORBIDDEN"}]}


@pytest.mark.parametrize("tamper", ["flip", "garbage", "other-employee", "other-tenant", "empty-mac"])
async def test_cursors_cannot_be_forged_or_borrowed(client, company, password_hash, tamper):
    token = await token_for(client, company.code, "LRN")
    page = (await gql(client, PULL, pull_input(limit=2), token=token))["data"]["syncPull"]
    cursor = page["cursor"]
    if tamper == "flip":
        version, payload, mac = cursor.split(".")
        cursor = f"{version}.{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{mac}"
    elif tamper == "garbage":
        cursor = "not-a-cursor"
    elif tamper == "empty-mac":
        cursor = cursor.rsplit(".", 1)[0] + "."
    elif tamper == "other-employee":
        other = await token_for(client, company.code, "OTH", device_id="d-oth")
        cursor = (await gql(client, PULL, pull_input(limit=2, device_id="d-oth"), token=other))["data"]["syncPull"][
            "cursor"
        ]
    else:
        elsewhere = await make_company(password_hash, courses=False)
        other = await token_for(client, elsewhere.code, "LRN", device_id="d-x")
        cursor = (await gql(client, PULL, pull_input(limit=2, device_id="d-x"), token=other))["data"]["syncPull"][
            "cursor"
        ]
    body = await gql(client, PULL, pull_input(cursor), token=token, language="en")
    payload = body["data"]["syncPull"]
    assert [e["code"] for e in payload["errors"]] == ["CURSOR_INVALID"]
    assert payload["changes"] == [] and payload["cursor"] is None


async def test_old_cursors_must_reset_and_the_reset_snapshot_is_complete(client, company):
    learner = await token_for(client, company.code, "LRN")
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    snapshot, old_cursor, _ = await pull_all(client, learner)
    course_id = to_global_id("Course", company.courses["S-003"].id)
    await gql(client, SET_STATUS, {"input": {"courseId": course_id, "status": "RETIRED"}}, token=hr)
    await gql(
        client,
        SET_STATUS,
        {"input": {"courseId": to_global_id("Course", company.courses["S-003"].id), "status": "RETIRED"}},
        token=hr,
    )
    # RETIRED is not a deletion; delete-style tombstones come from rows marked deleted:
    async with in_transaction() as connection:
        changes = ChangeSet(company.tenant.id)
        changes.touch(Entity.COURSE, company.courses["S-004"].id, deleted=True)
        await changes.publish(connection)
    purged = await feed.purge_tombstones(
        company.tenant.id, timedelta(days=30), now=datetime.now(UTC) + timedelta(days=31)
    )
    assert purged == 1
    body = await gql(client, PULL, pull_input(old_cursor), token=learner)
    assert [e["code"] for e in body["data"]["syncPull"]["errors"]] == ["RESET_REQUIRED"]
    fresh, _, _ = await pull_all(client, learner)
    store = local_store(fresh)
    assert ("COURSE", course_id) not in store  # archived: not visible to learners
    assert ("COURSE", to_global_id("Course", company.courses["S-004"].id)) not in store
    assert len([k for k in store if k[0] == "COURSE"]) == len(upserts(snapshot, "COURSE")) - 2


@pytest.mark.parametrize(
    "variables,code",
    [
        (pull_input(limit=0), "VALIDATION"),
        (pull_input(limit=1001), "VALIDATION"),
        (pull_input(version=2), "UNSUPPORTED_PROTOCOL"),
        (pull_input(device_id="someone-elses-phone"), "DEVICE_MISMATCH"),
    ],
)
async def test_bad_pull_requests_get_typed_errors(client, company, variables, code):
    token = await token_for(client, company.code, "LRN")
    body = await gql(client, PULL, variables, token=token)
    assert [e["code"] for e in body["data"]["syncPull"]["errors"]] == [code]


async def test_feeds_of_two_tenants_never_mix(client, company, password_hash):
    other = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    mine, _, _ = await pull_all(client, token)
    theirs = {to_global_id("Course", c.id) for c in other.courses.values()}
    assert not theirs & {c["id"] for c in mine}


async def test_a_writer_holding_a_feed_number_blocks_later_writers_until_it_commits(company):
    """The overlapping-transactions proof: T1 takes feed number n and stays open; T2 must not get
    n+1 (and commit) before T1 commits, or a reader at n+1 would have skipped n."""
    tenant_id = company.tenant.id
    head_before, _ = await feed.feed_head(tenant_id)
    t1_has_number, release_t1 = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def t1():
        async with in_transaction() as connection:
            changes = ChangeSet(tenant_id)
            changes.touch(Entity.COURSE, company.courses["S-001"].id)
            await changes.publish(connection)
            t1_has_number.set()
            await release_t1.wait()
            order.append("t1-commit")

    async def t2():
        await t1_has_number.wait()
        async with in_transaction() as connection:
            changes = ChangeSet(tenant_id)
            changes.touch(Entity.COURSE, company.courses["S-002"].id)
            await changes.publish(connection)
            order.append("t2-numbered")

    first, second = asyncio.create_task(t1()), asyncio.create_task(t2())
    await t1_has_number.wait()
    await asyncio.sleep(0.3)
    assert not second.done() and order == []  # T2 waits while T1 holds its number
    if is_postgres_run():  # (SQLite's one connection cannot read while T1 is open)
        visible = await SyncChange.filter(tenant_id=tenant_id, seq__gt=head_before).count()
        assert visible == 0  # nothing uncommitted is visible to readers
    release_t1.set()
    await asyncio.gather(first, second)
    assert order == ["t1-commit", "t2-numbered"]
    rows = (
        await SyncChange.filter(tenant_id=tenant_id, seq__gt=head_before)
        .order_by("seq")
        .values_list("entity_id", flat=True)
    )
    assert rows == [str(company.courses["S-001"].id), str(company.courses["S-002"].id)]


async def test_a_reader_never_skips_changes_of_concurrent_writers(company):
    """Many writers with random delays inside their transactions, one reader following the feed
    the whole time: the reader ends with every change, each seen in increasing feed order."""
    tenant_id = company.tenant.id
    start, _ = await feed.feed_head(tenant_id)
    rng = random.Random(7)
    writers_done = asyncio.Event()
    expected = {f"w{i}" for i in range(40)}

    async def writer(name: str):
        await asyncio.sleep(rng.random() * 0.05)
        async with in_transaction() as connection:
            await asyncio.sleep(rng.random() * 0.02)  # work before the number is taken
            changes = ChangeSet(tenant_id)
            changes.touch(Entity.RECORD_OUTCOME, name, audience=999_999)
            await changes.publish(connection)
            await asyncio.sleep(rng.random() * 0.02)  # and after: commit comes later

    async def reader() -> list[tuple[int, str]]:
        seen, position = [], start
        while True:
            finished = writers_done.is_set()
            rows = (
                await SyncChange.filter(tenant_id=tenant_id, seq__gt=position, audience=999_999)
                .order_by("seq")
                .values_list("seq", "entity_id")
            )
            for seq, entity_id in rows:
                seen.append((seq, entity_id))
                position = seq
            if finished and not rows:
                return seen
            await asyncio.sleep(0.005)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(name) for name in sorted(expected)))
    writers_done.set()
    seen = await reading
    assert {name for _, name in seen} == expected
    assert [seq for seq, _ in seen] == sorted(seq for seq, _ in seen)
