"""Credit targets at risk, a scheduled job: CREDIT_TARGET_AT_RISK to each active employee whose
credit target (``targets``: what their position family and grade should earn per credit period)
will be missed at the pace so far (docs/notification-events.md).

The rule, simple on purpose: once at least half of the period has passed (``FROM_SHARE``), an
employee is at risk when a straight-line projection of what they earned so far ends the period
below the target, i.e. when they earned less than the target times the share of the period
passed (``targets.Period.expected``: the same "behind" as HR's list, in the same whole tenths).
Before half-time the pace says too little; a target of 0 cannot be missed. Told at most once per
period and person: the key names the period (``credit-target:<period start>``), so reruns, a
second worker and later runs in the same period tell no one twice.

One statement finds everyone at risk and not yet told (``NOT EXISTS`` against their
notifications), whatever the company's size; one insert tells them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise import connections

from backend.models import NotificationKind
from backend.services.credits import credit_engine
from backend.services.credits.ledger import from_tenths
from backend.services.credits.targets import MILLION, earned_sql, period_for
from backend.services.notifications import standalone
from backend.services.notifications.notices import Notice
from backend.sql import Params

FROM_SHARE = MILLION // 2  # millionths of the period that must have passed


async def targets_at_risk(tenant_id: int, now: datetime) -> int:
    """Tell the company's people whose target is at risk this period; how many notices were new."""
    program = await credit_engine.program_of(tenant_id)
    period = period_for(program, None, now)
    if not FROM_SHARE <= period.elapsed_millionths < MILLION:
        return 0
    key = f"credit-target:{period.start.isoformat()}"
    connection = connections.get("default")
    p = Params(connection)
    rows = await connection.execute_query_dict(
        f"WITH earned AS ({earned_sql(p, tenant_id, period.start, period.end)})"
        " SELECT e.id AS id, ps.family AS family, ps.level AS level, t.credits AS target,"
        " COALESCE(x.earned, 0) AS earned"
        " FROM employee e"
        f" JOIN position ps ON ps.id = e.position_id AND ps.tenant_id = {p(tenant_id)}"
        " JOIN credit_target t ON t.tenant_id = e.tenant_id AND t.position_family = ps.family AND t.grade = ps.grade"
        " LEFT JOIN earned x ON x.employee_id = e.id"
        f" WHERE e.tenant_id = {p(tenant_id)} AND e.is_active = {p(True)} AND t.credits > 0"
        f" AND COALESCE(x.earned, 0) < (t.credits * {p(period.elapsed_millionths)}) / {MILLION}"
        " AND NOT EXISTS (SELECT 1 FROM notification n"
        f" WHERE n.tenant_id = {p(tenant_id)} AND n.recipient_id = e.id AND n.event_key = {p(key)})"
        " ORDER BY e.id",
        p.values,
    )
    # The period's last day as the company's calendar shows it (its end is the next day's start).
    ends_on = ((period.end.astimezone(program.zone)) - timedelta(days=1)).date().isoformat()
    told = [
        Notice(
            NotificationKind.CREDIT_TARGET_AT_RISK,
            int(row["id"]),
            key,
            {
                "target": " ".join(part for part in (row["family"], row["level"]) if part),
                "earned": str(from_tenths(int(row["earned"]))),
                "required": str(from_tenths(int(row["target"]))),
                "endsOn": ends_on,
            },
            None,
            expires_at=period.end,
        )
        for row in rows
    ]
    return await standalone.tell(tenant_id, told, now)
