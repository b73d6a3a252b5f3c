"""The demo's private calendar links: E0001 (sessions to attend, an onboarding plan with a due date)
and MT001 (the sessions they teach) each have one, so `make demo` prints links a phone's calendar
app can subscribe to.

A real link's token is random and shown once (``createCalendarFeed``). The demo's are derived from
the company code and the employee number instead, so the accounts table can print them on every
run without the database: they are as public as the demo's password. Revoking one in the demo
(``revokeCalendarFeed``) works as for anyone; loading the demo again does not bring it back.
"""

from __future__ import annotations

import base64
import hashlib

from backend.models import CalendarFeed, Employee, Tenant
from backend.services.calendars import feeds

CALENDAR_PEOPLE = ("E0001", "MT001")


def demo_token(tenant_code: str, employee_no: str) -> str:
    """43 characters of [A-Za-z0-9_-], the shape of a real token (feeds.TOKEN_PATTERN)."""
    digest = hashlib.sha256(f"xuefen-demo-calendar\x00{tenant_code}\x00{employee_no}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def load(tenant: Tenant) -> None:
    """A link for each of CALENDAR_PEOPLE, unless it was made before (idempotent)."""
    for employee_no in CALENDAR_PEOPLE:
        employee = await Employee.get(tenant_id=tenant.id, employee_no=employee_no)
        hashed = feeds.token_hash(demo_token(tenant.code, employee_no))
        if not await CalendarFeed.exists(token_hash=hashed):
            await CalendarFeed.create(tenant_id=tenant.id, employee_id=employee.id, token_hash=hashed)


def calendar_lines(tenant_code: str, base_url: str) -> list[str]:
    """The demo's calendar links, for the accounts table."""
    lines = ["日历订阅 Calendar feeds（在手机日历中订阅 / subscribe in the phone's calendar app）:"]
    lines += [f"  {no}  {base_url}{feeds.feed_path(demo_token(tenant_code, no))}" for no in CALENDAR_PEOPLE]
    return lines
