"""LENIENT_MENTOR: one mentor's judgement far from their peers' ("单一导师评价失真").

Three signs, over the facts of the window:

- ``scores``: per rubric, the mean percent of a mentor's ``min_scores`` evaluations or more against
  the other mentors' evaluations on the same rubric (``min_peer_scores`` or more, from two mentors
  or more). Flagged when the mean is ``min_gap`` points or more above theirs and the gap is
  ``z_score`` standard errors or more: z = (mean − peers' mean) / (peers' standard deviation /
  √count), so the more scores a mentor gave, the less chance explains a gap (the deviation is at
  least ``SD_FLOOR`` points: peers who all give the same score do not make any gap infinite).
  One-sided: a strict mentor, far below the peers, is never flagged.
- ``full_marks``: ``full_marks_share`` or more of a mentor's evaluations on a rubric (``min_scores``
  or more) are 100 %, while fewer than ``PEER_FULL_MARKS_BELOW`` of the peers' are (the same peers
  as for ``scores``).
- reviews: of a mentor's ``min_reviews`` practice reviews or more, ``quick_share`` or more were
  confirmations within ``quick_seconds`` of the log reaching the server (``quick``); or the
  mentor's confirmation rate is above the other reviewers' (``min_reviews`` or more, from two
  reviewers or more) by ``z_score`` or more (one-sided two-proportion z) while theirs is below
  ``PEER_RATE_BELOW`` (``confirm_rate``).

Counted: SUBMITTED evaluations submitted in the window (a superseded one no longer counts, and the
replacement HR wrote is a correction, not a mentor's judgement: neither counts); practice logs
reviewed (confirmed or rejected) in the window, at the time the review says, the log's arrival
being its record's ``received_at``. A review timed before its log arrived (a clock the correction
did not catch) counts as quick: it cannot have come later.

One alert per mentor and rubric (scores and full marks: ``LENIENT_MENTOR:<mentor>:rubric:<id>``)
and one per mentor for the reviews (``LENIENT_MENTOR:<mentor>:reviews``), on the mentor. The credits
at stake are the mentees': the evaluations' EVALUATION_SCORED and the confirmed logs'
PRACTICE_CONFIRMED credits of the window are held.
"""

from __future__ import annotations

import math
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
    Threshold,
    Window,
    as_time,
    seconds_between,
    severity_of,
)
from backend.sql import Params

# Table values the detector reads (models.mentoring: detectors import no domain service).
SUBMITTED = "SUBMITTED"
CONFIRMED = "CONFIRMED"
PENDING = "PENDING"

SD_FLOOR = 1.0  # percentage points: the least spread peers' scores are taken to have
PEER_FULL_MARKS_BELOW = 0.5  # full marks are only telling where peers seldom give them
PEER_RATE_BELOW = 0.95  # a higher confirmation rate is only telling where peers do not confirm nearly all
PEER_GROUP = 2  # peers are at least this many other mentors (reviewers)
EVIDENCE_LIMIT = 200  # facts a finding lists (its figures say how many there were)


@dataclass(frozen=True)
class Tally:
    """Percents of evaluations summed: how many, their sum and sum of squares, how many were 100."""

    count: int = 0
    total: float = 0.0
    squares: float = 0.0
    full: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.count + other.count, self.total + other.total, self.squares + other.squares, self.full + other.full
        )

    def __sub__(self, other: Tally) -> Tally:
        return Tally(
            self.count - other.count, self.total - other.total, self.squares - other.squares, self.full - other.full
        )

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    @property
    def sd(self) -> float:
        """The sample standard deviation."""
        if self.count < 2:
            return 0.0
        return math.sqrt(max(0.0, (self.squares - self.total * self.total / self.count) / (self.count - 1)))

    @property
    def full_share(self) -> float:
        return self.full / self.count if self.count else 0.0


@dataclass(frozen=True)
class ScoreVerdict:
    """How a mentor's scores on a rubric compare with their peers'; ``lenient`` (the mean) and
    ``full_marks`` say which signs hold."""

    lenient: bool
    full_marks: bool
    z: float
    gap: float


def judge_scores(mentor: Tally, peers: Tally, peer_mentors: int, limits: Limits) -> ScoreVerdict | None:
    """The signs a mentor's scores on one rubric show against the other mentors' on it; None when
    there are too few to judge or no sign holds."""
    if mentor.count < limits["min_scores"] or peers.count < limits["min_peer_scores"] or peer_mentors < PEER_GROUP:
        return None
    gap = mentor.mean - peers.mean
    z = gap / (max(peers.sd, SD_FLOOR) / math.sqrt(mentor.count))
    lenient = z >= limits["z_score"] and gap >= limits["min_gap"]
    full_marks = mentor.full_share >= limits["full_marks_share"] and peers.full_share < PEER_FULL_MARKS_BELOW
    if not (lenient or full_marks):
        return None
    return ScoreVerdict(lenient, full_marks, z, gap)


@dataclass(frozen=True)
class Reviews:
    """A reviewer's practice reviews: how many, how many confirmed, how many confirmed quickly."""

    reviewed: int = 0
    confirmed: int = 0
    quick: int = 0

    def __add__(self, other: Reviews) -> Reviews:
        return Reviews(self.reviewed + other.reviewed, self.confirmed + other.confirmed, self.quick + other.quick)

    def __sub__(self, other: Reviews) -> Reviews:
        return Reviews(self.reviewed - other.reviewed, self.confirmed - other.confirmed, self.quick - other.quick)

    @property
    def rate(self) -> float:
        return self.confirmed / self.reviewed if self.reviewed else 0.0

    @property
    def quick_share(self) -> float:
        return self.quick / self.reviewed if self.reviewed else 0.0


def proportion_z(hits: int, count: int, peer_hits: int, peer_count: int) -> float:
    """One-sided two-proportion z of hits/count above peer_hits/peer_count (pooled); 0 when
    either count is 0 or the pooled rate is 0 or 1 (nothing to tell apart)."""
    if count <= 0 or peer_count <= 0:
        return 0.0
    pooled = (hits + peer_hits) / (count + peer_count)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / count + 1 / peer_count))
    if spread == 0:
        return 0.0
    return (hits / count - peer_hits / peer_count) / spread


@dataclass(frozen=True)
class ReviewVerdict:
    quick: bool
    confirm_rate: bool
    z: float | None  # None: too few peers to compare with


def judge_reviews(mentor: Reviews, peers: Reviews, peer_reviewers: int, limits: Limits) -> ReviewVerdict | None:
    """The signs a mentor's practice reviews show; None when too few or no sign holds."""
    least = limits["min_reviews"]
    if mentor.reviewed < least:
        return None
    quick = mentor.quick_share >= limits["quick_share"]
    z = None
    if peers.reviewed >= least and peer_reviewers >= PEER_GROUP:
        z = proportion_z(mentor.confirmed, mentor.reviewed, peers.confirmed, peers.reviewed)
    confirm_rate = z is not None and z >= limits["z_score"] and peers.rate < PEER_RATE_BELOW
    if not (quick or confirm_rate):
        return None
    return ReviewVerdict(quick, confirm_rate, z)


def _percent(share: float) -> int:
    return round(share * 100)


def _number(value: float) -> float | int:
    """A threshold as people write it: 30, not 30.0."""
    return int(value) if value == int(value) else value


def _named(signs: tuple[tuple[str, bool], ...]) -> str:
    """The explanation of the signs that hold: ``scores``, ``full_marks`` or ``scores_full_marks``."""
    return "_".join(name for name, holds in signs if holds)


def _worst(*severities: IntegritySeverity) -> IntegritySeverity:
    order = list(IntegritySeverity)
    return max(severities, key=order.index)


Fact = tuple[str, UUID | None, datetime]  # evidence id, record, when


class LenientMentor(Detector):
    kind = IntegrityAlertKind.LENIENT_MENTOR
    thresholds = (
        Threshold("min_scores", 8, 3, 1000, integer=True),
        Threshold("min_peer_scores", 20, 5, 100000, integer=True),
        Threshold("z_score", 3.0, 1.5, 10),
        Threshold("min_gap", 10, 1, 100),
        Threshold("full_marks_share", 0.9, 0.5, 1),
        Threshold("min_reviews", 10, 3, 10000, integer=True),
        Threshold("quick_seconds", 30, 1, 3600),
        Threshold("quick_share", 0.8, 0.3, 1),
    )
    messages = {
        "explanation.scores": {
            "zh-CN": "在评分表 {rubric_id} 上给出 {count} 次评分，平均 {mean} 分（百分制）；其他导师在同一评分表上的"
            " {peer_count} 次评分平均 {peer_mean} 分。高出 {gap} 分，按评分次数折算为 {z} 个标准误（阈值：{z_threshold}"
            " 个标准误且至少高出 {min_gap} 分）。",
            "en": "{count} scores on rubric {rubric_id} averaged {mean}%; other mentors' {peer_count} scores on the same"
            " rubric averaged {peer_mean}%. That is {gap} points higher, {z} standard errors given the number of scores"
            " (threshold: {z_threshold} standard errors and at least {min_gap} points).",
        },
        "explanation.full_marks": {
            "zh-CN": "在评分表 {rubric_id} 上给出的 {count} 次评分中 {full_share}% 为满分（阈值：{full_share_threshold}%）；"
            "其他导师在同一评分表上的 {peer_count} 次评分中满分占 {peer_full_share}%。",
            "en": "{full_share}% of {count} scores on rubric {rubric_id} were full marks (threshold:"
            " {full_share_threshold}%); {peer_full_share}% of other mentors' {peer_count} scores on the same rubric"
            " were.",
        },
        "explanation.scores_full_marks": {
            "zh-CN": "在评分表 {rubric_id} 上给出 {count} 次评分，平均 {mean} 分（百分制），其中 {full_share}% 为满分；"
            "其他导师在同一评分表上的 {peer_count} 次评分平均 {peer_mean} 分，满分占 {peer_full_share}%。高出 {gap} 分，"
            "按评分次数折算为 {z} 个标准误（阈值：{z_threshold} 个标准误且至少高出 {min_gap} 分；满分占比"
            " {full_share_threshold}%）。",
            "en": "{count} scores on rubric {rubric_id} averaged {mean}%, {full_share}% of them full marks; other"
            " mentors' {peer_count} scores on the same rubric averaged {peer_mean}%, {peer_full_share}% full marks."
            " That is {gap} points higher, {z} standard errors given the number of scores (thresholds: {z_threshold}"
            " standard errors and at least {min_gap} points; {full_share_threshold}% full marks).",
        },
        "explanation.quick": {
            "zh-CN": "审核的 {reviews} 条练习记录中，有 {quick} 条（{quick_share}%）在记录到达服务器后 {quick_seconds}"
            " 秒内即被确认（阈值：{quick_share_threshold}%）。",
            "en": "Of {reviews} practice logs reviewed, {quick} ({quick_share}%) were confirmed within {quick_seconds}"
            " seconds of reaching the server (threshold: {quick_share_threshold}%).",
        },
        "explanation.confirm_rate": {
            "zh-CN": "审核的 {reviews} 条练习记录中确认了 {confirmed} 条（{rate}%）；其他审核人审核的 {peer_reviews}"
            " 条中确认了 {peer_rate}%。差异为 {z} 个标准误（阈值：{z_threshold}）。",
            "en": "{confirmed} of {reviews} practice logs reviewed were confirmed ({rate}%); other reviewers confirmed"
            " {peer_rate}% of {peer_reviews}. The difference is {z} standard errors (threshold: {z_threshold}).",
        },
        "explanation.quick_confirm_rate": {
            "zh-CN": "审核的 {reviews} 条练习记录中确认了 {confirmed} 条（{rate}%），其中 {quick} 条（占审核的"
            " {quick_share}%）在记录到达服务器后 {quick_seconds} 秒内即被确认（阈值：{quick_share_threshold}%）；"
            "其他审核人审核的 {peer_reviews} 条中确认了 {peer_rate}%，差异为 {z} 个标准误（阈值：{z_threshold}）。",
            "en": "{confirmed} of {reviews} practice logs reviewed were confirmed ({rate}%), {quick} of them"
            " ({quick_share}% of the reviews) within {quick_seconds} seconds of reaching the server (threshold:"
            " {quick_share_threshold}%); other reviewers confirmed {peer_rate}% of {peer_reviews}, a difference of {z}"
            " standard errors (threshold: {z_threshold}).",
        },
        "threshold.min_scores": {
            "zh-CN": "导师在同一评分表上的最少评分次数",
            "en": "Fewest scores of a mentor on one rubric",
        },
        "threshold.min_peer_scores": {
            "zh-CN": "同一评分表上其他导师的最少评分次数",
            "en": "Fewest scores of other mentors on the same rubric",
        },
        "threshold.z_score": {
            "zh-CN": "高于同行的标准误倍数（z 值）",
            "en": "Standard errors above peers (z)",
        },
        "threshold.min_gap": {
            "zh-CN": "平均分至少高出同行的分数（百分制）",
            "en": "Smallest gap above peers' mean score (percentage points)",
        },
        "threshold.full_marks_share": {
            "zh-CN": "满分评分的占比（0–1）",
            "en": "Share of full-mark scores (0–1)",
        },
        "threshold.min_reviews": {
            "zh-CN": "导师的最少练习审核条数",
            "en": "Fewest practice reviews of a mentor",
        },
        "threshold.quick_seconds": {
            "zh-CN": "快速确认的时限（秒）",
            "en": "Quick confirmation limit (seconds)",
        },
        "threshold.quick_share": {
            "zh-CN": "快速确认的占比（0–1）",
            "en": "Share of quick confirmations (0–1)",
        },
    }

    async def scan(self, window: Window, limits: Limits) -> list[Finding]:
        return await self._scores(window, limits) + await self._reviews(window, limits)

    # --- evaluations ---------------------------------------------------------------------------

    async def _scores(self, window: Window, limits: Limits) -> list[Finding]:
        connection, p = window.connection, Params(window.connection)
        rows = await connection.execute_query_dict(
            "SELECT mentor_id, rubric_id, COUNT(*) AS n, SUM(CAST(percent AS INTEGER)) AS total,"
            " SUM(CAST(percent AS INTEGER) * CAST(percent AS INTEGER)) AS squares,"
            " SUM(CASE WHEN percent >= 100 THEN 1 ELSE 0 END) AS full_marks"
            f" FROM mentor_evaluation WHERE {_evaluations(window, p)} GROUP BY mentor_id, rubric_id",
            p.values,
        )
        tallies: dict[int, dict[int, Tally]] = {}  # rubric -> mentor -> tally
        for row in rows:
            tally = Tally(int(row["n"]), float(row["total"]), float(row["squares"]), int(row["full_marks"]))
            tallies.setdefault(int(row["rubric_id"]), {})[int(row["mentor_id"])] = tally
        findings = []
        for rubric_id, by_mentor in sorted(tallies.items()):
            everyone = sum(by_mentor.values(), Tally())
            for mentor_id, tally in sorted(by_mentor.items()):
                peers = everyone - tally
                verdict = judge_scores(tally, peers, len(by_mentor) - 1, limits)
                if verdict is None:
                    continue
                facts = await self._evaluations_of(window, mentor_id, rubric_id)
                if facts:
                    findings.append(self._score_finding(mentor_id, rubric_id, tally, peers, verdict, facts, limits))
        return findings

    async def _evaluations_of(self, window: Window, mentor_id: int, rubric_id: int) -> list[Fact]:
        connection, p = window.connection, Params(window.connection)
        rows = await connection.execute_query_dict(
            "SELECT uid, last_record_id, submitted_at FROM mentor_evaluation"
            f" WHERE {_evaluations(window, p)} AND mentor_id = {p(mentor_id)} AND rubric_id = {p(rubric_id)}"
            " ORDER BY submitted_at, id",
            p.values,
        )
        return [
            (
                str(row["uid"]),
                UUID(str(row["last_record_id"])) if row["last_record_id"] else None,
                as_time(row["submitted_at"]),
            )
            for row in rows
        ]

    def _score_finding(
        self,
        mentor_id: int,
        rubric_id: int,
        tally: Tally,
        peers: Tally,
        verdict: ScoreVerdict,
        facts: list[Fact],
        limits: Limits,
    ) -> Finding:
        explanation = _named((("scores", verdict.lenient), ("full_marks", verdict.full_marks)))
        severities = []
        if verdict.lenient:
            severities.append(severity_of(verdict.z / limits["z_score"]))
        if verdict.full_marks:  # the more full marks beyond the fewest judged, the more is at stake
            severities.append(severity_of(tally.count / limits["min_scores"]))
        key = f"LENIENT_MENTOR:{mentor_id}:rubric:{rubric_id}"
        figures: dict[str, Any] = {
            "rubric_id": rubric_id,
            "count": tally.count,
            "mean": round(tally.mean, 1),
            "peer_count": peers.count,
            "peer_mean": round(peers.mean, 1),
            "gap": round(verdict.gap, 1),
            "z": round(verdict.z, 1),
            "z_threshold": _number(limits["z_score"]),
            "min_gap": _number(limits["min_gap"]),
            "full_share": _percent(tally.full_share),
            "peer_full_share": _percent(peers.full_share),
            "full_share_threshold": _percent(limits["full_marks_share"]),
        }
        return _finding(key, mentor_id, _worst(*severities), explanation, figures, "MentorEvaluation", facts)

    # --- practice reviews ----------------------------------------------------------------------

    async def _reviews(self, window: Window, limits: Limits) -> list[Finding]:
        connection, p = window.connection, Params(window.connection)
        arrived = seconds_between(window, "COALESCE(r.received_at, l.created_at)", "l.reviewed_at")
        confirmed = p(CONFIRMED)
        rows = await connection.execute_query_dict(
            "SELECT l.reviewer_id, COUNT(*) AS reviewed,"
            f" SUM(CASE WHEN l.status = {confirmed} THEN 1 ELSE 0 END) AS confirmed,"
            f" SUM(CASE WHEN l.status = {confirmed} AND {arrived} <= {p(limits['quick_seconds'])} THEN 1 ELSE 0 END)"
            " AS quick"
            " FROM practice_log l LEFT JOIN activity_record r ON r.id = l.record_id AND r.tenant_id = l.tenant_id"
            f" WHERE {_reviewed(window, p)} GROUP BY l.reviewer_id",
            p.values,
        )
        by_reviewer = {
            int(row["reviewer_id"]): Reviews(int(row["reviewed"]), int(row["confirmed"]), int(row["quick"]))
            for row in rows
        }
        everyone = sum(by_reviewer.values(), Reviews())
        findings = []
        for mentor_id, reviews in sorted(by_reviewer.items()):
            peers = everyone - reviews
            verdict = judge_reviews(reviews, peers, len(by_reviewer) - 1, limits)
            if verdict is None:
                continue
            facts = await self._confirmed_by(window, mentor_id)
            if facts:
                findings.append(self._review_finding(mentor_id, reviews, peers, verdict, facts, limits))
        return findings

    async def _confirmed_by(self, window: Window, mentor_id: int) -> list[Fact]:
        connection, p = window.connection, Params(window.connection)
        rows = await connection.execute_query_dict(
            "SELECT l.id, l.record_id, l.reviewed_at FROM practice_log l"
            f" WHERE {_reviewed(window, p)} AND l.reviewer_id = {p(mentor_id)} AND l.status = {p(CONFIRMED)}"
            " ORDER BY l.reviewed_at, l.id",
            p.values,
        )
        return [(str(row["id"]), UUID(str(row["record_id"])), as_time(row["reviewed_at"])) for row in rows]

    def _review_finding(
        self,
        mentor_id: int,
        reviews: Reviews,
        peers: Reviews,
        verdict: ReviewVerdict,
        facts: list[Fact],
        limits: Limits,
    ) -> Finding:
        explanation = _named((("quick", verdict.quick), ("confirm_rate", verdict.confirm_rate)))
        severities = []
        if verdict.quick:  # the more quick confirmations beyond the fewest judged, the more is at stake
            severities.append(severity_of(reviews.quick / limits["min_reviews"]))
        if verdict.confirm_rate and verdict.z is not None:
            severities.append(severity_of(verdict.z / limits["z_score"]))
        key = f"LENIENT_MENTOR:{mentor_id}:reviews"
        figures: dict[str, Any] = {
            "reviews": reviews.reviewed,
            "confirmed": reviews.confirmed,
            "rate": _percent(reviews.rate),
            "quick": reviews.quick,
            "quick_share": _percent(reviews.quick_share),
            "quick_seconds": _number(limits["quick_seconds"]),
            "quick_share_threshold": _percent(limits["quick_share"]),
            "peer_reviews": peers.reviewed,
            "peer_rate": _percent(peers.rate) if peers.reviewed else None,
            "z": round(verdict.z, 1) if verdict.z is not None else None,
            "z_threshold": _number(limits["z_score"]),
        }
        return _finding(key, mentor_id, _worst(*severities), explanation, figures, "PracticeLog", facts)


def _evaluations(window: Window, p: Params) -> str:
    """The conditions of the evaluations a scan counts: submitted (not superseded) by a mentor,
    not HR's replacements, in the window."""
    return (
        f"tenant_id = {p(window.tenant_id)} AND status = {p(SUBMITTED)} AND supersedes_id IS NULL"
        f" AND percent IS NOT NULL AND {window.during(p, 'submitted_at')}"
    )


def _reviewed(window: Window, p: Params) -> str:
    """The conditions of the practice logs (``l``) reviewed in the window."""
    return (
        f"l.tenant_id = {p(window.tenant_id)} AND l.reviewer_id IS NOT NULL AND l.status <> {p(PENDING)}"
        f" AND {window.during(p, 'l.reviewed_at')}"
    )


def _finding(
    key: str,
    mentor_id: int,
    severity: IntegritySeverity,
    explanation: str,
    figures: dict[str, Any],
    evidence_type: str,
    facts: list[Fact],
) -> Finding:
    return Finding(
        kind=IntegrityAlertKind.LENIENT_MENTOR,
        alert_key=key,
        pattern_key=key,
        employee_id=mentor_id,
        severity=severity,
        explanation=explanation,
        figures=figures,
        first_at=min(at for _, _, at in facts),
        last_at=max(at for _, _, at in facts),
        evidence=[Evidence(evidence_type, fact_id) for fact_id, _, _ in facts[:EVIDENCE_LIMIT]],
        records=[record_id for _, record_id, _ in facts if record_id is not None],
    )
