"""The training-effect report (培训效果): its types and the ``trainingEffect`` query. Thin: the
figures and what they mean live in backend/services/reports/training_effect.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry

from backend.services.reports import training_effect
from backend.services.reports.frame import Dimension
from schema.ids import to_global_id
from schema.reports.inputs import ReportDimension, ReportFilterInput, dimension_of

_ID_TYPES = {Dimension.ORG_UNIT: "OrgUnit", Dimension.SITE: "Site", Dimension.COURSE: "Course"}


@strawberry.type(
    description="Training figures of a scope and period (or one month, or one breakdown group), from what "
    "learners did. Rates are fractions (0.25 = 25 %) rounded to 4 places, averages percents to 1 place."
)
class TrainingEffectFigures:
    enrolled: int = strawberry.field(description="Enrollments (holding ENROLLED) in sessions starting in the period.")
    attended: int = strawberry.field(description="Check-ins (attendances) in the period.")
    sessions_held: int | None = strawberry.field(
        description="Sessions starting in the period, not cancelled, of the filter's site, course or scenario. "
        "Org-unit and position filters do not narrow it (a session belongs to no one's unit). In a breakdown "
        "by course, site or scenario, that group's sessions; null in other breakdowns."
    )
    participation_rate: float | None = strawberry.field(
        description="参训率: attended / enrolled (walk-ins can take it past 1); null when nobody was enrolled."
    )
    participants: int = strawberry.field(
        description="Distinct people with any learning activity in the period (enrolled, attended, a lesson, "
        "module or course completed, a quiz taken, practice confirmed, an evaluation)."
    )
    course_learners: int = strawberry.field(
        description="Distinct (person, course) pairs with any learning activity in the period."
    )
    courses_completed: int = strawberry.field(description="Courses completed in the period.")
    completion_rate: float | None = strawberry.field(
        description="完成率: coursesCompleted / courseLearners (a completion is activity, so at most 1); null "
        "when no one learned a course in the period."
    )
    quiz_takers: int = strawberry.field(description="People who took a quiz for the first time in the period.")
    quizzes_passed: int = strawberry.field(description="Quizzes passed in the period (one per person and quiz).")
    pass_rate: float | None = strawberry.field(
        description="通过率: quizzesPassed / quizTakers, capped at 1 (a quiz first taken before the period and "
        "passed in it counts a pass without a taker); null when no one took a quiz."
    )
    quiz_attempts: int = strawberry.field(description="Graded quiz attempts in the period.")
    average_quiz_score: float | None = strawberry.field(
        description="Average percent of the graded attempts; null without any."
    )
    practice_confirmed: int = strawberry.field(description="Practice confirmed by mentors (repetitions).")
    evaluations: int = strawberry.field(description="Mentor evaluations scored.")
    average_evaluation_score: float | None = strawberry.field(
        description="Average percent of the evaluations; null without any."
    )
    hours: Decimal = strawberry.field(description="Hours attended (session lengths), one decimal.")
    credits_earned: Decimal = strawberry.field(description="Credits earned (earns and positive adjustments).")

    @classmethod
    def of(cls, figures: training_effect.Figures) -> TrainingEffectFigures:
        return cls(**vars(figures))


@strawberry.type(description="One month of the period (every month is present, zeros included).")
class TrainingEffectMonth:
    month: str = strawberry.field(description="The month, YYYY-MM.")
    figures: TrainingEffectFigures = strawberry.field(description="The month's figures.")


@strawberry.type(description="One group of a breakdown.")
class TrainingEffectGroup:
    key: str | None = strawberry.field(
        description="The group: a global ID (org unit, site, course) or the text (scenario, position family or "
        "level); null for facts or people without one (no course, site or unit)."
    )
    label: str = strawberry.field(description="What to call it (a course: code and title); empty for null.")
    figures: TrainingEffectFigures = strawberry.field(description="The group's figures.")


@strawberry.type(description="How many who started a course completed one of its modules.")
class ModuleDropOff:
    module_id: strawberry.ID = strawberry.field(description="The module.")
    position: int = strawberry.field(description="Its place in the course.")
    title: str = strawberry.field(description="Its title.")
    started: int = strawberry.field(
        description="People in scope with any progress in the course (now, not only in the period)."
    )
    completed: int = strawberry.field(description="Of them, those who completed this module (now).")


@strawberry.type(description="培训效果: participation, completion, quiz and practice results and credits.")
class TrainingEffectReport:
    from_day: date = strawberry.field(name="from", description="The period's first day.")
    to_day: date = strawberry.field(name="to", description="The period's last day (included).")
    total: TrainingEffectFigures = strawberry.field(description="The whole period and scope.")
    series: list[TrainingEffectMonth] = strawberry.field(description="Per month of the period, in order.")
    breakdown: list[TrainingEffectGroup] = strawberry.field(
        description="Per group of the asked dimension, by label; empty when no breakdown was asked."
    )
    modules: list[ModuleDropOff] = strawberry.field(
        description="When the filter names a course: per module in order, the drop-off; else empty."
    )

    @classmethod
    def of(cls, report: training_effect.TrainingEffect, dimension: Dimension | None) -> TrainingEffectReport:
        id_type = _ID_TYPES.get(dimension) if dimension else None
        return cls(
            from_day=report.period.first,
            to_day=report.period.last,
            total=TrainingEffectFigures.of(report.total),
            series=[
                TrainingEffectMonth(month=m.month.strftime("%Y-%m"), figures=TrainingEffectFigures.of(m.figures))
                for m in report.series
            ],
            breakdown=[
                TrainingEffectGroup(
                    key=None
                    if entry.key is None
                    else to_global_id(id_type, int(entry.key))  # type: ignore[call-overload]
                    if id_type
                    else str(entry.key),
                    label=entry.label,
                    figures=TrainingEffectFigures.of(entry.figures),
                )
                for entry in report.breakdown
            ],
            modules=[
                ModuleDropOff(
                    module_id=strawberry.ID(to_global_id("CourseModule", m.module_id)),
                    position=m.position,
                    title=m.title,
                    started=m.started,
                    completed=m.completed,
                )
                for m in report.modules
            ],
        )


@strawberry.type
class TrainingEffectQueries:
    @strawberry.field(
        description="培训效果 of a period: HR admins see their company, managers their own org unit's subtree "
        "(a unit outside it is FORBIDDEN); others FORBIDDEN."
    )
    async def training_effect(
        self,
        info: strawberry.Info,
        filter: Annotated[ReportFilterInput, strawberry.argument(description="The period and filters.")],
        breakdown: Annotated[
            ReportDimension | None, strawberry.argument(description="Break the figures down by this.")
        ] = None,
    ) -> TrainingEffectReport:
        viewer = await info.context.require_viewer()
        dimension = dimension_of(breakdown)
        report = await training_effect.training_effect(viewer, filter.to_domain(), dimension)
        return TrainingEffectReport.of(report, dimension)
