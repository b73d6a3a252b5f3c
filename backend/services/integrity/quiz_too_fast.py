"""QUIZ_TOO_FAST: quiz attempts finished far faster than anyone reads the questions.

An attempt's duration is from when it was started to when it was submitted, both on the device's
clock (``submitted_at - started_at``; attempts without a start, or whose start lies after their
end, are not measured). An attempt is too fast when either:

- ``per_question``: it took less than ``seconds_per_question`` times its number of questions (the
  questions it was graded on: the length of its feedback). No peers needed: the push judges it too
  (``on_signals``);
- ``peers``: it took less than ``peer_ratio`` of the median of the other people's durations on the
  same quiz in the window, when at least ``min_peers`` other people were measured there. Each
  person counts once (the median of their own attempts), so one person's many retries do not move
  the median; the attempts of the person judged never count among their peers. The default 0.2
  leaves a genuinely quick learner, who takes 40% of the usual time, well alone.

One alert per person and quiz; the credits of the quiz passes derived from the too-fast attempts
are held. Dismissing one (HR judged this person genuinely fast) stops the pattern for that person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from backend.models import IntegrityAlertKind, IntegritySeverity
from backend.services.integrity.detectors import (
    Detector,
    Evidence,
    Finding,
    Limits,
    Signal,
    Threshold,
    Window,
    as_time,
    median,
    severity_of,
)
from backend.sql import Params, fetch_rows

KIND = IntegrityAlertKind.QUIZ_TOO_FAST


@dataclass(frozen=True)
class Timed:
    """One measured attempt."""

    attempt_id: int | None  # None: a push's attempt known by its record only
    quiz_id: int
    employee_id: int
    record_id: UUID
    submitted_at: datetime
    seconds: float
    questions: int


@dataclass(frozen=True)
class Verdict:
    """Why one attempt is too fast: the limits it is below (None: that rule did not apply or hold)."""

    attempt: Timed
    per_question: float | None
    peers: float | None
    median: float | None
    peer_count: int


class QuizTooFast(Detector):
    kind = KIND
    thresholds = (
        Threshold("peer_ratio", 0.2, 0.01, 0.9),
        Threshold("min_peers", 5, 2, 1000, integer=True),
        Threshold("seconds_per_question", 2, 0.5, 10),
    )
    messages = {
        "explanation.per_question": {
            "zh-CN": "测验作答最快仅用 {seconds} 秒完成 {questions} 道题（共 {attempts} 次过快作答），"
            "低于每题 {per_question} 秒的下限。",
            "en": "A quiz of {questions} questions was finished in as little as {seconds} seconds ({attempts} attempt(s)"
            " too fast): below the limit of {per_question} seconds a question.",
        },
        "explanation.peers": {
            "zh-CN": "测验作答最快仅用 {seconds} 秒（共 {attempts} 次过快作答），而其他 {peers} 人的用时中位数为"
            " {median} 秒，低于中位数的 {percent}%。",
            "en": "A quiz was finished in as little as {seconds} seconds ({attempts} attempt(s) too fast), while the"
            " median time of {peers} other people was {median} seconds: below {percent}% of that median.",
        },
        "threshold.peer_ratio": {
            "zh-CN": "相对他人用时中位数的比例",
            "en": "Share of the other people's median time",
        },
        "threshold.min_peers": {
            "zh-CN": "比较所需的最少人数",
            "en": "Fewest other people to compare with",
        },
        "threshold.seconds_per_question": {
            "zh-CN": "每道题的最短用时（秒）",
            "en": "Shortest time per question (seconds)",
        },
    }

    def on_signals(self, signals: Sequence[Signal], limits: Limits) -> list[Finding]:
        """The push's submissions, by the per-question rule alone (peers would need reads)."""
        attempts = [
            Timed(
                _int_or_none(s.figures.get("attempt_id")),
                int(s.figures["quiz_id"]),
                s.employee_id,
                s.record_id,
                s.at,
                float(s.figures["seconds"]),
                int(s.figures["questions"]),
            )
            for s in signals
            if s.figures.get("quiz_id") is not None and s.figures.get("seconds") is not None
        ]
        return judge(attempts, limits, with_peers=False)

    async def scan(self, window: Window, limits: Limits) -> list[Finding]:
        connection, p = window.connection, Params(window.connection)
        if window.postgres:
            questions = "CASE WHEN jsonb_typeof(feedback) = 'array' THEN jsonb_array_length(feedback) ELSE 0 END"
        else:
            questions = "COALESCE(json_array_length(feedback), 0)"
        rows = await fetch_rows(
            connection,
            f"SELECT id, quiz_id, employee_id, record_id, started_at, submitted_at, {questions} AS questions"
            f" FROM quiz_attempt WHERE tenant_id = {p(window.tenant_id)} AND started_at IS NOT NULL"
            f" AND {window.during(p, 'submitted_at')}"
            " ORDER BY quiz_id, submitted_at, id",
            p.values,
        )
        attempts = []
        for row in rows:
            submitted = as_time(row["submitted_at"])
            attempts.append(
                Timed(
                    int(row["id"]),
                    int(row["quiz_id"]),
                    int(row["employee_id"]),
                    UUID(str(row["record_id"])),
                    submitted,
                    (submitted - as_time(row["started_at"])).total_seconds(),
                    int(row["questions"] or 0),
                )
            )
        return judge(attempts, limits)


# A push notes a submission faster than this per question (the loosest limit a company may set);
# ``on_signals`` judges it with the company's own.
LOOSEST_SECONDS_PER_QUESTION = next(t.maximum for t in QuizTooFast.thresholds if t.name == "seconds_per_question")


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def judge(attempts: Iterable[Timed], limits: Limits, with_peers: bool = True) -> list[Finding]:
    """The findings of measured attempts: one per person and quiz with an attempt too fast."""
    by_quiz: dict[int, list[Timed]] = defaultdict(list)
    for attempt in attempts:
        if attempt.seconds >= 0:  # a start after the end measures nothing
            by_quiz[attempt.quiz_id].append(attempt)
    verdicts: dict[tuple[int, int], list[Verdict]] = defaultdict(list)
    for quiz_attempts in by_quiz.values():
        for verdict in _too_fast(quiz_attempts, limits, with_peers):
            verdicts[(verdict.attempt.employee_id, verdict.attempt.quiz_id)].append(verdict)
    return [_finding(employee_id, quiz_id, found, limits) for (employee_id, quiz_id), found in sorted(verdicts.items())]


def _too_fast(attempts: list[Timed], limits: Limits, with_peers: bool) -> list[Verdict]:
    """The too-fast attempts of one quiz."""
    per_question, ratio, fewest = limits["seconds_per_question"], limits["peer_ratio"], int(limits["min_peers"])
    own: dict[int, list[float]] = defaultdict(list)
    for attempt in attempts:
        own[attempt.employee_id].append(attempt.seconds)
    # Each person once, by the median of their own attempts: the peers of one are all the others.
    people = sorted((median(seconds), employee_id) for employee_id, seconds in own.items())
    values = [seconds for seconds, _ in people]
    index = {employee_id: i for i, (_, employee_id) in enumerate(people)}
    found = []
    for attempt in attempts:
        peer_count = len(people) - 1
        peer_median = _median_without(values, index[attempt.employee_id]) if with_peers else None
        question_limit = per_question * attempt.questions if attempt.questions > 0 else None
        peer_limit = ratio * peer_median if peer_median is not None and peer_count >= fewest else None
        below_questions = question_limit if question_limit is not None and attempt.seconds < question_limit else None
        below_peers = peer_limit if peer_limit is not None and attempt.seconds < peer_limit else None
        if below_questions is not None or below_peers is not None:
            found.append(Verdict(attempt, below_questions, below_peers, peer_median, peer_count))
    return found


def _median_without(values: list[float], skip: int) -> float | None:
    """The median of sorted ``values`` without the one at index ``skip`` (None when none remain)."""
    count = len(values) - 1
    if count <= 0:
        return None

    def at(k: int) -> float:
        return values[k] if k < skip else values[k + 1]

    middle = count // 2
    return at(middle) if count % 2 else (at(middle - 1) + at(middle)) / 2


def _finding(employee_id: int, quiz_id: int, verdicts: list[Verdict], limits: Limits) -> Finding:
    verdicts.sort(key=lambda v: (v.attempt.submitted_at, v.attempt.attempt_id or 0))
    fastest = min(verdicts, key=lambda v: v.attempt.seconds)
    severity = max(
        (
            severity_of(limit / max(v.attempt.seconds, 0.01))
            for v in verdicts
            for limit in (v.per_question, v.peers)
            if limit is not None
        ),
        key=list(IntegritySeverity).index,
    )
    figures: dict[str, Any] = {
        "seconds": round(fastest.attempt.seconds),
        "questions": fastest.attempt.questions,
        "attempts": len(verdicts),
        "quiz_id": quiz_id,
        "per_question": _plain(limits["seconds_per_question"]),
    }
    if fastest.median is not None:
        figures |= {
            "median": round(fastest.median),
            "peers": fastest.peer_count,
            "percent": round(limits["peer_ratio"] * 100),
        }
    return Finding(
        kind=KIND,
        alert_key=f"{KIND.value}:{employee_id}:{quiz_id}",
        pattern_key=f"{KIND.value}:{employee_id}",
        employee_id=employee_id,
        severity=severity,
        # The absolute rule when the fastest attempt breaks it (as a push would say), else the peers'.
        explanation="per_question" if fastest.per_question is not None else "peers",
        figures=figures,
        first_at=verdicts[0].attempt.submitted_at,
        last_at=verdicts[-1].attempt.submitted_at,
        evidence=[_evidence(v.attempt) for v in verdicts],
        records=[v.attempt.record_id for v in verdicts],
    )


def _plain(value: float) -> float | int:
    """A setting as words show it: 2, not 2.0."""
    return int(value) if float(value).is_integer() else value


def _evidence(attempt: Timed) -> Evidence:
    if attempt.attempt_id is None:
        return Evidence("ActivityRecord", str(attempt.record_id))
    return Evidence("QuizAttempt", str(attempt.attempt_id))
