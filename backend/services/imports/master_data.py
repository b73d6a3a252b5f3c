"""Master data kinds keyed by their code: skills and sites.

Each row is judged by the same pure check as the API's create/update mutations
(``skill_catalog.check_skill``, ``sites.check_site``), is upserted by code, and marks the feed rows
phones show it in, as ``update_skill`` / ``update_site`` do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backend.models import EmployeeSkill, Site, Skill, TrainingSession
from backend.services.feed import Entity
from backend.services.imports.bulk import update_by_id
from backend.services.imports.files import WriteCell
from backend.services.imports.kinds import CheckedFile, CodeKeyedKind, JobContext, WriteRun
from backend.services.imports.problems import ProblemCode, problem
from backend.services.imports.rows import Cells, Column
from backend.services.people import sites
from backend.services.people.org_units import lock_structure, touch_profiles
from backend.services.people.sites import SiteFields, check_site
from backend.services.people.skill_catalog import SkillFields, check_skill

CODE_HELP_ZH = "大写字母、数字或连字符，最长 64 位，如 NEG-01；同一编码再次导入即更新该行"
CODE_HELP_EN = "upper-case letters, digits or hyphens, up to 64, e.g. NEG-01; importing a code again updates it"


class SkillsKind(CodeKeyedKind[SkillFields]):
    """The skill matrix: code, name, category."""

    name = "skills"
    title_zh = "技能"
    title_en = "Skills"
    entity = "Skill"
    model = Skill
    table = "skill"
    db_columns = {"code": "text", "name": "text", "category": "text"}
    columns = (
        Column("code", "技能编码", "Code", True, CODE_HELP_ZH, CODE_HELP_EN),
        Column("name", "技能名称", "Name", True, "如 客户需求分析，最长 200 字", "e.g. Needs analysis; up to 200"),
        Column(
            "category", "类别", "Category", False, "如 销售，最长 64 字，可空", "e.g. Sales; up to 64, may be empty"
        ),
    )

    def parse(self, cells: Cells, context: JobContext) -> SkillFields:
        return check_skill(cells.text("code"), cells.text("name"), cells.text("category"))

    def values(self, row: SkillFields) -> dict[str, Any]:
        return {"code": row.code, "name": row.name, "category": row.category}

    def snapshot(self, values: dict[str, Any]) -> dict[str, Any]:
        return {"code": values["code"], "name": values["name"], "category": values["category"]}

    def export_cells(self, values: dict[str, Any]) -> dict[str, WriteCell]:
        return {"code": values["code"], "name": values["name"], "category": values["category"]}

    async def changed(
        self, run: WriteRun, created: list[int], updated: list[tuple[int, dict[str, Any], dict[str, Any]]]
    ) -> None:
        # SKILL_LEVEL rows show the skill's code and name to each active holder (update_skill).
        renamed = [
            row_id
            for row_id, before, after in updated
            if (before["code"], before["name"]) != (after["code"], after["name"])
        ]
        if not renamed:
            return
        holders = EmployeeSkill.filter(tenant_id=run.tenant_id, skill_id__in=renamed, employee__is_active=True)
        for skill_id, employee_id in await holders.using_db(run.connection).values_list("skill_id", "employee_id"):
            run.changes.touch(Entity.SKILL_LEVEL, skill_id, audience=employee_id)


class SitesKind(CodeKeyedKind[SiteFields]):
    """Sites: the headquarters and remote offices, with address, coordinates and time zone. At
    most one headquarters: a file naming two is refused, and the one it names replaces the
    company's former headquarters (which the file need not list)."""

    name = "sites"
    title_zh = "地点"
    title_en = "Sites"
    entity = "Site"
    model = Site
    table = "site"
    db_columns = {
        "code": "text",
        "name": "text",
        "address": "text",
        "latitude": "float8",
        "longitude": "float8",
        "time_zone": "text",
        "is_headquarters": "boolean",
    }
    columns = (
        Column("code", "地点编码", "Code", True, CODE_HELP_ZH, CODE_HELP_EN),
        Column("name", "地点名称", "Name", True, "如 上海总部，最长 200 字", "e.g. Shanghai HQ; up to 200"),
        Column("address", "地址", "Address", False, "最长 300 字，可空", "up to 300, may be empty"),
        Column(
            "latitude",
            "纬度",
            "Latitude",
            False,
            "-90 到 90，与经度同时填写或同时留空",
            "-90 to 90; with the longitude or neither",
        ),
        Column("longitude", "经度", "Longitude", False, "-180 到 180", "-180 to 180"),
        Column(
            "time_zone",
            "时区",
            "Time zone",
            False,
            "IANA 时区名，如 Asia/Urumqi；留空则用公司时区",
            "IANA name such as Asia/Urumqi; empty: the company's",
            field="timeZone",
        ),
        Column(
            "is_headquarters",
            "是否总部",
            "Headquarters",
            False,
            "是 / 否（留空为否）；公司只有一个总部",
            "yes / no (empty: no); a company has one headquarters",
            field="isHeadquarters",
        ),
    )

    def parse(self, cells: Cells, context: JobContext) -> SiteFields:
        return check_site(
            cells.text("code"),
            cells.text("name"),
            cells.text("address"),
            cells.text("latitude"),
            cells.text("longitude"),
            cells.text("time_zone"),
            context.time_zone,
            cells.text("is_headquarters"),
        )

    def note(self, checked: CheckedFile, number: int, row: SiteFields) -> None:
        if row.is_headquarters:
            checked.notes.setdefault("headquarters", []).append(number)

    async def check_file(self, checked: CheckedFile, context: JobContext) -> None:
        await super().check_file(checked, context)
        rows: list[int] = checked.notes.get("headquarters", [])
        column = checked.header.column_name("is_headquarters")
        for number in rows[1:]:
            checked.problems.add(problem(number, column, ProblemCode.DUPLICATE_HEADQUARTERS, first_row=rows[0]))

    def values(self, row: SiteFields) -> dict[str, Any]:
        return {
            "code": row.code,
            "name": row.name,
            "address": row.address,
            "latitude": row.latitude,
            "longitude": row.longitude,
            "time_zone": row.time_zone,
            "is_headquarters": row.is_headquarters,
        }

    def snapshot(self, values: dict[str, Any]) -> dict[str, Any]:
        return sites.snapshot(Site(**values))

    def export_cells(self, values: dict[str, Any]) -> dict[str, WriteCell]:
        return dict(values)

    async def apply(self, run: WriteRun, rows: Sequence[tuple[int, SiteFields]]) -> None:
        if run.write and "locked" not in run.notes:
            # The company's one headquarters is decided under the lock sites.py takes for it.
            await lock_structure(run.connection, run.tenant_id)
            run.notes["locked"] = True
        await super().apply(run, rows)
        for _, row in rows:
            if row.is_headquarters:
                run.notes["headquarters code"] = row.code

    async def changed(
        self, run: WriteRun, created: list[int], updated: list[tuple[int, dict[str, Any], dict[str, Any]]]
    ) -> None:
        # A site's name and time zone show in its active employees' profiles and its sessions.
        moved = [
            row_id
            for row_id, before, after in updated
            if (before["name"], before["time_zone"]) != (after["name"], after["time_zone"])
        ]
        if not moved:
            return
        await touch_profiles(run.connection, run.changes, run.tenant_id, site_id__in=moved)
        sessions = TrainingSession.filter(tenant_id=run.tenant_id, site_id__in=moved).using_db(run.connection)
        for session_id in await sessions.values_list("id", flat=True):
            run.changes.touch(Entity.TRAINING_SESSION, session_id)

    async def finish(self, run: WriteRun) -> None:
        """The headquarters the file named replaces the company's former one (counted as updated
        and audited, like ``update_site`` does it), whether or not the file lists the former one."""
        code = run.notes.get("headquarters code")
        if code is None:
            return
        former = Site.filter(tenant_id=run.tenant_id, is_headquarters=True).exclude(code=code)
        found = await former.using_db(run.connection).values("id", *self.db_columns)
        run.counts.updated += len(found)
        if not run.write or not found:
            return
        befores = [{name: row[name] for name in self.db_columns} for row in found]
        updates = [(row["id"], {**before, "is_headquarters": False}) for row, before in zip(found, befores)]
        await update_by_id(run.connection, self.table, self.db_columns, updates, run.now)
        for (row_id, after), before in zip(updates, befores):
            run.audit("import.site.update", self.entity, row_id, self.snapshot(before), self.snapshot(after))
        await run.flush()
