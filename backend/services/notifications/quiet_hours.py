"""Quiet hours: when a person is not to be disturbed, on the wall clock of where they work.

Pure functions (no database). A window is two minutes after local midnight: ``start`` inclusive,
``end`` exclusive; ``start == end`` is no window at all; ``start > end`` wraps midnight (22:00–08:00
is quiet from 22:00 in the evening until 08:00 the next morning). The clock is the recipient's
site's time zone, else the company's (``tenant.time_zone``), so a reminder never reaches someone
in 乌鲁木齐 (Asia/Urumqi, UTC+6) at 03:00 because the company's clock is Beijing's.

``next_allowed`` is the earliest moment at or after ``now`` whose local wall-clock time is outside
the window. Daylight-saving time is handled by what the wall clock shows at each instant: a window
ending inside a skipped hour ends when the clock jumps past it, and one ending inside a repeated
hour ends at its first occurrence. Zones a whole day apart from UTC (Pacific/Kiritimati, UTC+14)
and half-hour zones (America/St_Johns, UTC−3:30) need nothing special.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60
FALLBACK_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class QuietHours:
    """A daily window in minutes after local midnight (``start`` inclusive, ``end`` exclusive)."""

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        for minute in (self.start_minute, self.end_minute):
            if not 0 <= minute < MINUTES_PER_DAY:
                raise ValueError(f"quiet hours are minutes of a day (0–1439), got {minute}")

    @property
    def none(self) -> bool:
        return self.start_minute == self.end_minute


# What a person without a notification_preference row gets (the model's defaults too).
DEFAULT_QUIET_HOURS = QuietHours(22 * 60, 8 * 60)


@lru_cache(maxsize=256)
def zone_named(name: str | None, fallback: str = FALLBACK_ZONE) -> ZoneInfo:
    """The zone called ``name``, else ``fallback``'s: a site's zone is checked when HR writes it,
    but a delivery must not fail on a zone the server's tz database has since lost."""
    for candidate in (name, fallback, FALLBACK_ZONE):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _minute_of(local: datetime) -> float:
    return local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60


def is_quiet(moment: datetime, zone: ZoneInfo, quiet: QuietHours) -> bool:
    """Whether the wall clock in ``zone`` shows a time inside the window at ``moment``."""
    if quiet.none:
        return False
    minute = _minute_of(moment.astimezone(zone))
    if quiet.start_minute < quiet.end_minute:
        return quiet.start_minute <= minute < quiet.end_minute
    return minute >= quiet.start_minute or minute < quiet.end_minute


def _first_instant_showing(wall: datetime, zone: ZoneInfo, not_before: datetime) -> datetime:
    """The first UTC instant from ``not_before`` on at which the clock in ``zone`` shows ``wall``
    (naive) or later.

    Usually the one instant that shows it; in a repeated hour, the earlier of the two not before
    ``not_before``; in a skipped stretch (spring forward, or a whole day a zone skipped), the
    instant of the jump."""
    shown = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant >= not_before and instant.astimezone(zone).replace(tzinfo=None) == wall:
            shown.append(instant)
    if shown:
        return min(shown)
    # A gap: fold=1 reads the wall time with the offset after the jump, which lands before the
    # jump; fold=0 with the offset before it, which lands after. The jump lies between: find the
    # first second whose wall time is at or past ``wall`` (offsets change on whole seconds).
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    low, high = min(low, high), max(low, high)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high


def next_allowed(now: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime:
    """The earliest moment at or after ``now`` (aware) outside the quiet window, in UTC (``now``
    itself when it is outside, or there is no window)."""
    moment = now.astimezone(UTC)
    # Twice at most in practice (a window ending in a repeated hour may open again for the rest of
    # it); the bound only guards against a zone rule nobody has seen yet.
    for _ in range(4):
        if not is_quiet(moment, zone, quiet):
            return moment
        local = moment.astimezone(zone)
        day = local.date()
        if quiet.start_minute > quiet.end_minute and _minute_of(local) >= quiet.start_minute:
            day += timedelta(days=1)  # in the evening part of a window that ends tomorrow
        end = datetime.combine(day, time(quiet.end_minute // 60, quiet.end_minute % 60))
        moment = max(_first_instant_showing(end, zone, moment), moment)
    return moment
