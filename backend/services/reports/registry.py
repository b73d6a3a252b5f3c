"""Every report that can be exported as a file, by the name its URL and the CLI use.

``REPORTS`` is the explicit, complete list (tests/test_report_exports.py fails when a report module
has an ``export_…`` function not listed here, or a listed one is missing). Each entry says

- the report's titles (the file's name and sheet) in both languages;
- which options it reads (``ReportOptions``: the filter, a breakdown, an employee, a quiz, a
  manager); options it does not read are refused, so a link never claims more than it does;
- the roles that may ask for it at all, checked before any option is parsed (the report's own
  function then checks the rest: the subtree, the employee, the quiz);
- where its export function lives. Modules are imported when a report is run, not here: the
  registry stays cheap to import (the CLI, the app's routes) and free of import cycles.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from backend.errors import DomainError, ErrorCode
from backend.models import Role
from backend.services.reports.tables import ReportOptions, Table
from backend.services.viewer import Viewer

Option = Literal["filter", "breakdown", "employee", "quiz", "manager"]
ExportFunction = Callable[[Viewer, ReportOptions], Awaitable[Table]]

MANAGERS = (Role.HR_ADMIN, Role.MANAGER)
AUTHORS = (Role.HR_ADMIN, Role.INSTRUCTOR)
SIGNED_IN: tuple[Role, ...] = ()  # anyone signed in; the report decides (e.g. one's own profile)


@dataclass(frozen=True)
class ReportExport:
    """One exportable report (see the module docstring)."""

    name: str
    title_zh: str
    title_en: str
    options: frozenset[Option]
    required: frozenset[Option]
    roles: tuple[Role, ...]
    module: str
    function: str

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_zh

    def allows(self, viewer: Viewer) -> bool:
        return not self.roles or viewer.has_role(*self.roles)

    def require_role(self, viewer: Viewer) -> None:
        """FORBIDDEN unless the viewer holds one of the report's roles."""
        if not self.allows(viewer):
            raise DomainError(ErrorCode.FORBIDDEN)

    def check_options(self, options: ReportOptions) -> None:
        """VALIDATION when an option the report needs is missing or one it does not read is given."""
        given = {
            "filter": options.filter,
            "breakdown": options.breakdown,
            "employee": options.employee_id,
            "quiz": options.quiz_id,
            "manager": options.manager_id,
        }
        for option, value in given.items():
            if value is not None and option not in self.options:
                raise DomainError(ErrorCode.VALIDATION, field=option, reason_key="reason.report_option_unused")
            if value is None and option in self.required:
                raise DomainError(ErrorCode.VALIDATION, field=option, reason_key="reason.required")

    def export_function(self) -> ExportFunction:
        function: ExportFunction = getattr(importlib.import_module(self.module), self.function)
        return function

    async def table(self, viewer: Viewer, options: ReportOptions) -> Table:
        """The report's table for ``viewer``: roles first, then the options, then the report's own
        checks (which its export function makes before any row is read)."""
        self.require_role(viewer)
        self.check_options(options)
        return await self.export_function()(viewer, options)


def _report(
    name: str,
    title_zh: str,
    title_en: str,
    roles: tuple[Role, ...],
    options: tuple[Option, ...],
    required: tuple[Option, ...],
    module: str,
    function: str = "export_table",
) -> ReportExport:
    return ReportExport(
        name,
        title_zh,
        title_en,
        frozenset(options),
        frozenset(required),
        roles,
        f"backend.services.reports.{module}",
        function,
    )


_PERIOD: tuple[Option, ...] = ("filter",)

REPORTS: dict[str, ReportExport] = {
    r.name: r
    for r in (
        _report(
            "training-effect",
            "培训效果",
            "Training effect",
            MANAGERS,
            ("filter", "breakdown"),
            _PERIOD,
            "training_effect",
        ),
        _report(
            "credit-distribution", "学分分布", "Credit distribution", MANAGERS, _PERIOD, _PERIOD, "credit_distribution"
        ),
        # The state now (no period): the filter's org unit, site and position narrow it.
        _report("training-needs", "培训需求", "Training needs", MANAGERS, _PERIOD, (), "training_needs"),
        _report("instructors", "讲师", "Instructors", MANAGERS, _PERIOD, _PERIOD, "instructors", "export_instructors"),
        _report("mentors", "导师", "Mentors", MANAGERS, _PERIOD, _PERIOD, "instructors", "export_mentors"),
        _report("team", "团队概览", "Team view", MANAGERS, ("manager",), (), "team_view"),
        _report("quiz-items", "试题分析", "Quiz item analysis", AUTHORS, ("quiz", "filter"), ("quiz",), "quiz_items"),
        _report(
            "growth-profile",
            "成长档案",
            "Growth profile",
            SIGNED_IN,
            ("employee", "filter"),
            ("employee",),
            "growth_profile",
        ),
    )
}


def report_named(name: str) -> ReportExport:
    """The report called ``name``; NOT_FOUND for any other name."""
    report = REPORTS.get(name)
    if report is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="report")
    return report
