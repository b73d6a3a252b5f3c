"""Study progress: the CONTENT_PROGRESS record kind, and the bar a module sets before
LESSON_COMPLETED counts.

A phone reports which parts of a video or audio file were played (intervals of seconds), which
pages of a PDF were viewed and the time spent. Progress is kept per (employee, module, file) in
``content_progress``: the union of the intervals (merged, in milliseconds), the union of the
pages, the sum of the seconds. Unions are commutative and idempotent, and every record is applied
exactly once, so two phones of one employee sending overlapping progress in any order leave the
same row. Durations and page counts are the server's (read from the file when it was stored),
never the client's.

The bar: a module's ``required_study_percent`` is the share each VIDEO/AUDIO file (covered
time / duration) and each PDF (pages viewed / page count) of its newest content version must
reach before LESSON_COMPLETED counts. Files without a duration or page count (images,
attachments) do not count; a module without such files has no bar. Progress on a file of an
earlier version is kept (a phone may have studied it offline before the new version arrived) and
counts wherever the newest version still holds the same file (the same sha256).

A phone that played a file's low-bandwidth copy (a READY ``MediaRendition``) may report the copy's
sha256: the copy has the source's timeline (its duration is the source's), so the progress is kept
on the source file's row and counts toward the bar like progress on the original.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from backend.errors import DomainError, ErrorCode
from backend.models import ContentProgress, CourseStatus, MediaKind, RecordStatus, RenditionStatus, Role
from backend.services.feed import ChangeSet, Entity
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, invalid_payload, payload_id
from backend.services.records.spec import Field, GlobalId, Int, ListOf, Number, Obj, Pair, Text
from backend.services.viewer import Viewer
from backend.sql import Params, db_time, insert_many

CONTENT_PROGRESS = "CONTENT_PROGRESS"
# A completion whose module has content lasting longer than the time the employee recorded on it
# (the completion's secondsSpent, or the progress rows' seconds): kept on the record, not refused.
FASTER_THAN_CONTENT = "FASTER_THAN_CONTENT"

MAX_SECONDS = 24 * 3600  # a position or a time spent beyond a day is not a lesson
MAX_INTERVALS = 200  # per record: a player reports a few ranges per sitting
MAX_PAGES = 2000  # per record
MAX_PAGE = 100_000
MAX_STORED_INTERVALS = 1000  # per row: more disjoint ranges than this is not playback
# How far past the file's duration an interval may end: players and ffprobe round durations
# differently (a frame, a container's last packet). Stored intervals are cut at the duration.
END_SLACK_MS = 2000
MAX_STORED_SECONDS = 2**31 - 1  # the column is a 32-bit integer

_SHA256 = re.compile(r"[0-9a-f]{64}")
MEASURED_KINDS = (MediaKind.VIDEO.value, MediaKind.AUDIO.value, MediaKind.PDF.value)


# --- the payload --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Studied:
    """A CONTENT_PROGRESS payload, read: intervals in milliseconds, pages, whole seconds."""

    module_id: int
    sha256: str
    played: tuple[tuple[int, int], ...]
    pages: tuple[int, ...]
    seconds: int


def _number(value: Any, name: str) -> float:
    """A finite JSON number within a day: not a bool (an int to Python), not a string (``"１２"``
    reads as 12 to ``int``), not NaN or 1e30."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid_payload(name)
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid_payload(name)
    if not 0 <= value <= MAX_SECONDS:
        raise invalid_payload(name)
    return float(value)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _ordered(played: list[list[float]]) -> bool:
    return all(_ms(start) < _ms(end) for start, end in played)


STUDY_PAYLOAD = Obj(
    {
        "moduleId": Field(GlobalId("CourseModule", "The module whose file was studied."), required=True),
        "fileSha256": Field(
            Text(pattern="[0-9a-f]{64}", description="The sha256 (lowercase hex) of the file, or of its rendition."),
            required=True,
        ),
        "played": Field(
            ListOf(
                Pair(Number(0, MAX_SECONDS)),
                max_items=MAX_INTERVALS,
                description="[start, end] seconds of the file played; each start before its end "
                "(to the millisecond). Overlaps are fine: the server merges them.",
            ),
            default=[],
            refine=_ordered,
        ),
        "pages": Field(
            ListOf(Int(1, MAX_PAGE), max_items=MAX_PAGES, description="PDF pages viewed (1-based)."), default=[]
        ),
        "secondsSpent": Field(Number(0, MAX_SECONDS, "Seconds spent studying."), default=0),
    },
    closed=True,
    title="CONTENT_PROGRESS",
)


def parse_study(payload: Any) -> Studied:
    """Check a CONTENT_PROGRESS payload's shape (no database); INVALID_PAYLOAD naming the field."""
    STUDY_PAYLOAD.check(payload)
    if not isinstance(payload, dict):
        raise invalid_payload("payload")
    unknown = set(payload) - {"moduleId", "fileSha256", "played", "pages", "secondsSpent"}
    if unknown:
        raise invalid_payload(sorted(unknown)[0][:40])
    module_id = payload_id(payload, "moduleId", "CourseModule")
    sha256 = payload.get("fileSha256")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise invalid_payload("fileSha256")
    played = payload.get("played", [])
    if not isinstance(played, list) or len(played) > MAX_INTERVALS:
        raise invalid_payload("played")
    intervals = []
    for interval in played:
        if not isinstance(interval, list) or len(interval) != 2:
            raise invalid_payload("played")
        start, end = _number(interval[0], "played"), _number(interval[1], "played")
        start_ms, end_ms = _ms(start), _ms(end)
        if not start_ms < end_ms:
            raise invalid_payload("played")
        intervals.append((start_ms, end_ms))
    pages = payload.get("pages", [])
    if not isinstance(pages, list) or len(pages) > MAX_PAGES:
        raise invalid_payload("pages")
    for page in pages:
        if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
            raise invalid_payload("pages")
    seconds = _number(payload.get("secondsSpent", 0), "secondsSpent")
    return Studied(
        module_id,
        sha256,
        tuple((start, end) for start, end in merge(intervals)),
        tuple(sorted(set(pages))),
        round(seconds),
    )


def merge(intervals: Iterable[Sequence[int]]) -> list[list[int]]:
    """The union of [start, end] intervals, sorted, overlapping and touching ones joined."""
    merged: list[list[int]] = []
    for start, end in sorted((int(s), int(e)) for s, e in intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def covered(intervals: Iterable[Sequence[int]]) -> int:
    """The length of merged intervals."""
    return sum(end - start for start, end in intervals)


# --- the record kind ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _File:
    """A file a module has had in some content version, as progress is judged by."""

    media_id: int
    kind: str
    duration_ms: int | None
    page_count: int | None


def _sees_drafts(viewer: Viewer) -> bool:
    # The same rule as LESSON_COMPLETED: unpublished courses are visible to those who build them.
    return viewer.has_role(Role.HR_ADMIN, Role.INSTRUCTOR)


async def _files_of(
    context: ApplyContext, module_ids: set[int], hashes: set[str]
) -> tuple[set[int], dict[tuple[int, str], _File]]:
    """The visible modules among ``module_ids``, and their files (of any content version) among
    ``hashes`` by (module, sha256), in one statement. A hash may also name a READY rendition of a
    module's file (the low-bandwidth copy a phone on a poor link plays): it maps to the source
    file, whose timeline the copy shares, so the progress counts on the source. A file's own hash
    wins over a copy's should both name one (module, hash)."""
    connection, viewer = context.connection, context.viewer
    p = Params(connection)
    tenant = p(viewer.tenant_id)
    among = p.among(sorted(hashes), "text")  # numbered placeholders: used twice, bound once
    ready = p(RenditionStatus.READY.value)
    rows = await connection.execute_query_dict(
        "SELECT DISTINCT m.id AS module_id, c.status, o.id AS media_id, h.sha256, h.direct, o.kind,"
        " o.duration_ms, o.page_count FROM course_module m JOIN course c ON c.id = m.course_id"
        f" LEFT JOIN lesson_content lc ON lc.module_id = m.id AND lc.tenant_id = {tenant}"
        " LEFT JOIN lesson_file f ON f.content_id = lc.id"
        " LEFT JOIN ("
        f"SELECT s.id AS source_id, s.sha256, 1 AS direct FROM media_object s WHERE s.tenant_id = {tenant}"
        f" AND s.sha256 {among}"
        " UNION ALL SELECT r.source_id, ro.sha256, 0 AS direct FROM media_rendition r"
        " JOIN media_object ro ON ro.id = r.media_id"
        f" WHERE r.tenant_id = {tenant} AND r.status = {ready} AND ro.tenant_id = {tenant} AND ro.sha256 {among}"
        ") h ON h.source_id = f.media_id"
        f" LEFT JOIN media_object o ON o.id = h.source_id AND o.tenant_id = {tenant}"
        f" WHERE m.tenant_id = {tenant} AND m.id {p.among(sorted(module_ids), 'int')}",
        p.values,
    )
    drafts = _sees_drafts(viewer)
    published = CourseStatus.PUBLISHED.value
    visible = {row["module_id"] for row in rows if row["status"] == published or drafts}
    found = [row for row in rows if row["media_id"] is not None and row["module_id"] in visible]
    files: dict[tuple[int, str], _File] = {}
    # The file's own hash first, then copies by source id: one answer whatever the rows' order.
    for row in sorted(found, key=lambda row: (-int(row["direct"]), row["media_id"])):
        files.setdefault(
            (row["module_id"], row["sha256"]),
            _File(row["media_id"], row["kind"], row["duration_ms"], row["page_count"]),
        )
    return visible, files


def _judged(studied: Studied, file: _File) -> tuple[list[list[int]], list[int]]:
    """The record's intervals and pages against the file: refused beyond its duration (with a
    little slack; kept up to the duration) or page count, or for a kind they do not fit."""
    duration = file.duration_ms or 0
    if studied.played and (
        file.kind not in (MediaKind.VIDEO, MediaKind.AUDIO)
        or duration <= 0
        or studied.played[-1][1] > duration + END_SLACK_MS
    ):
        raise invalid_payload("played")
    if studied.pages and (file.kind != MediaKind.PDF or not file.page_count or studied.pages[-1] > file.page_count):
        raise invalid_payload("pages")
    played = [[start, min(end, duration)] for start, end in studied.played if start < duration]
    return played, list(studied.pages)


@dataclass
class _Row:
    """One (module, media) row of content_progress as this batch leaves it."""

    module_id: int
    media_id: int
    played: list[list[int]]
    pages: list[int]
    seconds: int

    def add(self, played: list[list[int]], pages: list[int], seconds: int) -> bool:
        """Fold a record in; False (nothing changed) when the union would hold more separate
        ranges than a row keeps."""
        union = merge([*self.played, *played])
        if len(union) > MAX_STORED_INTERVALS:
            return False
        self.played = union
        self.pages = sorted(set(self.pages) | set(pages))
        self.seconds = min(MAX_STORED_SECONDS, self.seconds + seconds)
        return True


class ContentProgressed:
    """Payload: ``{"moduleId": <CourseModule global ID>, "fileSha256": <hex sha256>, "played"?:
    [[startSeconds, endSeconds], …], "pages"?: [1, 2, …], "secondsSpent"?: seconds}``."""

    kind = CONTENT_PROGRESS

    payload_spec = STUDY_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> Studied:
        return parse_study(payload)

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        studies: list[Studied] = [parsed.payload for parsed in records]
        visible, files = await _files_of(context, {s.module_id for s in studies}, {s.sha256 for s in studies})
        taken: list[tuple[Studied, _File, list[list[int]], list[int]] | None] = []
        outcomes: list[Outcome] = []
        accepted = Outcome(RecordStatus.ACCEPTED)
        for studied in studies:
            file = files.get((studied.module_id, studied.sha256))
            if studied.module_id not in visible or file is None:
                outcomes.append(Outcome.rejected(DomainError(ErrorCode.NOT_FOUND)))
                taken.append(None)
                continue
            try:
                played, pages = _judged(studied, file)
            except DomainError as error:
                outcomes.append(Outcome.rejected(error))
                taken.append(None)
                continue
            taken.append((studied, file, played, pages))
            outcomes.append(accepted)
        if not any(taken):
            return outcomes
        rows = await _lock_rows(context, sorted({(item[0].module_id, item[1].media_id) for item in taken if item}))
        for index, item in enumerate(taken):
            if item is None:
                continue
            studied, file, played, pages = item
            if not rows[(studied.module_id, file.media_id)].add(played, pages, studied.seconds):
                outcomes[index] = Outcome.rejected(invalid_payload("played"))
        ids = await _write_rows(context, [rows[key] for key in sorted(rows)])
        for row_id in ids:
            context.changes.touch(Entity.CONTENT_PROGRESS, row_id, audience=context.viewer.employee_id)
        return outcomes


_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "module_id": "int",
    "media_id": "int",
    "played": "jsonb",
    "pages": "jsonb",
    "covered_ms": "bigint",
    "seconds_spent": "int",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


def _json_list(value: Any) -> list:
    return json.loads(value) if isinstance(value, (str, bytes)) else list(value or [])


async def _lock_rows(context: ApplyContext, keys: list[tuple[int, int]]) -> dict[tuple[int, int], _Row]:
    """The employee's rows for (module, media) ``keys``, locked until the transaction
    ends (PostgreSQL: another device's push of the same file waits here and then reads this one's
    result; SQLite has one writer). Rows are first made to exist (an insert that does nothing for
    rows already there), so a row two devices start at once is locked like any other: a lost
    update needs two writers that both read before either wrote."""
    connection, viewer = context.connection, context.viewer
    await _upsert(
        context,
        [_Row(module_id, media_id, [], [], 0) for module_id, media_id in keys],
        "ON CONFLICT (employee_id, module_id, media_id) DO NOTHING",
    )
    p = Params(connection)
    pairs = p.rows(keys, ("int", "int"))
    lock = " ORDER BY c.module_id, c.media_id FOR UPDATE OF c" if connection.capabilities.dialect == "postgres" else ""
    rows = await connection.execute_query_dict(
        f"WITH wanted(module_id, media_id) AS ({pairs})"
        " SELECT c.module_id, c.media_id, c.played, c.pages, c.seconds_spent FROM content_progress c"
        " JOIN wanted w ON w.module_id = c.module_id AND w.media_id = c.media_id"
        f" WHERE c.employee_id = {p(viewer.employee_id)}{lock}",
        p.values,
    )
    return {
        (row["module_id"], row["media_id"]): _Row(
            row["module_id"],
            row["media_id"],
            _json_list(row["played"]),
            _json_list(row["pages"]),
            row["seconds_spent"],
        )
        for row in rows
    }


async def _write_rows(context: ApplyContext, rows: list[_Row]) -> list[int]:
    """Write the merged rows (locked by ``_lock_rows``) in one statement; their ids."""
    written = await _upsert(
        context,
        rows,
        "ON CONFLICT (employee_id, module_id, media_id) DO UPDATE SET played = excluded.played,"
        " pages = excluded.pages, covered_ms = excluded.covered_ms, seconds_spent = excluded.seconds_spent,"
        " updated_at = excluded.updated_at",
        returning="id",
    )
    return [row["id"] for row in written]


async def _upsert(context: ApplyContext, rows: list[_Row], on_conflict: str, returning: str = "") -> list[dict]:
    connection, viewer = context.connection, context.viewer
    now = db_time(connection, context.received_at)
    values = [
        (
            viewer.tenant_id,
            viewer.employee_id,
            row.module_id,
            row.media_id,
            json.dumps(row.played),
            json.dumps(row.pages),
            covered(row.played),
            row.seconds,
            now,
            now,
        )
        for row in rows
    ]
    return await insert_many(connection, "content_progress", _COLUMNS, values, on_conflict, returning)


# --- the bar ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileStudy:
    """One file of a module's newest content version and how much of it an employee studied."""

    position: int
    title: str
    sha256: str
    kind: str
    duration_ms: int | None
    page_count: int | None
    covered_ms: int
    pages: tuple[int, ...]
    seconds: int

    @property
    def measured(self) -> bool:
        """Whether the bar applies to this file: a video or audio with a duration, a PDF with
        pages."""
        if self.kind in (MediaKind.VIDEO, MediaKind.AUDIO):
            return bool(self.duration_ms and self.duration_ms > 0)
        return self.kind == MediaKind.PDF and bool(self.page_count and self.page_count > 0)

    @property
    def studied_share(self) -> tuple[int, int] | None:
        """(done, whole) for a measured file: milliseconds covered of the duration, pages viewed
        of the page count; None for a file the bar does not apply to."""
        if not self.measured:
            return None
        if self.kind == MediaKind.PDF:
            return len(self.pages), self.page_count or 0
        return min(self.covered_ms, self.duration_ms or 0), self.duration_ms or 0

    @property
    def percent(self) -> int | None:
        """The share studied, whole percent rounded down (never shows 90 for 89.9)."""
        share = self.studied_share
        return None if share is None else share[0] * 100 // share[1]

    def meets(self, bar: int | None) -> bool:
        share = self.studied_share
        return bar is None or share is None or share[0] * 100 >= bar * share[1]


@dataclass(frozen=True)
class ModuleStudy:
    """A module's measured content and an employee's study of it."""

    files: tuple[FileStudy, ...]
    seconds: int  # the employee's seconds on any file of the module, earlier versions' too

    @property
    def duration_ms(self) -> int:
        return sum(f.duration_ms or 0 for f in self.files if f.measured and f.kind != MediaKind.PDF)

    def shortfall(self, bar: int | None) -> FileStudy | None:
        """The first file (in order) below the bar, or None when the bar is met (or there is none)."""
        return next((f for f in self.files if not f.meets(bar)), None)

    def too_fast(self, seconds_spent: int) -> bool:
        """Whether a completion claiming ``seconds_spent`` came sooner than the content lasts:
        neither it nor the time recorded on the files reaches the content's duration."""
        duration = self.duration_ms
        return duration > 0 and max(seconds_spent, self.seconds) * 1000 < duration


def measured_files_sql(module: str) -> str:
    """SQL counting the measured files (video or audio with a duration, PDF with pages) of the
    newest content version of the module aliased ``module``: a column of the one read
    LESSON_COMPLETED makes of its modules, so modules without content cost no further read."""
    return (
        "(SELECT COUNT(*) FROM lesson_content lc JOIN lesson_file f ON f.content_id = lc.id"
        " JOIN media_object o ON o.id = f.media_id"
        f" WHERE lc.module_id = {module}.id"
        f" AND lc.version = (SELECT MAX(x.version) FROM lesson_content x WHERE x.module_id = {module}.id)"
        " AND ((o.kind IN ('VIDEO', 'AUDIO') AND o.duration_ms > 0) OR (o.kind = 'PDF' AND o.page_count > 0)))"
    )


async def studies_of(
    connection: BaseDBAsyncClient, tenant_id: int, employee_id: int, module_ids: Iterable[int]
) -> dict[int, ModuleStudy]:
    """The newest content version's files of each module with the employee's progress in them,
    in one statement (modules without content are missing)."""
    ids = sorted(set(module_ids))
    if not ids:
        return {}
    p = Params(connection)
    tenant, employee = p(tenant_id), p(employee_id)
    rows = await connection.execute_query_dict(
        "SELECT lc.module_id, f.position, f.title, o.sha256, o.kind, o.duration_ms, o.page_count,"
        " g.covered_ms, g.pages, g.seconds_spent,"
        " (SELECT SUM(s.seconds_spent) FROM content_progress s"
        f" WHERE s.employee_id = {employee} AND s.module_id = lc.module_id) AS module_seconds"
        " FROM lesson_content lc JOIN lesson_file f ON f.content_id = lc.id"
        " JOIN media_object o ON o.id = f.media_id"
        " LEFT JOIN content_progress g"
        f" ON g.employee_id = {employee} AND g.module_id = lc.module_id AND g.media_id = o.id"
        f" WHERE lc.tenant_id = {tenant} AND lc.module_id {p.among(ids, 'int')}"
        " AND lc.version = (SELECT MAX(x.version) FROM lesson_content x WHERE x.module_id = lc.module_id)"
        " ORDER BY lc.module_id, f.position",
        p.values,
    )
    files: dict[int, list[FileStudy]] = {}
    seconds: dict[int, int] = {}
    for row in rows:
        files.setdefault(row["module_id"], []).append(
            FileStudy(
                row["position"],
                row["title"],
                row["sha256"],
                row["kind"],
                row["duration_ms"],
                row["page_count"],
                row["covered_ms"] or 0,
                tuple(_json_list(row["pages"])),
                row["seconds_spent"] or 0,
            )
        )
        seconds[row["module_id"]] = int(row["module_seconds"] or 0)
    return {module_id: ModuleStudy(tuple(found), seconds[module_id]) for module_id, found in files.items()}


def study_incomplete(file: FileStudy, bar: int) -> DomainError:
    """The refusal of a completion below the bar, naming the file and the shares."""
    return DomainError(ErrorCode.STUDY_INCOMPLETE, file=file.title, percent=file.percent or 0, required=bar)


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyProgress:
    """What the learner sees of a module: its bar, its files and their progress."""

    module_id: int
    required_percent: int | None
    study: ModuleStudy

    @property
    def met(self) -> bool:
        return self.study.shortfall(self.required_percent) is None


async def study_progress(viewer: Viewer, module_id: int) -> StudyProgress | None:
    """The viewer's progress in a module's content, or None when the module is not theirs to see
    (another company's, or a draft for a learner)."""
    connection = connections.get("default")
    p = Params(connection)
    rows = await connection.execute_query_dict(
        "SELECT m.required_study_percent, c.status FROM course_module m JOIN course c ON c.id = m.course_id"
        f" WHERE m.tenant_id = {p(viewer.tenant_id)} AND m.id = {p(module_id)}",
        p.values,
    )
    if not rows or not (rows[0]["status"] == CourseStatus.PUBLISHED.value or _sees_drafts(viewer)):
        return None
    studies = await studies_of(connection, viewer.tenant_id, viewer.employee_id, [module_id])
    return StudyProgress(module_id, rows[0]["required_study_percent"], studies.get(module_id, ModuleStudy((), 0)))


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    """Backfill: every study progress row of a tenant, for its employee."""
    for row_id, employee_id in await ContentProgress.filter(tenant_id=tenant_id).values_list("id", "employee_id"):
        changes.touch(Entity.CONTENT_PROGRESS, row_id, audience=employee_id)
