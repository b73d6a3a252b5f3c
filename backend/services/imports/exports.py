"""Templates and exports: a kind's columns as an empty file to fill in, and a company's rows in the
very same columns, so an export imported again changes nothing.

Both write a header row in the chosen language (imports read either language's headers); an XLSX
file also gets a second sheet explaining each column. Exports stream: rows are read a page at a
time and written as they come (xlsxwriter's constant_memory mode), never held all at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backend.errors import DomainError, ErrorCode
from backend.i18n import translate
from backend.services.imports.files import FileFormat, TableWriter, WriteCell
from backend.services.imports.kinds import ImportKind


def file_format(value: object, field: str = "format") -> FileFormat:
    """``xlsx`` or ``csv``; VALIDATION otherwise."""
    try:
        return FileFormat(str(value).strip().lower())
    except ValueError:
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.import_format", name=field) from None


def _writer(kind: ImportKind[Any], path: Path, fmt: FileFormat, locale: str) -> TableWriter:
    writer = TableWriter(path, fmt, kind.title(locale))
    headers = [column.header(locale) for column in kind.columns]
    writer.header(headers, [max(12, 2 * len(header) + 4) for header in headers])
    return writer


def _notes(kind: ImportKind[Any], writer: TableWriter, locale: str) -> None:
    yes, no = translate("import.yes", locale), translate("import.no", locale)
    rows = [
        [translate(f"import.notes.{name}", locale) for name in ("column", "required", "description")],
        *([c.header(locale), yes if c.required else no, c.description(locale)] for c in kind.columns),
    ]
    writer.notes(translate("import.notes.title", locale), rows, (16, 8, 80))


def write_template(kind: ImportKind[Any], path: Path, fmt: FileFormat, locale: str) -> None:
    """The kind's header row (and, in XLSX, a sheet explaining the columns)."""
    writer = _writer(kind, path, fmt, locale)
    _notes(kind, writer, locale)
    writer.close()


def cell_text(value: WriteCell, locale: str) -> WriteCell:
    """A stored value as the file shows it: yes/no in the file's language for booleans."""
    if isinstance(value, bool):
        return translate("import.yes" if value else "import.no", locale)
    return value


async def write_export(kind: ImportKind[Any], tenant_id: int, path: Path, fmt: FileFormat, locale: str) -> int:
    """The company's rows of ``kind`` in the template's columns; the number of rows written."""
    writer = _writer(kind, path, fmt, locale)
    try:
        async for cells in kind.export_rows(tenant_id):
            writer.row([cell_text(cells.get(column.key), locale) for column in kind.columns])
        _notes(kind, writer, locale)
    finally:
        writer.close()
    return writer.rows - 1
