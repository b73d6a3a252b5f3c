"""Feed rows for the viewer's credit account and ledger entries (see mobile_sync/entities.py for the contract).

Both go only to the employee they belong to (anyone else gets a tombstone):
- CREDIT_ACCOUNT (id: the employee) {balance, lifetimeEarned, pending, periodEarned, updatedAt};
- CREDIT_ENTRY (id: the entry) shaped as a creditLedger item, without balanceAfter (it depends on
  the page, not on the entry).
"""

from __future__ import annotations

from datetime import UTC, datetime

from backend.ids import to_global_id
from backend.models import CreditActivity, CreditEntryKind
from backend.services.credits import credit_accounts, credit_engine
from backend.services.credits.ledger import from_tenths
from backend.services.feed import Entity
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, dec, ints, iso
from mobile_sync.shapes import DECIMAL, INT, MOMENT, TEXT, UUID_TEXT, enum, gid, opt, row


async def _accounts(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    found: dict[str, Row | None] = {}
    if str(viewer.employee_id) in ids:
        account = await credit_accounts.account_of(viewer.tenant_id, viewer.employee_id)
        if account is not None:
            start, end = (await credit_engine.program_of(viewer.tenant_id)).period_of(datetime.now(UTC))
            earned = await credit_accounts.earned_between(viewer.tenant_id, [viewer.employee_id], start, end)
            found[str(viewer.employee_id)] = {
                "id": to_global_id("Employee", viewer.employee_id),
                "balance": dec(from_tenths(account.balance)),
                "lifetimeEarned": dec(from_tenths(account.lifetime_earned)),
                "pending": dec(from_tenths(account.pending)),
                "periodEarned": dec(from_tenths(earned.get(viewer.employee_id, 0))),
                "updatedAt": iso(account.updated_at),
            }
    return {i: found.get(i) for i in ids}


def entry_row(item: credit_accounts.LedgerItem) -> Row:
    """A ledger entry as the app stores it (the shape of a creditLedger node)."""
    entry, rule, event = item.entry, item.rule, item.event
    return {
        "id": to_global_id("CreditEntry", entry.id),
        "kind": str(entry.kind),
        "amount": dec(from_tenths(entry.amount)),
        "occurredAt": iso(entry.occurred_at),
        "postedAt": iso(entry.posted_at),
        "reason": entry.reason,
        "rule": {
            "id": to_global_id("CreditRule", rule.id),
            "ruleKey": rule.rule_key,
            "version": rule.version,
            "name": rule.name,
            "activity": str(rule.activity),
        }
        if rule
        else None,
        "source": {
            "activity": str(event.activity),
            "eventKey": event.event_key,
            "recordId": str(event.record_id) if event.record_id else None,
            "occurredAt": iso(event.occurred_at),
            "score": event.score,
            "quantity": event.quantity,
            "course": {
                "id": to_global_id("Course", item.course.id),
                "code": item.course.code,
                "title": item.course.title,
            }
            if item.course
            else None,
            "module": {
                "id": to_global_id("CourseModule", item.module.id),
                "title": item.module.title,
                "position": item.module.position,
            }
            if item.module
            else None,
        }
        if event
        else None,
        "reverses": {"id": to_global_id("CreditEntry", entry.reverses_id)} if entry.reverses_id else None,
        "redemptionId": to_global_id("Redemption", entry.redemption_id) if entry.redemption_id else None,
    }


async def _entries(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    found = {str(item.entry.id): entry_row(item) for item in await credit_accounts.my_entries(viewer, ints(ids))}
    return {i: found.get(i) for i in ids}


LOADERS: dict[Entity, Loader] = {
    Entity.CREDIT_ACCOUNT: _accounts,
    Entity.CREDIT_ENTRY: _entries,
}
GLOBAL_TYPES: dict[Entity, str] = {
    Entity.CREDIT_ACCOUNT: "Employee",
    Entity.CREDIT_ENTRY: "CreditEntry",
}

# The shape of each entity's data (published in the sync contract; tests check every row).

SHAPES = {
    Entity.CREDIT_ACCOUNT: row(
        id=gid("Employee"),
        balance=DECIMAL,
        lifetimeEarned=DECIMAL,
        pending=DECIMAL,
        periodEarned=DECIMAL,
        updatedAt=opt(MOMENT),
    ),
    Entity.CREDIT_ENTRY: row(
        id=gid("CreditEntry"),
        kind=enum(CreditEntryKind),
        amount=DECIMAL,
        occurredAt=opt(MOMENT),
        postedAt=opt(MOMENT),
        reason=TEXT,
        rule=opt(row(id=gid("CreditRule"), ruleKey=TEXT, version=INT, name=TEXT, activity=enum(CreditActivity))),
        source=opt(
            row(
                activity=enum(CreditActivity),
                eventKey=TEXT,
                recordId=opt(UUID_TEXT),
                occurredAt=opt(MOMENT),
                score=opt(INT),
                quantity=opt(INT),
                course=opt(row(id=gid("Course"), code=TEXT, title=TEXT)),
                module=opt(row(id=gid("CourseModule"), title=TEXT, position=INT)),
            )
        ),
        reverses=opt(row(id=gid("CreditEntry"))),
        redemptionId=opt(gid("Redemption")),
    ),
}
