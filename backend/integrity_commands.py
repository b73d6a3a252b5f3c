"""``xuefen integrity scan [--tenant CODE] [--since WHEN] [--until WHEN]``: every detector over a
window of stored facts, for one company or all (backend/cli.py parses the arguments; a worker or
cron runs it periodically). Idempotent: a rescan raises nothing it raised before.

``WHEN`` is a date (``2026-11-01``, the start of that day in UTC) or a time with an offset
(``2026-11-01T08:00:00+08:00``); without ``--since`` the last 30 days. Exit status: 0 done; 2 a
usage error (unknown company, unreadable or impossible window).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from backend import db
from backend.config import Settings
from backend.errors import DomainError
from backend.models import Tenant
from backend.services.integrity import scan
from backend.services.validation import parse_day, parse_moment


def parse_when(value: str) -> datetime:
    """A date (start of that day, UTC) or a time with an offset, read as the API reads them (ASCII
    digits, 1900–2199); DomainError (VALIDATION) otherwise."""
    text = value.strip()
    if len(text) == 10:
        return datetime.combine(parse_day(text, "since"), datetime.min.time(), UTC)
    return parse_moment(text, "since")


async def run_scan(settings: Settings, tenant_code: str | None, since: str | None, until: str | None) -> int:
    try:
        start = parse_when(since) if since else None
        end = parse_when(until) if until else None
    except DomainError:
        print("--since and --until take a date (2026-11-01) or a time with an offset.", file=sys.stderr)
        return 2
    if start and end and end <= start:
        print("--until must be after --since.", file=sys.stderr)
        return 2
    await db.init_db(settings)
    try:
        tenants = Tenant.all() if tenant_code is None else Tenant.filter(code=tenant_code)
        companies = await tenants.order_by("code").values_list("id", "code")
        if not companies and tenant_code is not None:
            print(f"No tenant {tenant_code!r}.", file=sys.stderr)
            return 2
        raised = 0
        for tenant_id, code in companies:
            report = await scan.scan_company(tenant_id, start, end)
            raised += sum(report.raised.values())
            found = ", ".join(f"{kind.value} {report.findings[kind]}/{report.raised[kind]}" for kind in report.findings)
            print(
                f"{code}: {report.since:%Y-%m-%d %H:%M} – {report.until:%Y-%m-%d %H:%M} UTC;"
                f" findings/new alerts: {found or 'no detector enabled'}"
            )
    finally:
        await db.close_db()
    print(f"Scanned {len(companies)} company(ies): {raised} new alert(s).")
    return 0
