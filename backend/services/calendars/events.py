"""What a person's calendar feed holds: ``calendar_events_for(employee)``, derived from the facts.

Sources (``SOURCES``, each a function of the person and the window; one line adds another):

- **Sessions** the person is ENROLLED in or instructs. PENDING (awaiting approval) and WAITLISTED
  places are not in the feed: they appear once confirmed or promoted (the app's inbox tells the
  person then); a place the person cancelled or was refused leaves the feed. Times are the
  session's, in the session's site's time zone (DTSTART/DTEND with its TZID), the place is the
  site's name, the room and the site's address. A cancelled session stays in the feed as
  ``STATUS:CANCELLED`` until ``CANCELLED_KEEP_DAYS`` after its start, so a calendar app that kept
  it removes or strikes it through.
- **OJT plan due dates**: each of the person's plan assignments as an all-day event on its due
  date (its status in the title once completed or waived).
- **Certificate expiry dates**: each of the person's certificates that expires, as an all-day event
  on its last valid day (``expires_on``, docs/certificates.md); a revoked one as
  ``STATUS:CANCELLED`` (nothing to renew any more).

``SEQUENCE`` only ever grows, derived from the facts, so calendar apps take each change as an
update of the same event (the UID is stable: ``<kind>-<global id>@<company code>``):

- a session's: the number of audited changes to it (``session.update`` and ``session.cancel``
  audit entries: every write of a session goes through training_sessions.py, which audits each;
  the row's ``updated_at`` is not stamped by an update, so it cannot serve), plus the person's
  enrollment's ``version`` less one (a place cancelled and taken again comes back as an update);
- a due date's: days from the assignment's creation to its due date (a due date only ever moves
  later: a plan started again, assignments.py);
- a certificate expiry's: its renewals, plus one once revoked (a renewal moves the date later, a
  revocation is final).

``DTSTAMP`` is when the event's facts last changed (the newest of the session row, its last audited
change and the person's enrollment), not the time of the request: the same facts give the same
bytes, so the feed's ETag holds until something changes.

Bounded: sessions starting from ``PAST_DAYS`` ago to ``FUTURE_DAYS`` ahead, at most
``MAX_UPCOMING`` from now on and ``MAX_PAST`` before; at most ``MAX_DUE_DATES`` due dates.
A handful of statements whatever the person's history.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q, Subquery
from tortoise.functions import Count, Max

from backend.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES
from backend.ids import to_global_id
from backend.models import (
    AssignmentStatus,
    AuditEntry,
    Certificate,
    Employee,
    EmployeeSettings,
    Enrollment,
    EnrollmentStatus,
    OjtAssignment,
    SessionStatus,
    Site,
    Tenant,
    TrainingSession,
)
from backend.services.calendars.wording import say
from backend.services.notifications.quiet_hours import zone_named

PAST_DAYS = 90
FUTURE_DAYS = 365
CANCELLED_KEEP_DAYS = 30
MAX_UPCOMING = 400
MAX_PAST = 100
MAX_DUE_DATES = 100
MAX_EXPIRY_DATES = 100
# The audited writes of a session that change what its event says (create is version 0).
SESSION_CHANGES = ("session.update", "session.cancel")
# iCalendar's SEQUENCE is an INTEGER (RFC 5545 3.3.8: a signed 32-bit number).
MAX_SEQUENCE = 2**31 - 1


@dataclass(frozen=True)
class CalendarEvent:
    """One VEVENT. ``start``/``end`` are aware datetimes (shown in ``zone``) or dates (all-day,
    ``end`` the day after the last, as RFC 5545 counts)."""

    uid: str
    summary: str
    description: str
    start: datetime | date
    end: datetime | date
    stamp: datetime  # UTC: when the facts last changed
    sequence: int
    status: str = "CONFIRMED"  # CONFIRMED, TENTATIVE or CANCELLED
    location: str = ""
    zone: ZoneInfo | None = None
    created: datetime | None = None
    transparent: bool = False  # shown as free time (a due date is no appointment)
    categories: tuple[str, ...] = ()

    def sort_key(self, zone: ZoneInfo) -> tuple[datetime, str]:
        moment = self.start
        if not isinstance(moment, datetime):
            moment = datetime.combine(moment, time(), zone)
        return moment.astimezone(UTC), self.uid


@dataclass(frozen=True)
class Person:
    """Whose feed, and how it reads: their language, zone and company code (for the UIDs)."""

    tenant_id: int
    tenant_code: str
    tenant_zone: str
    employee_id: int
    locale: str
    zone: ZoneInfo


@dataclass(frozen=True)
class Window:
    now: datetime
    today: date  # in the person's zone

    @property
    def first(self) -> datetime:
        return self.now - timedelta(days=PAST_DAYS)

    @property
    def last(self) -> datetime:
        return self.now + timedelta(days=FUTURE_DAYS)


@dataclass(frozen=True)
class Calendar:
    """A whole feed: its name and description in the person's language, and its events."""

    name: str
    description: str
    locale: str
    zone: ZoneInfo
    events: list[CalendarEvent]
    first_day: date  # the window in whole years, for the time zone definitions
    last_day: date


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def uid(kind: str, type_name: str, row_id: int, tenant_code: str) -> str:
    return f"{kind}-{to_global_id(type_name, row_id)}@{tenant_code}"


async def person_of(employee: Employee) -> Person:
    """The person's language (app setting, else their record's, else the company's) and zone
    (their site's, else the company's)."""
    tenant = await Tenant.filter(id=employee.tenant_id).only("id", "code", "time_zone", "default_locale").get()
    setting = await EmployeeSettings.filter(tenant_id=employee.tenant_id, employee_id=employee.id).values_list(
        "locale", flat=True
    )
    locale = next(
        (c for c in (*setting, employee.locale, tenant.default_locale) if c in SUPPORTED_LOCALES), DEFAULT_LOCALE
    )
    site_zone = None
    if employee.site_id is not None:
        zones = (
            await Site.filter(tenant_id=employee.tenant_id, id=employee.site_id)
            .limit(1)
            .values_list("time_zone", flat=True)
        )
        site_zone = str(zones[0]) if zones else None
    return Person(
        tenant.id,
        tenant.code,
        tenant.time_zone,
        employee.id,
        str(locale),
        zone_named(site_zone, tenant.time_zone),
    )


# --- sessions -----------------------------------------------------------------------------------

_SESSION_COLUMNS = (
    "id",
    "title",
    "location",
    "starts_at",
    "ends_at",
    "status",
    "created_at",
    "updated_at",
    "instructor_id",
    "checkin_opens_minutes",
    "course__title",
    "instructor__name",
    "site__name",
    "site__address",
    "site__time_zone",
)


async def _session_rows(person: Person, window: Window) -> list[dict[str, Any]]:
    """The person's sessions in the window: upcoming ones first to last, then the newest past ones."""
    enrolled = Enrollment.filter(
        tenant_id=person.tenant_id, employee_id=person.employee_id, status=EnrollmentStatus.ENROLLED
    ).values("session_id")
    mine = (
        TrainingSession.filter(tenant_id=person.tenant_id, starts_at__gte=window.first, starts_at__lte=window.last)
        .filter(Q(instructor_id=person.employee_id) | Q(id__in=Subquery(enrolled)))
        .filter(~Q(status=SessionStatus.CANCELLED) | Q(starts_at__gte=window.now - timedelta(days=CANCELLED_KEEP_DAYS)))
    )
    upcoming = (
        await mine.filter(starts_at__gte=window.now)
        .order_by("starts_at", "id")
        .limit(MAX_UPCOMING)
        .values(*_SESSION_COLUMNS)
    )
    past = (
        await mine.filter(starts_at__lt=window.now)
        .order_by("-starts_at", "-id")
        .limit(MAX_PAST)
        .values(*_SESSION_COLUMNS)
    )
    return [*upcoming, *past]


async def _changes_of(tenant_id: int, session_ids: list[int]) -> dict[int, tuple[int, datetime | None]]:
    """How many audited changes each session had, and the last one's time (one grouped query)."""
    if not session_ids:
        return {}
    rows = (
        await AuditEntry.filter(
            tenant_id=tenant_id,
            entity="TrainingSession",
            entity_id__in=[str(i) for i in session_ids],
            action__in=SESSION_CHANGES,
        )
        .annotate(changes=Count("id"), last=Max("at"))
        .group_by("entity_id")
        .values("entity_id", "changes", "last")
    )
    return {int(row["entity_id"]): (int(row["changes"]), row["last"]) for row in rows}


async def _places_of(person: Person, session_ids: list[int]) -> dict[int, tuple[int, datetime]]:
    """The person's enrollment in each session, whatever its status: (version, updated_at)."""
    if not session_ids:
        return {}
    rows = await Enrollment.filter(
        tenant_id=person.tenant_id, employee_id=person.employee_id, session_id__in=session_ids
    ).values("session_id", "version", "updated_at")
    return {row["session_id"]: (int(row["version"]), row["updated_at"]) for row in rows}


def _session_event(
    person: Person,
    row: Mapping[str, Any],
    changes: tuple[int, datetime | None],
    place: tuple[int, datetime] | None,
) -> CalendarEvent:
    locale = person.locale
    zone = zone_named(row["site__time_zone"], person.tenant_zone)
    cancelled = row["status"] == SessionStatus.CANCELLED  # an enum or its text, equal alike
    teaching = row["instructor_id"] == person.employee_id
    title = row["title"]
    if cancelled:
        summary = say("session.cancelled", locale, title=title)
    else:
        summary = say("session.teaching" if teaching else "session.attending", locale, title=title)
    room = (row["location"] or "").strip()
    lines = [say("session.course", locale, course=row["course__title"] or "")]
    if not teaching and row["instructor__name"]:
        lines.append(say("session.instructor", locale, name=row["instructor__name"]))
    if room:
        lines.append(say("session.room", locale, room=room))
    lines.append(say("session.time_zone", locale, zone=zone.key))
    lines.append(
        say("session.cancelled_note", locale)
        if cancelled
        else say("session.checkin", locale, minutes=row["checkin_opens_minutes"])
    )
    separator = say("separator", locale)
    location = separator.join(
        part for part in ((row["site__name"] or "").strip(), room, (row["site__address"] or "").strip()) if part
    )
    count, last_change = changes
    version, place_updated = place if place is not None else (1, None)
    stamps = [_utc(row["updated_at"]), *(_utc(m) for m in (last_change, place_updated) if m is not None)]
    return CalendarEvent(
        uid=uid("session", "TrainingSession", row["id"], person.tenant_code),
        summary=summary,
        description="\n".join(lines),
        start=_utc(row["starts_at"]).astimezone(zone),
        end=_utc(row["ends_at"]).astimezone(zone),
        stamp=max(stamps),
        sequence=min(MAX_SEQUENCE, count + max(0, version - 1)),
        status="CANCELLED" if cancelled else "CONFIRMED",
        location=location,
        zone=zone,
        created=_utc(row["created_at"]),
    )


async def session_events(person: Person, window: Window) -> list[CalendarEvent]:
    rows = await _session_rows(person, window)
    ids = [row["id"] for row in rows]
    changes = await _changes_of(person.tenant_id, ids)
    places = await _places_of(person, ids)
    return [_session_event(person, row, changes.get(row["id"], (0, None)), places.get(row["id"])) for row in rows]


# --- OJT plan due dates -------------------------------------------------------------------------


def _due_event(person: Person, row: Mapping[str, Any]) -> CalendarEvent:
    locale = person.locale
    status = AssignmentStatus(row["status"])
    plan = row["plan__name"] or ""
    key = {AssignmentStatus.COMPLETED: "plan.done", AssignmentStatus.WAIVED: "plan.waived"}.get(status, "plan.due")
    lines = [text for text in ((row["plan__description"] or "").strip(),) if text]
    lines.append(say("plan.status", locale, status=say(f"status.{status.value}", locale)))
    due: date = row["due_on"]
    created = _utc(row["created_at"])
    return CalendarEvent(
        uid=uid("ojt-assignment", "OjtAssignment", row["id"], person.tenant_code),
        summary=say(key, locale, plan=plan),
        description="\n".join(lines),
        start=due,
        end=due + timedelta(days=1),
        stamp=_utc(row["updated_at"]),
        # A due date only moves later (a plan started again): days from creation to it only grow.
        sequence=min(MAX_SEQUENCE, max(0, (due - created.date()).days)),
        created=created,
        transparent=True,
    )


async def due_date_events(person: Person, window: Window) -> list[CalendarEvent]:
    rows = (
        await OjtAssignment.filter(
            tenant_id=person.tenant_id,
            employee_id=person.employee_id,
            due_on__gte=window.today - timedelta(days=PAST_DAYS),
            due_on__lte=window.today + timedelta(days=FUTURE_DAYS),
        )
        .order_by("due_on", "id")
        .limit(MAX_DUE_DATES)
        .values("id", "due_on", "status", "created_at", "updated_at", "plan__name", "plan__description")
    )
    return [_due_event(person, row) for row in rows]


# --- Certificate expiry dates --------------------------------------------------------------------


def _expiry_event(person: Person, row: Mapping[str, Any]) -> CalendarEvent:
    expires: date = row["expires_on"]
    revoked = row["revoked_at"] is not None
    program = row["program__name"] or ""
    return CalendarEvent(
        uid=uid("certificate", "Certificate", row["id"], person.tenant_code),
        summary=say("certificate.expires", person.locale, program=program),
        description=say("certificate.renew", person.locale, program=program),
        start=expires,
        end=expires + timedelta(days=1),
        stamp=_utc(row["updated_at"]),  # stamped by every renewal and the revocation
        sequence=min(MAX_SEQUENCE, row["renewed_count"] + (1 if revoked else 0)),
        status="CANCELLED" if revoked else "CONFIRMED",
        created=_utc(row["created_at"]),
        transparent=True,
    )


async def certificate_expiry_events(person: Person, window: Window) -> list[CalendarEvent]:
    rows = (
        await Certificate.filter(
            tenant_id=person.tenant_id,
            employee_id=person.employee_id,
            expires_on__gte=window.today - timedelta(days=PAST_DAYS),
            expires_on__lte=window.today + timedelta(days=FUTURE_DAYS),
        )
        .order_by("expires_on", "id")
        .limit(MAX_EXPIRY_DATES)
        .values("id", "expires_on", "renewed_count", "revoked_at", "created_at", "updated_at", "program__name")
    )
    return [_expiry_event(person, row) for row in rows]


Source = Callable[[Person, Window], Awaitable[list[CalendarEvent]]]
# What a feed holds, each source bounded on its own.
SOURCES: tuple[Source, ...] = (session_events, due_date_events, certificate_expiry_events)


async def calendar_for(employee: Employee, now: datetime | None = None) -> Calendar:
    """The whole feed of ``employee``: its events in start order, with its name in their language."""
    now = _utc(now or datetime.now(UTC))
    person = await person_of(employee)
    window = Window(now, now.astimezone(person.zone).date())
    events = [event for source in SOURCES for event in await source(person, window)]
    events.sort(key=lambda event: event.sort_key(person.zone))
    return Calendar(
        name=say("calendar.name", person.locale),
        description=say("calendar.description", person.locale),
        locale=person.locale,
        zone=person.zone,
        events=events,
        # Whole years: the VTIMEZONEs start on first_day, so a day-exact window would change the
        # feed's bytes (and ETag) every day with no fact changed.
        first_day=date((window.first - timedelta(days=1)).year, 1, 1),
        last_day=date((window.last + timedelta(days=366)).year, 12, 31),
    )


async def calendar_events_for(employee: Employee, now: datetime | None = None) -> list[CalendarEvent]:
    """The events of ``employee``'s calendar feed (see the module's docstring)."""
    return (await calendar_for(employee, now)).events
