"""Quiz types: the learner's view of a quiz (never an answer key) and of their attempts, a grader's
view of open answers, question banks and quizzes as their authors see them (the only views with
keys), and the inputs and payloads of the quiz mutations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON

from backend.models import AttemptStatus, Question, QuestionKind, Quiz, ReviewTiming
from backend.services.ojt import quiz_grading, quizzes
from backend.services.ojt.question_kinds import StudentQuestion, shown_options
from schema.common import UserError
from schema.ids import to_global_id

# The domain enums are the GraphQL enums: strawberry.enum registers each one in place.
strawberry.enum(
    QuestionKind,
    name="QuestionKind",
    description='How a question is answered: SINGLE_CHOICE ("A"), MULTIPLE_CHOICE (["A", "C"]), '
    "TRUE_FALSE (true / false) or SHORT_TEXT (a string).",
)
strawberry.enum(
    AttemptStatus,
    name="QuizAttemptStatus",
    description="GRADED, or NEEDS_MANUAL_GRADING while a short answer waits for a person.",
)
strawberry.enum(
    ReviewTiming,
    name="QuizReviewTiming",
    description="When a quiz that allows review shows per-question feedback (right or wrong, points, "
    "explanations): AFTER_EACH_ATTEMPT, or AFTER_FINAL_ATTEMPT (the default): only once the learner has "
    "passed, has no attempt left or the quiz has closed, so a failed attempt does not give the answers "
    "of the next one away. Until then an attempt shows its score, percent and pass only.",
)


def _settings_of(quiz: Quiz) -> dict[str, Any]:
    """The fields a learner's and an author's view of a quiz share."""
    return {
        "module_id": strawberry.ID(to_global_id("CourseModule", quiz.module_id)),
        "title": quiz.title,
        "pass_mark": quiz.pass_mark,
        "time_limit_seconds": quiz.time_limit_seconds,
        "attempts_allowed": quiz.attempts_allowed,
        "shuffle": quiz.shuffle,
        "version": quiz.version,
        "review_allowed": quiz.review_allowed,
        "review_timing": ReviewTiming(quiz.review_timing),
        "closes_at": quiz.closes_at,
    }


@strawberry.type(description="One choice of a choice question.")
class QuizOption:
    key: str = strawberry.field(description='What to answer to pick it ("A").')
    text: str = strawberry.field(description="The choice as shown.")

    @classmethod
    def from_dict(cls, option: dict[str, str]) -> QuizOption:
        return cls(key=option["key"], text=option["text"])


@strawberry.type(description="A quiz question as a learner sees it.")
class QuizQuestionView:
    id: strawberry.ID = strawberry.field(description="The question id: the key of its answer in `answers`.")
    kind: QuestionKind = strawberry.field(description="How it is answered.")
    prompt: str = strawberry.field(description="The question.")
    options: list[QuizOption] = strawberry.field(description="The choices (empty for TRUE_FALSE and SHORT_TEXT).")
    points: Decimal = strawberry.field(description="What a correct answer is worth.")

    @classmethod
    def from_model(cls, question: StudentQuestion) -> QuizQuestionView:
        return cls(
            id=strawberry.ID(str(question.id)),
            kind=question.kind,
            prompt=question.prompt,
            options=[QuizOption.from_dict(o) for o in question.options],
            points=question.points,
        )


@strawberry.type(
    description="The quiz of a QUIZ module, as a learner sees it. When `shuffle` is on, the questions and "
    "each question's options come in an order of their own for each learner and attempt (the same order "
    "when asked again before submitting, another for the next attempt); option keys never change, so "
    "answers name keys, not positions."
)
class QuizView:
    module_id: strawberry.ID = strawberry.field(description="The QUIZ CourseModule (quizId when submitting).")
    title: str = strawberry.field(description="The quiz title.")
    pass_mark: int = strawberry.field(description="Percent needed to pass.")
    time_limit_seconds: int | None = strawberry.field(description="Time allowed, seconds; null for no limit.")
    attempts_allowed: int = strawberry.field(description="Attempts allowed.")
    attempts_used: int = strawberry.field(description="Attempts the viewer has made.")
    shuffle: bool = strawberry.field(description="Whether questions and options are shuffled per attempt.")
    version: int = strawberry.field(description="Changes whenever the author changes the quiz or a question.")
    review_allowed: bool = strawberry.field(description="Whether attempts show per-question feedback.")
    review_timing: ReviewTiming = strawberry.field(description="When attempts show it (with review allowed).")
    closes_at: datetime | None = strawberry.field(description="Answers finished after this do not count.")
    questions: list[QuizQuestionView] = strawberry.field(
        description="The questions, in the order to show (shuffled per attempt when the quiz says so)."
    )

    @classmethod
    def from_model(cls, student: quizzes.StudentQuiz) -> QuizView:
        return cls(
            **_settings_of(student.quiz),
            attempts_used=student.attempts_used,
            questions=[QuizQuestionView.from_model(q) for q in student.questions],
        )


@strawberry.type(
    description="How one question of an attempt went (only when the quiz allows review, at its review timing)."
)
class QuizQuestionFeedback:
    question_id: strawberry.ID = strawberry.field(description="The question id.")
    correct: bool | None = strawberry.field(description="Whether it was right; null while it awaits a person.")
    points_awarded: Decimal = strawberry.field(description="Points given.")
    explanation: str = strawberry.field(description="Why the answer is what it is.")
    comment: str = strawberry.field(description="What the grader wrote about an open answer (empty if nothing).")

    @classmethod
    def from_model(cls, feedback: quizzes.AttemptFeedback) -> QuizQuestionFeedback:
        return cls(
            question_id=strawberry.ID(str(feedback.question_id)),
            correct=feedback.correct,
            points_awarded=feedback.points_awarded,
            explanation=feedback.explanation,
            comment=feedback.comment,
        )


@strawberry.type(description="One of the viewer's graded attempts at a quiz.")
class QuizAttemptView:
    id: strawberry.ID = strawberry.field(description="Global ID of the attempt (the QUIZ_ATTEMPT feed row).")
    attempt_no: int = strawberry.field(description="1 for the first attempt.")
    submitted_at: datetime = strawberry.field(description="When it was finished (corrected device time).")
    score: Decimal = strawberry.field(description="Points awarded.")
    max_score: Decimal = strawberry.field(description="Points available.")
    percent: int = strawberry.field(description="Score as a whole percent, rounded down.")
    passed: bool = strawberry.field(description="Whether it reached the pass mark.")
    status: AttemptStatus = strawberry.field(description="GRADED or NEEDS_MANUAL_GRADING.")
    feedback: list[QuizQuestionFeedback] | None = strawberry.field(
        description="Per-question feedback; null when the quiz does not allow review, and with reviewTiming "
        "AFTER_FINAL_ATTEMPT until the viewer has passed, has no attempt left or the quiz has closed (then "
        "every attempt shows it)."
    )

    @classmethod
    def from_model(cls, seen: quizzes.LearnerAttempt) -> QuizAttemptView:
        attempt = seen.attempt
        return cls(
            id=strawberry.ID(to_global_id("QuizAttempt", attempt.id)),
            attempt_no=attempt.attempt_no,
            submitted_at=attempt.submitted_at,
            score=attempt.score,
            max_score=attempt.max_score,
            percent=attempt.percent,
            passed=attempt.passed,
            status=AttemptStatus(attempt.status),
            feedback=None if seen.feedback is None else [QuizQuestionFeedback.from_model(f) for f in seen.feedback],
        )


@strawberry.input(description="A finished quiz, online.")
class SubmitQuizAttemptInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    quiz_id: strawberry.ID = strawberry.field(description="The QUIZ CourseModule.")
    answers: JSON = strawberry.field(description='{"<question id>": answer}; see QuestionKind for the shapes.')
    started_at: datetime | None = strawberry.field(default=None, description="When the learner started.")
    submitted_at: datetime | None = strawberry.field(default=None, description="When it was finished; now if omitted.")


# --- manual grading ------------------------------------------------------------------------


@strawberry.type(description="One question of an attempt, as a grader sees it.")
class QuizAnswerToGrade:
    question_id: strawberry.ID = strawberry.field(description="The question id (questionId when grading).")
    kind: QuestionKind = strawberry.field(description="How it is answered.")
    prompt: str = strawberry.field(description="The question.")
    answer: JSON | None = strawberry.field(description="What the learner answered (null if nothing).")
    points: Decimal = strawberry.field(description="Most points it can get.")
    points_awarded: Decimal = strawberry.field(description="Points given so far.")
    correct: bool | None = strawberry.field(description="Whether it was right; null while it awaits a person.")
    awaiting_grading: bool = strawberry.field(description="Whether a person still has to grade it.")
    comment: str = strawberry.field(description="What the grader wrote (empty if nothing).")


@strawberry.type(description="A quiz attempt with open answers, as a grader sees it.")
class QuizAttemptToGrade:
    id: strawberry.ID = strawberry.field(description="Global ID of the attempt (attemptId when grading).")
    learner_id: strawberry.ID = strawberry.field(description="The learner (Employee).")
    learner_name: str = strawberry.field(description="The learner's name.")
    employee_no: str = strawberry.field(description="The learner's employee number (工号).")
    module_id: strawberry.ID = strawberry.field(description="The QUIZ CourseModule.")
    quiz_title: str = strawberry.field(description="The quiz title.")
    attempt_no: int = strawberry.field(description="1 for the learner's first attempt.")
    submitted_at: datetime = strawberry.field(description="When it was finished.")
    score: Decimal = strawberry.field(description="Points awarded so far.")
    max_score: Decimal = strawberry.field(description="Points available.")
    percent: int = strawberry.field(description="Score as a whole percent, rounded down.")
    passed: bool = strawberry.field(description="Whether it has reached the pass mark.")
    status: AttemptStatus = strawberry.field(description="GRADED once no answer awaits a person.")
    answers: list[QuizAnswerToGrade] = strawberry.field(description="Every question of the attempt, in quiz order.")

    @classmethod
    def from_model(cls, shown: quiz_grading.AttemptToGrade) -> QuizAttemptToGrade:
        attempt, questions = shown.attempt, shown.questions
        given = attempt.answers if isinstance(attempt.answers, dict) else {}
        answers = []
        for item in quizzes.feedback_items(attempt.feedback):
            question = questions.get(item["questionId"])
            if question is None:
                continue
            answers.append(
                QuizAnswerToGrade(
                    question_id=strawberry.ID(str(question.id)),
                    kind=QuestionKind(question.kind),
                    prompt=question.prompt,
                    answer=given.get(str(question.id)),
                    points=Decimal(str(item.get("maxPoints") or question.points)),
                    points_awarded=Decimal(str(item.get("pointsAwarded", "0"))),
                    correct=item.get("correct"),
                    awaiting_grading=bool(item.get("needsManual")),
                    comment=str(item.get("comment") or ""),
                )
            )
        return cls(
            id=strawberry.ID(to_global_id("QuizAttempt", attempt.id)),
            learner_id=strawberry.ID(to_global_id("Employee", attempt.employee_id)),
            learner_name=attempt.employee.name,
            employee_no=attempt.employee.employee_no,
            module_id=strawberry.ID(to_global_id("CourseModule", attempt.quiz.module_id)),
            quiz_title=attempt.quiz.title,
            attempt_no=attempt.attempt_no,
            submitted_at=attempt.submitted_at,
            score=attempt.score,
            max_score=attempt.max_score,
            percent=attempt.percent,
            passed=attempt.passed,
            status=AttemptStatus(attempt.status),
            answers=answers,
        )


@strawberry.input(description="Points for one open answer of an attempt.")
class GradeQuizAnswerInput:
    attempt_id: strawberry.ID = strawberry.field(description="Global ID of the QuizAttempt.")
    question_id: strawberry.ID = strawberry.field(description="The question id (as in QuizAnswerToGrade).")
    points: Decimal = strawberry.field(description="Points given, 0 to the question's points, in steps of 0.1.")
    comment: str = strawberry.field(default="", description="A word for the learner (at most 500 characters).")


@strawberry.type(description="Result of gradeQuizAnswer.")
class GradeQuizAnswerPayload:
    attempt: QuizAttemptToGrade | None = strawberry.field(description="The attempt after grading.")
    errors: list[UserError] = strawberry.field(
        description="FORBIDDEN, NOT_FOUND, ALREADY_GRADED, VALIDATION; empty on success."
    )


# --- authoring -----------------------------------------------------------------------------


@strawberry.input(description="One choice of a choice question.")
class QuizOptionInput:
    key: str = strawberry.field(description='What a learner answers to pick it ("A"), unique in the question.')
    text: str = strawberry.field(description="The choice as shown.")


@strawberry.input(description="A new question for a course's bank.")
class CreateQuestionInput:
    course_id: strawberry.ID = strawberry.field(description="The course whose bank it joins.")
    kind: QuestionKind = strawberry.field(description="How it is answered.")
    prompt: str = strawberry.field(description="The question.")
    options: list[QuizOptionInput] = strawberry.field(
        default_factory=list, description="2 to 10 choices for choice kinds; none for TRUE_FALSE and SHORT_TEXT."
    )
    answer_key: JSON | None = strawberry.field(
        default=None,
        description='SINGLE_CHOICE: one option key ("A"); MULTIPLE_CHOICE: option keys (["A", "C"], all '
        "needed); TRUE_FALSE: true or false; SHORT_TEXT: {exact?: [..], keywords?: [..], minKeywords?: n}, "
        "or {} / null when a person grades it.",
    )
    points: Decimal = strawberry.field(default=Decimal(1), description="What a right answer is worth, 0.1 to 1000.")
    explanation: str = strawberry.field(default="", description="Why the answer is what it is (shown on review).")


@strawberry.input(description="Changes to a bank question; omitted fields stay as they are.")
class UpdateQuestionInput:
    question_id: strawberry.ID = strawberry.field(description="The question id (or its global Question ID).")
    kind: QuestionKind | None = strawberry.field(default=None, description="New kind (needs a key that suits it).")
    prompt: str | None = strawberry.field(default=None, description="New question text.")
    options: list[QuizOptionInput] | None = strawberry.field(default=None, description="New choices.")
    answer_key: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="New answer key (see CreateQuestionInput.answerKey)."
    )
    points: Decimal | None = strawberry.field(default=None, description="New points.")
    explanation: str | None = strawberry.field(default=None, description="New explanation.")


@strawberry.input(description="The quiz of a QUIZ module: created, or replaced as a whole.")
class SetModuleQuizInput:
    module_id: strawberry.ID = strawberry.field(description="The QUIZ CourseModule.")
    title: str = strawberry.field(description="The quiz title.")
    pass_mark: int = strawberry.field(description="Percent needed to pass, 0–100.")
    time_limit_seconds: int | None = strawberry.field(default=None, description="Time allowed, seconds; null for none.")
    attempts_allowed: int = strawberry.field(default=3, description="Attempts allowed, at least 1.")
    shuffle: bool = strawberry.field(default=True, description="Shuffle questions and options per attempt.")
    review_allowed: bool = strawberry.field(
        default=True, description="Whether learners see per-question feedback and explanations after submitting."
    )
    review_timing: ReviewTiming = strawberry.field(
        default=ReviewTiming.AFTER_FINAL_ATTEMPT,
        description="When they see it: AFTER_FINAL_ATTEMPT (default: once passed, out of attempts or closed) "
        "or AFTER_EACH_ATTEMPT.",
    )
    closes_at: datetime | None = strawberry.field(default=None, description="Answers finished after this do not count.")
    question_ids: list[strawberry.ID] = strawberry.field(
        description="The questions in order, all from the module's course's bank."
    )


@strawberry.type(description="A bank question as its authors see it, answer key included.")
class BankQuestion:
    id: strawberry.ID = strawberry.field(description="The question id (as in QuizQuestionView.id).")
    course_id: strawberry.ID = strawberry.field(description="The course of the bank.")
    kind: QuestionKind = strawberry.field(description="How it is answered.")
    prompt: str = strawberry.field(description="The question.")
    options: list[QuizOption] = strawberry.field(description="The choices.")
    answer_key: JSON | None = strawberry.field(description="The answer key (see CreateQuestionInput.answerKey).")
    points: Decimal = strawberry.field(description="What a right answer is worth.")
    explanation: str = strawberry.field(description="Why the answer is what it is.")

    @classmethod
    def from_model(cls, row: Question) -> BankQuestion:
        return cls(
            id=strawberry.ID(str(row.id)),
            course_id=strawberry.ID(to_global_id("Course", row.course_id)),
            kind=QuestionKind(row.kind),
            prompt=row.prompt,
            options=[QuizOption.from_dict(o) for o in shown_options(row.options)],
            answer_key=row.answer_key,
            points=Decimal(str(row.points)),
            explanation=row.explanation,
        )


@strawberry.type(description="A quiz as its authors see it.")
class AuthoredQuiz:
    module_id: strawberry.ID = strawberry.field(description="The QUIZ CourseModule.")
    title: str = strawberry.field(description="The quiz title.")
    pass_mark: int = strawberry.field(description="Percent needed to pass.")
    time_limit_seconds: int | None = strawberry.field(description="Time allowed, seconds; null for no limit.")
    attempts_allowed: int = strawberry.field(description="Attempts allowed.")
    shuffle: bool = strawberry.field(description="Whether questions and options are shuffled per attempt.")
    review_allowed: bool = strawberry.field(description="Whether learners may review their attempts.")
    review_timing: ReviewTiming = strawberry.field(description="When they may (with review allowed).")
    closes_at: datetime | None = strawberry.field(description="Answers finished after this do not count.")
    version: int = strawberry.field(description="1 when created, + 1 on every change.")
    questions: list[BankQuestion] = strawberry.field(description="The questions in order, with keys.")

    @classmethod
    def from_model(cls, quiz: Quiz, questions: list[Question]) -> AuthoredQuiz:
        return cls(**_settings_of(quiz), questions=[BankQuestion.from_model(q) for q in questions])


@strawberry.type(description="Result of createQuestion and updateQuestion.")
class QuestionPayload:
    question: BankQuestion | None = strawberry.field(description="The question after the change.")
    errors: list[UserError] = strawberry.field(description="FORBIDDEN, NOT_FOUND, VALIDATION; empty on success.")


@strawberry.type(description="Result of setModuleQuiz.")
class ModuleQuizPayload:
    quiz: AuthoredQuiz | None = strawberry.field(description="The quiz after the change.")
    errors: list[UserError] = strawberry.field(description="FORBIDDEN, NOT_FOUND, VALIDATION; empty on success.")
