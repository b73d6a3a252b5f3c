"""Study progress (CONTENT_PROGRESS), the study bar on LESSON_COMPLETED and the FASTER_THAN_CONTENT
flag, through the real ASGI app over HTTP (pushes, the online twin, the progress query, the feed).

Lesson content is made with the ORM (media rows, content versions, files): the bytes need not be in
the media store for progress, which is judged by the durations and page counts the rows hold.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.errors import DomainError
from backend.ids import to_global_id
from backend.models import (
    ActivityRecord,
    ContentProgress,
    CourseModule,
    CourseStatus,
    LessonContent,
    LessonFile,
    MediaKind,
    MediaObject,
    MediaRendition,
    ModuleKind,
    ModuleProgress,
    RenditionStatus,
)
from backend.services.content import study
from tests.conftest import count_queries
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, PUSH, lesson, pull_input, push_input

STUDY_PROGRESS = """
query Study($id: ID!) {
  studyProgress(moduleId: $id) {
    moduleId requiredPercent met secondsSpent
    files { position title fileSha256 kind measured durationSeconds pageCount coveredSeconds pagesViewed
            secondsSpent percent met }
  }
}
"""

RECORD_PROGRESS = """
mutation Record($input: RecordContentProgressInput!) {
  recordContentProgress(input: $input) {
    result { id status code message originalStatus }
    errors { code message field }
  }
}
"""

SHA_A = "a" * 64  # shorthand hashes for files that need no real bytes


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@dataclass
class Setup:
    company: Company
    token: str  # LRN on device-1
    module: CourseModule  # the LESSON module of S-001
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


async def media(company: Company, name: str, kind: MediaKind, *, duration_ms=None, page_count=None) -> MediaObject:
    return await MediaObject.create(
        tenant=company.tenant,
        sha256=sha(f"{company.code}:{name}"),
        size_bytes=1000,
        mime_type={"VIDEO": "video/mp4", "AUDIO": "audio/mpeg", "PDF": "application/pdf"}.get(kind, "image/png"),
        kind=kind,
        file_name=name,
        duration_ms=duration_ms,
        page_count=page_count,
    )


async def content(module: CourseModule, version: int, files: list[tuple[str, MediaObject]]) -> LessonContent:
    row = await LessonContent.create(tenant_id=module.tenant_id, module=module, version=version, body_markdown="# 课")
    for position, (title, file) in enumerate(files, start=1):
        await LessonFile.create(
            tenant_id=module.tenant_id, content=row, position=position, title=title, media=file, since_version=version
        )
    return row


async def learner(client, password_hash: str, bar: int | None = None) -> Setup:
    company = await make_company(password_hash)
    module = await CourseModule.get(course=company.courses["S-001"], kind=ModuleKind.LESSON)
    if bar is not None:
        module.required_study_percent = bar
        await module.save(update_fields=["required_study_percent"])
    return Setup(company, await token_for(client, company.code, "LRN"), module)


def progress(
    setup: Setup,
    file: MediaObject | str,
    played=None,
    pages=None,
    seconds: Any = 0,
    *,
    module: CourseModule | None = None,
    record_id: str | None = None,
    seq: int | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "moduleId": to_global_id("CourseModule", (module or setup.module).id),
        "fileSha256": file if isinstance(file, str) else file.sha256,
        "secondsSpent": seconds,
    }
    if played is not None:
        payload["played"] = played
    if pages is not None:
        payload["pages"] = pages
    return raw(setup, payload, record_id=record_id, seq=seq)


def raw(setup: Setup, payload: Any, *, record_id: str | None = None, seq: int | None = None) -> dict[str, Any]:
    return {
        "id": record_id or str(uuid.uuid4()),
        "seq": seq if seq is not None else setup.next_seq(),
        "kind": "CONTENT_PROGRESS",
        "occurredAt": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "payload": payload,
    }


def completion(setup: Setup, seconds: int = 60, module: CourseModule | None = None) -> dict[str, Any]:
    """A lesson completed; each a few minutes after the one before, as a person learns (a batch at
    one instant would be a burst for the integrity checks)."""
    seq = setup.next_seq()
    return lesson((module or setup.module).id, seq, seconds, occurred_at=SPREAD_FROM + timedelta(minutes=3 * seq))


SPREAD_FROM = datetime.now(UTC) - timedelta(days=2)


async def push(
    client, token: str, records: list[dict[str, Any]], device_id: str = "device-1", language: str = "en"
) -> list[dict[str, Any]]:
    body = await gql(client, PUSH, push_input(records, device_id), token=token, language=language)
    assert "errors" not in body, body
    payload = body["data"]["syncPush"]
    assert payload["errors"] == [], payload
    return payload["results"]


def outcomes(results: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(r["status"], r["code"]) for r in results]


async def row_of(setup: Setup, file: MediaObject, employee_no: str = "LRN") -> ContentProgress | None:
    return await ContentProgress.get_or_none(
        employee_id=setup.company.employees[employee_no].id, module_id=setup.module.id, media_id=file.id
    )


async def completed_count(setup: Setup) -> int:
    row = await ModuleProgress.get_or_none(employee_id=setup.company.employees["LRN"].id, module_id=setup.module.id)
    return row.completed_count if row else 0


# --- parse: what a client may not send ----------------------------------------------------------


def test_parse_refuses_numbers_that_are_not_plain_finite_seconds() -> None:
    good = {"moduleId": to_global_id("CourseModule", 5), "fileSha256": SHA_A}
    assert study.parse_study({**good, "played": [[0, 1.5]], "pages": [3, 1, 3], "secondsSpent": 2.4}) == study.Studied(
        5, SHA_A, ((0, 1500),), (1, 3), 2
    )
    refused = {
        "played": [
            [[math.nan, 1]],
            [[0, math.inf]],
            [[0, 1e30]],
            [[0, 10**30]],
            [[-1, 5]],
            [[5, 5]],
            [[6, 5]],
            [[True, 5]],
            [[0, "５"]],
            [[0, "5"]],
            [[0, 1, 2]],
            [[0]],
            [{"start": 0, "end": 1}],
            "0-5",
            [[0, 1]] * (study.MAX_INTERVALS + 1),
            [[0, None]],
        ],
        "pages": [[0], [-1], [True], [2.0], ["１"], [10**6], list(range(1, study.MAX_PAGES + 2)), {"1": 1}],
        "secondsSpent": [math.nan, -0.5, 1e30, True, "１２", "12", 86_401, None],
        "fileSha256": ["A" * 64, "a" * 63, "g" * 64, "ａ" * 64, 1, None, "a" * 64 + "\n"],
        "moduleId": [to_global_id("Course", 5), "5", 5, None],
    }
    for name, values in refused.items():
        for value in values:
            with pytest.raises(DomainError) as caught:
                study.parse_study({**good, name: value})
            assert caught.value.params["name"] == name, (name, value)
    for payload in ([], None, "x", {**good, "extra": 1}):
        with pytest.raises(DomainError):
            study.parse_study(payload)


def test_intervals_merge_into_a_sorted_union() -> None:
    assert study.merge([[20, 30], [0, 10], [5, 12], [12, 15], [40, 41]]) == [[0, 15], [20, 30], [40, 41]]
    assert study.covered(study.merge([[0, 10], [0, 10], [5, 10]])) == 10
    assert study.merge([]) == []


async def test_malformed_payloads_are_refused_alone_over_http(client, password_hash):
    me = await learner(client, password_hash)
    video = await media(me.company, "v.mp4", MediaKind.VIDEO, duration_ms=100_000)
    await content(me.module, 1, [("视频", video)])
    records = [
        progress(me, video, played=[[0, 1e30]]),
        progress(me, video, played=[[10, 5]]),
        progress(me, video, played=[[True, 5]]),
        progress(me, video, played=[[0, "５"]]),
        progress(me, video, pages=["１"]),
        progress(me, video, seconds="１２"),
        progress(me, video, seconds=True),
        progress(me, video, played=[[0, 1]] * (study.MAX_INTERVALS + 1)),
        progress(me, video.sha256.upper()),
        progress(me, video, played=[[0, 10]], seconds=10),  # the one good record among them
    ]

    results = await push(client, me.token, records)

    assert outcomes(results) == [("REJECTED", "INVALID_PAYLOAD")] * 9 + [("ACCEPTED", None)]
    assert "played" in results[0]["message"] and "fileSha256" in results[8]["message"]
    row = await row_of(me, video)
    assert row is not None and (row.played, row.covered_ms, row.seconds_spent) == ([[0, 10_000]], 10_000, 10)


# --- apply: which files and modules ---------------------------------------------------------------


async def test_only_files_of_a_module_the_learner_may_see(client, password_hash):
    me = await learner(client, password_hash)
    video = await media(me.company, "v.mp4", MediaKind.VIDEO, duration_ms=100_000)
    stray = await media(me.company, "stray.mp4", MediaKind.VIDEO, duration_ms=100_000)  # in no lesson
    await content(me.module, 1, [("视频", video)])
    other_module = await CourseModule.get(course=me.company.courses["S-003"], kind=ModuleKind.LESSON)
    draft_module = await CourseModule.get(course=me.company.courses["S-007"], kind=ModuleKind.LESSON)
    draft_video = await media(me.company, "draft.mp4", MediaKind.VIDEO, duration_ms=100_000)
    await content(draft_module, 1, [("草稿", draft_video)])
    elsewhere = await learner(client, password_hash)  # another company, with the same file name
    their_video = await media(elsewhere.company, "v.mp4", MediaKind.VIDEO, duration_ms=100_000)
    await content(elsewhere.module, 1, [("视频", their_video)])

    results = await push(
        client,
        me.token,
        [
            progress(me, stray, played=[[0, 5]]),  # a file of this company, not of this module
            progress(me, video, played=[[0, 5]], module=other_module),  # another module's file
            progress(me, sha("nothing"), played=[[0, 5]]),
            progress(me, their_video, played=[[0, 5]], module=elsewhere.module),  # another company's
            progress(me, their_video, played=[[0, 5]]),  # their file named in my module
            progress(me, draft_video, played=[[0, 5]], module=draft_module),  # a draft, for a learner
        ],
    )

    assert outcomes(results) == [("REJECTED", "NOT_FOUND")] * 6
    assert await ContentProgress.filter(employee_id=me.company.employees["LRN"].id).count() == 0
    assert await ContentProgress.filter(module_id=elsewhere.module.id).count() == 0

    # HR admins and instructors see drafts, as for LESSON_COMPLETED.
    hr = await token_for(client, me.company.code, "HR1")
    results = await push(client, hr, [progress(me, draft_video, played=[[0, 5]], module=draft_module, seq=1)])
    assert outcomes(results) == [("ACCEPTED", None)]


async def test_intervals_and_pages_are_judged_by_the_file(client, password_hash):
    me = await learner(client, password_hash)
    video = await media(me.company, "v.mp4", MediaKind.VIDEO, duration_ms=100_000)
    pdf = await media(me.company, "手册.pdf", MediaKind.PDF, page_count=10)
    image = await media(me.company, "图.png", MediaKind.IMAGE)
    no_duration = await media(me.company, "bad.mp4", MediaKind.VIDEO)
    await content(me.module, 1, [("视频", video), ("手册", pdf), ("图", image), ("坏视频", no_duration)])

    results = await push(
        client,
        me.token,
        [
            progress(me, video, pages=[1]),  # pages of a video
            progress(me, pdf, played=[[0, 5]]),  # playing a PDF
            progress(me, pdf, pages=[11]),  # past the page count
            progress(me, image, played=[[0, 1]]),
            progress(me, no_duration, played=[[0, 1]]),  # a duration the server never read
            progress(me, video, played=[[90, 102.001]]),  # past the duration by more than the slack
            progress(me, video, played=[[90, 101.5], [101.8, 101.9]]),  # within the slack: cut at the end
            progress(me, pdf, pages=[10, 1, 1]),
            progress(me, image, seconds=30),  # time on an image is kept, nothing else
        ],
    )

    assert outcomes(results) == [("REJECTED", "INVALID_PAYLOAD")] * 6 + [("ACCEPTED", None)] * 3
    assert [r["message"].split("field ")[1].split(" ")[0] for r in results[:6]] == [
        "pages",
        "played",
        "pages",
        "played",
        "played",
        "played",
    ]
    assert ((await row_of(me, video)).played, (await row_of(me, video)).covered_ms) == ([[90_000, 100_000]], 10_000)
    assert (await row_of(me, pdf)).pages == [1, 10]
    assert (await row_of(me, image)).seconds_spent == 30


async def test_an_earlier_versions_file_is_kept_but_the_bar_reads_the_newest_version(client, password_hash):
    me = await learner(client, password_hash, bar=50)
    old = await media(me.company, "旧.mp4", MediaKind.VIDEO, duration_ms=60_000)
    new = await media(me.company, "新.mp4", MediaKind.VIDEO, duration_ms=60_000)
    await content(me.module, 1, [("旧视频", old)])
    await content(me.module, 2, [("新视频", new)])

    results = await push(client, me.token, [progress(me, old, played=[[0, 60]], seconds=60), completion(me, 60)])
    assert outcomes(results) == [("ACCEPTED", None), ("REJECTED", "STUDY_INCOMPLETE")]
    assert "新视频" in results[1]["message"]
    assert (await row_of(me, old)).covered_ms == 60_000

    results = await push(client, me.token, [progress(me, new, played=[[0, 30]], seconds=30), completion(me, 60)])
    assert outcomes(results) == [("ACCEPTED", None)] * 2
    assert await completed_count(me) == 1


async def rendition(source: MediaObject, name: str, status=RenditionStatus.READY) -> MediaObject:
    """A low-bandwidth copy of ``source``: its own media row (the source's duration), and the
    rendition row pointing at it."""
    copy = await MediaObject.create(
        tenant_id=source.tenant_id,
        sha256=sha(f"{source.sha256}:{name}"),
        size_bytes=100,
        mime_type="video/mp4",
        kind=MediaKind.VIDEO,
        file_name=name,
        duration_ms=source.duration_ms,
    )
    await MediaRendition.create(tenant_id=source.tenant_id, source=source, label="360p", status=status, media=copy)
    return copy


async def test_progress_on_a_renditions_hash_counts_on_its_source_file(client, password_hash):
    """A learner on a poor link plays the 360p copy and reports the copy's hash: the progress is
    kept on the source file's row (same timeline) and the completion passes the bar."""
    me = await learner(client, password_hash, bar=90)
    video = await media(me.company, "课.mp4", MediaKind.VIDEO, duration_ms=60_000)
    await content(me.module, 1, [("课", video)])
    copy = await rendition(video, "课-360p.mp4")
    other_module = await CourseModule.get(course=me.company.courses["S-003"], kind=ModuleKind.LESSON)
    other_video = await media(me.company, "别的.mp4", MediaKind.VIDEO, duration_ms=60_000)
    await content(other_module, 1, [("别的", other_video)])
    other_copy = await rendition(other_video, "别的-360p.mp4")
    pending = await media(me.company, "待.mp4", MediaKind.VIDEO, duration_ms=60_000)
    await content(me.module, 2, [("课", video), ("待", pending)])
    pending_copy = await rendition(pending, "待-360p.mp4", RenditionStatus.PENDING)

    results = await push(
        client,
        me.token,
        [
            progress(me, other_copy, played=[[0, 60]]),  # a copy of another module's file
            progress(me, pending_copy, played=[[0, 60]]),  # a copy not READY is no copy yet
            progress(me, copy, played=[[0, 61]], seconds=30),  # past the source's end: within the slack
            progress(me, copy, played=[[0, 63]]),  # judged by the source's duration
        ],
    )
    assert outcomes(results) == [("REJECTED", "NOT_FOUND")] * 2 + [("ACCEPTED", None), ("REJECTED", "INVALID_PAYLOAD")]
    row = await row_of(me, video)
    assert row is not None and (row.played, row.covered_ms, row.seconds_spent) == ([[0, 60_000]], 60_000, 30)
    assert await ContentProgress.filter(media_id__in=[copy.id, other_copy.id, pending_copy.id]).count() == 0
    assert outcomes(await push(client, me.token, [completion(me, 60)])) == [("REJECTED", "STUDY_INCOMPLETE")]
    # The same copy named in its own module counts there.
    results = await push(client, me.token, [progress(me, other_copy, played=[[0, 6]], module=other_module)])
    assert outcomes(results) == [("ACCEPTED", None)]

    # The other file studied through its original: both the copy's progress and this one count.
    results = await push(client, me.token, [progress(me, pending, played=[[0, 60]], seconds=30), completion(me, 60)])
    assert outcomes(results) == [("ACCEPTED", None)] * 2
    assert await completed_count(me) == 1

    # Mixed in one push with the original's hash: one row, the union.
    again = await learner(client, password_hash, bar=100)
    clip = await media(again.company, "c.mp4", MediaKind.VIDEO, duration_ms=20_000)
    await content(again.module, 1, [("c", clip)])
    clip_copy = await rendition(clip, "c-360p.mp4")
    results = await push(
        client,
        again.token,
        [progress(again, clip, played=[[0, 10]]), progress(again, clip_copy, played=[[10, 20]]), completion(again, 20)],
    )
    assert outcomes(results) == [("ACCEPTED", None)] * 3
    assert (await row_of(again, clip)).covered_ms == 20_000
    assert await completed_count(again) == 1


# --- merging: commutative, idempotent, exactly once -------------------------------------------------


async def test_overlapping_progress_from_two_phones_in_any_order_leaves_one_row(client, password_hash):
    parts = [
        ([[0, 10], [50, 60]], [1, 2], 10),
        ([[5, 20]], [2, 3], 7),
        ([[55, 70], [19.5, 21]], [], 3.4),
        ([[100, 119.9991]], [9], 0),
    ]
    states = []
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]):
        me = await learner(client, password_hash)
        video = await media(me.company, "v.mp4", MediaKind.VIDEO, duration_ms=120_000)
        pdf = await media(me.company, "p.pdf", MediaKind.PDF, page_count=9)
        await content(me.module, 1, [("视频", video), ("手册", pdf)])
        second = await token_for(client, me.company.code, "LRN", device_id="device-2")
        devices = [(me.token, "device-1"), (second, "device-2")]
        numbers = {"device-1": 0, "device-2": 0}
        for turn, index in enumerate(order):
            played, pages, seconds = parts[index]
            token, device = devices[turn % 2]
            records = [progress(me, video, played=played, seconds=seconds, seq=numbers[device] + 1)]
            if pages:
                records.append(progress(me, pdf, pages=pages, seq=numbers[device] + 2))
            numbers[device] += len(records)
            assert outcomes(await push(client, token, records, device)) == [("ACCEPTED", None)] * len(records)
        row = await row_of(me, video)
        states.append((row.played, row.covered_ms, row.seconds_spent, (await row_of(me, pdf)).pages))
    assert states[0] == states[1] == states[2]
    assert states[0] == ([[0, 21_000], [50_000, 70_000], [100_000, 119_999]], 60_999, 20, [1, 2, 3, 9])


async def test_a_retried_record_is_a_duplicate_and_adds_nothing(client, password_hash):
    me = await learner(client, password_hash)
    video = await media(me.company, "v.mp4", MediaKind.VIDEO, duration_ms=100_000)
    await content(me.module, 1, [("视频", video)])
    record = progress(me, video, played=[[0, 30]], seconds=30)

    first = await push(client, me.token, [record])
    again = await push(client, me.token, [record])
    twice_in_one = await push(client, me.token, [record, record])

    assert outcomes(first) == [("ACCEPTED", None)]
    assert [(r["status"], r["originalStatus"]) for r in again + twice_in_one] == [("DUPLICATE", "ACCEPTED")] * 3
    row = await row_of(me, video)
    assert (row.covered_ms, row.seconds_spent) == (30_000, 30)
    changed = {**record, "payload": {**record["payload"], "secondsSpent": 31}}
    assert outcomes(await push(client, me.token, [changed])) == [("REJECTED", "ID_REUSED")]


async def test_concurrent_pushes_from_two_phones_lose_no_update(client, password_hash, monkeypatch):
    """Two devices push progress of the same file at once, batch after batch: every second and every
    part arrives. The write waits a little after the read, so two pushes that both read before
    either wrote would lose one side's seconds; on PostgreSQL the row is locked, SQLite has one
    writer."""
    write_rows = study._write_rows

    async def slow_write(context, rows):
        await asyncio.sleep(0.02)
        return await write_rows(context, rows)

    monkeypatch.setattr(study, "_write_rows", slow_write)
    me = await learner(client, password_hash)
    video = await media(me.company, "v.mp4", MediaKind.VIDEO, duration_ms=1_000_000)
    await content(me.module, 1, [("视频", video)])
    second = await token_for(client, me.company.code, "LRN", device_id="device-2")

    async def device(token: str, device_id: str, offset: int) -> None:
        for seq in range(1, 9):
            start = offset + seq * 20
            record = progress(me, video, played=[[start, start + 10]], seconds=seq, seq=seq)
            assert outcomes(await push(client, token, [record], device_id)) == [("ACCEPTED", None)]

    await asyncio.gather(device(me.token, "device-1", 0), device(second, "device-2", 5))

    row = await row_of(me, video)
    assert row.seconds_spent == 2 * sum(range(1, 9))
    assert row.played == [[seq * 20_000, seq * 20_000 + 15_000] for seq in range(1, 9)]
    assert row.covered_ms == 8 * 15_000
    assert await ContentProgress.filter(employee_id=me.company.employees["LRN"].id).count() == 1


# --- the bar -------------------------------------------------------------------------------------------


async def test_completion_below_the_bar_is_refused_naming_the_file_and_the_shares(client, password_hash):
    me = await learner(client, password_hash, bar=90)
    video = await media(me.company, "产品演示.mp4", MediaKind.VIDEO, duration_ms=200_000)
    pdf = await media(me.company, "手册.pdf", MediaKind.PDF, page_count=10)
    image = await media(me.company, "图.png", MediaKind.IMAGE)  # images never count
    await content(me.module, 1, [("产品演示.mp4", video), ("手册", pdf), ("图", image)])

    nothing = await push(client, me.token, [completion(me)], language="zh-CN")
    assert outcomes(nothing) == [("REJECTED", "STUDY_INCOMPLETE")]
    assert nothing[0]["message"] == "学习未达要求：产品演示.mp4 看了 0%，需要 90%。"

    results = await push(client, me.token, [progress(me, video, played=[[0, 90]]), completion(me)], language="zh-CN")
    assert outcomes(results) == [("ACCEPTED", None), ("REJECTED", "STUDY_INCOMPLETE")]
    assert results[1]["message"] == "学习未达要求：产品演示.mp4 看了 45%，需要 90%。"

    # 179.999 s of 200 s is 89.9995 %: below, and shown as 89, never rounded up to the bar.
    results = await push(client, me.token, [progress(me, video, played=[[90, 179.999]]), completion(me)])
    assert outcomes(results)[1] == ("REJECTED", "STUDY_INCOMPLETE")
    assert results[1]["message"] == "Not studied enough yet: 89% of 产品演示.mp4 studied, 90% needed."

    # Exactly at the bar for the video: now the PDF is what is missing (8 of 10 pages).
    results = await push(
        client, me.token, [progress(me, video, played=[[179.5, 180]]), progress(me, pdf, pages=list(range(1, 9)))]
    )
    assert outcomes(results) == [("ACCEPTED", None)] * 2
    results = await push(client, me.token, [completion(me)])
    assert outcomes(results) == [("REJECTED", "STUDY_INCOMPLETE")]
    assert results[0]["message"] == "Not studied enough yet: 80% of 手册 studied, 90% needed."
    assert await completed_count(me) == 0

    results = await push(client, me.token, [progress(me, pdf, pages=[9]), completion(me, 600)])
    assert outcomes(results) == [("ACCEPTED", None)] * 2
    assert await completed_count(me) == 1


async def test_progress_and_completion_in_one_push_count_in_either_order(client, password_hash):
    """Kinds apply in the registry's order: CONTENT_PROGRESS before LESSON_COMPLETED, whatever the
    records' order in the push."""
    me = await learner(client, password_hash, bar=100)
    audio = await media(me.company, "讲解.mp3", MediaKind.AUDIO, duration_ms=30_000)
    await content(me.module, 1, [("讲解", audio)])

    results = await push(client, me.token, [completion(me, 30), progress(me, audio, played=[[0, 30]], seconds=30)])

    assert outcomes(results) == [("ACCEPTED", None)] * 2
    assert await completed_count(me) == 1


async def test_modules_without_measured_files_have_no_bar(client, password_hash):
    me = await learner(client, password_hash, bar=100)
    assert outcomes(await push(client, me.token, [completion(me)])) == [("ACCEPTED", None)]  # no content at all
    image = await media(me.company, "图.png", MediaKind.IMAGE)
    broken = await media(me.company, "未读出时长.mp4", MediaKind.VIDEO)  # no duration was read
    await content(me.module, 1, [("图", image), ("视频", broken)])
    assert outcomes(await push(client, me.token, [completion(me)])) == [("ACCEPTED", None)]
    assert await completed_count(me) == 2


async def test_the_bar_costs_one_read_for_a_batch_and_none_without_content(client, password_hash):
    me = await learner(client, password_hash, bar=10)
    video = await media(me.company, "v.mp4", MediaKind.VIDEO, duration_ms=10_000)
    await content(me.module, 1, [("视频", video)])
    plain = await CourseModule.get(course=me.company.courses["A-002"], kind=ModuleKind.LESSON)
    await push(client, me.token, [progress(me, video, played=[[0, 10]], seconds=10), completion(me, 10)])
    await push(client, me.token, [completion(me, module=plain)])

    async def statements(records: list[dict[str, Any]]) -> int:
        with count_queries() as sent:
            assert set(outcomes(await push(client, me.token, records))) == {("ACCEPTED", None)}
        return len(sent)

    plain_one = await statements([completion(me, module=plain)])
    plain_many = await statements([completion(me, module=plain) for _ in range(20)])
    measured_one = await statements([completion(me, 10)])
    measured_many = await statements([completion(me, 10) for _ in range(20)])
    assert plain_one == plain_many
    assert measured_one == measured_many == plain_one + 1


# --- flags ---------------------------------------------------------------------------------------------


async def test_completion_faster_than_the_content_is_flagged_not_refused(client, password_hash):
    me = await learner(client, password_hash)
    video = await media(me.company, "v.mp4", MediaKind.VIDEO, duration_ms=600_000)
    pdf = await media(me.company, "p.pdf", MediaKind.PDF, page_count=3)  # a PDF has no duration
    await content(me.module, 1, [("视频", video), ("手册", pdf)])

    fast = completion(me, 60)
    slow = completion(me, 600)
    results = await push(client, me.token, [fast, slow])
    assert outcomes(results) == [("ACCEPTED", None)] * 2
    # Time recorded on the files counts too, as the larger of the two (the completion's time may
    # include the watching): 590 s of progress and 20 s are not enough, 600 s of progress is.
    watched = progress(me, video, played=[[0, 590]], seconds=590)
    short = completion(me, 20)
    assert outcomes(await push(client, me.token, [watched, short])) == [("ACCEPTED", None)] * 2
    more = progress(me, video, played=[[590, 600]], seconds=10)
    after = completion(me, 20)
    assert outcomes(await push(client, me.token, [more, after])) == [("ACCEPTED", None)] * 2

    flags = {
        str(r.id): r.clock_flags.split(",")
        for r in await ActivityRecord.filter(id__in=[uuid.UUID(x["id"]) for x in (fast, slow, short, after)])
    }
    assert study.FASTER_THAN_CONTENT in flags[fast["id"]]
    assert study.FASTER_THAN_CONTENT not in flags[slow["id"]]
    assert study.FASTER_THAN_CONTENT in flags[short["id"]]
    assert study.FASTER_THAN_CONTENT not in flags[after["id"]]
    assert await completed_count(me) == 4

    # A module without timed content flags nothing.
    plain = await learner(client, password_hash)
    record = completion(plain, 1)
    assert outcomes(await push(client, plain.token, [record])) == [("ACCEPTED", None)]
    assert (await ActivityRecord.get(id=uuid.UUID(record["id"]))).clock_flags == ""


# --- GraphQL: the online twin, the progress query, the feed ----------------------------------------------


async def test_online_twin_query_and_feed(client, password_hash):
    me = await learner(client, password_hash, bar=50)
    video = await media(me.company, "v.mp4", MediaKind.VIDEO, duration_ms=40_000)
    pdf = await media(me.company, "p.pdf", MediaKind.PDF, page_count=4)
    image = await media(me.company, "图.png", MediaKind.IMAGE)
    await content(me.module, 1, [("视频", video), ("手册", pdf), ("图", image)])
    module_id = to_global_id("CourseModule", me.module.id)
    client_id = str(uuid.uuid4())
    entry = {"clientId": client_id, "moduleId": module_id, "fileSha256": video.sha256, "played": [[0, 25.5]]}

    body = await gql(client, RECORD_PROGRESS, {"input": {**entry, "secondsSpent": 26}}, token=me.token)
    assert body["data"]["recordContentProgress"]["result"]["status"] == "ACCEPTED", body
    again = await gql(client, RECORD_PROGRESS, {"input": {**entry, "secondsSpent": 26}}, token=me.token)
    assert again["data"]["recordContentProgress"]["result"]["status"] == "DUPLICATE"
    wrong = await gql(
        client,
        RECORD_PROGRESS,
        {"input": {"moduleId": module_id, "fileSha256": video.sha256, "played": [[0, 1e300]]}},
        token=me.token,
        language="en",
    )
    assert wrong["data"]["recordContentProgress"]["result"]["code"] == "INVALID_PAYLOAD"
    await gql(
        client,
        RECORD_PROGRESS,
        {"input": {"moduleId": module_id, "fileSha256": pdf.sha256, "pages": [1, 2], "secondsSpent": 4}},
        token=me.token,
    )

    body = await gql(client, STUDY_PROGRESS, {"id": module_id}, token=me.token)
    assert "errors" not in body, body
    found = body["data"]["studyProgress"]
    assert (found["moduleId"], found["requiredPercent"], found["met"], found["secondsSpent"]) == (
        module_id,
        50,
        True,
        30,
    )
    files = {f["title"]: f for f in found["files"]}
    assert [f["title"] for f in found["files"]] == ["视频", "手册", "图"]
    assert files["视频"] | {"fileSha256": None} == {
        "position": 1,
        "title": "视频",
        "fileSha256": None,
        "kind": "VIDEO",
        "measured": True,
        "durationSeconds": 40.0,
        "pageCount": None,
        "coveredSeconds": 25.5,
        "pagesViewed": [],
        "secondsSpent": 26,
        "percent": 63,
        "met": True,
    }
    assert (files["手册"]["pagesViewed"], files["手册"]["percent"], files["手册"]["met"]) == ([1, 2], 50, True)
    assert (files["图"]["measured"], files["图"]["percent"], files["图"]["met"]) == (False, None, True)

    # Not visible: another company's module, a draft for a learner; a malformed id is VALIDATION.
    other = await learner(client, password_hash)
    draft = await CourseModule.get(course=me.company.courses["S-007"], kind=ModuleKind.LESSON)
    for hidden in (other.module, draft):
        body = await gql(client, STUDY_PROGRESS, {"id": to_global_id("CourseModule", hidden.id)}, token=me.token)
        assert body["data"]["studyProgress"] is None, body
    body = await gql(client, STUDY_PROGRESS, {"id": to_global_id("Course", me.module.id)}, token=me.token)
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"

    # The employee's other phone gets the merged rows; a colleague's phone gets nothing of them.
    second = await token_for(client, me.company.code, "LRN", device_id="device-2")
    rows = await feed_rows(client, second, "device-2")
    mine = {row["data"]["fileSha256"]: row["data"] for row in rows}
    assert set(mine) == {video.sha256, pdf.sha256}
    assert mine[video.sha256] | {"updatedAt": None} == {
        "id": mine[video.sha256]["id"],
        "moduleId": module_id,
        "fileSha256": video.sha256,
        "durationMs": 40_000,
        "pageCount": None,
        "playedMs": [[0, 25_500]],
        "coveredMs": 25_500,
        "pages": [],
        "secondsSpent": 26,
        "updatedAt": None,
    }
    colleague = await token_for(client, me.company.code, "OTH")
    assert await feed_rows(client, colleague, "device-1") == []


async def feed_rows(client, token: str, device_id: str) -> list[dict[str, Any]]:
    rows, cursor = [], None
    while True:
        body = await gql(client, PULL, pull_input(cursor, device_id=device_id), token=token)
        page = body["data"]["syncPull"]
        assert page["errors"] == [], page
        rows += [c for c in page["changes"] if c["entity"] == "CONTENT_PROGRESS"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return rows


async def test_draft_course_content_for_a_learner_stays_hidden_from_the_bar_query(client, password_hash):
    """A module whose course went back to draft: the learner's progress query and pushes see nothing."""
    me = await learner(client, password_hash)
    video = await media(me.company, "v.mp4", MediaKind.VIDEO, duration_ms=40_000)
    await content(me.module, 1, [("视频", video)])
    assert outcomes(await push(client, me.token, [progress(me, video, played=[[0, 5]])])) == [("ACCEPTED", None)]
    course = me.company.courses["S-001"]
    course.status = CourseStatus.DRAFT
    await course.save(update_fields=["status"])
    assert outcomes(await push(client, me.token, [progress(me, video, played=[[5, 9]])])) == [("REJECTED", "NOT_FOUND")]
    body = await gql(client, STUDY_PROGRESS, {"id": to_global_id("CourseModule", me.module.id)}, token=me.token)
    assert body["data"]["studyProgress"] is None
    assert (await row_of(me, video)).covered_ms == 5_000


async def test_nan_and_infinity_in_the_json_text_never_reach_the_row(client, password_hash):
    """JSON has no NaN or Infinity (nor a number beyond a double), but a client can write them: the
    request is refused as a whole (400, a JSON error), never an INTERNAL answer, never a row. Within
    range, parse refuses them (test_parse_refuses_numbers_that_are_not_plain_finite_seconds)."""
    me = await learner(client, password_hash)
    video = await media(me.company, "v.mp4", MediaKind.VIDEO, duration_ms=100_000)
    await content(me.module, 1, [("视频", video)])
    for literal in ("NaN", "Infinity", "-Infinity", "1e400"):
        record = progress(me, video, played=[[0, 1]], seconds=0)
        text = PUSH_TEXT.format(record=json.dumps(record).replace('"secondsSpent": 0', f'"secondsSpent": {literal}'))
        response = await client.post(
            "/graphql",
            content=text,
            headers={"Authorization": f"Bearer {me.token}", "Content-Type": "application/json"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION"
    assert await row_of(me, video) is None


PUSH_TEXT = (
    '{{"query": {query}, "variables": {{"input": {{"protocolVersion": 1, "deviceId": "device-1", '
    '"sentAt": "2026-01-01T00:00:00+00:00", "records": [{record}]}}}}}}'
).replace("{query}", json.dumps(PUSH).replace("{", "{{").replace("}", "}}"))
