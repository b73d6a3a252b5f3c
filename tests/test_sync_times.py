"""Device times at the edges (issue 11, finding 6): no time a phone can send sinks a push or wedges
its outbox. A record whose time cannot be read or is out of bounds gets its own final REJECTED
answer; a request whose sentAt is out of bounds is a GraphQL validation error; stale times are
flagged like future ones. Through the real ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.models import ActivityRecord
from tests.graphql_client import gql
from tests.sync_helpers import PUSH, lesson, push_input
from tests.test_sync_push import applied_seq, new_learner, progress_counts, push_ok, statuses

BAD_TIMES = {
    "year_1": "0001-01-01T00:00:00Z",
    "year_1_east": "0001-01-01T00:00:00+14:00",
    "year_9999": "9999-12-31T23:59:59Z",
    "year_9999_west": "9999-12-31T23:59:59-14:00",
    "before_1900": "1899-12-31T23:59:59Z",
    "from_2200": "2200-01-01T00:00:00Z",
    "no_offset": "2026-11-30T09:00:00",
    "words": "yesterday",
    "fullwidth": "２０２６-11-30T09:00:00Z",
    "date_only": "2026-11-30",
    "bad_offset": "2026-11-30T09:00:00+25:00",
}


@pytest.mark.parametrize("name", sorted(BAD_TIMES))
async def test_a_record_with_an_unreadable_time_is_rejected_alone_and_never_wedges_the_outbox(
    client, password_hash, name
):
    me = await new_learner(client, password_hash)
    bad = {**lesson(me.lesson.id, 2), "occurredAt": BAD_TIMES[name]}
    records = [lesson(me.lesson.id, 1), bad, lesson(me.lesson.id, 3)]

    first = await push_ok(client, me.token, records)
    again = await push_ok(client, me.token, records)  # the answer was lost: the phone sends it all again
    after = await push_ok(client, me.token, [lesson(me.lesson.id, 4)])

    assert statuses(first) == [("ACCEPTED", None), ("REJECTED", "INVALID_PAYLOAD"), ("ACCEPTED", None)]
    assert "occurredAt" in first["results"][1]["message"]
    assert first["results"][1]["retryable"] is False
    assert statuses(again) == [("DUPLICATE", None), ("DUPLICATE", "INVALID_PAYLOAD"), ("DUPLICATE", None)]
    assert again["results"][1]["originalStatus"] == "REJECTED"
    assert statuses(after) == [("ACCEPTED", None)]
    assert first["appliedSeq"] == 3 and after["appliedSeq"] == 4
    assert await applied_seq(me.company) == 4
    assert (await progress_counts(me.company, me.lesson))[0] == 3


async def test_a_time_without_an_offset_says_so(client, password_hash):
    me = await new_learner(client, password_hash)
    payload = await push_ok(client, me.token, [{**lesson(me.lesson.id, 1), "occurredAt": "2026-11-30T09:00:00"}])
    assert "offset" in payload["results"][0]["message"]


async def test_an_overlong_kind_is_rejected_alone(client, password_hash):
    me = await new_learner(client, password_hash)
    odd = {**lesson(me.lesson.id, 1), "kind": "K" * 200}
    payload = await push_ok(client, me.token, [odd, lesson(me.lesson.id, 2)])
    assert statuses(payload) == [("REJECTED", "UNKNOWN_KIND"), ("ACCEPTED", None)]
    assert payload["appliedSeq"] == 2


@pytest.mark.parametrize(
    "sent_at",
    [
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "2026-11-30T09:00:00",
        "1e30",
        "",
    ],
)
async def test_an_impossible_sent_at_is_a_validation_error_and_applies_nothing(client, password_hash, sent_at):
    me = await new_learner(client, password_hash)
    variables = push_input([lesson(me.lesson.id, 1)])
    variables["input"]["sentAt"] = sent_at

    body = await gql(client, PUSH, variables, token=me.token)

    assert body["data"] is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["VALIDATION"], body
    assert body["errors"][0]["extensions"]["field"] == "input.sentAt"
    assert await applied_seq(me.company) == 0
    assert statuses(await push_ok(client, me.token, [lesson(me.lesson.id, 1)])) == [("ACCEPTED", None)]


@pytest.mark.parametrize(
    "occurred_at, clock_off",
    [
        (datetime(1900, 1, 1, 0, 0, 1, tzinfo=UTC), timedelta(days=-1)),
        (datetime(1900, 1, 1, 0, 0, 1, tzinfo=UTC), timedelta(days=1)),
        (datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC), timedelta(days=1)),
        (datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC), timedelta(days=-1)),
    ],
)
async def test_times_at_the_bounds_from_a_clock_a_day_off_are_answered(client, password_hash, occurred_at, clock_off):
    me = await new_learner(client, password_hash)
    record = lesson(me.lesson.id, 1, occurred_at=occurred_at)
    payload = await push_ok(client, me.token, [record], sent_at=datetime.now(UTC) + clock_off)
    assert payload["results"][0]["status"] in ("ACCEPTED", "REJECTED"), payload
    stored = await ActivityRecord.get(id=record["id"])
    assert ("STALE" if occurred_at.year == 1900 else "FUTURE") in stored.clock_flags.split(",")


async def test_stale_times_are_flagged_like_future_ones(client, password_hash):
    me = await new_learner(client, password_hash)
    old = lesson(me.lesson.id, 1, occurred_at=datetime(1970, 1, 1, tzinfo=UTC))
    recent = lesson(me.lesson.id, 2, occurred_at=datetime.now(UTC) - timedelta(days=3))

    payload = await push_ok(client, me.token, [old, recent])

    assert statuses(payload) == [("ACCEPTED", None), ("ACCEPTED", None)]
    assert (await ActivityRecord.get(id=old["id"])).clock_flags == "STALE"
    assert (await ActivityRecord.get(id=recent["id"])).clock_flags == ""


async def test_text_no_database_can_store_is_rejected_alone(client, password_hash):
    """U+0000 cannot be stored by PostgreSQL: in a record it is that record's REJECTED answer (the
    rest of the push goes through); in any other input it is VALIDATION naming the input."""
    me = await new_learner(client, password_hash)
    bad_payload = {**lesson(me.lesson.id, 2), "payload": {"moduleId": "x\x00", "note": {"k\x00": ["\x00"]}}}
    bad_kind = {**lesson(me.lesson.id, 3), "kind": "LESSON\x00"}
    records = [lesson(me.lesson.id, 1), bad_payload, bad_kind, lesson(me.lesson.id, 4)]

    first = await push_ok(client, me.token, records)
    again = await push_ok(client, me.token, records)

    assert statuses(first) == [
        ("ACCEPTED", None),
        ("REJECTED", "INVALID_PAYLOAD"),
        ("REJECTED", "UNKNOWN_KIND"),
        ("ACCEPTED", None),
    ]
    assert [r["status"] for r in again["results"]] == ["DUPLICATE"] * 4
    assert first["appliedSeq"] == 4
    stored = await ActivityRecord.get(id=bad_payload["id"])
    assert "\x00" not in str(stored.payload)

    body = await gql(
        client,
        "query Q($s: String) { courses(first: 1, filter: {scenario: $s}) { totalCount } }",
        {"s": "销售\x00"},
        token=me.token,
    )
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [("VALIDATION", "s")]
    literal = await gql(
        client, '{ courses(first: 1, filter: {scenario: "销售\\u0000"}) { totalCount } }', token=me.token
    )
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in literal["errors"]] == [
        ("VALIDATION", "filter.scenario")
    ]
