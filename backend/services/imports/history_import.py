"""The ``history`` import kind: a company's training history, one result per row (a lesson, an
attendance, a quiz score, practice, an evaluation), written through the one ingest path
(``history_records.ingest_history``) so progress, completions, skills and credits are derived as
if each result had been synced when it happened.

A row names an employee (number), a module (course code and module no, its position in the
course), the activity, when it happened, a score (QUIZ and EVALUATION), a count and the source
system. ``occurredAt`` is a date-time in the company's time zone (``2025-03-03 09:30``, an Excel
date-time, or RFC 3339 with an offset); a date alone means noon that day, so a date of today
before noon is still in the future (FUTURE_DATE). Times are kept to the second.

Natural key: the fact itself (employee, module, activity, time, source); the record id is uuid5
of the tenant and that fact (``HistoryRow.record_id``), so the same row twice in a file is
DUPLICATE_KEY and importing a file again changes nothing. A fact imported before with another
score or count is HISTORY_CHANGED (history is not rewritten by an import).

Streaming: the check pass keeps each row's key (the framework's), and per row only its number and
its score and count packed in 4 bytes, grouped by employee number and by module, so references
are looked up in bulk (UNKNOWN_REFERENCE) and the activity is checked against its module (the
record kind's own rule, ``history_kind.check_fits``) without the rows. The write pass applies
the good rows a few thousand at a time, whole employees at once and each employee's in time order
(as they happened, whatever the file's order), in the job's one transaction: as they are read
when the file keeps each employee's rows together, else staged in a temporary table first
(``history_job.Staging``) and applied at the end (``finish``). A dry run reads only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from tortoise.expressions import Q

from backend.errors import DomainError, ErrorCode
from backend.ids import expect_global_id
from backend.models import (
    ActivityRecord,
    Course,
    CourseModule,
    Employee,
    RecordStatus,
    Tenant,
)
from backend.services.catalog.course_authoring import MAX_CODE
from backend.services.imports.files import WriteCell
from backend.services.imports.history_job import CompactChanges, HistoryCatalog, Staging
from backend.services.imports.history_kind import HISTORY_RESULT, Activity, check_fits, check_result
from backend.services.imports.history_lines import (
    ACTIVITY_WORDS,
    HistoryLine,
    Seen,
    employee_number,
    local_text,
    natural_key,
    pack,
    read_when,
    zone_named,
)
from backend.services.imports.history_records import HistoryRow, RowStatus, ingest_history
from backend.services.imports.kinds import KEY_CHUNK, CheckedFile, ImportKind, JobContext, WriteRun
from backend.services.imports.problems import ProblemCode, from_error, problem
from backend.services.imports.rows import Cells, Column
from backend.services.people.org_units import check_text
from backend.services.validation import invalid

APPLY_ROWS = 5000  # rows per call of ingest_history (whole employees)
_NOTES = "history"  # CheckedFile.notes: the check pass's Seen, then the lookups the write pass needs


@dataclass
class _Lookups:
    """What the write pass needs of the check pass: ids by number and by (code, module no)."""

    employees: dict[str, int]
    modules: dict[tuple[str, int], int]
    grouped: bool
    staging: Staging | None = None
    pending: list[HistoryRow] = field(default_factory=list)  # grouped: the last employee's rows so far
    catalog: HistoryCatalog = field(default_factory=HistoryCatalog)
    changes: CompactChanges | None = None
    counted: dict[RowStatus, int] = field(default_factory=lambda: {RowStatus.CREATED: 0, RowStatus.UNCHANGED: 0})


class HistoryKind(ImportKind[HistoryLine]):
    """Training history (see the module docstring)."""

    name = "history"
    title_zh = "培训历史记录"
    title_en = "Training history"
    entity = "ActivityRecord"
    key_column = "employee_no"
    chunk_size = APPLY_ROWS
    columns = (
        Column("employee_no", "工号", "Employee no.", True, "公司已有的员工（含已离职）", "an employee of the company"),
        Column("course_code", "课程编码", "Course code", True, "公司已有的课程（任何状态）", "a course of the company"),
        Column(
            "module_no",
            "模块序号",
            "Module no",
            True,
            "该课程中模块的序号（1、2、…）",
            "the module's position in the course (1, 2, …)",
        ),
        Column(
            "activity",
            "活动",
            "Activity",
            True,
            "LESSON/ATTENDANCE/QUIZ/PRACTICE/EVALUATION（课程学习/出勤/测验/实操/考核），须适合该模块",
            "LESSON, ATTENDANCE, QUIZ, PRACTICE or EVALUATION, fitting the module",
        ),
        Column(
            "occurred_at",
            "发生时间",
            "Occurred at",
            True,
            "公司时区的 YYYY-MM-DD HH:MM（只写日期即当天 12:00），不晚于现在",
            "YYYY-MM-DD HH:MM in the company's time zone (a date alone: noon), not in the future",
            field="occurredAt",
        ),
        Column(
            "score",
            "成绩",
            "Score",
            False,
            "0 到 100 的整数，只用于 QUIZ 和 EVALUATION（必填）",
            "0 to 100, for QUIZ and EVALUATION only (required there)",
        ),
        Column("count", "次数", "Count", False, "1 到 1000（留空为 1；有成绩的行为 1）", "1 to 1000 (empty: 1)"),
        Column(
            "source",
            "来源",
            "Source",
            False,
            "原系统名称，如 旧学习平台，最长 64 字",
            "the earlier system, e.g. Old LMS; up to 64",
        ),
    )

    # --- one row -----------------------------------------------------------------------------------

    def parse(self, cells: Cells, context: JobContext) -> HistoryLine:
        module_no, score, count = cells.integer("module_no"), cells.integer("score"), cells.integer("count")
        zone = zone_named(context.time_zone)
        moment = read_when(cells, zone)
        cells.check()
        number = employee_number(cells.text("employee_no"))
        code = check_text(cells.text("course_code"), "course_code", MAX_CODE)
        if module_no is None:
            raise invalid("module_no", "reason.required")
        word = cells.text("activity") or ""
        try:
            activity = Activity(ACTIVITY_WORDS.get(word, word.upper()))
        except ValueError:
            raise invalid("activity", "reason.history_activity_name") from None
        if moment is None:
            raise invalid("occurredAt", "reason.required")
        score, count, source = check_result(activity, score, 1 if count is None else count, cells.text("source") or "")
        return HistoryLine(number, code, module_no, activity, moment, zone, score, count, source)

    def key(self, row: HistoryLine) -> str:
        local = local_text(row.occurred_at, row.zone)
        return natural_key(row.employee_no, row.course_code, row.module_no, row.activity.value, local, row.source)

    def note(self, checked: CheckedFile, number: int, row: HistoryLine) -> None:
        checked.notes.setdefault(_NOTES, Seen()).add(number, row)

    # --- the file as a whole -----------------------------------------------------------------------

    async def check_file(self, checked: CheckedFile, context: JobContext) -> None:
        seen: Seen = checked.notes.pop(_NOTES, None) or Seen()
        header, problems = checked.header, checked.problems
        employees: dict[str, int] = {}
        numbers = sorted(seen.by_employee)
        for start in range(0, len(numbers), KEY_CHUNK):
            employees.update(
                await Employee.filter(
                    tenant_id=context.tenant_id, employee_no__in=numbers[start : start + KEY_CHUNK]
                ).values_list("employee_no", "id")
            )
        for number, rows in seen.by_employee.items():
            if number not in employees:
                for row in rows:
                    problems.add(
                        problem(row, header.column_name("employee_no"), ProblemCode.UNKNOWN_REFERENCE, value=number)
                    )
        modules = await _modules(context.tenant_id, sorted({code for code, _, _ in seen.by_module}))
        courses = {code for code, _ in modules} | await _course_codes(
            context.tenant_id, [c for c, _, _ in seen.by_module]
        )
        for (code, module_no, activity), rows in seen.by_module.items():
            module = modules.get((code, module_no))
            for row in rows if code not in courses or module is None else ():
                column, value = ("course_code", code) if code not in courses else ("module_no", f"{code} #{module_no}")
                problems.add(problem(row, header.column_name(column), ProblemCode.UNKNOWN_REFERENCE, value=value))
            if module is not None:
                try:
                    check_fits(Activity(activity), module)
                except DomainError as error:
                    for row in rows:
                        problems.add(from_error(row, header.column_name("activity"), error))
        await _check_changed(checked, context, seen, employees, modules)
        module_ids = {key: module.id for key, module in modules.items()}
        checked.notes[_NOTES] = _Lookups(employees, module_ids, seen.grouped)

    async def known_keys(self, tenant_id: int, keys: Sequence[str]) -> set[str]:
        return set()  # no other kind names a history row

    # --- planning and writing ----------------------------------------------------------------------

    async def apply(self, run: WriteRun, rows: Sequence[tuple[int, HistoryLine]]) -> None:
        """A dry run counts; a real one applies whole employees as their rows come (a file that
        keeps each employee's rows together) or stages the rows for ``finish``."""
        lookups: _Lookups = run.notes[_NOTES]
        facts = [(number, _history_row(lookups, row)) for number, row in rows]
        if not run.write:
            existing = await _existing_ids([fact.record_id(run.tenant_id) for _, fact in facts])
            run.counts.unchanged += len(existing)
            run.counts.created += len(facts) - len(existing)
            return
        if not lookups.grouped:
            lookups.staging = lookups.staging or Staging(run.connection, run.context.job_id)
            await lookups.staging.add(
                [
                    (number, f.employee_id, f.module_id, f.activity, f.occurred_at, f.score, f.count, f.source)
                    for number, f in facts
                ]
            )
            return
        pending = lookups.pending + [fact for _, fact in facts]
        last = pending[-1].employee_id if pending else None
        held = next((i for i in range(len(pending)) if pending[i].employee_id == last), len(pending))
        lookups.pending = pending[held:]  # the last employee's rows may go on in the next chunk
        await self._ingest(run, lookups, pending[:held])

    async def finish(self, run: WriteRun) -> None:
        """Apply what is left (staged rows: whole employees a few thousand rows at a time, each in
        time order); then one audit entry for the job, and the feed marks."""
        lookups: _Lookups | None = run.notes.get(_NOTES)
        if not run.write or lookups is None:
            return
        await self._ingest(run, lookups, lookups.pending)
        if lookups.staging is not None:
            for first, last in await lookups.staging.groups(APPLY_ROWS):
                staged = await lookups.staging.rows(first, last)
                await self._ingest(run, lookups, [HistoryRow(*row[1:]) for row in staged])
            await lookups.staging.drop()
        counted = lookups.counted
        run.counts.created += counted[RowStatus.CREATED]
        run.counts.unchanged += counted[RowStatus.UNCHANGED]
        summary = {"created": counted[RowStatus.CREATED], "unchanged": counted[RowStatus.UNCHANGED]}
        run.audit("import.activityrecord.create", self.entity, "*", None, {"kind": HISTORY_RESULT, **summary})
        await run.flush()
        if lookups.changes is not None:
            await lookups.changes.publish(run.connection, run.now)

    async def _ingest(self, run: WriteRun, lookups: _Lookups, rows: list[HistoryRow]) -> None:
        """Write rows of whole employees through the one ingest path, in the job's transaction."""
        if not rows:
            return
        if lookups.changes is None:  # first call: the catalog the file names, read once
            lookups.changes = CompactChanges(run.tenant_id)
            await lookups.catalog.load(run.connection, run.tenant_id, set(lookups.modules.values()))
        for outcome in await ingest_history(
            run.connection, run.tenant_id, rows, changes=lookups.changes, now=run.now, catalog=lookups.catalog
        ):
            if outcome.status == RowStatus.REJECTED:
                # The file was checked: only a change made meanwhile (a module deleted) gets here.
                raise outcome.error or DomainError(ErrorCode.INTERNAL)
            lookups.counted[outcome.status] += 1

    # --- export ------------------------------------------------------------------------------------

    async def export_rows(self, tenant_id: int) -> AsyncIterator[dict[str, WriteCell]]:
        numbers = dict(await Employee.filter(tenant_id=tenant_id).values_list("id", "employee_no"))
        places = {
            module_id: (code, position)
            for module_id, code, position in await CourseModule.filter(tenant_id=tenant_id).values_list(
                "id", "course__code", "position"
            )
        }
        zone = zone_named(await _time_zone_of(tenant_id))
        query = ActivityRecord.filter(tenant_id=tenant_id, kind=HISTORY_RESULT, status=RecordStatus.ACCEPTED)
        after: tuple[int, datetime, UUID] | None = None
        while True:
            page = query
            if after is not None:
                employee_id, at, record_id = after
                page = page.filter(
                    Q(employee_id__gt=employee_id)
                    | Q(employee_id=employee_id, occurred_at__gt=at)
                    | Q(employee_id=employee_id, occurred_at=at, id__gt=record_id)
                )
            found = (
                await page.order_by("employee_id", "occurred_at", "id")
                .limit(KEY_CHUNK)
                .values("id", "employee_id", "occurred_at", "payload")
            )
            for record in found:
                payload = record["payload"] or {}
                place = places.get(_module_pk(payload) or 0)
                if place is None:
                    continue
                yield {
                    "employee_no": numbers.get(record["employee_id"]),
                    "course_code": place[0],
                    "module_no": place[1],
                    "activity": payload.get("activity"),
                    "occurred_at": local_text(record["occurred_at"], zone),
                    "score": payload.get("score"),
                    "count": payload.get("count", 1),
                    "source": payload.get("source") or None,
                }
            if len(found) < KEY_CHUNK:
                return
            last = found[-1]
            after = (last["employee_id"], last["occurred_at"], last["id"])


async def _course_codes(tenant_id: int, codes: list[str]) -> set[str]:
    wanted, found = sorted(set(codes)), set[str]()
    for start in range(0, len(wanted), KEY_CHUNK):
        found.update(
            str(code)
            for code in await Course.filter(
                tenant_id=tenant_id, code__in=wanted[start : start + KEY_CHUNK]
            ).values_list("code", flat=True)
        )
    return found


async def _modules(tenant_id: int, codes: list[str]) -> dict[tuple[str, int], CourseModule]:
    """The modules (with their course) of the courses of ``codes``, by (code, position)."""
    found: dict[tuple[str, int], CourseModule] = {}
    for start in range(0, len(codes), KEY_CHUNK):
        for module in await CourseModule.filter(
            tenant_id=tenant_id, course__code__in=codes[start : start + KEY_CHUNK]
        ).select_related("course"):
            found[(module.course.code, module.position)] = module
    return found


async def _check_changed(
    checked: CheckedFile,
    context: JobContext,
    seen: Seen,
    employees: dict[str, int],
    modules: dict[tuple[str, int], CourseModule],
) -> None:
    """HISTORY_CHANGED for a row whose fact was imported before with another score or count:
    the file's employees' history records in its time span, matched on the natural key."""
    if seen.first is None or not employees:
        return
    zone = zone_named(context.time_zone)
    numbers = {employee_id: number for number, employee_id in employees.items()}
    places = {module.id: key for key, module in modules.items()}
    ids = sorted(numbers)
    for start in range(0, len(ids), 200):
        for employee_id, payload, occurred_at in await ActivityRecord.filter(
            tenant_id=context.tenant_id,
            employee_id__in=ids[start : start + 200],
            kind=HISTORY_RESULT,
            status=RecordStatus.ACCEPTED,
            occurred_at__gte=seen.first,
            occurred_at__lte=seen.last,
        ).values_list("employee_id", "payload", "occurred_at"):
            place = places.get(_module_pk(payload) or 0)
            if place is None:
                continue
            key = natural_key(
                numbers[employee_id],
                place[0],
                place[1],
                str(payload.get("activity")),
                local_text(occurred_at, zone),
                str(payload.get("source") or ""),
            )
            row = checked.keys.get(key)
            packed = seen.packed_of(row) if row is not None else None
            score, count = payload.get("score"), payload.get("count", 1)
            if packed is None or packed == pack(score, count):
                continue
            error = invalid("score", "reason.history_changed", score="-" if score is None else score, count=count)
            column = "score" if packed >> 10 != pack(score, 0) >> 10 else "count"
            checked.problems.add(from_error(row, checked.header.column_name(column), error))


def _module_pk(payload: Any) -> int | None:
    try:
        return expect_global_id(payload.get("moduleId"), "CourseModule", "moduleId")
    except (DomainError, AttributeError):
        return None


def _history_row(lookups: _Lookups, row: HistoryLine) -> HistoryRow:
    return HistoryRow(
        lookups.employees[row.employee_no],
        lookups.modules[(row.course_code, row.module_no)],
        row.activity.value,
        row.occurred_at,
        row.score,
        row.count,
        row.source,
    )


async def _existing_ids(ids: list[UUID]) -> set[UUID]:
    found: set[UUID] = set()
    for start in range(0, len(ids), KEY_CHUNK):
        found.update(
            UUID(str(i))
            for i in await ActivityRecord.filter(id__in=ids[start : start + KEY_CHUNK]).values_list("id", flat=True)
        )
    return found


async def _time_zone_of(tenant_id: int) -> str:
    return str(await Tenant.get(id=tenant_id).values_list("time_zone", flat=True))
