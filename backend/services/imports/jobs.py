"""Running an import job: check the whole file, then plan it and (when allowed) write it in one
transaction. The CLI and the API's background task both run jobs through ``run_job``.

Two passes over the file, each streaming it (a large file is never in memory; one of at most the
kind's ``kept_rows`` rows is read once, its parsed rows kept for the second pass):

1. **Check.** Every row is parsed by its kind (the services' pure checks); the pass keeps only what
   the file as a whole must agree on: each natural key's first row (DUPLICATE_KEY), references to
   other rows (UNKNOWN_REFERENCE, looked up in the company in bulk afterwards), the kind's notes
   (cycles, one headquarters). Rows that name a row with problems have a problem too
   (DEPENDS_ON_BAD_ROW), so ``partial`` skips them with it.
2. **Plan and write.** The good rows again, in chunks: each planned against the company's rows
   (created, updated or unchanged) and, unless it is a dry run or there are problems without
   ``partial``, written in bulk with its audit entries, all in the job's one transaction, so
   nothing is ever half-written. The job row's final state is written in that same transaction.

Progress: while ``total_rows`` is null the file is being checked (``processed_rows`` rows so
far); then ``total_rows`` holds the file's data rows and ``processed_rows`` counts the second pass
up to it. The job row is updated every ``PROGRESS_EVERY`` rows from outside the writing
transaction (on SQLite, whose one writer is that transaction, only during the check).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import ImportJob, ImportStatus, Tenant
from backend.services.imports.files import read_table, sniff, unreadable
from backend.services.imports.kinds import CheckedFile, ImportKind, JobContext, WriteRun
from backend.services.imports.problems import Problem, ProblemCode, Problems, from_error, problem
from backend.services.imports.registry import KINDS
from backend.services.imports.rows import Cells, Header, RowRefused
from backend.services.imports.xlsx import Cell
from backend.services.people.standards import standards_of

log = logging.getLogger("xuefen.imports")

PROGRESS_EVERY = 2000  # rows between updates of the job row
YIELD_EVERY = 200  # rows between giving the event loop to other requests (the server runs jobs)
# A job that has not moved for this long belongs to a process that died (see stale_jobs_failed).
STALE_AFTER = timedelta(minutes=10)

Progress = Callable[[str, int, int | None], None]  # phase ("check" or "write"), rows done, rows in all


@dataclass
class Observer:
    """What the CLI watches: progress, and every problem as it is found (the job keeps 1,000)."""

    progress: Progress | None = None
    on_problem: Callable[[Problem], None] | None = None


class _Problems(Problems):
    def __init__(self, observer: Observer) -> None:
        super().__init__()
        self.observer = observer

    def add(self, found: Problem) -> None:
        super().add(found)
        if self.observer.on_problem:
            self.observer.on_problem(found)

    def add_file_problem(self, found: Problem) -> None:
        super().add_file_problem(found)
        if self.observer.on_problem:
            self.observer.on_problem(found)


async def create_job(
    tenant_id: int,
    kind: ImportKind[Any],
    path: Path,
    file_name: str,
    *,
    dry_run: bool,
    partial: bool,
    actor_id: int | None,
    storage_key: str = "",
) -> ImportJob:
    """A QUEUED job for a stored file; IMPORT_FILE_UNREADABLE at once when it is neither CSV nor
    XLSX (what the content says, not the name)."""
    file_format, _ = sniff(path)
    return await ImportJob.create(
        tenant_id=tenant_id,
        kind=kind.name,
        file_name=file_name[:200],
        file_format=file_format.value,
        storage_key=storage_key,
        dry_run=dry_run,
        partial=partial,
        created_by_id=actor_id,
    )


async def run_job(job: ImportJob, path: Path, *, via: str, locale: str, observer: Observer | None = None) -> ImportJob:
    """Run a QUEUED job on its file to DONE (checked; written when allowed) or FAILED (unreadable
    file, or an unexpected error: nothing written). Returns the job as it ended."""
    observer = observer or Observer()
    kind = KINDS[job.kind]
    problems = _Problems(observer)
    await _save(job, None, status=ImportStatus.RUNNING, started_at=datetime.now(UTC))
    try:
        context = await _context(job, via, locale)
        reporter = _Reporter(job, observer)
        checked = await _check(kind, path, context, problems, reporter)
        write = checked.header.complete and not job.dry_run and (not problems or job.partial)
        if write:
            reporter.writing = True
            async with in_transaction() as connection:
                run = WriteRun(connection, context, True, datetime.now(UTC), checked.notes)
                await _plan(kind, path, run, checked, reporter)
                await _finish(job, connection, run, checked, problems)
                await run.changes.publish(connection, run.now)  # last: feed numbers in commit order
        else:
            run = WriteRun(connections.get("default"), context, False, datetime.now(UTC), checked.notes)
            if checked.header.complete:
                await _plan(kind, path, run, checked, reporter)
            await _finish(job, None, run, checked, problems)
    except DomainError as error:  # IMPORT_FILE_UNREADABLE part-way (or a kind's own refusal of the file)
        await _failed(job, problems, from_error(None, None, error), error.code.value)
    except IntegrityError:  # another import or admin created the same code meanwhile
        await _failed(job, problems, problem(None, None, ProblemCode.CONCURRENT_CHANGE), ErrorCode.ALREADY_EXISTS.value)
    except Exception:
        log.exception("import job %s (%s) failed", job.id, job.kind)
        await _failed(job, problems, problem(None, None, ProblemCode.FAILED, job=job.id), ErrorCode.INTERNAL.value)
    return job


async def _context(job: ImportJob, via: str, locale: str) -> JobContext:
    tenant = await Tenant.get(id=job.tenant_id)
    return JobContext(
        tenant_id=tenant.id,
        job_id=job.id,
        actor_id=job.created_by_id,
        via=via,
        time_zone=tenant.time_zone,
        today=datetime.now(ZoneInfo(tenant.time_zone)).date(),
        standards=await standards_of(tenant.id),
        locale=locale,
    )


class _Reporter:
    """Progress to the observer at every call, to the job row every PROGRESS_EVERY rows."""

    def __init__(self, job: ImportJob, observer: Observer) -> None:
        self.job = job
        self.observer = observer
        self.saved_at = 0
        # The client as it is outside the job's transaction (made before it starts): progress
        # written through it is seen at once (from inside, nobody would see it before the commit,
        # and a long job would look dead to stale_jobs_failed). On SQLite the writing transaction
        # is the one writer: the job row waits for its end.
        self.outside = connections.get("default")
        self.sqlite = self.outside.capabilities.dialect != "postgres"
        self.writing = False

    async def __call__(self, phase: str, done: int, total: int | None) -> None:
        if self.observer.progress:
            self.observer.progress(phase, done, total)
        if done % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        if done - self.saved_at < PROGRESS_EVERY and done >= self.saved_at:
            return
        self.saved_at = done
        if not (self.writing and self.sqlite):
            await _save(self.job, self.outside, processed_rows=done, total_rows=total)


async def _check(
    kind: ImportKind[Any], path: Path, context: JobContext, problems: Problems, report: _Reporter
) -> CheckedFile:
    checked: CheckedFile | None = None
    with closing(read_table(path)) as rows:
        checked = await _check_rows(kind, rows, context, problems, report)
    if checked is None:
        raise unreadable("reason.import_empty")
    if checked.header.complete:
        await kind.check_file(checked, context)
        await _check_references(kind, checked, context)
    return checked


async def _check_rows(
    kind: ImportKind[Any],
    rows: Iterator[tuple[int, list[Cell]]],
    context: JobContext,
    problems: Problems,
    report: _Reporter,
) -> CheckedFile | None:
    checked: CheckedFile | None = None
    for number, values in rows:
        if checked is None:
            header = Header(kind.columns, number, values, context.locale)
            if not header.recognised:
                raise unreadable("reason.import_no_header", expected=", ".join(f"{c.zh}/{c.en}" for c in kind.columns))
            for found in header.problems:
                problems.add_file_problem(found)
            checked = CheckedFile(header, problems)
            if not header.complete:
                return checked  # without a required column no row can be read
            continue
        checked.rows += 1
        row = _check_row(kind, checked, checked.header.cells(number, values), context)
        if checked.parsed is not None:
            checked.parsed.append((number, row))
            if checked.rows > kind.kept_rows:
                checked.parsed = None  # too many to keep: the write pass reads the file again
        await report("check", checked.rows, None)
    return checked


def _parse(kind: ImportKind[Any], cells: Cells, context: JobContext, problems: Problems) -> Any:
    """The row's values, or None with its problems recorded."""
    try:
        row = kind.parse(cells, context)
        cells.check()
        return row
    except RowRefused:
        cells.record(problems)
    except DomainError as error:
        cells.record(problems)
        problems.add(cells.refusal(error))
    return None


def _check_row(kind: ImportKind[Any], checked: CheckedFile, cells: Cells, context: JobContext) -> Any:
    """The row's values (None: refused), its key, references and notes noted."""
    row = _parse(kind, cells, context, checked.problems)
    key = kind.key(row) if row is not None else cells.text(kind.key_column)
    first = checked.keys.get(key) if key is not None else None
    if key is not None and first is None:
        checked.keys[key] = cells.row  # a bad row's key too: rows naming it depend on it
    if row is None:
        return None
    if first is not None:
        column = checked.header.column_name(kind.key_column)
        checked.problems.add(problem(cells.row, column, ProblemCode.DUPLICATE_KEY, value=key, first_row=first))
        return row  # a bad row: the write pass skips it
    checked.references.extend((cells.row, reference) for reference in kind.references(row))
    kind.note(checked, cells.row, row)
    return row


async def _check_references(kind: ImportKind[Any], checked: CheckedFile, context: JobContext) -> None:
    """UNKNOWN_REFERENCE for keys neither in the file nor in the company; then DEPENDS_ON_BAD_ROW
    for rows naming a row with problems, until no more rows fall."""
    header, problems = checked.header, checked.problems

    def in_file(target: str, key: str) -> bool:
        return target == kind.name and key in checked.keys

    wanted: dict[str, set[str]] = {}
    for _, reference in checked.references:
        if not in_file(reference.kind, reference.key):
            wanted.setdefault(reference.kind, set()).add(reference.key)
    known = {name: await KINDS[name].known_keys(context.tenant_id, sorted(keys)) for name, keys in wanted.items()}
    for number, reference in checked.references:
        if not in_file(reference.kind, reference.key) and reference.key not in known[reference.kind]:
            column = header.column_name(reference.column)
            problems.add(problem(number, column, ProblemCode.UNKNOWN_REFERENCE, value=reference.key))
    falling = True
    while falling:
        falling = False
        for number, reference in checked.references:
            target = checked.keys.get(reference.key) if reference.kind == kind.name else None
            if number not in problems.bad_rows and target is not None and target in problems.bad_rows:
                column = header.column_name(reference.column)
                problems.add(
                    problem(number, column, ProblemCode.DEPENDS_ON_BAD_ROW, value=reference.key, first_row=target)
                )
                falling = True


def _parsed_rows(kind: ImportKind[Any], path: Path, run: WriteRun, checked: CheckedFile) -> Iterator[tuple[int, Any]]:
    """Each data row's values again: as the check kept them, or parsed once more from the file
    (rows with problems give None)."""
    if checked.parsed is not None:
        yield from checked.parsed
        return
    header, skip = checked.header, checked.problems.bad_rows
    with closing(read_table(path)) as rows:
        for number, values in rows:
            if number > header.row:
                yield number, None if number in skip else kind.parse(header.cells(number, values), run.context)


async def _plan(kind: ImportKind[Any], path: Path, run: WriteRun, checked: CheckedFile, report: _Reporter) -> None:
    skip = checked.problems.bad_rows
    chunk: list[tuple[int, Any]] = []
    for seen, (number, row) in enumerate(_parsed_rows(kind, path, run, checked), start=1):
        if number not in skip:
            chunk.append((number, row))
        if len(chunk) >= kind.chunk_size:
            await kind.apply(run, chunk)
            chunk = []
        await report("write", seen, checked.rows)
    if chunk:
        await kind.apply(run, chunk)
    await kind.finish(run)


async def _finish(
    job: ImportJob, connection: BaseDBAsyncClient | None, run: WriteRun, checked: CheckedFile, problems: Problems
) -> None:
    await _save(
        job,
        connection,
        status=ImportStatus.DONE,
        written=run.write,
        total_rows=checked.rows,
        processed_rows=checked.rows,
        created_count=run.counts.created,
        updated_count=run.counts.updated,
        unchanged_count=run.counts.unchanged,
        skipped_count=len(problems.bad_rows),
        problem_count=problems.count,
        problems=[found.to_json() for found in problems.sorted()],
        finished_at=datetime.now(UTC),
    )


async def _failed(job: ImportJob, problems: Problems, failure: Problem, error_code: str) -> None:
    """FAILED, nothing written: the reason first, then what the check had found."""
    found = problems.sorted()
    problems.add_file_problem(failure)
    await _save(
        job,
        None,
        status=ImportStatus.FAILED,
        written=False,
        error_code=error_code,
        problem_count=problems.count,
        problems=[failure.to_json(), *(earlier.to_json() for earlier in found)][: len(problems.kept)],
        finished_at=datetime.now(UTC),
    )


async def _save(job: ImportJob, connection: BaseDBAsyncClient | None, **changes: Any) -> None:
    """Update the job row (and the object) with ``changes``; updated_at marks it alive."""
    changes["updated_at"] = datetime.now(UTC)
    for name, value in changes.items():
        setattr(job, name, value)
    await ImportJob.filter(id=job.id).using_db(connection).update(**changes)


async def stale_jobs_failed(tenant_id: int | None = None, now: datetime | None = None) -> list[ImportJob]:
    """Mark FAILED (INTERRUPTED) the queued or running jobs that have not moved for STALE_AFTER:
    their process died (a running job updates its row at least every PROGRESS_EVERY rows).
    Returns them (their stored files are the caller's to remove)."""
    now = now or datetime.now(UTC)
    query = ImportJob.filter(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING], updated_at__lt=now - STALE_AFTER)
    if tenant_id is not None:
        query = query.filter(tenant_id=tenant_id)
    stale = await query
    interrupted = problem(None, None, ProblemCode.INTERRUPTED)
    for job in stale:
        # Still stale now (not picked up meanwhile): the condition is repeated in the update.
        updated = await ImportJob.filter(
            id=job.id, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING], updated_at__lt=now - STALE_AFTER
        ).update(
            status=ImportStatus.FAILED,
            error_code=ProblemCode.INTERRUPTED.value,
            written=False,
            problem_count=job.problem_count + 1,
            problems=[interrupted.to_json(), *job.problems][: len(job.problems) + 1],
            finished_at=now,
            updated_at=now,
        )
        if updated:
            job.status = ImportStatus.FAILED
    return [job for job in stale if job.status is ImportStatus.FAILED]
