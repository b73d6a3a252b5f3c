"""The columns of an import kind, the header row that names them, and the cells of one row.

A kind declares its columns (a stable key, the zh-CN and en headers, whether it is required, what
goes in it). The header row may use either language's names (or the keys), in any order; cells
are trimmed, and an empty cell is an absent value. Typed reads are strict: a number in ASCII
digits without exponent (``３１`` and ``1e30`` are problems, not crashes), a date written
``YYYY-MM-DD`` or a real Excel date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from backend.errors import DomainError
from backend.services.imports.problems import Problem, ProblemCode, Problems, from_error, problem
from backend.services.imports.xlsx import Cell
from backend.services.validation import EARLIEST_DAY, LATEST_DAY, invalid, parse_day, parse_decimal, storable


@dataclass(frozen=True)
class Column:
    """One column of a kind's file. ``field`` is the name the service's check gives the value
    (``timeZone``) when it differs from ``key``; its refusals land on this column."""

    key: str
    zh: str
    en: str
    required: bool = False
    description_zh: str = ""
    description_en: str = ""
    field: str | None = None

    def header(self, locale: str) -> str:
        return self.en if locale == "en" else self.zh

    def description(self, locale: str) -> str:
        return self.description_en if locale == "en" else self.description_zh

    @property
    def field_name(self) -> str:
        return self.field or self.key


def _normal(name: str) -> str:
    return " ".join(name.split()).casefold()


class Header:
    """The header row of a file, matched to a kind's columns."""

    def __init__(self, columns: Sequence[Column], row: int, cells: Sequence[Cell], locale: str) -> None:
        self.columns = list(columns)
        self.row = row
        self.locale = locale
        known: dict[str, Column] = {}
        for column in columns:
            for name in (column.zh, column.en, column.key):
                known[_normal(name)] = column
        self.positions: dict[int, Column] = {}  # cell index → column
        self.written: dict[str, str] = {}  # column key → header as the file writes it
        self.problems: list[Problem] = []
        for index, cell in enumerate(cells):
            text = cell.strip() if isinstance(cell, str) else ("" if cell is None else str(cell))
            if not text:
                continue
            found = known.get(_normal(text))
            if found is None:
                expected = {"zh-CN": "、".join(c.zh for c in columns), "en": ", ".join(c.en for c in columns)}
                self.problems.append(problem(row, text, ProblemCode.UNKNOWN_COLUMN, column=text, expected=expected))
            elif found.key in self.written:
                self.problems.append(problem(row, text, ProblemCode.DUPLICATE_COLUMN, column=text))
            else:
                self.positions[index] = found
                self.written[found.key] = text
        for column in columns:
            if column.required and column.key not in self.written:
                name = column.header(locale)
                self.problems.append(problem(row, name, ProblemCode.MISSING_COLUMN, column=name))

    @property
    def recognised(self) -> bool:
        """Whether the row names at least one column (else it is not a header at all)."""
        return bool(self.positions)

    @property
    def complete(self) -> bool:
        """Whether every required column is there (rows can be read)."""
        return all(not column.required or column.key in self.written for column in self.columns)

    def column_name(self, key_or_field: str | None) -> str | None:
        """The header people see for a column key or a service's field name (None: not a column)."""
        for column in self.columns:
            if key_or_field in (column.key, column.field_name):
                return self.written.get(column.key) or column.header(self.locale)
        return None

    def cells(self, row: int, values: Sequence[Cell]) -> Cells:
        found: dict[str, Cell] = {}
        for index, value in enumerate(values):
            column = self.positions.get(index)
            if column is not None:
                found[column.key] = value
        return Cells(row, found, self)


class RowRefused(Exception):
    """A row has problems (already recorded on its ``Cells``)."""


class Cells:
    """The cells of one data row by column key. Typed reads record a problem and give None when a
    cell does not hold its type; ``check`` then refuses the row before any service check runs."""

    def __init__(self, row: int, values: dict[str, Cell], header: Header) -> None:
        self.row = row
        self.values = values
        self.header = header
        self.problems: list[Problem] = []

    def _refuse(self, key: str, code: ProblemCode, **params: object) -> None:
        self.problems.append(problem(self.row, self.header.column_name(key), code, **params))

    def raw(self, key: str) -> Cell:
        value = self.values.get(key)
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    def text(self, key: str) -> str | None:
        """The cell as text, trimmed; None when empty. A date cell gives its ``YYYY-MM-DD``."""
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, datetime):
            value = value.isoformat(sep=" ")
        elif isinstance(value, date):
            value = value.isoformat()
        if not storable(value):
            self.problems.append(from_error(self.row, self.header.column_name(key), invalid(key, "reason.text_chars")))
            return None
        return value

    def number(self, key: str) -> Decimal | None:
        """A plain decimal (``12.5``, ``-3``); BAD_NUMBER for anything else."""
        value = self.text(key)
        if value is None:
            return None
        try:
            return parse_decimal(value, key)
        except DomainError:
            self._refuse(key, ProblemCode.BAD_NUMBER, value=value)
            return None

    def integer(self, key: str) -> int | None:
        """A whole number (``3``); BAD_NUMBER for anything else."""
        number = self.number(key)
        if number is None:
            return None
        if number != number.to_integral_value():
            self._refuse(key, ProblemCode.BAD_NUMBER, value=str(number))
            return None
        return int(number)

    def day(self, key: str, not_after: date | None = None) -> date | None:
        """A date (``YYYY-MM-DD`` or an Excel date); BAD_DATE, or FUTURE_DATE after ``not_after``."""
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            day: date | None = value if EARLIEST_DAY <= value <= LATEST_DAY else None
        else:
            try:
                day = parse_day(value, key)
            except DomainError:
                day = None
        if day is None:
            self._refuse(key, ProblemCode.BAD_DATE, value=str(value))
            return None
        if not_after is not None and day > not_after:
            self._refuse(key, ProblemCode.FUTURE_DATE, value=day.isoformat())
            return None
        return day

    def check(self) -> None:
        """Refuse the row (RowRefused) when a typed read found a problem."""
        if self.problems:
            raise RowRefused

    def refusal(self, error: DomainError) -> Problem:
        """The problem for a service's refusal of this row, on the column its field names."""
        return from_error(self.row, self.header.column_name(error.field), error)

    def record(self, problems: Problems) -> None:
        for found in self.problems:
            problems.add(found)
