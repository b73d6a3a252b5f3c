"""SHARED_DEVICE: one phone earning credits for several people.

A phone is its app's device id (``device.device_uid``; one device row per employee and phone, so
one phone signed in by two people has two rows with the same id). A phone used for creditable
records (accepted records with a ``credit_event``: what rules may credit) by ``employees`` people
or more in the window is shared: each of them but the one who used it first (who signed in on it
first, then whose first creditable record on it came first) gets an alert naming the first user,
holding the credits of their records from that phone in the window. The server's own devices (the
history import's) are not phones and are left out. One alert per phone and person: a rescan adds
the newer records to an open one.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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
from backend.sql import Params, db_time

KIND = IntegrityAlertKind.SHARED_DEVICE
# Device ids starting with this are the server's own (people.devices.RESERVED_PREFIX: the history
# import's device), which no phone can sign in with; detectors import no domain service.
RESERVED_PREFIX = "xuefen-"
# Records an alert lists (alerts.MAX_EVIDENCE; its figures say how many there were).
MAX_EVIDENCE = 200


@dataclass(frozen=True)
class Use:
    """One person's creditable use of a phone in the window."""

    device_uid: str
    employee_id: int
    first_seen_at: datetime  # when they first signed in on it
    first_at: datetime  # their first and last creditable record on it
    last_at: datetime
    records: int


class SharedDevice(Detector):
    kind = KIND
    thresholds = (Threshold("employees", 2, 2, 100, integer=True),)
    messages = {
        "explanation.shared": {
            "zh-CN": "同一台设备被 {employees} 名员工用来提交可得学分的记录（阈值：{threshold} 名）；本员工不是这台设备的"
            "首位使用者，在其上提交了 {records} 条可得学分的记录。",
            "en": "One device was used by {employees} employees for creditable records (threshold: {threshold});"
            " this employee, not its first user, sent {records} creditable records from it.",
        },
        "threshold.employees": {
            "zh-CN": "同一台设备上获得学分的员工人数",
            "en": "Employees earning credits from one device",
        },
    }

    async def scan(self, window: Window, limits: Limits) -> list[Finding]:
        connection, p = window.connection, Params(window.connection)
        tenant = p(window.tenant_id)
        since, until = p(db_time(connection, window.since)), p(db_time(connection, window.until))
        # Each person's creditable use of each phone, read back only for phones used so by enough people.
        rows = await connection.execute_query_dict(
            "WITH used AS (SELECT d.device_uid, r.employee_id, MIN(d.first_seen_at) AS first_seen_at,"
            " MIN(r.occurred_at) AS first_at, MAX(r.occurred_at) AS last_at, COUNT(DISTINCT r.id) AS records"
            " FROM credit_event v JOIN activity_record r ON r.id = v.record_id"
            " JOIN device d ON d.id = r.device_id"
            f" WHERE v.tenant_id = {tenant} AND v.record_id IS NOT NULL"
            f" AND v.occurred_at >= {since} AND v.occurred_at < {until}"
            f" AND r.tenant_id = {tenant} AND r.status = {p('ACCEPTED')}"
            f" AND d.device_uid NOT LIKE {p(RESERVED_PREFIX + '%')}"
            " GROUP BY d.device_uid, r.employee_id),"
            " shared AS (SELECT used.*, COUNT(*) OVER (PARTITION BY device_uid) AS employees FROM used)"
            f" SELECT * FROM shared WHERE employees >= {p(int(limits['employees']))}",
            p.values,
        )
        uses = [
            Use(
                str(row["device_uid"]),
                int(row["employee_id"]),
                as_time(row["first_seen_at"]),
                as_time(row["first_at"]),
                as_time(row["last_at"]),
                int(row["records"]),
            )
            for row in rows
        ]
        later = shared_uses(uses, limits)
        if not later:
            return []
        p = Params(connection)
        wanted = {(use.device_uid, use.employee_id) for use, _, _ in later}
        records: dict[tuple[str, int], list[UUID]] = defaultdict(list)
        for row in await connection.execute_query_dict(
            "SELECT DISTINCT d.device_uid, r.employee_id, r.id, r.occurred_at"
            " FROM credit_event v JOIN activity_record r ON r.id = v.record_id AND r.tenant_id = v.tenant_id"
            " JOIN device d ON d.id = r.device_id AND d.tenant_id = r.tenant_id"
            f" WHERE v.tenant_id = {p(window.tenant_id)} AND v.record_id IS NOT NULL"
            f" AND {window.during(p, 'v.occurred_at')}"
            f" AND r.status = {p('ACCEPTED')}"
            f" AND d.device_uid {p.among(sorted({uid for uid, _ in wanted}), 'text')}"
            f" AND r.employee_id {p.among(sorted({e for _, e in wanted}), 'int')}"
            " ORDER BY r.occurred_at, r.id",
            p.values,
        ):
            key = (str(row["device_uid"]), int(row["employee_id"]))
            if key in wanted:
                records[key].append(UUID(str(row["id"])))
        return [
            finding(use, first, people, records[(use.device_uid, use.employee_id)], limits)
            for use, first, people in later
        ]


def shared_uses(uses: Sequence[Use], limits: Limits) -> list[tuple[Use, Use, int]]:
    """Of each phone used by ``employees`` people or more: every use but the first user's, with
    the first user's (who signed in on it first, then whose first record came first) and how many
    people used it."""
    by_device: dict[str, list[Use]] = defaultdict(list)
    for use in uses:
        by_device[use.device_uid].append(use)
    shared = []
    for device_uses in by_device.values():
        people = len({use.employee_id for use in device_uses})
        if people < limits["employees"]:
            continue
        first, *others = sorted(device_uses, key=lambda use: (use.first_seen_at, use.first_at, use.employee_id))
        shared += [(use, first, people) for use in others]
    return shared


def device_key(device_uid: str) -> str:
    """A phone in an alert key: a hash of its id, which stays private."""
    return hashlib.sha256(device_uid.encode()).hexdigest()[:16]


def finding(use: Use, first: Use, people: int, records: list[UUID], limits: Limits) -> Finding:
    threshold = limits["employees"]
    key = f"SHARED_DEVICE:{device_key(use.device_uid)}:{use.employee_id}"
    return Finding(
        kind=KIND,
        alert_key=key,
        pattern_key=key,
        employee_id=use.employee_id,
        severity=severity_of(people / threshold),
        explanation="shared",
        figures={"employees": people, "records": use.records, "threshold": round(threshold)},
        first_at=use.first_at,
        last_at=use.last_at,
        evidence=[Evidence("ActivityRecord", str(record)) for record in records[:MAX_EVIDENCE]],
        records=records,
        other_employee_id=first.employee_id,
        device_uid=use.device_uid,
    )
