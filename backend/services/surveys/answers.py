"""Answering a survey: the ``SURVEY_RESPONSE`` record kind, online (``submitSurveyResponse``) or
from a phone's outbox, and what the viewer's phone is offered.

Payload: ``{"surveyId": "<Survey global ID>", "answers": {"<question id>": value}}``. ``parse``
checks the shape; ``apply`` checks the answers against the survey's template
(``questions.check_answers``: ``INVALID_PAYLOAD`` naming ``answers.<question id>``), that the survey
is open (``SURVEY_CLOSED``) and that the person may answer it (``SURVEY_NOT_ELIGIBLE``: a course
survey after completing the course, a module of it or attending one of its sessions; a session
survey after checking out of it, or a manual mark present; a module survey after completing the
module). One answer per person and survey: the ``survey_receipt`` row is inserted with
``ON CONFLICT DO NOTHING``, so of two answers (two phones at once, or a second answer under a new
record id) exactly one is kept and the other is ``SURVEY_ALREADY_ANSWERED``; a retry of the same
record id is answered ``DUPLICATE`` by ingest before it gets here.

What is kept: the receipt (survey, employee), and the answers in a ``survey_response`` row with a
random UUID; for an anonymous survey that row names neither the employee nor a day. The stored
record (``activity_record``) keeps the payload without its answers (``stored_payload``), and its
content hash is of that payload, so nothing stored next to the employee holds or fingerprints what
they answered: a retry of the same record id is a duplicate whatever answers it carries (the first
ones stand). The record's outcome carries no response id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import uuid4

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.errors import DomainError, ErrorCode
from backend.models import (
    Attendance,
    AttendanceStatus,
    CourseCompletion,
    CreditActivity,
    Mentorship,
    ModuleProgress,
    RecordStatus,
    Survey,
    SurveyReceipt,
    SurveyResponse,
    SurveyTargetKind,
    SurveyTemplate,
    TrainingSession,
)
from backend.services.credits import credit_engine
from backend.services.feed import ChangeSet, Entity
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, payload_id
from backend.services.records.spec import AnyJson, Field, GlobalId, MapOf, Obj, Text, invalid_payload
from backend.services.surveys.questions import MAX_QUESTIONS, QUESTION_ID, check_answers, rating_milli
from backend.services.viewer import Viewer
from backend.sql import Params, db_time

SURVEY_RESPONSE = "SURVEY_RESPONSE"
# What the activity record keeps of a payload: the survey only. Not "all but the answers": unknown
# keys are accepted (newer phones), and one carrying what a person answered must not be kept either.
KEPT = ("surveyId",)

SURVEY_RESPONSE_PAYLOAD = Obj(
    {
        "surveyId": Field(GlobalId("Survey", "The survey answered."), required=True),
        "answers": Field(
            MapOf(
                Text(pattern=QUESTION_ID),
                AnyJson(
                    "By the question's kind: LIKERT an integer 1–5, NPS an integer 0–10, SINGLE_CHOICE an "
                    "option id, MULTIPLE_CHOICE a list of distinct option ids, FREE_TEXT text up to 2000 "
                    "characters; null or absent for an unanswered optional question."
                ),
                max_properties=MAX_QUESTIONS,
                description="Question id → answer. Checked against the survey's template: unknown questions, "
                "values of the wrong kind or out of range, options not offered or listed twice, and missing "
                "required answers are INVALID_PAYLOAD naming answers.<question id>.",
            ),
            required=True,
        ),
    },
    title="SURVEY_RESPONSE",
    description="Answers to a feedback survey, once per person and survey (a second answer is "
    "SURVEY_ALREADY_ANSWERED). The server keeps no copy of the answers with the record.",
)


@dataclass(frozen=True)
class Answering:
    survey_id: int
    answers: dict[str, Any]


def stored_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """What the activity record keeps of a SURVEY_RESPONSE payload: the survey, nothing else."""
    return {key: payload[key] for key in KEPT if key in payload} if isinstance(payload, dict) else {}


async def may_answer(connection: BaseDBAsyncClient | None, tenant_id: int, employee_id: int, survey: Survey) -> bool:
    """Whether the employee may answer the survey (see the module docstring), open or not."""
    return survey.id in await eligible_among(connection, tenant_id, employee_id, [survey])


async def eligible_among(
    connection: BaseDBAsyncClient | None, tenant_id: int, employee_id: int, surveys: list[Survey]
) -> set[int]:
    """Which of ``surveys`` the employee may answer (``may_answer``), in at most five queries
    whatever their number."""

    def using(query: Any) -> Any:
        return query.using_db(connection) if connection is not None else query

    def ids(kind: SurveyTargetKind, column: str) -> list[int]:
        return sorted({getattr(s, column) for s in surveys if s.target_kind == kind and getattr(s, column)})

    present = (AttendanceStatus.PRESENT, AttendanceStatus.LATE)
    sessions: set[int] = set()
    if session_ids := ids(SurveyTargetKind.SESSION, "session_id"):
        for attendance in await using(
            Attendance.filter(tenant_id=tenant_id, employee_id=employee_id, session_id__in=session_ids)
        ):
            if attendance.checked_out_at is not None or (attendance.manual and attendance.status in present):
                sessions.add(attendance.session_id)
    modules: set[int] = set()
    if module_ids := ids(SurveyTargetKind.MODULE, "module_id"):
        modules = set(
            await using(
                ModuleProgress.filter(
                    tenant_id=tenant_id, employee_id=employee_id, module_id__in=module_ids, completed_count__gt=0
                )
            ).values_list("module_id", flat=True)
        )
    courses: set[int] = set()
    if course_ids := ids(SurveyTargetKind.COURSE, "course_id"):
        courses.update(
            await using(
                CourseCompletion.filter(tenant_id=tenant_id, employee_id=employee_id, course_id__in=course_ids)
            ).values_list("course_id", flat=True)
        )
        courses.update(
            await using(
                ModuleProgress.filter(
                    tenant_id=tenant_id, employee_id=employee_id, course_id__in=course_ids, completed_count__gt=0
                )
            ).values_list("course_id", flat=True)
        )
        courses.update(
            await using(
                Attendance.filter(
                    tenant_id=tenant_id, employee_id=employee_id, session__course_id__in=course_ids, status__in=present
                )
            ).values_list("session__course_id", flat=True)
        )
    return {
        s.id
        for s in surveys
        if (s.target_kind == SurveyTargetKind.SESSION and s.session_id in sessions)
        or (s.target_kind == SurveyTargetKind.MODULE and s.module_id in modules)
        or (s.target_kind == SurveyTargetKind.COURSE and s.course_id in courses)
    }


async def _subject(
    connection: BaseDBAsyncClient, tenant_id: int, employee_id: int, survey: Survey, day: date
) -> int | None:
    """Who an answer rates: a session's instructor; for a module survey, the respondent's mentor
    in force that day (of the module's course before one of every course)."""
    if survey.target_kind == SurveyTargetKind.SESSION:
        session = await TrainingSession.filter(tenant_id=tenant_id, id=survey.session_id).using_db(connection).first()
        return session.instructor_id if session else None
    if survey.target_kind == SurveyTargetKind.MODULE:
        mentorships = await Mentorship.filter(tenant_id=tenant_id, mentee_id=employee_id, starts_on__lte=day).using_db(
            connection
        )
        in_force = [
            m
            for m in mentorships
            if (m.ends_on is None or m.ends_on >= day) and m.course_id in (None, survey.course_id)
        ]
        in_force.sort(key=lambda m: (m.course_id is None, -m.id))
        return in_force[0].mentor_id if in_force else None
    return None


class SurveyAnswered:
    """The SURVEY_RESPONSE kind (see the module docstring)."""

    kind = SURVEY_RESPONSE
    payload_spec = SURVEY_RESPONSE_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> Answering:
        SURVEY_RESPONSE_PAYLOAD.check(payload)
        return Answering(payload_id(payload, "surveyId", "Survey"), dict(payload["answers"]))

    def stored_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        return stored_payload(payload)

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        viewer, connection = context.viewer, context.connection
        tenant_id, employee_id = viewer.tenant_id, viewer.employee_id
        survey_ids = sorted({parsed.payload.survey_id for parsed in records})
        surveys = {s.id: s for s in await Survey.filter(tenant_id=tenant_id, id__in=survey_ids).using_db(connection)}
        templates = {
            t.id: t
            for t in await SurveyTemplate.filter(
                tenant_id=tenant_id, id__in=sorted({s.template_id for s in surveys.values()})
            ).using_db(connection)
        }
        outcomes = []
        for parsed in records:
            try:
                outcomes.append(await self._one(context, parsed, surveys, templates, tenant_id, employee_id))
            except DomainError as error:
                outcomes.append(Outcome.rejected(error))
        return outcomes

    async def _one(
        self,
        context: ApplyContext,
        parsed: ParsedRecord,
        surveys: dict[int, Survey],
        templates: dict[int, SurveyTemplate],
        tenant_id: int,
        employee_id: int,
    ) -> Outcome:
        connection = context.connection
        answering: Answering = parsed.payload
        survey = surveys.get(answering.survey_id)
        if survey is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="surveyId")
        template = templates[survey.template_id]
        answers = check_answers(template.questions, answering.answers, invalid_payload)
        if not survey.is_open:
            raise DomainError(ErrorCode.SURVEY_CLOSED)
        if not await may_answer(connection, tenant_id, employee_id, survey):
            raise DomainError(ErrorCode.SURVEY_NOT_ELIGIBLE)
        p = Params(connection)
        now = context.received_at
        rows = await connection.execute_query_dict(
            "INSERT INTO survey_receipt (tenant_id, survey_id, employee_id, created_at, updated_at)"
            f" VALUES ({p(tenant_id)}, {p(survey.id)}, {p(employee_id)}, {p(db_time(connection, now))},"
            f" {p(db_time(connection, now))}) ON CONFLICT (survey_id, employee_id) DO NOTHING RETURNING id",
            p.values,
        )
        if not rows:
            raise DomainError(ErrorCode.SURVEY_ALREADY_ANSWERED)
        day = parsed.occurred_at.date()
        await SurveyResponse.create(
            id=uuid4(),
            tenant_id=tenant_id,
            survey_id=survey.id,
            employee_id=None if template.anonymous else employee_id,
            answered_on=None if template.anonymous else day,
            subject_id=await _subject(connection, tenant_id, employee_id, survey, day),
            rating_milli=rating_milli(template.questions, answers),
            answers=answers,
            using_db=connection,
        )
        credit_engine.note(
            context,
            credit_engine.Creditable(
                employee_id,
                CreditActivity.SURVEY_ANSWERED,
                f"survey:{employee_id}:{survey.id}",
                parsed.occurred_at,
                parsed.record.id,
                survey.course_id,
                survey.module_id,
            ),
        )
        context.changes.touch(Entity.SURVEY, survey.id, audience=employee_id)
        return Outcome(RecordStatus.ACCEPTED)


# --- what the viewer's phone is offered ------------------------------------------------------------


async def answered_by(viewer: Viewer, survey_ids: list[int]) -> set[int]:
    """Which of the surveys the viewer answered."""
    if not survey_ids:
        return set()
    found: list[Any] = await SurveyReceipt.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, survey_id__in=survey_ids
    ).values_list("survey_id", flat=True)
    return {int(survey_id) for survey_id in found}


@dataclass(frozen=True)
class Offered:
    """A survey as a respondent sees it: its template, whether they answered and may answer."""

    survey: Survey
    template: SurveyTemplate
    answered: bool
    eligible: bool


async def offered(viewer: Viewer, survey_ids: list[int] | None = None) -> list[Offered]:
    """The company's open surveys (of ``survey_ids``, or all), each with its template, whether the
    viewer answered it and whether they may answer it now."""
    query = Survey.filter(tenant_id=viewer.tenant_id, is_open=True)
    if survey_ids is not None:
        query = query.filter(id__in=survey_ids)
    surveys = await query.order_by("-id")
    templates = {
        t.id: t
        for t in await SurveyTemplate.filter(
            tenant_id=viewer.tenant_id, id__in=sorted({s.template_id for s in surveys})
        )
    }
    answered = await answered_by(viewer, [s.id for s in surveys])
    eligible = await eligible_among(
        None, viewer.tenant_id, viewer.employee_id, [s for s in surveys if s.id not in answered]
    )
    return [Offered(s, templates[s.template_id], s.id in answered, s.id in eligible) for s in surveys]


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    """Every open survey goes to everyone's phones; an answered one to its respondent's again (it
    shows them that they answered)."""
    for survey_id in await Survey.filter(tenant_id=tenant_id, is_open=True).values_list("id", flat=True):
        changes.touch(Entity.SURVEY, survey_id)
    for survey_id, employee_id in await SurveyReceipt.filter(tenant_id=tenant_id).values_list(
        "survey_id", "employee_id"
    ):
        changes.touch(Entity.SURVEY, survey_id, audience=employee_id)
