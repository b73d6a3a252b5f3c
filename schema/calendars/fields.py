"""Calendar feed fields: myCalendarFeed, createCalendarFeed and revokeCalendarFeed (one's own;
HR admins any employee's). Thin: each calls backend.services.calendars.feeds."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.config import Settings
from backend.services.calendars import feeds
from backend.services.viewer import Viewer
from schema.calendars.types import (
    CalendarFeed,
    CreateCalendarFeedPayload,
    RevokeCalendarFeedInput,
    RevokeCalendarFeedPayload,
)
from schema.common import UserError
from schema.ids import expect_global_id
from schema.payloads import mutate


def absolute(settings: Settings, path: str, scheme: str | None = None) -> str:
    """``path`` at the server's public address (XUEFEN_PUBLIC_URL), never at the request's Host
    header: a link handed out must not point wherever a caller or a misconfigured proxy said."""
    base = settings.public_url
    if scheme is not None:
        base = f"{scheme}://{base.split('://', 1)[1]}"
    return base + path


@strawberry.type
class CalendarQueries:
    @strawberry.field(
        description="The viewer's private calendar link: whether one works and since when (never the link itself)."
    )
    async def my_calendar_feed(self, info: strawberry.Info) -> CalendarFeed:
        viewer = await info.context.require_viewer()
        return CalendarFeed.from_domain(await feeds.feed_state(viewer))


@strawberry.type
class CalendarMutations:
    @strawberry.mutation(
        description="Make the viewer a private calendar link (an iCalendar feed of the sessions they attend or "
        "teach and their OJT plan due dates, for the phone's calendar app) and show it once. Any previous link "
        "stops working. Audited (never with the link)."
    )
    async def create_calendar_feed(self, info: strawberry.Info) -> CreateCalendarFeedPayload:
        settings = info.context.settings

        def payload(made: feeds.NewFeed | None, errors: list[UserError]) -> CreateCalendarFeedPayload:
            if made is None:
                return CreateCalendarFeedPayload(url=None, webcal_url=None, path=None, feed=None, errors=errors)
            return CreateCalendarFeedPayload(
                url=absolute(settings, made.path),
                webcal_url=absolute(settings, made.path, scheme="webcal"),
                path=made.path,
                feed=CalendarFeed.from_domain(made.state),
                errors=errors,
            )

        return await mutate(info, feeds.create_feed, payload)

    @strawberry.mutation(
        description="Turn off a private calendar link at once: the viewer's own, or, for HR admins, any employee's "
        "of their company (NOT_FOUND for an employee of another company or none). Calendar apps subscribed to it "
        "get 404 from then on. Audited."
    )
    async def revoke_calendar_feed(
        self,
        info: strawberry.Info,
        input: Annotated[
            RevokeCalendarFeedInput | None,
            strawberry.argument(description="Whose link; leave it out for your own."),
        ] = None,
    ) -> RevokeCalendarFeedPayload:
        async def work(viewer: Viewer) -> feeds.RevokedFeed:
            given = input.employee_id if input is not None else None
            employee_id = expect_global_id(given, "Employee", "employeeId") if given is not None else None
            return await feeds.revoke_feed(viewer, employee_id)

        return await mutate(info, work, RevokeCalendarFeedPayload.build)
