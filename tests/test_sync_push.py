"""The push half of the sync protocol (docs/sync-protocol.md) and the online twins of record kinds
(``completeLesson``, ``updateMySettings``), all through the real ASGI app over HTTP.

Every test builds its own company (its own tenant) and checks the outcome twice: in the GraphQL
answer, and in the database with the ORM (records, progress, the device's applied sequence,
course completions and the change log).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.ids import to_global_id
from backend.models import (
    ActivityRecord,
    Course,
    CourseCompletion,
    CourseFormat,
    CourseModule,
    CourseStatus,
    CreditAccount,
    CreditActivity,
    CreditEntry,
    CreditRule,
    Device,
    Employee,
    EmployeeSettings,
    ModuleKind,
    ModuleProgress,
    SyncChange,
    SyncClock,
)
from backend.services.feed import ChangeSet
from backend.services.records import registry
from tests.conftest import count_queries, is_postgres_run
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PUSH, lesson, push_input

COURSE_PROGRESS = """
query CourseProgress($id: ID!) {
  course(id: $id) {
    progress {
      completed completedModules totalModules
      modules { moduleId completedCount requiredCount secondsSpent completed }
    }
  }
}
"""

RESULT_FIELDS = "result { id seq status code message retryable originalStatus serverVersion receivedAt }"

COMPLETE_LESSON = f"""
mutation CompleteLesson($input: CompleteLessonInput!) {{
  completeLesson(input: $input) {{ {RESULT_FIELDS} errors {{ code message field }} }}
}}
"""

UPDATE_SETTINGS = f"""
mutation UpdateMySettings($input: UpdateMySettingsInput!) {{
  updateMySettings(input: $input) {{ {RESULT_FIELDS} errors {{ code message field }} }}
}}
"""


# --- helpers ----------------------------------------------------------------------------------


@dataclass
class Learner:
    """LRN of a fresh company, signed in on device-1, and the modules of course S-001."""

    company: Company
    token: str
    lesson: CourseModule  # the LESSON module of S-001
    practice: CourseModule  # its PRACTICE module

    @property
    def employee(self) -> Employee:
        return self.company.employees["LRN"]

    @property
    def course_id(self) -> str:
        return to_global_id("Course", self.company.courses["S-001"].id)


async def lesson_module(company: Company, course_code: str = "S-001") -> CourseModule:
    return await CourseModule.get(course=company.courses[course_code], kind=ModuleKind.LESSON)


async def new_learner(client, password_hash: str) -> Learner:
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    practice = await CourseModule.get(course=company.courses["S-001"], kind=ModuleKind.PRACTICE)
    return Learner(company, token, await lesson_module(company), practice)


async def push(
    client,
    token: str,
    records: list[dict[str, Any]],
    *,
    device_id: str = "device-1",
    sent_at: datetime | None = None,
    version: int = 1,
    language: str | None = "en",
) -> dict[str, Any]:
    """The syncPush payload (the GraphQL request itself must succeed)."""
    body = await gql(client, PUSH, push_input(records, device_id, sent_at, version), token=token, language=language)
    assert "errors" not in body, body
    return body["data"]["syncPush"]


async def push_ok(client, token: str, records: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    """A push without whole-request errors: one result per record, in input order."""
    payload = await push(client, token, records, **options)
    assert payload["errors"] == [], payload
    assert [(r["id"], r["seq"]) for r in payload["results"]] == [(r["id"], r["seq"]) for r in records], payload
    return payload


def statuses(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(result["status"], result["code"]) for result in payload["results"]]


def record(
    kind: str, seq: int, payload: Any, record_id: str | None = None, occurred_at: datetime | None = None
) -> dict[str, Any]:
    """A record of any kind (``lesson`` builds LESSON_COMPLETED ones)."""
    return {
        "id": record_id or str(uuid.uuid4()),
        "seq": seq,
        "kind": kind,
        "occurredAt": (occurred_at or datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "payload": payload,
    }


def settings_record(seq: int, base: int, locale: str, record_id: str | None = None) -> dict[str, Any]:
    return record("SETTINGS_CHANGED", seq, {"baseVersion": base, "locale": locale}, record_id)


def module_payload(module_id: int, seconds: int = 60) -> dict[str, Any]:
    return {"moduleId": to_global_id("CourseModule", module_id), "secondsSpent": seconds}


async def device_row(company: Company, employee_no: str = "LRN", device_uid: str = "device-1") -> Device:
    return await Device.get(
        tenant_id=company.tenant.id, employee_id=company.employees[employee_no].id, device_uid=device_uid
    )


async def applied_seq(company: Company, employee_no: str = "LRN", device_uid: str = "device-1") -> int:
    return (await device_row(company, employee_no, device_uid)).applied_seq


async def progress_row(company: Company, module: CourseModule, employee_no: str = "LRN") -> ModuleProgress | None:
    return await ModuleProgress.get_or_none(employee_id=company.employees[employee_no].id, module_id=module.id)


async def progress_counts(company: Company, module: CourseModule, employee_no: str = "LRN") -> tuple[int, int]:
    """(completed_count, seconds_spent) of one module; (0, 0) without a row."""
    row = await progress_row(company, module, employee_no)
    return (row.completed_count, row.seconds_spent) if row else (0, 0)


async def records_of(company: Company, employee_no: str = "LRN") -> list[ActivityRecord]:
    return await ActivityRecord.filter(
        tenant_id=company.tenant.id, employee_id=company.employees[employee_no].id
    ).order_by("device_seq", "received_at")


async def stored(record_id: str) -> ActivityRecord | None:
    return await ActivityRecord.get_or_none(id=uuid.UUID(record_id))


async def course_progress(client, token: str, course_id: str) -> dict[str, Any]:
    body = await gql(client, COURSE_PROGRESS, {"id": course_id}, token=token)
    assert "errors" not in body, body
    assert body["data"]["course"] is not None, body
    return body["data"]["course"]["progress"]


async def db_state(company: Company) -> dict[str, Any]:
    """Everything a push may write for a tenant, in a comparable form."""
    tenant_id = company.tenant.id
    return {
        "records": await ActivityRecord.filter(tenant_id=tenant_id)
        .order_by("id")
        .values_list(
            "id",
            "employee_id",
            "device_id",
            "device_seq",
            "kind",
            "payload",
            "content_hash",
            "occurred_at_device",
            "received_at",
            "occurred_at",
            "clock_flags",
            "status",
            "error_code",
            "outcome",
        ),
        "progress": await ModuleProgress.filter(tenant_id=tenant_id)
        .order_by("id")
        .values_list("employee_id", "module_id", "completed_count", "seconds_spent", "last_completed_at"),
        "devices": await Device.filter(tenant_id=tenant_id).order_by("id").values_list("id", "applied_seq"),
        "completions": await CourseCompletion.filter(tenant_id=tenant_id)
        .order_by("id")
        .values_list("employee_id", "course_id", "completed_at"),
        "settings": await EmployeeSettings.filter(tenant_id=tenant_id)
        .order_by("id")
        .values_list("employee_id", "version", "locale"),
        "changes": await SyncChange.filter(tenant_id=tenant_id)
        .order_by("entity", "entity_id", "audience")
        .values_list("entity", "entity_id", "audience", "seq", "deleted"),
        "clock": await SyncClock.filter(tenant_id=tenant_id).values_list("seq", flat=True),
    }


async def change_seq(company: Company, entity: str, entity_id: object, audience: int) -> int | None:
    row = await SyncChange.get_or_none(
        tenant_id=company.tenant.id, entity=entity, entity_id=str(entity_id), audience=audience
    )
    return row.seq if row else None


def flags(row: ActivityRecord) -> set[str]:
    return {flag for flag in row.clock_flags.split(",") if flag}


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- ACCEPTED ---------------------------------------------------------------------------------


async def test_accepted_records_add_to_module_progress_and_advance_applied_seq(client, password_hash):
    me = await new_learner(client, password_hash)
    records = [lesson(me.lesson.id, 1, 60), lesson(me.lesson.id, 2, 120), lesson(me.lesson.id, 3, 30)]

    payload = await push_ok(client, me.token, records)

    assert statuses(payload) == [("ACCEPTED", None)] * 3
    for result in payload["results"]:
        assert result["retryable"] is False and result["originalStatus"] is None and result["message"] is None
        assert result["serverVersion"] is None and result["receivedAt"] is not None
    assert payload["appliedSeq"] == 3
    progress = await course_progress(client, me.token, me.course_id)
    assert progress["totalModules"] == 2 and progress["completedModules"] == 1
    lesson_entry, practice_entry = progress["modules"]
    assert lesson_entry == {
        "moduleId": to_global_id("CourseModule", me.lesson.id),
        "completedCount": 3,
        "requiredCount": 1,
        "secondsSpent": 210,
        "completed": True,
    }
    assert (practice_entry["completedCount"], practice_entry["secondsSpent"], practice_entry["completed"]) == (
        0,
        0,
        False,
    )

    row = await progress_row(me.company, me.lesson)
    assert (row.completed_count, row.seconds_spent, row.course_id) == (3, 210, me.company.courses["S-001"].id)
    assert await progress_row(me.company, me.practice) is None
    assert await applied_seq(me.company) == 3
    device = await device_row(me.company)
    rows = await records_of(me.company)
    assert [(str(r.id), r.device_seq, r.status, r.error_code, r.device_id) for r in rows] == [
        (r["id"], r["seq"], "ACCEPTED", None, device.id) for r in records
    ]
    employee_id = me.employee.id
    for r in records:
        assert await change_seq(me.company, "RECORD_OUTCOME", r["id"], employee_id) is not None
    assert await change_seq(me.company, "MODULE_PROGRESS", me.lesson.id, employee_id) is not None


async def test_next_push_continues_after_the_applied_seq(client, password_hash):
    me = await new_learner(client, password_hash)
    await push_ok(client, me.token, [lesson(me.lesson.id, 1, 10)])

    payload = await push_ok(client, me.token, [lesson(me.lesson.id, 2, 20), lesson(me.lesson.id, 3, 30)])

    assert statuses(payload) == [("ACCEPTED", None)] * 2
    assert payload["appliedSeq"] == 3 and await applied_seq(me.company) == 3
    assert await progress_counts(me.company, me.lesson) == (3, 60)


# --- DUPLICATE: retries -----------------------------------------------------------------------


@pytest.mark.parametrize("retries", [1, 3, 10])
async def test_retried_batch_is_all_duplicate_and_changes_nothing(client, password_hash, retries):
    me = await new_learner(client, password_hash)
    batch = [
        lesson(me.lesson.id, 1, 60),
        lesson(me.lesson.id, 2, 90),
        record("LESSON_STARTED", 3, module_payload(me.lesson.id)),
        record("LESSON_COMPLETED", 4, {"moduleId": "not-an-id"}),
        settings_record(5, 0, "en"),
        settings_record(6, 0, "zh-CN"),
    ]
    first = await push_ok(client, me.token, batch)
    assert statuses(first) == [
        ("ACCEPTED", None),
        ("ACCEPTED", None),
        ("REJECTED", "UNKNOWN_KIND"),
        ("REJECTED", "INVALID_PAYLOAD"),
        ("ACCEPTED", None),
        ("CONFLICT", "VERSION_CONFLICT"),
    ]
    assert first["appliedSeq"] == 6
    before = await db_state(me.company)
    assert len(before["records"]) == 6

    for _ in range(retries):
        again = await push_ok(client, me.token, batch)
        assert again["appliedSeq"] == 6
        for original, duplicate in zip(first["results"], again["results"]):
            assert duplicate["status"] == "DUPLICATE", again
            assert duplicate["originalStatus"] == original["status"]
            assert duplicate["code"] == original["code"]
            assert duplicate["message"] == original["message"]
            assert duplicate["serverVersion"] == original["serverVersion"]
            assert parse_time(duplicate["receivedAt"]) == parse_time(original["receivedAt"])
            assert duplicate["retryable"] is False
        assert again["results"][5]["serverVersion"] == {"version": 1, "locale": "en"}

    assert await db_state(me.company) == before
    assert await progress_counts(me.company, me.lesson) == (2, 150)
    assert await applied_seq(me.company) == 6


# --- ID_REUSED --------------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["payload", "kind", "occurredAt"])
async def test_same_id_with_different_content_is_id_reused_and_stored_record_unchanged(client, password_hash, change):
    me = await new_learner(client, password_hash)
    original = lesson(me.lesson.id, 1, 60)
    await push_ok(client, me.token, [original])
    kept = await stored(original["id"])
    before = await db_state(me.company)
    altered = dict(original)
    if change == "payload":
        altered["payload"] = module_payload(me.lesson.id, 61)
    elif change == "kind":
        altered["kind"] = "SETTINGS_CHANGED"
    else:
        altered["occurredAt"] = (parse_time(original["occurredAt"]) + timedelta(seconds=1)).isoformat()

    payload = await push_ok(client, me.token, [altered])

    (result,) = payload["results"]
    assert (result["status"], result["code"], result["retryable"]) == ("REJECTED", "ID_REUSED", False)
    assert (
        result["originalStatus"] is None
        and result["message"] == "This record id was already used for different content."
    )
    now = await stored(original["id"])
    assert (now.kind, now.payload, now.occurred_at_device, now.content_hash, now.status) == (
        kept.kind,
        kept.payload,
        kept.occurred_at_device,
        kept.content_hash,
        kept.status,
    )
    assert await db_state(me.company) == before
    assert await progress_counts(me.company, me.lesson) == (1, 60)


async def test_same_instant_in_another_time_zone_is_the_same_content(client, password_hash):
    me = await new_learner(client, password_hash)
    original = lesson(me.lesson.id, 1, 60)
    await push_ok(client, me.token, [original])
    shanghai = parse_time(original["occurredAt"]).astimezone(timezone(timedelta(hours=8)))

    payload = await push_ok(client, me.token, [{**original, "occurredAt": shanghai.isoformat()}])

    assert statuses(payload) == [("DUPLICATE", None)]
    assert await progress_counts(me.company, me.lesson) == (1, 60)


async def test_record_id_of_another_employee_is_id_reused_never_duplicate(client, password_hash):
    me = await new_learner(client, password_hash)
    other_token = await token_for(client, me.company.code, "OTH")
    theirs = lesson(me.lesson.id, 1, 60)
    assert statuses(await push_ok(client, other_token, [theirs])) == [("ACCEPTED", None)]

    payload = await push_ok(client, me.token, [theirs])  # identical content

    (result,) = payload["results"]
    assert (result["status"], result["code"]) == ("REJECTED", "ID_REUSED")
    assert result["originalStatus"] is None and result["receivedAt"] is None and result["serverVersion"] is None
    row = await stored(theirs["id"])
    assert row.employee_id == me.company.employees["OTH"].id
    assert await records_of(me.company) == []
    assert await progress_row(me.company, me.lesson) is None
    assert await progress_counts(me.company, me.lesson, "OTH") == (1, 60)
    # twice in one batch: still never a DUPLICATE
    payload = await push_ok(client, me.token, [theirs, theirs])
    assert statuses(payload) == [("REJECTED", "ID_REUSED")] * 2
    assert [r["originalStatus"] for r in payload["results"]] == [None, None]


async def test_id_reused_record_consumes_its_sequence_so_the_device_is_not_stuck(client, password_hash):
    """An ID_REUSED result is final (the phone drops it), so its seq must not leave a gap."""
    me = await new_learner(client, password_hash)
    first = lesson(me.lesson.id, 1, 60)
    await push_ok(client, me.token, [first])
    reused = {**first, "seq": 2, "payload": module_payload(me.lesson.id, 5)}

    payload = await push_ok(client, me.token, [lesson(me.lesson.id, 3, 10), reused, lesson(me.lesson.id, 4, 10)])

    assert statuses(payload) == [("ACCEPTED", None), ("REJECTED", "ID_REUSED"), ("ACCEPTED", None)]
    assert payload["appliedSeq"] == 4 and await applied_seq(me.company) == 4
    assert await progress_counts(me.company, me.lesson) == (3, 80)
    # Beyond a gap it is not final yet: it must come again after the missing ones.
    beyond = {**first, "seq": 6, "payload": module_payload(me.lesson.id, 5)}
    payload = await push_ok(client, me.token, [beyond])
    (result,) = payload["results"]
    assert (result["status"], result["code"], result["retryable"]) == ("REJECTED", "SEQUENCE_GAP", True)
    assert payload["appliedSeq"] == 4


# --- SEQUENCE_GAP / SEQUENCE_REUSED / ordering ------------------------------------------------


async def test_sequence_gap_is_retryable_and_not_stored_until_the_gap_is_filled(client, password_hash):
    me = await new_learner(client, password_hash)
    one, two, three, four = (lesson(me.lesson.id, seq, 10 * seq) for seq in (1, 2, 3, 4))

    payload = await push_ok(client, me.token, [one, two, four])

    assert statuses(payload) == [("ACCEPTED", None), ("ACCEPTED", None), ("REJECTED", "SEQUENCE_GAP")]
    gap = payload["results"][2]
    assert gap["retryable"] is True and "3" in gap["message"]
    assert payload["appliedSeq"] == 2 and await applied_seq(me.company) == 2
    assert await stored(four["id"]) is None
    assert await change_seq(me.company, "RECORD_OUTCOME", four["id"], me.employee.id) is None
    assert await progress_counts(me.company, me.lesson) == (2, 30)

    payload = await push_ok(client, me.token, [three, four])

    assert statuses(payload) == [("ACCEPTED", None)] * 2
    assert payload["appliedSeq"] == 4 and await applied_seq(me.company) == 4
    assert (await stored(four["id"])).device_seq == 4
    assert await progress_counts(me.company, me.lesson) == (4, 100)


async def test_new_id_with_a_used_seq_is_sequence_reused_and_not_stored(client, password_hash):
    me = await new_learner(client, password_hash)
    await push_ok(client, me.token, [lesson(me.lesson.id, 1, 10), lesson(me.lesson.id, 2, 10)])
    before = await db_state(me.company)
    intruder = lesson(me.lesson.id, 2, 99)

    payload = await push_ok(client, me.token, [intruder])

    (result,) = payload["results"]
    assert (result["status"], result["code"], result["retryable"]) == ("REJECTED", "SEQUENCE_REUSED", True)
    assert payload["appliedSeq"] == 2
    assert await stored(intruder["id"]) is None
    assert await db_state(me.company) == before

    # Inside one batch too: the first of two records with seq 3 takes it.
    taker, late = lesson(me.lesson.id, 3, 10), lesson(me.lesson.id, 3, 99)
    payload = await push_ok(client, me.token, [taker, late])
    assert statuses(payload) == [("ACCEPTED", None), ("REJECTED", "SEQUENCE_REUSED")]
    assert await stored(late["id"]) is None
    assert await progress_counts(me.company, me.lesson) == (3, 30)


async def test_shuffled_batch_is_applied_in_seq_order_and_answered_in_input_order(client, password_hash):
    me = await new_learner(client, password_hash)
    # Each settings write is based on the previous one: they all succeed only in seq order.
    in_order = [
        settings_record(1, 0, "en"),
        settings_record(2, 1, "zh-CN"),
        settings_record(3, 2, "en"),
        lesson(me.lesson.id, 4, 10),
        lesson(me.lesson.id, 5, 20),
        lesson(me.lesson.id, 6, 30),
    ]
    shuffled = [in_order[i] for i in (4, 2, 0, 5, 1, 3)]

    payload = await push_ok(client, me.token, shuffled)  # push_ok checks ids and seqs in input order

    assert statuses(payload) == [("ACCEPTED", None)] * 6
    assert payload["appliedSeq"] == 6 and await applied_seq(me.company) == 6
    settings = await EmployeeSettings.get(employee_id=me.employee.id)
    assert (settings.version, settings.locale) == (3, "en")
    assert [r.device_seq for r in await records_of(me.company)] == [1, 2, 3, 4, 5, 6]
    assert await progress_counts(me.company, me.lesson) == (3, 60)


async def test_same_record_twice_in_one_batch_is_a_duplicate_of_the_first(client, password_hash):
    me = await new_learner(client, password_hash)
    twice = lesson(me.lesson.id, 1, 60)
    other = lesson(me.lesson.id, 2, 30)

    payload = await push_ok(client, me.token, [twice, twice, other])

    first, second, third = payload["results"]
    assert (first["status"], third["status"]) == ("ACCEPTED", "ACCEPTED")
    assert (second["status"], second["originalStatus"], second["code"]) == ("DUPLICATE", "ACCEPTED", None)
    assert second["receivedAt"] == first["receivedAt"]
    assert payload["appliedSeq"] == 2
    assert len(await records_of(me.company)) == 2
    assert await progress_counts(me.company, me.lesson) == (2, 90)


# --- per-record REJECTED ----------------------------------------------------------------------


async def test_unknown_kind_is_rejected_stored_and_consumes_its_seq(client, password_hash):
    me = await new_learner(client, password_hash)
    strange = record("LESSON_STARTED", 1, module_payload(me.lesson.id))

    payload = await push_ok(client, me.token, [strange])

    (result,) = payload["results"]
    assert (result["status"], result["code"], result["retryable"]) == ("REJECTED", "UNKNOWN_KIND", False)
    assert result["message"] == "Unknown record kind: LESSON_STARTED."
    assert payload["appliedSeq"] == 1 and await applied_seq(me.company) == 1
    row = await stored(strange["id"])
    assert (row.status, row.error_code, row.kind, row.device_seq) == ("REJECTED", "UNKNOWN_KIND", "LESSON_STARTED", 1)
    assert await progress_row(me.company, me.lesson) is None
    assert await change_seq(me.company, "RECORD_OUTCOME", strange["id"], me.employee.id) is not None
    # the next record follows on
    assert statuses(await push_ok(client, me.token, [lesson(me.lesson.id, 2)])) == [("ACCEPTED", None)]


async def test_invalid_payloads_are_rejected_one_by_one_and_consume_their_seq(client, password_hash):
    me = await new_learner(client, password_hash)
    module_id = to_global_id("CourseModule", me.lesson.id)
    cases = [  # (payload, the field named in the message)
        ({"secondsSpent": 10}, "moduleId"),
        ({"moduleId": "not-an-id", "secondsSpent": 10}, "moduleId"),
        ({"moduleId": to_global_id("Course", me.company.courses["S-001"].id), "secondsSpent": 10}, "moduleId"),
        ({"moduleId": me.lesson.id, "secondsSpent": 10}, "moduleId"),
        ({"moduleId": module_id, "secondsSpent": -1}, "secondsSpent"),
        ({"moduleId": module_id, "secondsSpent": 100000}, "secondsSpent"),
        ({"moduleId": module_id, "secondsSpent": "10"}, "secondsSpent"),
        ({"moduleId": module_id, "secondsSpent": True}, "secondsSpent"),
        ({"moduleId": module_id, "secondsSpent": 1.5}, "secondsSpent"),
        ([module_id, 10], "payload"),
        ("moduleId", "payload"),
    ]
    records = [record("LESSON_COMPLETED", seq, case) for seq, (case, _) in enumerate(cases, start=1)]
    good = lesson(me.lesson.id, len(cases) + 1, 86400)  # the upper bound itself is fine

    payload = await push_ok(client, me.token, [*records, good])

    for result, (case, field) in zip(payload["results"], cases):
        assert (result["status"], result["code"], result["retryable"]) == ("REJECTED", "INVALID_PAYLOAD", False), case
        assert result["message"] == f"Invalid record content: field {field} is invalid", case
    assert statuses(payload)[-1] == ("ACCEPTED", None)
    assert payload["appliedSeq"] == len(cases) + 1 and await applied_seq(me.company) == len(cases) + 1
    rows = await records_of(me.company)
    assert [(r.status, r.error_code) for r in rows] == [("REJECTED", "INVALID_PAYLOAD")] * len(cases) + [
        ("ACCEPTED", None)
    ]
    assert await progress_counts(me.company, me.lesson) == (1, 86400)


async def test_module_the_learner_cannot_see_is_not_found(client, password_hash):
    me = await new_learner(client, password_hash)
    elsewhere = await make_company(password_hash)
    draft = await lesson_module(me.company, "S-007")
    foreign = await lesson_module(elsewhere)
    records = [lesson(draft.id, 1), lesson(foreign.id, 2), lesson(me.lesson.id, 3)]

    payload = await push_ok(client, me.token, records)

    assert statuses(payload) == [("REJECTED", "NOT_FOUND"), ("REJECTED", "NOT_FOUND"), ("ACCEPTED", None)]
    assert payload["results"][0]["message"] == payload["results"][1]["message"] == "Nothing was found for this request."
    assert payload["appliedSeq"] == 3
    assert [(r.status, r.error_code) for r in await records_of(me.company)] == [
        ("REJECTED", "NOT_FOUND"),
        ("REJECTED", "NOT_FOUND"),
        ("ACCEPTED", None),
    ]
    assert await progress_row(me.company, draft) is None
    assert await ModuleProgress.filter(module_id=foreign.id).count() == 0
    assert await progress_counts(me.company, me.lesson) == (1, 60)


async def test_practice_module_is_invalid_payload(client, password_hash):
    me = await new_learner(client, password_hash)

    payload = await push_ok(client, me.token, [lesson(me.practice.id, 1)])

    assert statuses(payload) == [("REJECTED", "INVALID_PAYLOAD")]
    assert payload["results"][0]["message"] == "Invalid record content: field moduleId is invalid"
    assert payload["appliedSeq"] == 1
    assert await progress_row(me.company, me.practice) is None


async def test_one_bad_record_never_sinks_the_good_ones(client, password_hash):
    me = await new_learner(client, password_hash)
    records = [
        lesson(me.lesson.id, 1, 10),
        record("LESSON_COMPLETED", 2, {"moduleId": to_global_id("CourseModule", me.lesson.id), "secondsSpent": -5}),
        lesson(me.lesson.id, 3, 20),
        record("NO_SUCH_KIND", 4, {}),
        lesson(me.practice.id, 5, 20),
        lesson(me.lesson.id, 6, 30),
    ]

    payload = await push_ok(client, me.token, records)

    assert statuses(payload) == [
        ("ACCEPTED", None),
        ("REJECTED", "INVALID_PAYLOAD"),
        ("ACCEPTED", None),
        ("REJECTED", "UNKNOWN_KIND"),
        ("REJECTED", "INVALID_PAYLOAD"),
        ("ACCEPTED", None),
    ]
    assert payload["appliedSeq"] == 6 and await applied_seq(me.company) == 6
    assert await progress_counts(me.company, me.lesson) == (3, 60)
    assert len(await records_of(me.company)) == 6


# --- whole-request errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "defect, code, message_part",
    [
        ("protocol", "UNSUPPORTED_PROTOCOL", "the server supports 1"),
        ("device", "DEVICE_MISMATCH", "This device does not match the sign-in."),
        ("too_many", "BATCH_TOO_LARGE", "At most 500 records"),
    ],
)
async def test_whole_request_errors_apply_nothing(client, password_hash, defect, code, message_part):
    me = await new_learner(client, password_hash)
    await token_for(client, me.company.code, "LRN", device_id="device-2")  # a real device of the same employee
    await push_ok(client, me.token, [lesson(me.lesson.id, 1), lesson(me.lesson.id, 2)])
    before = await db_state(me.company)
    records = [lesson(me.lesson.id, 3), lesson(me.lesson.id, 4)]
    options: dict[str, Any] = {}
    if defect == "protocol":
        options["version"] = 2
    elif defect == "device":
        options["device_id"] = "device-2"
    else:
        records = [lesson(me.lesson.id, seq, 1) for seq in range(3, 3 + 501)]

    payload = await push(client, me.token, records, **options)

    assert [error["code"] for error in payload["errors"]] == [code], payload
    assert message_part in payload["errors"][0]["message"]
    assert payload["results"] == []
    assert await db_state(me.company) == before
    assert await applied_seq(me.company) == 2
    assert await applied_seq(me.company, device_uid="device-2") == 0
    assert await progress_counts(me.company, me.lesson) == (2, 120)


@pytest.mark.parametrize(
    "defect",
    ["seq_zero", "bad_id", "missing_kind", "unknown_field", "not_an_object"],
)
async def test_malformed_records_fail_the_whole_request_and_apply_nothing(client, password_hash, defect):
    """A record without the SyncRecord shape is a client bug: a GraphQL error, nothing applied
    (docs/sync-protocol.md)."""
    me = await new_learner(client, password_hash)
    await push_ok(client, me.token, [lesson(me.lesson.id, 1), lesson(me.lesson.id, 2)])
    before = await db_state(me.company)
    bad: Any = {
        "seq_zero": lesson(me.lesson.id, 0),
        "bad_id": {**lesson(me.lesson.id, 4), "id": "not-a-uuid"},
        "missing_kind": {k: v for k, v in lesson(me.lesson.id, 4).items() if k != "kind"},
        "unknown_field": {**lesson(me.lesson.id, 4), "extra": 1},
        "not_an_object": "LESSON_COMPLETED",
    }[defect]
    body = await gql(client, PUSH, push_input([lesson(me.lesson.id, 3), bad]), token=me.token)

    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["GRAPHQL_VALIDATION"]
    assert "SyncRecord" in body["errors"][0]["message"]
    assert await db_state(me.company) == before
    assert await applied_seq(me.company) == 2


async def test_exactly_500_records_are_accepted(client, password_hash):
    me = await new_learner(client, password_hash)

    payload = await push_ok(client, me.token, [lesson(me.lesson.id, seq, 1) for seq in range(1, 501)])

    assert set(statuses(payload)) == {("ACCEPTED", None)}
    assert payload["appliedSeq"] == 500
    assert await progress_counts(me.company, me.lesson) == (500, 500)


async def test_another_employees_device_cannot_be_pushed_to(client, password_hash):
    me = await new_learner(client, password_hash)
    other_token = await token_for(client, me.company.code, "OTH", device_id="device-9")

    payload = await push(client, me.token, [lesson(me.lesson.id, 1)], device_id="device-9")

    assert [error["code"] for error in payload["errors"]] == ["DEVICE_MISMATCH"]
    assert await applied_seq(me.company, "OTH", "device-9") == 0
    assert await ActivityRecord.filter(tenant_id=me.company.tenant.id).count() == 0
    assert other_token


# --- clocks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("device_offset", [timedelta(hours=-1), timedelta(hours=1)])
async def test_skewed_device_clock_is_corrected_and_flagged(client, password_hash, device_offset):
    """device_offset: how far the device clock is off (negative: behind)."""
    me = await new_learner(client, password_hash)
    device_now = datetime.now(UTC) + device_offset
    occurred = device_now - timedelta(minutes=10)
    item = lesson(me.lesson.id, 1, occurred_at=occurred)

    payload = await push_ok(client, me.token, [item], sent_at=device_now)

    expected_ms = -device_offset.total_seconds() * 1000
    assert abs(payload["clockOffsetMs"] - expected_ms) < 5000, payload
    assert payload["clockSkewed"] is True
    row = await stored(item["id"])
    assert row.occurred_at_device == occurred
    assert row.clock_offset_ms == payload["clockOffsetMs"]
    assert abs(row.occurred_at - (occurred - device_offset)) < timedelta(seconds=5)
    assert abs(row.occurred_at - (occurred + timedelta(milliseconds=row.clock_offset_ms))) < timedelta(milliseconds=2)
    assert abs(row.occurred_at - (datetime.now(UTC) - timedelta(minutes=10))) < timedelta(seconds=10)
    assert flags(row) == {"CLOCK_SKEW"}
    assert row.occurred_at <= row.received_at
    assert row.received_at == parse_time(payload["serverTime"])


async def test_event_after_sent_at_is_flagged_future_and_capped_at_received_at(client, password_hash):
    me = await new_learner(client, password_hash)
    sent = datetime.now(UTC)
    item = lesson(me.lesson.id, 1, occurred_at=sent + timedelta(minutes=10))

    payload = await push_ok(client, me.token, [item], sent_at=sent)

    assert payload["clockSkewed"] is False and abs(payload["clockOffsetMs"]) < 5000
    assert statuses(payload) == [("ACCEPTED", None)]
    row = await stored(item["id"])
    assert flags(row) == {"FUTURE"}
    assert row.occurred_at == row.received_at


async def test_offset_beyond_seven_days_is_not_corrected(client, password_hash):
    me = await new_learner(client, password_hash)
    device_now = datetime.now(UTC) - timedelta(days=30)
    occurred = device_now - timedelta(hours=1)
    item = lesson(me.lesson.id, 1, occurred_at=occurred)

    payload = await push_ok(client, me.token, [item], sent_at=device_now)

    assert statuses(payload) == [("ACCEPTED", None)]
    assert payload["clockSkewed"] is True
    # 30 days of milliseconds do not fit a GraphQL Int: the answer saturates, the row keeps it all
    assert payload["clockOffsetMs"] == 2**31 - 1
    row = await stored(item["id"])
    assert abs(row.clock_offset_ms - 30 * 86400 * 1000) < 5000
    assert row.occurred_at == occurred  # not trusted, so not moved
    assert "CLOCK_SKEW" in flags(row) and "FUTURE" not in flags(row)
    assert row.occurred_at <= row.received_at


async def test_device_clock_far_ahead_is_not_corrected_and_never_after_received_at(client, password_hash):
    me = await new_learner(client, password_hash)
    device_now = datetime.now(UTC) + timedelta(days=30)
    item = lesson(me.lesson.id, 1, occurred_at=device_now - timedelta(hours=1))

    payload = await push_ok(client, me.token, [item], sent_at=device_now)

    assert statuses(payload) == [("ACCEPTED", None)]
    assert payload["clockOffsetMs"] == -(2**31 - 1) and payload["clockSkewed"] is True
    row = await stored(item["id"])
    assert abs(row.clock_offset_ms + 30 * 86400 * 1000) < 5000
    assert flags(row) == {"CLOCK_SKEW", "FUTURE"}
    assert row.occurred_at == row.received_at  # the device time lies in the future: capped


async def test_correct_clock_gets_no_flags_and_a_small_offset(client, password_hash):
    me = await new_learner(client, password_hash)
    sent = datetime.now(UTC)
    occurred = sent - timedelta(minutes=5)
    item = lesson(me.lesson.id, 1, occurred_at=occurred)

    payload = await push_ok(client, me.token, [item], sent_at=sent)

    assert abs(payload["clockOffsetMs"]) < 5000 and payload["clockSkewed"] is False
    row = await stored(item["id"])
    assert flags(row) == set()
    assert abs(row.occurred_at - occurred) < timedelta(seconds=5)
    assert row.occurred_at <= row.received_at


# --- course completion ------------------------------------------------------------------------


async def test_course_is_completed_exactly_once_when_every_module_meets_its_count(client, password_hash):
    me = await new_learner(client, password_hash)
    tenant = me.company.tenant
    course = await Course.create(
        tenant=tenant,
        code="C-900",
        title="两课时课程",
        summary="测试",
        scenario="销售",
        format=CourseFormat.ONLINE,
        status=CourseStatus.PUBLISHED,
        hours=Decimal("1.0"),
        credits=Decimal("1.0"),
    )
    once = await CourseModule.create(
        tenant=tenant, course=course, position=1, title="一", kind=ModuleKind.LESSON, required_count=1
    )
    twice = await CourseModule.create(
        tenant=tenant, course=course, position=2, title="二", kind=ModuleKind.LESSON, required_count=2
    )
    course_id = to_global_id("Course", course.id)

    async def completions() -> list[CourseCompletion]:
        return await CourseCompletion.filter(employee_id=me.employee.id, course_id=course.id)

    await push_ok(client, me.token, [lesson(once.id, 1), lesson(twice.id, 2)])
    assert await completions() == []
    progress = await course_progress(client, me.token, course_id)
    assert (progress["completed"], progress["completedModules"], progress["totalModules"]) == (False, 1, 2)

    await push_ok(client, me.token, [lesson(twice.id, 3)])
    (done,) = await completions()
    progress = await course_progress(client, me.token, course_id)
    assert (progress["completed"], progress["completedModules"]) == (True, 2)
    assert await change_seq(me.company, "COURSE_COMPLETION", course.id, me.employee.id) is not None

    await push_ok(client, me.token, [lesson(once.id, 4), lesson(twice.id, 5)])
    await push_ok(client, me.token, [lesson(twice.id, 6)])
    (still,) = await completions()
    assert (still.id, still.completed_at) == (done.id, done.completed_at)
    assert (await course_progress(client, me.token, course_id))["completed"] is True
    assert await progress_counts(me.company, twice) == (4, 240)


async def test_course_completed_within_one_batch(client, password_hash):
    me = await new_learner(client, password_hash)
    tenant = me.company.tenant
    course = await Course.create(
        tenant=tenant,
        code="C-901",
        title="一次完成",
        summary="测试",
        scenario="销售",
        format=CourseFormat.ONLINE,
        status=CourseStatus.PUBLISHED,
        hours=Decimal("1.0"),
        credits=Decimal("1.0"),
    )
    once = await CourseModule.create(tenant=tenant, course=course, position=1, title="一", kind=ModuleKind.LESSON)
    twice = await CourseModule.create(
        tenant=tenant, course=course, position=2, title="二", kind=ModuleKind.LESSON, required_count=2
    )

    await push_ok(client, me.token, [lesson(twice.id, 1), lesson(once.id, 2), lesson(twice.id, 3), lesson(once.id, 4)])

    assert await CourseCompletion.filter(employee_id=me.employee.id, course_id=course.id).count() == 1
    assert (await course_progress(client, me.token, to_global_id("Course", course.id)))["completed"] is True


# --- SETTINGS_CHANGED: versions and conflicts -------------------------------------------------


async def test_settings_change_by_sync_applies_on_the_current_version_else_conflict(client, password_hash):
    me = await new_learner(client, password_hash)
    first = settings_record(1, 0, "en")
    stale = settings_record(2, 0, "zh-CN")
    rebased = settings_record(3, 1, "zh-CN")

    assert statuses(await push_ok(client, me.token, [first])) == [("ACCEPTED", None)]
    row = await EmployeeSettings.get(employee_id=me.employee.id)
    assert (row.version, row.locale) == (1, "en")

    payload = await push_ok(client, me.token, [stale])
    (conflict,) = payload["results"]
    assert (conflict["status"], conflict["code"], conflict["retryable"]) == ("CONFLICT", "VERSION_CONFLICT", False)
    assert conflict["serverVersion"] == {"version": 1, "locale": "en"}
    assert conflict["message"] == "This was changed elsewhere; reapply your change to the latest version."
    row = await EmployeeSettings.get(employee_id=me.employee.id)
    assert (row.version, row.locale) == (1, "en")
    assert (await stored(stale["id"])).status == "CONFLICT"

    assert statuses(await push_ok(client, me.token, [rebased])) == [("ACCEPTED", None)]
    row = await EmployeeSettings.get(employee_id=me.employee.id)
    assert (row.version, row.locale) == (2, "zh-CN")

    payload = await push_ok(client, me.token, [stale])
    (again,) = payload["results"]
    assert (again["status"], again["originalStatus"], again["code"]) == ("DUPLICATE", "CONFLICT", "VERSION_CONFLICT")
    assert again["serverVersion"] == {"version": 1, "locale": "en"}  # what the first answer said
    assert payload["appliedSeq"] == 3
    row = await EmployeeSettings.get(employee_id=me.employee.id)
    assert (row.version, row.locale) == (2, "zh-CN")


async def update_settings(client, token: str, base: int, locale: str, client_id: str | None) -> dict[str, Any]:
    body = await gql(
        client,
        UPDATE_SETTINGS,
        {"input": {"clientId": client_id, "baseVersion": base, "locale": locale}},
        token=token,
        language="en",
    )
    assert "errors" not in body, body
    payload = body["data"]["updateMySettings"]
    assert payload["errors"] == [], payload
    return payload["result"]


async def test_update_my_settings_online_follows_the_same_rules(client, password_hash):
    me = await new_learner(client, password_hash)
    c1, c2, c3 = (str(uuid.uuid4()) for _ in range(3))

    first = await update_settings(client, me.token, 0, "en", c1)
    assert (first["status"], first["seq"], first["id"]) == ("ACCEPTED", None, c1)

    conflict = await update_settings(client, me.token, 0, "zh-CN", c2)
    assert (conflict["status"], conflict["code"]) == ("CONFLICT", "VERSION_CONFLICT")
    assert conflict["serverVersion"] == {"version": 1, "locale": "en"}

    rebased = await update_settings(client, me.token, 1, "zh-CN", c3)
    assert rebased["status"] == "ACCEPTED"
    row = await EmployeeSettings.get(employee_id=me.employee.id)
    assert (row.version, row.locale) == (2, "zh-CN")
    before = await db_state(me.company)

    again = await update_settings(client, me.token, 0, "zh-CN", c2)
    assert (again["status"], again["originalStatus"], again["code"]) == ("DUPLICATE", "CONFLICT", "VERSION_CONFLICT")
    assert again["serverVersion"] == {"version": 1, "locale": "en"}
    again = await update_settings(client, me.token, 0, "en", c1)
    assert (again["status"], again["originalStatus"]) == ("DUPLICATE", "ACCEPTED")
    assert await db_state(me.company) == before
    assert await applied_seq(me.company) == 0  # online records have no device sequence
    assert [r.device_seq for r in await records_of(me.company)] == [None, None, None]


# --- the online twin: completeLesson ----------------------------------------------------------


async def complete_lesson(
    client, token: str, module_id: int, seconds: int, client_id: str | None = None
) -> dict[str, Any]:
    variables = {"input": {"moduleId": to_global_id("CourseModule", module_id), "secondsSpent": seconds}}
    if client_id:
        variables["input"]["clientId"] = client_id
    body = await gql(client, COMPLETE_LESSON, variables, token=token, language="en")
    assert "errors" not in body, body
    payload = body["data"]["completeLesson"]
    assert payload["errors"] == [], payload
    return payload["result"]


async def test_complete_lesson_with_a_client_id_is_applied_once(client, password_hash):
    me = await new_learner(client, password_hash)
    client_id = str(uuid.uuid4())

    first = await complete_lesson(client, me.token, me.lesson.id, 300, client_id)
    assert (first["status"], first["id"], first["seq"]) == ("ACCEPTED", client_id, None)
    before = await db_state(me.company)

    second = await complete_lesson(client, me.token, me.lesson.id, 300, client_id)

    assert (second["status"], second["originalStatus"], second["code"]) == ("DUPLICATE", "ACCEPTED", None)
    assert parse_time(second["receivedAt"]) == parse_time(first["receivedAt"])
    assert await db_state(me.company) == before
    assert await progress_counts(me.company, me.lesson) == (1, 300)
    progress = await course_progress(client, me.token, me.course_id)
    assert (progress["modules"][0]["completedCount"], progress["modules"][0]["secondsSpent"]) == (1, 300)


async def test_complete_lesson_same_client_id_with_other_content_is_id_reused(client, password_hash):
    me = await new_learner(client, password_hash)
    client_id = str(uuid.uuid4())
    await complete_lesson(client, me.token, me.lesson.id, 300, client_id)

    other = await complete_lesson(client, me.token, me.lesson.id, 301, client_id)

    assert (other["status"], other["code"]) == ("REJECTED", "ID_REUSED")
    assert await progress_counts(me.company, me.lesson) == (1, 300)


async def test_complete_lesson_without_client_id_counts_every_call(client, password_hash):
    me = await new_learner(client, password_hash)

    results = [await complete_lesson(client, me.token, me.lesson.id, 100) for _ in range(2)]

    assert [r["status"] for r in results] == ["ACCEPTED", "ACCEPTED"]
    assert results[0]["id"] != results[1]["id"]
    assert await progress_counts(me.company, me.lesson) == (2, 200)
    assert len(await records_of(me.company)) == 2


async def test_synced_record_and_online_mutation_have_the_same_effect(client, password_hash):
    me = await new_learner(client, password_hash)
    synced = lesson(me.lesson.id, 1, 45)
    await push_ok(client, me.token, [synced])
    after_sync = await progress_row(me.company, me.lesson)
    sync_change = await change_seq(me.company, "MODULE_PROGRESS", me.lesson.id, me.employee.id)
    assert (after_sync.completed_count, after_sync.seconds_spent) == (1, 45)

    online = await complete_lesson(client, me.token, me.lesson.id, 45)

    assert online["status"] == "ACCEPTED"
    after_online = await progress_row(me.company, me.lesson)
    assert after_online.id == after_sync.id
    assert (after_online.completed_count, after_online.seconds_spent) == (2, 90)
    assert await change_seq(me.company, "MODULE_PROGRESS", me.lesson.id, me.employee.id) > sync_change
    by_sync, by_mutation = await stored(synced["id"]), await stored(online["id"])
    assert (by_sync.kind, by_sync.payload, by_sync.status) == (
        by_mutation.kind,
        by_mutation.payload,
        by_mutation.status,
    )
    # the same checks answer the same way
    draft = await lesson_module(me.company, "S-007")
    for module, code in ((me.practice, "INVALID_PAYLOAD"), (draft, "NOT_FOUND")):
        by_mutation = await complete_lesson(client, me.token, module.id, 10)
        by_push = (await push_ok(client, me.token, [lesson(module.id, await applied_seq(me.company) + 1, 10)]))[
            "results"
        ][0]
        assert (
            (by_mutation["status"], by_mutation["code"]) == (by_push["status"], by_push["code"]) == ("REJECTED", code)
        )
        assert by_mutation["message"] == by_push["message"]
    assert await progress_counts(me.company, me.lesson) == (2, 90)


# --- cost -------------------------------------------------------------------------------------


async def test_a_push_costs_the_same_few_statements_whatever_its_size(client, password_hash):
    """A batch's ingest, progress, course completion check, credits (events, a rule per record,
    a capped rule, the ledger) and feed take a fixed number of SQL statements, whatever the batch
    holds: one record or many across eight courses. (SQLite writes RETURNING inserts in chunks of
    fewer parameters: its batches stay within one chunk here.)"""
    me = await new_learner(client, password_hash)
    tenant = me.company.tenant
    for key, activity, cap in (
        ("LESSON", CreditActivity.LESSON_COMPLETED, None),
        ("LESSON-DAY", CreditActivity.LESSON_COMPLETED, 20),
        ("MODULE", CreditActivity.MODULE_COMPLETED, None),
    ):
        await CreditRule.create(tenant=tenant, rule_key=key, name=key, activity=activity, credits=5, cap_per_day=cap)
    codes = ("S-001", "S-002", "S-003", "S-004", "S-005", "S-006", "A-001", "A-002")
    modules = [(await lesson_module(me.company, code)).id for code in codes]
    numbers = iter(range(1, 10_000))

    # A phone's pace, a lesson every 151 seconds (dozens at one instant would be a burst, held for
    # HR: tests/test_integrity.py), all on one local day of the credit program two days ago.
    shanghai = ZoneInfo("Asia/Shanghai")
    day = datetime.combine(datetime.now(shanghai).date() - timedelta(days=2), time(0, 10), shanghai)

    def batch(size: int) -> list[dict[str, Any]]:
        return [
            lesson(modules[i % len(modules)], n, 30, occurred_at=day + timedelta(seconds=151 * n))
            for i in range(size)
            for n in (next(numbers),)
        ]

    await push_ok(client, me.token, batch(len(modules)))  # every module done once: its progress row exists

    async def statements(size: int) -> list[str]:
        with count_queries() as sent:
            payload = await push_ok(client, me.token, batch(size))
        assert set(statuses(payload)) == {("ACCEPTED", None)}
        return sent

    one = await statements(1)
    many = await statements(500 if is_postgres_run() else 50)
    # Sign-in; the device (locked); records seen before; the modules; progress (the new counts
    # return); courses newly met; the records; the applied sequence; the account (locked); the
    # events; the rules; the program; the capped rule's day; the entries; the accounts' sums; the
    # feed clock, the company's time zone, the report rollups and the learning months, the feed rows;
    # the balance answered.
    assert len(one) == len(many) == 21, "\n".join(many)
    lessons = 1 + len(modules) + (500 if is_postgres_run() else 50)
    employee = me.employee.id
    assert await CreditEntry.filter(employee_id=employee, rule__rule_key="LESSON").count() == lessons
    assert await CreditEntry.filter(employee_id=employee, rule__rule_key="LESSON-DAY").count() == 4  # capped
    assert (await CreditAccount.get(employee_id=employee)).balance == 5 * (lessons + 4 + len(modules))


# --- exactly once under concurrency -----------------------------------------------------------


async def test_same_batch_pushed_by_concurrent_requests_is_applied_exactly_once(client, password_hash):
    me = await new_learner(client, password_hash)
    batch = [lesson(me.lesson.id, seq, 10) for seq in range(1, 21)]

    payloads = await asyncio.gather(*(push_ok(client, me.token, batch) for _ in range(8)))

    accepted_by = {r["id"]: 0 for r in batch}
    for payload in payloads:
        assert payload["appliedSeq"] == 20
        kinds = {result["status"] for result in payload["results"]}
        assert kinds in ({"ACCEPTED"}, {"DUPLICATE"}), payload  # a batch is applied whole or not at all
        for result in payload["results"]:
            if result["status"] == "ACCEPTED":
                accepted_by[result["id"]] += 1
            else:
                assert (result["originalStatus"], result["code"]) == ("ACCEPTED", None)
    assert set(accepted_by.values()) == {1}
    assert len(await records_of(me.company)) == 20
    assert await progress_counts(me.company, me.lesson) == (20, 200)
    assert await applied_seq(me.company) == 20
    progress = await course_progress(client, me.token, me.course_id)
    assert progress["modules"][0]["completedCount"] == 20


async def test_two_devices_of_one_employee_pushing_concurrently_both_count(client, password_hash):
    me = await new_learner(client, password_hash)
    second_token = await token_for(client, me.company.code, "LRN", device_id="device-2")

    async def device(token: str, device_id: str, seconds: int) -> list[dict[str, Any]]:
        answers = []
        for start in range(1, 16, 3):
            batch = [lesson(me.lesson.id, seq, seconds) for seq in range(start, start + 3)]
            answers.append(await push_ok(client, token, batch, device_id=device_id))
        return answers

    one, two = await asyncio.gather(device(me.token, "device-1", 10), device(second_token, "device-2", 7))

    for answers in (one, two):
        assert all(statuses(answer) == [("ACCEPTED", None)] * 3 for answer in answers)
        assert answers[-1]["appliedSeq"] == 15
    assert await applied_seq(me.company, device_uid="device-1") == 15
    assert await applied_seq(me.company, device_uid="device-2") == 15
    assert await progress_counts(me.company, me.lesson) == (30, 15 * 10 + 15 * 7)
    assert await ModuleProgress.filter(employee_id=me.employee.id, module_id=me.lesson.id).count() == 1
    assert len(await records_of(me.company)) == 30


async def test_one_record_id_from_two_phones_at_the_same_moment_is_stored_once_without_an_error(client, password_hash):
    """The device lock orders one phone's pushes, not two phones' of one person: both may find the
    record id free. The later transaction is run again and answers the record as a retry; neither
    push fails (PostgreSQL took the second insert for an INTERNAL error before)."""
    me = await new_learner(client, password_hash)
    second_token = await token_for(client, me.company.code, "LRN", device_id="device-2")
    for seq in range(1, 9):
        shared = str(uuid.uuid4())
        one, two = await asyncio.gather(
            push(client, me.token, [lesson(me.lesson.id, seq, 10, record_id=shared)], device_id="device-1"),
            push(client, second_token, [lesson(me.lesson.id, seq, 10, record_id=shared)], device_id="device-2"),
        )
        assert one["errors"] == [] and two["errors"] == [], (one, two)
        answers = sorted(statuses(one) + statuses(two))
        assert answers[0] == ("ACCEPTED", None), answers
        assert answers[1] in {("DUPLICATE", None), ("REJECTED", "ID_REUSED")}, answers
    assert len(await records_of(me.company)) == 8
    assert await progress_counts(me.company, me.lesson) == (8, 80)


# --- a server error leaves nothing half-written -----------------------------------------------


@pytest.mark.parametrize("failure", ["apply", "publish"])
async def test_server_error_rolls_the_whole_batch_back(client, password_hash, monkeypatch, failure):
    """``apply``: fails right after the progress upsert; ``publish``: fails in the change-log step,
    the last statement of the transaction, after records, progress and appliedSeq were written."""
    me = await new_learner(client, password_hash)
    await push_ok(client, me.token, [lesson(me.lesson.id, 1, 10)])
    before = await db_state(me.company)
    batch = [lesson(me.lesson.id, 2, 20), lesson(me.lesson.id, 3, 30)]
    seen_inside: list[tuple] = []

    async def look_inside(connection) -> None:
        """What the failing transaction itself had written by then."""
        progress = (
            await ModuleProgress.filter(employee_id=me.employee.id, module_id=me.lesson.id)
            .using_db(connection)
            .values_list("completed_count", flat=True)
        )
        records = await ActivityRecord.filter(id__in=[uuid.UUID(r["id"]) for r in batch]).using_db(connection).count()
        device = (
            await Device.filter(id=(await device_row(me.company)).id)
            .using_db(connection)
            .values_list("applied_seq", flat=True)
        )
        seen_inside.append((list(progress), records, list(device)))

    if failure == "apply":
        handler = registry.KINDS["LESSON_COMPLETED"]
        original_apply = handler.apply

        async def failing_apply(context, records):
            await original_apply(context, records)
            await look_inside(context.connection)
            raise RuntimeError("simulated failure after the progress upsert")

        monkeypatch.setattr(handler, "apply", failing_apply)
        expected_inside = ([3], 0, [1])
    else:

        async def failing_publish(self, connection, now=None):
            await look_inside(connection)
            raise RuntimeError("simulated failure while publishing the changes")

        monkeypatch.setattr(ChangeSet, "publish", failing_publish)
        expected_inside = ([3], 2, [3])

    body = await gql(client, PUSH, push_input(batch), token=me.token, language="en")

    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL"
    assert "simulated" not in error["message"]
    assert seen_inside == [expected_inside], "the failure must come after those writes"
    assert await db_state(me.company) == before
    assert await applied_seq(me.company) == 1
    assert await progress_counts(me.company, me.lesson) == (1, 10)
    assert [await stored(r["id"]) for r in batch] == [None, None]

    monkeypatch.undo()
    payload = await push_ok(client, me.token, batch)

    assert statuses(payload) == [("ACCEPTED", None)] * 2
    assert payload["appliedSeq"] == 3 and await applied_seq(me.company) == 3
    assert await progress_counts(me.company, me.lesson) == (3, 60)
