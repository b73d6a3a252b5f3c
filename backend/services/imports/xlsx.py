"""Reading the first worksheet of an XLSX workbook row by row, with openpyxl in read-only mode.

Read-only mode streams the sheet's XML a row at a time; what it holds whole is the shared-string
table (each distinct text once, about 4 bytes of memory per byte of its XML; xlsxwriter's
constant_memory files have none) and the small parts (workbook, styles). Its parser also keeps an
emptied element per row read (~85 bytes), so memory grows slowly with the rows. Measured on a
generated 200,000-row, six-column sheet (CPU time of ``read_rows`` alone): inline strings 44 MB
peak RSS and about 17,000 rows a second; 139 MB and about 19,000 rows a second when 600,000 of its
cells are distinct shared strings; 600,000 inline rows peak at 77 MB. (The hand-written expat
reader this replaced: 16 and 34 MB, about 37,000 and 34,000 rows a second, constant in the rows.)

The rows come from openpyxl's own worksheet parser (what ``iter_rows`` runs), but for the text of
inline strings (what xlsxwriter's constant_memory mode and many exports write), read straight from
the XML instead of through openpyxl's ``Text`` object model: the same text at a third of the cost
(a 20,000-row, twelve-column sheet: 1.6 s → 1.0 s).

Before openpyxl sees the file, its zip directory is checked: a part that unpacks to far more than
it packs, parts openpyxl reads whole beyond ``MAX_WHOLE_PART_BYTES`` or a total beyond
``MAX_UNPACKED_BYTES`` are refused, so a zip bomb costs nothing (zipfile itself stops a part at the
size the directory declares).

Cells come back as an import needs them: numbers as their shortest text (``3``, ``31.2``,
``1e+30``) so the strict number reader of the row decides what a number may be; date cells as
``date`` (midnight) or ``datetime`` (to the second); booleans as ``true``/``false``; empty cells as
None, and a row's empty cells at its end left off.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import IO, Any

from openpyxl import load_workbook
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS

Cell = str | date | datetime | None

# Refusals carry a reason key (backend/i18n.py) the caller turns into IMPORT_FILE_UNREADABLE.
MAX_UNPACKED_BYTES = 8 * 1024**3  # all parts together; the sheet itself is streamed
MAX_WHOLE_PART_BYTES = 128 * 1024**2  # one XML part openpyxl reads whole (shared strings: ~0.5 GB)
MAX_RATIO = 100  # unpacked / packed; real sheets are 5-20, a zip bomb ~1000
_RATIO_FROM = 1024**2  # smaller parts may compress as they like
_ENCRYPTED = 0x1  # zip flag bit 0
# Date formats Excel in China writes by built-in id without spelling them out (ECMA-376 18.8.30,
# zh-CN: 27 yyyy"年"m"月", 31 yyyy"年"m"月"d"日", 50-58 ...); openpyxl knows only the ids every
# locale shares, so these would come back as bare numbers.
_EAST_ASIAN_DATE_FORMAT_IDS = frozenset([*range(27, 37), *range(50, 59)])
# What openpyxl, zipfile and the XML parser raise on a damaged part (ParseError is a SyntaxError;
# RuntimeError: an encrypted part; NotImplementedError: an unknown compression).
_INLINE_STRING = f"{{{SHEET_MAIN_NS}}}is"
_TEXT = f"{{{SHEET_MAIN_NS}}}t"
_RUN = f"{{{SHEET_MAIN_NS}}}r"
_DAMAGED = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    AttributeError,
    SyntaxError,
    RuntimeError,
    NotImplementedError,
)


class XlsxUnreadable(Exception):
    """The file is a zip but not a workbook we can read; ``reason_key`` says why."""

    def __init__(self, reason_key: str) -> None:
        super().__init__(reason_key)
        self.reason_key = reason_key


def number_text(raw: str) -> str:
    """A number cell as the shortest text that is the same number (``3``, ``31.2``, ``1e+30``)."""
    try:
        value = float(raw)
    except ValueError:
        return raw
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def read_rows(stream: IO[bytes]) -> Iterator[tuple[int, list[Cell]]]:
    """(row number as the spreadsheet shows it, cells by column from A) for every row of the
    first worksheet that has a non-empty cell; raises XlsxUnreadable for a zip that is not a
    readable workbook, also part-way through."""
    _check_archive(stream)
    stream.seek(0)
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except OSError as exc:  # openpyxl: "File contains no valid workbook part"
        raise XlsxUnreadable("reason.import_not_xlsx") from exc
    except _DAMAGED as exc:
        raise XlsxUnreadable("reason.import_bad_xlsx") from exc
    try:  # read-only mode keeps the archive open until the workbook is closed
        yield from _sheet_rows(workbook)
    finally:
        workbook.close()


def _check_archive(stream: IO[bytes]) -> None:
    """Refuse, from the zip directory alone, what is not a workbook or would unpack too far."""
    try:
        with zipfile.ZipFile(stream) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise XlsxUnreadable("reason.import_bad_xlsx") from exc
    if "[Content_Types].xml" not in {part.filename for part in parts}:
        raise XlsxUnreadable("reason.import_not_xlsx")
    total = 0
    for part in parts:
        if part.flag_bits & _ENCRYPTED:
            raise XlsxUnreadable("reason.import_bad_xlsx")
        total += part.file_size
        read_whole = part.filename.endswith((".xml", ".rels")) and not part.filename.startswith("xl/worksheets/")
        if (
            total > MAX_UNPACKED_BYTES
            or (read_whole and part.file_size > MAX_WHOLE_PART_BYTES)
            or (part.file_size > _RATIO_FROM and part.file_size > MAX_RATIO * part.compress_size)
        ):
            raise XlsxUnreadable("reason.import_too_large")


def _sheet_rows(workbook: Workbook) -> Iterator[tuple[int, list[Cell]]]:
    sheet = workbook.worksheets[0] if workbook.worksheets else None
    if not isinstance(sheet, ReadOnlyWorksheet):  # a workbook without a worksheet
        raise XlsxUnreadable("reason.import_not_xlsx")
    _see_east_asian_dates(workbook)
    try:
        # As iter_rows(values_only=True) reads them, to the end (whatever <dimension> the file
        # declares): a row numbered before one already read is left out, a row is as wide as its
        # last cell (cells after it are left out).
        with sheet._get_source() as source:  # type: ignore[attr-defined]
            parser = _Parser(
                source,
                sheet._shared_strings,  # type: ignore[attr-defined]
                data_only=True,
                epoch=workbook.epoch,
                date_formats=workbook._date_formats,  # type: ignore[attr-defined]
                timedelta_formats=workbook._timedelta_formats,  # type: ignore[attr-defined]
            )
            following = 1
            for number, found in parser.parse():
                if number < following:
                    continue
                following = number + 1
                width = found[-1]["column"] if found else 0
                values: list[object] = [None] * width
                for cell in found:
                    if 1 <= cell["column"] <= width:
                        values[cell["column"] - 1] = cell["value"]
                cells = [_cell(value) for value in values]
                while cells and cells[-1] is None:
                    cells.pop()
                if cells:
                    yield number, cells
    except _DAMAGED as exc:
        raise XlsxUnreadable("reason.import_bad_xlsx") from exc


class _Parser(WorkSheetParser):
    """openpyxl's worksheet parser with the text of an inline string read straight from its
    elements: the plain text and each rich run's (not the phonetic runs), as ``Text.content``."""

    def parse_cell(self, element: Any) -> dict[str, Any]:
        inline = element.find(_INLINE_STRING) if element.get("t") == "inlineStr" else None
        if inline is None or not self.data_only:
            return super().parse_cell(element)
        coordinate = element.get("r")
        if coordinate:
            row, column = coordinate_to_tuple(coordinate)
            self.col_counter = column
        else:
            self.col_counter += 1
            row, column = self.row_counter, self.col_counter
        parts = [inline.findtext(_TEXT) or "", *(run.findtext(_TEXT) or "" for run in inline.iterfind(_RUN))]
        style = element.get("s")
        return {"row": row, "column": column, "value": "".join(parts), "data_type": "s", "style_id": int(style or 0)}


def _see_east_asian_dates(workbook: Workbook) -> None:
    """Count the cell styles with a zh-CN built-in date format among openpyxl's date styles (it
    reads ``_date_formats`` when it turns a number into a date)."""
    date_styles = getattr(workbook, "_date_formats", None)
    if not isinstance(date_styles, set):
        return
    for index, style in enumerate(getattr(workbook, "_cell_styles", ())):
        if getattr(style, "numFmtId", None) in _EAST_ASIAN_DATE_FORMAT_IDS:
            date_styles.add(index)


def _cell(value: object) -> Cell:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return number_text(str(value))
    if isinstance(value, float):
        return number_text(repr(value))
    if isinstance(value, datetime):
        # To the second (openpyxl rounds to the millisecond); a date cell shows midnight.
        moment = value.replace(microsecond=0) + timedelta(seconds=round(value.microsecond / 1e6))
        return moment.date() if moment.time() == time() else moment
    if isinstance(value, date):
        return value
    if isinstance(value, time):  # a time-of-day cell (a date format, serial below 1)
        return value.replace(microsecond=0).isoformat()
    return str(value)  # a duration ([h]:mm format) as openpyxl gives it
