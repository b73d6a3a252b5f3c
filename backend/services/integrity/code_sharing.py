"""CODE_SHARING: one check-in code used from places far from the session, or a check-in without a
place where everyone else has one.

Judged per session, on scanned check-ins (attendances with a CHECK_IN record) and their places:
- ``far_from_site``: a check-in farther than ``far_metres`` from the session's site (a site with
  coordinates);
- ``far_apart``: (a site without coordinates) check-ins of the SAME code (time step) from places
  more than ``far_metres`` apart, where the session was is where most of its check-ins were (the
  median of their places): those of the pair farther than ``far_metres`` from it are flagged (two
  people alone far apart are both flagged: nothing tells who was there);
- ``no_location``: a check-in without a place while ``located_share`` of the session's other
  check-ins, and at least ``min_located`` of them, have one.
One alert per person and session; the attendance's credits are held. While a push is applied the
check-in handler notes a signal for each scan farther from its site than the loosest setting a
company may choose (``SIGNAL_BEYOND_METRES``), and ``on_signals`` judges it with the company's
limit: the alert is raised, and the credits held, in the push's own transaction.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from backend.models import IntegrityAlertKind, IntegritySeverity
from backend.services.integrity.detectors import (
    EARTH_RADIUS_M,
    Detector,
    Evidence,
    Finding,
    Limits,
    Signal,
    Threshold,
    Window,
    as_time,
    median,
    metres_between,
    severity_of,
)
from backend.sql import Params, db_time

KIND = IntegrityAlertKind.CODE_SHARING
FAR_METRES = Threshold("far_metres", 1000, 100, 100_000)
# The check-in handler notes a scan this far from its site or farther (the loosest setting).
SIGNAL_BEYOND_METRES = FAR_METRES.minimum


@dataclass(frozen=True)
class CheckIn:
    """One scanned check-in: its attendance, whose, which record, when, which code and where."""

    attendance_id: int
    session_id: int
    employee_id: int
    record_id: UUID
    at: datetime
    code_step: int | None
    latitude: float | None
    longitude: float | None

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


class CodeSharing(Detector):
    kind = KIND
    thresholds = (
        FAR_METRES,
        Threshold("located_share", 0.8, 0.5, 1),
        Threshold("min_located", 5, 2, 1000, integer=True),
    )
    messages = {
        "explanation.far_from_site": {
            "zh-CN": "签到位置距离培训场地 {metres} 米（阈值：{threshold} 米），可能是签到码被转发给不在现场的人使用。",
            "en": "Checked in {metres} metres from the session's site (threshold: {threshold} metres): the code may"
            " have been passed to someone who was not there.",
        },
        "explanation.far_apart": {
            "zh-CN": "同一个签到码（同一时段）在相距 {apart} 米的地点被使用；本次签到距离大多数人签到的位置 {metres} 米"
            "（阈值：{threshold} 米）。",
            "en": "The same check-in code (same time step) was used from places {apart} metres apart; this check-in"
            " was {metres} metres from where most people checked in (threshold: {threshold} metres).",
        },
        "explanation.no_location": {
            "zh-CN": "本次签到没有位置信息，而同一场培训的其他 {others} 次签到中有 {located} 次带有位置（阈值：{share}%）。",
            "en": "This check-in had no location while {located} of the session's {others} other check-ins had one"
            " (threshold: {share}%).",
        },
        "threshold.far_metres": {"zh-CN": "距离场地的最远距离（米）", "en": "Farthest distance from the site (metres)"},
        "threshold.located_share": {
            "zh-CN": "同场其他签到带位置的比例（0.5–1）",
            "en": "Share of the session's other check-ins with a location (0.5–1)",
        },
        "threshold.min_located": {
            "zh-CN": "同场至少有多少次带位置的签到",
            "en": "Fewest located check-ins in the session",
        },
    }

    def on_signals(self, signals: Sequence[Signal], limits: Limits) -> list[Finding]:
        """Scans the check-in handler saw far from their sites (figures ``session_id``, ``metres``
        and ``attendance_id``), judged with the company's limit."""
        findings: dict[str, Finding] = {}
        for signal in signals:
            metres = signal.figures.get("metres")
            if metres is None or metres <= limits["far_metres"]:
                continue
            attendance = signal.figures.get("attendance_id")
            finding = far_from_site_finding(
                signal.employee_id,
                int(signal.figures["session_id"]),
                signal.record_id,
                None if attendance is None else int(attendance),
                signal.at,
                float(metres),
                limits,
            )
            findings.setdefault(finding.alert_key, finding)
        return list(findings.values())

    async def scan(self, window: Window, limits: Limits) -> list[Finding]:
        connection, p = window.connection, Params(window.connection)
        since, until = p(db_time(connection, window.since)), p(db_time(connection, window.until))
        tenant, box = p(window.tenant_id), p(box_degrees(limits["far_metres"]))
        located = "latitude IS NOT NULL AND longitude IS NOT NULL"
        in_window = f"checked_in_at >= {since} AND checked_in_at < {until}"
        # Every check-in of the sessions with one in the window (a session is judged whole), with
        # its session's counts and how far apart the places of each code are; read back are only
        # the candidates: places outside the box around the site (inside it nothing is far), the
        # located check-ins of sessions whose codes were used far apart (their median is needed),
        # and check-ins without a place in sessions where the others have one.
        rows = await connection.execute_query_dict(
            "WITH scoped AS (SELECT DISTINCT session_id FROM attendance"
            f" WHERE tenant_id = {tenant} AND record_id IS NOT NULL AND {in_window}),"
            " checkins AS (SELECT a.id, a.session_id, a.employee_id, a.record_id, a.checked_in_at, a.code_step,"
            " a.latitude, a.longitude, s.latitude AS site_latitude, s.longitude AS site_longitude"
            " FROM attendance a JOIN scoped ON scoped.session_id = a.session_id"
            " JOIN training_session t ON t.id = a.session_id JOIN site s ON s.id = t.site_id"
            f" WHERE a.tenant_id = {tenant} AND a.record_id IS NOT NULL AND a.checked_in_at IS NOT NULL),"
            " counted AS (SELECT c.*, COUNT(*) OVER (PARTITION BY session_id) AS checkins,"
            f" SUM(CASE WHEN {located} THEN 1 ELSE 0 END) OVER (PARTITION BY session_id) AS located,"
            " MAX(latitude) OVER code - MIN(latitude) OVER code AS code_latitudes,"
            " MAX(longitude) OVER code - MIN(longitude) OVER code AS code_longitudes"
            " FROM checkins c WINDOW code AS (PARTITION BY session_id, code_step)),"
            " spread AS (SELECT counted.*, MAX(CASE WHEN code_step IS NOT NULL"
            f" AND (code_latitudes > {box} OR code_longitudes > {box}) THEN 1 ELSE 0 END)"
            " OVER (PARTITION BY session_id) AS spread FROM counted)"
            " SELECT id, session_id, employee_id, record_id, checked_in_at, code_step, latitude, longitude,"
            " site_latitude, site_longitude, checkins, located FROM spread"
            f" WHERE ({located} AND site_latitude IS NULL AND spread = 1)"
            f" OR ({in_window} AND (({located} AND site_latitude IS NOT NULL AND site_longitude IS NOT NULL"
            f" AND (ABS(latitude - site_latitude) > {box} OR ABS(longitude - site_longitude) > {box}))"
            f" OR ((latitude IS NULL OR longitude IS NULL) AND located >= {p(int(limits['min_located']))}"
            f" AND located >= CAST({p(float(limits['located_share']))} AS DOUBLE PRECISION) * (checkins - 1))))",
            p.values,
        )
        far: list[tuple[CheckIn, float, float]] = []
        apart: dict[int, list[CheckIn]] = defaultdict(list)
        findings: list[Finding] = []
        for row in rows:
            checkin = CheckIn(
                int(row["id"]),
                int(row["session_id"]),
                int(row["employee_id"]),
                UUID(str(row["record_id"])),
                as_time(row["checked_in_at"]),
                None if row["code_step"] is None else int(row["code_step"]),
                None if row["latitude"] is None else float(row["latitude"]),
                None if row["longitude"] is None else float(row["longitude"]),
            )
            if not checkin.located:
                finding = no_location(checkin, int(row["checkins"]) - 1, int(row["located"]), limits)
                findings += [finding] if finding else []
            elif row["site_latitude"] is not None and row["site_longitude"] is not None:
                far.append((checkin, float(row["site_latitude"]), float(row["site_longitude"])))
            else:
                apart[checkin.session_id].append(checkin)
        findings += far_from_site(far, limits)
        for checkins in apart.values():
            findings += [
                finding for finding in far_apart(checkins, limits) if window.since <= finding.first_at < window.until
            ]
        return findings


def box_degrees(metres: float) -> float:
    """Half the side, in degrees, of a box around a point within which every place lies at most
    ``metres`` away (a meridian and a parallel stretch, each at most half of it): what lies inside
    is never farther, so SQL reads back only the places outside."""
    return math.degrees(metres / (2 * EARTH_RADIUS_M))


def far_from_site_finding(
    employee_id: int,
    session_id: int,
    record_id: UUID,
    attendance_id: int | None,
    at: datetime,
    metres: float,
    limits: Limits,
) -> Finding:
    threshold = limits["far_metres"]
    return Finding(
        kind=KIND,
        alert_key=alert_key(employee_id, session_id),
        pattern_key=alert_key(employee_id, session_id),
        employee_id=employee_id,
        severity=severity_of(metres / threshold),
        explanation="far_from_site",
        figures={"metres": round(metres), "threshold": round(threshold), "session_id": session_id},
        first_at=at,
        last_at=at,
        evidence=[] if attendance_id is None else [Evidence("Attendance", str(attendance_id))],
        records=[record_id],
    )


def alert_key(employee_id: int, session_id: int) -> str:
    return f"CODE_SHARING:{employee_id}:{session_id}"


def far_from_site(checkins: Iterable[tuple[CheckIn, float, float]], limits: Limits) -> list[Finding]:
    """Located check-ins farther than ``far_metres`` from their site (latitude, longitude)."""
    findings = []
    for checkin, site_latitude, site_longitude in checkins:
        metres = metres_between(*_place(checkin), site_latitude, site_longitude)
        if metres > limits["far_metres"]:
            findings.append(
                far_from_site_finding(
                    checkin.employee_id,
                    checkin.session_id,
                    checkin.record_id,
                    checkin.attendance_id,
                    checkin.at,
                    metres,
                    limits,
                )
            )
    return findings


def far_apart(checkins: Sequence[CheckIn], limits: Limits) -> list[Finding]:
    """One session's located check-ins (a site without coordinates): each one that shares its
    code with a check-in more than ``far_metres`` away and lies more than ``far_metres`` from the
    median of the session's places."""
    located = [c for c in checkins if c.located]
    if len(located) < 2:
        return []
    threshold = limits["far_metres"]
    places = [_place(c) for c in located]
    centre = (median([latitude for latitude, _ in places]), median([longitude for _, longitude in places]))
    by_code: dict[int, list[CheckIn]] = defaultdict(list)
    for checkin in located:
        if checkin.code_step is not None:
            by_code[checkin.code_step].append(checkin)
    findings = []
    for same_code in by_code.values():
        for checkin in same_code:
            apart = max((_metres(checkin, other) for other in same_code if other is not checkin), default=0.0)
            if apart <= threshold:
                continue
            metres = metres_between(*_place(checkin), *centre)
            if metres <= threshold:
                continue
            key = alert_key(checkin.employee_id, checkin.session_id)
            findings.append(
                Finding(
                    kind=KIND,
                    alert_key=key,
                    pattern_key=key,
                    employee_id=checkin.employee_id,
                    severity=severity_of(metres / threshold),
                    explanation="far_apart",
                    figures={
                        "metres": round(metres),
                        "apart": round(apart),
                        "threshold": round(threshold),
                        "session_id": checkin.session_id,
                        "code_step": checkin.code_step,
                    },
                    first_at=checkin.at,
                    last_at=checkin.at,
                    evidence=[Evidence("Attendance", str(checkin.attendance_id))],
                    records=[checkin.record_id],
                )
            )
    return findings


def _place(checkin: CheckIn) -> tuple[float, float]:
    assert checkin.latitude is not None and checkin.longitude is not None
    return checkin.latitude, checkin.longitude


def _metres(a: CheckIn, b: CheckIn) -> float:
    return metres_between(*_place(a), *_place(b))


def no_location(checkin: CheckIn, others: int, located: int, limits: Limits) -> Finding | None:
    """A check-in without a place, among ``others`` other check-ins of its session of which
    ``located`` had one: flagged when they are at least ``min_located`` and ``located_share``."""
    if checkin.located or others <= 0:
        return None
    share = located / others
    if located < limits["min_located"] or share < limits["located_share"]:
        return None
    key = alert_key(checkin.employee_id, checkin.session_id)
    return Finding(
        kind=KIND,
        alert_key=key,
        pattern_key=key,
        employee_id=checkin.employee_id,
        severity=IntegritySeverity.LOW,  # a phone may deny the location for honest reasons
        explanation="no_location",
        figures={
            "located": located,
            "others": others,
            "share": round(limits["located_share"] * 100),
            "session_id": checkin.session_id,
        },
        first_at=checkin.at,
        last_at=checkin.at,
        evidence=[Evidence("Attendance", str(checkin.attendance_id))],
        records=[checkin.record_id],
    )
