"""exportReport: a signed link downloading a report as XLSX or CSV. Thin: it parses the options
and calls backend.services.reports.exports.export_link, which checks the viewer may run the report
with them now."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry

from backend.services.imports.files import FileFormat
from backend.services.reports import exports
from backend.services.reports.registry import report_named
from backend.services.reports.tables import ReportOptions
from backend.services.viewer import Viewer
from schema.common import UserError
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.reports.inputs import ReportDimension, ReportFilterInput, dimension_of


@strawberry.enum(description="The reports that can be downloaded as a file, and who may ask for each.")
class ReportName(Enum):
    TRAINING_EFFECT = strawberry.enum_value(
        "training-effect", description="Training effect (HR admins; managers their subtree). Options: filter, by."
    )
    CREDIT_DISTRIBUTION = strawberry.enum_value(
        "credit-distribution", description="Credit distribution (HR admins; managers their subtree). Options: filter."
    )
    TRAINING_NEEDS = strawberry.enum_value(
        "training-needs",
        description="Training needs, the state now (HR admins; managers their subtree). Options: filter, optional: "
        "its org unit, site and position narrow the people; the period is not used.",
    )
    INSTRUCTORS = strawberry.enum_value(
        "instructors", description="Instructors (HR admins; managers their subtree). Options: filter."
    )
    MENTORS = strawberry.enum_value(
        "mentors", description="Mentors (HR admins; managers their subtree). Options: filter."
    )
    TEAM = strawberry.enum_value(
        "team", description="A manager's team (managers their own; HR admins any manager's). Options: managerId."
    )
    QUIZ_ITEMS = strawberry.enum_value(
        "quiz-items",
        description="Quiz item analysis (HR admins; instructors of the quiz's course). Options: quizId, filter.",
    )
    GROWTH_PROFILE = strawberry.enum_value(
        "growth-profile",
        description="An employee's growth profile (the employee, their manager and mentor, HR admins). Options: "
        "employeeId, filter.",
    )


@strawberry.enum(description="The file format of an export.")
class ReportFileFormat(Enum):
    XLSX = strawberry.enum_value(FileFormat.XLSX, description="An Excel workbook.")
    CSV = strawberry.enum_value(FileFormat.CSV, description="CSV in UTF-8 with a BOM (Excel reads it as UTF-8).")


@strawberry.input(
    description="Which report to download, as what, and its options. Give only the options the report reads "
    "(see ReportName); any other is a VALIDATION error."
)
class ExportReportInput:
    report: ReportName = strawberry.field(description="The report.")
    format: ReportFileFormat = strawberry.field(description="XLSX or CSV.")
    filter: ReportFilterInput | None = strawberry.field(default=None, description="The period and filters.")
    by: ReportDimension | None = strawberry.field(default=None, description="A breakdown (training effect).")
    employee_id: strawberry.ID | None = strawberry.field(default=None, description="The employee (growth profile).")
    quiz_id: strawberry.ID | None = strawberry.field(
        default=None, description="The quiz, as its QUIZ CourseModule's ID (quiz items)."
    )
    manager_id: strawberry.ID | None = strawberry.field(
        default=None, description="The manager whose team (team view; default: the viewer)."
    )

    def to_options(self) -> ReportOptions:
        return ReportOptions(
            filter=self.filter.to_domain() if self.filter else None,
            breakdown=dimension_of(self.by),
            employee_id=expect_global_id(self.employee_id, "Employee", "employeeId") if self.employee_id else None,
            quiz_id=expect_global_id(self.quiz_id, "CourseModule", "quizId") if self.quiz_id else None,
            manager_id=expect_global_id(self.manager_id, "Employee", "managerId") if self.manager_id else None,
        )


@strawberry.type(description="Result of exportReport: the download link, or why it was refused.")
class ExportReportPayload:
    url: str | None = strawberry.field(
        description="The download's path on this server (`/reports/<name>.<xlsx|csv>?k=…`). It works for whoever "
        "holds it until expiresAt, while the login that asked for it stays signed in, and shows what that login "
        "may see when it is opened. Open it with a GET, no Authorization header needed."
    )
    expires_at: datetime | None = strawberry.field(description="When the link stops working (10 minutes).")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.type
class ReportExportMutations:
    @strawberry.mutation(
        description="A link downloading a report as XLSX or CSV, checked now: the report's roles first, then its "
        "options and scope (FORBIDDEN for an employee asking for an HR report, or a manager for a unit outside "
        "their subtree; NOT_FOUND for another company's ids; VALIDATION for options the report does not read)."
    )
    async def export_report(
        self,
        info: strawberry.Info,
        input: Annotated[ExportReportInput, strawberry.argument(description="The report, format and options.")],
    ) -> ExportReportPayload:
        settings = info.context.settings

        async def work(viewer: Viewer) -> Any:
            name = str(input.report.value)  # the registry's name, e.g. "training-effect"
            report_named(name).require_role(viewer)  # before any option is parsed
            fmt = FileFormat(input.format.name.lower())
            return await exports.export_link(settings, viewer, name, fmt, input.to_options())

        def payload(link: exports.ExportLink | None, errors: list[UserError]) -> ExportReportPayload:
            if link is None:
                return ExportReportPayload(url=None, expires_at=None, errors=errors)
            return ExportReportPayload(url=link.url, expires_at=link.expires_at, errors=errors)

        return await mutate(info, work, payload)
