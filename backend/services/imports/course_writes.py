"""The company's side of the ``courses`` import (``courses.py``): its courses read in bulk, the
prerequisite graph's cycles, and the write pass over whole courses.

``CourseWriter`` plans each row (created, updated or unchanged) against the company's locked rows
and, when the run writes, writes each table in one statement per chunk (courses, modules, skills
taught, prerequisites), audited with the snapshots the authoring mutations audit
(``course_authoring.snapshot``, ``module_snapshot``) and with the feed marks they make.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.errors import DomainError, ErrorCode
from backend.models import (
    Course,
    CourseFormat,
    CourseModule,
    CoursePrerequisite,
    CourseSkill,
    CourseStatus,
    ModuleKind,
    ModuleProgress,
    Quiz,
    Skill,
    TrainingSession,
)
from backend.services.catalog.course_authoring import (
    CourseFields,
    ModuleFields,
    module_snapshot,
    snapshot,
    touch_modules,
)
from backend.services.catalog.course_catalog import lineage_roots
from backend.services.catalog.course_modules import SCORED_KINDS
from backend.services.catalog.course_versions import ACTIONS
from backend.services.feed import Entity
from backend.services.imports.bulk import update_by_id
from backend.services.imports.kinds import KEY_CHUNK, WriteRun
from backend.sql import db_time, insert_many, values_of

if TYPE_CHECKING:
    from backend.services.imports.courses import CourseRow

# The write pass's notes (WriteRun.notes): the file's courses' ids by code, the prerequisites it
# changes, the versions its publications replace.
IDS, NEEDS, REPLACED = "ids", "needs", "replaced"
ABSENT = "absent"  # the kind's columns the file does not have (from the check pass)

COURSE_COLUMNS = {  # a course's written columns (besides tenant, code, version) → PostgreSQL type
    "title": "text",
    "summary": "text",
    "scenario": "text",
    "format": "text",
    "hours": "numeric",
    "credits": "numeric",
    "requires_approval": "boolean",
    "status": "text",
}
MODULE_COLUMNS = {
    "title": "text",
    "kind": "text",
    "credits": "numeric",
    "required_count": "int",
    "requirement": "text",
    "is_required": "boolean",
    "rubric_id": "int",
    "pass_score": "int",
}
STAMPS = {"created_at": "timestamptz", "updated_at": "timestamptz"}


def db_value(value: Any) -> Any:
    return value.value if isinstance(value, CourseStatus | CourseFormat | ModuleKind) else value


def module_values(module: dict[str, Any]) -> dict[str, Any]:
    return {name: module[name] for name in MODULE_COLUMNS}


# A module's fields → the columns holding them.
MODULE_FIELD_COLUMNS = {
    "title": "module_title",
    "kind": "module_kind",
    "credits": "module_credits",
    "required_count": "required_count",
    "requirement": "requirement",
    "is_required": "optional",
}


def course_after(
    fields: CourseFields, status: CourseStatus | None, current: dict[str, Any] | None, absent: frozenset[str]
) -> dict[str, Any]:
    """A course's row once written: the file's values, but a column the file does not have keeps
    the company's value (a new course takes the check's default), and no status keeps the status."""
    if current is None:
        return {**vars(fields), "version": 1, "previous_version_id": None, "status": status or CourseStatus.DRAFT}
    given = {name: value for name, value in vars(fields).items() if name not in absent}
    return {**current, **given, "status": status or current["status"]}


def module_after(module: ModuleFields, old: dict[str, Any] | None, absent: frozenset[str]) -> dict[str, Any]:
    """A module's columns once written: the file's values (a column the file does not have keeps
    the company's value); a kind no rubric scores drops the rubric and the pass bar, as
    updateModule does; a new module has neither."""
    values = {
        name: old[name] if old is not None and MODULE_FIELD_COLUMNS[name] in absent else value
        for name, value in vars(module).items()
    }
    keeps = old is not None and values["kind"] in SCORED_KINDS
    values["rubric_id"] = old["rubric_id"] if old is not None and keeps else None
    values["pass_score"] = old["pass_score"] if old is not None and keeps else None
    return values


async def course_ids(connection: BaseDBAsyncClient, tenant_id: int, codes: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    codes = list(codes)
    for start in range(0, len(codes), KEY_CHUNK):
        query = Course.filter(tenant_id=tenant_id, code__in=codes[start : start + KEY_CHUNK]).using_db(connection)
        found.update({str(code): course_id for code, course_id in await query.values_list("code", "id")})
    return found


async def cyclic_courses(
    connection: BaseDBAsyncClient, tenant_id: int, targets: dict[str, tuple[str, ...]]
) -> set[str]:
    """The courses (codes) on a prerequisite cycle once each course of ``targets`` needs the ones it
    lists, the company's other prerequisites as they are. A course and its versions are one node
    (completing any version meets a prerequisite), as set_course_prerequisites sees them."""
    ids = await course_ids(connection, tenant_id, sorted(set(targets) | {c for cs in targets.values() for c in cs}))
    roots = await lineage_roots(tenant_id, connection)
    codes_of: dict[int | str, set[str]] = {}

    def node(code: str) -> int | str:
        course_id = ids.get(code)
        found: int | str = code if course_id is None else roots.get(course_id, course_id)
        codes_of.setdefault(found, set()).add(code)
        return found

    replaced = {ids[code] for code in targets if code in ids}
    edges: dict[int | str, set[int | str]] = {}
    pairs = CoursePrerequisite.filter(tenant_id=tenant_id).using_db(connection)
    for needs, needed in await pairs.values_list("course_id", "required_course_id"):
        if needs not in replaced:
            edges.setdefault(roots.get(needs, needs), set()).add(roots.get(needed, needed))
    for code, needed_codes in targets.items():
        edges.setdefault(node(code), set()).update(node(needed) for needed in needed_codes)
    return {code for found in _on_cycles(edges) for code in codes_of.get(found, ())}


def _on_cycles(edges: dict[Any, set[Any]]) -> set[Any]:
    """The nodes on a cycle: Tarjan's strongly connected components, without recursion."""
    index: dict[Any, int] = {}
    low: dict[Any, int] = {}
    stack: list[Any] = []
    on_stack: set[Any] = set()
    cyclic: set[Any] = set()

    def enter(node: Any) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)

    for root in list(edges):
        if root in index:
            continue
        enter(root)
        work: list[tuple[Any, Iterator[Any]]] = [(root, iter(edges.get(root, ())))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    enter(child)
                    work.append((child, iter(edges.get(child, ()))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = [stack.pop()]
                    while component[-1] != node:
                        component.append(stack.pop())
                    on_stack.difference_update(component)
                    if len(component) > 1 or node in edges.get(node, ()):
                        cyclic.update(component)
    return cyclic


@dataclass
class CompanyCourses:
    """The company's side of some courses, in a few queries per KEY_CHUNK courses."""

    courses: dict[str, dict[str, Any]]  # by code
    modules: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)  # course id → position → module
    skills: dict[int, tuple[tuple[str, int], ...]] = field(default_factory=dict)  # (skill code, level), by code
    skill_ids: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # (skill id, level)
    prerequisites: dict[int, tuple[str, ...]] = field(default_factory=dict)  # codes, sorted
    prerequisite_ids: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    async def read(
        cls, connection: BaseDBAsyncClient, tenant_id: int, codes: Sequence[str], lock: bool = False
    ) -> CompanyCourses:
        company = cls({})
        codes = list(codes)
        for start in range(0, len(codes), KEY_CHUNK):
            query = Course.filter(tenant_id=tenant_id, code__in=codes[start : start + KEY_CHUNK])
            if lock:
                query = query.select_for_update(no_key=True)  # as locked_course: the "before" stays true
            for course in await values_of(query.using_db(connection), *COURSE_READ):
                company.courses[course["code"]] = _course(course)
        ids = [course["id"] for course in company.courses.values()]
        for start in range(0, len(ids), KEY_CHUNK):
            await company._details(connection, ids[start : start + KEY_CHUNK])
        return company

    async def _details(self, connection: BaseDBAsyncClient, ids: list[int]) -> None:
        modules = CourseModule.filter(course_id__in=ids).using_db(connection)
        for module in await modules.values("id", "course_id", "position", *MODULE_COLUMNS):
            module["kind"] = ModuleKind(module["kind"])
            self.modules.setdefault(module["course_id"], {})[module["position"]] = module
        skills = CourseSkill.filter(course_id__in=ids).using_db(connection)
        for course_id, skill_id, code, level in await skills.values_list(
            "course_id", "skill_id", "skill__code", "target_level"
        ):
            # Sorted here, not by the database: its collation may order codes otherwise than a file.
            self.skills[course_id] = tuple(sorted((*self.skills.get(course_id, ()), (code, level))))
            self.skill_ids.setdefault(course_id, []).append((skill_id, level))
        needs = CoursePrerequisite.filter(course_id__in=ids).using_db(connection)
        for course_id, needed_id, code in await needs.values_list(
            "course_id", "required_course_id", "required_course__code"
        ):
            self.prerequisites[course_id] = tuple(sorted((*self.prerequisites.get(course_id, ()), code)))
            self.prerequisite_ids.setdefault(course_id, []).append(needed_id)

    async def quiz_modules(self, connection: BaseDBAsyncClient) -> set[int]:
        """Which of the courses' modules have a quiz."""
        ids = [module["id"] for modules in self.modules.values() for module in modules.values()]
        found: set[int] = set()
        for start in range(0, len(ids), KEY_CHUNK):
            quizzes = Quiz.filter(module_id__in=ids[start : start + KEY_CHUNK]).using_db(connection)
            found.update(module_id for (module_id,) in await quizzes.values_list("module_id"))
        return found


COURSE_READ = ("id", "code", "version", "previous_version_id", *COURSE_COLUMNS)


def _course(values: dict[str, Any]) -> dict[str, Any]:
    return {**values, "format": CourseFormat(values["format"]), "status": CourseStatus(values["status"])}


def _course_snapshot(course: dict[str, Any]) -> dict[str, Any]:
    return snapshot(Course(**{name: course[name] for name in COURSE_READ if name != "id"}))


class CourseWriter:
    """The write pass of one job over whole courses: plans each row (created, updated, unchanged)
    and, when the run writes, writes each table in one statement per chunk, audited as the
    authoring mutations audit, with the feed marks they make."""

    def __init__(self, run: WriteRun) -> None:
        self.run = run
        self.ids: dict[str, int] = run.notes.setdefault(IDS, {})  # the file's courses, by code
        self.created: list[dict[str, Any]] = []
        self.updated: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (before, after)
        self.new_modules: list[tuple[str, int, dict[str, Any]]] = []  # (course code, position, values)
        self.changed_modules: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (before, after)
        self.skills: list[tuple[str, list[tuple[int, int]], tuple[tuple[str, int], ...]]] = []  # code, before, after

    async def courses(self, batch: list[list[CourseRow]]) -> None:
        run = self.run
        company = await CompanyCourses.read(run.connection, run.tenant_id, [rows[0].code for rows in batch], run.write)
        self.ids.update({code: course["id"] for code, course in company.courses.items()})
        for rows in batch:
            self._plan(company, rows)
        if run.write:
            await self._write()

    def _plan(self, company: CompanyCourses, rows: list[CourseRow]) -> None:
        columns, counts = rows[0].course, self.run.counts
        code = columns.fields.code
        current = company.courses.get(code)
        course_id = current["id"] if current else 0
        absent: frozenset[str] = self.run.notes.get(ABSENT, frozenset())
        after = course_after(columns.fields, columns.status, current, absent)
        status = after["status"]
        skills = company.skills.get(course_id, ())
        needs = company.prerequisites.get(course_id, ())
        new_skills = skills if columns.skills is None else columns.skills
        new_needs = needs if columns.prerequisites is None else columns.prerequisites
        changed = current is not None and (after != current or new_skills != skills or new_needs != needs)
        if current is None:
            self.created.append(after)
        elif after != current:
            self.updated.append((current, after))
            published = status == CourseStatus.PUBLISHED and current["status"] != CourseStatus.PUBLISHED
            if published and current["previous_version_id"]:
                self.run.notes.setdefault(REPLACED, set()).add(current["previous_version_id"])
        if new_skills != skills:
            self.skills.append((code, company.skill_ids.get(course_id, []), new_skills))
        if new_needs != needs:
            self.run.notes.setdefault(NEEDS, {})[code] = (company.prerequisite_ids.get(course_id, []), new_needs)
        existing = company.modules.get(course_id, {})
        for row in rows:
            created, updated = current is None, changed
            if row.position is not None and row.module is not None:
                old = existing.get(row.position)
                values = module_after(row.module, old, absent)
                if old is None:
                    created = True
                    self.new_modules.append((code, row.position, values))
                elif module_values(old) != values:
                    updated = True
                    self.changed_modules.append((old, {**old, **values}))
            if created:
                counts.created += 1
            elif updated:
                counts.updated += 1
            else:
                counts.unchanged += 1

    async def _write(self) -> None:
        run, connection, tenant_id = self.run, self.run.connection, self.run.tenant_id
        at = db_time(connection, run.now)
        if self.created:
            names = {"tenant_id": "int", "code": "text", "version": "int", **COURSE_COLUMNS, **STAMPS}
            rows = [
                (tenant_id, c["code"], 1, *(db_value(c[name]) for name in COURSE_COLUMNS), at, at) for c in self.created
            ]
            for found in await insert_many(connection, "course", names, rows, returning="id, code"):
                self.ids[found["code"]] = found["id"]
        values = [
            (before["id"], {name: db_value(after[name]) for name in COURSE_COLUMNS}) for before, after in self.updated
        ]
        await update_by_id(connection, "course", COURSE_COLUMNS, values, run.now)
        module_ids: dict[tuple[str, int], int] = {}
        if self.new_modules:
            names = {"tenant_id": "int", "course_id": "int", "position": "int", **MODULE_COLUMNS, **STAMPS}
            rows = [
                (tenant_id, self.ids[code], position, *(db_value(values[name]) for name in MODULE_COLUMNS), at, at)
                for code, position, values in self.new_modules
            ]
            codes = {course_id: code for code, course_id in self.ids.items()}
            inserted = await insert_many(connection, "course_module", names, rows, returning="id, course_id, position")
            module_ids = {(codes[found["course_id"]], found["position"]): found["id"] for found in inserted}
        changed = [
            (before["id"], {n: db_value(after[n]) for n in MODULE_COLUMNS}) for before, after in self.changed_modules
        ]
        await update_by_id(connection, "course_module", MODULE_COLUMNS, changed, run.now)
        await self._write_skills(at)
        self._audit(module_ids)
        await run.flush()
        await self._touch(module_ids)

    async def _write_skills(self, at: object) -> None:
        if not self.skills:
            return
        run, connection = self.run, self.run.connection
        await (
            CourseSkill.filter(course_id__in=[self.ids[code] for code, _, _ in self.skills])
            .using_db(connection)
            .delete()
        )
        wanted = sorted({skill for _, _, after in self.skills for skill, _ in after})
        skill_ids: dict[str, int] = {}
        for start in range(0, len(wanted), KEY_CHUNK):
            query = Skill.filter(tenant_id=run.tenant_id, code__in=wanted[start : start + KEY_CHUNK])
            skill_ids.update(await query.using_db(connection).values_list("code", "id"))
        rows = [
            (run.tenant_id, self.ids[code], skill_ids[skill], level, at, at)
            for code, _, after in self.skills
            for skill, level in after
        ]
        names = {"tenant_id": "int", "course_id": "int", "skill_id": "int", "target_level": "int", **STAMPS}
        await insert_many(connection, "course_skill", names, rows)
        for code, before, after in self.skills:
            levels = sorted((skill_ids[skill], level) for skill, level in after)
            run.audit(
                "import.course.skills",
                "Course",
                self.ids[code],
                {"skills": [{"skillId": s, "targetLevel": level} for s, level in sorted(before)]},
                {"skills": [{"skillId": s, "targetLevel": level} for s, level in levels]},
            )

    def _audit(self, module_ids: dict[tuple[str, int], int]) -> None:
        run = self.run
        for course in self.created:
            run.audit("import.course.create", "Course", self.ids[course["code"]], None, _course_snapshot(course))
        for before, after in self.updated:
            action = (
                "import.course.update" if before["status"] == after["status"] else f"import.{ACTIONS[after['status']]}"
            )
            run.audit(action, "Course", before["id"], _course_snapshot(before), _course_snapshot(after))
        for code, position, values in self.new_modules:
            module = CourseModule(course_id=self.ids[code], position=position, **values)
            run.audit(
                "import.module.create", "CourseModule", module_ids[(code, position)], None, module_snapshot(module)
            )
        for before, after in self.changed_modules:
            run.audit(
                "import.module.update",
                "CourseModule",
                before["id"],
                module_snapshot(CourseModule(**before)),
                module_snapshot(CourseModule(**after)),
            )

    async def _touch(self, module_ids: dict[tuple[str, int], int]) -> None:
        """The feed marks of createCourse, updateCourse, addModule, updateModule and setCourseStatus."""
        run, changes = self.run, self.run.changes
        for course in self.created:
            changes.touch(Entity.COURSE, self.ids[course["code"]])
        for before, _ in self.updated:
            changes.touch(Entity.COURSE, before["id"])
        touch_modules(changes, [(module_ids[(code, p)], values["kind"]) for code, p, values in self.new_modules])
        touch_modules(changes, [(b["id"], kind) for b, a in self.changed_modules for kind in (b["kind"], a["kind"])])
        counted = [b["id"] for b, a in self.changed_modules if _counted(b) != _counted(a)]
        for start in range(0, len(counted), KEY_CHUNK):
            progress = ModuleProgress.filter(tenant_id=run.tenant_id, module_id__in=counted[start : start + KEY_CHUNK])
            for module_id, employee_id in await progress.using_db(run.connection).values_list(
                "module_id", "employee_id"
            ):
                changes.touch(Entity.MODULE_PROGRESS, module_id, audience=employee_id)
        await _touch_status(
            run, [before["id"] for before, after in self.updated if before["status"] != after["status"]]
        )

    async def prerequisites(self) -> None:
        """Write the prerequisites the file changed (every course of it is there by now), audited
        and marked as setCoursePrerequisites does; a cycle made meanwhile by another change fails
        the job (nothing written)."""
        run = self.run
        needs: dict[str, tuple[list[int], tuple[str, ...]]] = run.notes.get(NEEDS, {})
        if not run.write or not needs:
            return
        connection, tenant_id = run.connection, run.tenant_id
        if await cyclic_courses(connection, tenant_id, {code: after for code, (_, after) in needs.items()}):
            raise DomainError(
                ErrorCode.WOULD_CREATE_CYCLE, field="prerequisites", what_key="subject.course_prerequisites"
            )
        named = sorted({code for _, after in needs.values() for code in after} - set(self.ids))
        ids = {**self.ids, **await course_ids(connection, tenant_id, named)}
        written = [self.ids[code] for code in needs]
        for start in range(0, len(written), KEY_CHUNK):
            chunk = written[start : start + KEY_CHUNK]
            await CoursePrerequisite.filter(course_id__in=chunk).using_db(connection).delete()
        at = db_time(connection, run.now)
        rows = [(tenant_id, ids[code], ids[needed], at, at) for code, (_, after) in needs.items() for needed in after]
        names = {"tenant_id": "int", "course_id": "int", "required_course_id": "int", **STAMPS}
        await insert_many(connection, "course_prerequisite", names, rows)
        for code, (before, after) in needs.items():
            run.audit(
                "import.course.prerequisites",
                "Course",
                ids[code],
                {"requiredCourseIds": sorted(before)},
                {"requiredCourseIds": sorted(ids[needed] for needed in after)},
            )
        await run.flush()
        for start in range(0, len(written), KEY_CHUNK):  # who may take them changed: their quizzes
            quizzes = CourseModule.filter(course_id__in=written[start : start + KEY_CHUNK], kind=ModuleKind.QUIZ)
            for module_id in await quizzes.using_db(connection).values_list("id", flat=True):
                run.changes.touch(Entity.QUIZ, module_id)

    async def retire_replaced(self) -> None:
        """Publishing a new version retires the version it replaces (counted as updated and
        audited, as publishCourse does), unless the file itself said what becomes of that one."""
        run = self.run
        replaced = sorted(set(run.notes.get(REPLACED, ())) - set(self.ids.values()))
        if not replaced:
            return
        query = Course.filter(tenant_id=run.tenant_id, id__in=replaced, status=CourseStatus.PUBLISHED)
        if run.write:
            query = query.select_for_update(no_key=True)
        found = [_course(course) for course in await values_of(query.using_db(run.connection), *COURSE_READ)]
        run.counts.updated += len(found)
        if not run.write or not found:
            return
        retired = [(course["id"], {"status": CourseStatus.RETIRED.value}) for course in found]
        await update_by_id(run.connection, "course", {"status": "text"}, retired, run.now)
        for course in found:
            after = {**course, "status": CourseStatus.RETIRED}
            run.audit("import.course.retire", "Course", course["id"], _course_snapshot(course), _course_snapshot(after))
        await run.flush()
        await _touch_status(run, [course["id"] for course in found])


def _counted(module: dict[str, Any]) -> tuple[Any, Any]:
    """What learners' progress rows show of their module."""
    return module["required_count"], module["is_required"]


async def _touch_status(run: WriteRun, course_ids: list[int]) -> None:
    """A status change: the course, its modules (and quizzes) and its sessions, which the feed
    shows or withholds by the course's status (as setCourseStatus marks them)."""
    for start in range(0, len(course_ids), KEY_CHUNK):
        chunk = course_ids[start : start + KEY_CHUNK]
        for course_id in chunk:
            run.changes.touch(Entity.COURSE, course_id)
            run.changes.touch(Entity.COURSE_CONTENT, course_id)  # its download manifest is seen with it
        modules = CourseModule.filter(course_id__in=chunk).using_db(run.connection)
        touch_modules(run.changes, await modules.values_list("id", "kind"))
        sessions = TrainingSession.filter(course_id__in=chunk).using_db(run.connection)
        for session_id in await sessions.values_list("id", flat=True):
            run.changes.touch(Entity.TRAINING_SESSION, session_id)
