"""Calendar feed types: the state of one's link (never its token), the link made once, and the
payloads of createCalendarFeed and revokeCalendarFeed."""

from __future__ import annotations

from datetime import datetime

import strawberry

from backend.models import CalendarFeedRevokeReason
from backend.services.calendars import feeds
from schema.common import UserError
from schema.ids import to_global_id

strawberry.enum(
    CalendarFeedRevokeReason,
    name="CalendarFeedRevokeReason",
    description="Why a calendar link stopped working: REPLACED (a newer link was made), REVOKED (its owner turned "
    "it off), REVOKED_BY_HR (an HR admin turned it off), LEFT (its owner left the company).",
)


@strawberry.type(
    description="An employee's private calendar link (an iCalendar feed of their sessions and due dates): whether "
    "one works now and since when. The link itself is shown once, by createCalendarFeed, and never again."
)
class CalendarFeed:
    employee_id: strawberry.ID = strawberry.field(description="Global ID of the employee whose link it is.")
    active: bool = strawberry.field(description="Whether a link works now.")
    created_at: datetime | None = strawberry.field(
        description="When the newest link was made (UTC); null when the employee never made one."
    )
    revoked_at: datetime | None = strawberry.field(
        description="When the newest link stopped working (UTC); null while it works."
    )
    revoke_reason: CalendarFeedRevokeReason | None = strawberry.field(
        description="Why the newest link stopped working; null while it works."
    )

    @classmethod
    def from_domain(cls, state: feeds.FeedState) -> CalendarFeed:
        return cls(
            employee_id=strawberry.ID(to_global_id("Employee", state.employee_id)),
            active=state.active,
            created_at=state.created_at,
            revoked_at=state.revoked_at,
            revoke_reason=state.revoke_reason,
        )


@strawberry.type(description="Result of createCalendarFeed: the new link, shown this once.")
class CreateCalendarFeedPayload:
    url: str | None = strawberry.field(
        description="The link to subscribe to (https://…/calendar/<token>.ics on this server, as the request "
        "reached it). Whoever holds it sees the calendar without signing in: keep it private. Shown once."
    )
    webcal_url: str | None = strawberry.field(
        description="The same link as webcal://…, which iPhones and most desktop calendars open as a subscription."
    )
    path: str | None = strawberry.field(description="The link's path on this server (/calendar/<token>.ics).")
    feed: CalendarFeed | None = strawberry.field(description="The link's state (active, created now).")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.input(description="Whose calendar link to turn off.")
class RevokeCalendarFeedInput:
    employee_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Global ID of the employee whose link it is; leave it out for your own. Only HR admins may "
        "name someone else (FORBIDDEN otherwise).",
    )


@strawberry.type(description="Result of revokeCalendarFeed.")
class RevokeCalendarFeedPayload:
    feed: CalendarFeed | None = strawberry.field(description="The link's state after the revocation.")
    revoked: bool | None = strawberry.field(
        description="Whether a working link was turned off (false: none was working, nothing changed)."
    )
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")

    @classmethod
    def build(cls, result: feeds.RevokedFeed | None, errors: list[UserError]) -> RevokeCalendarFeedPayload:
        if result is None:
            return cls(feed=None, revoked=None, errors=errors)
        return cls(feed=CalendarFeed.from_domain(result.state), revoked=result.revoked, errors=errors)
