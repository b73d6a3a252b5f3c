"""The org tree an import of org units would leave behind, judged as a whole by the rules
``backend/services/people/org_units.py`` applies one mutation at a time: no cycle (through the
company's units too), a unit closes only without active employees and open units below it, an open
unit is not put under a closed one, and no path grows past what ``OrgUnit.path`` holds.

The check pass judges the file with it (each refusal a problem on its row), and the write pass
again under the structure lock before anything is written (a change made meanwhile fails the job
instead of breaking the tree); then it gives every unit's path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.errors import DomainError, ErrorCode
from backend.models import Employee, OrgUnit
from backend.services.imports.kinds import KEY_CHUNK
from backend.services.people.org_units import MAX_PATH, OrgUnitFields
from backend.services.validation import invalid
from backend.sql import values_list_of


@dataclass(frozen=True)
class OrgUnitRow:
    """An org unit row: checked code and name, the parent's code (None: a root) and the day it
    closed (None: open)."""

    fields: OrgUnitFields
    parent: str | None
    closed_on: date | None

    @property
    def code(self) -> str:
        return self.fields.code


@dataclass
class Unit:
    """A unit of the company as the job found it."""

    id: int
    code: str
    name: str
    parent_id: int | None
    path: str
    closed_on: date | None


async def company_units(connection: BaseDBAsyncClient | None, tenant_id: int, lock: bool = False) -> dict[str, Unit]:
    """Every unit of the company by code (one query; a company has thousands at most)."""
    query = OrgUnit.filter(tenant_id=tenant_id)
    if lock:  # their "before" stays true, and nobody hires into one the job closes meanwhile
        query = query.select_for_update(no_key=True)
    found = await values_list_of(query.using_db(connection), "id", "code", "name", "parent_id", "path", "closed_on")
    return {row[1]: Unit(*row) for row in found}


async def staffed_units(connection: BaseDBAsyncClient | None, tenant_id: int, unit_ids: list[int]) -> set[int]:
    """Which of ``unit_ids`` have active employees (one query per chunk)."""
    found: set[int] = set()
    for start in range(0, len(unit_ids), KEY_CHUNK):
        query = Employee.filter(
            tenant_id=tenant_id, is_active=True, org_unit_id__in=unit_ids[start : start + KEY_CHUNK]
        )
        found.update(row[0] for row in await query.using_db(connection).distinct().values_list("org_unit_id"))
    return found


@dataclass
class Tree:
    """The company's tree with the file's rows applied: what the job would leave, judged by the
    rules of org_units.py. ``ids`` holds new units' ids once inserted; before, their length in a
    path is estimated as ``new_digits``."""

    units: dict[str, Unit]
    rows: dict[str, OrgUnitRow]
    staffed: set[int]
    ids: dict[str, int] = field(default_factory=dict)
    new_digits: int = 1

    def __post_init__(self) -> None:
        self.code_of = {unit.id: code for code, unit in self.units.items()}

    def parent(self, code: str) -> str | None:
        row = self.rows.get(code)
        if row is not None:
            return row.parent
        unit = self.units[code]
        return None if unit.parent_id is None else self.code_of[unit.parent_id]

    def closed(self, code: str) -> bool:
        row = self.rows.get(code)
        return (row.closed_on if row is not None else self.units[code].closed_on) is not None

    def closes(self, code: str) -> bool:
        """Whether the file closes a unit that is open (or new)."""
        row, unit = self.rows.get(code), self.units.get(code)
        return row is not None and row.closed_on is not None and (unit is None or unit.closed_on is None)

    def placed(self, code: str) -> bool:
        """Whether the file creates the unit or puts it under another parent."""
        unit = self.units.get(code)
        return unit is None or self.parent(code) != (None if unit.parent_id is None else self.code_of[unit.parent_id])

    def _under_closed(self, parent: str | None) -> bool:
        """Whether an open unit under ``parent`` would be under a closed unit. When the file closes
        that one too, its own row is refused instead (an open unit below)."""
        return parent is not None and self.closed(parent) and not self.closes(parent)

    def codes(self) -> Iterable[str]:
        yield from self.units
        yield from (code for code in self.rows if code not in self.units)

    def refusals(self) -> list[tuple[str, str, DomainError]]:
        """The file's rows that break a rule, as (code, column key, error): the cycles first, alone
        (the other rules need a tree); else closing, closed parents and depth."""
        cycles = self._cycles()
        if cycles:
            error = DomainError(ErrorCode.WOULD_CREATE_CYCLE, field="parentId", what_key="subject.org_unit")
            return [(code, "parent", error) for code in cycles]
        found: list[tuple[str, str, DomainError]] = []
        open_below = Counter(self.parent(code) for code in self.codes() if not self.closed(code))
        for code, row in self.rows.items():
            unit = self.units.get(code)
            if self.closes(code):  # as close_org_unit: no active employees, no open units below
                if unit is not None and unit.id in self.staffed:
                    error = DomainError(ErrorCode.STILL_IN_USE, field="closedOn", reason_key="reason.active_employees")
                    found.append((code, "closed_on", error))
                elif open_below[code]:
                    error = DomainError(ErrorCode.STILL_IN_USE, field="closedOn", reason_key="reason.open_children")
                    found.append((code, "closed_on", error))
            elif row.closed_on is None and self._under_closed(row.parent):
                if self.placed(code):  # as create_org_unit and move_org_unit
                    found.append((code, "parent", invalid("parentId", "reason.org_unit_closed")))
                elif unit is not None and unit.closed_on is not None:  # as reopen_org_unit
                    found.append((code, "closed_on", invalid("closedOn", "reason.parent_closed")))
        return found + self._too_deep()

    def _cycles(self) -> list[str]:
        """The file's rows on a cycle of the final tree (the company's alone has none)."""
        done: set[str] = set()
        cyclic: list[str] = []
        for start in self.rows:
            walk: list[str] = []
            on_walk: set[str] = set()
            at: str | None = start
            while at is not None and at not in done and at not in on_walk:
                walk.append(at)
                on_walk.add(at)
                at = self.parent(at)
            if at is not None and at in on_walk:
                cyclic += [code for code in walk[walk.index(at) :] if code in self.rows]
            done.update(walk)
        return cyclic

    def paths(self) -> dict[str, str]:
        """Every unit's path (``1.4.9.``) in the final tree; new units need their ``ids``."""
        found: dict[str, str] = {}
        for start in self.codes():
            walk: list[str] = []
            at: str | None = start
            while at is not None and at not in found:
                walk.append(at)
                at = self.parent(at)
            prefix = found[at] if at is not None else ""
            for code in reversed(walk):
                unit = self.units.get(code)
                prefix = found[code] = f"{prefix}{unit.id if unit else self.ids[code]}."
        return found

    def _too_deep(self) -> list[tuple[str, str, DomainError]]:
        """Rows that put a unit deeper than a path holds: the nearest created or moved one above it."""
        lengths: dict[str, int] = {}
        for start in self.codes():
            walk: list[str] = []
            at: str | None = start
            while at is not None and at not in lengths:
                walk.append(at)
                at = self.parent(at)
            length = lengths[at] if at is not None else 0
            for code in reversed(walk):
                unit = self.units.get(code)
                digits = len(str(unit.id)) if unit else len(str(self.ids.get(code, ""))) or self.new_digits
                length = lengths[code] = length + digits + 1
        blamed: dict[str, None] = {}
        for code, length in lengths.items():
            if length > MAX_PATH:
                at = code
                while at is not None and not (at in self.rows and self.placed(at)):
                    at = self.parent(at)
                if at is not None:
                    blamed[at] = None
        return [(code, "parent", invalid("parentId", "reason.org_tree_depth")) for code in blamed]
