"""Report exports: the registry is complete, `write_report` streams (flat memory, formula-looking
cells stay text), `exportReport` signs a link that `GET /reports/…` honours while the login lives
(and refuses after sign-out, revocation, expiry, tampering or for another report), the file's
figures equal the API's, and `xuefen report` writes the same file from the command line."""

from __future__ import annotations

import ast
import csv
import io
import tracemalloc
import zipfile
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from backend.models import CreditEntry, Employee
from backend.services.imports.files import FileFormat, WriteCell
from backend.services.people import auth
from backend.services.reports import exports
from backend.services.reports.registry import REPORTS
from backend.services.reports.tables import Column, ReportOptions, Table
from backend.signing import sign
from schema.ids import to_global_id
from tests.factories import Company, make_company
from tests.graphql_client import gql, login, token_for
from tests.test_auth import logout
from tests.test_logs import _access_line
from tests.test_tenant_cli import xuefen

REPORTS_DIR = Path(__file__).resolve().parent.parent / "backend" / "services" / "reports"

EXPORT = """
mutation E($input: ExportReportInput!) {
  exportReport(input: $input) { url expiresAt errors { code field } }
}
"""
ADJUST = """
mutation A($input: AdjustCreditsInput!) {
  adjustCredits(input: $input) { errors { code field } }
}
"""
EFFECT = """
query T($filter: ReportFilterInput!) {
  trainingEffect(filter: $filter) { series { month figures { creditsEarned } } }
}
"""


# --- the registry -----------------------------------------------------------------------------------


def _export_functions() -> set[tuple[str, str]]:
    """(module, function) of every ``async def export_…`` at the top of a report module."""
    found = set()
    for path in REPORTS_DIR.glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.AsyncFunctionDef)
                and node.name.startswith("export_")
                and node.name != "export_link"
            ):
                found.add((f"backend.services.reports.{path.stem}", node.name))
    return found


def test_every_export_function_is_listed_and_every_listed_one_exists():
    listed = {(report.module, report.function) for report in REPORTS.values()}
    assert _export_functions() - listed == set(), "an export function is missing from registry.REPORTS"
    for report in REPORTS.values():
        assert callable(report.export_function()), report.name
    assert list(REPORTS) == [
        "training-effect",
        "credit-distribution",
        "training-needs",
        "instructors",
        "mentors",
        "team",
        "quiz-items",
        "growth-profile",
    ]


def test_report_links_are_blanked_in_the_access_log():
    line = _access_line("/reports/training-effect.xlsx?k=r1.WzEs.mac&locale=en")
    assert "r1.WzEs" not in line and "?k=[redacted]&locale=en" in line


# --- writing ------------------------------------------------------------------------------------------


def _table(rows: Sequence[Sequence[WriteCell]], title: str = "培训/效果: 2026") -> Table:
    async def lazily() -> AsyncIterator[Sequence[WriteCell]]:
        for row in rows:
            yield row

    columns = (Column("姓名", "Name"), Column("得分", "Score"), Column("日期", "Day"))
    return Table(title, "Effect", columns, lazily(), len(rows))


FORMULAS = [["=1+1", 1, date(2026, 3, 1)], ["@SUM(A1)", Decimal("2.5"), None], ["+86 138", -1.25, date(2026, 3, 2)]]


async def test_formula_looking_cells_stay_text_in_both_formats(tmp_path):
    xlsx, text = tmp_path / "f.xlsx", tmp_path / "f.csv"
    seen: list[tuple[int, int | None]] = []
    assert await exports.write_report(_table(FORMULAS), xlsx, FileFormat.XLSX, "zh-CN", lambda *p: seen.append(p)) == 3
    assert seen == [(3, 3)]  # one batch
    sheet = openpyxl.load_workbook(xlsx).active
    assert sheet.title == "培训 效果  2026"  # / and : may not be in a sheet name
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["姓名", "得分", "日期"],
        ["=1+1", 1, datetime(2026, 3, 1)],
        ["@SUM(A1)", 2.5, None],
        ["+86 138", -1.25, datetime(2026, 3, 2)],
    ]
    assert [sheet.cell(row, 1).data_type for row in (2, 3, 4)] == ["s", "s", "s"]
    with zipfile.ZipFile(xlsx) as book:
        assert "<f>" not in book.read("xl/worksheets/sheet1.xml").decode()  # no formula anywhere

    await exports.write_report(_table(FORMULAS), text, FileFormat.CSV, "en", None)
    raw = text.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(raw.decode("utf-8-sig")))) == [
        ["Name", "Score", "Day"],
        ["'=1+1", "1", "2026-03-01"],
        ["'@SUM(A1)", "2.5", ""],
        ["'+86 138", "-1.25", "2026-03-02"],
    ]
    streamed = b"".join([chunk async for chunk in exports.csv_chunks(_table(FORMULAS), "en")])
    assert streamed == raw  # the download streams the same bytes


ROWS = 200_000


async def _many() -> AsyncIterator[Sequence[WriteCell]]:
    for number in range(ROWS):
        yield [f"员工{number:06d}", number, number / 8]


@pytest.mark.parametrize("fmt", [FileFormat.XLSX, FileFormat.CSV])
async def test_two_hundred_thousand_rows_in_flat_memory(tmp_path, fmt):
    columns = (Column("姓名", "Name"), Column("序号", "No"), Column("值", "Value"))
    path = tmp_path / f"big.{fmt.value}"
    tracemalloc.start()
    try:
        written = await exports.write_report(Table("大表", "Big", columns, _many(), ROWS), path, fmt, "zh-CN")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == ROWS
    # Held in memory, 200,000 rows of three cells would be some 60 MB; streamed, a batch of 500
    # rows and the writer's buffers stay well under 4 MB.
    assert peak < 4 * 1024 * 1024, peak
    if fmt is FileFormat.CSV:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            lines = list(csv.reader(stream))
        assert len(lines) == ROWS + 1 and lines[-1] == ["员工199999", "199999", "24999.875"]
    else:
        sheet = openpyxl.load_workbook(path, read_only=True).active
        assert sheet.max_row == ROWS + 1


# --- through the app -----------------------------------------------------------------------------------


@pytest.fixture
async def company(password_hash, client) -> Company:
    """HR adjusts credits today: LRN (华东销售组, under MGR's 销售部) 2.5, OTH (生产部) 1.0. Two
    names look like formulas."""
    company = await make_company(password_hash, courses=False)
    await Employee.filter(id=company.employees["OTH"].id).update(name="=1+1")
    await Employee.filter(id=company.employees["MGR"].id).update(name="@SUM(A1)")
    hr = await token_for(client, company.code, "HR1")
    for no, amount in (("LRN", "2.5"), ("OTH", "1")):
        body = await gql(
            client,
            ADJUST,
            {
                "input": {
                    "employeeId": to_global_id("Employee", company.employees[no].id),
                    "amount": amount,
                    "reason": "奖励",
                }
            },
            token=hr,
        )
        assert body["data"]["adjustCredits"]["errors"] == [], body
    return company


def _year(company: Company) -> tuple[date, date, str]:
    """This year in the company's zone and this month (YYYY-MM)."""
    today = datetime.now(ZoneInfo(company.tenant.time_zone)).date()
    return date(today.year, 1, 1), date(today.year, 12, 31), today.strftime("%Y-%m")


def _filter(company: Company, **extra: str) -> dict[str, str]:
    first, last, _ = _year(company)
    return {"from": first.isoformat(), "to": last.isoformat(), **extra}


async def _link(client, token: str, report: str, fmt: str = "XLSX", **options) -> dict:
    body = await gql(client, EXPORT, {"input": {"report": report, "format": fmt, **options}}, token=token)
    assert "errors" not in body, body
    return body["data"]["exportReport"]


def _xlsx_rows(content: bytes) -> list[list[object]]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return [[c.value for c in row] for row in sheet.iter_rows()]


async def test_training_effect_file_equals_the_api_in_both_languages(company, client):
    hr = await token_for(client, company.code, "HR1")
    link = await _link(client, hr, "TRAINING_EFFECT", filter=_filter(company))
    assert link["errors"] == [] and link["url"].startswith("/reports/training-effect.xlsx?k=r1.")
    expires = datetime.fromisoformat(link["expiresAt"])
    assert timedelta(minutes=9, seconds=58) < expires - datetime.now(UTC) <= timedelta(minutes=10, seconds=1)

    response = await client.get(link["url"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    first, last, month = _year(company)
    name = f"培训效果 {first.isoformat()}~{last.isoformat()}.xlsx"
    assert response.headers["content-disposition"] == (
        f"attachment; filename=\"training-effect.xlsx\"; filename*=UTF-8''{quote(name, safe='')}"
    )
    rows = _xlsx_rows(response.content)
    assert (rows[0][0], rows[0][-1], len(rows[0])) == ("月份", "获得学分", 19)
    by_month = {row[0]: row[-1] for row in rows[1:]}
    assert len(by_month) == 12 and by_month[month] == 3.5  # 2.5 + 1.0, hand-added
    assert sum(v for v in by_month.values()) == 3.5

    api = await gql(client, EFFECT, {"filter": _filter(company)}, token=hr)
    series = {m["month"]: Decimal(m["figures"]["creditsEarned"]) for m in api["data"]["trainingEffect"]["series"]}
    assert {key: Decimal(str(value)) for key, value in by_month.items()} == series

    english = await client.get(link["url"] + "&locale=en")
    assert english.status_code == 200
    header = _xlsx_rows(english.content)[0]
    assert (header[0], header[-1]) == ("Month", "Credits earned")
    assert "filename*=UTF-8''Training%20effect%20" in english.headers["content-disposition"]


async def test_credit_distribution_csv_streams_with_a_bom_and_chinese_intact(company, client):
    hr = await token_for(client, company.code, "HR1")
    link = await _link(client, hr, "CREDIT_DISTRIBUTION", "CSV", filter=_filter(company))
    response = await client.get(link["url"], headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0][:2] == ["工号", "姓名"]
    people = {line[0]: line for line in lines[1:]}
    assert sorted(people) == ["HR1", "LRN", "MGR", "OTH"]  # OFF has left
    assert people["LRN"][1:3] == ["李学员", "华东销售组"] and people["LRN"][5:7] == ["2.5", "2.5"]
    assert people["OTH"][1] == "'=1+1" and people["OTH"][5] == "1.0"
    assert people["MGR"][1] == "'@SUM(A1)" and people["HR1"][5] == "0.0"


async def test_the_link_dies_with_its_login_on_expiry_and_when_altered(company, client, test_settings):
    payload = await login(client, company.code, "HR1", device_id="export-phone")
    token = payload["tokens"]["accessToken"]
    link = await _link(client, token, "CREDIT_DISTRIBUTION", "CSV", filter=_filter(company))
    url = link["url"]
    assert (await client.get(url)).status_code == 200
    path, _, key = url.partition("?k=")

    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    assert (await client.get(f"{path}?k={tampered}")).status_code == 401
    assert (await client.get(path)).status_code == 401
    other = await client.get(f"/reports/training-effect.csv?k={key}")
    assert other.status_code == 401 and other.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await client.get(f"/reports/credit-distribution.xlsx?k={key}")).status_code == 401
    assert (await client.get(f"/reports/no-such-report.csv?k={key}")).status_code == 404

    viewer = await auth.authenticate(test_settings, token)
    options = ReportOptions(filter=exports.options_of({"from": "2026-01-01", "to": "2026-12-31"}).filter)
    old = await exports.export_link(
        test_settings,
        viewer,
        "credit-distribution",
        FileFormat.CSV,
        options,
        now=datetime.now(UTC) - timedelta(minutes=11),
    )
    expired = await client.get(old.url, headers={"Accept-Language": "en"})
    assert expired.status_code == 401 and expired.json()["errors"][0]["extensions"]["code"] == "TOKEN_EXPIRED"
    assert "expired" in expired.json()["errors"][0]["message"]
    # A key signed as another kind of value (a projector link's) is no report link.
    claims = [company.tenant.id, viewer.session_id.hex, "credit-distribution", "csv", {}, 2**40]
    assert (await client.get(f"{path}?k={sign(test_settings.secret_key, 'p1', claims)}")).status_code == 401

    assert (await logout(client, token))["ok"] is True
    gone = await client.get(url)
    assert gone.status_code == 401 and gone.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    other_login = await login(client, company.code, "HR1", device_id="export-laptop")
    viewer = await auth.authenticate(test_settings, other_login["tokens"]["accessToken"])
    revoked = await exports.export_link(test_settings, viewer, "credit-distribution", FileFormat.CSV, options)
    assert (await client.get(revoked.url)).status_code == 200
    await auth.revoke_session(viewer.session_id, "test")
    assert (await client.get(revoked.url)).status_code == 401


async def test_who_may_export_what(company, client, password_hash):
    employee = await token_for(client, company.code, "LRN")
    refused = await _link(client, employee, "TRAINING_EFFECT", filter=_filter(company))
    assert refused == {"url": None, "expiresAt": None, "errors": [{"code": "FORBIDDEN", "field": None}]}
    # The roles come before the options: an employee's bad id is still FORBIDDEN.
    refused = await _link(client, employee, "TRAINING_EFFECT", filter=_filter(company, orgUnitId="nonsense"))
    assert refused["errors"] == [{"code": "FORBIDDEN", "field": None}]

    manager = await token_for(client, company.code, "MGR")
    plant = to_global_id("OrgUnit", company.org_units["plant"].id)
    outside = await _link(client, manager, "TRAINING_EFFECT", filter=_filter(company, orgUnitId=plant))
    assert outside["errors"] == [{"code": "FORBIDDEN", "field": None}]
    unused = await _link(client, manager, "CREDIT_DISTRIBUTION", filter=_filter(company), by="SITE")
    assert unused["errors"] == [{"code": "VALIDATION", "field": "breakdown"}]
    missing = await _link(client, manager, "CREDIT_DISTRIBUTION")
    assert missing["errors"] == [{"code": "VALIDATION", "field": "filter"}]

    own = await _link(client, manager, "CREDIT_DISTRIBUTION", "CSV", filter=_filter(company))
    response = await client.get(own.get("url") or "")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert sorted(line[0] for line in lines[1:]) == ["LRN", "MGR"]  # 销售部 and 华东销售组 only

    hr = await token_for(client, company.code, "HR1")
    other = await make_company(password_hash, courses=False)
    foreign = to_global_id("OrgUnit", other.org_units["plant"].id)
    found = await _link(client, hr, "TRAINING_EFFECT", filter=_filter(company, orgUnitId=foreign))
    assert found["errors"] == [{"code": "NOT_FOUND", "field": None}]


async def test_the_link_runs_as_the_login_is_now(company, client):
    """A manager's link made for their subtree stops working once they are no manager."""
    from backend.models import EmployeeRole, Role

    manager = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    link = await _link(client, manager, "CREDIT_DISTRIBUTION", "CSV", filter=_filter(company))
    assert (await client.get(link["url"])).status_code == 200
    await EmployeeRole.filter(employee_id=company.employees["MGR"].id, role=Role.MANAGER).delete()
    demoted = await client.get(link["url"])
    assert demoted.status_code == 403 and demoted.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- the command line ------------------------------------------------------------------------------------


async def test_the_cli_writes_the_report(company, database_url, test_settings, tmp_path):
    first, last, _ = _year(company)
    output = tmp_path / "学分.xlsx"
    period = ("--from", first.isoformat(), "--to", last.isoformat())
    done = xuefen(
        database_url,
        test_settings,
        "report",
        "credit-distribution",
        "--tenant",
        company.code,
        *period,
        "--org-unit",
        "SALES",
        "--output",
        str(output),
        "--locale",
        "en",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Credit distribution: wrote 2 rows to {output}"
    rows = _xlsx_rows(output.read_bytes())
    assert rows[0][:2] == ["Employee no.", "Name"]
    assert [(row[0], row[1]) for row in rows[1:]] == [("LRN", "李学员"), ("MGR", "@SUM(A1)")]

    csv_out = tmp_path / "effect.csv"
    done = xuefen(
        database_url,
        test_settings,
        "report",
        "training-effect",
        "--tenant",
        company.code,
        *period,
        "--format",
        "csv",
        "--output",
        str(csv_out),
        language="zh_CN.UTF-8",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"培训效果：已写入 12 行到 {csv_out}"
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbf\xe6\x9c\x88\xe4\xbb\xbd")  # BOM, 月份

    unknown = xuefen(database_url, test_settings, "report", "nonsense", "--output", str(tmp_path / "x.csv"))
    assert unknown.returncode == 2 and "no report is called nonsense" in unknown.stderr
    no_unit = xuefen(
        database_url,
        test_settings,
        "report",
        "training-effect",
        "--tenant",
        company.code,
        *period,
        "--org-unit",
        "NOPE",
        "--output",
        str(tmp_path / "y.csv"),
    )
    assert no_unit.returncode == 2 and "no org unit has the code NOPE" in no_unit.stderr
    no_period = xuefen(
        database_url, test_settings, "report", "training-effect", "--tenant", company.code, "--output", "z.xlsx"
    )
    assert no_period.returncode == 2
    assert no_period.stderr == "xuefen: the training-effect report needs --from DAY --to DAY\n"
    refused = xuefen(
        database_url,
        test_settings,
        "report",
        "credit-distribution",
        "--tenant",
        company.code,
        *period,
        "--by",
        "SITE",
        "--output",
        str(tmp_path / "w.csv"),
    )
    assert refused.returncode == 1
    assert refused.stderr == "xuefen: breakdown: Invalid input: this report does not use this option\n"


async def test_reports_about_one_person_follow_their_own_rules(company, client):
    """A growth profile is its employee's own to export; a team needs a manager; quiz items are
    for authors, checked before the quiz id is read."""
    lrn, oth = (to_global_id("Employee", company.employees[no].id) for no in ("LRN", "OTH"))
    learner = await token_for(client, company.code, "LRN")
    own = await _link(client, learner, "GROWTH_PROFILE", "CSV", employeeId=lrn)
    assert own["errors"] == [] and own["url"].startswith("/reports/growth-profile.csv?k=")
    response = await client.get(own["url"], headers={"Accept-Language": "en"})
    assert response.status_code == 200, response.text
    assert "filename*=UTF-8''Growth%20profile.csv" in response.headers["content-disposition"]
    events = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1:]
    assert len(events) == 1 and "2.5" in events[0]  # HR's adjustment, the one fact of LRN's
    # Times are the company's wall time in both formats (the database's are UTC).
    entry = await CreditEntry.get(employee_id=company.employees["LRN"].id)
    local = entry.occurred_at.astimezone(ZoneInfo(company.tenant.time_zone)).replace(tzinfo=None)
    assert local.utcoffset() is None and company.tenant.time_zone == "Asia/Shanghai"
    assert datetime.fromisoformat(events[0][0]) == local
    xlsx = await _link(client, learner, "GROWTH_PROFILE", employeeId=lrn)
    cell = _xlsx_rows((await client.get(xlsx["url"])).content)[1][0]
    assert abs(cell - local) < timedelta(seconds=1), (cell, local)
    # The profile reads a period only: any other filter field is refused, not silently ignored.
    for extra, field in (({"courseId": "Q291cnNlOjE="}, "filter.courseId"), ({"scenario": "安全"}, "filter.scenario")):
        narrowed = await _link(
            client, learner, "GROWTH_PROFILE", "CSV", employeeId=lrn, filter=_filter(company, **extra)
        )
        assert narrowed["errors"] == [{"code": "VALIDATION", "field": field}], narrowed
    colleague = await _link(client, learner, "GROWTH_PROFILE", "CSV", employeeId=oth)
    assert colleague["errors"] == [{"code": "FORBIDDEN", "field": None}]
    quiz = await _link(client, learner, "QUIZ_ITEMS", quizId="not-an-id")
    assert quiz["errors"] == [{"code": "FORBIDDEN", "field": None}]

    hr = await token_for(client, company.code, "HR1")
    mgr = to_global_id("Employee", company.employees["MGR"].id)
    team = await _link(client, hr, "TEAM", managerId=mgr)
    rows = _xlsx_rows((await client.get(team["url"])).content)
    assert [row[:2] for row in rows[1:]] == [["LRN", "李学员"]]  # MGR's one direct report
    needs = await _link(client, hr, "TRAINING_NEEDS", filter=_filter(company, scenario="安全"))
    assert needs["errors"] == [{"code": "VALIDATION", "field": "filter.scenario"}]  # skills, not courses
    no_employee = await _link(client, hr, "GROWTH_PROFILE")
    assert no_employee["errors"] == [{"code": "VALIDATION", "field": "employee"}]
