"""What an import of history shares across its employees' batches (history_kind applies them):
the catalog it names (read once for the whole import), each employee's standing (read once per
call of ``ingest_history``), and the skill evidence the batches decide, written once per call.
"""

from __future__ import annotations

import asyncio
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.queryset import QuerySet

from backend.models import CourseModule, CourseSkill, EmployeeSkill, ModuleKind, ModuleProgress, Quiz
from backend.services.feed import EVERYONE, ChangeSet, Entity
from backend.services.ojt import skills
from backend.services.records.handler import ApplyContext
from backend.sql import db_time, db_uuid, insert_many

PASSABLE = (ModuleKind.QUIZ, ModuleKind.ASSESSMENT)
ID_CHUNK = 1000  # ids per IN (…)


@dataclass
class HistoryCatalog:
    """The modules an import names (with their course), their quizzes and their courses' skills:
    read once, for as many calls of ``ingest_history`` as an import makes."""

    modules: dict[int, CourseModule] = field(default_factory=dict)  # with their course
    quizzes: dict[int, Quiz] = field(default_factory=dict)  # by module id
    skills: dict[int, list[tuple[int, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # course -> (skill, target)
    _courses: set[int] = field(default_factory=set)  # whose skills were read
    _loading: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def load(self, connection: BaseDBAsyncClient, tenant_id: int, module_ids: set[int]) -> None:
        """Read the modules of ``module_ids`` not read yet (any other id stays missing). Calls
        running at once for one import (ingest_history's callers may overlap them) wait for each
        other: a module is in the catalog only with its quiz and its course's skills."""
        async with self._loading:
            await self._load(connection, tenant_id, module_ids)

    async def _load(self, connection: BaseDBAsyncClient, tenant_id: int, module_ids: set[int]) -> None:
        wanted = sorted(module_ids - set(self.modules))
        fresh: list[CourseModule] = []
        for start in range(0, len(wanted), ID_CHUNK):
            for module in (
                await CourseModule.filter(tenant_id=tenant_id, id__in=wanted[start : start + ID_CHUNK])
                .select_related("course")
                .using_db(connection)
            ):
                self.modules[module.id] = module
                fresh.append(module)
        passable = [m.id for m in fresh if m.kind in PASSABLE]
        for start in range(0, len(passable), ID_CHUNK):
            for quiz in await Quiz.filter(
                tenant_id=tenant_id, module_id__in=passable[start : start + ID_CHUNK]
            ).using_db(connection):
                quiz.module = self.modules[quiz.module_id]
                self.quizzes[quiz.module_id] = quiz
        course_ids = list({m.course_id for m in fresh} - self._courses)
        self._courses.update(course_ids)
        for start in range(0, len(course_ids), ID_CHUNK):
            for course_id, skill_id, target in (
                await CourseSkill.filter(tenant_id=tenant_id, course_id__in=course_ids[start : start + ID_CHUNK])
                .using_db(connection)
                .values_list("course_id", "skill_id", "target_level")
            ):
                self.skills[course_id].append((skill_id, target))


@dataclass
class HistoryJob:
    """What one call's batches need: the catalog, and each of its employees' standing, read
    once for the call in a few queries and kept current in memory as batches apply (an
    employee's history is applied by their batch alone)."""

    catalog: HistoryCatalog
    passed: set[tuple[int, int]]  # (employee, module): QUIZ / ASSESSMENT modules passed already
    levels: dict[tuple[int, int], int]  # (employee, skill) -> level
    # Skill evidence decided by the batches, written by ``write_evidence`` (nothing else reads it).
    evidence: list[tuple] = field(default_factory=list)
    raised: dict[tuple[int, int], int] = field(default_factory=dict)  # (employee, skill) -> new level

    @property
    def modules(self) -> dict[int, CourseModule]:
        return self.catalog.modules

    @property
    def quizzes(self) -> dict[int, Quiz]:
        return self.catalog.quizzes

    @property
    def skills(self) -> dict[int, list[tuple[int, int]]]:
        return self.catalog.skills

    @classmethod
    async def read(
        cls,
        connection: BaseDBAsyncClient,
        tenant_id: int,
        module_ids: set[int],
        employee_ids: list[int],
        catalog: HistoryCatalog | None = None,
    ) -> HistoryJob:
        catalog = catalog or HistoryCatalog()
        await catalog.load(connection, tenant_id, module_ids)
        job = cls(catalog, set(), {})
        passable = [m for m in module_ids if m in catalog.modules and catalog.modules[m].kind in PASSABLE]
        skill_ids = list(
            {
                skill_id
                for m in module_ids
                if m in catalog.modules
                for skill_id, _ in catalog.skills.get(catalog.modules[m].course_id, [])
            }
        )
        for start in range(0, len(employee_ids), ID_CHUNK):
            chunk = employee_ids[start : start + ID_CHUNK]
            if passable:
                # On these kinds progress only ever comes from a first pass (a quiz passed, an
                # assessment at its bar), so progress there means "passed before".
                job.passed.update(
                    await _by_employee(
                        connection,
                        ModuleProgress.filter(tenant_id=tenant_id, module_id__in=passable, completed_count__gt=0),
                        "SELECT module_id FROM module_progress WHERE tenant_id = $2 AND employee_id = e.id"
                        " AND module_id = ANY($3::int[]) AND completed_count > 0",
                        [tenant_id, passable],
                        chunk,
                        "module_id",
                    )
                )
            if skill_ids:
                for employee_id, skill_id, level in await _by_employee(
                    connection,
                    EmployeeSkill.filter(tenant_id=tenant_id, skill_id__in=skill_ids),
                    "SELECT skill_id, level FROM employee_skill WHERE tenant_id = $2 AND employee_id = e.id"
                    " AND skill_id = ANY($3::int[])",
                    [tenant_id, skill_ids],
                    chunk,
                    "skill_id",
                    "level",
                ):
                    job.levels[(employee_id, skill_id)] = level
        return job


async def _by_employee(
    connection: BaseDBAsyncClient,
    query: QuerySet,
    lateral: str,
    params: list,
    employee_ids: list[int],
    *columns: str,
) -> list[tuple]:
    """(employee id, *columns) of the rows of ``query`` of these employees. On PostgreSQL each
    employee is looked up by their own index entries (``lateral``, with ``$1`` the employees):
    an import grows these tables in its transaction, without statistics, and a plan guessed from
    none could read every row the import wrote for each chunk of employees."""
    if connection.capabilities.dialect != "postgres":
        rows = (
            await query.filter(employee_id__in=employee_ids).using_db(connection).values_list("employee_id", *columns)
        )
        return [tuple(row) for row in rows]
    found = await connection.execute_query_dict(
        f"SELECT e.id AS employee_id, x.* FROM unnest($1::int[]) AS e(id) CROSS JOIN LATERAL ({lateral}) AS x",
        [employee_ids, *params],
    )
    return [(row["employee_id"], *(row[column] for column in columns)) for row in found]


@dataclass(kw_only=True)
class HistoryContext(ApplyContext):
    """One employee's batch of an import: a unit of work on the import device, sharing the job."""

    job: HistoryJob


@dataclass(frozen=True)
class Evidence:
    """A score that is skill evidence: of which module, as which live source, of which record."""

    module: CourseModule
    source_kind: str
    record_id: UUID
    percent: int
    occurred_at: datetime


def note_evidence(context: ApplyContext, job: HistoryJob, evidence: list[Evidence]) -> None:
    """``skills.record_evidence`` for a batch: each result raises the levels in its course's skills
    by ``skills.demonstrated_level``, never lowering one, and is kept as evidence of the record
    (QUIZ_ATTEMPT or MENTOR_EVALUATION, the live sources, keyed by the record id). Levels are
    decided now (in time order); the import writes every batch's evidence at its end, in two
    statements (``write_evidence``)."""
    employee_id = context.viewer.employee_id
    for item in sorted(evidence, key=lambda e: e.occurred_at):
        for skill_id, target in job.skills.get(item.module.course_id, []):
            before = job.levels.get((employee_id, skill_id), 0)
            after = max(before, skills.demonstrated_level(target, item.percent))
            job.evidence.append((employee_id, skill_id, item, before, after))
            if after > before:
                job.levels[(employee_id, skill_id)] = job.raised[(employee_id, skill_id)] = after


async def write_evidence(
    connection: BaseDBAsyncClient, tenant_id: int, job: HistoryJob, changes: ChangeSet, now: datetime
) -> None:
    """Write the skill evidence and raised levels the batches decided (and mark the levels for the
    employees' phones)."""
    stamp = db_time(connection, now)
    # Every result here is a new record (a record id is never applied twice), so its evidence is new.
    await insert_many(
        connection,
        "skill_evidence",
        _EVIDENCE_COLUMNS,
        [
            (
                tenant_id,
                employee_id,
                skill_id,
                item.source_kind,
                str(item.record_id),
                db_uuid(connection, item.record_id),
                item.module.id,
                item.percent,
                before,
                after,
                db_time(connection, item.occurred_at),
                stamp,
                stamp,
            )
            for employee_id, skill_id, item, before, after in job.evidence
        ],
        on_conflict="ON CONFLICT (employee_id, skill_id, source_kind, source_id) DO NOTHING",
    )
    await insert_many(
        connection,
        "employee_skill",
        _LEVEL_COLUMNS,
        [(tenant_id, employee, skill, level, stamp, stamp) for (employee, skill), level in sorted(job.raised.items())],
        # Monotone in the database too: a concurrent higher level is never overwritten.
        on_conflict="ON CONFLICT (employee_id, skill_id) DO UPDATE SET level = CASE WHEN"
        " employee_skill.level < excluded.level THEN excluded.level ELSE employee_skill.level END,"
        " updated_at = excluded.updated_at",
    )
    for employee_id, skill_id in job.raised:
        changes.touch(Entity.SKILL_LEVEL, skill_id, audience=employee_id)
    job.evidence.clear()
    job.raised.clear()


_EVIDENCE_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "skill_id": "int",
    "source_kind": "text",
    "source_id": "text",
    "record_id": "uuid",
    "module_id": "int",
    "score_percent": "smallint",
    "level_before": "smallint",
    "level_after": "smallint",
    "occurred_at": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}
_LEVEL_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "skill_id": "int",
    "level": "smallint",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


# --- what a large import keeps out of memory ---------------------------------------------------


class Staging:
    """An import's good history rows in a temporary table of its transaction (dropped with it, or
    by ``drop``), read back whole employees at a time in time order: each employee's history is
    applied as it happened, whatever order the file is in."""

    COLUMNS = {
        "row_no": "int",
        "employee_id": "int",
        "module_id": "int",
        "activity": "text",
        "occurred_at": "timestamptz",
        "score": "smallint",
        "count": "smallint",
        "source": "text",
    }

    def __init__(self, connection: BaseDBAsyncClient, job_id: int) -> None:
        self.connection, self.table, self.created = connection, f"history_staging_{int(job_id)}", False
        self.postgres = connection.capabilities.dialect == "postgres"

    async def add(self, rows: list[tuple]) -> None:
        """Stage rows of COLUMNS' values (creating the table on the first call)."""
        if not self.created:
            columns = ", ".join(f"{name} {kind}" for name, kind in self.COLUMNS.items())
            commit = " ON COMMIT DROP" if self.postgres else ""
            await self.connection.execute_query(f"CREATE TEMPORARY TABLE {self.table} ({columns}){commit}")
            self.created = True
        at = list(self.COLUMNS).index("occurred_at")
        await insert_many(
            self.connection,
            self.table,
            self.COLUMNS,
            [(*row[:at], db_time(self.connection, row[at]), *row[at + 1 :]) for row in rows],
        )

    async def groups(self, rows_per_group: int) -> list[tuple[int, int]]:
        """(first, last employee id) of runs of whole employees of about ``rows_per_group`` rows."""
        await self.connection.execute_query(f"CREATE INDEX {self.table}_employee ON {self.table} (employee_id)")
        counts = await self.connection.execute_query_dict(
            f"SELECT employee_id, COUNT(*) AS n FROM {self.table} GROUP BY employee_id ORDER BY employee_id"
        )
        groups: list[tuple[int, int]] = []
        first, size = None, 0
        for row in counts:
            first = row["employee_id"] if first is None else first
            size += row["n"]
            if size >= rows_per_group:
                groups.append((first, row["employee_id"]))
                first, size = None, 0
        if first is not None:
            groups.append((first, counts[-1]["employee_id"]))
        return groups

    async def rows(self, first: int, last: int) -> list[tuple]:
        """The staged rows of employees ``first``…``last``, each employee's in time, then file, order."""
        found = await self.connection.execute_query_dict(
            f"SELECT {', '.join(self.COLUMNS)} FROM {self.table} WHERE employee_id BETWEEN {_mark(self, 1)} AND"
            f" {_mark(self, 2)} ORDER BY employee_id, occurred_at, row_no",
            [first, last],
        )
        return [
            tuple(
                datetime.fromisoformat(row[name]) if name == "occurred_at" and isinstance(row[name], str) else row[name]
                for name in self.COLUMNS
            )
            for row in found
        ]

    async def drop(self) -> None:
        if self.created:
            await self.connection.execute_query(f"DROP TABLE {self.table}")
            self.created = False


def _mark(staging: Staging, index: int) -> str:
    return f"${index}" if staging.postgres else "?"


class CompactChanges(ChangeSet):
    """Feed marks of a large import: marks by a whole-number id are kept in arrays (a few bytes
    each, not an object each) and published in slices, as the last steps of the transaction.
    A row marked twice gets the later number (the feed keeps the latest change of a row)."""

    SLICE = 50_000

    def __init__(self, tenant_id: int) -> None:
        super().__init__(tenant_id)
        self._marks: dict[Entity, tuple[array, array]] = {}

    def touch(self, entity: Entity, entity_id: object, audience: int = EVERYONE, deleted: bool = False) -> None:
        if isinstance(entity_id, int) and not deleted:
            ids, audiences = self._marks.setdefault(entity, (array("q"), array("q")))
            ids.append(entity_id)
            audiences.append(audience)
        else:
            super().touch(entity, entity_id, audience, deleted)

    def __len__(self) -> int:
        return super().__len__() + sum(len(ids) for ids, _ in self._marks.values())

    async def publish(self, connection: BaseDBAsyncClient, now: datetime | None = None) -> int:
        last = 0
        for entity, (ids, audiences) in self._marks.items():
            for start in range(0, len(ids), self.SLICE):
                piece = ChangeSet(self.tenant_id)
                for entity_id, audience in zip(ids[start : start + self.SLICE], audiences[start : start + self.SLICE]):
                    piece.touch(entity, entity_id, audience=audience)
                last = max(last, await piece.publish(connection, now))
        self._marks.clear()
        return max(last, await super().publish(connection, now))
