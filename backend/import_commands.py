"""The ``xuefen import``, ``xuefen import template`` and ``xuefen export`` commands (backend/cli.py
parses their arguments): a job run in the terminal with a progress bar, its summary, the problems
as a table, and every problem in a CSV report on request.

Exit status: 0 when the file was written (``--partial`` included) or a dry run found no problem;
1 when there are problems and nothing was written (or the run failed); 2 for a usage error (unknown
kind or company) or a file that cannot be read.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import sys
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from backend import db
from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import translate
from backend.models import ImportJob, ImportStatus, Tenant
from backend.services.imports.exports import file_format, write_export, write_template
from backend.services.imports.files import sniff
from backend.services.imports.jobs import Observer, create_job, run_job
from backend.services.imports.problems import Problem
from backend.services.imports.registry import kind_named

SHOWN_PROBLEMS = 20  # printed; the rest are counted (and all go to --report)
GC_THRESHOLD = 10_000  # allocations between the collector's young runs while a job runs (CPython: 700)


def _error(message: str) -> None:
    print(f"xuefen: {message}", file=sys.stderr)


async def _tenant(code: str | None, locale: str) -> Tenant | None:
    """The company named by --tenant, or the only one there is; None (said on stderr) otherwise."""
    if code is not None:
        tenant = await Tenant.filter(code=code.strip().lower()).first()
        if tenant is None:
            _error(translate("import.cli.no_tenant", locale, code=code))
        return tenant
    tenants = await Tenant.all().limit(2)
    if len(tenants) != 1:
        _error(translate("import.cli.tenant_required", locale))
        return None
    return tenants[0]


class _Report:
    """Every problem, as found, in a CSV file (UTF-8 with BOM, for Excel)."""

    def __init__(self, path: Path, locale: str) -> None:
        self.locale = locale
        self.stream = path.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.stream)
        self.writer.writerow([translate(f"import.cli.{name}", locale) for name in ("row", "column", "code", "message")])

    def add(self, found: Problem) -> None:
        self.writer.writerow([found.row or "", found.column or "", found.code, found.message(self.locale)])

    def close(self) -> None:
        self.stream.close()


class _Bar:
    """The progress bar on stderr (rich; off when stderr is not a terminal)."""

    def __init__(self, locale: str) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not sys.stderr.isatty(),
        )
        self.labels = {
            "check": translate("import.cli.checking", locale),
            "write": translate("import.cli.writing", locale),
        }
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if self.progress.disable:
            return  # called for every row: nothing to draw, nothing to do
        if phase not in self.tasks:
            self.tasks[phase] = self.progress.add_task(self.labels.get(phase, phase), total=total)
        self.progress.update(self.tasks[phase], completed=done, total=total)


def _summary(job: ImportJob, kind_title: str, locale: str) -> None:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # a log or a pipe: fewer wrapped messages

    def t(key: str, **params: object) -> str:
        return translate(key, locale, **params)

    counts = {
        "kind": kind_title,
        "total": job.total_rows or 0,
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "skipped": job.skipped_count,
    }
    console.print(t("import.cli.counts", **counts))
    if job.status is ImportStatus.DONE:
        if job.dry_run:
            console.print(t("import.cli.dry_run"))
        else:
            console.print(t("import.cli.written", job=job.id) if job.written else t("import.cli.refused"))
        if job.problem_count == 0 and job.created_count + job.updated_count == 0:
            console.print(t("import.cli.no_change"))
    if not job.problem_count:
        return
    console.print(t("import.cli.problems", count=job.problem_count))
    table = Table(box=box.SIMPLE, show_edge=False)
    for name in ("row", "column", "code", "message"):
        table.add_column(t(f"import.cli.{name}"), overflow="fold")
    for item in job.problems[:SHOWN_PROBLEMS]:
        found = Problem.from_json(item)
        table.add_row(str(found.row or ""), found.column or "", found.code, found.message(locale))
    console.print(table)
    if job.problem_count > SHOWN_PROBLEMS:
        console.print(t("import.cli.more", count=job.problem_count - SHOWN_PROBLEMS))


def _exit_status(job: ImportJob) -> int:
    if job.status is ImportStatus.FAILED:
        return 2 if job.error_code == ErrorCode.IMPORT_FILE_UNREADABLE.value else 1
    if job.written or (job.dry_run and job.problem_count == 0):
        return 0
    return 1


async def import_file(settings: Settings, args: Any, locale: str) -> int:
    """``xuefen import KIND FILE``: run a job on a local file (actor: none; audit says "cli")."""
    try:
        kind = kind_named(args.kind)
    except DomainError as error:
        _error(error.message(locale))
        return 2
    path = Path(args.file)
    if not await asyncio.to_thread(path.is_file):
        _error(f"{path}: no such file")
        return 2
    try:
        sniff(path)  # before the database: a file that is no table needs none
    except DomainError as error:
        _error(error.message(locale))
        return 2
    await db.init_db(settings)
    report = _Report(args.report, locale) if args.report else None
    try:
        tenant = await _tenant(args.tenant, locale)
        if tenant is None:
            return 2
        try:
            job = await create_job(
                tenant.id, kind, path, path.name, dry_run=args.dry_run, partial=args.partial, actor_id=None
            )
        except DomainError as error:
            _error(error.message(locale))
            return 2
        bar = _Bar(locale)
        # A job keeps every row it checked: with CPython's default threshold the collector walks
        # them again and again (a seventh of the CPU time of 20,000 employees). Collect less often.
        thresholds = gc.get_threshold()
        gc.set_threshold(GC_THRESHOLD)
        try:
            with bar.progress:
                job = await run_job(
                    job, path, via="cli", locale=locale, observer=Observer(bar, report.add if report else None)
                )
        finally:
            gc.set_threshold(*thresholds)
    finally:
        if report:
            report.close()
        await db.close_db()
    _summary(job, kind.title(locale), locale)
    if report and job.problem_count:
        print(translate("import.cli.report", locale, path=args.report))
    return _exit_status(job)


def template(args: Any, locale: str) -> int:
    """``xuefen import template KIND``: the kind's empty file."""
    try:
        kind = kind_named(args.file)
        fmt = file_format(args.format)
    except DomainError as error:
        _error(error.message(locale))
        return 2
    output = Path(args.output or f"{kind.name}-template.{fmt.value}")
    write_template(kind, output, fmt, locale)
    print(translate("import.cli.template", locale, path=output))
    return 0


async def export(settings: Settings, args: Any, locale: str) -> int:
    """``xuefen export KIND``: the company's rows in the kind's columns."""
    try:
        kind = kind_named(args.kind)
        fmt = file_format(args.format)
    except DomainError as error:
        _error(error.message(locale))
        return 2
    await db.init_db(settings)
    try:
        tenant = await _tenant(args.tenant, locale)
        if tenant is None:
            return 2
        count = await write_export(kind, tenant.id, Path(args.output), fmt, locale)
    finally:
        await db.close_db()
    print(translate("import.cli.exported", locale, count=count, path=args.output))
    return 0
