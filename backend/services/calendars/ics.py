"""A calendar feed written as iCalendar text (RFC 5545) by the ``icalendar`` library.

A published calendar (no METHOD): calendar apps subscribe to it and replace what they hold with
each fetch, matching events by UID and taking the higher SEQUENCE as the newer. Timed events carry
their site's TZID, with a VTIMEZONE for each zone used (``add_missing_timezones``, over the
feed's window); all-day events are DATE values. ``REFRESH-INTERVAL`` and ``X-PUBLISHED-TTL`` ask
for a fetch every hour (apps decide; iOS and Google fetch less often). The same calendar gives
the same bytes (nothing depends on the moment of the request but the year, which bounds the
VTIMEZONEs), which the route's ETag relies on.

Text values (titles, descriptions, places: typed by HR and instructors) lose the ASCII control
characters RFC 5545 does not allow in TEXT (3.3.11: all but HTAB; icalendar escapes a line
break, and a lone CR counts as one): a title with U+000B or ESC must not make a calendar
app refuse the whole feed.
"""

from __future__ import annotations

import re
from datetime import timedelta

import icalendar

from backend.services.calendars.events import Calendar, CalendarEvent

PRODUCT_ID = "-//Xuefen//Training calendar//ZH"
REFRESH = timedelta(hours=1)
# ASCII controls TEXT may not hold (HTAB may; CR and LF become a line break, written as \n).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BREAK = re.compile("\r\n?")


def text(value: str) -> str:
    """``value`` as a TEXT value may hold it: line breaks as LF, other ASCII controls dropped."""
    return _CONTROL.sub("", _BREAK.sub("\n", value))


def _event(event: CalendarEvent) -> icalendar.Event:
    component = icalendar.Event()
    component.add("uid", event.uid)
    component.add("dtstamp", event.stamp)
    component.add("dtstart", event.start)
    component.add("dtend", event.end)
    component.add("summary", text(event.summary))
    description, location = text(event.description), text(event.location)
    if description:
        component.add("description", description)
    if location:
        component.add("location", location)
    component.add("sequence", event.sequence)
    component.add("status", event.status)
    component.add("transp", "TRANSPARENT" if event.transparent else "OPAQUE")
    if event.created is not None:
        component.add("created", event.created)
    component.add("last-modified", event.stamp)
    if event.categories:
        component.add("categories", list(event.categories))
    return component


def render(calendar: Calendar) -> bytes:
    """The feed's bytes (UTF-8, CRLF line ends, lines folded at 75 octets)."""
    document = icalendar.Calendar()
    document.add("prodid", PRODUCT_ID)
    document.add("version", "2.0")
    document.add("calscale", "GREGORIAN")
    document.add("name", calendar.name)
    document.add("x-wr-calname", calendar.name)
    document.add("x-wr-caldesc", calendar.description)
    document.add("x-wr-timezone", calendar.zone.key)
    document.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    document.add("x-published-ttl", icalendar.vDuration(REFRESH))  # an X- property: typed by hand
    for event in calendar.events:
        document.add_component(_event(event))
    document.add_missing_timezones(first_date=calendar.first_day, last_date=calendar.last_day)
    return document.to_ical()
