"""The growth profile (backend/services/reports/growth_profile.py): an employee's OJT timeline."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from backend.services.credits.ledger import from_tenths
from backend.services.reports import growth_profile
from schema.connection import Connection
from schema.ids import expect_global_id, to_global_id

strawberry.enum(
    growth_profile.EventKind,
    name="GrowthEventKind",
    description="What a growth profile entry is: LESSON_COMPLETED, CHECK_IN, QUIZ_ATTEMPT, PRACTICE_LOGGED, "
    "PRACTICE_CONFIRMED, EVALUATION, SKILL_CHANGE, CREDIT, COURSE_COMPLETED or CERTIFICATE.",
)


@strawberry.type(
    description="One fact of an employee's timeline. Fields a kind does not have are null. Kinds: "
    "LESSON_COMPLETED (title: module), CHECK_IN (title: session; detail: attendance status), QUIZ_ATTEMPT "
    "(title: quiz; percent, passed; detail: attempt number), PRACTICE_LOGGED (quantity; detail: status now), "
    "PRACTICE_CONFIRMED (person: reviewer), EVALUATION (percent; person: mentor; detail: SUBMITTED or "
    "SUPERSEDED), SKILL_CHANGE (title: skill; levelBefore, levelAfter; percent: the evidence's score), CREDIT "
    "(amount; title: reason; detail: entry kind), COURSE_COMPLETED, CERTIFICATE (title: program; detail: last "
    "valid day, or REVOKED)."
)
class GrowthEvent:
    kind: growth_profile.EventKind = strawberry.field(description="What happened (see the type's description).")
    at: datetime = strawberry.field(description="When it happened.")
    source_id: str = strawberry.field(
        description="The id of the source row (credit event, attendance, quiz attempt, practice log, evaluation, "
        "skill evidence, ledger entry or course completion), unique together with kind."
    )
    title: str | None = strawberry.field(description="Module, session, quiz, skill, course or credit reason.")
    course_title: str | None = strawberry.field(description="The course it belongs to, when one.")
    percent: int | None = strawberry.field(description="Score in percent (quiz, evaluation, skill evidence).")
    passed: bool | None = strawberry.field(description="Whether a quiz attempt passed.")
    quantity: int | None = strawberry.field(description="Practice repetitions.")
    amount: Decimal | None = strawberry.field(description="Credits of a ledger entry (negative when spent).")
    level_before: int | None = strawberry.field(description="Skill level before (0–100).")
    level_after: int | None = strawberry.field(description="Skill level after (0–100).")
    person: str | None = strawberry.field(description="The mentor or reviewer's name.")
    detail: str | None = strawberry.field(description="Status or kind detail (see the type's description).")

    @classmethod
    def from_domain(cls, e: growth_profile.GrowthEvent) -> GrowthEvent:
        return cls(
            kind=e.kind,
            at=e.at,
            source_id=str(e.id),
            title=e.title,
            course_title=e.course_title,
            percent=e.percent,
            passed=e.passed,
            quantity=e.quantity,
            amount=None if e.amount is None else from_tenths(e.amount),
            level_before=e.level_before,
            level_after=e.level_after,
            person=e.person,
            detail=e.detail,
        )


@strawberry.type(description="A skill the employee holds or their position requires.")
class GrowthSkill:
    skill_id: strawberry.ID = strawberry.field(description="The Skill's global ID.")
    name: str = strawberry.field(description="The skill's name.")
    level: int | None = strawberry.field(description="Their level (0–100); null when not held.")
    required: int | None = strawberry.field(description="What their position requires; null when not required.")


@strawberry.type(description="A mentor of the employee in force today.")
class GrowthMentor:
    mentor_id: strawberry.ID = strawberry.field(description="The mentor's Employee global ID.")
    name: str = strawberry.field(description="The mentor's name.")
    course_title: str | None = strawberry.field(description="The course mentored; null for every course.")


@strawberry.type(description="Where the employee stands now.")
class GrowthSummary:
    courses_completed: int = strawberry.field(description="Distinct courses completed.")
    credit_balance: Decimal = strawberry.field(description="Credits to spend now.")
    lifetime_earned: Decimal = strawberry.field(description="Credits earned ever.")
    skills: list[GrowthSkill] = strawberry.field(description="Skills held or required, by name.")
    mentors: list[GrowthMentor] = strawberry.field(description="Current mentors (mentorships in force today).")


@strawberry.type(description="An employee's growth profile (成长档案): summary and timeline, newest first.")
class GrowthProfile:
    employee_id: strawberry.ID = strawberry.field(description="The Employee's global ID.")
    employee_no: str = strawberry.field(description="Employee number.")
    name: str = strawberry.field(description="Name.")
    summary: GrowthSummary = strawberry.field(description="Where they stand now (not narrowed by the period).")
    events: Connection[GrowthEvent] = strawberry.field(
        description="The timeline, newest first (time, then kind, then source id, all descending)."
    )

    @classmethod
    def from_domain(cls, profile: growth_profile.GrowthProfile) -> GrowthProfile:
        s = profile.summary
        return cls(
            employee_id=strawberry.ID(to_global_id("Employee", profile.employee.id)),
            employee_no=profile.employee.employee_no,
            name=profile.employee.name,
            summary=GrowthSummary(
                courses_completed=s.courses_completed,
                credit_balance=from_tenths(s.credit_balance),
                lifetime_earned=from_tenths(s.lifetime_earned),
                skills=[
                    GrowthSkill(
                        skill_id=strawberry.ID(to_global_id("Skill", k.skill_id)),
                        name=k.name,
                        level=k.level,
                        required=k.required,
                    )
                    for k in s.skills
                ],
                mentors=[
                    GrowthMentor(
                        mentor_id=strawberry.ID(to_global_id("Employee", m.mentor_id)),
                        name=m.name,
                        course_title=m.course_title,
                    )
                    for m in s.mentors
                ],
            ),
            events=Connection[GrowthEvent].from_page(profile.events, GrowthEvent.from_domain),
        )


@strawberry.type
class GrowthProfileQueries:
    @strawberry.field(
        description="An employee's growth profile: the employee themself, their manager, a current mentor and "
        "HR admins; others FORBIDDEN."
    )
    async def growth_profile(
        self,
        info: strawberry.Info,
        employee_id: Annotated[strawberry.ID, strawberry.argument(description="The Employee.")],
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        from_day: Annotated[
            date | None, strawberry.argument(name="from", description="Only facts from this local day on.")
        ] = None,
        to_day: Annotated[
            date | None, strawberry.argument(name="to", description="Only facts up to this local day (included).")
        ] = None,
    ) -> GrowthProfile:
        viewer = await info.context.require_viewer()
        employee = expect_global_id(employee_id, "Employee", "employeeId")
        profile = await growth_profile.growth_profile(
            viewer, employee, first, after or None, info.context.settings.max_page_size, from_day, to_day
        )
        return GrowthProfile.from_domain(profile)
