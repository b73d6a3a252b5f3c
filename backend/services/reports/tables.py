"""A report as a table: what exports write (XLSX, CSV) and what the CLI prints progress for.

Each report module gives ``async def export_table(viewer, options) -> Table``: its columns (with
zh-CN and en headers) and its rows as an async iterator, read as they are written, so a large
export never sits in memory. ``registry.REPORTS`` lists them by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo

from backend.services.imports.files import WriteCell
from backend.services.reports.frame import Dimension, ReportFilter


@dataclass(frozen=True)
class Column:
    """One column: its headers in both languages and its width in XLSX."""

    zh: str
    en: str
    width: int = 14

    def header(self, locale: str) -> str:
        return self.en if locale == "en" else self.zh


@dataclass
class Table:
    """A report's file: a title per language, columns, and rows read lazily. ``total`` is how
    many rows will come when known (for a progress bar), else None."""

    title_zh: str
    title_en: str
    columns: Sequence[Column]
    rows: AsyncIterator[Sequence[WriteCell]]
    total: int | None = None
    zone: tzinfo = UTC  # the company's zone: moments are written as its wall time (``report_table``)

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_zh

    @classmethod
    def of_lines(cls, title_zh: str, title_en: str, columns: Sequence[Column], lines: list[list[WriteCell]]) -> Table:
        """A table of rows already in hand (a small report computed whole)."""

        async def rows() -> AsyncIterator[Sequence[WriteCell]]:
            for line in lines:
                yield line

        return cls(title_zh, title_en, columns, rows(), len(lines))


@dataclass(frozen=True)
class ReportOptions:
    """What an export is asked about: the filter (period reports), a breakdown, and for the
    reports about one thing, the employee, quiz or manager (ids of the viewer's company)."""

    filter: ReportFilter | None = None
    breakdown: Dimension | None = None
    employee_id: int | None = None
    quiz_id: int | None = None
    manager_id: int | None = None
