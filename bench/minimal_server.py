"""The read-path baseline (bench/read_path.py): a minimal hand-written Starlette + asyncpg + orjson
endpoint answering POST /graphql for exactly the three benchmark operations, with the bytes
Xuefen answers them with. Anything else is 400: it is a baseline, not a GraphQL server.

It does the authentication work Xuefen does (``backend.services.people.auth.authenticate``): the
JWT checked with the same secret, algorithm, audience, issuer and required claims, then one SQL
lookup of the live session of an active employee with its device and roles. Then one statement
per operation, tenant-scoped like Xuefen's, and the JSON built by hand in the query's key order.
Global IDs and page cursors use Xuefen's own encoders, so the two can only differ in what they
read and how they shape it.

    XUEFEN_DATABASE_URL=postgres://… XUEFEN_SECRET_KEY=… python -m bench.minimal_server --port 8001 [--workers N]
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.config import Settings
from backend.errors import DomainError
from backend.ids import expect_global_id, to_global_id
from backend.services.pagination import encode_cursor
from backend.services.people.auth import access_token_claims

PAGE_SIZE = 50

# The three operations, recognised by operationName and their exact text (read_path sends these).
COURSE_PAGE = (
    "query CoursePage { courses(first: 50) { totalCount pageInfo { hasNextPage endCursor } "
    "edges { node { id code title credits hours modules { position title kind credits requiredCount } "
    "skills { skill { name } targetLevel } } } } }"
)
LEDGER_PAGE = (
    "query LedgerPage { creditLedger(first: 50) { totalCount pageInfo { hasNextPage endCursor } "
    "edges { node { id kind amount balanceAfter occurredAt postedAt reason redemptionId reverses { id } "
    "actor { employeeNo name } rule { id ruleKey version name activity } "
    "source { activity eventKey recordId occurredAt score quantity course { id code title } "
    "module { id position title kind } } } } } }"
)
ONE_COURSE = "query OneCourse($id: ID!) { course(id: $id) { id code title credits hours } }"
OPERATIONS = {"CoursePage": COURSE_PAGE, "LedgerPage": LEDGER_PAGE, "OneCourse": ONE_COURSE}

# The session must be live and its employee active; roles come along (Xuefen reads them with a
# second query). Joined on the session's own tenant, employee and device, as Xuefen does.
AUTH_SQL = """
SELECT ARRAY(SELECT r.role FROM employee_role r WHERE r.tenant_id = s.tenant_id AND r.employee_id = s.employee_id)
       AS roles,
       d.device_uid
FROM auth_session s
JOIN employee e ON e.id = s.employee_id
JOIN device d ON d.id = s.device_id
WHERE s.id = $1 AND s.tenant_id = $2 AND s.employee_id = $3 AND s.revoked_at IS NULL AND e.is_active
"""

# A page of courses in code order with its total, then the page's modules and skills aggregated
# per course (arrays of rows): one statement, each table read once (correlated subqueries per
# course measured 3× slower). {visible} narrows learners to published courses, as Xuefen does.
COURSES_SQL = """
WITH page AS (
    SELECT id, code, title, credits, hours, count(*) OVER () AS total
    FROM course
    WHERE tenant_id = $1{visible}
    ORDER BY code
    LIMIT $2
), modules AS (
    SELECT m.course_id,
           array_agg(ROW(m.position, m.title, m.kind, m.credits, m.required_count) ORDER BY m.position) AS modules
    FROM course_module m JOIN page p ON p.id = m.course_id
    WHERE m.tenant_id = $1
    GROUP BY m.course_id
), skills AS (
    SELECT cs.course_id, array_agg(ROW(s.name, cs.target_level) ORDER BY s.code) AS skills
    FROM course_skill cs JOIN page p ON p.id = cs.course_id JOIN skill s ON s.id = cs.skill_id AND s.tenant_id = $1
    WHERE cs.tenant_id = $1
    GROUP BY cs.course_id
)
SELECT p.*, m.modules, s.skills
FROM page p LEFT JOIN modules m ON m.course_id = p.id LEFT JOIN skills s ON s.course_id = p.id
ORDER BY p.code
"""

# A page of the viewer's ledger, newest first, with the running balance and the total counted over
# all their entries before the page is cut, then each entry's rule, event, course, module and actor.
LEDGER_SQL = """
WITH page AS (
    SELECT id, kind, amount, occurred_at, posted_at, reason, rule_id, event_id, reverses_id, redemption_id,
           actor_id,
           (sum(amount) OVER (ORDER BY id))::bigint AS balance_after,
           count(*) OVER () AS total
    FROM credit_entry
    WHERE tenant_id = $1 AND employee_id = $2
    ORDER BY id DESC
    LIMIT $3
)
SELECT p.*,
       a.employee_no AS actor_no, a.name AS actor_name,
       r.rule_key, r.version AS rule_version, r.name AS rule_name, r.activity AS rule_activity,
       ev.activity AS event_activity, ev.event_key, ev.record_id, ev.occurred_at AS event_occurred_at,
       ev.score, ev.quantity,
       c.id AS course_id, c.code AS course_code, c.title AS course_title,
       m.id AS module_id, m.position AS module_position, m.title AS module_title, m.kind AS module_kind
FROM page p
LEFT JOIN employee a ON a.id = p.actor_id AND a.tenant_id = $1
LEFT JOIN credit_rule r ON r.id = p.rule_id AND r.tenant_id = $1
LEFT JOIN credit_event ev ON ev.id = p.event_id AND ev.tenant_id = $1
LEFT JOIN course c ON c.id = ev.course_id AND c.tenant_id = $1
LEFT JOIN course_module m ON m.id = ev.module_id AND m.tenant_id = $1
ORDER BY p.id DESC
"""

ONE_COURSE_SQL = "SELECT id, code, title, credits, hours FROM course WHERE tenant_id = $1 AND id = $2{visible}"


class Refused(Exception):
    """Anything but the three operations, signed in: answered 400 (401 for the sign-in)."""

    def __init__(self, status: int = 400) -> None:
        self.status = status


@dataclass(frozen=True)
class Viewer:
    tenant_id: int
    employee_id: int
    sees_all_courses: bool  # HR admins and instructors see every status (course_catalog.sees_all_statuses)


def _credits(tenths: int) -> str:
    """Stored tenths as Xuefen shows credits (ledger.from_tenths): one decimal place, signed."""
    sign = "-" if tenths < 0 else ""
    return f"{sign}{abs(tenths) // 10}.{abs(tenths) % 10}"


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _decimal(value: Decimal) -> str:
    return str(value)


async def _viewer(pool: asyncpg.Pool, settings: Settings, header: str) -> Viewer:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(401)
    try:
        # The server's own check (every key of the ring, the key id), not a copy of it.
        session_id, employee_id, tenant_id = access_token_claims(settings.keys, token.strip())
    except DomainError as exc:
        raise Refused(401) from exc
    row = await pool.fetchrow(AUTH_SQL, session_id, tenant_id, employee_id)
    if row is None:
        raise Refused(401)
    return Viewer(tenant_id, employee_id, bool({"HR_ADMIN", "INSTRUCTOR"} & set(row["roles"])))


def _visible(viewer: Viewer) -> str:
    return "" if viewer.sees_all_courses else " AND status = 'PUBLISHED'"


async def course_page(pool: asyncpg.Pool, viewer: Viewer, variables: dict[str, Any]) -> dict[str, Any]:
    rows = await pool.fetch(COURSES_SQL.format(visible=_visible(viewer)), viewer.tenant_id, PAGE_SIZE + 1)
    page = rows[:PAGE_SIZE]
    edges = [
        {
            "node": {
                "id": to_global_id("Course", row["id"]),
                "code": row["code"],
                "title": row["title"],
                "credits": _decimal(row["credits"]),
                "hours": _decimal(row["hours"]),
                "modules": [
                    {
                        "position": position,
                        "title": title,
                        "kind": kind,
                        "credits": _decimal(credits),
                        "requiredCount": required_count,
                    }
                    for position, title, kind, credits, required_count in row["modules"] or ()
                ],
                "skills": [{"skill": {"name": name}, "targetLevel": level} for name, level in row["skills"] or ()],
            }
        }
        for row in page
    ]
    return {
        "courses": {
            "totalCount": rows[0]["total"] if rows else 0,
            "pageInfo": {
                "hasNextPage": len(rows) > PAGE_SIZE,
                "endCursor": encode_cursor("course", [page[-1]["code"]]) if page else None,
            },
            "edges": edges,
        }
    }


def _ledger_node(row: asyncpg.Record) -> dict[str, Any]:
    source = None
    if row["event_key"] is not None:  # the entry's event, found in the tenant
        source = {
            "activity": row["event_activity"],
            "eventKey": row["event_key"],
            "recordId": str(row["record_id"]) if row["record_id"] else None,
            "occurredAt": _moment(row["event_occurred_at"]),
            "score": row["score"],
            "quantity": row["quantity"],
            "course": {
                "id": to_global_id("Course", row["course_id"]),
                "code": row["course_code"],
                "title": row["course_title"],
            }
            if row["course_id"] is not None
            else None,
            "module": {
                "id": to_global_id("CourseModule", row["module_id"]),
                "position": row["module_position"],
                "title": row["module_title"],
                "kind": row["module_kind"],
            }
            if row["module_id"] is not None
            else None,
        }
    return {
        "id": to_global_id("CreditEntry", row["id"]),
        "kind": row["kind"],
        "amount": _credits(row["amount"]),
        "balanceAfter": _credits(row["balance_after"]),
        "occurredAt": _moment(row["occurred_at"]),
        "postedAt": _moment(row["posted_at"]),
        "reason": row["reason"],
        "redemptionId": to_global_id("Redemption", row["redemption_id"]) if row["redemption_id"] else None,
        "reverses": {"id": to_global_id("CreditEntry", row["reverses_id"])} if row["reverses_id"] else None,
        "actor": {"employeeNo": row["actor_no"], "name": row["actor_name"]} if row["actor_no"] is not None else None,
        "rule": {
            "id": to_global_id("CreditRule", row["rule_id"]),
            "ruleKey": row["rule_key"],
            "version": row["rule_version"],
            "name": row["rule_name"],
            "activity": row["rule_activity"],
        }
        if row["rule_key"] is not None
        else None,
        "source": source,
    }


async def ledger_page(pool: asyncpg.Pool, viewer: Viewer, variables: dict[str, Any]) -> dict[str, Any]:
    rows = await pool.fetch(LEDGER_SQL, viewer.tenant_id, viewer.employee_id, PAGE_SIZE + 1)
    page = rows[:PAGE_SIZE]
    return {
        "creditLedger": {
            "totalCount": rows[0]["total"] if rows else 0,
            "pageInfo": {
                "hasNextPage": len(rows) > PAGE_SIZE,
                "endCursor": encode_cursor("credit-ledger", [page[-1]["id"]]) if page else None,
            },
            "edges": [{"node": _ledger_node(row)} for row in page],
        }
    }


async def one_course(pool: asyncpg.Pool, viewer: Viewer, variables: dict[str, Any]) -> dict[str, Any]:
    given = variables.get("id")
    try:
        course_id = expect_global_id(given, "Course") if isinstance(given, str) else None
    except DomainError:
        course_id = None
    if course_id is None:
        raise Refused()
    sql = ONE_COURSE_SQL.format(visible=_visible(viewer))
    row = await pool.fetchrow(sql, viewer.tenant_id, course_id)
    course = None
    if row is not None:
        course = {
            "id": to_global_id("Course", row["id"]),
            "code": row["code"],
            "title": row["title"],
            "credits": _decimal(row["credits"]),
            "hours": _decimal(row["hours"]),
        }
    return {"course": course}


ANSWERS = {"CoursePage": course_page, "LedgerPage": ledger_page, "OneCourse": one_course}


def create_app() -> Starlette:
    """The app, configured from the same XUEFEN_* environment as `xuefen serve` (database, secret,
    pool size)."""
    settings = Settings.from_env()
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=settings.db_pool_max)
        try:
            yield
        finally:
            await state["pool"].close()

    async def graphql(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            name = body.get("operationName") if isinstance(body, dict) else None
            if name not in OPERATIONS or body.get("query") != OPERATIONS[name]:
                raise Refused()
            viewer = await _viewer(state["pool"], settings, request.headers.get("authorization", ""))
            data = await ANSWERS[name](state["pool"], viewer, body.get("variables") or {})
        except orjson.JSONDecodeError:
            return Response(b'{"error":"not JSON"}', status_code=400, media_type="application/json")
        except Refused as refused:
            return Response(b'{"error":"refused"}', status_code=refused.status, media_type="application/json")
        return Response(orjson.dumps({"data": data}), media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)], lifespan=lifespan
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bench.minimal_server:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
