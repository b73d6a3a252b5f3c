"""Device time: how the times of one request are read into server time, and the flags that say how
far they can be believed (docs/sync-protocol.md, "Clocks"). Handlers weigh the same evidence
(check-in corroborates scan times), so it sits below them, beside the handler contract.
"""

from __future__ import annotations

from datetime import datetime, timedelta

SKEW_FLAG_AFTER = timedelta(minutes=2)
FUTURE_TOLERANCE = timedelta(minutes=1)
MAX_CORRECTION = timedelta(days=7)
# A record that happened longer than this before it arrived is flagged STALE (a phone offline for
# a month is possible; a record from 1970 is a clock or a client that cannot be believed).
STALE_AFTER = timedelta(days=30)
# The clock flag of a record refused because its time could not be read: its stored corrected time
# is the receive time, which says nothing about when it happened.
UNREADABLE_TIME = "UNREADABLE_TIME"


class Clock:
    """How to read one request's device times (worked out once per batch)."""

    def __init__(self, sent_at: datetime | None, received_at: datetime, stale_after: timedelta = STALE_AFTER) -> None:
        self.sent_at = sent_at
        self.received_at = received_at
        self.stale_after = stale_after
        self.offset = received_at - sent_at if sent_at else timedelta(0)
        self.skewed = abs(self.offset) > SKEW_FLAG_AFTER
        # Offsets beyond a week are not trusted to correct anything.
        self._shift = self.offset if abs(self.offset) <= MAX_CORRECTION else timedelta(0)
        self._latest_plausible = (sent_at or received_at) + FUTURE_TOLERANCE
        self._latest_corrected = received_at + FUTURE_TOLERANCE
        self._stale_before = received_at - stale_after

    @property
    def offset_ms(self) -> int:
        """The measured offset (server minus device), in whole milliseconds, as stored."""
        return int(self.offset.total_seconds() * 1000)

    @property
    def trusted(self) -> bool:
        """Whether device times of this request can be corrected into server time (the offset
        was measured and is within the bound)."""
        return self.sent_at is not None and abs(self.offset) <= MAX_CORRECTION

    def correct(self, occurred_at: datetime) -> tuple[datetime, list[str]]:
        flags = ["CLOCK_SKEW"] if self.skewed else []
        corrected = occurred_at + self._shift
        if occurred_at > self._latest_plausible or corrected > self._latest_corrected:
            flags.append("FUTURE")
        if corrected < self._stale_before:
            flags.append("STALE")
        return min(corrected, self.received_at), flags
