"""`xuefen import`, `xuefen import template` and `xuefen export` as IT runs them: exit codes, the
summary and problem table, the --report CSV, and what reached the database. Commands that open the
database run as a subprocess on the session's database (as tests/test_tenant_cli.py does: the
command opens and closes its own connections); the ones that need none run `backend.cli.main`."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from backend.cli import main
from backend.models import AuditEntry, ImportJob, Skill
from backend.services.imports.files import read_table
from tests.factories import Company, make_company
from tests.test_tenant_cli import xuefen


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash, courses=True)


def skills_file(tmp_path: Path, rows: list[str], name: str = "skills.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text("技能编码,技能名称,类别\n" + "".join(f"{row}\n" for row in rows), encoding=encoding)
    return path


async def codes(company: Company) -> list[str]:
    return sorted(await Skill.filter(tenant_id=company.tenant.id).values_list("code", flat=True))


async def test_dry_run_then_import_then_the_same_file_again(company, database_url, test_settings, tmp_path):
    path = skills_file(tmp_path, ["NEG,谈判技巧,销售", "CRM-01,客户关系管理,销售"], encoding="gbk")
    tenant = ("--tenant", company.code)
    dry = xuefen(database_url, test_settings, "import", "skills", str(path), "--dry-run", *tenant)
    assert dry.returncode == 0, dry.stderr
    assert "Skills: 2 rows; 1 created, 0 updated, 1 unchanged, 0 skipped" in dry.stdout
    assert "Dry run: everything was checked, nothing was written." in dry.stdout
    assert await codes(company) == ["NEG", "SAFE"]

    done = xuefen(database_url, test_settings, "import", "skills", str(path), *tenant)
    job = await ImportJob.filter(tenant_id=company.tenant.id).order_by("-id").first()
    assert done.returncode == 0 and f"Written (job {job.id})." in done.stdout, done.stdout
    assert done.stderr == ""  # no progress bar without a terminal
    assert await codes(company) == ["CRM-01", "NEG", "SAFE"]
    audit = await AuditEntry.get(tenant_id=company.tenant.id, action="import.skill.create")
    assert audit.actor_id is None and audit.details["via"] == "cli" and audit.details["importJob"] == job.id

    again = xuefen(database_url, test_settings, "import", "skills", str(path), *tenant, language="zh_CN.UTF-8")
    assert again.returncode == 0
    assert "技能：共 2 行；新建 0，更新 0，未变 2，跳过 0" in again.stdout
    assert "文件与公司现有数据一致，没有任何更改。" in again.stdout
    assert await AuditEntry.filter(tenant_id=company.tenant.id, action__startswith="import.").count() == 1


async def test_problems_exit_1_and_write_nothing_partial_writes_the_good_rows(
    company, database_url, test_settings, tmp_path
):
    rows = ["GOOD-1,好的,", *(f"bad {i},坏的," for i in range(25)), "GOOD-1,重复,"]
    path = skills_file(tmp_path, rows)
    report = tmp_path / "problems.csv"
    tenant = ("--tenant", company.code)
    refused = xuefen(database_url, test_settings, "import", "skills", str(path), *tenant, "--report", str(report))
    assert refused.returncode == 1
    assert "Problems found, nothing was written" in refused.stdout
    assert "Problems (26):" in refused.stdout and "… and 6 more" in refused.stdout
    assert "CODE_CHARS" in refused.stdout and f"Problems written to {report}" in refused.stdout
    with report.open(encoding="utf-8-sig", newline="") as stream:
        listed = list(csv.reader(stream))
    assert listed[0] == ["Row", "Column", "Code", "Message"] and len(listed) == 27  # every problem
    assert listed[-1][:3] == ["28", "技能编码", "DUPLICATE_KEY"]
    assert await codes(company) == ["NEG", "SAFE"]

    partial = xuefen(database_url, test_settings, "import", "skills", str(path), *tenant, "--partial")
    assert partial.returncode == 0 and "1 created, 0 updated, 0 unchanged, 26 skipped" in partial.stdout
    assert await codes(company) == ["GOOD-1", "NEG", "SAFE"]


async def test_export_then_import_changes_nothing(company, database_url, test_settings, tmp_path):
    for fmt in ("csv", "xlsx"):
        output = tmp_path / f"sites.{fmt}"
        exported = xuefen(
            database_url,
            test_settings,
            "export",
            "sites",
            "--tenant",
            company.code,
            "--format",
            fmt,
            "--output",
            str(output),
        )
        assert exported.returncode == 0 and f"Exported 2 rows to {output}" in exported.stdout, exported.stderr
        again = xuefen(database_url, test_settings, "import", "sites", str(output), "--tenant", company.code)
        assert again.returncode == 0 and "0 created, 0 updated, 2 unchanged, 0 skipped" in again.stdout, again.stdout


async def test_a_company_must_be_named_when_there_are_several(company, database_url, test_settings, tmp_path):
    await make_company("unused-hash", courses=False)  # at least two companies
    path = skills_file(tmp_path, ["A-1,甲,"])
    unnamed = xuefen(database_url, test_settings, "import", "skills", str(path))
    assert unnamed.returncode == 2 and "name one with --tenant CODE" in unnamed.stderr
    unknown = xuefen(database_url, test_settings, "export", "skills", "--tenant", "nobody-here", "--output", "x.csv")
    assert unknown.returncode == 2 and "no company has the code nobody-here" in unknown.stderr


def test_unreadable_files_and_usage_errors_exit_2(tmp_path, capsys):
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(bytes(range(256)) * 4)
    assert main(["import", "skills", str(junk), "--locale", "en"]) == 2
    assert "neither a CSV nor an XLSX" in capsys.readouterr().err
    assert main(["import", "people", str(junk), "--locale", "en"]) == 2
    assert "must be one of the import kinds: sites, skills" in capsys.readouterr().err
    assert main(["import", "skills", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["import", "skills"])
    assert usage.value.code == 2 and "FILE is required" in capsys.readouterr().err


def test_templates_are_written_without_a_database(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["import", "template", "sites", "--format", "csv", "--locale", "en"]) == 0
    assert "Template written to sites-template.csv" in capsys.readouterr().out
    assert list(read_table(tmp_path / "sites-template.csv")) == [
        (1, ["Code", "Name", "Address", "Latitude", "Longitude", "Time zone", "Headquarters"])
    ]
    output = tmp_path / "技能模板.xlsx"
    assert main(["import", "template", "skills", "--output", str(output), "--locale", "zh-CN"]) == 0
    assert list(read_table(output)) == [(1, ["技能编码", "技能名称", "类别"])]
