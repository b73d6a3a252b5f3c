"""`xuefen tenant create` and `xuefen tenant activation-code` as a customer's IT runs them (a
subprocess on the session's database), then the printed code through the real API: the first HR
admin activates once and signs in with the new password."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from typing import Any

from backend.config import Settings
from backend.models import ActivationCode, AuditEntry, CreditProgram, Employee, EmployeeRole, OrgUnit, Tenant
from backend.services.imports.files import read_table
from tests.graphql_client import gql, login

ADMIN_PASSWORD = "首位管理员-Secure-2026"
CODE_LINE = re.compile(r"^Activation code: ([2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4})$", re.MULTILINE)

ACTIVATE = """
mutation Activate($input: ActivateAccountInput!) {
  activateAccount(input: $input) {
    tokens { accessToken viewer { employeeNo name roles } }
    errors { code field message }
  }
}
"""


def xuefen(
    database_url: str, settings: Settings, *args: str, language: str = "C.UTF-8"
) -> subprocess.CompletedProcess[str]:
    """Run the xuefen command on the session's database, with the suite's secret key (codes are
    keyed by it) and only warnings logged."""
    env = {
        **os.environ,
        "XUEFEN_DATABASE_URL": database_url,
        "XUEFEN_SECRET_KEY": settings.secret_key,
        "XUEFEN_LOG_LEVEL": "WARNING",
        "LANG": language,
        "LC_ALL": "",
        "LC_MESSAGES": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def new_code() -> str:
    return f"co-{uuid.uuid4().hex[:10]}"


def create(database_url: str, settings: Settings, code: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return xuefen(
        database_url,
        settings,
        "tenant",
        "create",
        code,
        "--name",
        "示例制造有限公司",
        "--time-zone",
        "Asia/Urumqi",
        "--admin",
        "a-0001",
        *extra,
    )


def printed_code(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    match = CODE_LINE.search(done.stdout)
    assert match, done.stdout
    return match.group(1)


async def activate(client, tenant: str, employee_no: str, code: str, device_id: str = "admin-phone") -> dict[str, Any]:
    variables = {
        "input": {
            "tenant": tenant,
            "employeeNo": employee_no,
            "code": code,
            "newPassword": ADMIN_PASSWORD,
            "deviceId": device_id,
        }
    }
    body = await gql(client, ACTIVATE, variables)
    assert "errors" not in body, body
    return body["data"]["activateAccount"]


async def test_create_makes_a_company_and_its_first_admin_who_activates_once(client, database_url, test_settings):
    code = new_code()
    done = create(database_url, test_settings, code.upper(), "--admin-name", "王人事")
    activation = printed_code(done)
    assert not re.search(r"(?im)^\s*password\s*:", done.stdout)  # a code, never a password
    assert f"company {code}" in done.stdout and "A-0001" in done.stdout

    tenant = await Tenant.get(code=code)  # stored lower-case
    assert (tenant.name, tenant.time_zone) == ("示例制造有限公司", "Asia/Urumqi")
    assert (tenant.password_min_length, tenant.password_letters_and_digits) == (10, False)
    assert (await CreditProgram.get(tenant_id=tenant.id)).time_zone == "Asia/Urumqi"
    admin = await Employee.get(tenant_id=tenant.id)
    assert (admin.employee_no, admin.name, admin.password_hash, admin.is_active) == ("A-0001", "王人事", "", True)
    roles = sorted(await EmployeeRole.filter(employee_id=admin.id).values_list("role", flat=True))
    assert roles == ["EMPLOYEE", "HR_ADMIN"]
    stored = await ActivationCode.get(employee_id=admin.id)
    assert stored.issued_by_id is None and activation.replace("-", "") not in stored.code_hash

    # No password works before the activation.
    assert [e["code"] for e in (await login(client, code, "A-0001", "anything-at-all-1"))["errors"]] == [
        "INVALID_CREDENTIALS"
    ]
    payload = await activate(client, code, "a-0001", activation)
    assert payload["errors"] == [], payload
    assert payload["tokens"]["viewer"] == {"employeeNo": "A-0001", "name": "王人事", "roles": ["EMPLOYEE", "HR_ADMIN"]}
    assert (await login(client, code, "A-0001", ADMIN_PASSWORD))["errors"] == []
    again = await activate(client, code, "A-0001", activation, "another-phone")
    assert [e["code"] for e in again["errors"]] == ["ACTIVATION_CODE_INVALID"]

    actions = await AuditEntry.filter(tenant_id=tenant.id).order_by("id").values_list("action", "actor_id")
    assert [action for action in actions if action[0].startswith(("tenant.", "account."))] == [
        ("tenant.create", None),
        ("account.activation_code.issue", None),
        ("account.activate", admin.id),
    ]
    details = str(await AuditEntry.filter(tenant_id=tenant.id).values_list("details", flat=True))
    assert activation not in details and activation.replace("-", "") not in details and ADMIN_PASSWORD not in details


async def test_a_taken_code_is_refused_in_one_line(database_url, test_settings):
    code = new_code()
    printed_code(create(database_url, test_settings, code))
    done = create(database_url, test_settings, code)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"xuefen: Invalid input: the company code {code} is already taken\n"
    assert await Tenant.filter(code=code).count() == 1
    zh = xuefen(
        database_url,
        test_settings,
        "tenant",
        "create",
        code,
        "--name",
        "重复",
        "--time-zone",
        "UTC",
        "--admin",
        "B1",
        language="zh_CN.UTF-8",
    )
    assert zh.returncode == 1 and zh.stderr == f"xuefen: 输入无效：企业代码 {code} 已被使用\n"


async def test_a_bad_time_zone_or_employee_number_or_code_is_refused_in_one_line(database_url, test_settings):
    code = new_code()
    cases = [
        (("--time-zone", "Mars/Olympus"), "the time zone must be an IANA time zone name"),
        (("--time-zone", "../../etc/passwd"), "the time zone must be an IANA time zone name"),
        (("--admin", "张 三"), "the employee number must be 1 to 32 letters"),
    ]
    for (option, value), message in cases:
        args = ["tenant", "create", code, "--name", "X", "--time-zone", "UTC", "--admin", "A1"]
        args[args.index(option) + 1] = value
        done = xuefen(database_url, test_settings, *args)
        assert done.returncode == 1, done
        assert done.stderr.startswith("xuefen: Invalid input: " + message) and done.stderr.count("\n") == 1
    bad_code = create(database_url, test_settings, "acme_ltd")
    assert bad_code.returncode == 1 and "the company code must be 2 to 64" in bad_code.stderr
    assert not await Tenant.filter(code=code).exists()


async def test_activation_code_command_gives_a_new_code_and_voids_the_old(client, database_url, test_settings):
    code = new_code()
    first = printed_code(create(database_url, test_settings, code))
    second = printed_code(xuefen(database_url, test_settings, "tenant", "activation-code", code, "a-0001"))
    assert first != second
    assert [e["code"] for e in (await activate(client, code, "A-0001", first))["errors"]] == ["ACTIVATION_CODE_INVALID"]
    assert (await activate(client, code, "A-0001", second))["errors"] == []

    missing = xuefen(database_url, test_settings, "tenant", "activation-code", code, "nobody")
    assert missing.returncode == 1 and missing.stderr == f"xuefen: no active employee nobody in company {code}.\n"


async def test_activation_codes_for_everyone_imported_come_in_one_file(client, database_url, test_settings, tmp_path):
    """After an import nobody has a password: one command writes a code for each (readable by its
    owner only), each code activates its own account once, and older codes stop working."""
    code = new_code()
    admin_code = printed_code(create(database_url, test_settings, code))
    tenant = await Tenant.get(code=code)
    unit = await OrgUnit.create(tenant=tenant, code="SALES", name="销售部", path="")
    unit.path = f"{unit.id}."
    await unit.save()
    other = await OrgUnit.create(tenant=tenant, code="PLANT", name="生产部", path="")
    other.path = f"{other.id}."
    await other.save()
    for number, place in (("001-01", unit), ("002-01", unit), ("003-02", other)):
        await Employee.create(tenant=tenant, employee_no=number, name=f"员工{number}", password_hash="", org_unit=place)
    await Employee.create(tenant=tenant, employee_no="004-02", name="已离职", password_hash="", is_active=False)

    output = tmp_path / "codes.xlsx"
    done = xuefen(
        database_url,
        test_settings,
        "tenant",
        "activation-codes",
        code,
        "--output",
        str(output),
        "--org-unit",
        "SALES",
        language="zh_CN.UTF-8",
    )
    assert done.returncode == 0, done.stderr
    assert "Wrote 2 activation codes" in done.stdout and oct(output.stat().st_mode & 0o777) == "0o600"
    rows = [row for _, row in read_table(output)]
    assert rows[0][:4] == ["工号", "姓名", "组织单元", "激活码"]
    assert [row[0] for row in rows[1:]] == ["001-01", "002-01"] and rows[1][2] == "销售部"

    done = xuefen(
        database_url, test_settings, "tenant", "activation-codes", code, "--output", str(output), "--format", "csv"
    )
    assert "Wrote 4 activation codes" in done.stdout  # the admin, the three active employees; not the leaver
    codes = {row[0]: row[3] for _, row in list(read_table(output))[1:]}
    assert set(codes) == {"A-0001", "001-01", "002-01", "003-02"}
    assert (await activate(client, code, "A-0001", admin_code))["errors"][0]["code"] == "ACTIVATION_CODE_INVALID"
    assert (await activate(client, code, "001-01", codes["001-01"], "phone-1"))["errors"] == []
    again = await activate(client, code, "001-01", codes["001-01"], "phone-2")
    assert again["errors"][0]["code"] == "ACTIVATION_CODE_INVALID"
    issued = await AuditEntry.filter(tenant_id=tenant.id, action="account.activation_code.issue").count()
    assert issued == 1 + 2 + 4
    details = str(await AuditEntry.filter(tenant_id=tenant.id).values_list("details", flat=True))
    assert codes["002-01"] not in details

    missing = xuefen(
        database_url, test_settings, "tenant", "activation-codes", code, "--output", str(output), "--org-unit", "NOPE"
    )
    assert missing.returncode == 1 and missing.stderr == f"xuefen: no org unit NOPE in company {code}.\n"
