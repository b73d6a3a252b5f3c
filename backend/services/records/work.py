"""The unit of work: one transaction that writes facts, and the effects every such write shares.

Whoever writes (a batch of records, or an online service such as manual grading or a manual
attendance mark) marks the synced rows it changed in ``changes`` and notes what may earn credits
(``credit_engine.note``); ``finish``, the last step before the commit, credits the noted facts and
gives the marked rows their feed numbers. Record handlers get the richer ``ApplyContext``
(records.handler), which is a unit of work plus the device and its clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.config import Settings
from backend.services.credits import credit_engine
from backend.services.feed import ChangeSet
from backend.services.integrity import signals as integrity
from backend.services.integrity.detectors import Signal
from backend.services.viewer import Viewer


@dataclass
class UnitOfWork:
    """Who is writing, on which transaction, and what the writes changed so far."""

    viewer: Viewer
    connection: BaseDBAsyncClient
    changes: ChangeSet
    received_at: datetime  # when the work arrived: server time, used for every effect it writes
    settings: Settings = field(default_factory=Settings)
    # Creditable facts noted by the writes (credit_engine.note); credited by ``finish``.
    creditables: list[credit_engine.Creditable] = field(default_factory=list)
    # What the cheap integrity checks judge (integrity.signals.note); judged by ``finish``.
    signals: list[Signal] = field(default_factory=list)

    async def finish(self) -> None:
        """Credit what was noted, hold what the cheap integrity checks flag, and publish the feed
        changes: the last steps of the transaction."""
        signals = self.signals + integrity.burst_signals(self.creditables) if self.settings.integrity_on_push else []
        self.signals = []
        await credit_engine.settle(self)
        await integrity.check(self, signals)
        await self.changes.publish(self.connection, self.received_at)
