"""Property-based: random interleavings of recording, pushing (with lost answers and retries of
old batches) and pulling never lose or double a record, and a phone's copy always converges to
what the server says it may see."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.ids import from_global_id
from backend.models import ActivityRecord, CourseModule, ModuleKind, ModuleProgress
from backend.services.records.handler import canonical_json
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, PUSH, lesson, pull_input, push_input

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("record"), st.integers(0, 3), st.integers(1, 5)),  # module, how many
        st.tuples(st.just("push"), st.integers(1, 8), st.booleans()),  # batch size, answer lost
        st.tuples(st.just("replay"), st.integers(0, 5), st.just(False)),  # resend an old batch
        st.tuples(st.just("pull"), st.integers(1, 7), st.just(False)),  # page size
    ),
    min_size=1,
    max_size=25,
)


def apply_page(store: dict, changes: list[dict]) -> None:
    for change in changes:
        key = (change["entity"], change["id"])
        if change["op"] == "UPSERT":
            store[key] = change["data"]
        else:
            store.pop(key, None)


@pytest.fixture(scope="module")
async def shared_company(password_hash):
    return await make_company(password_hash)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
async def test_random_interleavings_keep_exactly_once_and_converge(client, shared_company, operations):
    company = shared_company
    device = f"prop-{uuid.uuid4().hex[:8]}"
    token = await token_for(client, company.code, "LRN", device_id=device)
    modules = [
        m.id
        for m in await CourseModule.filter(
            course__tenant=company.tenant, kind=ModuleKind.LESSON, course__status="PUBLISHED"
        ).order_by("id")
    ][:4]
    learner = company.employees["LRN"]
    before = Counter(dict(await ModuleProgress.filter(employee=learner).values_list("module_id", "completed_count")))

    outbox: list[dict] = []  # not yet confirmed, in seq order
    created: list[dict] = []  # everything this phone ever recorded
    sent_batches: list[list[dict]] = []
    store: dict = {}
    cursor = None
    next_seq = 1
    for kind, a, b in operations:
        if kind == "record":
            for _ in range(b):
                record = lesson(modules[a % len(modules)], next_seq, seconds=next_seq)
                next_seq += 1
                outbox.append(record)
                created.append(record)
        elif kind in ("push", "replay"):
            batch = outbox[:a] if kind == "push" else (sent_batches[a % len(sent_batches)] if sent_batches else [])
            if not batch:
                continue
            body = await gql(client, PUSH, push_input(batch, device_id=device), token=token)
            payload = body["data"]["syncPush"]
            assert payload["errors"] == []
            sent_batches.append(batch)
            if kind == "push" and b:
                continue  # the answer was lost on the way back: the outbox keeps everything
            final = {r["id"] for r in payload["results"] if not r["retryable"]}
            assert all(r["status"] in ("ACCEPTED", "DUPLICATE") for r in payload["results"])
            outbox = [r for r in outbox if r["id"] not in final]
        else:
            page = (await gql(client, PULL, pull_input(cursor, a, device), token=token))["data"]["syncPull"]
            assert page["errors"] == []
            apply_page(store, page["changes"])
            cursor = page["cursor"]

    # Drain: push everything left, then pull to the end.
    while outbox:
        payload = (await gql(client, PUSH, push_input(outbox[:8], device_id=device), token=token))["data"]["syncPush"]
        final = {r["id"] for r in payload["results"] if not r["retryable"]}
        assert final, payload
        outbox = [r for r in outbox if r["id"] not in final]
    while True:
        page = (await gql(client, PULL, pull_input(cursor, 50, device), token=token))["data"]["syncPull"]
        apply_page(store, page["changes"])
        cursor = page["cursor"]
        if not page["hasMore"]:
            break

    # Exactly once: every record this phone made is on the server once, in its sequence.
    stored = (
        await ActivityRecord.filter(device__device_uid=device, employee=learner)
        .order_by("device_seq")
        .values_list("id", "device_seq", "status")
    )
    assert [(str(i), s) for i, s, _ in stored] == [(r["id"], r["seq"]) for r in created]
    assert all(status == "ACCEPTED" for _, _, status in stored)
    after = Counter(dict(await ModuleProgress.filter(employee=learner).values_list("module_id", "completed_count")))
    made = Counter(from_global_id(r["payload"]["moduleId"])[1] for r in created)
    assert after - before == made
    # Convergence: the phone's copy equals a fresh snapshot.
    fresh: dict = {}
    snapshot_cursor = None
    while True:
        page = (await gql(client, PULL, pull_input(snapshot_cursor, 200, device), token=token))["data"]["syncPull"]
        apply_page(fresh, page["changes"])
        snapshot_cursor = page["cursor"]
        if not page["hasMore"]:
            break
    assert store == fresh


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=30,
)


@given(JSON_VALUES)
@settings(max_examples=300, deadline=None)
def test_record_hashes_are_written_as_the_standard_library_writes_them(value):
    """Stored content hashes must keep matching retries forever: the fast writer gives the very
    bytes ``json.dumps(sort_keys, ensure_ascii=False, compact)`` gives, for any JSON value
    (floats, huge integers and non-BMP text included), or the same error."""
    expected: bytes | type[Exception]
    try:
        expected = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate: refused the same way
        expected = type(error)
    try:
        assert canonical_json(value) == expected
    except UnicodeEncodeError as error:
        assert expected is type(error)


def test_record_hashes_of_deep_values_are_the_standard_librarys():
    deep: list = []
    for _ in range(300):  # deeper than orjson writes
        deep = [deep]
    assert canonical_json(deep) == json.dumps(deep, separators=(",", ":")).encode()
