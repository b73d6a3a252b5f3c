"""Private calendar feeds: each employee's sessions and due dates as an iCalendar (.ics) feed that
the phone's own calendar app subscribes to (docs/calendars.md).

- ``feeds``: the links. A link is ``/calendar/<token>.ics``, the token 256 random bits shown once
  (only its SHA-256 is stored, as refresh tokens are); a new link revokes the previous one; the
  employee or an HR admin revokes it; a leaver's stops at once.
- ``events``: ``calendar_events_for(employee)``, what the feed holds, from the facts (sessions the
  person is ENROLLED in or instructs, OJT plan due dates): each event with a stable UID, a
  SEQUENCE derived from the facts (it only grows), its site's time zone, address and status.
- ``ics``: the events written as RFC 5545 text with the ``icalendar`` library (VTIMEZONEs
  included), in the person's language (``wording``).

The HTTP route is ``backend/calendar_route.py``; GraphQL in ``schema/calendars/``.
"""
