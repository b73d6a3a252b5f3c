"""FARMING_BURST: creditable activity at a pace no person keeps.

Two signs, judged on corrected times (what the server believes happened when):
- ``records`` creditable facts of one person within ``seconds`` (dozens of lessons or practice
  logs in a minute): a burst is every fact of such a run, runs that overlap merged;
- ``faster_than_content`` lessons of one person in one day completed sooner than their content
  lasts (the ``FASTER_THAN_CONTENT`` flag study progress sets).
A creditable fact is a ``credit_event`` with a record (what rules may credit, whether or not a rule
does). One alert per person and (UTC) day; the credits of the burst's records are held. In a push,
the creditable facts it noted and the lessons it flagged are judged the same way (``on_signals``);
the scan finds runs that spread over several pushes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from uuid import UUID

from backend.models import IntegrityAlertKind
from backend.services.integrity.detectors import (
    Detector,
    Evidence,
    Finding,
    Limits,
    Signal,
    Threshold,
    Window,
    as_time,
    day_key,
    seconds_between,
    severity_of,
)
from backend.sql import Params

Fact = tuple[int, UUID, datetime]  # employee, record, when

# Creditable facts and the records they came from: a company's imported history (HISTORY_RESULT,
# dated at noon when a line has a date alone) is not a pace anyone kept.
_FACTS = "credit_event v JOIN activity_record r ON r.id = v.record_id AND r.tenant_id = v.tenant_id"
HISTORY_RESULT = "HISTORY_RESULT"  # imports.history_kind's kind (detectors import no domain service)

# The flag study progress stores with a lesson done sooner than its content lasts (content.study;
# detectors read tables and import no domain service, which would import the unit of work back).
FASTER_THAN_CONTENT = "FASTER_THAN_CONTENT"


class FarmingBurst(Detector):
    kind = IntegrityAlertKind.FARMING_BURST
    thresholds = (
        Threshold("records", 20, 5, 1000, integer=True),
        Threshold("seconds", 60, 10, 600),
        Threshold("faster_than_content", 3, 1, 100, integer=True),
    )
    messages = {
        "explanation.pace": {
            "zh-CN": "{seconds} 秒内提交了 {records} 条可得学分的记录（阈值：{threshold} 条），超出正常学习节奏。",
            "en": "{records} creditable records within {seconds} seconds (threshold: {threshold}): faster than"
            " anyone learns.",
        },
        "explanation.content": {
            "zh-CN": "同一天内有 {lessons} 节课的完成时间短于课程内容本身的时长（阈值：{threshold} 节）。",
            "en": "{lessons} lessons in one day were completed sooner than their content lasts (threshold:"
            " {threshold}).",
        },
        "threshold.records": {"zh-CN": "短时间内的记录条数", "en": "Records within the time span"},
        "threshold.seconds": {"zh-CN": "时间跨度（秒）", "en": "Time span (seconds)"},
        "threshold.faster_than_content": {
            "zh-CN": "每天快于内容时长完成的课时数",
            "en": "Lessons per day completed faster than their content",
        },
    }

    def on_signals(self, signals: Sequence[Signal], limits: Limits) -> list[Finding]:
        paced = [(s.employee_id, s.record_id, s.at) for s in signals if not s.figures.get(FASTER_THAN_CONTENT)]
        hurried = [(s.employee_id, s.record_id, s.at) for s in signals if s.figures.get(FASTER_THAN_CONTENT)]
        return bursts(paced, limits) + hurried_days(hurried, limits)

    async def scan(self, window: Window, limits: Limits) -> list[Finding]:
        connection, p = window.connection, Params(window.connection)
        span = int(limits["records"]) - 1
        # Each fact with the one ``records - 1`` later of the same person: a run starts where
        # they lie within ``seconds``. Only the people and times of such runs are read back.
        starts = await connection.execute_query_dict(
            "SELECT employee_id, MIN(occurred_at) AS first_at, MAX(later) AS last_at FROM ("
            " SELECT employee_id, occurred_at,"
            f" LEAD(occurred_at, {span}) OVER (PARTITION BY employee_id ORDER BY occurred_at) AS later"
            # One fact per record: a lesson that completes its module and course is one thing done.
            f" FROM (SELECT v.employee_id, v.record_id, MIN(v.occurred_at) AS occurred_at FROM {_FACTS}"
            f" WHERE v.tenant_id = {p(window.tenant_id)} AND v.record_id IS NOT NULL"
            f" AND {window.during(p, 'v.occurred_at')} AND r.kind <> {p(HISTORY_RESULT)}"
            " GROUP BY v.employee_id, v.record_id) facts) runs"
            f" WHERE later IS NOT NULL AND {seconds_between(window, 'occurred_at', 'later')} <= {p(limits['seconds'])}"
            " GROUP BY employee_id",
            p.values,
        )
        facts: list[Fact] = []
        for row in starts:
            q = Params(connection)
            facts += [
                (int(row["employee_id"]), UUID(str(r["record_id"])), as_time(r["occurred_at"]))
                for r in await connection.execute_query_dict(
                    f"SELECT v.record_id, MIN(v.occurred_at) AS occurred_at FROM {_FACTS}"
                    f" WHERE v.tenant_id = {q(window.tenant_id)} AND v.employee_id = {q(row['employee_id'])}"
                    f" AND v.record_id IS NOT NULL AND v.occurred_at >= {q(row['first_at'])}"
                    f" AND v.occurred_at <= {q(row['last_at'])} AND r.kind <> {q(HISTORY_RESULT)}"
                    " GROUP BY v.record_id",
                    q.values,
                )
            ]
        p = Params(connection)
        flagged = await connection.execute_query_dict(
            "SELECT employee_id, id, occurred_at FROM activity_record"
            f" WHERE tenant_id = {p(window.tenant_id)} AND kind = {p('LESSON_COMPLETED')}"
            f" AND status = {p('ACCEPTED')} AND clock_flags LIKE {p('%' + FASTER_THAN_CONTENT + '%')}"
            f" AND {window.during(p, 'occurred_at')}",
            p.values,
        )
        hurried = [(int(r["employee_id"]), UUID(str(r["id"])), as_time(r["occurred_at"])) for r in flagged]
        return bursts(facts, limits) + hurried_days(hurried, limits)


def could_burst(times: list[datetime]) -> bool:
    """Whether one person's facts at ``times`` (sorted) could be a burst at the loosest settings a
    company may choose: what decides whether a push reads the settings at all."""
    fewest = int(_LOOSEST["records"])
    widest = timedelta(seconds=_LOOSEST["seconds"])
    return any(times[i + fewest - 1] - times[i] <= widest for i in range(len(times) - fewest + 1))


def _by_employee(facts: Iterable[Fact]) -> dict[int, list[tuple[datetime, UUID]]]:
    grouped: dict[int, list[tuple[datetime, UUID]]] = defaultdict(list)
    for employee_id, record_id, at in facts:
        grouped[employee_id].append((at, record_id))
    for items in grouped.values():
        items.sort()
    return grouped


def bursts(facts: Iterable[Fact], limits: Limits) -> list[Finding]:
    """Runs of ``records`` facts within ``seconds``, overlapping runs merged, one finding per
    person and day of a run's start."""
    count, seconds = int(limits["records"]), timedelta(seconds=limits["seconds"])
    findings: dict[str, Finding] = {}
    for employee_id, items in _by_employee(facts).items():
        runs: list[list[int]] = []  # [first index, last index]
        for start in range(len(items) - count + 1):
            end = start + count - 1
            if items[end][0] - items[start][0] <= seconds:
                if runs and start <= runs[-1][1]:
                    runs[-1][1] = end
                else:
                    runs.append([start, end])
        for first, last in runs:
            run = items[first : last + 1]
            elapsed = max((run[-1][0] - run[0][0]).total_seconds(), 1.0)
            per_minute = len(run) * 60 / elapsed
            pace = count * 60 / seconds.total_seconds()  # the threshold, in facts per minute
            _merge(
                findings,
                Finding(
                    kind=IntegrityAlertKind.FARMING_BURST,
                    alert_key=f"FARMING_BURST:{employee_id}:{day_key(run[0][0])}",
                    pattern_key=f"FARMING_BURST:{employee_id}",
                    employee_id=employee_id,
                    severity=severity_of(per_minute / pace),
                    explanation="pace",
                    figures={"records": len(run), "seconds": round(elapsed), "threshold": count},
                    first_at=run[0][0],
                    last_at=run[-1][0],
                    evidence=[Evidence("ActivityRecord", str(record_id)) for _, record_id in run],
                    records=[record_id for _, record_id in run],
                ),
            )
    return list(findings.values())


def hurried_days(facts: Iterable[Fact], limits: Limits) -> list[Finding]:
    """Days with ``faster_than_content`` lessons or more completed sooner than their content lasts."""
    least = int(limits["faster_than_content"])
    findings: dict[str, Finding] = {}
    for employee_id, items in _by_employee(facts).items():
        by_day: dict[str, list[tuple[datetime, UUID]]] = defaultdict(list)
        for at, record_id in items:
            by_day[day_key(at)].append((at, record_id))
        for day, lessons in by_day.items():
            if len(lessons) < least:
                continue
            _merge(
                findings,
                Finding(
                    kind=IntegrityAlertKind.FARMING_BURST,
                    alert_key=f"FARMING_BURST:{employee_id}:{day}",
                    pattern_key=f"FARMING_BURST:{employee_id}",
                    employee_id=employee_id,
                    severity=severity_of(len(lessons) / least),
                    explanation="content",
                    figures={"lessons": len(lessons), "threshold": least},
                    first_at=lessons[0][0],
                    last_at=lessons[-1][0],
                    evidence=[Evidence("ActivityRecord", str(record_id)) for _, record_id in lessons],
                    records=[record_id for _, record_id in lessons],
                ),
            )
    return list(findings.values())


def _merge(findings: dict[str, Finding], finding: Finding) -> None:
    """Two runs of one person on one day are one occurrence: one finding with both."""
    known = findings.get(finding.alert_key)
    if known is None:
        findings[finding.alert_key] = finding
        return
    known.records += [r for r in finding.records if r not in set(known.records)]
    known.evidence += [e for e in finding.evidence if e not in set(known.evidence)]
    known.first_at, known.last_at = min(known.first_at, finding.first_at), max(known.last_at, finding.last_at)
    if known.explanation == finding.explanation == "pace":
        known.figures["records"] = len(known.records)
    known.severity = max(known.severity, finding.severity, key=list(type(known.severity)).index)


_LOOSEST = {"records": FarmingBurst.thresholds[0].minimum, "seconds": FarmingBurst.thresholds[1].maximum}
