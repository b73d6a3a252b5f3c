"""Quiz fields: the learner's view of a quiz (never an answer key), the learner's attempts, and
the online twin of the QUIZ_SUBMISSION record kind (the same service as a synced submission)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from backend.models import AttemptStatus as DomainAttemptStatus
from backend.models import QuestionKind as DomainQuestionKind
from backend.services import quizzes
from schema.ids import expect_global_id, to_global_id
from schema.sync_fields import RecordPayload, _one_record
from schema.types.sync import utc

QuestionKind = strawberry.enum(
    DomainQuestionKind, name="QuestionKind",
    description="How a question is answered: SINGLE_CHOICE (\"A\"), MULTIPLE_CHOICE ([\"A\", \"C\"]), "
    "TRUE_FALSE (true / false) or SHORT_TEXT (a string).",
)
AttemptStatus = strawberry.enum(
    DomainAttemptStatus, name="QuizAttemptStatus",
    description="GRADED, or NEEDS_MANUAL_GRADING while a short answer waits for a person.",
)


@strawberry.type(description="One choice of a choice question.")
class QuizOption:
    key: str = strawberry.field(description="What to answer to pick it (\"A\").")
    text: str = strawberry.field(description="The choice as shown.")


@strawberry.type(description="A quiz question as a learner sees it.")
class QuizQuestionView:
    id: strawberry.ID = strawberry.field(description="The question id: the key of its answer in `answers`.")
    kind: QuestionKind = strawberry.field(description="How it is answered.")
    prompt: str = strawberry.field(description="The question.")
    options: list[QuizOption] = strawberry.field(description="The choices (empty for TRUE_FALSE and SHORT_TEXT).")
    points: Decimal = strawberry.field(description="What a correct answer is worth.")


@strawberry.type(description="The quiz of a QUIZ module, as a learner sees it.")
class QuizView:
    module_id: strawberry.ID = strawberry.field(description="The QUIZ CourseModule (quizId when submitting).")
    title: str = strawberry.field(description="The quiz title.")
    pass_mark: int = strawberry.field(description="Percent needed to pass.")
    time_limit_seconds: int | None = strawberry.field(description="Time allowed, seconds; null for no limit.")
    attempts_allowed: int = strawberry.field(description="Attempts allowed.")
    attempts_used: int = strawberry.field(description="Attempts the viewer has made.")
    review_allowed: bool = strawberry.field(description="Whether attempts show per-question feedback.")
    closes_at: datetime | None = strawberry.field(description="Answers finished after this do not count.")
    questions: list[QuizQuestionView] = strawberry.field(
        description="The questions, in the order to show (shuffled per attempt when the quiz says so)."
    )


@strawberry.type(description="How one question of an attempt went (only when the quiz allows review).")
class QuizQuestionFeedback:
    question_id: strawberry.ID = strawberry.field(description="The question id.")
    correct: bool | None = strawberry.field(description="Whether it was right; null while it awaits a person.")
    points_awarded: Decimal = strawberry.field(description="Points given.")
    explanation: str = strawberry.field(description="Why the answer is what it is.")


@strawberry.type(description="One of the viewer's graded attempts at a quiz.")
class QuizAttemptView:
    attempt_no: int = strawberry.field(description="1 for the first attempt.")
    submitted_at: datetime = strawberry.field(description="When it was finished (corrected device time).")
    score: Decimal = strawberry.field(description="Points awarded.")
    max_score: Decimal = strawberry.field(description="Points available.")
    percent: int = strawberry.field(description="Score as a whole percent, rounded down.")
    passed: bool = strawberry.field(description="Whether it reached the pass mark.")
    status: AttemptStatus = strawberry.field(description="GRADED or NEEDS_MANUAL_GRADING.")
    feedback: list[QuizQuestionFeedback] | None = strawberry.field(
        description="Per-question feedback; null when the quiz does not allow review."
    )


@strawberry.input(description="A finished quiz, online.")
class SubmitQuizAttemptInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    quiz_id: strawberry.ID = strawberry.field(description="The QUIZ CourseModule.")
    answers: JSON = strawberry.field(description="{\"<question id>\": answer}; see QuestionKind for the shapes.")
    started_at: datetime | None = strawberry.field(default=None, description="When the learner started.")
    submitted_at: datetime | None = strawberry.field(default=None, description="When it was finished; now if omitted.")


def _view(student: quizzes.StudentQuiz) -> QuizView:
    quiz = student.quiz
    return QuizView(
        module_id=strawberry.ID(to_global_id("CourseModule", quiz.module_id)),
        title=quiz.title,
        pass_mark=quiz.pass_mark,
        time_limit_seconds=quiz.time_limit_seconds,
        attempts_allowed=quiz.attempts_allowed,
        attempts_used=student.attempts_used,
        review_allowed=quiz.review_allowed,
        closes_at=quiz.closes_at,
        questions=[
            QuizQuestionView(
                id=strawberry.ID(str(q.id)), kind=q.kind, prompt=q.prompt,
                options=[QuizOption(key=o["key"], text=o["text"]) for o in q.options], points=q.points,
            )
            for q in student.questions
        ],
    )


@strawberry.type
class QuizQueries:
    @strawberry.field(description="The quiz of a QUIZ module (no answer keys); NOT_FOUND if none is visible.")
    async def module_quiz(
        self, info: strawberry.Info,
        module_id: Annotated[strawberry.ID, strawberry.argument(description="The QUIZ CourseModule.")],
    ) -> QuizView:
        viewer = await info.context.require_viewer()
        return _view(await quizzes.quiz_for_student(viewer, expect_global_id(module_id, "CourseModule", "moduleId")))

    @strawberry.field(description="The viewer's attempts at a module's quiz, first first.")
    async def my_quiz_attempts(
        self, info: strawberry.Info,
        module_id: Annotated[strawberry.ID, strawberry.argument(description="The QUIZ CourseModule.")],
    ) -> list[QuizAttemptView]:
        viewer = await info.context.require_viewer()
        _, attempts, feedback = await quizzes.my_attempts(
            viewer, expect_global_id(module_id, "CourseModule", "moduleId")
        )
        return [
            QuizAttemptView(
                attempt_no=a.attempt_no, submitted_at=a.submitted_at, score=a.score, max_score=a.max_score,
                percent=a.percent, passed=a.passed, status=DomainAttemptStatus(a.status),
                feedback=None if feedback is None else [
                    QuizQuestionFeedback(
                        question_id=strawberry.ID(str(f.question_id)), correct=f.correct,
                        points_awarded=f.points_awarded, explanation=f.explanation,
                    )
                    for f in feedback[a.id]
                ],
            )
            for a in attempts
        ]


@strawberry.type
class QuizMutations:
    @strawberry.mutation(description="Submit a finished quiz online: the QUIZ_SUBMISSION kind.")
    async def submit_quiz_attempt(
        self, info: strawberry.Info,
        input: Annotated[SubmitQuizAttemptInput, strawberry.argument(description="The answers.")],
    ) -> RecordPayload:
        payload = {"quizId": str(input.quiz_id), "answers": input.answers}
        if input.started_at is not None:
            payload["startedAt"] = utc(input.started_at).isoformat()
        return await _one_record(info, input.client_id, quizzes.QUIZ_SUBMISSION, input.submitted_at, payload)
