"""ANSWER_SHARING: the same answers, the same mistakes included, handed in by different people
within a short time.

Two attempts at one quiz, by different people, submitted at most ``minutes`` apart, are a pair
when they gave the same answer to every question both answered and at least ``shared_wrong`` of
those same answers are wrong. Answers are compared as grading compares them (text NFKC-normalised,
case-folded, spaces collapsed; the options of a multiple choice as a set); a question left blank
is not answered, and a blank is never a shared mistake; right or wrong is what grading wrote in
the attempt's feedback. Identical right answers are what knowing the material looks like, and one
common misconception is common: neither is flagged. A wrong answer given by ``common_share`` of
the quiz's attempts in the window (and by at least five) is a common mistake and does not count
toward ``shared_wrong``, which defaults to 3: in generated companies of 36 learners
(tests/integrity_world.py), honest people with popular wrong answers in common were flagged about
once per company with 2 and without the rule, and about once in twenty with 3.

Each person of a pair gets a finding, one per person and quiz (every partner in it); its credits
at stake are those of the person's own attempts' quiz passes.

A scan reads each quiz's attempts of the window in time order, in chunks, and keeps only those
with ``shared_wrong`` wrong answers or more (an attempt with a wrong answer scores below full
marks: the others are not even read). Candidates come from hashes, never from comparing every
attempt with every other: attempts that answered all of the quiz's usual questions meet only
those with the very same answers (a hash of the whole answer vector); the rest (blanks, another
version of the quiz) meet those sharing ``shared_wrong`` of their wrong answers (an index by
question and wrong answer). Only attempts within ``minutes`` are kept in either.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from backend.models import IntegrityAlertKind
from backend.services.integrity.detectors import (
    Detector,
    Evidence,
    Finding,
    Limits,
    Threshold,
    Window,
    as_time,
    severity_of,
)
from backend.sql import Params

KIND = IntegrityAlertKind.ANSWER_SHARING
CHUNK = 2000  # attempts read at a time

Item = tuple[int, str]  # a question id and an answer, canonical


@dataclass(eq=False)
class Answered:
    """One attempt as compared: its answered questions' canonical answers and which were wrong."""

    attempt_id: int
    quiz_id: int
    employee_id: int
    record_id: UUID
    submitted_at: datetime
    answers: dict[int, str]  # answered questions only
    wrong: frozenset[int]  # answered questions graded wrong
    asked: frozenset[int]  # questions it was graded on

    @property
    def complete(self) -> bool:
        return len(self.answers) == len(self.asked)

    def wrong_items(self) -> list[Item]:
        return [(question, self.answers[question]) for question in sorted(self.wrong)]

    def digest(self) -> bytes:
        text = json.dumps(sorted(self.answers.items()), ensure_ascii=False)
        return hashlib.blake2b(text.encode(), digest_size=16).digest()


def canonical(answer: Any) -> str | None:
    """An answer as grading compares it, as text; None for a blank."""
    value = _normal(answer)
    if value is None or value == "" or value == []:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(unicodedata.normalize("NFKC", value).casefold().split())
    if isinstance(value, list):
        return sorted({json.dumps(_normal(v), ensure_ascii=False, sort_keys=True) for v in value})
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    return value


def answered(
    attempt_id: int,
    quiz_id: int,
    employee_id: int,
    record_id: UUID,
    submitted_at: datetime,
    answers: Any,
    feedback: Any,
) -> Answered:
    """An attempt from its stored answers (question id as text -> answer) and feedback (per
    question: ``questionId`` and ``correct``: true, false, or null while a person grades it)."""
    given = answers if isinstance(answers, dict) else {}
    asked, wrong, kept = set(), set(), {}
    for item in feedback if isinstance(feedback, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("questionId"), int):
            continue
        question = item["questionId"]
        asked.add(question)
        text = canonical(given.get(str(question)))
        if text is None:
            continue
        kept[question] = text
        if item.get("correct") is False:
            wrong.add(question)
    return Answered(attempt_id, quiz_id, employee_id, record_id, submitted_at, kept, frozenset(wrong), frozenset(asked))


def shared_wrong(a: Answered, b: Answered) -> int | None:
    """The same wrong answers of two attempts that agree on every question both answered (None
    when they disagree on one)."""
    small, large = (a, b) if len(a.answers) <= len(b.answers) else (b, a)
    for question, text in small.answers.items():
        other = large.answers.get(question)
        if other is not None and other != text:
            return None
    return len(a.wrong & b.wrong)


@dataclass(frozen=True)
class Pair:
    earlier: Answered
    later: Answered
    shared_wrong: int


@dataclass
class Matcher:
    """Pairs among one quiz's attempts, fed in time order (``add``): each new attempt meets the
    earlier ones within ``minutes`` that hashing names as candidates."""

    minutes: float
    least: int  # shared wrong answers a pair needs
    usual: frozenset[int] | None = None  # the questions the quiz's first complete attempt was asked
    same_answers: dict[bytes, deque[Answered]] = field(default_factory=lambda: defaultdict(deque))
    by_wrong: dict[Item, deque[Answered]] = field(default_factory=lambda: defaultdict(deque))
    irregular_by_wrong: dict[Item, deque[Answered]] = field(default_factory=lambda: defaultdict(deque))

    def add(self, attempt: Answered) -> list[Pair]:
        if len(attempt.wrong) < self.least:
            return []  # cannot share enough mistakes with anyone
        if self.usual is None and attempt.complete:
            self.usual = attempt.asked
        cutoff = attempt.submitted_at - timedelta(minutes=self.minutes)
        regular = attempt.complete and attempt.asked == self.usual
        if regular:
            # Two regular attempts agree on every question both answered iff all their answers match.
            digest = attempt.digest()
            candidates = list(_live(self.same_answers[digest], cutoff))
            candidates += self._sharing(self.irregular_by_wrong, attempt, cutoff)
            self.same_answers[digest].append(attempt)
        else:
            candidates = self._sharing(self.by_wrong, attempt, cutoff)
        for item in attempt.wrong_items():
            self.by_wrong[item].append(attempt)
            if not regular:
                self.irregular_by_wrong[item].append(attempt)
        pairs = []
        for earlier in candidates:
            if earlier.employee_id == attempt.employee_id:
                continue
            shared = shared_wrong(earlier, attempt)
            if shared is not None and shared >= self.least:
                pairs.append(Pair(earlier, attempt, shared))
        return pairs

    def _sharing(self, index: dict[Item, deque[Answered]], attempt: Answered, cutoff: datetime) -> list[Answered]:
        """The earlier attempts within the time that gave ``least`` of this one's wrong answers."""
        counts: Counter[int] = Counter()
        seen: dict[int, Answered] = {}
        for item in attempt.wrong_items():
            bucket = index.get(item)
            if bucket is None:
                continue
            for earlier in _live(bucket, cutoff):
                counts[earlier.attempt_id] += 1
                seen[earlier.attempt_id] = earlier
        return [seen[attempt_id] for attempt_id, count in counts.items() if count >= self.least]


def _live(bucket: deque[Answered], cutoff: datetime) -> Iterator[Answered]:
    """A bucket's attempts submitted at ``cutoff`` or later (older ones are dropped for good:
    attempts arrive in time order)."""
    while bucket and bucket[0].submitted_at < cutoff:
        bucket.popleft()
    return iter(bucket)


# A wrong answer is a common one (a misconception, a tempting option) when at least this many of a
# quiz's attempts in the window gave it, and at least ``common_share`` of them: sharing it is no
# sign of copying, so it does not count toward ``shared_wrong``.
COMMON_AT_LEAST = 5


def common_mistakes(counts: Counter[Item], attempts: int, limits: Limits) -> frozenset[Item]:
    """The wrong answers given by so many of ``attempts`` that two people sharing them is chance."""
    least = max(COMMON_AT_LEAST, limits["common_share"] * attempts)
    return frozenset(item for item, count in counts.items() if count >= least)


def without_common(attempt: Answered, common: frozenset[Item]) -> Answered:
    """The attempt with its common mistakes no longer counted as mistakes (its answers unchanged:
    two attempts must still agree on every question)."""
    if not common:
        return attempt
    rare = frozenset(q for q in attempt.wrong if (q, attempt.answers[q]) not in common)
    return attempt if rare == attempt.wrong else replace(attempt, wrong=rare)


def pairs_of(attempts: Iterable[Answered], limits: Limits) -> list[Pair]:
    """The pairs among attempts of any quizzes (each quiz on its own, in time order; its common
    mistakes counted among these attempts)."""
    by_quiz: dict[int, list[Answered]] = defaultdict(list)
    for attempt in attempts:
        by_quiz[attempt.quiz_id].append(attempt)
    found = []
    for quiz_attempts in by_quiz.values():
        counts = Counter(item for attempt in quiz_attempts for item in attempt.wrong_items())
        common = common_mistakes(counts, len(quiz_attempts), limits)
        matcher = Matcher(limits["minutes"], int(limits["shared_wrong"]))
        for attempt in sorted(quiz_attempts, key=lambda a: (a.submitted_at, a.attempt_id)):
            found += matcher.add(without_common(attempt, common))
    return found


def judge(attempts: Iterable[Answered], limits: Limits) -> list[Finding]:
    return findings_of(pairs_of(attempts, limits), limits)


@dataclass
class _Side:
    """One person's part in the pairs of one quiz."""

    own: dict[int, Answered] = field(default_factory=dict)
    partners: dict[int, Answered] = field(default_factory=dict)  # attempt id -> a partner's attempt
    shared_wrong: int = 0
    gap: timedelta | None = None


def findings_of(pairs: Iterable[Pair], limits: Limits) -> list[Finding]:
    """One finding per person and quiz of the pairs."""
    sides: dict[tuple[int, int], _Side] = defaultdict(_Side)
    for pair in pairs:
        gap = pair.later.submitted_at - pair.earlier.submitted_at
        for mine, theirs in ((pair.earlier, pair.later), (pair.later, pair.earlier)):
            side = sides[(mine.employee_id, mine.quiz_id)]
            side.own[mine.attempt_id] = mine
            side.partners[theirs.attempt_id] = theirs
            side.shared_wrong = max(side.shared_wrong, pair.shared_wrong)
            side.gap = gap if side.gap is None else min(side.gap, gap)
    return [_finding(employee_id, quiz_id, side, limits) for (employee_id, quiz_id), side in sorted(sides.items())]


def _in_time(attempts: Iterable[Answered]) -> list[Answered]:
    return sorted(attempts, key=lambda a: (a.submitted_at, a.attempt_id))


def _finding(employee_id: int, quiz_id: int, side: _Side, limits: Limits) -> Finding:
    least = int(limits["shared_wrong"])
    own, partners = _in_time(side.own.values()), _in_time(side.partners.values())
    every = _in_time([*own, *partners])
    return Finding(
        kind=KIND,
        alert_key=f"{KIND.value}:{employee_id}:{quiz_id}",
        pattern_key=f"{KIND.value}:{employee_id}:{quiz_id}",
        employee_id=employee_id,
        severity=severity_of(side.shared_wrong / least),
        explanation="identical",
        figures={
            "partners": len({a.employee_id for a in partners}),
            "shared_wrong": side.shared_wrong,
            "minutes": round((side.gap or timedelta()).total_seconds() / 60),
            "threshold": least,
            "quiz_id": quiz_id,
        },
        first_at=every[0].submitted_at,
        last_at=every[-1].submitted_at,
        evidence=[Evidence("QuizAttempt", str(a.attempt_id)) for a in every],
        records=[a.record_id for a in own],
        other_employee_id=partners[0].employee_id,
    )


class AnswerSharing(Detector):
    kind = KIND
    thresholds = (
        Threshold("minutes", 120, 1, 10080),
        Threshold("shared_wrong", 3, 1, 50, integer=True),
        Threshold("common_share", 0.15, 0.05, 1),
    )
    messages = {
        "explanation.identical": {
            "zh-CN": "该测验的答案与另外 {partners} 人的作答完全一致，其中包括 {shared_wrong} 道相同的错误答案"
            "（阈值：{threshold} 道）；相隔最近的两次提交间隔 {minutes} 分钟。",
            "en": "Answers to this quiz identical to those of {partners} other person(s), including {shared_wrong}"
            " identical wrong answers (threshold: {threshold}); the closest submissions were {minutes} minutes"
            " apart.",
        },
        "threshold.minutes": {
            "zh-CN": "两次提交的最长间隔（分钟）",
            "en": "Longest time between the submissions (minutes)",
        },
        "threshold.common_share": {
            "zh-CN": "常见错误答案的比例（达到此比例的错误答案不计为相同错误）",
            "en": "Share of attempts that makes a wrong answer common (common ones are not counted as shared)",
        },
        "threshold.shared_wrong": {
            "zh-CN": "相同错误答案的最少题数",
            "en": "Fewest identical wrong answers",
        },
    }

    async def scan(self, window: Window, limits: Limits) -> list[Finding]:
        connection, p = window.connection, Params(window.connection)
        # Quizzes two people got something wrong in; ``attempts`` counts full marks too (what a
        # mistake's share is a share of).
        quizzes = await connection.execute_query_dict(
            "SELECT quiz_id, COUNT(*) AS attempts FROM quiz_attempt"
            f" WHERE tenant_id = {p(window.tenant_id)} AND {window.during(p, 'submitted_at')}"
            " GROUP BY quiz_id HAVING COUNT(DISTINCT CASE WHEN percent < 100 THEN employee_id END) > 1"
            " ORDER BY quiz_id",
            p.values,
        )
        pairs: list[Pair] = []
        for row in quizzes:
            quiz_id = int(row["quiz_id"])
            # Two reads of the quiz's attempts: the mistakes counted first, then the pairs.
            counts: Counter[Item] = Counter()
            async for attempt in _attempts(window, quiz_id):
                counts.update(attempt.wrong_items())
            common = common_mistakes(counts, int(row["attempts"]), limits)
            matcher = Matcher(limits["minutes"], int(limits["shared_wrong"]))
            async for attempt in _attempts(window, quiz_id):
                pairs += matcher.add(without_common(attempt, common))
        return findings_of(pairs, limits)


async def _attempts(window: Window, quiz_id: int) -> AsyncIterator[Answered]:
    """One quiz's attempts of the window below full marks (the only ones with a wrong answer), in
    time order, ``CHUNK`` at a time."""
    connection = window.connection
    after: tuple[Any, int] | None = None
    while True:
        p = Params(connection)
        sql = (
            "SELECT id, employee_id, record_id, submitted_at, answers, feedback FROM quiz_attempt"
            f" WHERE tenant_id = {p(window.tenant_id)} AND quiz_id = {p(quiz_id)} AND percent < 100"
            f" AND {window.during(p, 'submitted_at')}"
        )
        if after is not None:
            at, last = p(after[0]), p(after[1])
            sql += f" AND (submitted_at > {at} OR (submitted_at = {at} AND id > {last}))"
        rows = await connection.execute_query_dict(sql + f" ORDER BY submitted_at, id LIMIT {CHUNK}", p.values)
        for row in rows:
            yield answered(
                int(row["id"]),
                quiz_id,
                int(row["employee_id"]),
                UUID(str(row["record_id"])),
                as_time(row["submitted_at"]),
                _json(row["answers"]),
                _json(row["feedback"]),
            )
        if len(rows) < CHUNK:
            return
        after = (rows[-1]["submitted_at"], int(rows[-1]["id"]))


def _json(value: Any) -> Any:
    """A JSON column as read by raw SQL: text on SQLite (and for jsonb without a codec), else parsed."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value
