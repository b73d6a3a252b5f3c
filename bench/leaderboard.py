"""How fast are leaderboards and `me.credits` on a busy ledger?

Loads the demo company into a fresh database, adds ``--entries`` ledger entries per employee
spread over the current period (as a year of activity would), signs in as E0001 and asks for the
company leaderboard (top 20 and the viewer's neighbours) and `me.credits` through the real ASGI
app. The baseline replays the very SQL statements the request sent, so the ratio is what the API
adds on top of the aggregation the database does.

    python -m bench.leaderboard                       # SQLite
    python -m bench.leaderboard --database postgres://postgres@127.0.0.1:5432/postgres [--entries 300]
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

from tortoise import connections

from backend.models import CreditEntryKind, Employee, Tenant
from backend.sql import db_time, insert_many
from bench.common import captured, demo_api, replay, timed

QUERY = """
{ top: leaderboard(scope: COMPANY, first: 20) { periodStart entries { rank displayName earned isMe } me { rank } }
  near: leaderboard(scope: COMPANY, aroundMe: 3) { entries { rank earned isMe } }
  me { credits { balance lifetimeEarned periodEarned target progressPercent } } }
"""
_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "kind": "text",
    "amount": "bigint",
    "entry_key": "text",
    "reason": "text",
    "occurred_at": "timestamptz",
    "posted_at": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


async def _busy_ledger(per_employee: int) -> int:
    """Add EARN entries for every demo employee, spread over the last 300 days (the cached account
    sums are not what a leaderboard reads, so they are left alone)."""
    tenant = await Tenant.get(code="demo")
    db = connections.get("default")
    now = datetime.now(UTC)
    employees = [employee.id for employee in await Employee.filter(tenant=tenant).order_by("id").only("id")]
    rows = [
        (
            tenant.id,
            employee_id,
            CreditEntryKind.EARN.value,
            5 + (employee_id * 7 + n) % 20,
            f"bench:{employee_id}:{n}",
            "",
            db_time(db, now - timedelta(hours=(employee_id * 13 + n * 29) % 7200)),
            db_time(db, now),
            db_time(db, now),
            db_time(db, now),
        )
        for employee_id in employees
        for n in range(per_employee)
    ]
    for start in range(0, len(rows), 5000):
        await insert_many(db, "credit_entry", _COLUMNS, rows[start : start + 5000])
    return len(rows)


async def run(database: str | None, entries: int, rounds: int) -> None:
    async with demo_api(database) as (engine, http, headers):
        added = await _busy_ledger(entries)

        async def api() -> None:
            response = await http.post("/graphql", json={"query": QUERY}, headers=headers)
            assert "errors" not in response.json(), response.json()

        await api()  # warm up, then capture the statements of one request
        statements = await captured(api)
        api_s = await timed(api, rounds)
        raw_s = await timed(lambda: replay(statements), rounds)
    print(f"leaderboards (top 20 + around me) and me.credits on {engine}, {added:,} extra ledger entries")
    print(f"  SQL statements per request : {len(statements)}")
    print(f"  raw SQL baseline (median)  : {raw_s * 1000:7.2f} ms")
    print(f"  GraphQL over HTTP (median) : {api_s * 1000:7.2f} ms")
    print(f"  ratio API / raw SQL        : {api_s / raw_s:7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="a postgres:// server URL (default: a temporary SQLite file)")
    parser.add_argument("--entries", type=int, default=300, help="extra ledger entries per employee")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.database, args.entries, args.rounds))


if __name__ == "__main__":
    main()
