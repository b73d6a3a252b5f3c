"""How fast are HR's reports on a real-size company? (PostgreSQL)

Generates a company of ``--employees`` people with a year (2026) of training made of ``--records``
activity records and every row the product derives from them (bench/reports_company.py: set-based
SQL, a fixed seed), builds the report rollups with the product's own ``rollups.rebuild`` (what
``xuefen reports rebuild`` costs on such a company), then asks each report about the whole year,
as an HR admin (the company) and as a department head (their subtree):

- the service call (what the dashboard, exports and GraphQL resolvers call), median and p95 of
  ``--repetitions`` calls after a warm-up, against the 300 ms aim;
- the same question asked in plain SQL over the raw fact tables in the same run (the baseline:
  what a report without rollups would cost), and the ratio baseline / report;
- one GraphQL request per report through the real ASGI app, so the API's overhead shows.

    python -m bench.reports --database postgres://postgres@127.0.0.1:5432/postgres
        [--employees 20000] [--records 2000000] [--repetitions 10] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg
import httpx
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate
from tortoise.transactions import in_transaction

from backend.app import create_app
from backend.config import Settings
from backend.db import tortoise_config
from backend.models import Employee, Role
from backend.services.people.auth import hash_password
from backend.services.reports import rollups
from backend.services.reports.frame import Dimension, Period, ReportFilter
from backend.services.viewer import Viewer
from bench.reports_company import generate

AIM_MS = 300.0
REBUILD_CHUNK = 50_000
SECRET = "bench-reports-secret-" + "x" * 32
PASSWORD = "bench-Report-2026"
HR_ADMIN, DEPARTMENT_HEAD = 251, 6  # bench/reports_company.py: the HR admin, the head of department 6
YEAR = Period(date(2026, 1, 1), date(2026, 12, 31))
YEAR_START, YEAR_END = (
    datetime.fromisoformat("2026-01-01 00:00+08:00"),
    datetime.fromisoformat("2027-01-01 00:00+08:00"),
)


@dataclass
class Result:
    report: str
    viewer: str
    samples: list[float]
    baseline: list[float] | None = None
    api: list[float] | None = None
    note: str = ""


def _ms(samples: list[float] | None) -> tuple[float, float] | None:
    if not samples:
        return None
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


async def _timed(call: Callable[[], Awaitable[Any]], repetitions: int) -> list[float]:
    await call()  # warm-up
    samples = []
    for _ in range(repetitions):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


# --- the baselines: the same questions over the raw facts ------------------------------------------
# $1 tenant, $2 first instant, $3 end instant (exclusive), $4 subtree path prefix ('%' = company).

_PEOPLE = "JOIN employee e ON e.id = {a}.employee_id JOIN org_unit u ON u.id = e.org_unit_id AND u.path LIKE $4"
_SPAN = "{a}.tenant_id = $1 AND {a}.{at} >= $2 AND {a}.{at} < $3"
_MONTH = "to_char({a}.{at} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')"


def _effect_sql(group: str) -> list[str]:
    """Training effect's figures from the facts, grouped by ``group`` (a month or an org unit)."""

    def key(a: str, at: str) -> str:
        return _MONTH.format(a=a, at=at) if group == "month" else "e.org_unit_id"

    return [
        f"SELECT {key('v', 'occurred_at')} AS k, v.activity, count(*), sum(v.quantity), sum(v.score)"
        f" FROM credit_event v {_PEOPLE.format(a='v')} WHERE {_SPAN.format(a='v', at='occurred_at')}"
        " GROUP BY 1, 2",
        f"SELECT {key('a', 'submitted_at')} AS k, count(*), sum(a.percent), count(*) FILTER (WHERE a.attempt_no = 1)"
        f" FROM quiz_attempt a {_PEOPLE.format(a='a')} WHERE {_SPAN.format(a='a', at='submitted_at')} GROUP BY 1",
        f"SELECT {key('c', 'occurred_at')} AS k, sum(c.amount) FILTER (WHERE c.kind = 'EARN'),"
        " -sum(c.amount) FILTER (WHERE c.kind = 'REDEEM')"
        f" FROM credit_entry c {_PEOPLE.format(a='c')} WHERE {_SPAN.format(a='c', at='occurred_at')} GROUP BY 1",
        f"SELECT {key('s', 'starts_at')} AS k, count(*) FROM enrollment n JOIN training_session s ON s.id = n.session_id"
        f" {_PEOPLE.format(a='n')} WHERE n.status = 'ENROLLED' AND {_SPAN.format(a='s', at='starts_at')} GROUP BY 1",
    ]


BASELINES: dict[str, list[str]] = {
    # total + monthly series + breakdown by org unit
    "training effect": _effect_sql("month") + _effect_sql("unit"),
    # what each person earned and redeemed in the year, then its spread
    "credit distribution": [
        "WITH p AS (SELECT e.id, e.org_unit_id, COALESCE(sum(c.amount) FILTER (WHERE c.kind = 'EARN'), 0) AS earned"
        " FROM employee e JOIN org_unit u ON u.id = e.org_unit_id AND u.path LIKE $4"
        " LEFT JOIN credit_entry c ON c.employee_id = e.id AND c.tenant_id = $1 AND c.occurred_at >= $2"
        " AND c.occurred_at < $3 WHERE e.tenant_id = $1 GROUP BY e.id)"
        " SELECT width_bucket(earned, 0, 2000, 20) AS bucket, count(*), sum(earned),"
        " percentile_cont(ARRAY[0.25, 0.5, 0.75, 0.9]) WITHIN GROUP (ORDER BY earned) FROM p GROUP BY ROLLUP (1)",
    ],
    # the whole matrix: units × skills, from people's levels against their positions' needs
    "training needs": [
        "SELECT e.org_unit_id, ps.skill_id, count(*), sum(GREATEST(ps.required_level - COALESCE(es.level, 0), 0)),"
        " count(*) FILTER (WHERE COALESCE(es.level, 0) < ps.required_level)"
        " FROM employee e JOIN org_unit u ON u.id = e.org_unit_id AND u.path LIKE $4"
        " JOIN position_skill ps ON ps.position_id = e.position_id"
        " LEFT JOIN employee_skill es ON es.employee_id = e.id AND es.skill_id = ps.skill_id"
        " WHERE e.tenant_id = $1 AND e.is_active AND $2::timestamptz < $3 GROUP BY 1, 2",
    ],
    # sessions, people enrolled and attended, minutes, per instructor
    "instructors": [
        "SELECT s.instructor_id, count(DISTINCT s.id), count(n.id) FILTER (WHERE n.status = 'ENROLLED'),"
        " count(t.id), sum(extract(epoch FROM s.ends_at - s.starts_at) / 60) FILTER (WHERE t.id IS NOT NULL)"
        " FROM training_session s JOIN employee e ON e.id = s.instructor_id"
        " JOIN org_unit u ON u.id = e.org_unit_id AND u.path LIKE $4"
        " LEFT JOIN enrollment n ON n.session_id = s.id"
        " LEFT JOIN attendance t ON t.session_id = s.id AND t.employee_id = n.employee_id"
        " WHERE s.tenant_id = $1 AND s.starts_at >= $2 AND s.starts_at < $3 GROUP BY 1",
    ],
    # reviews (confirmed, returned, waiting time) and evaluations (mean, spread, full marks) per mentor
    "mentors": [
        "SELECT l.reviewer_id, count(*), count(*) FILTER (WHERE l.status = 'CONFIRMED'),"
        " count(*) FILTER (WHERE l.status = 'REJECTED'), sum(extract(epoch FROM l.reviewed_at - l.created_at))"
        " FROM practice_log l JOIN employee e ON e.id = l.reviewer_id"
        " JOIN org_unit u ON u.id = e.org_unit_id AND u.path LIKE $4"
        " WHERE l.tenant_id = $1 AND l.reviewed_at >= $2 AND l.reviewed_at < $3"
        " AND l.status IN ('CONFIRMED', 'REJECTED') GROUP BY 1",
        "SELECT v.mentor_id, count(*), sum(v.percent), sum(v.percent * v.percent), count(*) FILTER (WHERE v.percent = 100)"
        " FROM mentor_evaluation v JOIN employee e ON e.id = v.mentor_id"
        " JOIN org_unit u ON u.id = e.org_unit_id AND u.path LIKE $4"
        " WHERE v.tenant_id = $1 AND v.status = 'SUBMITTED' AND v.submitted_at >= $2 AND v.submitted_at < $3 GROUP BY 1",
    ],
}


# --- the reports as the product answers them ------------------------------------------------------


def _service(module: str, function: str) -> Callable[..., Awaitable[Any]] | None:
    """A report's service function, or None while its module is not written yet."""
    try:
        return getattr(importlib.import_module(f"backend.services.reports.{module}"), function)
    except (ModuleNotFoundError, AttributeError):
        return None


def _calls(viewer: Viewer) -> dict[str, Callable[[], Awaitable[Any]] | None]:
    """Each report's service call about the year, for ``viewer`` (its scope: the company or the
    subtree the viewer manages)."""
    year = ReportFilter(YEAR)
    effect = _service("training_effect", "training_effect")
    distribution = _service("credit_distribution", "credit_distribution")
    needs = _service("training_needs", "training_needs")
    instructors = _service("instructors", "instructor_report")
    mentors = _service("instructors", "mentor_report")
    return {
        "training effect": effect and (lambda: effect(viewer, year, Dimension.ORG_UNIT)),
        "credit distribution": distribution and (lambda: distribution(viewer, year)),
        "training needs": needs and (lambda: needs(viewer, None)),
        "instructors": instructors and (lambda: instructors(viewer, year)),
        "mentors": mentors and (lambda: mentors(viewer, year)),
    }


# --- running ----------------------------------------------------------------------------------------


def _database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _rebuild(tenant: int) -> None:
    """The rollups by the product's ``rollups.rebuild``, timed. Should it fail, the same steps
    (recount, delete, upsert) are run with the upsert in chunks, so the reports can be measured."""
    start = time.perf_counter()
    try:
        async with in_transaction() as transaction:
            rows = await rollups.rebuild(transaction, tenant)
        print(
            f"\nrollups.rebuild (xuefen reports rebuild): {rows:,} rollup rows in {time.perf_counter() - start:.1f} s"
        )
        return
    except Exception as failure:
        print(
            f"\nrollups.rebuild FAILED after {time.perf_counter() - start:.1f} s: {type(failure).__name__}: {failure}"
        )
    start = time.perf_counter()
    async with in_transaction() as transaction:
        counted = await rollups.recount(transaction, tenant)
        recounted = time.perf_counter() - start
        await transaction.execute_query("DELETE FROM report_rollup WHERE tenant_id = $1", [tenant])
        keys = sorted(counted)
        for first in range(0, len(keys), REBUILD_CHUNK):
            chunk = {key: counted[key] for key in keys[first : first + REBUILD_CHUNK]}
            await rollups._upsert(transaction, tenant, chunk)
    print(
        f"  the same in chunks of {REBUILD_CHUNK:,}: {len(counted):,} rollup rows in "
        f"{time.perf_counter() - start:.1f} s (recount {recounted:.1f} s)"
    )


async def _build(url: str, employees: int, records: int, settings: Settings) -> int:
    print(f"Generating {employees:,} employees and {records:,} activity records of 2026:", flush=True)
    start = time.perf_counter()
    await migrate(config=tortoise_config(url))
    await connections.close_all()
    print(f"  {'migrate':<44} {'':>10}      {time.perf_counter() - start:7.1f} s", flush=True)
    connection = await asyncpg.connect(url)
    try:
        tenant = await generate(connection, employees, records, hash_password(settings, PASSWORD))
    finally:
        await connection.close()
    print(f"  {'generated in':<44} {'':>10}      {time.perf_counter() - start:7.1f} s", flush=True)
    await Tortoise.init(config=tortoise_config(url))
    await _rebuild(tenant)
    start = time.perf_counter()
    await _admin(url, "VACUUM ANALYZE")
    print(f"VACUUM ANALYZE: {time.perf_counter() - start:.1f} s", flush=True)
    return tenant


# --- the same reports over GraphQL (every figure asked for, as the dashboard would) ---------------

_FIGURES = (
    "enrolled attended sessionsHeld participationRate participants courseLearners coursesCompleted completionRate"
    " quizTakers quizzesPassed passRate quizAttempts averageQuizScore practiceConfirmed evaluations"
    " averageEvaluationScore hours creditsEarned"
)
_NEED = "headcount below shareBelow averageGap"
_YEAR = '{from: "2026-01-01", to: "2026-12-31"}'
_PERSON = "person { employeeId employeeNo name }"
DOCUMENTS = {
    "training effect": f"{{ trainingEffect(filter: {_YEAR}, breakdown: ORG_UNIT) {{ from to"
    f" total {{ {_FIGURES} }} series {{ month figures {{ {_FIGURES} }} }}"
    f" breakdown {{ key label figures {{ {_FIGURES} }} }} }} }}",
    "credit distribution": f"{{ creditDistribution(filter: {_YEAR}) {{ from to headcount totalEarned"
    " earned { buckets { low high count } percentiles { percent credits } }"
    " balances { buckets { low high count } percentiles { percent credits } }"
    " targets { positionFamily grade headcount target expected averageEarned reached behind ahead }"
    " behind { employeeId employeeNo name orgUnit earned expected }"
    " ahead { employeeId employeeNo name orgUnit earned expected }"
    " redemptions { rewardId code name count credits } } }",
    "training needs": f"{{ trainingNeeds {{ depth headcount total {{ {_NEED} }}"
    f" rows {{ unit {{ id name }} ownPeopleOnly headcount total {{ {_NEED} }} cells {{ skillId need {{ {_NEED} }} }} }}"
    f" columns {{ skill {{ id code name }} requiredLevel total {{ {_NEED} }}"
    " courses { course { id code title } targetLevel } } } }",
    "instructors": f"{{ instructorReport(filter: {_YEAR}) {{ from to truncated instructors {{ {_PERSON}"
    " sessionsDelivered hoursDelivered enrolled attended attendanceRate learnerHours averageRating } } }",
    "mentors": f"{{ mentorReport(filter: {_YEAR}) {{ from to truncated peerEvaluations peerAverageScore"
    f" peerScoreSd peerHistogram {{ counts }} mentors {{ {_PERSON} mentees practiceReviews practiceConfirmed"
    " practiceReturned averageReviewHours evaluations averageScore scoreSd fullMarksShare zScore standsOut"
    " histogram { counts } } } }",
}


async def _viewer(employee_id: int) -> Viewer:
    employee = await Employee.get(id=employee_id)
    roles = frozenset(
        Role(row["role"])
        for row in await connections.get("default").execute_query_dict(
            f"SELECT role FROM employee_role WHERE employee_id = {employee_id}"
        )
    )
    return Viewer(employee.tenant_id, employee, roles, uuid.uuid4(), "bench")


async def _measure(url: str, tenant: int, settings: Settings, repetitions: int) -> list[Result]:
    """Each report as the HR admin (the company) and as a department head (their subtree)."""
    results: list[Result] = []
    # The baseline is planned for its parameters each time: a generic plan of ``LIKE $4`` can be
    # a hundred times slower (see the FAILs this bench found in the reports' own statements).
    raw = await asyncpg.connect(url, server_settings={"plan_cache_mode": "force_custom_plan"})
    app = create_app(settings.with_overrides(database_url=url), manage_db=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as http:
            for who, employee_id in (("company (HR)", HR_ADMIN), ("department head", DEPARTMENT_HEAD)):
                viewer = await _viewer(employee_id)
                path = await raw.fetchval(
                    "SELECT path || '%' FROM org_unit WHERE id = (SELECT org_unit_id FROM employee WHERE id = $1)",
                    employee_id,
                )
                bounds = (tenant, YEAR_START, YEAR_END, "%" if employee_id == HR_ADMIN else path)
                token = await _token(http, viewer.employee.employee_no)
                for report, call in _calls(viewer).items():
                    result = Result(report, who, [], note="service not written yet")
                    if call is not None:
                        result = await _one(report, who, call, raw, bounds, http, token, repetitions)
                    results.append(result)
                    _print_line(result)
    finally:
        await raw.close()
    return results


async def _one(
    report: str,
    who: str,
    call: Callable[[], Awaitable[Any]],
    raw: asyncpg.Connection,
    bounds: tuple,
    http: httpx.AsyncClient,
    token: str,
    repetitions: int,
) -> Result:
    """One report, one viewer: the service, the baseline, the GraphQL request."""

    async def baseline() -> None:
        for sql in BASELINES[report]:
            await raw.fetch(sql, *bounds)

    return Result(
        report,
        who,
        await _timed(call, repetitions),
        baseline=await _timed(baseline, repetitions),
        api=await _timed(lambda: _ask(http, token, DOCUMENTS[report]), repetitions),
    )


async def _token(http: httpx.AsyncClient, employee_no: str) -> str:
    answer = await http.post(
        "/graphql",
        json={
            "query": 'mutation { login(input: {tenant: "bench", '
            f'employeeNo: "{employee_no}", password: "{PASSWORD}", deviceId: "bench-reports"}}) '
            "{ tokens { accessToken } errors { code message } } }"
        },
    )
    body = answer.json()
    tokens = body["data"]["login"]["tokens"]
    if tokens is None:
        raise SystemExit(f"login failed: {body}")
    return tokens["accessToken"]


async def _ask(http: httpx.AsyncClient, token: str, document: str) -> None:
    answer = await http.post("/graphql", json={"query": document}, headers={"Authorization": f"Bearer {token}"})
    body = answer.json()
    if "errors" in body:
        raise SystemExit(f"GraphQL error: {body['errors']}")


HEADER = (
    f"{'report':<20} {'viewer':<16} {'ms median':>9} {'p95':>7} {'baseline':>9} {'ratio':>7} "
    f"{'GraphQL':>8} {'p95':>7}  aim {AIM_MS:.0f} ms"
)


def _print_line(result: Result) -> None:
    own, base, api = _ms(result.samples), _ms(result.baseline), _ms(result.api)
    if own is None:
        print(f"{result.report:<20} {result.viewer:<16} {result.note}", flush=True)
        return
    ratio = f"{base[0] / own[0]:7.1f}" if base else f"{'-':>7}"
    api_text = f"{api[0]:8.1f} {api[1]:7.1f}" if api else f"{'-':>8} {'-':>7}"
    verdict = "PASS" if own[1] <= AIM_MS and (api is None or api[1] <= AIM_MS) else "FAIL"
    print(
        f"{result.report:<20} {result.viewer:<16} {own[0]:9.1f} {own[1]:7.1f} "
        f"{(base[0] if base else float('nan')):9.1f} {ratio} {api_text}  {verdict}",
        flush=True,
    )


async def run(admin_url: str, employees: int, records: int, repetitions: int, keep: bool) -> None:
    settings = Settings(password_time_cost=1, password_memory_cost_kib=8 * 1024, secret_key=SECRET)
    name = f"xuefen_bench_reports_{os.getpid()}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    url = _database(admin_url, name)
    try:
        tenant = await _build(url, employees, records, settings)
        # What generating left in this process is not a server's: collect it and keep the
        # collector from walking whatever survives during the measurements.
        gc.collect()
        gc.freeze()
        print(f"\n{repetitions} repetitions after a warm-up; ms = the service call, baseline = the same question")
        print("in plain SQL over the raw facts, ratio = baseline / service, GraphQL = one request through the app;")
        print("PASS when the p95 of both the service and the request is within the aim.\n")
        print(HEADER)
        await _measure(url, tenant, settings, repetitions)
    finally:
        await connections.close_all()
        if keep:
            print(f"\nKept: {url}")
        else:
            await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--employees", type=int, default=20_000)
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the generated database (printed)")
    args = parser.parse_args()
    if not args.database.startswith("postgres"):
        raise SystemExit("bench.reports needs a PostgreSQL server (--database postgres://…)")
    asyncio.run(run(args.database, args.employees, args.records, args.repetitions, args.keep))


if __name__ == "__main__":
    main()
