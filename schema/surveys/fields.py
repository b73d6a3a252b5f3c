"""Survey fields: ``surveyTemplates``, ``surveys``, ``surveyResults``, ``mySurveys`` and the
mutations ``createSurveyTemplate``, ``updateSurveyTemplate``, ``attachSurvey``, ``closeSurvey`` and
``submitSurveyResponse`` (the SURVEY_RESPONSE record kind, online). Thin: they call
backend.services.surveys."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from backend.services.surveys import answers, results, templates
from backend.services.viewer import Viewer
from schema.connection import Connection
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.surveys.types import (
    AttachSurveyInput,
    CloseSurveyInput,
    CreateSurveyTemplateInput,
    OfferedSurvey,
    SubmitSurveyResponseInput,
    Survey,
    SurveyPayload,
    SurveyResultGroup,
    SurveyResultsFilter,
    SurveyTemplate,
    SurveyTemplatePayload,
    UpdateSurveyTemplateInput,
    question_values,
)
from schema.sync.records import RecordPayload, submit_record


def _optional_id(value: Any, type_name: str, field: str) -> int | None:
    return None if value is None else expect_global_id(value, type_name, field)


def _template_payload(template: Any, errors: list) -> SurveyTemplatePayload:
    return SurveyTemplatePayload(template=SurveyTemplate.from_model(template) if template else None, errors=errors)


def _survey_payload(survey: Any, errors: list) -> SurveyPayload:
    return SurveyPayload(survey=Survey.from_model(survey) if survey else None, errors=errors)


@strawberry.type
class SurveyQueries:
    @strawberry.field(description="The company's survey templates, newest first, as a Relay connection (HR admins).")
    async def survey_templates(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 50,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        current_only: Annotated[
            bool, strawberry.argument(description="Only current versions (false: older versions too).")
        ] = True,
    ) -> Connection[SurveyTemplate]:
        viewer = await info.context.require_viewer()
        page = await templates.templates_page(viewer, first, after, info.context.settings.max_page_size, current_only)
        return Connection[SurveyTemplate].from_page(page, SurveyTemplate.from_model)

    @strawberry.field(description="The company's surveys, newest first, as a Relay connection (HR admins).")
    async def surveys(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 50,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        template_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only surveys of this template version.")
        ] = None,
        course_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only surveys of this course (its sessions' too).")
        ] = None,
        session_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this session's.")] = None,
        open_only: Annotated[bool, strawberry.argument(description="Only surveys taking answers.")] = False,
    ) -> Connection[Survey]:
        viewer = await info.context.require_viewer()
        page = await templates.surveys_page(
            viewer,
            first,
            after,
            info.context.settings.max_page_size,
            template_id=_optional_id(template_id, "SurveyTemplate", "templateId"),
            course_id=_optional_id(course_id, "Course", "courseId"),
            session_id=_optional_id(session_id, "TrainingSession", "sessionId"),
            open_only=open_only,
        )
        return Connection[Survey].from_page(page, Survey.from_model)

    @strawberry.field(
        description="Survey results, one group per template version: counts per option and value, averages, the NPS "
        "score, free-text answers (by text, never by arrival). Anonymous answers count only in groups of at least 5 "
        "per survey and person rated; a group with fewer shows nothing. HR admins: the company's; instructors and "
        "mentors: only the answers rating themselves; anyone else FORBIDDEN. No respondent is ever named."
    )
    async def survey_results(
        self,
        info: strawberry.Info,
        filter: Annotated[SurveyResultsFilter, strawberry.argument(description="Whose results.")],
    ) -> list[SurveyResultGroup]:
        viewer = await info.context.require_viewer()
        wanted = results.ResultFilter(
            survey_id=_optional_id(filter.survey_id, "Survey", "filter.surveyId"),
            course_id=_optional_id(filter.course_id, "Course", "filter.courseId"),
            session_id=_optional_id(filter.session_id, "TrainingSession", "filter.sessionId"),
            instructor_id=_optional_id(filter.instructor_id, "Employee", "filter.instructorId"),
            mentor_id=_optional_id(filter.mentor_id, "Employee", "filter.mentorId"),
        )
        return [SurveyResultGroup.of(group) for group in await results.survey_results(viewer, wanted)]

    @strawberry.field(
        description="The company's open surveys for the viewer, newest first: each with its questions, whether the "
        "viewer answered it and whether they may answer it now."
    )
    async def my_surveys(self, info: strawberry.Info) -> list[OfferedSurvey]:
        viewer = await info.context.require_viewer()
        return [OfferedSurvey.of(offered) for offered in await answers.offered(viewer)]


@strawberry.type
class SurveyMutations:
    @strawberry.mutation(description="Create a survey template (HR admins): version 1, with its questions. Audited.")
    async def create_survey_template(
        self,
        info: strawberry.Info,
        input: Annotated[CreateSurveyTemplateInput, strawberry.argument(description="The template.")],
    ) -> SurveyTemplatePayload:
        async def work(viewer: Viewer) -> Any:
            given = {
                "title": input.title,
                "titleEn": input.title_en,
                "anonymous": input.anonymous,
                "questions": question_values(input.questions),
            }
            return await templates.create_template(viewer, given)

        return await mutate(info, work, _template_payload)

    @strawberry.mutation(
        description="Change a template's current version (HR admins). Without answers it changes in place; with "
        "answers it is frozen and the change is a new version (returned), attached surveys keeping theirs. Audited."
    )
    async def update_survey_template(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateSurveyTemplateInput, strawberry.argument(description="The changes.")],
    ) -> SurveyTemplatePayload:
        async def work(viewer: Viewer) -> Any:
            template_id = expect_global_id(input.template_id, "SurveyTemplate", "templateId")
            given = {
                "title": input.title,
                "titleEn": input.title_en,
                "anonymous": input.anonymous,
                "questions": question_values(input.questions),
            }
            return await templates.update_template(viewer, template_id, given)

        return await mutate(info, work, _template_payload)

    @strawberry.mutation(
        description="Attach a template's current version to a course, a session or a module (HR admins); open at "
        "once. Audited."
    )
    async def attach_survey(
        self,
        info: strawberry.Info,
        input: Annotated[AttachSurveyInput, strawberry.argument(description="Template and target.")],
    ) -> SurveyPayload:
        async def work(viewer: Viewer) -> Any:
            target = templates.Target(
                course_id=_optional_id(input.course_id, "Course", "courseId"),
                session_id=_optional_id(input.session_id, "TrainingSession", "sessionId"),
                module_id=_optional_id(input.module_id, "CourseModule", "moduleId"),
            )
            template_id = expect_global_id(input.template_id, "SurveyTemplate", "templateId")
            return await templates.attach_survey(viewer, template_id, target)

        return await mutate(info, work, _survey_payload)

    @strawberry.mutation(description="Close a survey (HR admins): no more answers. Audited.")
    async def close_survey(
        self,
        info: strawberry.Info,
        input: Annotated[CloseSurveyInput, strawberry.argument(description="The survey.")],
    ) -> SurveyPayload:
        async def work(viewer: Viewer) -> Any:
            return await templates.close_survey(viewer, expect_global_id(input.survey_id, "Survey", "surveyId"))

        return await mutate(info, work, _survey_payload)

    @strawberry.mutation(
        description="Answer a survey: the SURVEY_RESPONSE kind, online. Once per person and survey (a retry with the "
        "same clientId is a duplicate; another answer SURVEY_ALREADY_ANSWERED)."
    )
    async def submit_survey_response(
        self,
        info: strawberry.Info,
        input: Annotated[SubmitSurveyResponseInput, strawberry.argument(description="The answers.")],
    ) -> RecordPayload:
        payload = {"surveyId": input.survey_id, "answers": input.answers}
        return await submit_record(info, input.client_id, answers.SURVEY_RESPONSE, input.answered_at, payload)
