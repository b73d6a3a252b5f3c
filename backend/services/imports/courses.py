"""The ``courses`` import kind: courses with their modules, one row per module (what HR keeps in
Excel), the course's columns repeated on each of its rows.

Natural keys: the course code, and (course code, module no) for a module; a row without any module
cell is the course alone (a course with no modules yet). Rows are judged by the course authoring
services' pure checks (``check_course_fields``, ``check_module_fields``, ``check_target_level``,
``check_whole``, ``check_flag``); what needs the company is checked in ``check_file`` by the
mutations' rules, against the company's rows:

- a new code follows the COURSE_CODE standard (codes that predate it stay valid);
- every row of a course repeats the same course columns (ROWS_DISAGREE);
- modules run 1..n without gaps, counting the company's modules the file does not list (a file
  never removes a module: MODULE_GAP); a module keeps its kind once learners have records on it
  or it has a quiz (STILL_IN_USE); a RETIRED course's modules no longer change;
- the status moves at most one step of the lifecycle (``course_versions.ALLOWED``); a new course
  comes in DRAFT, PUBLISHED or RETIRED (old courses of the history), the last two only with a
  required module; publishing needs a required module, going back to DRAFT needs no learners,
  a published course keeps a required module, and publishing a new version retires the old one;
- skills taught name skills of the company; prerequisites name courses of the file or the company
  and form no cycle, a course and its versions counting as one (CYCLE).

A problem found in ``check_file`` lands on every row of its course, and the rows of one course name
the same skills and prerequisites, so a course is written with all its good rows or not at all.
The write pass waits for each course's rows (they may be anywhere in the file) and writes whole
courses in bulk; prerequisites, which may name courses created later in the file, and the
retirement of replaced versions come last (``finish``). Eligibility rules are not in the file:
HR sets them in the app (``setCourseEligibility``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise import connections

from backend.errors import DomainError, ErrorCode
from backend.models import Course, CourseStatus, DataStandardSubject
from backend.services.catalog.course_authoring import (
    CourseFields,
    ModuleFields,
    check_choice,
    check_course_fields,
    check_flag,
    check_module_fields,
    check_whole,
)
from backend.services.catalog.course_modules import MAX_MODULES, module_use
from backend.services.catalog.course_requirements import MAX_PREREQUISITES, MAX_SKILLS, check_target_level
from backend.services.catalog.course_versions import ALLOWED, has_learners
from backend.services.imports.course_writes import (
    ABSENT,
    COURSE_COLUMNS,
    CompanyCourses,
    CourseWriter,
    course_ids,
    cyclic_courses,
    db_value,
    module_after,
    module_values,
)
from backend.services.imports.files import WriteCell
from backend.services.imports.kinds import KEY_CHUNK, CheckedFile, ImportKind, JobContext, Reference, WriteRun
from backend.services.imports.problems import ProblemCode, from_error, problem
from backend.services.imports.rows import Cells, Column
from backend.services.people.org_units import lock_structure
from backend.services.validation import invalid

# Words Chinese spreadsheets use for the enums' values (the checks read the names).
FORMAT_WORDS = {"线上": "ONLINE", "线下": "OFFLINE", "在岗": "OJT", "混合": "BLENDED"}
KIND_WORDS = {"课程": "LESSON", "实操": "PRACTICE", "测验": "QUIZ", "考核": "ASSESSMENT"}
STATUS_WORDS = {"草稿": "DRAFT", "已发布": "PUBLISHED", "已停用": "RETIRED", "ARCHIVED": "RETIRED"}
# A module check's field → its column (requiredCount, requirement and isRequired are the columns' own).
MODULE_FIELD_COLUMNS = {"title": "module_title", "kind": "module_kind", "credits": "module_credits"}
MODULE_CELLS = ("module_title", "module_kind", "module_credits", "required_count", "requirement", "optional")
_SPLIT = re.compile(r"[;；]")
# The kind's notes (CheckedFile.notes, then WriteRun.notes).
_COURSES, _PENDING, _LOCKED = "courses", "pending", "locked"


@dataclass(frozen=True)
class CourseColumns:
    """What every row of one course repeats."""

    fields: CourseFields
    status: CourseStatus | None  # None: as the company has it (a new course: DRAFT)
    skills: tuple[tuple[str, int], ...] | None  # (skill code, target level) by code; None: no column, kept
    prerequisites: tuple[str, ...] | None  # course codes, sorted; None: no column, kept


@dataclass(frozen=True)
class CourseRow:
    course: CourseColumns
    position: int | None  # the module no; None: a row of the course alone
    module: ModuleFields | None

    @property
    def code(self) -> str:
        return self.course.fields.code


@dataclass
class CourseNote:
    """What the check pass keeps of one course of the file."""

    first_row: int
    columns: CourseColumns
    rows: list[int] = field(default_factory=list)
    modules: dict[int, tuple[int, ModuleFields]] = field(default_factory=dict)  # position → (row, module)
    expected: int = 0  # its good rows, which the write pass brings


def _word(words: dict[str, str], value: str | None) -> str | None:
    return None if value is None else words.get(value.upper() if value.isascii() else value, value)


def _items(value: str | None) -> list[str]:
    return [item.strip() for item in _SPLIT.split(value or "") if item.strip()]


def _list_rules(items: Sequence[object], name: str, maximum: int) -> None:
    """The list rules of setCourseSkills / setCoursePrerequisites: at most ``maximum``, none twice."""
    if len(items) > maximum:
        raise invalid(name, "reason.list_too_long", max=maximum)
    if len(set(items)) != len(items):
        raise invalid(name, "reason.duplicates")


class CoursesKind(ImportKind[CourseRow]):
    """Courses with their modules, skills taught and prerequisites (see the module docstring)."""

    name = "courses"
    title_zh = "课程"
    title_en = "Courses"
    entity = "Course"
    key_column = "code"
    columns = (
        Column(
            "code",
            "课程编码",
            "Course code",
            True,
            "新编码须符合课程编码标准，如 T-001-01",
            "a new code follows the standard, e.g. T-001-01",
        ),
        Column(
            "title",
            "课程名称",
            "Title",
            True,
            "最长 200 字；同一课程各行一致",
            "up to 200; the same on each row of a course",
        ),
        Column("summary", "简介", "Summary", False, "最长 4000 字", "up to 4000"),
        Column("scenario", "场景", "Scenario", False, "如 销售，最长 64 字", "e.g. Sales; up to 64"),
        Column(
            "format",
            "形式",
            "Format",
            True,
            "ONLINE/OFFLINE/OJT/BLENDED（线上/线下/在岗/混合）",
            "ONLINE, OFFLINE, OJT or BLENDED",
        ),
        Column("hours", "学时", "Hours", False, "0 到 99999.9，最多 1 位小数", "0 to 99999.9, one decimal place"),
        Column("credits", "学分", "Credits", False, "0 到 99999.9，最多 1 位小数", "0 to 99999.9, one decimal place"),
        Column(
            "requires_approval",
            "报名需审批",
            "Requires approval",
            False,
            "是 / 否（留空为否）",
            "yes / no (empty: no)",
            "requiresApproval",
        ),
        Column(
            "status",
            "状态",
            "Status",
            False,
            "DRAFT/PUBLISHED/RETIRED（草稿/已发布/已停用）；留空不变，新课程为草稿",
            "DRAFT, PUBLISHED or RETIRED; empty: as it is (a new course: DRAFT)",
        ),
        Column(
            "skills",
            "所授技能",
            "Skills taught",
            False,
            "技能编码:目标等级，分号分隔，如 NEG-01:60;CRM-01:40",
            "skill code:target level, by semicolons: NEG-01:60;CRM-01:40",
        ),
        Column(
            "prerequisites",
            "先修课程",
            "Prerequisites",
            False,
            "课程编码，分号分隔，须在本文件或公司中",
            "course codes by semicolons, in the file or the company",
        ),
        Column(
            "module_no",
            "模块序号",
            "Module no",
            False,
            "从 1 起连续编号；模块各列都空表示只有课程",
            "1, 2, … without gaps; no module cells: the course alone",
        ),
        Column("module_title", "模块名称", "Module title", False, "最长 200 字", "up to 200"),
        Column(
            "module_kind",
            "模块类型",
            "Module kind",
            False,
            "LESSON/PRACTICE/QUIZ/ASSESSMENT（课程/实操/测验/考核）",
            "LESSON, PRACTICE, QUIZ or ASSESSMENT",
        ),
        Column("module_credits", "模块学分", "Module credits", False, "0 到 99999.9", "0 to 99999.9"),
        Column(
            "required_count",
            "要求次数",
            "Required count",
            False,
            "1 到 1000（留空为 1）",
            "1 to 1000 (empty: 1)",
            "requiredCount",
        ),
        Column("requirement", "要求说明", "Requirement", False, "最长 300 字", "up to 300"),
        Column(
            "optional", "选修", "Optional", False, "是 / 否（留空为必修）", "yes / no (empty: required)", "isRequired"
        ),
    )

    # --- one row ------------------------------------------------------------------------------------

    def parse(self, cells: Cells, context: JobContext) -> CourseRow:
        written = cells.header.written
        skills = self._skills(cells) if "skills" in written else None
        prerequisites = self._prerequisites(cells) if "prerequisites" in written else None
        status = cells.text("status")
        cells.check()
        fields = check_course_fields(  # no standard: it is for new codes only (check_file)
            None,
            code=cells.text("code"),
            title=cells.text("title"),
            summary=cells.text("summary"),
            scenario=cells.text("scenario"),
            format=_word(FORMAT_WORDS, cells.text("format")),
            hours=cells.text("hours"),
            credits=cells.text("credits"),
            requires_approval=cells.text("requires_approval"),
        )
        checked_status = None if status is None else check_choice(CourseStatus, _word(STATUS_WORDS, status), "status")
        course = CourseColumns(fields, checked_status, skills, prerequisites)
        number = cells.text("module_no")
        if number is None and all(cells.text(key) is None for key in MODULE_CELLS):
            return CourseRow(course, None, None)
        if number is None:
            raise invalid("module_no", "reason.required")
        position = check_whole(number, "module_no", 1, MAX_MODULES)
        optional = cells.text("optional")
        try:
            module = check_module_fields(
                title=cells.text("module_title"),
                kind=_word(KIND_WORDS, cells.text("module_kind")),
                credits=cells.text("module_credits"),
                required_count=cells.text("required_count"),
                requirement=cells.text("requirement"),
                is_required=None if optional is None else not check_flag(optional, "optional"),
            )
        except DomainError as error:  # the module's title is the "Module title" column
            column = MODULE_FIELD_COLUMNS.get(error.field or "", error.field)
            raise DomainError(error.code, column, **error.params) from None
        return CourseRow(course, position, module)

    def _skills(self, cells: Cells) -> tuple[tuple[str, int], ...]:
        pairs: list[tuple[str, int]] = []
        for item in _items(cells.text("skills")):
            code, colon, level = item.replace("：", ":").partition(":")
            if not colon or not code.strip() or not level.strip():
                column = cells.header.column_name("skills")
                cells.problems.append(problem(cells.row, column, ProblemCode.BAD_SKILL_LEVEL, value=item))
                return ()
            pairs.append((code.strip(), check_target_level(level.strip(), "skills")))
        _list_rules([code for code, _ in pairs], "skills", MAX_SKILLS)
        return tuple(sorted(pairs))

    def _prerequisites(self, cells: Cells) -> tuple[str, ...]:
        codes = _items(cells.text("prerequisites"))
        _list_rules(codes, "prerequisites", MAX_PREREQUISITES)
        return tuple(sorted(codes))

    def key(self, row: CourseRow) -> str:
        return row.code if row.position is None else f"{row.code} #{row.position}"

    def references(self, row: CourseRow) -> Iterable[Reference]:
        for code, _ in row.course.skills or ():
            yield Reference("skills", "skills", code)
        for code in row.course.prerequisites or ():
            yield Reference("prerequisites", self.name, code)

    def note(self, checked: CheckedFile, number: int, row: CourseRow) -> None:
        courses: dict[str, CourseNote] = checked.notes.setdefault(_COURSES, {})
        found = courses.setdefault(row.code, CourseNote(number, row.course))
        if found.columns != row.course:
            for key in _differing(found.columns, row.course):
                checked.problems.add(
                    problem(
                        number,
                        checked.header.column_name(key),
                        ProblemCode.ROWS_DISAGREE,
                        value=row.code,
                        first_row=found.first_row,
                        what_key="subject.course_code",
                    )
                )
            return
        found.rows.append(number)
        if row.position is not None and row.module is not None:
            found.modules[row.position] = (number, row.module)

    # --- the file as a whole --------------------------------------------------------------------------

    async def check_file(self, checked: CheckedFile, context: JobContext) -> None:
        courses: dict[str, CourseNote] = checked.notes.get(_COURSES, {})
        checked.notes[ABSENT] = frozenset(c.key for c in self.columns if c.key not in checked.header.written)
        check = await _FileCheck.start(checked, context, courses)
        for note in courses.values():
            await check.course(note)
        await check.publishing()
        await check.cycles()
        for code, note in courses.items():
            checked.keys[code] = note.first_row  # prerequisites name a course by its code
            note.expected = sum(1 for row in note.rows if row not in checked.problems.bad_rows)

    async def known_keys(self, tenant_id: int, keys: Sequence[str]) -> set[str]:
        return set(await course_ids(connections.get("default"), tenant_id, keys))

    # --- planning and writing -------------------------------------------------------------------------

    async def apply(self, run: WriteRun, rows: Sequence[tuple[int, CourseRow]]) -> None:
        if run.write and _LOCKED not in run.notes:
            # Prerequisite cycles are decided under the company lock set_course_prerequisites takes.
            await lock_structure(run.connection, run.tenant_id)
            run.notes[_LOCKED] = True
        notes: dict[str, CourseNote] = run.notes[_COURSES]
        pending: dict[str, list[CourseRow]] = run.notes.setdefault(_PENDING, {})
        complete: list[list[CourseRow]] = []
        for _, row in rows:  # a course is written once all its rows are read
            waiting = pending.setdefault(row.code, [])
            waiting.append(row)
            if len(waiting) >= notes[row.code].expected:
                complete.append(pending.pop(row.code))
        if complete:
            await CourseWriter(run).courses(complete)

    async def finish(self, run: WriteRun) -> None:
        pending: dict[str, list[CourseRow]] = run.notes.pop(_PENDING, {})
        writer = CourseWriter(run)
        if pending:
            await writer.courses(list(pending.values()))
        await writer.prerequisites()
        await writer.retire_replaced()

    # --- export ---------------------------------------------------------------------------------------

    async def export_rows(self, tenant_id: int) -> AsyncIterator[dict[str, WriteCell]]:
        connection = connections.get("default")
        last: str | None = None
        while True:
            query = Course.filter(tenant_id=tenant_id).order_by("code").limit(KEY_CHUNK)
            if last is not None:
                query = query.filter(code__gt=last)
            codes = [str(code) for code in await query.values_list("code", flat=True)]
            company = await CompanyCourses.read(connection, tenant_id, codes)
            for code in codes:
                course = company.courses[code]
                cells: dict[str, WriteCell] = {name: db_value(course[name]) for name in COURSE_COLUMNS}
                cells["code"] = code
                cells["skills"] = ";".join(f"{skill}:{level}" for skill, level in company.skills.get(course["id"], ()))
                cells["prerequisites"] = ";".join(company.prerequisites.get(course["id"], ()))
                modules = company.modules.get(course["id"], {})
                if not modules:
                    yield cells
                for position, module in sorted(modules.items()):
                    yield {
                        **cells,
                        "module_no": position,
                        "module_title": module["title"],
                        "module_kind": module["kind"].value,
                        "module_credits": module["credits"],
                        "required_count": module["required_count"],
                        "requirement": module["requirement"],
                        "optional": not module["is_required"],
                    }
            if len(codes) < KEY_CHUNK:
                return
            last = codes[-1]


def _differing(first: CourseColumns, other: CourseColumns) -> list[str]:
    """The columns where ``other`` differs from ``first`` (the rows of a course must agree)."""
    names = [name for name in vars(first.fields) if getattr(first.fields, name) != getattr(other.fields, name)]
    extra = ("status", "skills", "prerequisites")
    return names + [name for name in extra if getattr(first, name) != getattr(other, name)]


class _FileCheck:
    """The checks of a file's courses against the company's rows, by the authoring mutations'
    rules. A course's own problems land on each of its rows: it is written whole or not at all."""

    def __init__(self, checked: CheckedFile, context: JobContext, courses: dict[str, CourseNote]) -> None:
        self.checked = checked
        self.context = context
        self.courses = courses
        self.connection = connections.get("default")
        self.company = CompanyCourses({})
        self.quizzes: set[int] = set()  # the company's modules with a quiz
        self.drafts: dict[int, str] = {}  # id → code of the company's drafts the file publishes

    @classmethod
    async def start(cls, checked: CheckedFile, context: JobContext, courses: dict[str, CourseNote]) -> _FileCheck:
        check = cls(checked, context, courses)
        check.company = await CompanyCourses.read(check.connection, context.tenant_id, list(courses))
        check.quizzes = await check.company.quiz_modules(check.connection)
        return check

    def refuse(self, rows: Iterable[int], error: DomainError) -> None:
        column = self.checked.header.column_name(error.field)
        for row in rows:
            self.checked.problems.add(from_error(row, column, error))

    async def course(self, note: CourseNote) -> None:
        code = note.columns.fields.code
        current = self.company.courses.get(code)
        if current is None:  # the standard is for new codes: codes that predate it stay valid
            try:
                self.context.standards.check(DataStandardSubject.COURSE_CODE, code, "code")
            except DomainError as refusal:
                self.refuse(note.rows, refusal)
        modules = await self.modules(note, current)
        status = note.columns.status or (current["status"] if current else CourseStatus.DRAFT)
        error = await self.status(current, status, modules)
        if error is not None:
            self.refuse(note.rows, error)
        elif current is not None and status != current["status"] and status == CourseStatus.PUBLISHED:
            self.drafts[current["id"]] = code
        missing = sorted(set(range(1, max(modules, default=0) + 1)) - set(modules))
        if missing:
            column = self.checked.header.column_name("module_no")
            text = ", ".join(map(str, missing))
            for row, _ in note.modules.values():
                self.checked.problems.add(problem(row, column, ProblemCode.MODULE_GAP, value=code, missing=text))

    async def modules(self, note: CourseNote, current: dict[str, Any] | None) -> dict[int, bool]:
        """Refuse the module rows the company's modules do not allow (a retired course's; a new kind
        for a module in use, as updateModule judges it); the course's modules once written
        (position → required)."""
        existing = self.company.modules.get(current["id"], {}) if current else {}
        absent: frozenset[str] = self.checked.notes[ABSENT]
        after = {position: bool(old["is_required"]) for position, old in existing.items()}
        for position, (row, module) in note.modules.items():
            old = existing.get(position)
            values = module_after(module, old, absent)
            error: DomainError | None = None
            if current is not None and current["status"] == CourseStatus.RETIRED:
                if old is None or module_values(old) != values:
                    error = invalid("module_no", "reason.course_retired")
            elif old is not None and values["kind"] != old["kind"]:
                reason = await module_use(self.connection, self.context.tenant_id, old["id"])  # rare: one query each
                if reason is None and old["id"] in self.quizzes:
                    reason = "reason.module_has_quiz"
                if reason is not None:
                    error = DomainError(ErrorCode.STILL_IN_USE, field="module_kind", reason_key=reason)
            if error is not None:
                self.refuse([row], error)
            else:
                after[position] = values["is_required"]
        return after

    async def status(
        self, current: dict[str, Any] | None, status: CourseStatus, modules: dict[int, bool]
    ) -> DomainError | None:
        """Why the course may not take ``status`` (None: it may), as ``change_status`` judges one
        step of the lifecycle, over the modules the course will have. A new course may come in with
        any status, since migrating history needs courses retired long ago; it must satisfy what
        publishing requires all the same (a retired course was published once)."""
        now = current["status"] if current else CourseStatus.DRAFT
        if status == now:
            if current is not None and status == CourseStatus.PUBLISHED and not any(modules.values()):
                return invalid("optional", "reason.published_needs_required_module")
            return None
        if current is None:
            if not modules:
                return invalid("status", "reason.course_without_modules")
            return None if any(modules.values()) else invalid("status", "reason.course_without_required_module")
        if (now, status) not in ALLOWED:
            return DomainError(ErrorCode.INVALID_STATUS_CHANGE, field="status", status=now.value, to=status.value)
        if status == CourseStatus.PUBLISHED and not modules:
            return invalid("status", "reason.course_without_modules")
        if status == CourseStatus.PUBLISHED and not any(modules.values()):
            return invalid("status", "reason.course_without_required_module")
        tenant_id = self.context.tenant_id
        if status == CourseStatus.DRAFT and current and await has_learners(self.connection, tenant_id, current["id"]):
            return DomainError(ErrorCode.STILL_IN_USE, field="status", reason_key="reason.course_has_learners")
        return None

    async def publishing(self) -> None:
        """A course a newer version replaced is not published again; and publishing a new version
        retires the one it replaces, so the file may not keep that one PUBLISHED (a second import
        would find it retired)."""
        ids = list(self.drafts)
        for start in range(0, len(ids), KEY_CHUNK):
            newer = Course.filter(
                tenant_id=self.context.tenant_id, previous_version_id__in=ids[start : start + KEY_CHUNK]
            )
            published = newer.exclude(status=CourseStatus.DRAFT).using_db(self.connection)
            for course_id, code in await published.values_list("previous_version_id", "code"):
                note = self.courses[self.drafts[course_id]]
                self.refuse(note.rows, invalid("status", "reason.course_replaced", newer=code))
        by_id = {course["id"]: code for code, course in self.company.courses.items()}
        for code in self.drafts.values():
            old = self.courses.get(by_id.get(self.company.courses[code]["previous_version_id"]) or "")
            if old is not None and old.columns.status in (None, CourseStatus.PUBLISHED):
                self.refuse(old.rows, invalid("status", "reason.course_replaced", newer=code))

    async def cycles(self) -> None:
        """CYCLE on each row of a course the file's prerequisites put on a cycle."""
        targets = {code: note.columns.prerequisites for code, note in self.courses.items()}
        given = {code: needs for code, needs in targets.items() if needs is not None}
        column = self.checked.header.column_name("prerequisites")
        for code in sorted(await cyclic_courses(self.connection, self.context.tenant_id, given) & set(self.courses)):
            for row in self.courses[code].rows:
                self.checked.problems.add(
                    problem(row, column, ProblemCode.CYCLE, value=code, what_key="subject.course_prerequisites")
                )
