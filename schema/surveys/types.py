"""Survey types: templates with their questions, surveys attached to a target, the inputs of HR's
authoring and of an answer, the results (with the anonymity threshold) and their payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from backend import models
from backend.ids import to_global_id
from backend.models import SurveyQuestionKind, SurveyTargetKind
from backend.services.surveys import answers, results
from schema.common import Node, UserError

strawberry.enum(
    SurveyQuestionKind,
    description="How a question is answered: LIKERT (an integer 1–5), NPS (an integer 0–10), SINGLE_CHOICE (one "
    "option id), MULTIPLE_CHOICE (a list of distinct option ids), FREE_TEXT (text up to 2000 characters).",
)
strawberry.enum(
    SurveyTargetKind,
    description="What a survey is attached to: COURSE, SESSION (answered after check-out) or MODULE.",
)


@strawberry.type(description="An option of a choice question.")
class SurveyOption:
    id: str = strawberry.field(description="The option's id, unique in its question (what an answer names).")
    text: str = strawberry.field(description="The option in Chinese (zh-CN).")
    text_en: str = strawberry.field(description="The option in English; empty when not given.")


@strawberry.type(description="A question of a survey template.")
class SurveyQuestion:
    id: str = strawberry.field(description="The question's id, unique in its template (the key of an answer).")
    kind: SurveyQuestionKind = strawberry.field(description="How it is answered.")
    text: str = strawberry.field(description="The question in Chinese (zh-CN).")
    text_en: str = strawberry.field(description="The question in English; empty when not given.")
    required: bool = strawberry.field(description="Whether an answer must answer it.")
    options: list[SurveyOption] = strawberry.field(description="For choice questions, the options; else empty.")

    @classmethod
    def of(cls, question: dict[str, Any]) -> SurveyQuestion:
        return cls(
            id=question["id"],
            kind=SurveyQuestionKind(question["kind"]),
            text=question["text"],
            text_en=question.get("textEn") or "",
            required=bool(question["required"]),
            options=[
                SurveyOption(id=o["id"], text=o["text"], text_en=o.get("textEn") or "")
                for o in question.get("options") or ()
            ],
        )


@strawberry.type(description="A versioned list of questions HR wrote; frozen once a survey of it has answers.")
class SurveyTemplate(Node):
    title: str = strawberry.field(description="Title in Chinese (zh-CN).")
    title_en: str = strawberry.field(description="Title in English; empty when not given.")
    anonymous: bool = strawberry.field(
        description="Whether answers are anonymous: no link to the person, and results only for groups of 5 or more."
    )
    version: int = strawberry.field(description="1 for a new template; an edit of a frozen one makes the next.")
    current: bool = strawberry.field(description="Whether this is the newest version (the one that can be attached).")
    previous_id: strawberry.ID | None = strawberry.field(description="Global ID of the version this one replaced.")
    questions: list[SurveyQuestion] = strawberry.field(description="The questions, in order.")
    created_at: datetime = strawberry.field(description="When this version was made.")

    @classmethod
    def from_model(cls, row: models.SurveyTemplate) -> SurveyTemplate:
        return cls(
            id=strawberry.ID(to_global_id("SurveyTemplate", row.id)),
            title=row.title,
            title_en=row.title_en,
            anonymous=row.anonymous,
            version=row.version,
            current=row.is_current,
            previous_id=strawberry.ID(to_global_id("SurveyTemplate", row.previous_id)) if row.previous_id else None,
            questions=[SurveyQuestion.of(q) for q in row.questions],
            created_at=row.created_at,
        )


@strawberry.type(description="A template attached to a course, a session or a module.")
class Survey(Node):
    target_kind: SurveyTargetKind = strawberry.field(description="What it is attached to.")
    course_id: strawberry.ID | None = strawberry.field(
        description="Global ID of the course (also the course of a session or module survey)."
    )
    session_id: strawberry.ID | None = strawberry.field(description="Global ID of the session, for a session survey.")
    module_id: strawberry.ID | None = strawberry.field(description="Global ID of the module, for a module survey.")
    open: bool = strawberry.field(description="Whether it takes answers.")
    closed_at: datetime | None = strawberry.field(description="When it was closed.")
    template: SurveyTemplate = strawberry.field(description="Its template version (title and questions).")

    @classmethod
    def from_model(cls, row: models.Survey) -> Survey:
        """A survey whose template was read with it (``select_related``/``fetch_related``)."""
        return cls.of(row, row.template)

    @classmethod
    def of(cls, row: models.Survey, template: models.SurveyTemplate) -> Survey:
        return cls(
            id=strawberry.ID(to_global_id("Survey", row.id)),
            target_kind=row.target_kind,
            course_id=strawberry.ID(to_global_id("Course", row.course_id)) if row.course_id else None,
            session_id=strawberry.ID(to_global_id("TrainingSession", row.session_id)) if row.session_id else None,
            module_id=strawberry.ID(to_global_id("CourseModule", row.module_id)) if row.module_id else None,
            open=row.is_open,
            closed_at=row.closed_at,
            template=SurveyTemplate.from_model(template),
        )


@strawberry.type(description="A survey as its respondent sees it.")
class OfferedSurvey:
    survey: Survey = strawberry.field(description="The survey, with its questions.")
    answered: bool = strawberry.field(description="Whether the viewer answered it (one answer per person).")
    eligible: bool = strawberry.field(
        description="Whether the viewer may answer it now (completed the course or module, checked out of the "
        "session) and has not yet."
    )

    @classmethod
    def of(cls, offered: answers.Offered) -> OfferedSurvey:
        return cls(
            survey=Survey.of(offered.survey, offered.template),
            answered=offered.answered,
            eligible=offered.eligible,
        )


@strawberry.input(description="An option of a choice question.")
class SurveyOptionInput:
    id: str = strawberry.field(description="Id, unique in the question: letters, digits, _ or -, up to 32.")
    text: str = strawberry.field(description="The option in Chinese (up to 200).")
    text_en: str | None = strawberry.field(default=None, description="The option in English (up to 200).")


@strawberry.input(description="A question of a template.")
class SurveyQuestionInput:
    id: str = strawberry.field(description="Id, unique in the template: letters, digits, _ or -, up to 32.")
    kind: SurveyQuestionKind = strawberry.field(description="How it is answered.")
    text: str = strawberry.field(description="The question in Chinese (up to 500).")
    text_en: str | None = strawberry.field(default=None, description="The question in English (up to 500).")
    required: bool = strawberry.field(default=True, description="Whether it must be answered.")
    options: list[SurveyOptionInput] | None = strawberry.field(
        default=None, description="For SINGLE_CHOICE and MULTIPLE_CHOICE: 2 to 20 options; none for other kinds."
    )


def question_values(questions: list[SurveyQuestionInput] | None) -> list[dict[str, Any]] | None:
    """Inputs in the service's terms (GraphQL's names)."""
    if questions is None:
        return None
    return [
        {
            "id": q.id,
            "kind": q.kind.value,
            "text": q.text,
            "textEn": q.text_en,
            "required": q.required,
            "options": None
            if q.options is None
            else [{"id": o.id, "text": o.text, "textEn": o.text_en} for o in q.options],
        }
        for q in questions
    ]


@strawberry.input(description="A new survey template.")
class CreateSurveyTemplateInput:
    title: str = strawberry.field(description="Title in Chinese (up to 200).")
    title_en: str | None = strawberry.field(default=None, description="Title in English (up to 200).")
    anonymous: bool = strawberry.field(default=True, description="Whether answers are anonymous.")
    questions: list[SurveyQuestionInput] = strawberry.field(description="1 to 50 questions, in order.")


@strawberry.input(description="Changes to a template: the fields given replace the stored ones.")
class UpdateSurveyTemplateInput:
    template_id: strawberry.ID = strawberry.field(description="Global ID of the current version.")
    title: str | None = strawberry.field(default=None, description="New title in Chinese.")
    title_en: str | None = strawberry.field(default=None, description="New title in English.")
    anonymous: bool | None = strawberry.field(default=None, description="Whether answers are anonymous.")
    questions: list[SurveyQuestionInput] | None = strawberry.field(
        default=None, description="The questions, all of them, replacing the stored ones."
    )


@strawberry.input(description="Attach a template's current version to exactly one target.")
class AttachSurveyInput:
    template_id: strawberry.ID = strawberry.field(description="Global ID of the template (its current version).")
    course_id: strawberry.ID | None = strawberry.field(default=None, description="A course of the company.")
    session_id: strawberry.ID | None = strawberry.field(
        default=None, description="A training session (not cancelled): answered after check-out."
    )
    module_id: strawberry.ID | None = strawberry.field(default=None, description="A module of a course.")


@strawberry.input(description="Stop a survey's answers.")
class CloseSurveyInput:
    survey_id: strawberry.ID = strawberry.field(description="Global ID of the survey.")


@strawberry.input(description="Answers to a survey, online (the SURVEY_RESPONSE record kind).")
class SubmitSurveyResponseInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    survey_id: strawberry.ID = strawberry.field(description="Global ID of the survey.")
    answers: JSON = strawberry.field(
        description='{"<question id>": answer}: an integer for LIKERT (1–5) and NPS (0–10), an option id for '
        "SINGLE_CHOICE, a list of option ids for MULTIPLE_CHOICE, text for FREE_TEXT."
    )
    answered_at: datetime | None = strawberry.field(default=None, description="When; now if omitted.")


@strawberry.type(description="Result of createSurveyTemplate and updateSurveyTemplate.")
class SurveyTemplatePayload:
    template: SurveyTemplate | None = strawberry.field(
        description="The template after the change (a new version when the old one had answers)."
    )
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(description="Result of attachSurvey and closeSurvey.")
class SurveyPayload:
    survey: Survey | None = strawberry.field(description="The survey after the change.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.input(
    description="Whose results: one survey, or every survey of a course, a session, an instructor "
    "(session surveys) or a mentor (module surveys); the conditions given all apply."
)
class SurveyResultsFilter:
    survey_id: strawberry.ID | None = strawberry.field(default=None, description="One survey.")
    course_id: strawberry.ID | None = strawberry.field(default=None, description="Surveys of a course.")
    session_id: strawberry.ID | None = strawberry.field(default=None, description="Surveys of a session.")
    instructor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Answers rating an instructor (their sessions' surveys)."
    )
    mentor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Answers rating a mentor (module surveys answered by their mentees)."
    )


@strawberry.type(description="How many chose an option.")
class SurveyOptionCount:
    option_id: str = strawberry.field(description="The option's id.")
    text: str = strawberry.field(description="The option in Chinese.")
    text_en: str = strawberry.field(description="The option in English.")
    count: int = strawberry.field(description="Answers that chose it.")


@strawberry.type(description="How many gave a value (LIKERT, NPS).")
class SurveyValueCount:
    value: int = strawberry.field(description="The value.")
    count: int = strawberry.field(description="Answers that gave it.")


@strawberry.type(description="The answers to one question.")
class SurveyQuestionResult:
    question_id: str = strawberry.field(description="The question's id.")
    kind: SurveyQuestionKind = strawberry.field(description="Its kind.")
    text: str = strawberry.field(description="The question in Chinese.")
    text_en: str = strawberry.field(description="The question in English.")
    answered: int = strawberry.field(description="Answers that answered it.")
    average: float | None = strawberry.field(description="LIKERT and NPS: the mean (two decimals).")
    nps_score: int | None = strawberry.field(description="NPS: % promoters (9–10) − % detractors (0–6), −100 to 100.")
    values: list[SurveyValueCount] = strawberry.field(description="LIKERT and NPS: the count of every value.")
    options: list[SurveyOptionCount] = strawberry.field(description="Choice questions: the count of every option.")
    free_texts: list[str] = strawberry.field(
        description="FREE_TEXT: the answers, ordered by their text (never by when they arrived)."
    )

    @classmethod
    def of(cls, q: results.QuestionResult) -> SurveyQuestionResult:
        return cls(
            question_id=q.question_id,
            kind=q.kind,
            text=q.text,
            text_en=q.text_en,
            answered=q.answered,
            average=q.average,
            nps_score=q.nps_score,
            values=[SurveyValueCount(value=v.value, count=v.count) for v in q.values],
            options=[
                SurveyOptionCount(option_id=o.option_id, text=o.text, text_en=o.text_en, count=o.count)
                for o in q.options
            ],
            free_texts=list(q.free_texts),
        )


@strawberry.type(
    description="The results of the surveys of one template version. For an anonymous template, answers count "
    "only in groups of at least 5 per survey and person rated; with none, nothing is shown (shown false, no count)."
)
class SurveyResultGroup:
    template: SurveyTemplate = strawberry.field(description="The template version answered.")
    surveys: int = strawberry.field(description="Surveys of this version the filter found.")
    shown: bool = strawberry.field(description="False: too few anonymous answers to show anything.")
    minimum_answers: int = strawberry.field(description="The anonymity threshold (5).")
    responses: int | None = strawberry.field(description="Answers counted; null when nothing is shown.")
    average_rating: float | None = strawberry.field(
        description="Mean of the answers' mean Likert values (1–5, two decimals); null without any."
    )
    questions: list[SurveyQuestionResult] = strawberry.field(description="Per question; empty when not shown.")

    @classmethod
    def of(cls, group: results.ResultGroup) -> SurveyResultGroup:
        return cls(
            template=SurveyTemplate.from_model(group.template),
            surveys=group.surveys,
            shown=group.shown,
            minimum_answers=results.THRESHOLD,
            responses=group.responses,
            average_rating=group.average_rating,
            questions=[SurveyQuestionResult.of(q) for q in group.questions],
        )
