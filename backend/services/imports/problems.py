"""What is wrong with an import file, by row and column: a stable code and a message in zh-CN and en.

A problem's code is one of

- this module's ``ProblemCode``s, for what only a file can get wrong (a column nobody knows, the
  same key twice, a reference to nothing, a cycle, a cell that is not a number or a date); each has
  an ``import.problem.<CODE>`` message in backend/i18n.py;
- the code of a service's refusal of the row (``DomainError``), so a row is judged by the very
  rule that judges the same input through the API: the ``ErrorCode`` (``ALREADY_EXISTS``), or for
  ``VALIDATION`` the reason without its prefix, in upper case (``reason.code_format`` →
  ``CODE_FORMAT``, ``reason.too_long`` → ``TOO_LONG``, ``reason.required`` → ``REQUIRED``).

A job keeps the first ``MAX_KEPT`` problems and counts all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from backend.errors import DomainError, ErrorCode
from backend.i18n import SUPPORTED_LOCALES, translate

MAX_KEPT = 1000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class ProblemCode(StrEnum):
    """Problems only a file can have (each with an ``import.problem.<CODE>`` message)."""

    UNKNOWN_COLUMN = "UNKNOWN_COLUMN"  # a header no column of the kind has (the column is ignored)
    MISSING_COLUMN = "MISSING_COLUMN"  # a required column is not in the header (no row is read)
    DUPLICATE_COLUMN = "DUPLICATE_COLUMN"  # two headers name the same column (the second is ignored)
    DUPLICATE_KEY = "DUPLICATE_KEY"  # the same natural key (code, number) on an earlier row
    UNKNOWN_REFERENCE = "UNKNOWN_REFERENCE"  # a code named in the row is neither in the file nor the company
    CYCLE = "CYCLE"  # org tree or manager chain going round
    FUTURE_DATE = "FUTURE_DATE"  # a date after today where only the past makes sense
    BAD_NUMBER = "BAD_NUMBER"  # not a plain number (full-width digits, 1e30, text)
    BAD_DATE = "BAD_DATE"  # not a YYYY-MM-DD date (nor an Excel date)
    DEPENDS_ON_BAD_ROW = "DEPENDS_ON_BAD_ROW"  # names a row of the file that has problems
    DUPLICATE_HEADQUARTERS = "DUPLICATE_HEADQUARTERS"  # a second headquarters in one file
    STILL_MANAGES = "STILL_MANAGES"  # an employee leaving keeps active reports the file leaves out
    HIRED_ON_CHANGED = "HIRED_ON_CHANGED"  # a hire date other than the one on record
    ROWS_DISAGREE = "ROWS_DISAGREE"  # rows of one course (repeating its columns) say different things
    MODULE_GAP = "MODULE_GAP"  # a course's module numbers skip one (modules run 1..n)
    BAD_SKILL_LEVEL = "BAD_SKILL_LEVEL"  # not "skill code:target level"
    # Why a job FAILED (besides IMPORT_FILE_UNREADABLE): nothing was written.
    INTERRUPTED = "INTERRUPTED"  # its server process stopped while it ran
    CONCURRENT_CHANGE = "CONCURRENT_CHANGE"  # another change wrote the same codes while it ran
    FAILED = "FAILED"  # an unexpected error (logged with the job id)


def _localized(key: str, params: dict[str, Any]) -> dict[str, str]:
    texts = {}
    for locale in SUPPORTED_LOCALES:
        filled = dict(params)
        for name, value in params.items():
            if name.endswith("_key"):  # a message key whose text fills {x}
                filled[name.removesuffix("_key")] = translate(str(value), locale)
            elif isinstance(value, dict):  # a value per language
                filled[name] = value.get(locale, "")
        texts[locale] = translate(key, locale, **filled)
    return texts


def _shown(text: str | None) -> str | None:
    """``text`` with what no database stores as text (U+0000, lone surrogates) shown as U+FFFD: a
    problem quotes the file's cells and headers, and only the first 64 KiB of a CSV are searched
    for control bytes before reading."""
    return None if text is None else _UNSTORABLE.sub("\ufffd", text)


def _shown_all(messages: dict[str, str]) -> dict[str, str]:
    return {locale: _UNSTORABLE.sub("\ufffd", text) for locale, text in messages.items()}


@dataclass(frozen=True)
class Problem:
    """One problem: the spreadsheet's row number (None: the file as a whole), the column's header
    as the file wrote it (None: the whole row), a stable code and the message in each language."""

    row: int | None
    column: str | None
    code: str
    messages: dict[str, str]

    def message(self, locale: str) -> str:
        return self.messages.get(locale) or self.messages.get("zh-CN") or self.code

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "code": self.code, "messages": self.messages}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Problem:
        return cls(data.get("row"), data.get("column"), str(data.get("code")), dict(data.get("messages") or {}))


def problem(row: int | None, column: str | None, code: ProblemCode, /, **params: Any) -> Problem:
    """A problem of ours; ``params`` fill its message (``what_key=`` names a message key, a dict
    holds a value per language)."""
    return Problem(row, _shown(column), code.value, _shown_all(_localized(f"import.problem.{code.value}", params)))


def code_of(error: DomainError) -> str:
    """The problem code of a service's refusal: the ErrorCode, or for VALIDATION its reason."""
    reason = error.params.get("reason_key")
    if error.code is ErrorCode.VALIDATION and isinstance(reason, str) and reason.startswith("reason."):
        return reason.removeprefix("reason.").upper()
    return error.code.value


def from_error(row: int | None, column: str | None, error: DomainError) -> Problem:
    """The problem for a service's refusal of a row; a field name in its message becomes the
    column's header, as people see it in their file."""
    params = dict(error.params)
    if column is not None and "name" in params:
        params["name"] = column
    refused = DomainError(error.code, error.field, **params)
    messages = {locale: refused.message(locale) for locale in SUPPORTED_LOCALES}
    return Problem(row, _shown(column), code_of(error), _shown_all(messages))


class Problems:
    """The problems of one job: the first ``MAX_KEPT`` kept in the order found, all counted, and
    the rows that have at least one (rows to skip)."""

    def __init__(self) -> None:
        self.kept: list[Problem] = []
        self.count = 0
        self.bad_rows: set[int] = set()

    def add(self, found: Problem) -> None:
        self.count += 1
        if len(self.kept) < MAX_KEPT:
            self.kept.append(found)
        if found.row is not None:
            self.bad_rows.add(found.row)

    def add_file_problem(self, found: Problem) -> None:
        """A problem of the header or the file, not of one data row: counted and kept, but no row
        is skipped for it."""
        self.count += 1
        if len(self.kept) < MAX_KEPT:
            self.kept.append(found)

    def sorted(self) -> list[Problem]:
        """The kept problems by row (the file's own first), then as found."""
        return sorted(self.kept, key=lambda p: -1 if p.row is None else p.row)

    def __bool__(self) -> bool:
        return self.count > 0
