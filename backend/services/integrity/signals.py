"""The cheap checks, in a push's own transaction.

While a push is applied, domain services ``detectors.note`` what a cheap detector judges (a quiz finished in
seconds, a check-in far from its site, a lesson done faster than its content lasts), and the unit
of work keeps the creditable facts it noted. ``check`` runs when the unit of work finishes, after
the credits are posted: a push without a signal and without a burst of creditable facts costs no
statement at all; otherwise the company's settings are read once and the findings raised, their
credits held in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING
from uuid import UUID

from backend.models import IntegrityAlertKind
from backend.services.integrity import alerts, farming_burst
from backend.services.integrity.detectors import Signal
from backend.services.integrity.registry import INGEST_DETECTORS
from backend.services.integrity.settings import settings_of

if TYPE_CHECKING:  # the unit of work calls this module: a type, not an import, goes back
    from backend.services.credits.credit_engine import Creditable
    from backend.services.records.work import UnitOfWork


def burst_signals(creditables: list[Creditable]) -> list[Signal]:
    """The creditable facts of a push as FARMING_BURST signals, for the people whose facts could be
    a burst at the loosest settings a company may choose (none otherwise: no statement)."""
    by_employee: dict[int, list[Creditable]] = defaultdict(list)
    for item in creditables:
        if item.record_id is not None:
            by_employee[item.employee_id].append(item)
    signals = []
    for items in by_employee.values():
        # One fact per record: a lesson may complete its module and course too.
        firsts: dict[UUID | None, Creditable] = {}
        for item in sorted(items, key=lambda item: item.occurred_at):
            firsts.setdefault(item.record_id, item)
        if farming_burst.could_burst([item.occurred_at for item in firsts.values()]):
            signals += [
                Signal(_BURST, item.employee_id, record_id, item.occurred_at, {"activity": item.activity.value})
                for record_id, item in firsts.items()
                if record_id is not None
            ]
    return signals


async def check(work: UnitOfWork, signals: list[Signal]) -> None:
    """Judge the push's signals with the company's settings and raise what they show."""
    if not signals:
        return
    tenant_id, connection = work.viewer.tenant_id, work.connection
    settings = await settings_of(tenant_id, connection)
    by_kind: dict = defaultdict(list)
    for signal in signals:
        by_kind[signal.kind].append(signal)
    findings = []
    for kind, detector in INGEST_DETECTORS.items():
        if by_kind.get(kind) and settings.enabled(kind):
            findings += detector.on_signals(by_kind[kind], settings.limits[kind])
    await alerts.raise_findings(
        connection, work.changes, tenant_id, findings, settings, alerts.SOURCE_INGEST, work.received_at
    )


_BURST = IntegrityAlertKind.FARMING_BURST
