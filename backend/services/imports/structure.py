"""The company's structure as import kinds: org units (a tree), positions, and the level each
position requires in each skill.

Rows are judged by the services' own pure checks (``org_units.check_org_unit``,
``positions.check_position``, ``positions.check_required_level``); what only the whole tree can
decide (cycles, closing, depth) by the rules ``org_units.py`` applies one mutation at a time,
here applied to the tree the job would leave behind (``org_tree.Tree``). Each row that changes
something is audited with the row before and after as the mutation audits it, and marks what
phones show as the mutation does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any, cast

from tortoise.expressions import Q

from backend.errors import DomainError, ErrorCode
from backend.models import DataStandardSubject, EmployeeSkill, OrgUnit, Position, PositionSkill, Skill
from backend.services.feed import Entity
from backend.services.imports.bulk import update_by_id
from backend.services.imports.files import WriteCell
from backend.services.imports.kinds import (
    KEY_CHUNK,
    CheckedFile,
    CodeKeyedKind,
    ImportKind,
    JobContext,
    Reference,
    WriteRun,
    without_standard,
)
from backend.services.imports.master_data import CODE_HELP_EN, CODE_HELP_ZH
from backend.services.imports.org_tree import OrgUnitRow, Tree, Unit, company_units, staffed_units
from backend.services.imports.problems import ProblemCode, from_error, problem
from backend.services.imports.rows import Cells, Column
from backend.services.people import org_units, positions
from backend.services.people.org_units import (
    check_org_unit,
    check_text,
    lock_structure,
    touch_profiles,
    touch_ruled_quizzes,
)
from backend.services.people.positions import PositionFields, check_position, check_required_level
from backend.sql import db_day, db_time, insert_many, values_list_of

# --- org units ------------------------------------------------------------------------------------

_ROWS = "org unit rows"  # check pass: code → (row number, row) of the good rows
_STATE = "org unit state"  # write pass: the company's tree and what the job changes in it


@dataclass
class _Changes:
    """The write pass of org units: the company's tree (read under the structure lock), the rows
    that change it, and the ids of the units created."""

    units: dict[str, Unit]
    rows: dict[str, OrgUnitRow] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.code_of = {unit.id: code for code, unit in self.units.items()}


def _unit_snapshot(code: str, name: str, parent_id: int | None, path: str, closed_on: date | None) -> dict[str, Any]:
    """The service's audit snapshot of a unit's values (``org_units.snapshot`` reads only these
    attributes: a plain namespace spares a model instance per row)."""
    unit = SimpleNamespace(code=code, name=name, parent_id=parent_id, path=path, closed_on=closed_on)
    return org_units.snapshot(cast(OrgUnit, unit))


class OrgUnitsKind(CodeKeyedKind[OrgUnitRow]):
    """The org tree: code, name, the parent's code and the day a unit closed. Parents may be in
    the file (in any order) or the company's; a row for an existing unit renames, moves, closes or
    reopens it, and a move carries the units below it along."""

    name = "org_units"
    title_zh = "组织"
    title_en = "Org units"
    entity = "OrgUnit"
    model = OrgUnit
    table = "org_unit"
    db_columns = {"code": "text", "name": "text", "closed_on": "date"}
    columns = (
        Column("code", "组织编码", "Code", True, CODE_HELP_ZH, CODE_HELP_EN),
        Column("name", "组织名称", "Name", True, "如 华东销售组，最长 200 字", "e.g. East sales team; up to 200"),
        Column(
            "parent",
            "上级组织编码",
            "Parent code",
            False,
            "上级组织的编码（本文件中或公司已有的，顺序不限）；留空为顶级组织",
            "the code of the unit above (in this file, in any order, or the company's); empty: a top unit",
            field="parentId",
        ),
        Column(
            "closed_on",
            "关闭日期",
            "Closed on",
            False,
            "YYYY-MM-DD，不晚于今天；须无在职员工和未关闭的下级组织；留空为未关闭",
            "YYYY-MM-DD, not after today; no active employees or open units below; empty: open",
            field="closedOn",
        ),
    )

    def parse(self, cells: Cells, context: JobContext) -> OrgUnitRow:
        fields = check_org_unit(cells.text("code"), cells.text("name"))
        closed_on = cells.day("closed_on", not_after=context.today)
        cells.check()
        return OrgUnitRow(fields, cells.text("parent"), closed_on)

    def references(self, row: OrgUnitRow) -> Iterable[Reference]:
        return [Reference("parent", self.name, row.parent)] if row.parent else []

    def note(self, checked: CheckedFile, number: int, row: OrgUnitRow) -> None:
        checked.notes.setdefault(_ROWS, {})[row.code] = (number, row)

    async def check_file(self, checked: CheckedFile, context: JobContext) -> None:
        """Cycles, closing and depth, on the tree the job would leave: rows with problems (and the
        rows they take with them) keep the company's state, so the file is judged until the rows
        left break no rule."""
        rows: dict[str, tuple[int, OrgUnitRow]] = checked.notes.pop(_ROWS, {})
        units = await company_units(None, context.tenant_id)
        closing = [units[c].id for c, (_, row) in rows.items() if row.closed_on and c in units]
        staffed = await staffed_units(None, context.tenant_id, closing)
        digits = len(str(max((u.id for u in units.values()), default=0) + len(rows) + 1))
        while True:
            kept = self._kept(rows, units, checked)
            tree = Tree(units, {code: rows[code][1] for code in kept}, staffed, new_digits=digits)
            refusals = tree.refusals()
            if not refusals:
                return
            for code, key, error in refusals:
                number, column = rows[code][0], checked.header.column_name(key)
                if error.code is ErrorCode.WOULD_CREATE_CYCLE:
                    checked.problems.add(
                        problem(number, column, ProblemCode.CYCLE, value=code, what_key=error.params["what_key"])
                    )
                else:
                    checked.problems.add(from_error(number, column, error))

    @staticmethod
    def _kept(rows: dict[str, tuple[int, OrgUnitRow]], units: dict[str, Unit], checked: CheckedFile) -> list[str]:
        """The codes of the rows a partial run would write: no problem, a parent that exists, and
        (as the framework ties a row to its parent's row) a parent row that is kept too."""
        kept: dict[str, bool] = {}
        for start in rows:
            walk: list[str] = []
            at = start
            while True:
                if at in kept:
                    result = kept[at]
                    break
                number, row = rows[at]
                walk.append(at)
                parent = row.parent
                if number in checked.problems.bad_rows:
                    result = False
                elif parent is None:
                    result = True
                elif parent in checked.keys:  # in the file: its first row decides
                    if parent in walk:  # a cycle: judged as one (CYCLE)
                        result = True
                    elif parent in rows:
                        at = parent
                        continue
                    else:
                        result = False
                else:
                    result = parent in units
                break
            for code in walk:
                kept[code] = result
        return [code for code, keep in kept.items() if keep]

    def values(self, row: OrgUnitRow) -> dict[str, Any]:
        return {"code": row.code, "name": row.fields.name, "closed_on": row.closed_on}

    def snapshot(self, values: dict[str, Any]) -> dict[str, Any]:
        return _unit_snapshot(
            values["code"], values["name"], values.get("parent_id"), values.get("path", ""), values["closed_on"]
        )

    def export_cells(self, values: dict[str, Any]) -> dict[str, WriteCell]:
        return {
            "code": values["code"],
            "name": values["name"],
            "parent": values["parent__code"],
            "closed_on": values["closed_on"],
        }

    async def _changes(self, run: WriteRun) -> _Changes:
        changes: _Changes | None = run.notes.get(_STATE)
        if changes is None:
            if run.write:  # tree-shaping writes one at a time, as the API's
                await lock_structure(run.connection, run.tenant_id)
            changes = run.notes[_STATE] = _Changes(await company_units(run.connection, run.tenant_id, run.write))
        return changes

    async def apply(self, run: WriteRun, rows: Sequence[tuple[int, OrgUnitRow]]) -> None:
        """Count each row against the company's tree and insert the new units; their parents,
        every path and the audit entries follow in ``finish``, once the whole file is known (a
        child may come before its parent)."""
        changes = await self._changes(run)
        created: list[OrgUnitRow] = []
        for _, row in rows:
            unit = changes.units.get(row.code)
            if unit is None:
                created.append(row)
            else:
                parent = None if unit.parent_id is None else changes.code_of[unit.parent_id]
                if (unit.name, parent, unit.closed_on) == (row.fields.name, row.parent, row.closed_on):
                    run.counts.unchanged += 1
                    continue
                run.counts.updated += 1
            if run.write:
                changes.rows[row.code] = row
        run.counts.created += len(created)
        if not run.write or not created:
            return
        at = db_time(run.connection, run.now)
        columns = {"tenant_id": "int", "code": "text", "name": "text", "path": "text", "closed_on": "date"}
        inserted = await insert_many(
            run.connection,
            self.table,
            {**columns, "created_at": "timestamptz", "updated_at": "timestamptz"},
            [(run.tenant_id, r.code, r.fields.name, "", db_day(run.connection, r.closed_on), at, at) for r in created],
            returning="id, code",
        )
        changes.ids.update({found["code"]: found["id"] for found in inserted})

    async def finish(self, run: WriteRun) -> None:
        """Parents and paths of the whole tree in one bulk update, after the rules are checked
        again on the tree as it is now (under the lock): what changed since the check pass fails
        the job rather than break the tree."""
        changes: _Changes | None = run.notes.get(_STATE)
        if not run.write or changes is None or not changes.rows:
            return
        units = changes.units
        closing = [units[code].id for code in changes.rows if code in units]
        tree = Tree(units, changes.rows, await staffed_units(run.connection, run.tenant_id, closing), changes.ids)
        refusals = tree.refusals()
        if refusals:
            raise refusals[0][2]
        paths = tree.paths()
        id_of = {code: unit.id for code, unit in units.items()} | changes.ids
        updates: list[tuple[int, dict[str, Any]]] = []
        after: dict[str, tuple[str, int | None, str, date | None]] = {}  # the file's units: name, parent, path, closed
        for code, path in paths.items():
            parent = tree.parent(code)
            row, unit = changes.rows.get(code), units.get(code)
            name, closed_on = (row.fields.name, row.closed_on) if row else (units[code].name, units[code].closed_on)
            final = (name, None if parent is None else id_of[parent], path, closed_on)
            if row is not None:
                after[code] = final
            if unit is None or (unit.name, unit.parent_id, unit.path, unit.closed_on) != final:
                values = dict(zip(("name", "parent_id", "path"), final)) | {
                    "closed_on": db_day(run.connection, closed_on)
                }
                updates.append((id_of[code], values))
        columns = {"name": "text", "parent_id": "int", "path": "text", "closed_on": "date"}
        await update_by_id(run.connection, self.table, columns, updates, run.now)
        renamed: list[int] = []
        moved = False
        for code in changes.rows:  # in the file's order
            unit, final = units.get(code), after[code]
            now = _unit_snapshot(code, *final)
            if unit is None:
                run.audit("import.org_unit.create", self.entity, id_of[code], None, now)
                continue
            before = _unit_snapshot(code, unit.name, unit.parent_id, unit.path, unit.closed_on)
            run.audit("import.org_unit.update", self.entity, unit.id, before, now)
            if unit.name != final[0]:
                renamed.append(unit.id)
            moved = moved or unit.parent_id != final[1]
        await run.flush()
        # What phones show, as the mutations mark it: a unit's name in its people's profiles
        # (update_org_unit), and quizzes of courses ruled by org units after a move (move_org_unit).
        if renamed:
            await touch_profiles(run.connection, run.changes, run.tenant_id, org_unit_id__in=renamed)
        if moved:
            await touch_ruled_quizzes(run.connection, run.changes, run.tenant_id, org_unit_id__isnull=False)

    async def export_rows(self, tenant_id: int) -> AsyncIterator[dict[str, WriteCell]]:
        last: str | None = None
        while True:
            query = OrgUnit.filter(tenant_id=tenant_id)
            if last is not None:
                query = query.filter(code__gt=last)
            page = await query.order_by("code").limit(KEY_CHUNK).values("code", "name", "parent__code", "closed_on")
            for values in page:
                yield self.export_cells(values)
            if len(page) < KEY_CHUNK:
                return
            last = page[-1]["code"]


# --- positions ------------------------------------------------------------------------------------


class PositionsKind(CodeKeyedKind[PositionFields]):
    """The position catalog (族-序列-层级): code, family, sequence, level, grade. New codes follow
    the company's POSITION_CODE standard; codes that predate it stay valid."""

    name = "positions"
    title_zh = "岗位"
    title_en = "Positions"
    entity = "Position"
    model = Position
    table = "position"
    standard = DataStandardSubject.POSITION_CODE
    db_columns = {"code": "text", "family": "text", "sequence": "text", "level": "text", "grade": "smallint"}
    columns = (
        Column(
            "code",
            "岗位编码",
            "Code",
            True,
            "新编码须符合公司的岗位编码标准（默认 族-序列-层级，如 SAL-AM-1）；同一编码再次导入即更新该岗位",
            "new codes follow the company's position code standard (by default family-sequence-level, "
            "e.g. SAL-AM-1); importing a code again updates the position",
        ),
        Column("family", "岗位族", "Family", True, "如 销售族，最长 64 字", "e.g. Sales; up to 64"),
        Column("sequence", "序列", "Sequence", True, "如 客户经理序列，最长 64 字", "e.g. Account managers; up to 64"),
        Column("level", "层级", "Level", True, "如 初级，最长 64 字", "e.g. Junior; up to 64"),
        Column("grade", "职级", "Grade", True, "1（最初级）到 20 的整数", "a whole number, 1 (most junior) to 20"),
    )

    def parse(self, cells: Cells, context: JobContext) -> PositionFields:
        standards = without_standard(context.standards, DataStandardSubject.POSITION_CODE)
        return check_position(
            standards,
            cells.text("code"),
            cells.text("family"),
            cells.text("sequence"),
            cells.text("level"),
            cells.text("grade"),
        )

    def values(self, row: PositionFields) -> dict[str, Any]:
        return {
            "code": row.code,
            "family": row.family,
            "sequence": row.sequence,
            "level": row.level,
            "grade": row.grade,
        }

    def snapshot(self, values: dict[str, Any]) -> dict[str, Any]:
        return positions.snapshot(cast(Position, SimpleNamespace(**values)))  # as _unit_snapshot

    def export_cells(self, values: dict[str, Any]) -> dict[str, WriteCell]:
        return dict(values)

    async def changed(
        self, run: WriteRun, created: list[int], updated: list[tuple[int, dict[str, Any], dict[str, Any]]]
    ) -> None:
        # As update_position: a new title reaches the profiles of the position's people, a new
        # family or grade the quizzes of courses ruled by families or grades.
        title = ("family", "sequence", "level")
        retitled = [i for i, before, after in updated if any(before[p] != after[p] for p in title)]
        if retitled:
            await touch_profiles(run.connection, run.changes, run.tenant_id, position_id__in=retitled)
        if any((b["family"], b["grade"]) != (a["family"], a["grade"]) for _, b, a in updated):
            ruled = Q(position_family__isnull=False) | Q(min_grade__isnull=False) | Q(max_grade__isnull=False)
            await touch_ruled_quizzes(run.connection, run.changes, run.tenant_id, ruled)


# --- position skill requirements ------------------------------------------------------------------

_SEPARATOR = " / "  # between the position's and the skill's code in a requirement's key


@dataclass(frozen=True)
class RequirementRow:
    """The level (0–100) a position requires in a skill, by their codes."""

    position: str
    skill: str
    required_level: int


class PositionSkillsKind(ImportKind[RequirementRow]):
    """What each position requires: position code, skill code, level (0–100); keyed by the two
    codes, both the company's already (import positions and skills first). Requirements the file
    does not name stay; ``removePositionSkillRequirement`` removes one."""

    name = "position_skills"
    title_zh = "岗位技能要求"
    title_en = "Position skill requirements"
    entity = "Position"  # as set_position_skill audits it: the position, with the requirement before and after
    key_column = "position"
    columns = (
        Column(
            "position", "岗位编码", "Position code", True, "公司已有岗位的编码", "the code of a position of the company"
        ),
        Column("skill", "技能编码", "Skill code", True, "公司已有技能的编码", "the code of a skill of the company"),
        Column(
            "required_level",
            "要求等级",
            "Required level",
            True,
            "0 到 100 的整数；同一岗位和技能再次导入即更新",
            "a whole number, 0 to 100; importing the same position and skill again updates it",
            field="requiredLevel",
        ),
    )

    def parse(self, cells: Cells, context: JobContext) -> RequirementRow:
        return RequirementRow(
            check_text(cells.text("position"), "position", positions.MAX_CODE),
            check_text(cells.text("skill"), "skill", org_units.MAX_CODE),
            check_required_level(cells.text("required_level")),
        )

    def key(self, row: RequirementRow) -> str:
        return f"{row.position}{_SEPARATOR}{row.skill}"

    def references(self, row: RequirementRow) -> Iterable[Reference]:
        return [Reference("position", "positions", row.position), Reference("skill", "skills", row.skill)]

    async def known_keys(self, tenant_id: int, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), KEY_CHUNK):
            pairs = [key.split(_SEPARATOR, 1) for key in keys[start : start + KEY_CHUNK] if _SEPARATOR in key]
            query = PositionSkill.filter(
                tenant_id=tenant_id,
                position__code__in=list({p for p, _ in pairs}),
                skill__code__in=list({s for _, s in pairs}),
            )
            for position, skill in await query.values_list("position__code", "skill__code"):
                found.add(f"{position}{_SEPARATOR}{skill}")
        return found & set(keys)

    async def apply(self, run: WriteRun, rows: Sequence[tuple[int, RequirementRow]]) -> None:
        connection, tenant_id = run.connection, run.tenant_id
        position_codes = list({row.position for _, row in rows})
        skill_codes = list({row.skill for _, row in rows})
        position_ids = dict(
            await Position.filter(tenant_id=tenant_id, code__in=position_codes)
            .using_db(connection)
            .values_list("code", "id")
        )
        skill_ids = dict(
            await Skill.filter(tenant_id=tenant_id, code__in=skill_codes).using_db(connection).values_list("code", "id")
        )
        query = PositionSkill.filter(
            tenant_id=tenant_id, position_id__in=list(position_ids.values()), skill_id__in=list(skill_ids.values())
        )
        if run.write:  # the levels "before" stay true until the job commits
            query = query.select_for_update(no_key=True)
        existing = {
            (p, s): (i, level)
            for i, p, s, level in await values_list_of(
                query.using_db(connection), "id", "position_id", "skill_id", "required_level"
            )
        }
        creates: list[tuple[int, int, int]] = []
        updates: list[tuple[int, int, int, int, int]] = []  # id, position, skill, before, after
        for _, row in rows:
            if row.position not in position_ids or row.skill not in skill_ids:  # checked, so only a race
                raise DomainError(
                    ErrorCode.NOT_FOUND, field="position" if row.position not in position_ids else "skill"
                )
            pair = (position_ids[row.position], skill_ids[row.skill])
            found = existing.get(pair)
            if found is None:
                creates.append((*pair, row.required_level))
            elif found[1] == row.required_level:
                run.counts.unchanged += 1
            else:
                updates.append((found[0], *pair, found[1], row.required_level))
        run.counts.created += len(creates)
        run.counts.updated += len(updates)
        if not run.write or not (creates or updates):
            return
        at = db_time(connection, run.now)
        columns = {"tenant_id": "int", "position_id": "int", "skill_id": "int", "required_level": "smallint"}
        await insert_many(
            connection,
            "position_skill",
            {**columns, "created_at": "timestamptz", "updated_at": "timestamptz"},
            [(tenant_id, p, s, level, at, at) for p, s, level in creates],
        )
        levels = [(i, {"required_level": after}) for i, _, _, _, after in updates]
        await update_by_id(connection, "position_skill", {"required_level": "smallint"}, levels, run.now)
        changed = [(p, s, None, level) for p, s, level in creates] + [(p, s, b, a) for _, p, s, b, a in updates]
        for p, s, before, after in changed:
            run.audit(
                "import.position.skill.set",
                self.entity,
                p,
                positions.requirement_snapshot(p, s, before),
                positions.requirement_snapshot(p, s, after),
            )
        await run.flush()
        await self._touch_skill_levels(run, {(p, s) for p, s, _, _ in changed})

    @staticmethod
    async def _touch_skill_levels(run: WriteRun, pairs: set[tuple[int, int]]) -> None:
        """As set_position_skill: the SKILL_LEVEL rows that show a changed requirement (the
        position's active employees' levels in the skill), for a whole chunk in one query."""
        holders = EmployeeSkill.filter(
            tenant_id=run.tenant_id,
            skill_id__in=list({s for _, s in pairs}),
            employee__position_id__in=list({p for p, _ in pairs}),
            employee__is_active=True,
        ).using_db(run.connection)
        for skill_id, employee_id, position_id in await holders.values_list(
            "skill_id", "employee_id", "employee__position_id"
        ):
            if (position_id, skill_id) in pairs:
                run.changes.touch(Entity.SKILL_LEVEL, skill_id, audience=employee_id)

    async def export_rows(self, tenant_id: int) -> AsyncIterator[dict[str, WriteCell]]:
        last: tuple[str, str] | None = None
        while True:
            query = PositionSkill.filter(tenant_id=tenant_id)
            if last is not None:
                query = query.filter(Q(position__code__gt=last[0]) | Q(position__code=last[0], skill__code__gt=last[1]))
            page = (
                await query.order_by("position__code", "skill__code")
                .limit(KEY_CHUNK)
                .values_list("position__code", "skill__code", "required_level")
            )
            for position, skill, level in page:
                yield {"position": position, "skill": skill, "required_level": level}
            if len(page) < KEY_CHUNK:
                return
            last = (page[-1][0], page[-1][1])
