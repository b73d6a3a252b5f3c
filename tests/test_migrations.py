"""The migrations are the only way the schema is built outside tests: prove they build exactly
what the models describe, on the engine of this run, and that nothing is left un-migrated."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from tortoise.exceptions import IntegrityError

from backend.models import EmployeeSkill, Skill
from tests.conftest import _pg_admin, _server_url, _test_url, is_postgres_run
from tests.factories import make_company

EXPECTED_CHECKS = {
    "course_module_requirement",
    "course_non_negative",
    "course_skill_level_range",
    "employee_skill_level_range",
    "employee_no_upper",
    "tenant_code_lower",
    "course_module_pass_score",
    "mentorship_distinct_dates",
    "practice_log_quantity",
    "rubric_scale",
    "rubric_criterion_weight",
    "mentor_evaluation_percent",
    "position_skill_level_range",
    "skill_evidence_ranges",
}


def _snapshot(mode: str, url: str | None = None) -> object:
    args = [sys.executable, "-m", "tests.schema_snapshot", mode] + ([url] if url else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
async def two_empty_databases(tmp_path: Path, database_url: str):
    """Two empty databases on the run's engine (asking for the session's database puts the tests
    that use them in the PostgreSQL run too: see tests/conftest.py)."""
    if not is_postgres_run():
        yield f"sqlite://{tmp_path / 'migrated.sqlite3'}", f"sqlite://{tmp_path / 'generated.sqlite3'}"
        return
    names = [f"xuefen_drift_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    for name in names:
        await _pg_admin(_test_url(), f'CREATE DATABASE "{name}"')
    try:
        yield tuple(_server_url(_test_url(), name) for name in names)
    finally:
        for name in names:
            await _pg_admin(_test_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_migrations_build_exactly_the_models_schema(two_empty_databases):
    migrated_url, generated_url = two_empty_databases
    migrated = _snapshot("migrate", migrated_url)
    generated = _snapshot("generate", generated_url)
    assert set(migrated["tables"]) == set(generated["tables"])
    for table in sorted(generated["tables"]):
        assert migrated["tables"][table] == generated["tables"][table], table
    # CHECK constraints come from the migrations only (generate_schemas does not emit them).
    if is_postgres_run():
        assert set(migrated["check_names"]) >= EXPECTED_CHECKS
    else:
        check_sql = "\n".join(migrated["check_sql"])
        assert all(name in check_sql for name in EXPECTED_CHECKS)


async def test_migrations_upgrade_a_database_that_holds_data(two_empty_databases):
    database, _ = two_empty_databases
    assert _snapshot("upgrade", database) == {"tenant": 1, "employee": 1}


def test_models_have_no_unmigrated_changes():
    assert _snapshot("pending") == []


async def test_check_constraints_are_enforced_by_the_database(password_hash):
    company = await make_company(password_hash, courses=False)
    skill = await Skill.create(tenant=company.tenant, code="X", name="测试技能")
    with pytest.raises(IntegrityError):
        await EmployeeSkill.create(tenant=company.tenant, employee=company.employees["LRN"], skill=skill, level=101)
    assert await EmployeeSkill.filter(skill=skill).count() == 0


async def test_login_keys_must_be_stored_normalised(password_hash):
    company = await make_company(password_hash, courses=False)
    with pytest.raises(IntegrityError):
        await type(company.employees["LRN"]).create(
            tenant=company.tenant, employee_no="e0009", name="小写工号", password_hash="x"
        )
    with pytest.raises(IntegrityError):
        await type(company.tenant).create(code="MixedCase", name="大小写")


async def test_employee_number_is_unique_per_tenant_only(password_hash):
    first = await make_company(password_hash, courses=False)
    second = await make_company(password_hash, courses=False)  # same numbers, other tenant: fine
    assert first.employees["LRN"].employee_no == second.employees["LRN"].employee_no
    clone = first.employees["LRN"]
    with pytest.raises(IntegrityError):
        await type(clone).create(tenant=first.tenant, employee_no=clone.employee_no, name="重复", password_hash="x")


def test_run_uses_the_requested_engine(database_url):
    assert database_url.startswith("postgres" if is_postgres_run() else "sqlite")


def test_model_docstrings_keep_semicolons_out():
    """The first line of a model docstring becomes the table comment, and tortoise 1.1's SQLite
    migration executor splits statements on ";" (one there breaks every migration on SQLite)."""
    from tortoise.models import Model

    import backend.models as models

    offenders = [
        name
        for name in models.__all__
        if isinstance(getattr(models, name), type)
        and issubclass(getattr(models, name), Model)
        and ";" in (getattr(models, name).__doc__ or "").strip().splitlines()[0]
    ]
    assert offenders == []
