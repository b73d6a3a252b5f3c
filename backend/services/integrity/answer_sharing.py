"""ANSWER_SHARING: the same answers, the same mistakes included, handed in by different people
within a short time.

Two attempts at one quiz, by different people, submitted at most ``minutes`` apart, are a pair
when they gave the same answer to every question both answered and at least ``shared_wrong`` of
those same answers are wrong. Answers are compared as grading compares them (text NFKC-normalised,
case-folded, spaces collapsed; the options of a multiple choice as a set); a question left blank
is not answered, and a blank is never a shared mistake; right or wrong is what grading wrote in
the attempt's feedback. Identical right answers are what knowing the material looks like, and one
common misconception is common: neither is flagged by itself. A pair is flagged only when chance
alone would make at most ``chance`` pairs as alike among the quiz's comparisons (pairs of
attempts within ``minutes`` that each have ``shared_wrong`` mistakes): the product of the shares of
every answer both gave (a wrong one's: how many of the quiz's attempts in the window gave it; a
right one's: how many did not miss it), times those comparisons. A popular mistake or an easy
question makes a coincidence likely; several rare mistakes in common, among few comparisons, do
not. (A fixed count of shared mistakes was not enough: in generated companies of 36 learners,
tests/integrity_world.py, three shared mistakes flagged honest people in one company of five.)

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
import math
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
    expected: float = 0.0  # such pairs chance alone would make among the quiz's comparisons


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


@dataclass
class Chance:
    """How alike two of a quiz's attempts are by chance, from all its attempts in the window:
    each answer's share (a wrong one: how many gave it; a right one: how many did not miss the
    question), and how many pairs of attempts could have matched (within ``minutes``, each with
    ``shared_wrong`` mistakes or more)."""

    attempts: int
    given: Counter[Item]  # wrong answers: how many gave each
    missed: Counter[int]  # questions: how many got each wrong
    comparisons: int

    def expected(self, a: Answered, b: Answered) -> float:
        """How many pairs as alike as ``a`` and ``b`` chance alone would make among the
        comparisons: the product of the shares of every answer both gave, times the comparisons
        (people answering independently; a popular wrong answer or an easy question makes a
        coincidence likely, several rare mistakes in common do not)."""
        floor = 1 / max(self.attempts, 1)
        log = 0.0
        for question, text in a.answers.items():
            if question not in b.answers:
                continue
            if question in a.wrong:
                share = self.given[(question, text)] / max(self.attempts, 1)
            else:
                share = 1 - self.missed[question] / max(self.attempts, 1)
            log += math.log(max(share, floor))
        return math.exp(log) * max(self.comparisons, 1)


class ChanceCounter:
    """Counts a quiz's attempts with a mistake, one at a time (a scan reads them in chunks)."""

    def __init__(self, least: int) -> None:
        self.least = least
        self.given: Counter[Item] = Counter()
        self.missed: Counter[int] = Counter()
        self.times: list[datetime] = []

    def add(self, attempt: Answered) -> None:
        self.given.update(attempt.wrong_items())
        self.missed.update(attempt.wrong)
        if len(attempt.wrong) >= self.least:
            self.times.append(attempt.submitted_at)

    def chance(self, total: int, minutes: float) -> Chance:
        """``total``: all the quiz's attempts in the window, full marks included."""
        comparisons = _pairs_within(sorted(self.times), timedelta(minutes=minutes))
        return Chance(total, self.given, self.missed, comparisons)


def chance_of(attempts: Iterable[Answered], total: int, least: int, minutes: float) -> Chance:
    counter = ChanceCounter(least)
    for attempt in attempts:
        counter.add(attempt)
    return counter.chance(total, minutes)


def _pairs_within(times: list[datetime], span: timedelta) -> int:
    pairs, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] > span:
            first += 1
        pairs += last - first
    return pairs


def pairs_of(attempts: Iterable[Answered], limits: Limits) -> list[Pair]:
    """The pairs among attempts of any quizzes (each quiz on its own, in time order) that chance
    alone would make at most ``chance`` times among the quiz's comparisons."""
    by_quiz: dict[int, list[Answered]] = defaultdict(list)
    for attempt in attempts:
        by_quiz[attempt.quiz_id].append(attempt)
    found = []
    least = int(limits["shared_wrong"])
    for quiz_attempts in by_quiz.values():
        chance = chance_of(quiz_attempts, len(quiz_attempts), least, limits["minutes"])
        matcher = Matcher(limits["minutes"], least)
        for attempt in sorted(quiz_attempts, key=lambda a: (a.submitted_at, a.attempt_id)):
            found += _unlikely(matcher.add(attempt), chance, limits)
    return found


def _unlikely(pairs: list[Pair], chance: Chance, limits: Limits) -> list[Pair]:
    kept = []
    for pair in pairs:
        expected = chance.expected(pair.earlier, pair.later)
        if expected <= limits["chance"]:
            kept.append(replace(pair, expected=expected))
    return kept


def judge(attempts: Iterable[Answered], limits: Limits) -> list[Finding]:
    return findings_of(pairs_of(attempts, limits), limits)


@dataclass
class _Side:
    """One person's part in the pairs of one quiz."""

    own: dict[int, Answered] = field(default_factory=dict)
    partners: dict[int, Answered] = field(default_factory=dict)  # attempt id -> a partner's attempt
    shared_wrong: int = 0
    gap: timedelta | None = None
    expected: float = math.inf  # the least likely of its pairs


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
            side.expected = min(side.expected, pair.expected)
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
        explanation="identical" if side.expected < 1 else "identical_mistakes",
        figures={
            "partners": len({a.employee_id for a in partners}),
            "shared_wrong": side.shared_wrong,
            "minutes": round((side.gap or timedelta()).total_seconds() / 60),
            "threshold": least,
            "quiz_id": quiz_id,
            # Chance alone would make a pair this alike about once in this many such quizzes
            # (absent when it would make one or more: a company that counts mistakes alone).
            **(
                {"one_in": min(10**9, round(1 / side.expected)) if side.expected > 0 else 10**9}
                if side.expected < 1
                else {}
            ),
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
        Threshold("shared_wrong", 2, 1, 50, integer=True),
        Threshold("chance", 0.05, 0.000001, 1_000_000),
    )
    messages = {
        "explanation.identical": {
            "zh-CN": "该测验的答案与另外 {partners} 人的作答完全一致，其中包括 {shared_wrong} 道相同的错误答案；"
            "相隔最近的两次提交间隔 {minutes} 分钟。按各答案的常见程度，偶然如此相似的可能约为 {one_in} 分之一。",
            "en": "Answers to this quiz identical to those of {partners} other person(s), including {shared_wrong}"
            " identical wrong answers; the closest submissions were {minutes} minutes apart. Given how common each"
            " answer is, chance alone would make answers this alike about once in {one_in} such quizzes.",
        },
        "explanation.identical_mistakes": {
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
        "threshold.chance": {
            "zh-CN": "偶然出现同样相似答卷的预期次数上限（越小越严格；很大的值表示只看相同错误的题数）",
            "en": "Most pairs this alike chance alone would make (smaller is stricter; a large value counts"
            " identical mistakes alone)",
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
        least = int(limits["shared_wrong"])
        for row in quizzes:
            quiz_id = int(row["quiz_id"])
            # Two reads of the quiz's attempts: how likely each answer is, then the pairs.
            counter = ChanceCounter(least)
            async for attempt in _attempts(window, quiz_id):
                counter.add(attempt)
            chance = counter.chance(int(row["attempts"]), limits["minutes"])
            matcher = Matcher(limits["minutes"], least)
            async for attempt in _attempts(window, quiz_id):
                pairs += _unlikely(matcher.add(attempt), chance, limits)
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
