"""Imports and exports through the real HTTP app: startImport as a GraphQL multipart upload (httpx),
the job run in the background and read back with importJob/importJobs, template and export
downloads; and the rules of a job: dry run writes nothing, a failing run writes nothing, --partial
writes the good rows, re-import and export → import change nothing, every write audited."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import xlsxwriter

from backend.app import create_app
from backend.i18n import MESSAGES, SUPPORTED_LOCALES
from backend.ids import to_global_id
from backend.models import AuditEntry, Employee, ImportJob, ImportStatus, Site, Skill, SyncChange
from backend.services.imports import jobs, uploads
from backend.services.imports.exports import write_export, write_template
from backend.services.imports.files import FileFormat, read_table
from backend.services.imports.kinds import ImportKind, Reference
from backend.services.imports.problems import ProblemCode, problem
from backend.services.imports.registry import KINDS
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for

START = """
mutation Start($input: StartImportInput!) {
  startImport(input: $input) {
    job { id kind status fileName fileFormat dryRun partial }
    errors { code field message }
  }
}
"""
JOB = """
query Job($id: ID!) {
  importJob(id: $id) {
    id kind status fileName fileFormat dryRun partial written totalRows processedRows
    createdCount updatedCount unchangedCount skippedCount problemCount errorCode
    createdAt startedAt finishedAt createdBy { employeeNo }
    problems { row column code message }
  }
}
"""
JOBS = """
query Jobs($first: Int!, $after: String) {
  importJobs(first: $first, after: $after) {
    edges { node { id kind fileName } } pageInfo { hasNextPage endCursor } totalCount
  }
}
"""
KINDS_QUERY = "{ importKinds { name title templatePath exportPath columns { key header required description } } }"

SKILLS_ZH = "技能编码,技能名称,类别\nNEG,谈判技巧,销售\nCRM-01,客户关系管理,销售\nSAFE-02,安全生产,\n"


@pytest.fixture(scope="module")
async def app_client(database_url, test_settings, tmp_path_factory) -> Any:
    """The app with its data directory in a temporary folder."""
    data_dir = tmp_path_factory.mktemp("data")
    settings = test_settings.with_overrides(database_url=database_url, data_dir=str(data_dir))
    transport = httpx.ASGITransport(app=create_app(settings, manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://xuefen.test") as http:
        http.data_dir = data_dir  # type: ignore[attr-defined]
        yield http


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash, courses=True)


async def upload(
    client: httpx.AsyncClient,
    token: str | None,
    kind: str,
    name: str,
    content: bytes,
    *,
    dry_run: bool = False,
    partial: bool = False,
    headers: dict[str, str] | None = None,
    query: str = START,
) -> httpx.Response:
    """A GraphQL multipart request (operations, map, then the file)."""
    variables = {"input": {"kind": kind, "file": None, "dryRun": dry_run, "partial": partial}}
    form = {
        "operations": json.dumps({"query": query, "variables": variables}),
        "map": json.dumps({"0": ["variables.input.file"]}),
    }
    sent = {"GraphQL-Preflight": "1", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return await client.post("/graphql", data=form, files={"0": (name, content, "text/csv")}, headers=sent)


async def imported(client, token, kind, name, content, *, language="en", **options) -> dict[str, Any]:
    """Upload, wait for the job, and read it back."""
    response = await upload(client, token, kind, name, content, **options)
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["startImport"]
    assert payload["errors"] == [], payload
    assert payload["job"]["status"] == "QUEUED" and payload["job"]["kind"] == kind
    await uploads.wait_for_jobs()
    body = await gql(client, JOB, {"id": payload["job"]["id"]}, token=token, language=language)
    assert "errors" not in body, body
    return body["data"]["importJob"]


async def stored_files(folder: Path) -> list[Path]:
    return await asyncio.to_thread(lambda: [p for p in Path(folder).rglob("*") if p.is_file()])


def counts(job: dict[str, Any]) -> tuple[int, int, int, int]:
    return job["createdCount"], job["updatedCount"], job["unchangedCount"], job["skippedCount"]


def problems(job: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(p["row"], p["column"], p["code"]) for p in job["problems"]]


async def skill_codes(company: Company) -> list[str]:
    return sorted(await Skill.filter(tenant_id=company.tenant.id).values_list("code", flat=True))


async def import_audits(company: Company) -> list[AuditEntry]:
    return await AuditEntry.filter(tenant_id=company.tenant.id, action__startswith="import.").order_by("id")


def xlsx(rows: list[list[Any]]) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, int | float):
                sheet.write_number(r, c, value)
            elif value is not None:
                sheet.write_string(r, c, value)
    workbook.close()
    return buffer.getvalue()


# --- the kinds ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KINDS))
async def test_every_kind_has_columns_messages_a_template_and_an_export(name, tmp_path, password_hash):
    kind: ImportKind[Any] = KINDS[name]
    assert kind.name == name and kind.title_zh and kind.title_en and kind.entity
    keys = [column.key for column in kind.columns]
    assert kind.key_column in keys and len(set(keys)) == len(keys)
    for column in kind.columns:
        assert column.zh and column.en and column.description_zh and column.description_en, column
    for locale in SUPPORTED_LOCALES:
        for fmt in FileFormat:
            path = tmp_path / f"{name}-{locale}.{fmt.value}"
            write_template(kind, path, fmt, locale)
            assert list(read_table(path)) == [(1, [column.header(locale) for column in kind.columns])]
    company = await make_company(password_hash, courses=True)
    exported = tmp_path / f"{name}.csv"
    written = await write_export(kind, company.tenant.id, exported, FileFormat.CSV, "zh-CN")
    assert next(iter(read_table(exported))) == (1, [column.zh for column in kind.columns])
    assert len(list(read_table(exported))) == written + 1
    for code in ("create", "update"):  # the audit actions name the entity
        assert f"import.{kind.entity.lower()}.{code}".count(".") == 2
    assert all(f"import.problem.{code}" in MESSAGES for code in ProblemCode)


async def test_import_kinds_lists_columns_in_the_callers_language(app_client, company):
    token = await token_for(app_client, company.code, "HR1")
    kinds = (await gql(app_client, KINDS_QUERY, token=token, language="en"))["data"]["importKinds"]
    skills = next(kind for kind in kinds if kind["name"] == "skills")
    assert skills["title"] == "Skills" and skills["templatePath"] == "/imports/templates/skills.xlsx"
    assert [(c["key"], c["header"], c["required"]) for c in skills["columns"]] == [
        ("code", "Code", True),
        ("name", "Name", True),
        ("category", "Category", False),
    ]
    zh = (await gql(app_client, KINDS_QUERY, token=token))["data"]["importKinds"]
    assert next(k for k in zh if k["name"] == "skills")["columns"][0]["header"] == "技能编码"


# --- a job's rules --------------------------------------------------------------------------------


async def test_gbk_upload_creates_and_the_same_file_again_changes_nothing(app_client, company):
    token = await token_for(app_client, company.code, "HR1")
    content = SKILLS_ZH.encode("gbk")
    job = await imported(app_client, token, "skills", "技能.csv", content)
    assert (job["status"], job["written"], job["fileName"], job["fileFormat"]) == ("DONE", True, "技能.csv", "csv")
    assert counts(job) == (2, 0, 1, 0) and job["problems"] == [] and job["problemCount"] == 0
    assert (job["totalRows"], job["processedRows"], job["createdBy"]) == (3, 3, {"employeeNo": "HR1"})
    assert job["startedAt"] and job["finishedAt"] and job["errorCode"] is None
    assert await skill_codes(company) == ["CRM-01", "NEG", "SAFE", "SAFE-02"]
    created = await Skill.get(tenant_id=company.tenant.id, code="CRM-01")
    assert (created.name, created.category) == ("客户关系管理", "销售")

    audits = await import_audits(company)
    job_id = (await ImportJob.filter(tenant_id=company.tenant.id).order_by("-id").first()).id
    assert [(a.action, a.entity, a.actor_id) for a in audits] == [
        ("import.skill.create", "Skill", company.employees["HR1"].id)
    ] * 2
    assert audits[0].details == {
        "before": None,
        "after": {"code": "CRM-01", "name": "客户关系管理", "category": "销售"},
        "importJob": job_id,
        "via": "graphql",
    }
    assert audits[0].entity_id == str(created.id)

    again = await imported(app_client, token, "skills", "技能.csv", content)
    assert counts(again) == (0, 0, 3, 0) and again["written"]
    assert len(await import_audits(company)) == 2  # nothing new to audit


async def test_dry_run_checks_everything_and_writes_nothing(app_client, company):
    token = await token_for(app_client, company.code, "HR1")
    before = (await Skill.filter(tenant_id=company.tenant.id).count(), await AuditEntry.all().count())
    job = await imported(app_client, token, "skills", "s.csv", SKILLS_ZH.encode(), dry_run=True)
    assert (job["status"], job["dryRun"], job["written"]) == ("DONE", True, False)
    assert counts(job) == (2, 0, 1, 0)  # what a real run would do
    assert (await Skill.filter(tenant_id=company.tenant.id).count(), await AuditEntry.all().count()) == before


# The write pass takes the rows the check kept, or (a file longer than kept_rows) reads it again.
@pytest.mark.parametrize("kept_rows", [100_000, 2])
async def test_one_bad_row_refuses_the_file_and_partial_writes_the_rest(app_client, company, monkeypatch, kept_rows):
    monkeypatch.setattr(type(KINDS["skills"]), "kept_rows", kept_rows)
    token = await token_for(app_client, company.code, "HR1")
    content = (
        "Code,Name,Category\nNEW-1,One,\nbad code,Two,\nNEW-3,,\nNEW-1,Again,\nNEW-4," + "x" * 201 + ",\n"
    ).encode()
    job = await imported(app_client, token, "skills", "s.csv", content)
    assert (job["status"], job["written"], job["problemCount"]) == ("DONE", False, 4)
    assert problems(job) == [
        (3, "Code", "CODE_CHARS"),
        (4, "Name", "REQUIRED"),
        (5, "Code", "DUPLICATE_KEY"),
        (6, "Name", "TOO_LONG"),
    ]
    assert job["problems"][2]["message"] == "NEW-1 repeats row 2"
    assert "[A-Z0-9]" in job["problems"][0]["message"]  # the expected pattern is shown
    assert await skill_codes(company) == ["NEG", "SAFE"]  # nothing written
    assert await import_audits(company) == []

    zh = (await gql(app_client, JOB, {"id": job["id"]}, token=token))["data"]["importJob"]
    assert zh["problems"][2]["message"] == "NEW-1 与第 2 行重复"

    partial = await imported(app_client, token, "skills", "s.csv", content, partial=True)
    assert (partial["written"], counts(partial), partial["problemCount"]) == (True, (1, 0, 0, 4), 4)
    assert await skill_codes(company) == ["NEG", "NEW-1", "SAFE"]


async def test_xlsx_sites_with_english_headers_replace_the_headquarters(app_client, company):
    token = await token_for(app_client, company.code, "HR1")
    rows = [
        ["Headquarters", "Code", "Name", "Latitude", "Longitude", "Time zone", "Address"],
        ["yes", "SH-2", "上海新总部", 31.2304, 121.4737, None, "上海市浦东新区"],
        [None, "URC", "乌鲁木齐分公司", None, None, "Asia/Urumqi", None],
        [None, "BAD-1", "坏坐标", 1e30, 121, None, None],
        [None, "BAD-2", "全角", "３１", "121", None, None],
        [None, "BAD-3", "一半", 31.2, None, None, None],
        [None, "BAD-4", "时区", None, None, "Mars/Base", None],
    ]
    job = await imported(app_client, token, "sites", "sites.xlsx", xlsx(rows), partial=True)
    assert job["fileFormat"] == "xlsx"
    assert problems(job) == [
        (4, "Latitude", "LATITUDE"),
        (5, "Latitude", "LATITUDE"),
        (6, "Longitude", "COORDINATES_PAIR"),
        (7, "Time zone", "TIME_ZONE"),
    ]
    # SH-2 created as the headquarters, URC renamed, HQ no longer the headquarters (not in the file).
    assert counts(job) == (1, 2, 0, 4)
    sites = {s.code: s for s in await Site.filter(tenant_id=company.tenant.id)}
    assert (sites["SH-2"].is_headquarters, sites["SH-2"].time_zone) == (True, "Asia/Shanghai")
    assert (sites["SH-2"].latitude, sites["SH-2"].longitude, sites["SH-2"].address) == (
        31.2304,
        121.4737,
        "上海市浦东新区",
    )
    assert not sites["HQ"].is_headquarters and sites["URC"].name == "乌鲁木齐分公司"
    audits = {(a.action, a.entity_id): a.details for a in await import_audits(company)}
    former = audits[("import.site.update", str(sites["HQ"].id))]
    assert (former["before"]["isHeadquarters"], former["after"]["isHeadquarters"]) == (True, False)
    # URC's new name reaches the phones of the people working there (their profile shows it).
    learner = company.employees["LRN"]
    assert await SyncChange.filter(tenant_id=company.tenant.id, entity="PROFILE", entity_id=str(learner.id)).exists()


async def test_two_headquarters_in_one_file_and_unknown_columns_are_problems(app_client, company):
    token = await token_for(app_client, company.code, "HR1")
    content = "地点编码,地点名称,是否总部,备注\nA-1,甲,是,x\nB-1,乙,是,y\n".encode("utf-8-sig")
    job = await imported(app_client, token, "sites", "s.csv", content, language="zh-CN")
    assert problems(job) == [(1, "备注", "UNKNOWN_COLUMN"), (3, "是否总部", "DUPLICATE_HEADQUARTERS")]
    assert job["problems"][1]["message"] == "公司只能有一个总部，第 2 行已是总部"
    assert not job["written"] and not await Site.filter(tenant_id=company.tenant.id, code="A-1").exists()


async def test_rare_characters_in_gb18030_and_utf8_without_bom(app_client, company):
    token = await token_for(app_client, company.code, "HR1")
    for encoding, code in (("gb18030", "RARE-1"), ("utf-8", "RARE-2")):
        content = f"技能编码,技能名称\n{code},生僻字𠀀㐀\n".encode(encoding)
        job = await imported(app_client, token, "skills", f"{encoding}.csv", content)
        assert counts(job) == (1, 0, 0, 0), job
        assert (await Skill.get(tenant_id=company.tenant.id, code=code)).name == "生僻字𠀀㐀"


async def test_export_then_import_changes_nothing_in_both_formats(app_client, company):
    token = await token_for(app_client, company.code, "HR1")
    await imported(
        app_client, token, "sites", "s.csv", "Code,Name,Latitude,Longitude\nGZ,广州,23.1291,113.2644\n".encode()
    )
    for kind in ("skills", "sites"):
        for fmt in ("xlsx", "csv"):
            response = await app_client.get(f"/exports/{kind}.{fmt}", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
            assert response.headers["cache-control"] == "no-store"
            assert f"{kind}.{fmt}" in response.headers["content-disposition"]
            job = await imported(app_client, token, kind, f"export.{fmt}", response.content)
            total = await (Skill if kind == "skills" else Site).filter(tenant_id=company.tenant.id).count()
            assert counts(job) == (0, 0, total, 0) and job["problems"] == [], (kind, fmt, job)


async def test_template_downloads_in_either_language(app_client, company):
    token = await token_for(app_client, company.code, "HR1")
    headers = {"Authorization": f"Bearer {token}"}
    csv_template = await app_client.get("/imports/templates/sites.csv?locale=en", headers=headers)
    assert csv_template.status_code == 200 and csv_template.headers["content-type"].startswith("text/csv")
    assert csv_template.content.decode("utf-8-sig").splitlines() == [
        "Code,Name,Address,Latitude,Longitude,Time zone,Headquarters"
    ]
    workbook = await app_client.get("/imports/templates/skills.xlsx", headers=headers)
    assert workbook.status_code == 200 and workbook.content.startswith(b"PK")
    job = await imported(app_client, token, "skills", "template.xlsx", workbook.content)
    assert (job["totalRows"], job["problems"]) == (0, [])  # an empty template is a valid file


@pytest.mark.parametrize(
    ("path", "who", "status"),
    [
        ("/exports/skills.xlsx", None, 401),
        ("/exports/skills.xlsx", "LRN", 403),
        ("/imports/templates/skills.csv", "MGR", 403),
        ("/exports/nothing.xlsx", "HR1", 404),
        ("/exports/skills.pdf", "HR1", 404),
    ],
)
async def test_downloads_are_for_hr_admins(app_client, company, path, who, status):
    headers = {"Authorization": f"Bearer {await token_for(app_client, company.code, who)}"} if who else {}
    response = await app_client.get(path, headers=headers)
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] in ("UNAUTHENTICATED", "FORBIDDEN", "VALIDATION")


# --- the upload: who, how and how big -------------------------------------------------------------


@pytest.mark.parametrize("who", ["LRN", "MGR"])
async def test_only_hr_admins_upload_refused_before_the_file_is_read(app_client, company, who):
    token = await token_for(app_client, company.code, who)
    response = await upload(app_client, token, "skills", "s.csv", SKILLS_ZH.encode())
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # The same mutation sent as JSON (no file) meets the role check first too.
    body = await gql(app_client, START, {"input": {"kind": "skills", "file": "x"}}, token=token)
    assert [e["code"] for e in body["data"]["startImport"]["errors"]] == ["FORBIDDEN"]
    assert not await ImportJob.filter(tenant_id=company.tenant.id).exists()
    anonymous = await upload(app_client, None, "skills", "s.csv", b"x")
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_upload_needs_the_preflight_header_and_may_run_only_start_import(app_client, company):
    token = await token_for(app_client, company.code, "HR1")
    no_header = await upload(app_client, token, "skills", "s.csv", b"x", headers={"GraphQL-Preflight": ""})
    assert no_header.status_code == 400 and "GraphQL-Preflight" in no_header.json()["errors"][0]["message"]
    other = await upload(app_client, token, "skills", "s.csv", b"x", query="mutation { logout { errors { code } } }")
    assert other.status_code == 400
    assert other.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION"
    json_file = await gql(app_client, START, {"input": {"kind": "skills", "file": "not a file"}}, token=token)
    assert [(e["code"], e["field"]) for e in json_file["data"]["startImport"]["errors"]] == [
        ("VALIDATION", "input.file")
    ]


async def test_unknown_kind_and_unreadable_files_are_refused_at_once_without_a_job(app_client, company):
    token = await token_for(app_client, company.code, "HR1")
    kind = (await upload(app_client, token, "people", "s.csv", b"a,b\n")).json()["data"]["startImport"]
    assert [(e["code"], e["field"]) for e in kind["errors"]] == [("VALIDATION", "input.kind")]
    junk = await upload(app_client, token, "skills", "s.xlsx", bytes(range(256)) * 8, headers={"Accept-Language": "en"})
    errors = junk.json()["data"]["startImport"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("IMPORT_FILE_UNREADABLE", "file")]
    assert "neither a CSV nor an XLSX" in errors[0]["message"]
    no_header = await imported(app_client, token, "skills", "s.csv", b"x,y\n1,2\n")
    assert (no_header["status"], no_header["errorCode"]) == ("FAILED", "IMPORT_FILE_UNREADABLE")
    assert "the first row must name the columns" in no_header["problems"][0]["message"]
    assert not await ImportJob.filter(tenant_id=company.tenant.id, kind="people").exists()
    assert await stored_files(app_client.data_dir) == []  # files live only while their job runs


async def test_uploads_past_the_limit_are_refused(database_url, test_settings, tmp_path, company):
    # The request bound is the larger of the import and media limits (+ 1 MiB): both small here.
    settings = test_settings.with_overrides(
        database_url=database_url, data_dir=str(tmp_path), import_max_bytes=1000, media_max_bytes=1000
    )
    transport = httpx.ASGITransport(app=create_app(settings, manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as small:
        token = await token_for(small, company.code, "HR1")
        payload = (await upload(small, token, "skills", "s.csv", b"a" * 5000)).json()["data"]["startImport"]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("PAYLOAD_TOO_LARGE", "input.file")]
        huge = await upload(small, token, "skills", "s.csv", b"a" * (2 * 1024 * 1024))
        assert huge.status_code == 413 and huge.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert not await ImportJob.filter(tenant_id=company.tenant.id).exists()
    assert await stored_files(tmp_path) == []


# --- jobs: reading them, progress, interrupted ones -----------------------------------------------


async def test_jobs_are_listed_newest_first_and_other_companies_jobs_look_missing(app_client, company, password_hash):
    token = await token_for(app_client, company.code, "HR1")
    first = await imported(app_client, token, "skills", "one.csv", SKILLS_ZH.encode())
    second = await imported(app_client, token, "skills", "two.csv", SKILLS_ZH.encode(), dry_run=True)
    page = (await gql(app_client, JOBS, {"first": 1}, token=token))["data"]["importJobs"]
    assert [e["node"]["fileName"] for e in page["edges"]] == ["two.csv"] and page["totalCount"] == 2
    rest = await gql(app_client, JOBS, {"first": 5, "after": page["pageInfo"]["endCursor"]}, token=token)
    assert [e["node"]["id"] for e in rest["data"]["importJobs"]["edges"]] == [first["id"]]
    assert second["id"] != first["id"]
    other = await make_company(password_hash, courses=False)
    other_token = await token_for(app_client, other.code, "HR1")
    missing = await gql(app_client, JOB, {"id": first["id"]}, token=other_token)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    listed = await gql(app_client, JOBS, {"first": 5}, token=other_token)
    assert listed["data"]["importJobs"]["totalCount"] == 0


async def test_progress_is_saved_while_checking_and_reported_to_the_observer(company, tmp_path, monkeypatch):
    path = tmp_path / "many.csv"
    path.write_text("Code,Name\n" + "".join(f"P-{i:04d},技能 {i}\n" for i in range(350)), encoding="utf-8")
    saved: list[tuple[int | None, int | None]] = []
    original = jobs._save

    in_transaction: list[object] = []

    async def spy(job, connection, **changes):
        if "processed_rows" in changes and "status" not in changes:
            saved.append((changes["processed_rows"], changes["total_rows"]))
            if connection.capabilities.dialect == "postgres":  # seen by others at once, not at the commit
                rows = await connection.execute_query_dict("SELECT txid_current_if_assigned() AS t")
                in_transaction.append(rows[0]["t"])
        await original(job, connection, **changes)

    monkeypatch.setattr(jobs, "PROGRESS_EVERY", 100)
    monkeypatch.setattr(jobs, "_save", spy)
    seen: list[tuple[str, int, int | None]] = []
    job = await jobs.create_job(
        company.tenant.id, KINDS["skills"], path, "many.csv", dry_run=False, partial=False, actor_id=None
    )
    done = await jobs.run_job(job, path, via="cli", locale="en", observer=jobs.Observer(lambda *p: seen.append(p)))
    assert (done.status, done.created_count, done.total_rows, done.processed_rows) == (ImportStatus.DONE, 350, 350, 350)
    assert saved[:3] == [(100, None), (200, None), (300, None)]  # while the file is checked
    if in_transaction:  # PostgreSQL: while it is written too (SQLite's one writer is the job's transaction)
        assert (101, 350) in saved and in_transaction == [None] * len(saved)
    assert seen[0] == ("check", 1, None) and seen[-1] == ("write", 350, 350)
    audits = await AuditEntry.filter(tenant_id=company.tenant.id, action="import.skill.create").count()
    assert audits == 350
    assert (await AuditEntry.filter(tenant_id=company.tenant.id, action="import.skill.create").first()).details[
        "via"
    ] == "cli"


async def test_a_job_whose_process_died_is_marked_failed(app_client, company):
    token = await token_for(app_client, company.code, "HR1")
    old = datetime.now(UTC) - jobs.STALE_AFTER - timedelta(minutes=1)
    dead = await ImportJob.create(
        tenant_id=company.tenant.id, kind="skills", file_name="dead.csv", file_format="csv", status=ImportStatus.RUNNING
    )
    alive = await ImportJob.create(
        tenant_id=company.tenant.id,
        kind="skills",
        file_name="alive.csv",
        file_format="csv",
        status=ImportStatus.RUNNING,
    )
    await ImportJob.filter(id=dead.id).update(updated_at=old)
    body = await gql(app_client, JOB, {"id": to_global_id("ImportJob", dead.id)}, token=token, language="en")
    job = body["data"]["importJob"]
    assert (job["status"], job["errorCode"], job["written"]) == ("FAILED", "INTERRUPTED", False)
    assert "interrupted" in job["problems"][0]["message"]
    assert (await ImportJob.get(id=alive.id)).status is ImportStatus.RUNNING


async def test_an_unexpected_error_fails_the_job_and_writes_nothing(company, tmp_path, monkeypatch):
    path = tmp_path / "s.csv"
    path.write_text("Code,Name\nBOOM-1,x\n", encoding="utf-8")

    async def broken(self, run):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(type(KINDS["skills"]), "finish", broken)
    job = await jobs.create_job(
        company.tenant.id, KINDS["skills"], path, "s.csv", dry_run=False, partial=False, actor_id=None
    )
    done = await jobs.run_job(job, path, via="cli", locale="en")
    assert (done.status, done.error_code, done.written) == (ImportStatus.FAILED, "INTERNAL", False)
    assert not await Skill.filter(tenant_id=company.tenant.id, code="BOOM-1").exists()
    assert await Employee.filter(tenant_id=company.tenant.id).exists()


# --- the framework's references, for the kinds that name other rows --------------------------------


class _ParentedSkills(KINDS["skills"].__class__):
    """Skills whose category names a parent skill (a stand-in for org units and managers)."""

    name = "parented"

    def references(self, row):
        return [Reference("category", "parented", row.category)] if row.category else []

    def note(self, checked, number, row):
        checked.notes.setdefault("parents", {})[row.code] = (number, row.category)

    async def check_file(self, checked, context):
        await super().check_file(checked, context)
        parents = checked.notes.get("parents", {})
        for code, (number, _) in parents.items():
            seen, at = set(), code
            while at in parents and at not in seen:
                seen.add(at)
                at = parents[at][1]
            if at == code:
                checked.problems.add(
                    problem(number, "Category", ProblemCode.CYCLE, value=code, what_key="subject.skill")
                )


async def test_references_unknown_ones_cycles_and_rows_depending_on_bad_rows(company, tmp_path, monkeypatch):
    monkeypatch.setitem(KINDS, "parented", _ParentedSkills())
    path = tmp_path / "tree.csv"
    rows = [
        "A-1,root,NEG",  # 2: parent in the company
        "B-1,child,A-1",  # 3: parent in the file
        "C-1,orphan,NOPE",  # 4: UNKNOWN_REFERENCE
        "D-1,under orphan,C-1",  # 5: DEPENDS_ON_BAD_ROW (row 4)
        "E-1,deeper,D-1",  # 6: DEPENDS_ON_BAD_ROW (row 5)
        "F-1,loop,G-1",  # 7: CYCLE
        "G-1,loop,F-1",  # 8: CYCLE
        "bad,bad code,",  # 9: CODE_CHARS
        "H-1,under bad,bad",  # 10: DEPENDS_ON_BAD_ROW (row 9)
    ]
    path.write_text("Code,Name,Category\n" + "\n".join(rows) + "\n", encoding="utf-8")
    job = await jobs.create_job(
        company.tenant.id, KINDS["parented"], path, "t.csv", dry_run=False, partial=True, actor_id=None
    )
    done = await jobs.run_job(job, path, via="cli", locale="en")
    found = sorted((p["row"], p["code"]) for p in done.problems)
    assert found == [
        (4, "UNKNOWN_REFERENCE"),
        (5, "DEPENDS_ON_BAD_ROW"),
        (6, "DEPENDS_ON_BAD_ROW"),
        (7, "CYCLE"),
        (8, "CYCLE"),
        (9, "CODE_CHARS"),
        (10, "DEPENDS_ON_BAD_ROW"),
    ]
    messages = {p["row"]: p["messages"]["en"] for p in done.problems}
    assert messages[4] == "NOPE is neither in the file nor in the company"
    assert messages[5] == "C-1 is on row 4, which has problems; this row goes with it"
    assert messages[7] == "F-1 would create a cycle (skill)"
    assert (done.written, done.created_count, done.skipped_count) == (True, 2, 7)
    assert await skill_codes(company) == ["A-1", "B-1", "NEG", "SAFE"]
