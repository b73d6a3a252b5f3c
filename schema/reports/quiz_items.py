"""Quiz item analysis (backend/services/reports/quiz_items.py) for the quiz's authors."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.models import QuestionKind
from backend.services.reports import quiz_items
from schema.ids import expect_global_id, to_global_id
from schema.reports.inputs import ReportFilterInput

strawberry.enum(
    quiz_items.ItemFlag,
    name="QuizItemFlag",
    description="Why a question deserves a look: NEGATIVE_DISCRIMINATION (discrimination below 0), TOO_HARD "
    "(share correct below 0.2), TOO_EASY (share correct above 0.95).",
)


@strawberry.type(description="One option of a choice question (true/false: keys TRUE and FALSE).")
class QuizItemOption:
    key: str = strawberry.field(description="The option's key (A, B, …; TRUE or FALSE).")
    text: str = strawberry.field(description="The option's text.")
    correct: bool = strawberry.field(description="Whether the answer key holds this option.")
    chosen: int = strawberry.field(description="Analysed attempts that chose it.")


@strawberry.type(description="A wrong short-text answer, normalised as grading compares text.")
class QuizItemWrongAnswer:
    answer: str = strawberry.field(description="The answer (NFKC, case-folded, spaces collapsed; 100 characters).")
    count: int = strawberry.field(description="Analysed attempts that gave it.")


@strawberry.type(description="How one question of the quiz did.")
class QuizItem:
    question_id: strawberry.ID = strawberry.field(description="The Question's global ID.")
    position: int = strawberry.field(description="Its place in the quiz.")
    prompt: str = strawberry.field(description="The question's prompt.")
    kind: QuestionKind = strawberry.field(description="How it is answered.")
    attempts: int = strawberry.field(
        description="Analysed attempts whose grading covers this question (a blank answer counts, as wrong)."
    )
    correct: int = strawberry.field(description="Of those, graded right.")
    share_correct: float | None = strawberry.field(
        description="correct / attempts, 3 decimals; null when no attempt covers the question."
    )
    discrimination: float | None = strawberry.field(
        description="Share correct among the top 27% of attempts by percent minus among the bottom 27% (groups "
        "rounded half up; ties: earlier attempt ranks higher), 3 decimals; null below 10 analysed attempts."
    )
    options: list[QuizItemOption] = strawberry.field(
        description="Choice and true/false questions: every option with how often it was chosen; empty otherwise."
    )
    wrong_answers: list[QuizItemWrongAnswer] = strawberry.field(
        description="Short-text questions: the five most common wrong answers (blanks left out); empty otherwise."
    )
    flags: list[quiz_items.ItemFlag] = strawberry.field(description="Why the question deserves a look; empty if not.")

    @classmethod
    def from_domain(cls, item: quiz_items.ItemAnalysis) -> QuizItem:
        return cls(
            question_id=strawberry.ID(to_global_id("Question", item.question_id)),
            position=item.position,
            prompt=item.prompt,
            kind=item.kind,
            attempts=item.attempts,
            correct=item.correct,
            share_correct=item.share_correct,
            discrimination=item.discrimination,
            options=[QuizItemOption(key=o.key, text=o.text, correct=o.correct, chosen=o.chosen) for o in item.options],
            wrong_answers=[QuizItemWrongAnswer(answer=w.answer, count=w.count) for w in item.wrong_answers],
            flags=item.flags,
        )


@strawberry.type(
    description="Item analysis of a quiz: GRADED attempts (by default each person's first attempt only), per "
    "question in quiz order."
)
class QuizItemAnalysis:
    quiz_id: strawberry.ID = strawberry.field(description="The quiz, as its QUIZ CourseModule's global ID.")
    title: str = strawberry.field(description="The quiz's title.")
    all_attempts: bool = strawberry.field(description="Whether every attempt was analysed, not only first ones.")
    attempts: int = strawberry.field(description="Attempts analysed.")
    items: list[QuizItem] = strawberry.field(description="The questions, in quiz order.")


@strawberry.type
class QuizItemQueries:
    @strawberry.field(
        description="How each question of a quiz did (share correct, options chosen, common wrong answers, "
        "discrimination). HR admins, and instructors of a session of the quiz's course; others FORBIDDEN."
    )
    async def quiz_item_analysis(
        self,
        info: strawberry.Info,
        quiz_id: Annotated[strawberry.ID, strawberry.argument(description="The quiz's QUIZ CourseModule ID.")],
        filter: Annotated[
            ReportFilterInput | None,
            strawberry.argument(
                description="Submission days (the company's local days) and where the people are now; course and "
                "scenario are ignored. Every attempt when omitted."
            ),
        ] = None,
        all_attempts: Annotated[
            bool, strawberry.argument(description="Analyse every attempt, not only each person's first.")
        ] = False,
    ) -> QuizItemAnalysis:
        viewer = await info.context.require_viewer()
        module_id = expect_global_id(quiz_id, "CourseModule", "quizId")
        report_filter = filter.to_domain() if filter is not None else None
        report = await quiz_items.quiz_item_analysis(viewer, module_id, report_filter, all_attempts)
        return QuizItemAnalysis(
            quiz_id=strawberry.ID(to_global_id("CourseModule", report.quiz_id)),
            title=report.title,
            all_attempts=report.all_attempts,
            attempts=report.attempts,
            items=[QuizItem.from_domain(item) for item in report.items],
        )
