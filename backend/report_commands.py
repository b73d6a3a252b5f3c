"""``xuefen report NAME``: a report written to an XLSX or CSV file from the server's command line,
with a progress bar and a one-line summary (backend/cli.py parses the arguments).

Who asks: the operator at the command line, with HR's powers in one company (like ``xuefen
import`` and ``content add``). Reports take a ``Viewer``, so the command builds one that is
nobody in particular: the role HR_ADMIN, an unsaved stand-in employee (no id, no org unit, so it
is nobody's manager, mentor or self) and no login. It therefore sees what any HR admin of the
company sees, and nothing that depends on being a particular person: the team report needs
``--manager``.

Codes and numbers are the company's own (org unit, site and course codes, employee numbers); the
quiz is its QUIZ module's id. Exit status: 0 written; 2 a usage error (unknown report or company,
a code that names nothing, a bad date); 1 the report refused or failed.
"""

from __future__ import annotations

import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from backend import db
from backend.config import Settings
from backend.errors import DomainError
from backend.i18n import translate
from backend.import_commands import _tenant as tenant_named  # the same rule: --tenant or the only one
from backend.models import Course, Employee, OrgUnit, Role, Site
from backend.services.imports.files import FileFormat
from backend.services.reports import exports
from backend.services.reports.frame import Dimension, Period, ReportFilter
from backend.services.reports.registry import REPORTS
from backend.services.reports.tables import ReportOptions
from backend.services.viewer import Viewer

CLI_DEVICE_UID = "cli"
_FLAGS = {"filter": "--from DAY --to DAY", "employee": "--employee NO", "quiz": "--quiz ID", "manager": "--manager NO"}


class _Usage(Exception):
    """A usage error: said on stderr, exit status 2."""


def operator(tenant_id: int) -> Viewer:
    """HR's powers in the company for the command line (see the module docstring)."""
    stand_in = Employee(tenant_id=tenant_id, employee_no="", name="xuefen report")
    return Viewer(tenant_id, stand_in, frozenset({Role.HR_ADMIN}), uuid.UUID(int=0), CLI_DEVICE_UID)


def _error(message: str) -> None:
    print(f"xuefen: {message}", file=sys.stderr)


async def _id_of(model: Any, tenant_id: int, what: str, locale: str, **key: str) -> int:
    found = await model.filter(tenant_id=tenant_id, **key).only("id").first()
    if found is None:
        raise _Usage(translate("report.cli.no_code", locale, what=what, code=next(iter(key.values()))))
    return int(found.id)


def _day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _Usage(f"{flag} {value}: expected a day as YYYY-MM-DD") from None


async def _options(args: Any, tenant_id: int, locale: str) -> ReportOptions:
    """The options the arguments ask for, codes turned into the company's ids."""
    report_filter = None
    narrowed = any(
        getattr(args, name) is not None
        for name in ("org_unit", "site", "course", "scenario", "position_family", "position_level")
    )
    if args.from_day or args.to_day or narrowed:
        if not (args.from_day and args.to_day):
            raise _Usage("give the period: --from DAY --to DAY")
        report_filter = ReportFilter(
            period=Period.of(_day(args.from_day, "--from"), _day(args.to_day, "--to")),
            org_unit_id=await _id_of(OrgUnit, tenant_id, "org unit", locale, code=args.org_unit)
            if args.org_unit
            else None,
            site_id=await _id_of(Site, tenant_id, "site", locale, code=args.site) if args.site else None,
            course_id=await _id_of(Course, tenant_id, "course", locale, code=args.course) if args.course else None,
            scenario=args.scenario,
            position_family=args.position_family,
            position_level=args.position_level,
        )
    employee = (
        await _id_of(Employee, tenant_id, "employee", locale, employee_no=args.employee) if args.employee else None
    )
    manager = await _id_of(Employee, tenant_id, "employee", locale, employee_no=args.manager) if args.manager else None
    return ReportOptions(
        filter=report_filter,
        breakdown=Dimension(args.by) if args.by else None,
        employee_id=employee,
        quiz_id=args.quiz,
        manager_id=manager,
    )


def _given(options: ReportOptions, option: str) -> bool:
    value = {
        "filter": options.filter,
        "employee": options.employee_id,
        "quiz": options.quiz_id,
        "manager": options.manager_id,
    }.get(option)
    return value is not None


def _bar() -> Progress:
    """The progress bar on stderr (off when stderr is not a terminal)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
    )


async def report(settings: Settings, args: Any, locale: str) -> int:
    """``xuefen report NAME --output FILE``: 0 written, 1 refused or failed, 2 a usage error."""
    entry = REPORTS.get(args.name)
    if entry is None:
        _error(translate("report.cli.no_report", locale, name=args.name, names=", ".join(REPORTS)))
        return 2
    if args.name == "team" and args.manager is None:
        _error("the team report needs --manager EMPLOYEE_NO (the command line is nobody's manager)")
        return 2
    fmt = FileFormat(args.format)
    output = Path(args.output)
    await db.init_db(settings)
    try:
        tenant = await tenant_named(args.tenant, locale)
        if tenant is None:
            return 2
        try:
            options = await _options(args, tenant.id, locale)
        except _Usage as usage:
            _error(str(usage))
            return 2
        except DomainError as error:  # a period out of bounds
            _error(error.message(locale))
            return 2
        missing = [_FLAGS[option] for option in sorted(entry.required) if not _given(options, option)]
        if missing:
            _error(f"the {entry.name} report needs {', '.join(missing)}")
            return 2
        progress = _bar()
        task = progress.add_task(translate("report.cli.writing", locale), total=None)
        try:
            _, table = await exports.report_table(operator(tenant.id), entry.name, options)
            with progress:
                count = await exports.write_report(
                    table,
                    output,
                    fmt,
                    locale,
                    lambda done, total: progress.update(task, completed=done, total=total),
                )
        except DomainError as error:
            _error(f"{error.field}: {error.message(locale)}" if error.field else error.message(locale))
            return 1
    finally:
        await db.close_db()
    print(translate("report.cli.written", locale, title=entry.title(locale), count=count, path=output))
    return 0
