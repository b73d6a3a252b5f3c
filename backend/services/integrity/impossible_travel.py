"""IMPOSSIBLE_TRAVEL: two places of one person too far apart for the time between them.

The located facts of a person are their scanned check-ins (the attendance's place at the judged
scan time) and the other accepted ``CHECK_IN`` records that carried a place (a second scan of a
session, which the attendance does not keep; the only record kind with a place,
docs/sync-protocol.md). Each fact is compared with the person's fact just before it: at least
``min_km`` apart and faster than ``max_kmh`` is flagged (an airliner cruises at 900 km/h; a
high-speed train between two sites at 300 km/h is not). Comparing neighbours is enough: when a
fact is impossible to reach from an earlier one, it is from its neighbour or the neighbour from
that one. One alert per person and later fact; both facts' credits are held (either may be the
false one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from backend.models import IntegrityAlertKind
from backend.services.integrity.detectors import (
    EARTH_RADIUS_M,
    Detector,
    Evidence,
    Finding,
    Limits,
    Threshold,
    Window,
    as_time,
    metres_between,
    seconds_between,
    severity_of,
)
from backend.sql import Params, db_time

KIND = IntegrityAlertKind.IMPOSSIBLE_TRAVEL
# The longest way between two places on earth (half a great circle), in km: a fact longer ago
# than this takes at ``max_kmh`` cannot be the start of an impossible journey.
FARTHEST_KM = math.pi * EARTH_RADIUS_M / 1000
KM_PER_DEGREE = math.radians(1) * EARTH_RADIUS_M / 1000


@dataclass(frozen=True)
class Fact:
    """A place a person was at a moment: what shows it (Attendance or ActivityRecord, its id) and
    the record whose credits are at stake."""

    employee_id: int
    evidence: Evidence
    record_id: UUID
    at: datetime
    latitude: float
    longitude: float


class ImpossibleTravel(Detector):
    kind = KIND
    thresholds = (
        Threshold("min_km", 50, 1, 1000),
        Threshold("max_kmh", 900, 100, 5000),
    )
    messages = {
        "explanation.travel": {
            "zh-CN": "两次定位相距 {km} 公里，间隔只有 {minutes} 分钟，折合每小时 {kmh} 公里（阈值：每小时 {threshold} 公里），"
            "本人不可能在这段时间内到达。",
            "en": "Two locations {km} km apart only {minutes} minutes apart: {kmh} km/h (threshold: {threshold}"
            " km/h), faster than anyone can travel.",
        },
        "threshold.min_km": {"zh-CN": "两次定位的最小距离（公里）", "en": "Least distance between the two places (km)"},
        "threshold.max_kmh": {"zh-CN": "可能的最高速度（公里/小时）", "en": "Fastest possible speed (km/h)"},
    }

    async def scan(self, window: Window, limits: Limits) -> list[Finding]:
        connection, p = window.connection, Params(window.connection)
        tenant = p(window.tenant_id)
        earliest = window.since - timedelta(hours=FARTHEST_KM / limits["max_kmh"])
        start, since, until = (
            p(db_time(connection, earliest)),
            p(db_time(connection, window.since)),
            p(db_time(connection, window.until)),
        )
        # A place in a record's payload, read only where it is a number (no cast can fail).
        if window.postgres:
            number = "jsonb_typeof(r.payload->'{0}') = 'number'"
            value = "CASE WHEN jsonb_typeof(r.payload->'{0}') = 'number' THEN (r.payload->>'{0}')::double precision END"
        else:
            number = "json_type(r.payload, '$.{0}') IN ('integer', 'real')"
            value = "json_extract(r.payload, '$.{0}')"
        latitude, longitude = value.format("latitude"), value.format("longitude")
        spread = "(ABS(latitude - previous_latitude) + ABS(longitude - previous_longitude))"
        # Each located fact with the person's one before it; only pairs that could be too far
        # apart for their time are read back (a meridian and a parallel stretch between two
        # places are at least as long as the shortest way, so this bound never drops one).
        rows = await connection.execute_query_dict(
            "WITH facts AS ("
            " SELECT employee_id, id AS attendance_id, record_id, checked_in_at AS moment, latitude, longitude"
            f" FROM attendance WHERE tenant_id = {tenant} AND record_id IS NOT NULL AND checked_in_at IS NOT NULL"
            " AND latitude IS NOT NULL AND longitude IS NOT NULL"
            f" AND checked_in_at >= {start} AND checked_in_at < {until}"
            " UNION ALL"
            # (An anti-join, not NOT IN: PostgreSQL hashes NOT IN only when it fits in work_mem.)
            f" SELECT r.employee_id, CAST(NULL AS INTEGER), r.id, r.occurred_at, {latitude}, {longitude}"
            " FROM activity_record r LEFT JOIN attendance a ON a.record_id = r.id AND a.tenant_id = r.tenant_id"
            f" WHERE r.tenant_id = {tenant} AND r.kind = {p('CHECK_IN')} AND r.status = {p('ACCEPTED')}"
            f" AND r.occurred_at >= {start} AND r.occurred_at < {until}"
            f" AND {number.format('latitude')} AND {number.format('longitude')} AND a.id IS NULL),"
            " paired AS (SELECT facts.*, LAG(moment) OVER w AS previous_moment, LAG(latitude) OVER w AS previous_latitude,"
            " LAG(longitude) OVER w AS previous_longitude, LAG(record_id) OVER w AS previous_record_id,"
            " LAG(attendance_id) OVER w AS previous_attendance_id"
            " FROM facts WINDOW w AS (PARTITION BY employee_id ORDER BY moment, record_id))"
            " SELECT * FROM paired"
            f" WHERE previous_moment IS NOT NULL AND moment >= {since}"
            f" AND {spread} * {p(KM_PER_DEGREE)} >= {p(float(limits['min_km']))}"
            f" AND {spread} * {p(KM_PER_DEGREE * 3600)}"
            f" > {p(float(limits['max_kmh']))} * CAST({seconds_between(window, 'previous_moment', 'moment')} AS DOUBLE PRECISION)",
            p.values,
        )
        pairs = [(_fact(row, "previous_"), _fact(row, "")) for row in rows]
        return [finding for earlier, later in pairs if (finding := judge(earlier, later, limits))]


def _fact(row: dict[str, Any], prefix: str) -> Fact:
    """The fact of a row read by ``scan``: its later one (``prefix`` "") or the one before it."""
    record, attendance = UUID(str(row[f"{prefix}record_id"])), row[f"{prefix}attendance_id"]
    return Fact(
        int(row["employee_id"]),
        Evidence("ActivityRecord", str(record)) if attendance is None else Evidence("Attendance", str(attendance)),
        record,
        as_time(row[f"{prefix}moment"]),
        float(row[f"{prefix}latitude"]),
        float(row[f"{prefix}longitude"]),
    )


def judge(earlier: Fact, later: Fact, limits: Limits) -> Finding | None:
    """Two successive places of one person: a finding when they are at least ``min_km`` apart
    and would take more than ``max_kmh`` to travel between."""
    km = metres_between(earlier.latitude, earlier.longitude, later.latitude, later.longitude) / 1000
    seconds = (later.at - earlier.at).total_seconds()
    kmh = km * 3600 / max(seconds, 1.0)  # the same moment in two places: as if a second apart
    if km < limits["min_km"] or kmh <= limits["max_kmh"]:
        return None
    employee_id = later.employee_id
    return Finding(
        kind=KIND,
        alert_key=f"IMPOSSIBLE_TRAVEL:{employee_id}:{later.record_id}",
        pattern_key=f"IMPOSSIBLE_TRAVEL:{employee_id}",
        employee_id=employee_id,
        severity=severity_of(kmh / limits["max_kmh"]),
        explanation="travel",
        figures={
            "km": round(km),
            "minutes": round(seconds / 60),
            "kmh": round(kmh),
            "threshold": round(limits["max_kmh"]),
        },
        first_at=earlier.at,
        last_at=later.at,
        evidence=[later.evidence, earlier.evidence],
        records=[later.record_id, earlier.record_id],
    )
