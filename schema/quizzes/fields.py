"""Quiz fields: the learner's view of a quiz (never an answer key), the learner's attempts, the
online twin of the QUIZ_SUBMISSION record kind (the same service as a synced submission), manual
grading of open answers, and authoring (question banks and quizzes, the only views with keys)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from backend.models import AttemptStatus as DomainAttemptStatus
from backend.models import Question, QuizAttempt
from backend.models import QuestionKind as DomainQuestionKind
from backend.models import ReviewTiming as DomainReviewTiming
from backend.services.ojt import quiz_authoring, quiz_grading, quizzes
from schema.common import UserError
from schema.connection import PageInfo
from schema.ids import expect_global_id, to_global_id
from schema.payloads import mutate as _mutate
from schema.sync.records import RecordPayload, submit_record
from schema.sync.types import utc

QuestionKind = strawberry.enum(
    DomainQuestionKind,
    name="QuestionKind",
    description='How a question is answered: SINGLE_CHOICE ("A"), MULTIPLE_CHOICE (["A", "C"]), '
    "TRUE_FALSE (true / false) or SHORT_TEXT (a string).",
)
AttemptStatus = strawberry.enum(
    DomainAttemptStatus,
    name="QuizAttemptStatus",
    description="GRADED, or NEEDS_MANUAL_GRADING while a short answer waits for a person.",
)
ReviewTiming = strawberry.enum(
    DomainReviewTiming,
    name="QuizReviewTiming",
    description="When a quiz that allows review shows per-question feedback (right or wrong, points, "
    "explanations): AFTER_EACH_ATTEMPT, or AFTER_FINAL_ATTEMPT (the default): only once the learner has "
    "passed, has no attempt left or the quiz has closed, so a failed attempt does not give the answers "
    "of the next one away. Until then an attempt shows its score, percent and pass only.",
)


@strawberry.type(description="One choice of a choice question.")
class QuizOption:
    key: str = strawberry.field(description='What to answer to pick it ("A").')
    text: str = strawberry.field(description="The choice as shown.")


@strawberry.type(description="A quiz question as a learner sees it.")
class QuizQuestionView:
    id: strawberry.ID = strawberry.field(description="The question id: the key of its answer in `answers`.")
    kind: QuestionKind = strawberry.field(description="How it is answered.")
    prompt: str = strawberry.field(description="The question.")
    options: list[QuizOption] = strawberry.field(description="The choices (empty for TRUE_FALSE and SHORT_TEXT).")
    points: Decimal = strawberry.field(description="What a correct answer is worth.")


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


@strawberry.type(
    description="How one question of an attempt went (only when the quiz allows review, at its review timing)."
)
class QuizQuestionFeedback:
    question_id: strawberry.ID = strawberry.field(description="The question id.")
    correct: bool | None = strawberry.field(description="Whether it was right; null while it awaits a person.")
    points_awarded: Decimal = strawberry.field(description="Points given.")
    explanation: str = strawberry.field(description="Why the answer is what it is.")
    comment: str = strawberry.field(description="What the grader wrote about an open answer (empty if nothing).")


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


@strawberry.input(description="A finished quiz, online.")
class SubmitQuizAttemptInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    quiz_id: strawberry.ID = strawberry.field(description="The QUIZ CourseModule.")
    answers: JSON = strawberry.field(description='{"<question id>": answer}; see QuestionKind for the shapes.')
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
        shuffle=quiz.shuffle,
        version=quiz.version,
        review_allowed=quiz.review_allowed,
        review_timing=DomainReviewTiming(quiz.review_timing),
        closes_at=quiz.closes_at,
        questions=[
            QuizQuestionView(
                id=strawberry.ID(str(q.id)),
                kind=q.kind,
                prompt=q.prompt,
                options=[QuizOption(key=o["key"], text=o["text"]) for o in q.options],
                points=q.points,
            )
            for q in student.questions
        ],
    )


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
    def from_model(cls, attempt: QuizAttempt, questions: dict[int, Question]) -> QuizAttemptToGrade:
        given = attempt.answers if isinstance(attempt.answers, dict) else {}
        answers = []
        for item in attempt.feedback if isinstance(attempt.feedback, list) else []:
            question = questions.get(item.get("questionId")) if isinstance(item, dict) else None
            if question is None:
                continue
            answers.append(
                QuizAnswerToGrade(
                    question_id=strawberry.ID(str(question.id)),
                    kind=DomainQuestionKind(question.kind),
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
            status=DomainAttemptStatus(attempt.status),
            answers=answers,
        )


@strawberry.type(description="An attempt in a page of attempts to grade.")
class QuizAttemptToGradeEdge:
    cursor: str = strawberry.field(description="Opaque cursor of this attempt.")
    node: QuizAttemptToGrade = strawberry.field(description="The attempt.")


@strawberry.type(description="A page of attempts awaiting a person, oldest first (Relay connection).")
class QuizAttemptToGradeConnection:
    edges: list[QuizAttemptToGradeEdge] = strawberry.field(description="Attempts of this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


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
        default=DomainReviewTiming.AFTER_FINAL_ATTEMPT,
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
            kind=DomainQuestionKind(row.kind),
            prompt=row.prompt,
            options=[QuizOption(key=o["key"], text=o["text"]) for o in quizzes.shown_options(row.options)],
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


@strawberry.type(description="Result of createQuestion and updateQuestion.")
class QuestionPayload:
    question: BankQuestion | None = strawberry.field(description="The question after the change.")
    errors: list[UserError] = strawberry.field(description="FORBIDDEN, NOT_FOUND, VALIDATION; empty on success.")


@strawberry.type(description="Result of setModuleQuiz.")
class ModuleQuizPayload:
    quiz: AuthoredQuiz | None = strawberry.field(description="The quiz after the change.")
    errors: list[UserError] = strawberry.field(description="FORBIDDEN, NOT_FOUND, VALIDATION; empty on success.")


def _question_id(value: str, field: str) -> int:
    """A question id as the quiz views show it (digits), or a global Question ID."""
    text = str(value)
    if text.isdigit() and 0 < int(text) < 2**31:
        return int(text)
    return expect_global_id(text, "Question", field)


def _options_given(options: list[QuizOptionInput] | None) -> list[dict[str, str]] | None:
    return None if options is None else [{"key": o.key, "text": o.text} for o in options]


async def _authored(quiz) -> AuthoredQuiz:
    return AuthoredQuiz(
        module_id=strawberry.ID(to_global_id("CourseModule", quiz.module_id)),
        title=quiz.title,
        pass_mark=quiz.pass_mark,
        time_limit_seconds=quiz.time_limit_seconds,
        attempts_allowed=quiz.attempts_allowed,
        shuffle=quiz.shuffle,
        review_allowed=quiz.review_allowed,
        review_timing=DomainReviewTiming(quiz.review_timing),
        closes_at=quiz.closes_at,
        version=quiz.version,
        questions=[BankQuestion.from_model(q) for q in await quiz_authoring.authored_questions(quiz.id)],
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
        return _view(await quizzes.quiz_for_student(viewer, expect_global_id(module_id, "CourseModule", "moduleId")))

    @strawberry.field(description="The viewer's attempts at a module's quiz, first first.")
    async def my_quiz_attempts(
        self,
        info: strawberry.Info,
        module_id: Annotated[strawberry.ID, strawberry.argument(description="The QUIZ CourseModule.")],
    ) -> list[QuizAttemptView]:
        viewer = await info.context.require_viewer()
        _, attempts, feedback = await quizzes.my_attempts(
            viewer, expect_global_id(module_id, "CourseModule", "moduleId")
        )
        return [
            QuizAttemptView(
                id=strawberry.ID(to_global_id("QuizAttempt", a.id)),
                attempt_no=a.attempt_no,
                submitted_at=a.submitted_at,
                score=a.score,
                max_score=a.max_score,
                percent=a.percent,
                passed=a.passed,
                status=DomainAttemptStatus(a.status),
                feedback=None
                if feedback is None
                else [
                    QuizQuestionFeedback(
                        question_id=strawberry.ID(str(f.question_id)),
                        correct=f.correct,
                        points_awarded=f.points_awarded,
                        explanation=f.explanation,
                        comment=f.comment,
                    )
                    for f in feedback[a.id]
                ],
            )
            for a in attempts
        ]

    @strawberry.field(
        description="Quiz attempts with open answers awaiting a person, oldest first: the whole company's for "
        "HR admins and instructors, their current mentees' for mentors; FORBIDDEN for anyone else."
    )
    async def quiz_attempts_to_grade(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> QuizAttemptToGradeConnection:
        viewer = await info.context.require_viewer()
        page = await quiz_grading.attempts_to_grade(viewer, first, after, info.context.settings.max_page_size)
        edges = [
            QuizAttemptToGradeEdge(cursor=page.cursor_of(a), node=QuizAttemptToGrade.from_model(a, page.questions))
            for a in page.attempts
        ]
        return QuizAttemptToGradeConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(description="A course's question bank with answer keys (HR admins and instructors).")
    async def question_bank(
        self,
        info: strawberry.Info,
        course_id: Annotated[strawberry.ID, strawberry.argument(description="The course.")],
    ) -> list[BankQuestion]:
        viewer = await info.context.require_viewer()
        rows = await quiz_authoring.question_bank(viewer, expect_global_id(course_id, "Course", "courseId"))
        return [BankQuestion.from_model(row) for row in rows]


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
        async def work(viewer):
            attempt = await quiz_grading.grade_answer(
                viewer,
                expect_global_id(input.attempt_id, "QuizAttempt", "attemptId"),
                _question_id(input.question_id, "questionId"),
                input.points,
                input.comment,
            )
            return QuizAttemptToGrade.from_model(attempt, await quiz_grading.grading_questions(viewer, attempt))

        return await _mutate(info, work, lambda row, errors: GradeQuizAnswerPayload(attempt=row, errors=errors))

    @strawberry.mutation(description="Add a question to a course's bank (HR admins and instructors).")
    async def create_question(
        self,
        info: strawberry.Info,
        input: Annotated[CreateQuestionInput, strawberry.argument(description="The question.")],
    ) -> QuestionPayload:
        async def work(viewer):
            draft = quiz_authoring.QuestionDraft(
                kind=input.kind,
                prompt=input.prompt,
                options=_options_given(input.options),
                answer_key=input.answer_key,
                answer_key_given=True,
                points=input.points,
                explanation=input.explanation,
            )
            row = await quiz_authoring.create_question(
                viewer, expect_global_id(input.course_id, "Course", "courseId"), draft
            )
            return BankQuestion.from_model(row)

        return await _mutate(info, work, lambda row, errors: QuestionPayload(question=row, errors=errors))

    @strawberry.mutation(
        description="Change a bank question (HR admins and instructors); quizzes showing it get a new version."
    )
    async def update_question(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateQuestionInput, strawberry.argument(description="The changes.")],
    ) -> QuestionPayload:
        async def work(viewer):
            given = input.answer_key is not strawberry.UNSET
            draft = quiz_authoring.QuestionDraft(
                kind=input.kind,
                prompt=input.prompt,
                options=_options_given(input.options),
                answer_key=input.answer_key if given else None,
                answer_key_given=given,
                points=input.points,
                explanation=input.explanation,
            )
            row = await quiz_authoring.update_question(viewer, _question_id(input.question_id, "questionId"), draft)
            return BankQuestion.from_model(row)

        return await _mutate(info, work, lambda row, errors: QuestionPayload(question=row, errors=errors))

    @strawberry.mutation(
        description="Create or replace the quiz of a QUIZ module (HR admins and instructors): settings and "
        "questions in order. A replaced quiz gets a new version."
    )
    async def set_module_quiz(
        self,
        info: strawberry.Info,
        input: Annotated[SetModuleQuizInput, strawberry.argument(description="The quiz.")],
    ) -> ModuleQuizPayload:
        async def work(viewer):
            quiz_authoring.require_author(viewer)
            settings = quiz_authoring.QuizSettings(
                title=input.title,
                pass_mark=input.pass_mark,
                attempts_allowed=input.attempts_allowed,
                shuffle=input.shuffle,
                review_allowed=input.review_allowed,
                review_timing=DomainReviewTiming(input.review_timing),
                question_ids=[_question_id(q, "questionIds") for q in input.question_ids],
                time_limit_seconds=input.time_limit_seconds,
                closes_at=input.closes_at,
            )
            quiz = await quiz_authoring.set_module_quiz(
                viewer, expect_global_id(input.module_id, "CourseModule", "moduleId"), settings
            )
            return await _authored(quiz)

        return await _mutate(info, work, lambda row, errors: ModuleQuizPayload(quiz=row, errors=errors))
