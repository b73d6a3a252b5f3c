"""The instructors and mentors report (``instructorReport``, ``mentorReport``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry

from backend.ids import to_global_id
from backend.services.reports import instructors
from schema.reports.inputs import ReportFilterInput

_SCOPE = (
    "HR admins: the company's; managers: those in their own org unit's subtree now (whoever they taught); "
    "others FORBIDDEN. The filter's unit, site and position narrow the people listed, its course or scenario "
    "the facts. Ordered by name, at most 1000 (`truncated` says when more were found)."
)


@strawberry.type(description="Who a report line is about.")
class ReportPerson:
    employee_id: strawberry.ID = strawberry.field(description="Global ID of the employee.")
    employee_no: str = strawberry.field(description="Employee number.")
    name: str = strawberry.field(description="Name.")

    @classmethod
    def from_domain(cls, person: instructors.Person) -> ReportPerson:
        return cls(
            employee_id=strawberry.ID(to_global_id("Employee", person.employee_id)),
            employee_no=person.employee_no,
            name=person.name,
        )


@strawberry.type(description="What one instructor delivered in the period.")
class InstructorLine:
    person: ReportPerson = strawberry.field(description="The instructor.")
    sessions_delivered: int = strawberry.field(
        description="Sessions they instructed starting in the period, not cancelled."
    )
    hours_delivered: Decimal = strawberry.field(description="Those sessions' lengths, in hours (one decimal).")
    enrolled: int = strawberry.field(description="Enrollments holding a seat in their sessions starting in the period.")
    attended: int = strawberry.field(description="Check-ins in their sessions during the period.")
    attendance_rate: float | None = strawberry.field(
        description="attended / enrolled (four decimals; walk-ins can take it past 1); null when nobody was enrolled."
    )
    learner_hours: Decimal = strawberry.field(
        description="Hours learners spent in their sessions: attended minutes / 60 (one decimal)."
    )
    average_rating: float | None = strawberry.field(
        description="Learners' average rating (1–5, two decimals) from the answers to their sessions' surveys in "
        "the period: each answer's mean Likert value; anonymous answers count only in groups of at least 5 per "
        "survey. Null without any."
    )
    rating_count: int = strawberry.field(description="Answers counted in averageRating.")

    @classmethod
    def from_domain(cls, line: instructors.InstructorFigures) -> InstructorLine:
        return cls(
            person=ReportPerson.from_domain(line.person),
            sessions_delivered=line.sessions_delivered,
            hours_delivered=line.hours_delivered,
            enrolled=line.enrolled,
            attended=line.attended,
            attendance_rate=line.attendance_rate,
            learner_hours=line.learner_hours,
            average_rating=line.average_rating,
            rating_count=line.rating_count,
        )


@strawberry.type(description="The instructors of a period.")
class InstructorReport:
    from_day: date = strawberry.field(name="from", description="The period's first day.")
    to_day: date = strawberry.field(name="to", description="The period's last day (included).")
    instructors: list[InstructorLine] = strawberry.field(
        description="People who instructed sessions starting in the period, by name."
    )
    truncated: bool = strawberry.field(description="More than 1000 instructors: the list stops at 1000.")


@strawberry.type(
    description="Scores by bucket: 11 counts for 0–9, 10–19, …, 90–99 and 100 (percent of the rubric's maximum)."
)
class ScoreHistogram:
    counts: list[int] = strawberry.field(description="Evaluations per bucket, 0–9 first, 100 last.")


@strawberry.type(description="What one mentor did in the period, and how their scores compare with their peers'.")
class MentorLine:
    person: ReportPerson = strawberry.field(description="The mentor.")
    mentees: int = strawberry.field(
        description="Distinct mentees of their mentorships in force today (the company's local day); with a "
        "course or scenario filter, mentorships of that course or scenario, or of every course."
    )
    practice_reviews: int = strawberry.field(description="Practice logs they reviewed in the period.")
    practice_confirmed: int = strawberry.field(description="Practice quantity they confirmed.")
    practice_returned: int = strawberry.field(description="Practice logs they returned.")
    average_review_hours: float | None = strawberry.field(
        description="How long logs waited after reaching the server before their review, mean hours (two "
        "decimals); null without reviews."
    )
    evaluations: int = strawberry.field(description="Evaluations they submitted in the period.")
    average_score: float | None = strawberry.field(
        description="Mean score (percent, one decimal); null without evaluations."
    )
    score_sd: float | None = strawberry.field(
        description="Standard deviation of their scores (population, one decimal); null without evaluations."
    )
    full_marks_share: float | None = strawberry.field(
        description="Share of their evaluations at 100 (four decimals); null without evaluations."
    )
    z_score: float | None = strawberry.field(
        description="(their mean − peers' mean) / (peers' sd / √evaluations), two decimals; null without "
        "evaluations or when all peers' scores are equal."
    )
    stands_out: bool = strawberry.field(
        description="True with at least 5 evaluations when |zScore| ≥ 3 or at least 90% of their scores are "
        "full marks (a mentor who gives everyone 100 stands out)."
    )
    histogram: ScoreHistogram = strawberry.field(description="Their evaluations of the period by score.")
    average_rating: float | None = strawberry.field(
        description="Mentees' average rating (1–5, two decimals) from module survey answers rating them (any time: "
        "anonymous answers carry none; the filter's course when given); anonymous answers count only in groups of "
        "at least 5 per survey. Null without any."
    )
    rating_count: int = strawberry.field(description="Answers counted in averageRating.")

    @classmethod
    def from_domain(cls, line: instructors.MentorFigures) -> MentorLine:
        return cls(
            person=ReportPerson.from_domain(line.person),
            mentees=line.mentees,
            practice_reviews=line.practice_reviews,
            practice_confirmed=line.practice_confirmed,
            practice_returned=line.practice_returned,
            average_review_hours=line.average_review_hours,
            evaluations=line.evaluations,
            average_score=line.average_score,
            score_sd=line.score_sd,
            full_marks_share=line.full_marks_share,
            z_score=line.z_score,
            stands_out=line.stands_out,
            histogram=ScoreHistogram(counts=line.histogram),
            average_rating=line.average_rating,
            rating_count=line.rating_count,
        )


@strawberry.type(description="The mentors of a period, against their peers (every evaluation in scope).")
class MentorReport:
    from_day: date = strawberry.field(name="from", description="The period's first day.")
    to_day: date = strawberry.field(name="to", description="The period's last day (included).")
    mentors: list[MentorLine] = strawberry.field(
        description="People who reviewed practice or evaluated in the period, or mentor someone today, by name."
    )
    truncated: bool = strawberry.field(description="More than 1000 mentors: the list stops at 1000.")
    peer_evaluations: int = strawberry.field(description="Every evaluation in scope (all mentors).")
    peer_average_score: float | None = strawberry.field(
        description="Mean of every evaluation in scope (percent, one decimal); null without evaluations."
    )
    peer_score_sd: float | None = strawberry.field(
        description="Standard deviation of every evaluation in scope (population, one decimal); null without "
        "evaluations."
    )
    peer_histogram: ScoreHistogram = strawberry.field(description="Every evaluation in scope by score.")


@strawberry.type
class InstructorReportQueries:
    @strawberry.field(description=f"The instructors of a period. {_SCOPE}")
    async def instructor_report(
        self,
        info: strawberry.Info,
        filter: Annotated[ReportFilterInput, strawberry.argument(description="The period and filters.")],
    ) -> InstructorReport:
        viewer = await info.context.require_viewer()
        report = await instructors.instructor_report(viewer, filter.to_domain())
        return InstructorReport(
            from_day=report.period.first,
            to_day=report.period.last,
            instructors=[InstructorLine.from_domain(line) for line in report.instructors],
            truncated=report.truncated,
        )

    @strawberry.field(description=f"The mentors of a period, against their peers. {_SCOPE}")
    async def mentor_report(
        self,
        info: strawberry.Info,
        filter: Annotated[ReportFilterInput, strawberry.argument(description="The period and filters.")],
    ) -> MentorReport:
        viewer = await info.context.require_viewer()
        report = await instructors.mentor_report(viewer, filter.to_domain())
        return MentorReport(
            from_day=report.period.first,
            to_day=report.period.last,
            mentors=[MentorLine.from_domain(line) for line in report.mentors],
            truncated=report.truncated,
            peer_evaluations=report.peer_evaluations,
            peer_average_score=report.peer_average_score,
            peer_score_sd=report.peer_score_sd,
            peer_histogram=ScoreHistogram(counts=report.peer_histogram),
        )
