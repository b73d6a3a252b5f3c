"""Survey templates and surveys as HR admins write them.

A template (title, anonymous or named, questions: ``questions.check_questions``) is edited in place
until a survey of it has an answer; from then on it is frozen and an edit makes a new version (a new
row pointing at the old one, which stops being current): the answers keep the questions they
answered, and the surveys already attached keep their version. ``attach_survey`` attaches the
current version of a template to one target (a course, a training session, or a module),
``close_survey`` stops answers. Every write is audited in its own transaction and marks the
survey's ``SURVEY`` feed row (see mobile_sync/feed_surveys.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import (
    Course,
    CourseModule,
    Role,
    SessionStatus,
    Survey,
    SurveyResponse,
    SurveyTargetKind,
    SurveyTemplate,
    TrainingSession,
)
from backend.services.audit import audit
from backend.services.feed import ChangeSet, Entity
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.surveys.questions import check_questions
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer

MAX_TITLE = 200
TEMPLATE_ORDER: Keyset[SurveyTemplate] = Keyset("surveyTemplate", ("id",), (int,), descending=True)
SURVEY_ORDER: Keyset[Survey] = Keyset("survey", ("id",), (int,), descending=True)


@dataclass(frozen=True)
class TemplateFields:
    title: str
    title_en: str
    anonymous: bool
    questions: list[dict[str, Any]]


def check_template(given: Mapping[str, object]) -> TemplateFields:
    """A whole template checked from ``given`` (GraphQL's names), without the database."""
    anonymous = given.get("anonymous", True)
    if not isinstance(anonymous, bool):
        raise invalid("anonymous")
    return TemplateFields(
        title=text(given.get("title"), "title", MAX_TITLE),
        title_en=text(given.get("titleEn"), "titleEn", MAX_TITLE, required=False),
        anonymous=anonymous,
        questions=check_questions(given.get("questions")),
    )


def snapshot(template: SurveyTemplate) -> dict[str, Any]:
    return {
        "title": template.title,
        "titleEn": template.title_en,
        "anonymous": template.anonymous,
        "version": template.version,
        "questions": template.questions,
    }


async def has_answers(template_id: int, connection: BaseDBAsyncClient | None = None) -> bool:
    """Whether any survey of the template has an answer (the template is then frozen)."""
    query = SurveyResponse.filter(survey__template_id=template_id)
    if connection is not None:
        query = query.using_db(connection)
    return await query.exists()


async def create_template(viewer: Viewer, given: Mapping[str, object]) -> SurveyTemplate:
    """A new template, version 1 (HR admins). Audited."""
    viewer.require_role(Role.HR_ADMIN)
    fields = check_template(given)
    async with in_transaction() as connection:
        template = await SurveyTemplate.create(
            tenant_id=viewer.tenant_id,
            title=fields.title,
            title_en=fields.title_en,
            anonymous=fields.anonymous,
            questions=fields.questions,
            created_by_id=viewer.employee_id,
            using_db=connection,
        )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "survey_template.create",
            "survey_template",
            template.id,
            {"after": snapshot(template)},
        )
    return template


async def update_template(viewer: Viewer, template_id: int, given: Mapping[str, object]) -> SurveyTemplate:
    """Change a template (HR admins): the fields given over the stored ones. A template with answers
    is frozen: the change becomes a new version (returned) and the old one stops being current;
    only the current version may be changed (INVALID_STATUS_CHANGE). Audited."""
    viewer.require_role(Role.HR_ADMIN)
    async with in_transaction() as connection:
        template = (
            await SurveyTemplate.filter(tenant_id=viewer.tenant_id, id=template_id)
            .select_for_update()
            .using_db(connection)
            .first()
        )
        if template is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="templateId")
        if not template.is_current:
            raise DomainError(ErrorCode.INVALID_STATUS_CHANGE, field="templateId")
        merged: dict[str, object] = {
            "title": template.title,
            "titleEn": template.title_en,
            "anonymous": template.anonymous,
            "questions": template.questions,
        }
        merged.update({key: value for key, value in given.items() if value is not None})
        fields = check_template(merged)
        before = snapshot(template)
        changes = ChangeSet(viewer.tenant_id)
        # A change of anonymity never applies in place to a template already attached: a phone may
        # hold an answer written under the old promise (offline), which must be kept as promised.
        attached = (
            await Survey.filter(tenant_id=viewer.tenant_id, template_id=template.id).using_db(connection).exists()
        )
        if await has_answers(template.id, connection) or (fields.anonymous != template.anonymous and attached):
            template.is_current = False
            await template.save(using_db=connection, update_fields=["is_current", "updated_at"])
            template = await SurveyTemplate.create(
                tenant_id=viewer.tenant_id,
                title=fields.title,
                title_en=fields.title_en,
                anonymous=fields.anonymous,
                questions=fields.questions,
                version=template.version + 1,
                previous_id=template.id,
                created_by_id=viewer.employee_id,
                using_db=connection,
            )
            action = "survey_template.new_version"
        else:
            template.title, template.title_en = fields.title, fields.title_en
            template.anonymous, template.questions = fields.anonymous, fields.questions
            await template.save(using_db=connection)
            action = "survey_template.update"
            for survey_id in (
                await Survey.filter(tenant_id=viewer.tenant_id, template_id=template.id)
                .using_db(connection)
                .values_list("id", flat=True)
            ):
                changes.touch(Entity.SURVEY, survey_id)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            action,
            "survey_template",
            template.id,
            {"before": before, "after": snapshot(template)},
        )
        await changes.publish(connection)
    return template


async def templates_page(
    viewer: Viewer, first: int, after: str | None, max_page_size: int, current_only: bool = True
) -> Page[SurveyTemplate]:
    """The company's templates, newest first (HR admins)."""
    viewer.require_role(Role.HR_ADMIN)
    first = check_page_size(first, max_page_size)
    query = SurveyTemplate.filter(tenant_id=viewer.tenant_id)
    if current_only:
        query = query.filter(is_current=True)
    return await TEMPLATE_ORDER.fetch(query, first, after)


@dataclass(frozen=True)
class Target:
    """What a survey is attached to: exactly one of the three ids."""

    course_id: int | None = None
    session_id: int | None = None
    module_id: int | None = None


async def attach_survey(viewer: Viewer, template_id: int, target: Target) -> Survey:
    """Attach the current version of a template to a course, a session (not cancelled: answered
    after check-out) or a module of the company (HR admins). Open at once. Audited."""
    viewer.require_role(Role.HR_ADMIN)
    given = [(name, value) for name, value in vars(target).items() if value is not None]
    if len(given) != 1:
        raise invalid("target", "reason.one_target")
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        # Locked: an edit of the template (update_template) waits, or is seen as attached.
        template = (
            await SurveyTemplate.filter(tenant_id=tenant_id, id=template_id)
            .select_for_update()
            .using_db(connection)
            .first()
        )
        if template is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="templateId")
        if not template.is_current:
            raise DomainError(ErrorCode.INVALID_STATUS_CHANGE, field="templateId")
        values: dict[str, Any] = {}
        if target.course_id is not None:
            if not await Course.filter(tenant_id=tenant_id, id=target.course_id).using_db(connection).exists():
                raise DomainError(ErrorCode.NOT_FOUND, field="courseId")
            values = {"target_kind": SurveyTargetKind.COURSE, "course_id": target.course_id}
        elif target.session_id is not None:
            session = (
                await TrainingSession.filter(tenant_id=tenant_id, id=target.session_id).using_db(connection).first()
            )
            if session is None:
                raise DomainError(ErrorCode.NOT_FOUND, field="sessionId")
            if session.status == SessionStatus.CANCELLED:
                raise DomainError(ErrorCode.SESSION_CANCELLED, field="sessionId")
            values = {"target_kind": SurveyTargetKind.SESSION, "session_id": session.id, "course_id": session.course_id}
        else:
            module = await CourseModule.filter(tenant_id=tenant_id, id=target.module_id).using_db(connection).first()
            if module is None:
                raise DomainError(ErrorCode.NOT_FOUND, field="moduleId")
            values = {"target_kind": SurveyTargetKind.MODULE, "module_id": module.id, "course_id": module.course_id}
        survey = await Survey.create(
            tenant_id=tenant_id,
            template_id=template.id,
            created_by_id=viewer.employee_id,
            **values,
            using_db=connection,
        )
        await audit(
            connection,
            viewer,
            tenant_id,
            "survey.attach",
            "survey",
            survey.id,
            {
                "templateId": template.id,
                "version": template.version,
                "target": values["target_kind"].value,
                "courseId": survey.course_id,
                "sessionId": survey.session_id,
                "moduleId": survey.module_id,
            },
        )
        changes = ChangeSet(tenant_id)
        changes.touch(Entity.SURVEY, survey.id)
        await changes.publish(connection)
    survey.template = template
    return survey


async def close_survey(viewer: Viewer, survey_id: int, now: datetime | None = None) -> Survey:
    """Stop answers to a survey (HR admins); closing a closed one changes nothing. Audited."""
    viewer.require_role(Role.HR_ADMIN)
    async with in_transaction() as connection:
        survey = await Survey.filter(tenant_id=viewer.tenant_id, id=survey_id).using_db(connection).first()
        if survey is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="surveyId")
        if survey.is_open:
            survey.is_open, survey.closed_at = False, now or datetime.now(UTC)
            await survey.save(using_db=connection, update_fields=["is_open", "closed_at", "updated_at"])
            await audit(connection, viewer, viewer.tenant_id, "survey.close", "survey", survey.id, {})
            changes = ChangeSet(viewer.tenant_id)
            changes.touch(Entity.SURVEY, survey.id)
            await changes.publish(connection)
        await survey.fetch_related("template", using_db=connection)
    return survey


async def surveys_page(
    viewer: Viewer,
    first: int,
    after: str | None,
    max_page_size: int,
    template_id: int | None = None,
    course_id: int | None = None,
    session_id: int | None = None,
    open_only: bool = False,
) -> Page[Survey]:
    """The company's surveys, newest first (HR admins), narrowed by template, course (the target's
    course: a session's and a module's too), session, or open ones only."""
    viewer.require_role(Role.HR_ADMIN)
    first = check_page_size(first, max_page_size)
    query = Survey.filter(tenant_id=viewer.tenant_id)
    if template_id is not None:
        query = query.filter(template_id=template_id)
    if course_id is not None:
        query = query.filter(course_id=course_id)
    if session_id is not None:
        query = query.filter(session_id=session_id)
    if open_only:
        query = query.filter(is_open=True)
    return await SURVEY_ORDER.fetch(query.select_related("template"), first, after)


async def get_template(viewer: Viewer, template_id: int) -> SurveyTemplate:
    """One template of the company (HR admins); NOT_FOUND otherwise."""
    viewer.require_role(Role.HR_ADMIN)
    template = await SurveyTemplate.filter(tenant_id=viewer.tenant_id, id=template_id).first()
    if template is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    return template
