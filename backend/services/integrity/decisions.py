"""HR's decision on an alert: release, reverse, or dismiss (and tune).

Only an HR admin decides, once (a conditional update on OPEN: of two at once, one wins and the
other gets ALREADY_DECIDED), never on an alert about themselves or holding their own credits, in
one transaction with the ledger entries it posts (the accounts locked before the alert, as
everywhere), and audited with the figures and what was held:
- RELEASE: the held credits post (RELEASE entries give them back to the balance);
- REVERSE: the held EARN entries are reversed (a REVERSAL entry each, its reason naming the alert);
  a reason is required;
- DISMISS: a false positive: the credits are released and the alert's pattern is not raised
  again; the kind's thresholds may be tuned in the same step (audited as a settings change).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import CreditHold, CreditHoldStatus, IntegrityAlert, IntegrityAlertStatus, Role
from backend.services.audit import audit
from backend.services.credits import ledger
from backend.services.feed import ChangeSet
from backend.services.integrity import holds, settings
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer


class Decision(StrEnum):
    RELEASE = "RELEASE"
    REVERSE = "REVERSE"
    DISMISS = "DISMISS"


OUTCOME = {
    Decision.RELEASE: IntegrityAlertStatus.RELEASED,
    Decision.REVERSE: IntegrityAlertStatus.REVERSED,
    Decision.DISMISS: IntegrityAlertStatus.DISMISSED,
}


async def decide(
    viewer: Viewer,
    alert_id: int,
    decision: Decision,
    note: str | None,
    tune: list[settings.ThresholdChange] | None = None,
    now: datetime | None = None,
) -> IntegrityAlert:
    viewer.require_role(Role.HR_ADMIN)
    note = text(note or "", "note", 300, required=decision == Decision.REVERSE)
    if tune and decision != Decision.DISMISS:
        raise invalid("tune")
    if tune:
        settings.checked(tune)
    now = now or datetime.now(UTC)
    locked: set[int] = set()
    for _ in range(MAX_TRIES):
        try:
            return await _decide(viewer, alert_id, decision, note, tune, now, locked)
        except _MoreHeld as more:  # holds of someone else came meanwhile: lock them first, again
            locked = more.employees
    raise DomainError(ErrorCode.VERSION_CONFLICT)  # holds kept coming: try again


MAX_TRIES = 5


class _MoreHeld(Exception):
    def __init__(self, employees: set[int]) -> None:
        self.employees = employees


async def _decide(
    viewer: Viewer,
    alert_id: int,
    decision: Decision,
    note: str,
    tune: list[settings.ThresholdChange] | None,
    now: datetime,
    locked: set[int],
) -> IntegrityAlert:
    """One try, in one transaction: the accounts whose credits the alert holds are locked first,
    then the alert is claimed (which stops anyone adding holds to it), then the holds are read
    again; someone's that came meanwhile roll the try back (``_MoreHeld``) to be locked first."""
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        alert = await IntegrityAlert.filter(tenant_id=tenant_id, id=alert_id).using_db(connection).first()
        if alert is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        if viewer.employee_id in (alert.employee_id, alert.other_employee_id):
            raise DomainError(ErrorCode.FORBIDDEN)  # nobody decides about themselves
        if tune and any(change.kind != alert.kind for change in tune):
            raise invalid("tune")
        # The accounts first, then the alert: the order a push or a scan holding credits takes them.
        locked = locked | await _held_for(connection, tenant_id, alert.id)
        if locked:
            await ledger.lock_accounts(connection, tenant_id, sorted(locked), now)
        claimed = (
            await IntegrityAlert.filter(tenant_id=tenant_id, id=alert.id, status=IntegrityAlertStatus.OPEN)
            .using_db(connection)
            .update(
                status=OUTCOME[decision],
                decided_by_id=viewer.employee_id,
                decided_at=now,
                decision_note=note,
                updated_at=now,
            )
        )
        if claimed != 1:
            current = await IntegrityAlert.get(tenant_id=tenant_id, id=alert.id, using_db=connection)
            raise DomainError(ErrorCode.ALREADY_DECIDED, status=current.status.value)
        held_for = await _held_for(connection, tenant_id, alert.id)  # final: the alert is ours now
        if not held_for <= locked:
            raise _MoreHeld(locked | held_for)
        if viewer.employee_id in held_for:
            raise DomainError(ErrorCode.FORBIDDEN)  # nor about their own credits (a mentee's, say)
        held = (await IntegrityAlert.get(tenant_id=tenant_id, id=alert.id, using_db=connection)).held
        changes = ChangeSet(tenant_id)
        released = await holds.settle_holds(
            connection, changes, tenant_id, alert.id, decision == Decision.REVERSE, viewer.employee_id, now
        )
        await (
            IntegrityAlert.filter(tenant_id=tenant_id, id=alert.id).using_db(connection).update(held=0, updated_at=now)
        )
        if tune:
            await settings.apply_changes(
                connection, viewer, tune, None, None, now, reason=f"integrity alert {alert.id} dismissed"
            )
        await audit(
            connection,
            viewer,
            tenant_id,
            "integrity.alert.decide",
            "IntegrityAlert",
            alert.id,
            {
                "kind": alert.kind.value,
                "decision": decision.value,
                "held": str(ledger.from_tenths(held)),
                "released": str(ledger.from_tenths(released)),
                "note": note,
                "tune": [{"name": c.name, "value": c.value} for c in tune or []],
            },
        )
        await changes.publish(connection, now)
        return await IntegrityAlert.get(tenant_id=tenant_id, id=alert.id, using_db=connection)


async def _held_for(connection: BaseDBAsyncClient, tenant_id: int, alert_id: int) -> set[int]:
    """Whose credits the alert holds (a lenient mentor's alert holds the mentees')."""
    rows = (
        await CreditHold.filter(tenant_id=tenant_id, alert_id=alert_id, status=CreditHoldStatus.HELD)
        .using_db(connection)
        .values("employee_id")
    )
    return {int(row["employee_id"]) for row in rows}
