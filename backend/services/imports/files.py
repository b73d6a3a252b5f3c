"""Import and export files: CSV and XLSX, read and written as streams.

Reading gives ``(row number as the spreadsheet shows it, cells)`` for every row that has a cell,
the header row included, without ever holding the file: CSV through ``csv.reader`` over a text
stream, XLSX through ``xlsx.read_rows``. The format is told by the content, not the name:

- a zip is a workbook (``PK``), an OLE file an old ``.xls`` (refused: save it as ``.xlsx``);
- anything else is CSV, in UTF-8 (with or without BOM) or GB18030 (a superset of GBK, what Excel in
  China writes): a BOM decides, else the first 64 KiB decode as UTF-8 or it is GB18030;
- NUL or other control bytes, an empty file or one that decodes in neither: unreadable.

Writing: XLSX with xlsxwriter's constant_memory mode (rows go to disk as they are written; text
always as text, so a cell starting with ``=`` is never a formula), CSV as UTF-8 with a BOM (Excel
opens it in the right encoding). In CSV a text starting with ``= + - @``, a tab or a carriage
return gets a leading ``'`` so a spreadsheet does not run it as a formula, and reading takes that
``'`` off again (round trip).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Generator, Iterator, Sequence
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

from backend.errors import DomainError, ErrorCode
from backend.services.imports.xlsx import Cell, XlsxUnreadable, read_rows

SNIFF_BYTES = 64 * 1024
# csv.reader's own limit on one cell (128 KiB by default); longer cells are refused by the columns'
# checks long before this, so a cell beyond it means the file is not a table.
MAX_CSV_CELL = 1024 * 1024
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP: some spreadsheets skip tab and CR first


class FileFormat(StrEnum):
    """The two formats HR exchanges with Excel."""

    CSV = "csv"
    XLSX = "xlsx"


def unreadable(reason_key: str, **params: Any) -> DomainError:
    """IMPORT_FILE_UNREADABLE saying why (a ``reason.import_*`` message)."""
    return DomainError(ErrorCode.IMPORT_FILE_UNREADABLE, field="file", reason_key=reason_key, **params)


def sniff(path: Path) -> tuple[FileFormat, str | None]:
    """The file's format and, for CSV, its encoding; IMPORT_FILE_UNREADABLE when it is neither."""
    with path.open("rb") as stream:
        head = stream.read(SNIFF_BYTES)
        complete = len(head) < SNIFF_BYTES
    if not head.strip():
        raise unreadable("reason.import_empty")
    if head.startswith(b"PK\x03\x04"):
        return FileFormat.XLSX, None
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise unreadable("reason.import_xls")
    return FileFormat.CSV, _encoding(head, complete)


def _encoding(head: bytes, complete: bool) -> str:
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head:
        raise unreadable("reason.import_not_table")
    else:
        encoding = "utf-8" if _decodes(head, "utf-8", complete) else "gb18030"
    if not _decodes(head, encoding, complete):
        raise unreadable("reason.import_encoding")
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=complete)
    if _CONTROL.search(text):
        raise unreadable("reason.import_not_table")
    return encoding


def _decodes(head: bytes, encoding: str, complete: bool) -> bool:
    try:
        # Incremental: the 64 KiB may end inside a character.
        codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def read_table(path: Path) -> Generator[tuple[int, list[Cell]], None, None]:
    """Every row of the file that has a non-blank cell, with its row number (1 for the first
    line or row), the header included. IMPORT_FILE_UNREADABLE when the file turns out not to be
    readable, also part-way through."""
    file_format, encoding = sniff(path)
    if file_format is FileFormat.XLSX:
        with path.open("rb") as stream:
            try:
                yield from read_rows(stream)
            except XlsxUnreadable as exc:
                raise unreadable(exc.reason_key) from None
        return
    assert encoding is not None
    yield from _csv_rows(path, encoding)


def _csv_rows(path: Path, encoding: str) -> Iterator[tuple[int, list[Cell]]]:
    number = 0
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
        reader = csv.reader(text)
        try:
            for number, row in enumerate(reader, start=1):
                if any(cell.strip() for cell in row):
                    yield number, [_unquoted(cell) for cell in row]
        except UnicodeDecodeError:
            raise unreadable("reason.import_encoding_at", row=number + 1) from None
        except csv.Error:
            raise unreadable("reason.import_bad_csv", row=number + 1) from None


def _unquoted(cell: str) -> str:
    """A cell as written, but for the ``'`` a CSV export puts before a formula-like text."""
    if cell.startswith("'") and cell[1:2] and cell[1] in "=+-@":
        return cell[1:]
    return cell


csv.field_size_limit(MAX_CSV_CELL)


# --- writing ------------------------------------------------------------------------------------

WriteCell = str | int | float | Decimal | date | datetime | bool | None


class TableWriter:
    """Rows written one at a time to a CSV or XLSX file; ``close`` finishes the file. An XLSX file
    may get a second sheet of notes (the columns explained)."""

    def __init__(self, path: Path, file_format: FileFormat, sheet_name: str = "data", zone: tzinfo = UTC) -> None:
        self.format = file_format
        self.zone = zone  # stored moments are UTC; the file shows them as the company's wall time
        self.rows = 0
        if file_format is FileFormat.XLSX:
            self.workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
            self.sheet = self.workbook.add_worksheet(sheet_name[:31])
            self.bold = self.workbook.add_format({"bold": True})
            self.day = self.workbook.add_format({"num_format": "yyyy-mm-dd"})
            self.moment = self.workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        else:
            # utf-8-sig: the BOM tells Excel the file is UTF-8.
            self.stream = path.open("w", encoding="utf-8-sig", newline="")
            self.writer = csv.writer(self.stream)

    def header(self, names: Sequence[str], widths: Sequence[int] | None = None) -> None:
        """The header row (bold in XLSX, with column widths when given)."""
        if self.format is FileFormat.XLSX:
            for index, width in enumerate(widths or []):
                self.sheet.set_column(index, index, width)
            self.sheet.write_row(self.rows, 0, list(names), self.bold)
            self.rows += 1
        else:
            self.row(list(names))

    def row(self, cells: Sequence[WriteCell]) -> None:
        if self.format is FileFormat.CSV:
            self.writer.writerow(csv_cells(cells, self.zone))
        else:
            for column, cell in enumerate(cells):
                self._xlsx_cell(column, cell)
        self.rows += 1

    def _xlsx_cell(self, column: int, cell: WriteCell) -> None:
        if cell is None or cell == "":
            return
        if isinstance(cell, bool):
            self.sheet.write_string(self.rows, column, "true" if cell else "false")
        elif isinstance(cell, datetime):
            self.sheet.write_datetime(self.rows, column, wall_time(cell, self.zone), self.moment)
        elif isinstance(cell, date):
            self.sheet.write_datetime(self.rows, column, datetime(cell.year, cell.month, cell.day), self.day)
        elif isinstance(cell, int | float | Decimal):
            self.sheet.write_number(self.rows, column, float(cell))
        else:
            self.sheet.write_string(self.rows, column, cell)  # never a formula

    def notes(self, title: str, rows: Sequence[Sequence[str]], widths: Sequence[int] = ()) -> None:
        """A second sheet explaining the columns (XLSX only; a CSV file holds one table)."""
        if self.format is not FileFormat.XLSX:
            return
        sheet = self.workbook.add_worksheet(title[:31])
        for index, width in enumerate(widths):
            sheet.set_column(index, index, width)
        for number, cells in enumerate(rows):
            sheet.write_row(number, 0, list(cells), self.bold if number == 0 else None)

    def close(self) -> None:
        if self.format is FileFormat.XLSX:
            self.workbook.close()
        else:
            self.stream.close()


def wall_time(moment: datetime, zone: tzinfo) -> datetime:
    """A moment as a clock in ``zone`` shows it, without the zone (what a spreadsheet cell holds).
    A naive moment is taken as UTC, as the database stores them."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).replace(tzinfo=None)


def csv_cells(cells: Sequence[WriteCell], zone: tzinfo = UTC) -> list[str]:
    """A row's cells as CSV writes them (formula-like texts behind a ``'``, moments as wall time in
    ``zone`` like the XLSX cells): for writers of their own, e.g. a CSV streamed to a browser."""
    return [_csv_cell(cell, zone) for cell in cells]


def _csv_cell(cell: WriteCell, zone: tzinfo) -> str:
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, datetime):
        return wall_time(cell, zone).isoformat(sep=" ")
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float):
        return repr(cell) if not cell.is_integer() else str(int(cell))
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return str(cell)
