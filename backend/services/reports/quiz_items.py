"""Quiz item analysis (题目分析) for the quiz's authors: how each question did.

Which attempts: GRADED attempts of the quiz (an attempt waiting for manual grading has no verdict
yet), by default only each person's first attempt (attempt 1: what they knew before they had seen
the questions), or all of them; the optional filter narrows by submission day (the company's local
days) and by where the people are now (org unit subtree, site, position). Attempts are read in
chunks of ``CHUNK`` by id, so a quiz with 50,000 attempts never sits in memory as rows; what is
kept per attempt is its percent and its verdict per question.

Per question, in quiz order, figures come from the attempts' stored feedback (``correct`` per
question id, as grading wrote it) and answers (keyed by the question id as text):

- ``attempts``: analysed attempts whose feedback grades the question (a blank answer counts, as
  wrong); ``correct``: those graded right; ``share_correct`` = correct / attempts (None when 0);
- choice questions (and true/false, as two options): how many attempts chose each option, the
  right ones marked; short text: the five most common wrong answers (compared as grading compares
  text: NFKC, case-folded, spaces collapsed; blanks left out);
- ``discrimination``: the classic upper–lower index. Attempts are ranked by percent (ties: earlier
  attempt first); the top and bottom groups are each 27% of them, rounded half up; the index is
  the share correct in the top group minus that in the bottom one (None below ``MIN_ATTEMPTS``
  attempts or when a group never saw the question). Flags: negative discrimination, share correct
  below 0.2 (too hard) or above 0.95 (too easy).

Who: HR admins, and instructors of a session of the quiz's course (``lessons.may_author``, the
rule for writing the course's content); anyone else FORBIDDEN, a quiz of another company NOT_FOUND.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from tortoise import connections

from backend.errors import DomainError, ErrorCode
from backend.models import AttemptStatus, CourseModule, OrgUnit, Question, QuestionKind, Quiz, QuizQuestion, Role, Site
from backend.services.content.lessons import may_author
from backend.services.imports.files import WriteCell
from backend.services.ojt.question_kinds import choice_key, normalise_text, shown_options
from backend.services.ojt.quizzes import feedback_items
from backend.services.reports import frame, rollups
from backend.services.reports.frame import ReportFilter, Scope
from backend.services.reports.tables import Column, ReportOptions, Table
from backend.services.viewer import Viewer
from backend.sql import Params

CHUNK = 1000
MIN_ATTEMPTS = 10
GROUP_PERCENT = 27
TOP_WRONG = 5
MAX_ANSWER_CHARS = 100
TOO_HARD, TOO_EASY = 0.2, 0.95
_CHOICES = (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)


class ItemFlag(StrEnum):
    """Why a question deserves a look."""

    NEGATIVE_DISCRIMINATION = "NEGATIVE_DISCRIMINATION"  # the weaker attempts got it right more often
    TOO_HARD = "TOO_HARD"  # share correct below 0.2
    TOO_EASY = "TOO_EASY"  # share correct above 0.95


@dataclass(frozen=True)
class OptionCount:
    """One option of a choice question (true/false: keys TRUE and FALSE) and how often it was chosen."""

    key: str
    text: str
    correct: bool
    chosen: int


@dataclass(frozen=True)
class WrongAnswer:
    """A wrong short-text answer (normalised) and how many attempts gave it."""

    answer: str
    count: int


@dataclass(frozen=True)
class ItemAnalysis:
    """One question's figures (see the module docstring)."""

    question_id: int
    position: int
    prompt: str
    kind: QuestionKind
    attempts: int
    correct: int
    share_correct: float | None  # correct / attempts, 3 decimals; None when no attempt
    discrimination: float | None  # top share − bottom share, 3 decimals; None below MIN_ATTEMPTS
    options: list[OptionCount]  # choice and true/false questions, in the question's order
    wrong_answers: list[WrongAnswer]  # short text: the most common first, at most TOP_WRONG
    flags: list[ItemFlag]


@dataclass(frozen=True)
class QuizItemReport:
    """The quiz and its questions' analysis."""

    quiz_id: int  # the QUIZ module's id
    title: str
    all_attempts: bool
    attempts: int  # analysed attempts
    items: list[ItemAnalysis]


async def _authorised_quiz(viewer: Viewer, quiz_id: int) -> Quiz:
    """The quiz of the QUIZ module ``quiz_id``, if the viewer authors its course."""
    viewer.require_role(Role.HR_ADMIN, Role.INSTRUCTOR)
    module = await CourseModule.filter(tenant_id=viewer.tenant_id, id=quiz_id).first()
    quiz = await Quiz.filter(tenant_id=viewer.tenant_id, module_id=quiz_id).first() if module else None
    if module is None or quiz is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="quizId")
    if not await may_author(viewer, module.course_id):
        raise DomainError(ErrorCode.FORBIDDEN)
    return quiz


async def _scope(viewer: Viewer, report_filter: ReportFilter) -> Scope:
    """The filter's people (any of the company: authors are not limited to a subtree); the quiz
    is the course, so a course or scenario is refused."""
    frame.reads_only(report_filter, *frame.PEOPLE_FIELDS)
    tenant_id = viewer.tenant_id
    path = None
    if report_filter.org_unit_id is not None:
        unit = await OrgUnit.filter(tenant_id=tenant_id, id=report_filter.org_unit_id).first()
        if unit is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        path = unit.path
    if (
        report_filter.site_id is not None
        and not await Site.filter(tenant_id=tenant_id, id=report_filter.site_id).exists()
    ):
        raise DomainError(ErrorCode.NOT_FOUND)
    return Scope(tenant_id, report_filter, path)


@dataclass
class _Tally:
    """What one question gathers while the chunks go by."""

    attempts: int = 0
    correct: int = 0
    chosen: Counter[str] | None = None
    wrong: Counter[str] | None = None


async def quiz_item_analysis(
    viewer: Viewer, quiz_id: int, report_filter: ReportFilter | None = None, all_attempts: bool = False
) -> QuizItemReport:
    """The analysis of a quiz's questions (see the module docstring). ``quiz_id`` is its QUIZ
    module's id: the API addresses quizzes by their module everywhere."""
    quiz = await _authorised_quiz(viewer, quiz_id)
    scope = await _scope(viewer, report_filter) if report_filter is not None else None
    links = await QuizQuestion.filter(tenant_id=viewer.tenant_id, quiz_id=quiz.id).order_by("position", "id")
    by_id = {
        q.id: q for q in await Question.filter(tenant_id=viewer.tenant_id, id__in=[link.question_id for link in links])
    }
    placed = [(link.position, by_id[link.question_id]) for link in links if link.question_id in by_id]
    questions = [question for _position, question in placed]
    index = {q.id: i for i, q in enumerate(questions)}
    tallies = [
        _Tally(
            chosen=Counter() if q.kind in (*_CHOICES, QuestionKind.TRUE_FALSE) else None,
            wrong=Counter() if q.kind == QuestionKind.SHORT_TEXT else None,
        )
        for q in questions
    ]
    # Per attempt: (percent, id, verdicts by question index: True, False or None when not graded).
    ranked: list[tuple[int, int, tuple[bool | None, ...]]] = []
    async for attempt in _attempts(viewer.tenant_id, quiz.id, scope, all_attempts):
        verdicts: list[bool | None] = [None] * len(questions)
        answers = attempt["answers"] if isinstance(attempt["answers"], dict) else {}
        for item in feedback_items(attempt["feedback"]):
            i = index.get(item["questionId"])
            if i is None or not isinstance(item.get("correct"), bool):
                continue
            verdicts[i] = item["correct"]
            _count(tallies[i], questions[i], answers.get(str(item["questionId"])), item["correct"])
        ranked.append((int(attempt["percent"]), int(attempt["id"]), tuple(verdicts)))
    top, bottom = _groups(ranked)
    items = [
        _item(position, q, tallies[i], _discrimination(i, top, bottom, len(ranked)))
        for i, (position, q) in enumerate(placed)
    ]
    return QuizItemReport(quiz_id, quiz.title, all_attempts, len(ranked), items)


async def _attempts(
    tenant_id: int, quiz_id: int, scope: Scope | None, all_attempts: bool
) -> AsyncIterator[dict[str, Any]]:
    """The analysed attempts, CHUNK at a time by id."""
    connection = connections.get("default")
    zone = await rollups.company_zone(connection, tenant_id) if scope is not None else None
    last_id = 0
    while True:
        p = Params(connection)
        sql = (
            "SELECT a.id, a.percent, a.answers, a.feedback FROM quiz_attempt a"
            f" WHERE a.tenant_id = {p(tenant_id)} AND a.quiz_id = {p(quiz_id)}"
            f" AND a.status = {p(AttemptStatus.GRADED.value)} AND a.id > {p(last_id)}"
        )
        if not all_attempts:
            sql += " AND a.attempt_no = 1"
        if scope is not None and zone is not None:
            start = datetime.combine(scope.period.first, time(), zone)
            end = datetime.combine(scope.period.last + timedelta(days=1), time(), zone)
            sql += f" AND a.submitted_at >= {p(start)} AND a.submitted_at < {p(end)}"
            sql += f" AND a.employee_id IN (SELECT e.id FROM employee e WHERE {frame.people_sql(p, scope, 'e')})"
        sql += f" ORDER BY a.id LIMIT {p(CHUNK)}"
        rows = await connection.execute_query_dict(sql, p.values)
        for row in rows:
            for name in ("answers", "feedback"):
                if isinstance(row[name], (str, bytes)):  # SQLite hands JSON back as text
                    row[name] = _json(row[name])
            yield row
        if len(rows) < CHUNK:
            return
        last_id = int(rows[-1]["id"])


def _json(value: str | bytes) -> Any:
    return json.loads(value)


def _count(tally: _Tally, question: Question, answer: Any, correct: bool) -> None:
    tally.attempts += 1
    tally.correct += correct
    if tally.chosen is not None:
        if question.kind == QuestionKind.TRUE_FALSE:
            if isinstance(answer, bool):
                tally.chosen["TRUE" if answer else "FALSE"] += 1
        else:
            given = answer if isinstance(answer, list) else [answer]
            for key in {choice_key(value) for value in given} - {None}:
                tally.chosen[key] += 1  # type: ignore[index]
    if tally.wrong is not None and not correct and isinstance(answer, str):
        text = normalise_text(answer)[:MAX_ANSWER_CHARS]
        if text:
            tally.wrong[text] += 1


def _groups(
    ranked: list[tuple[int, int, tuple[bool | None, ...]]],
) -> tuple[list[tuple[bool | None, ...]], list[tuple[bool | None, ...]]]:
    """The top and bottom 27% (rounded half up) by percent; ties: the earlier attempt ranks higher."""
    size = (len(ranked) * GROUP_PERCENT + 50) // 100
    ordered = sorted(ranked, key=lambda a: (-a[0], a[1]))
    return [a[2] for a in ordered[:size]], [a[2] for a in ordered[len(ordered) - size :]]


def _share(group: list[tuple[bool | None, ...]], i: int) -> float | None:
    """The share right of the group's attempts that were graded on question ``i``."""
    verdicts = [v[i] is True for v in group if v[i] is not None]
    return sum(verdicts) / len(verdicts) if verdicts else None


def _discrimination(
    i: int, top: list[tuple[bool | None, ...]], bottom: list[tuple[bool | None, ...]], attempts: int
) -> float | None:
    if attempts < MIN_ATTEMPTS:
        return None
    high, low = _share(top, i), _share(bottom, i)
    return None if high is None or low is None else round(high - low, 3)


def _item(position: int, question: Question, tally: _Tally, discrimination: float | None) -> ItemAnalysis:
    share = round(tally.correct / tally.attempts, 3) if tally.attempts else None
    options: list[OptionCount] = []
    if question.kind == QuestionKind.TRUE_FALSE:
        chosen = tally.chosen or Counter()
        options = [
            OptionCount("TRUE", "true", question.answer_key is True, chosen["TRUE"]),
            OptionCount("FALSE", "false", question.answer_key is False, chosen["FALSE"]),
        ]
    elif question.kind in _CHOICES:
        key = question.answer_key if isinstance(question.answer_key, list) else [question.answer_key]
        right = {choice_key(k) for k in key}
        chosen = tally.chosen or Counter()
        options = [
            OptionCount(o["key"], o["text"], choice_key(o["key"]) in right, chosen[choice_key(o["key"]) or ""])
            for o in shown_options(question.options)
        ]
    wrong = sorted((tally.wrong or Counter()).items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_WRONG]
    flags = []
    if discrimination is not None and discrimination < 0:
        flags.append(ItemFlag.NEGATIVE_DISCRIMINATION)
    if share is not None and share < TOO_HARD:
        flags.append(ItemFlag.TOO_HARD)
    if share is not None and share > TOO_EASY:
        flags.append(ItemFlag.TOO_EASY)
    return ItemAnalysis(
        question_id=question.id,
        position=position,
        prompt=question.prompt,
        kind=QuestionKind(question.kind),
        attempts=tally.attempts,
        correct=tally.correct,
        share_correct=share,
        discrimination=discrimination,
        options=options,
        wrong_answers=[WrongAnswer(text, count) for text, count in wrong],
        flags=flags,
    )


# --- export ----------------------------------------------------------------------------------------

COLUMNS = (
    Column("序号", "No.", 6),
    Column("题目", "Question", 50),
    Column("题型", "Kind", 16),
    Column("作答次数", "Attempts", 10),
    Column("答对次数", "Correct", 10),
    Column("正确率", "Share correct", 12),
    Column("区分度", "Discrimination", 12),
    Column("提示", "Flags", 24),
    Column("选项 / 错误答案", "Option / wrong answer", 40),
    Column("选择次数", "Chosen", 10),
)


async def export_table(viewer: Viewer, options: ReportOptions) -> Table:
    """One row per question, then one row per option (or common wrong answer) below it."""
    if options.quiz_id is None:
        raise DomainError(ErrorCode.VALIDATION, field="quiz", reason_key="reason.required")
    report = await quiz_item_analysis(viewer, options.quiz_id, options.filter)

    async def rows() -> AsyncIterator[Sequence[WriteCell]]:
        for item in report.items:
            yield (
                item.position,
                item.prompt,
                item.kind.value,
                item.attempts,
                item.correct,
                item.share_correct,
                item.discrimination,
                " ".join(flag.value for flag in item.flags),
                None,
                None,
            )
            for option in item.options:
                label = f"{option.key}. {option.text}" + (" ✓" if option.correct else "")
                yield (None, None, None, None, None, None, None, None, label, option.chosen)
            for wrong in item.wrong_answers:
                yield (None, None, None, None, None, None, None, None, wrong.answer, wrong.count)

    return Table("题目分析", "Quiz item analysis", COLUMNS, rows())
