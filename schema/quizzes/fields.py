"""Quiz fields: the learner's view of a quiz (never an answer key), the learner's attempts, the
online twin of the QUIZ_SUBMISSION record kind (the same service as a synced submission), manual
grading of open answers, and authoring (question banks and quizzes, the only views with keys)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.ojt import quiz_authoring, quiz_grading, quizzes
from backend.services.viewer import Viewer
from schema.connection import Connection
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.quizzes.types import (
    AuthoredQuiz,
    BankQuestion,
    CreateQuestionInput,
    GradeQuizAnswerInput,
    GradeQuizAnswerPayload,
    ModuleQuizPayload,
    QuestionPayload,
    QuizAttemptToGrade,
    QuizAttemptView,
    QuizView,
    SetModuleQuizInput,
    SubmitQuizAttemptInput,
    UpdateQuestionInput,
)
from schema.sync.records import RecordPayload, submit_record
from schema.sync.types import utc

PAGE_SIZE = "Page size, 0 to the configured maximum (100)."
AFTER = "endCursor of the previous page."


def _question_id(value: str, field: str) -> int:
    """A question id as the quiz views show it (digits), or a global Question ID."""
    text = str(value)
    if text.isdigit() and 0 < int(text) < 2**31:
        return int(text)
    return expect_global_id(text, "Question", field)


def _draft(input: CreateQuestionInput | UpdateQuestionInput, answer_key_given: bool) -> quiz_authoring.QuestionDraft:
    """A question as the author gave it; an update without ``answerKey`` leaves the key as it is."""
    return quiz_authoring.QuestionDraft(
        kind=input.kind,
        prompt=input.prompt,
        options=None if input.options is None else [{"key": o.key, "text": o.text} for o in input.options],
        answer_key=input.answer_key if answer_key_given else None,
        answer_key_given=answer_key_given,
        points=input.points,
        explanation=input.explanation,
    )


@strawberry.type
class QuizQueries:
    @strawberry.field(
        description="The quiz of a QUIZ module (no answer keys); NOT_FOUND if none is visible, NOT_ELIGIBLE when "
        "the viewer may not take its course (its rules or a missing prerequisite, as for enrolling)."
    )
    async def module_quiz(
        self,
        info: strawberry.Info,
        module_id: Annotated[strawberry.ID, strawberry.argument(description="The QUIZ CourseModule.")],
    ) -> QuizView:
        viewer = await info.context.require_viewer()
        module = expect_global_id(module_id, "CourseModule", "moduleId")
        return QuizView.from_model(await quizzes.quiz_for_student(viewer, module))

    @strawberry.field(description="The viewer's attempts at a module's quiz, first first.")
    async def my_quiz_attempts(
        self,
        info: strawberry.Info,
        module_id: Annotated[strawberry.ID, strawberry.argument(description="The QUIZ CourseModule.")],
    ) -> list[QuizAttemptView]:
        viewer = await info.context.require_viewer()
        module = expect_global_id(module_id, "CourseModule", "moduleId")
        return [QuizAttemptView.from_model(seen) for seen in await quizzes.my_attempts(viewer, module)]

    @strawberry.field(
        description="Quiz attempts with open answers awaiting a person, oldest first: the whole company's for "
        "HR admins and instructors, their current mentees' for mentors; FORBIDDEN for anyone else."
    )
    async def quiz_attempts_to_grade(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description=PAGE_SIZE)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[QuizAttemptToGrade]:
        viewer = await info.context.require_viewer()
        page = await quiz_grading.attempts_to_grade(viewer, first, after, info.context.settings.max_page_size)
        return Connection[QuizAttemptToGrade].from_page(page, QuizAttemptToGrade.from_model)

    @strawberry.field(
        description="A course's question bank with answer keys (HR admins and instructors).",
        deprecation_reason="Use questionBankConnection (pages, totalCount).",
    )
    async def question_bank(
        self,
        info: strawberry.Info,
        course_id: Annotated[strawberry.ID, strawberry.argument(description="The course.")],
    ) -> list[BankQuestion]:
        viewer = await info.context.require_viewer()
        rows = await quiz_authoring.question_bank(viewer, expect_global_id(course_id, "Course", "courseId"))
        return [BankQuestion.from_model(row) for row in rows]

    @strawberry.field(
        description="A course's question bank with answer keys, oldest first, a page at a time (HR admins and "
        "instructors)."
    )
    async def question_bank_connection(
        self,
        info: strawberry.Info,
        course_id: Annotated[strawberry.ID, strawberry.argument(description="The course.")],
        first: Annotated[int, strawberry.argument(description=PAGE_SIZE)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[BankQuestion]:
        viewer = await info.context.require_viewer()
        page = await quiz_authoring.question_bank_page(
            viewer,
            expect_global_id(course_id, "Course", "courseId"),
            first,
            after,
            info.context.settings.max_page_size,
        )
        return Connection[BankQuestion].from_page(page, BankQuestion.from_model)


@strawberry.type
class QuizMutations:
    @strawberry.mutation(
        description="Submit a finished quiz online: the QUIZ_SUBMISSION kind (refused NOT_ELIGIBLE when the "
        "viewer may not take the quiz's course)."
    )
    async def submit_quiz_attempt(
        self,
        info: strawberry.Info,
        input: Annotated[SubmitQuizAttemptInput, strawberry.argument(description="The answers.")],
    ) -> RecordPayload:
        payload = {"quizId": str(input.quiz_id), "answers": input.answers}
        if input.started_at is not None:
            payload["startedAt"] = utc(input.started_at).isoformat()
        return await submit_record(info, input.client_id, quizzes.QUIZ_SUBMISSION, input.submitted_at, payload)

    @strawberry.mutation(
        description="Give points to an open answer awaiting a person (HR admins, instructors, or the learner's "
        "current mentor). When none awaits any more the attempt is GRADED; a first pass counts the module."
    )
    async def grade_quiz_answer(
        self,
        info: strawberry.Info,
        input: Annotated[GradeQuizAnswerInput, strawberry.argument(description="The grade.")],
    ) -> GradeQuizAnswerPayload:
        async def work(viewer: Viewer) -> QuizAttemptToGrade:
            graded = await quiz_grading.grade_answer(
                viewer,
                expect_global_id(input.attempt_id, "QuizAttempt", "attemptId"),
                _question_id(input.question_id, "questionId"),
                input.points,
                input.comment,
            )
            return QuizAttemptToGrade.from_model(graded)

        return await mutate(info, work, lambda row, errors: GradeQuizAnswerPayload(attempt=row, errors=errors))

    @strawberry.mutation(description="Add a question to a course's bank (HR admins and instructors).")
    async def create_question(
        self,
        info: strawberry.Info,
        input: Annotated[CreateQuestionInput, strawberry.argument(description="The question.")],
    ) -> QuestionPayload:
        async def work(viewer: Viewer) -> BankQuestion:
            course = expect_global_id(input.course_id, "Course", "courseId")
            row = await quiz_authoring.create_question(viewer, course, _draft(input, answer_key_given=True))
            return BankQuestion.from_model(row)

        return await mutate(info, work, lambda row, errors: QuestionPayload(question=row, errors=errors))

    @strawberry.mutation(
        description="Change a bank question (HR admins and instructors); quizzes showing it get a new version."
    )
    async def update_question(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateQuestionInput, strawberry.argument(description="The changes.")],
    ) -> QuestionPayload:
        async def work(viewer: Viewer) -> BankQuestion:
            draft = _draft(input, answer_key_given=input.answer_key is not strawberry.UNSET)
            row = await quiz_authoring.update_question(viewer, _question_id(input.question_id, "questionId"), draft)
            return BankQuestion.from_model(row)

        return await mutate(info, work, lambda row, errors: QuestionPayload(question=row, errors=errors))

    @strawberry.mutation(
        description="Create or replace the quiz of a QUIZ module (HR admins and instructors): settings and "
        "questions in order. A replaced quiz gets a new version."
    )
    async def set_module_quiz(
        self,
        info: strawberry.Info,
        input: Annotated[SetModuleQuizInput, strawberry.argument(description="The quiz.")],
    ) -> ModuleQuizPayload:
        async def work(viewer: Viewer) -> AuthoredQuiz:
            quiz_authoring.require_author(viewer)  # before reading the question ids: FORBIDDEN comes first
            settings = quiz_authoring.QuizSettings(
                title=input.title,
                pass_mark=input.pass_mark,
                attempts_allowed=input.attempts_allowed,
                shuffle=input.shuffle,
                review_allowed=input.review_allowed,
                review_timing=input.review_timing,
                question_ids=[_question_id(q, "questionIds") for q in input.question_ids],
                time_limit_seconds=input.time_limit_seconds,
                closes_at=input.closes_at,
            )
            quiz = await quiz_authoring.set_module_quiz(
                viewer, expect_global_id(input.module_id, "CourseModule", "moduleId"), settings
            )
            return AuthoredQuiz.from_model(quiz, await quiz_authoring.authored_questions(quiz.id))

        return await mutate(info, work, lambda row, errors: ModuleQuizPayload(quiz=row, errors=errors))
