"""RECIPROCAL_CONFIRMATION: people confirming each other's practice, or one reviewer confirming one
person's practice far beyond what reviewers usually confirm for one person.

Two signs, over the practice logs confirmed in the window (at the time the review says):

- ``mutual``: A confirmed ``min_each`` or more of B's logs and B ``min_each`` or more of A's. One
  alert per person of the pair (``RECIPROCAL_CONFIRMATION:<lower id>:<higher id>:<person>``, the
  partner as the other person), holding the credits of that person's logs the partner confirmed.
- ``volume``: the quantity one reviewer confirmed for one practitioner is ``volume_ratio`` times or
  more the median over every reviewer–practitioner pair with a confirmation in the window, and
  ``min_volume`` or more. One alert on the practitioner
  (``RECIPROCAL_CONFIRMATION:pair:<reviewer>:<practitioner>``, the reviewer as the other person),
  holding the credits of the pair's confirmed logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
    median,
    severity_of,
)
from backend.sql import Params

CONFIRMED = "CONFIRMED"  # models.mentoring.PracticeStatus (detectors import no domain service)
EVIDENCE_LIMIT = 200  # facts a finding lists (its figures say how many there were)

Pair = tuple[int, int]  # reviewer, practitioner
Log = tuple[str, UUID, datetime]  # practice log id, its record, when it was confirmed


@dataclass(frozen=True)
class Confirmed:
    """What one reviewer confirmed of one practitioner's practice: logs and their quantity."""

    logs: int
    quantity: int


def mutual_pairs(confirmed: dict[Pair, Confirmed], limits: Limits) -> list[Pair]:
    """Pairs (lower id, higher id) who each confirmed ``min_each`` or more of the other's logs."""
    least = limits["min_each"]
    return sorted(
        (reviewer, practitioner)
        for (reviewer, practitioner), given in confirmed.items()
        if reviewer < practitioner
        and given.logs >= least
        and confirmed.get((practitioner, reviewer), Confirmed(0, 0)).logs >= least
    )


def heavy_pairs(confirmed: dict[Pair, Confirmed], limits: Limits) -> tuple[list[Pair], float]:
    """Reviewer–practitioner pairs whose confirmed quantity is out of line (``volume_ratio`` times
    the median of all pairs, and ``min_volume`` or more), and that median."""
    if not confirmed:
        return [], 0.0
    middle = median([float(given.quantity) for given in confirmed.values()])
    bar = max(limits["volume_ratio"] * middle, limits["min_volume"])
    return sorted(pair for pair, given in confirmed.items() if given.quantity >= bar), middle


def _number(value: float) -> float | int:
    return int(value) if value == int(value) else value


class ReciprocalConfirmation(Detector):
    kind = IntegrityAlertKind.RECIPROCAL_CONFIRMATION
    thresholds = (
        Threshold("min_each", 2, 1, 1000, integer=True),
        Threshold("volume_ratio", 5, 2, 100),
        Threshold("min_volume", 20, 5, 100000, integer=True),
    )
    messages = {
        "explanation.mutual": {
            "zh-CN": "两人互相确认了对方的练习：对方确认了本人 {confirmed_for} 条练习记录，本人确认了对方 {confirmed_by}"
            " 条（阈值：每人 {threshold} 条）。",
            "en": "Two people confirmed each other's practice: the other person confirmed {confirmed_for} of this"
            " person's practice logs and this person confirmed {confirmed_by} of theirs (threshold: {threshold}"
            " each).",
        },
        "explanation.volume": {
            "zh-CN": "同一位审核人确认了本人 {quantity} 次练习（{logs} 条记录），是每对审核人与练习人确认量中位数（{median}"
            " 次）的 {ratio} 倍（阈值：{volume_ratio} 倍且至少 {min_volume} 次）。",
            "en": "One reviewer confirmed {quantity} practice units of this person ({logs} logs): {ratio} times the"
            " median a reviewer confirmed for one person ({median}) (threshold: {volume_ratio} times and at least"
            " {min_volume}).",
        },
        "threshold.min_each": {
            "zh-CN": "互相确认的最少记录条数（每人）",
            "en": "Fewest logs confirmed each way",
        },
        "threshold.volume_ratio": {
            "zh-CN": "确认量相对中位数的倍数",
            "en": "Confirmed quantity over the median (times)",
        },
        "threshold.min_volume": {
            "zh-CN": "一对审核人与练习人的最少确认量",
            "en": "Fewest units confirmed for one reviewer–practitioner pair",
        },
    }

    async def scan(self, window: Window, limits: Limits) -> list[Finding]:
        connection, p = window.connection, Params(window.connection)
        rows = await connection.execute_query_dict(
            "SELECT reviewer_id, employee_id, COUNT(*) AS logs, SUM(CAST(quantity AS INTEGER)) AS quantity"
            f" FROM practice_log WHERE {_confirmed(window, p)} AND reviewer_id <> employee_id"
            " GROUP BY reviewer_id, employee_id",
            p.values,
        )
        confirmed = {
            (int(row["reviewer_id"]), int(row["employee_id"])): Confirmed(int(row["logs"]), int(row["quantity"]))
            for row in rows
        }
        logs: dict[Pair, list[Log]] = {}

        async def logs_of(pair: Pair) -> list[Log]:
            if pair not in logs:
                logs[pair] = await _logs(window, *pair)
            return logs[pair]

        findings = []
        least = limits["min_each"]
        for low, high in mutual_pairs(confirmed, limits):
            for person, partner in ((low, high), (high, low)):
                held, given = await logs_of((partner, person)), await logs_of((person, partner))
                if not held:
                    continue
                times = [at for _, _, at in held + given]
                key = f"RECIPROCAL_CONFIRMATION:{low}:{high}:{person}"
                findings.append(
                    Finding(
                        kind=IntegrityAlertKind.RECIPROCAL_CONFIRMATION,
                        alert_key=key,
                        pattern_key=key,
                        employee_id=person,
                        other_employee_id=partner,
                        severity=severity_of(min(len(held), len(given)) / least),
                        explanation="mutual",
                        figures={
                            "confirmed_for": len(held),
                            "confirmed_by": len(given),
                            "threshold": _number(least),
                        },
                        first_at=min(times),
                        last_at=max(times),
                        evidence=_evidence(held + given),
                        records=[record_id for _, record_id, _ in held],
                    )
                )
        heavy, middle = heavy_pairs(confirmed, limits)
        bar = max(limits["volume_ratio"] * middle, limits["min_volume"])
        for reviewer, practitioner in heavy:
            held = await logs_of((reviewer, practitioner))
            if not held:
                continue
            volume = confirmed[(reviewer, practitioner)]
            key = f"RECIPROCAL_CONFIRMATION:pair:{reviewer}:{practitioner}"
            figures: dict[str, Any] = {
                "quantity": volume.quantity,
                "logs": volume.logs,
                "median": _number(middle),
                "ratio": round(volume.quantity / middle, 1) if middle else None,
                "volume_ratio": _number(limits["volume_ratio"]),
                "min_volume": _number(limits["min_volume"]),
            }
            findings.append(
                Finding(
                    kind=IntegrityAlertKind.RECIPROCAL_CONFIRMATION,
                    alert_key=key,
                    pattern_key=key,
                    employee_id=practitioner,
                    other_employee_id=reviewer,
                    severity=severity_of(volume.quantity / bar),
                    explanation="volume",
                    figures=figures,
                    first_at=min(at for _, _, at in held),
                    last_at=max(at for _, _, at in held),
                    evidence=_evidence(held),
                    records=[record_id for _, record_id, _ in held],
                )
            )
        return findings


def _confirmed(window: Window, p: Params) -> str:
    """The conditions of the practice logs confirmed in the window."""
    return (
        f"tenant_id = {p(window.tenant_id)} AND status = {p(CONFIRMED)} AND reviewer_id IS NOT NULL"
        f" AND {window.during(p, 'reviewed_at')}"
    )


async def _logs(window: Window, reviewer_id: int, practitioner_id: int) -> list[Log]:
    """The practitioner's logs the reviewer confirmed in the window, in time order."""
    connection, p = window.connection, Params(window.connection)
    rows = await connection.execute_query_dict(
        f"SELECT id, record_id, reviewed_at FROM practice_log WHERE {_confirmed(window, p)}"
        f" AND reviewer_id = {p(reviewer_id)} AND employee_id = {p(practitioner_id)} ORDER BY reviewed_at, id",
        p.values,
    )
    return [(str(row["id"]), UUID(str(row["record_id"])), as_time(row["reviewed_at"])) for row in rows]


def _evidence(logs: list[Log]) -> list[Evidence]:
    return [Evidence("PracticeLog", log_id) for log_id, _, _ in logs[:EVIDENCE_LIMIT]]
