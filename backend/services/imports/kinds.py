"""What an import kind is, and the common kind of most master data: rows upserted by their code.

A kind (``ImportKind``) declares its columns and natural key and knows how to

- ``parse`` one row's cells into checked values, with the services' own pure checks (a refusal
  becomes a problem on the column it names);
- note what the file as a whole must agree on (``references`` to other rows or kinds, ``note`` and
  ``check_file`` for its own rules: cycles, one headquarters, …);
- ``apply`` a chunk of good rows: plan each against the company's rows (created, updated or
  unchanged) and, when the run writes, write them in bulk with their audit entries and feed marks;
- ``export_rows``: the company's rows in the same columns, so export → import changes nothing.

``CodeKeyedKind`` does all of that for a table keyed by ``(tenant, code)``; a kind of that shape
declares its model, columns and how a row becomes column values. Kinds are listed in
``registry.KINDS``; adding one is a module and a line there.

Data standards (POSITION_CODE, EMPLOYEE_NO, COURSE_CODE) apply to new codes only, as in the API: a
code that predates the standard stays valid. A key is new or not only once the company is asked,
so a kind with a standard does not check it in ``parse``: it names the subject in its ``standard``
class attribute, parses with ``without_standard(context.standards, subject)`` (the service's own
pure check, the standard left out), and ``CodeKeyedKind.check_file`` checks the standard on the
keys the company does not have (the refusal lands on the key column of the key's first row).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, Generic, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from backend.errors import DomainError
from backend.models import DataStandardSubject
from backend.services.feed import ChangeSet
from backend.services.imports.bulk import insert_audit, update_by_id
from backend.services.imports.files import WriteCell
from backend.services.imports.problems import Problems, from_error
from backend.services.imports.rows import Cells, Column, Header
from backend.services.people.standards import Standards
from backend.sql import db_time, insert_many, values_of

RowT = TypeVar("RowT")

KEY_CHUNK = 1000  # keys per IN (…) lookup
_EXISTING = "existing codes"  # CodeKeyedKind's note: the file's codes the company already has


@dataclass(frozen=True)
class JobContext:
    """What a kind may know of the company and the job, read once per job."""

    tenant_id: int
    job_id: int
    actor_id: int | None  # the HR admin who started it; None from the CLI
    via: str  # "cli" or "graphql", named in the audit entries
    time_zone: str  # the company's (a site without one gets it)
    today: date  # the company's today (dates after it are FUTURE_DATE where only the past makes sense)
    standards: Standards
    locale: str


@dataclass(frozen=True)
class _WithoutStandard(Standards):
    """The company's standards but one, which accepts any code."""

    skipped: DataStandardSubject | None = None

    def check(self, subject: DataStandardSubject, code: str, field: str) -> str:
        return code if subject is self.skipped else super().check(subject, code, field)


def without_standard(standards: Standards, subject: DataStandardSubject) -> Standards:
    """The company's standards with ``subject`` accepting any code: what ``parse`` checks rows with,
    so the service's pure check judges everything but the standard, which is only for new codes
    (``CodeKeyedKind.standard``, checked in ``check_file``)."""
    return _WithoutStandard(standards.by_subject, subject)


@dataclass(frozen=True)
class Reference:
    """A row naming another row by its natural key: ``column`` (key) names ``key`` of ``kind``."""

    column: str
    kind: str
    key: str


@dataclass
class CheckedFile:
    """What the check pass learnt of the file, for the checks of the file as a whole."""

    header: Header
    problems: Problems
    keys: dict[str, int] = field(default_factory=dict)  # natural key → the first row with it
    references: list[tuple[int, Reference]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)  # the kind's own, for the whole job (WriteRun.notes)
    rows: int = 0  # data rows read
    # Each data row parsed (None: refused), kept for the write pass while the file has at most the
    # kind's ``kept_rows``; None once it has more (the write pass reads the file again).
    parsed: list[tuple[int, Any]] | None = field(default_factory=list)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class WriteRun:
    """The plan-and-write pass of one job. With ``write`` false (a dry run, or problems without
    ``partial``) kinds only plan and count; otherwise everything goes through ``connection``, the
    job's one transaction, and the audit entries and feed marks are flushed at its end."""

    def __init__(
        self, connection: BaseDBAsyncClient, context: JobContext, write: bool, now: datetime, notes: dict[str, Any]
    ) -> None:
        self.connection = connection
        self.context = context
        self.write = write
        self.now = now
        self.counts = Counts()
        self.changes = ChangeSet(context.tenant_id)
        self.notes = notes  # the kind's own, from the check pass on (CheckedFile.notes)
        self._audits: list[tuple[str, str, object, dict[str, Any]]] = []

    @property
    def tenant_id(self) -> int:
        return self.context.tenant_id

    def audit(self, action: str, entity: str, entity_id: object, before: Any, after: Any) -> None:
        """An audit entry with the row before and after, naming the job and where it came from."""
        details = {"before": before, "after": after, "importJob": self.context.job_id, "via": self.context.via}
        self._audits.append((action, entity, entity_id, details))

    async def flush(self) -> None:
        """Write the audit entries collected so far (one statement)."""
        if self._audits:
            await insert_audit(self.connection, self.tenant_id, self.context.actor_id, self._audits, self.now)
            self._audits.clear()


class ImportKind(ABC, Generic[RowT]):
    """One kind of file (see the module docstring). Instances hold no state of a job: several
    jobs may run at once."""

    name: ClassVar[str]  # as the CLI and the API name it: "skills"
    title_zh: ClassVar[str]
    title_en: ClassVar[str]
    entity: ClassVar[str]  # audit entity, and the action import.<entity lower>.create / .update
    columns: ClassVar[tuple[Column, ...]]
    key_column: ClassVar[str]  # the column whose text is the natural key
    chunk_size: ClassVar[int] = 1000
    # A file of at most this many data rows is read once: the check keeps its parsed rows for the
    # write pass (master data: a few MB). A larger one is streamed twice, never held.
    kept_rows: ClassVar[int] = 100_000

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_zh

    @abstractmethod
    def parse(self, cells: Cells, context: JobContext) -> RowT:
        """One row's values, checked. Raise the service's DomainError, or call ``cells.check()``
        after the typed reads (RowRefused)."""

    @abstractmethod
    def key(self, row: RowT) -> str:
        """The row's natural key (its code, an employee number)."""

    def references(self, row: RowT) -> Iterable[Reference]:
        """The rows (of this file or the company) this row names; unknown ones are problems."""
        return ()

    def note(self, checked: CheckedFile, number: int, row: RowT) -> None:
        """Remember what ``check_file`` needs of a good row (in ``checked.notes``)."""
        return None

    async def check_file(self, checked: CheckedFile, context: JobContext) -> None:
        """Problems of the file as a whole (cycles, one headquarters, …), added to
        ``checked.problems``. May read the database."""
        return None

    @abstractmethod
    async def known_keys(self, tenant_id: int, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` the company has (for references to this kind)."""

    @abstractmethod
    async def apply(self, run: WriteRun, rows: Sequence[tuple[int, RowT]]) -> None:
        """Plan a chunk of good rows (``run.counts``) and, if ``run.write``, write them."""

    async def finish(self, run: WriteRun) -> None:
        """After the last chunk, still in the job's transaction (e.g. rules spanning chunks)."""
        return None

    @abstractmethod
    def export_rows(self, tenant_id: int) -> AsyncIterator[dict[str, WriteCell]]:
        """The company's rows as cells by column key, in the natural key's order."""


class CodeKeyedKind(ImportKind[RowT]):
    """A kind whose rows are one table's rows keyed by ``(tenant, code)``."""

    key_column = "code"
    model: ClassVar[type[Model]]
    table: ClassVar[str]
    db_columns: ClassVar[dict[str, str]]  # written columns (code first) → PostgreSQL type
    # The data standard the codes follow, checked on the codes the company does not have yet.
    standard: ClassVar[DataStandardSubject | None] = None

    @abstractmethod
    def values(self, row: RowT) -> dict[str, Any]:
        """The row's column values (every name of ``db_columns``)."""

    @abstractmethod
    def snapshot(self, values: dict[str, Any]) -> dict[str, Any]:
        """The audited shape of a row's values (as the service's own writes audit it)."""

    @abstractmethod
    def export_cells(self, values: dict[str, Any]) -> dict[str, WriteCell]:
        """A stored row (its ``db_columns``) as cells by column key."""

    def key(self, row: RowT) -> str:
        return str(self.values(row)["code"])

    async def changed(
        self, run: WriteRun, created: list[int], updated: list[tuple[int, dict[str, Any], dict[str, Any]]]
    ) -> None:
        """After a chunk is written: mark what phones must see again (``run.changes``)."""
        return None

    async def check_file(self, checked: CheckedFile, context: JobContext) -> None:
        # Which codes exist, asked before the writing transaction: inside it, on PostgreSQL, the
        # table grows faster than its statistics, and a lookup per chunk would scan every row the
        # job inserted before (a first import of 200,000 rows took minutes). New codes need none.
        existing = await self.known_keys(context.tenant_id, list(checked.keys))
        checked.notes[_EXISTING] = existing
        if self.standard is not None:
            self.check_standard(checked, context.standards, existing)

    def check_standard(self, checked: CheckedFile, standards: Standards, existing: set[str]) -> None:
        """The data standard on each key the company does not have (one that predates the
        standard stays valid, as in the API); a refusal is a problem on the key's first row."""
        if self.standard is None:
            return
        column = checked.header.column_name(self.key_column)
        field = next(c.field_name for c in self.columns if c.key == self.key_column)
        for key, number in checked.keys.items():
            if key in existing:
                continue
            try:
                standards.check(self.standard, key, field)
            except DomainError as error:
                checked.problems.add(from_error(number, column, error))

    async def known_keys(self, tenant_id: int, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = list(keys[start : start + KEY_CHUNK])
            codes = await self.model.filter(tenant_id=tenant_id, code__in=chunk).values_list("code", flat=True)
            found.update(str(code) for code in codes)
        return found

    async def apply(self, run: WriteRun, rows: Sequence[tuple[int, RowT]]) -> None:
        names = list(self.db_columns)
        planned = [self.values(row) for _, row in rows]
        known: set[str] | None = run.notes.get(_EXISTING)
        codes = [values["code"] for values in planned if known is None or values["code"] in known]
        existing: dict[str, dict[str, Any]] = {}
        if codes:
            query = self.model.filter(tenant_id=run.tenant_id, code__in=codes)
            if run.write:
                query = query.select_for_update(no_key=True)  # the rows' "before" stays true until the job commits
            existing = {found["code"]: found for found in await values_of(query.using_db(run.connection), "id", *names)}
        creates: list[dict[str, Any]] = []
        updates: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        for after in planned:
            found = existing.get(after["code"])
            if found is None:
                creates.append(after)
                continue
            before = {name: found[name] for name in names}
            if before == after:
                run.counts.unchanged += 1
            else:
                updates.append((found["id"], before, after))
        run.counts.created += len(creates)
        run.counts.updated += len(updates)
        if not run.write:
            return
        created_ids = await self._insert(run, creates)
        await update_by_id(
            run.connection, self.table, self.db_columns, [(i, after) for i, _, after in updates], run.now
        )
        action = f"import.{self.entity.lower()}"
        for row_id, after in zip(created_ids, creates):
            run.audit(f"{action}.create", self.entity, row_id, None, self.snapshot(after))
        for row_id, before, after in updates:
            run.audit(f"{action}.update", self.entity, row_id, self.snapshot(before), self.snapshot(after))
        await run.flush()
        await self.changed(run, created_ids, updates)

    async def _insert(self, run: WriteRun, creates: list[dict[str, Any]]) -> list[int]:
        """Insert new rows in one statement; their ids, in the order of ``creates``."""
        if not creates:
            return []
        at = db_time(run.connection, run.now)
        columns = {"tenant_id": "int", **self.db_columns, "created_at": "timestamptz", "updated_at": "timestamptz"}
        rows = [(run.tenant_id, *(values[name] for name in self.db_columns), at, at) for values in creates]
        inserted = await insert_many(run.connection, self.table, columns, rows, returning="id, code")
        ids = {found["code"]: found["id"] for found in inserted}
        return [ids[values["code"]] for values in creates]

    async def export_rows(self, tenant_id: int) -> AsyncIterator[dict[str, WriteCell]]:
        last: str | None = None
        while True:
            query = self.model.filter(tenant_id=tenant_id)
            if last is not None:
                query = query.filter(code__gt=last)
            page = await query.order_by("code").limit(KEY_CHUNK).values(*self.db_columns)
            for values in page:
                yield self.export_cells(values)
            if len(page) < KEY_CHUNK:
                return
            last = page[-1]["code"]
