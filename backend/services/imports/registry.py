"""The import kinds, by the name the CLI and the API use: adding a kind is its module and a line
here (tests/test_imports.py fails when a kind lacks columns, a template, an export or messages).

A kind's module is imported when the kind is first asked for: ``xuefen import employees`` does not
load the history import's services (records, credits, quizzes), a fifth of a second of every
command's start."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from importlib import import_module
from typing import Any

from backend.errors import DomainError, ErrorCode
from backend.services.imports.kinds import ImportKind

# name → (module in backend.services.imports, class), in the order the kinds are listed
_KIND_CLASSES: dict[str, tuple[str, str]] = {
    "sites": ("master_data", "SitesKind"),
    "skills": ("master_data", "SkillsKind"),
    "org_units": ("structure", "OrgUnitsKind"),
    "positions": ("structure", "PositionsKind"),
    "position_skills": ("structure", "PositionSkillsKind"),
    "employees": ("employees", "EmployeesKind"),
    "courses": ("courses", "CoursesKind"),
    "history": ("history_import", "HistoryKind"),
    "opening_balances": ("opening_import", "OpeningBalancesKind"),
}


class _Kinds(MutableMapping[str, ImportKind[Any]]):
    """Each kind by name, made (its module imported) at the first look-up."""

    def __init__(self) -> None:
        self._kinds: dict[str, ImportKind[Any] | None] = dict.fromkeys(_KIND_CLASSES)  # None: not made yet

    def __getitem__(self, name: str) -> ImportKind[Any]:
        kind = self._kinds[name]  # KeyError for another name, as a dict
        if kind is None:
            module, class_name = _KIND_CLASSES[name]
            kind = self._kinds[name] = getattr(import_module(f"backend.services.imports.{module}"), class_name)()
        return kind

    def __setitem__(self, name: str, kind: ImportKind[Any]) -> None:
        self._kinds[name] = kind

    def __delitem__(self, name: str) -> None:
        del self._kinds[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)


KINDS: MutableMapping[str, ImportKind[Any]] = _Kinds()


def kind_named(name: object, field: str = "kind") -> ImportKind[Any]:
    """The kind called ``name``; VALIDATION naming the kinds there are otherwise."""
    kind = KINDS.get(name.strip().lower()) if isinstance(name, str) else None
    if kind is None:
        raise DomainError(
            ErrorCode.VALIDATION, field=field, reason_key="reason.import_kind", name=field, kinds=", ".join(KINDS)
        )
    return kind
