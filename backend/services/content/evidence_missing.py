"""Evidence that never finished uploading, a scheduled job: EVIDENCE_MISSING to the employee whose
record (a practice log, a mentor's evaluation, a check-out) names attachments still not RECEIVED
``AFTER`` its arrival (docs/notification-events.md).

An attachment row is written when its record is accepted (``evidence.Claims.write``, stamped with
the record's arrival), so its age is the record's. A record is told once, with the number of its
attachments still PENDING (key ``evidence:<record id>``). Only records that arrived within
``LOOKBACK`` are looked at: a phone whose evidence is weeks late is not helped by a reminder, and
the job's read stays bounded however much evidence a company never uploads.

Per run: one query for the records not yet told and their counts (``NOT EXISTS`` against their
notifications), one each for the names of their modules and sessions, one insert.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections

from backend.errors import DomainError
from backend.ids import from_global_id, to_global_id
from backend.models import CourseModule, EvidenceStatus, NotificationKind, TrainingSession
from backend.services.content.evidence import CHECK_OUT, MENTOR_EVALUATION, PRACTICE_LOG, read_json
from backend.services.notifications import standalone
from backend.services.notifications.notices import Notice
from backend.sql import Params

AFTER = timedelta(hours=6)
LOOKBACK = timedelta(days=7)


KEY_PREFIX = "evidence:"


def evidence_key(record_id: object) -> str:
    return f"{KEY_PREFIX}{record_id}"


@dataclass(frozen=True)
class _Missing:
    employee_id: int
    record_id: str
    count: int
    kind: str
    payload: Any
    log_id: int | None

    def named(self, field: str, type_name: str) -> int | None:
        """The row id a payload field names (a global ID of ``type_name``), if it does."""
        value = self.payload.get(field) if isinstance(self.payload, dict) else None
        if not isinstance(value, str):
            return None
        try:
            actual, row_id = from_global_id(value)
        except DomainError:
            return None
        return row_id if actual == type_name else None


async def evidence_missing(tenant_id: int, now: datetime) -> int:
    """Tell the company's people of their records' evidence still missing; how many were new."""
    connection = connections.get("default")
    p = Params(connection)
    rows = await connection.execute_query_dict(
        "SELECT g.employee_id AS employee_id, g.record_id AS record_id, g.n AS n, r.kind AS kind,"
        " r.payload AS payload, pl.id AS log_id"
        " FROM (SELECT employee_id, record_id, COUNT(*) AS n FROM evidence_attachment"
        f" WHERE tenant_id = {p(tenant_id)} AND status = {p(EvidenceStatus.PENDING.value)}"
        f" AND created_at >= {p(now - LOOKBACK)} AND created_at < {p(now - AFTER)}"
        " GROUP BY employee_id, record_id) g"
        " JOIN activity_record r ON r.id = g.record_id"
        " JOIN employee e ON e.id = g.employee_id"
        " LEFT JOIN practice_log pl ON pl.record_id = g.record_id"
        f" WHERE e.is_active = {p(True)}"
        # Not told yet: the key as ``evidence_key`` writes it (a UUID as text is its canonical
        # lower-case form on both engines, as Python's str gives it).
        " AND NOT EXISTS (SELECT 1 FROM notification n"
        f" WHERE n.tenant_id = {p(tenant_id)} AND n.recipient_id = g.employee_id"
        f" AND n.event_key = '{KEY_PREFIX}' || CAST(g.record_id AS TEXT))",
        p.values,
    )
    if not rows:
        return 0
    missing = [
        _Missing(
            int(row["employee_id"]),
            str(uuid.UUID(str(row["record_id"]))),
            int(row["n"]),
            str(row["kind"]),
            read_json(row["payload"]),
            None if row["log_id"] is None else int(row["log_id"]),
        )
        for row in rows
    ]
    module_ids = {m.named("moduleId", "CourseModule") for m in missing if m.kind != CHECK_OUT}
    session_ids = {m.named("sessionId", "TrainingSession") for m in missing if m.kind == CHECK_OUT}
    modules = dict(
        await CourseModule.filter(tenant_id=tenant_id, id__in=[i for i in module_ids if i]).values_list("id", "title")
    )
    sessions = dict(
        await TrainingSession.filter(tenant_id=tenant_id, id__in=[i for i in session_ids if i]).values_list(
            "id", "title"
        )
    )
    told = []
    for m in missing:
        if m.kind == CHECK_OUT:
            session_id = m.named("sessionId", "TrainingSession")
            name = sessions.get(session_id or 0, "")
            subject = to_global_id("TrainingSession", session_id) if session_id else None
        else:
            name = modules.get(m.named("moduleId", "CourseModule") or 0, "")
            subject = None
            if m.kind == PRACTICE_LOG and m.log_id is not None:
                subject = to_global_id("PracticeLog", m.log_id)
            elif m.kind == MENTOR_EVALUATION and isinstance(m.payload, dict):
                subject = str(m.payload.get("evaluationId") or "") or None
        told.append(
            Notice(
                NotificationKind.EVIDENCE_MISSING,
                m.employee_id,
                evidence_key(m.record_id),
                {"module": name, "count": m.count},
                subject,
            )
        )
    return await standalone.tell(tenant_id, told, now)
