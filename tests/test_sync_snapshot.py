"""A first sync: the snapshot of everything the viewer may see, carrying only the record outcomes a
phone may still be waiting for (those of its own last 500 records), never losing a push answer, an
online one included, and working with cursors issued before snapshots kept their end."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.ids import to_global_id
from backend.models import CourseModule, ModuleKind, SyncChange
from backend.signing import sign, unsign
from mobile_sync.protocol import MAX_PUSH_RECORDS
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, PUSH, lesson, pull_input, push_input
from tests.test_sync_pull import pull_all, upserts

COMPLETE_LESSON = """
mutation C($input: CompleteLessonInput!) { completeLesson(input: $input) { result { status } errors { code } } }
"""


@pytest.fixture
async def company(password_hash):
    return await make_company(password_hash)


@pytest.fixture
async def module(company) -> CourseModule:
    found = await CourseModule.filter(course=company.courses["S-001"], kind=ModuleKind.LESSON).first()
    assert found is not None
    return found


def unreadable_lesson(seq: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "kind": "LESSON_COMPLETED",
        "occurredAt": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "payload": {"moduleId": "nonsense", "secondsSpent": 1},
    }


def stale_settings(seq: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "kind": "SETTINGS_CHANGED",
        "occurredAt": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "payload": {"baseVersion": 7, "locale": "en"},
    }


async def push(client, token, records, device_id="device-1") -> dict[str, Any]:
    payload = None
    for start in range(0, len(records), MAX_PUSH_RECORDS):
        body = await gql(client, PUSH, push_input(records[start : start + MAX_PUSH_RECORDS], device_id), token=token)
        payload = body["data"]["syncPush"]
        assert payload["errors"] == [], payload
    assert payload is not None
    return payload


def outcome_seqs(changes) -> dict[int, str]:
    return {data["seq"]: data["status"] for data in upserts(changes, "RECORD_OUTCOME").values()}


async def test_a_first_sync_carries_the_state_and_only_the_outcomes_this_device_may_await(client, company, module):
    """A phone that pushed 520 records (one refused early, one conflict late) and signs in again
    (a reinstall with the same device id): every record is in the state, but only the outcomes of
    its last 500 records come; the employee's other phone gets none of them."""
    token = await token_for(client, company.code, "LRN")
    count = MAX_PUSH_RECORDS + 20
    records = [lesson(module.id, seq, seconds=10) for seq in range(1, count + 1)]
    records[2] = unreadable_lesson(3)  # refused long ago: its answer reached the phone then
    records[count - 2] = stale_settings(count - 1)  # a conflict in the last push
    answer = await push(client, token, records)
    assert answer["appliedSeq"] == count
    total = await SyncChange.filter(tenant_id=company.tenant.id, entity="RECORD_OUTCOME").count()
    assert total == count  # the feed keeps every outcome; a snapshot is what leaves most out

    changes, _, _ = await pull_all(client, token, limit=200)
    owed = outcome_seqs(changes)
    assert sorted(owed) == list(range(count - MAX_PUSH_RECORDS + 1, count + 1))
    assert owed[count - 1] == "CONFLICT" and owed[count] == "ACCEPTED"
    progress = upserts(changes, "MODULE_PROGRESS")[to_global_id("CourseModule", module.id)]
    assert progress["completedCount"] == count - 2 and progress["secondsSpent"] == 10 * (count - 2)

    other = await token_for(client, company.code, "LRN", device_id="device-2")
    theirs, _, _ = await pull_all(client, other, limit=200, device_id="device-2")
    assert upserts(theirs, "RECORD_OUTCOME") == {}  # this phone never had those records pending
    assert upserts(theirs, "MODULE_PROGRESS") == upserts(changes, "MODULE_PROGRESS")
    store_keys = {(c["entity"], c["id"]) for c in changes if c["entity"] != "RECORD_OUTCOME"}
    assert {(c["entity"], c["id"]) for c in theirs} == store_keys


async def test_a_push_whose_answer_was_lost_is_answered_by_the_first_sync(client, company, module):
    """A new phone records offline, pushes before it ever pulled, and the answer never arrives;
    then an online lesson's answer is lost too: the first sync tells it what became of each
    record, refusal and conflict included."""
    token = await token_for(client, company.code, "LRN", device_id="new-phone")
    records = [lesson(module.id, 1), unreadable_lesson(2), stale_settings(3)]
    await push(client, token, records, device_id="new-phone")  # the answer is lost on the way
    online = str(uuid.uuid4())
    variables = {"input": {"clientId": online, "moduleId": to_global_id("CourseModule", module.id), "secondsSpent": 5}}
    body = await gql(client, COMPLETE_LESSON, variables, token=token)  # and this one too
    assert body["data"]["completeLesson"]["result"]["status"] == "ACCEPTED"

    changes, _, _ = await pull_all(client, token, device_id="new-phone")
    outcomes = upserts(changes, "RECORD_OUTCOME")
    assert {i: (o["seq"], o["status"], o["code"]) for i, o in outcomes.items()} == {
        records[0]["id"]: (1, "ACCEPTED", None),
        records[1]["id"]: (2, "REJECTED", "INVALID_PAYLOAD"),
        records[2]["id"]: (3, "CONFLICT", "VERSION_CONFLICT"),
        online: (None, "ACCEPTED", None),
    }
    body = await gql(client, PULL, pull_input(None, 200, "new-phone"), token=token)
    assert body["data"]["syncPull"]["appliedSeq"] == 3


async def test_outcomes_published_while_a_snapshot_streams_arrive_and_later_pulls_carry_all(
    client, company, module, test_settings
):
    """Outcomes published after a snapshot started come like any change, whichever phone pushed
    them; once the snapshot is through, its cursor is a plain one (an older server reads it) and
    later pulls bring every new outcome of the employee, as before."""
    token = await token_for(client, company.code, "LRN")
    other = await token_for(client, company.code, "LRN", device_id="device-2")
    await push(client, token, [lesson(module.id, seq) for seq in range(1, 4)])

    first = (await gql(client, PULL, pull_input(None, 3, "device-2"), token=other))["data"]["syncPull"]
    assert first["hasMore"] and outcome_seqs(first["changes"]) == {}
    during = await push(client, token, [lesson(module.id, 4)])
    assert during["results"][0]["status"] == "ACCEPTED"
    rest, cursor, _ = await pull_all(client, other, first["cursor"], limit=3, device_id="device-2")
    assert outcome_seqs(rest) == {4: "ACCEPTED"}  # device-1's, published after the snapshot began
    assert len(unsign(test_settings.secret_key, "v1", cursor)) == 3

    later = [lesson(module.id, 5), unreadable_lesson(6)]
    await push(client, token, later)
    news, _, _ = await pull_all(client, other, cursor, device_id="device-2")
    assert outcome_seqs(news) == {5: "ACCEPTED", 6: "REJECTED"}


async def test_a_cursor_issued_before_snapshots_kept_their_end_still_works(client, company, module, test_settings):
    """An old phone in the middle of a first sync holds a three-field cursor: it goes on pulling
    the feed as it always did, every outcome included."""
    token = await token_for(client, company.code, "LRN")
    other = await token_for(client, company.code, "LRN", device_id="device-2")
    await push(client, token, [lesson(module.id, seq) for seq in range(1, 4)])
    old = sign(test_settings.secret_key, "v1", [company.tenant.id, company.employees["LRN"].id, 0])

    changes, _, _ = await pull_all(client, other, old, device_id="device-2")
    assert outcome_seqs(changes) == {1: "ACCEPTED", 2: "ACCEPTED", 3: "ACCEPTED"}
    snapshot, _, _ = await pull_all(client, other, device_id="device-2")
    assert {(c["entity"], c["id"]) for c in changes} - {(c["entity"], c["id"]) for c in snapshot} == {
        ("RECORD_OUTCOME", record_id) for record_id in upserts(changes, "RECORD_OUTCOME")
    }
