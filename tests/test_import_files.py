"""Import files without a database: CSV in UTF-8 (with and without BOM), GBK and GB18030; XLSX
written by xlsxwriter (shared and inline strings, real Excel dates) read as a stream; files that
are neither; headers in either language; strict cells; and the writers' round trip."""

from __future__ import annotations

import codecs
import csv
import io
import tracemalloc
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
import xlsxwriter

from backend.errors import DomainError, ErrorCode
from backend.i18n import MESSAGES, SUPPORTED_LOCALES
from backend.services.imports.files import FileFormat, TableWriter, read_table, sniff
from backend.services.imports.problems import MAX_KEPT, ProblemCode, Problems, problem
from backend.services.imports.registry import KINDS
from backend.services.imports.rows import Column, Header
from backend.services.imports.xlsx import number_text
from backend.services.validation import storable_json

ROWS = [["技能编码", "技能名称", "类别"], ["NEG", "谈判技巧", "销售"], ["RARE-1", "罕见字𠀀㐀", ""]]


def write_csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    text = "\r\n".join(",".join(row) for row in rows) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]], constant_memory: bool = False) -> Path:
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": constant_memory})
    sheet = workbook.add_worksheet("数据")
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    chinese_day = workbook.add_format({"num_format": 'yyyy"年"m"月"d"日"'})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, chinese_day)
            elif isinstance(value, date):
                sheet.write_datetime(r, c, datetime(value.year, value.month, value.day), day)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value)
            elif value is not None:
                sheet.write_string(r, c, str(value))
    workbook.add_worksheet("说明").write_string(0, 0, "not read")
    workbook.close()
    return path


def table(path: Path) -> list[tuple[int, list[object]]]:
    return list(read_table(path))


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"], ids=["utf8", "utf8-bom", "gbk", "gb18030"]
)
def test_csv_in_every_encoding_excel_writes_reads_the_same(tmp_path, encoding):
    rows = ROWS if encoding not in ("gbk",) else ROWS[:2]  # GBK has no 𠀀: GB18030 does
    path = write_csv(tmp_path / "skills.csv", rows, encoding)
    assert sniff(path)[0] is FileFormat.CSV
    assert table(path) == [(number, row) for number, row in enumerate(rows, start=1)]


def test_a_gbk_file_whose_first_64k_are_ascii_is_still_read_as_gb18030_when_utf8_fails(tmp_path):
    path = tmp_path / "late.csv"
    lines = ["技能编码,技能名称"] + [f"A{i},name" for i in range(4000)] + ["Z-1,最后一行"]
    path.write_bytes("\n".join(lines).encode("gb18030"))
    # The first 64 KiB decode as UTF-8 too (the Chinese header is not valid UTF-8, so GB18030 wins).
    assert sniff(path) == (FileFormat.CSV, "gb18030")
    assert table(path)[-1] == (4002, ["Z-1", "最后一行"])


def test_utf8_that_breaks_later_is_unreadable_naming_about_where(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(("code,name\n" + "A,b\n" * 20000).encode() + "Z,坏".encode("gbk") + b"\n")
    with pytest.raises(DomainError) as refused:
        table(path)
    assert refused.value.code is ErrorCode.IMPORT_FILE_UNREADABLE
    # Text is decoded a block ahead of the rows: the row named is the block's, at or before the bad one.
    assert 10000 < refused.value.params["row"] <= 20002
    assert "near row" in refused.value.message("en")


def test_blank_rows_are_skipped_and_rows_keep_their_spreadsheet_numbers(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text('code,name\n\n,,\nA,"two\nlines"\n', encoding="utf-8")
    assert table(path) == [(1, ["code", "name"]), (4, ["A", "two\nlines"])]


def test_xlsx_with_shared_strings_dates_and_numbers(tmp_path):
    rows = [
        ["Code", "Day", "Moment", "Number", "Big", "Text"],
        ["A-1", date(2025, 3, 1), datetime(2024, 12, 31, 0, 0), 31.2, 1e30, "=1+1"],
        ["A-2", None, None, 7, -0.5, "  spaced  "],
    ]
    path = write_xlsx(tmp_path / "shared.xlsx", rows)
    assert sniff(path) == (FileFormat.XLSX, None)
    assert table(path) == [
        (1, rows[0]),
        (2, ["A-1", date(2025, 3, 1), date(2024, 12, 31), "31.2", "1e+30", "=1+1"]),
        (3, ["A-2", None, None, "7", "-0.5", "  spaced  "]),
    ]


def test_xlsx_constant_memory_files_use_inline_strings_and_read_alike(tmp_path):
    rows = [["技能编码", "技能名称"], ["NEG", "谈判技巧"], ["RARE-1", "罕见字𠀀"]]
    path = write_xlsx(tmp_path / "inline.xlsx", rows, constant_memory=True)
    with zipfile.ZipFile(path) as archive:
        assert "inlineStr" in archive.read("xl/worksheets/sheet1.xml").decode()
    assert table(path) == [(1, rows[0]), (2, rows[1]), (3, rows[2])]


def test_reading_a_large_xlsx_holds_one_chunk_of_rows_not_the_sheet(tmp_path):
    rows: list[list[object]] = [["Code", "Name", "Address"]]
    rows += [[f"C-{i:06d}", f"名称 {i}", f"上海市浦东新区世纪大道 {i} 号"] for i in range(30000)]
    path = write_xlsx(tmp_path / "big.xlsx", rows, constant_memory=True)
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_table(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 30001
    assert peak < 8 * 1024 * 1024, peak  # the rows themselves would be ~10 MB as Python lists


def test_number_text_is_the_shortest_form():
    assert [number_text(raw) for raw in ("3", "3.0", "31.199999999999999", "1E+30", "-0.5")] == [
        "3",
        "3",
        "31.2",
        "1e+30",
        "-0.5",
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (bytes(range(256)) * 4, "neither a CSV nor an XLSX"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, ".xls"),
        (codecs.BOM_UTF16_LE + "code,name\n".encode("utf-16-le"), "neither a CSV nor an XLSX"),
        (b"\x81\x30\xff\xff\xfe\x80" * 10, "encoding"),
    ],
    ids=["empty", "blank", "binary", "xls", "utf16", "bad-bytes"],
)
def test_files_that_are_not_tables_are_unreadable_with_a_reason(tmp_path, content, reason):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    with pytest.raises(DomainError) as refused:
        table(path)
    assert refused.value.code is ErrorCode.IMPORT_FILE_UNREADABLE and refused.value.field == "file"
    assert reason in refused.value.message("en")
    assert refused.value.message("zh-CN").startswith("无法读取导入文件")


def test_a_zip_that_is_not_a_workbook_and_a_broken_workbook_are_unreadable(tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    (tmp_path / "a.xlsx").write_bytes(archive.getvalue())
    good = write_xlsx(tmp_path / "good.xlsx", [["Code"], ["A"]]).read_bytes()
    (tmp_path / "b.xlsx").write_bytes(good[: len(good) // 2])
    messages = []
    for name in ("a.xlsx", "b.xlsx"):
        with pytest.raises(DomainError) as refused:
            table(tmp_path / name)
        messages.append(refused.value.message("en"))
    assert "not an Excel workbook" in messages[0] and "damaged" in messages[1]


COLUMNS = KINDS["sites"].columns


def test_headers_in_either_language_in_any_order_with_unknown_and_missing_columns():
    header = Header(COLUMNS, 1, ["Name", " 地点编码 ", "Time  Zone", "备注", "name"], "zh-CN")
    assert [c.key for c in header.positions.values()] == ["name", "code", "time_zone"]
    assert [(p.code, p.column) for p in header.problems] == [
        ("UNKNOWN_COLUMN", "备注"),
        ("DUPLICATE_COLUMN", "name"),
    ]
    assert header.complete and header.column_name("timeZone") == "Time  Zone"
    missing = Header(COLUMNS, 3, ["Name", "Address"], "en")
    assert not missing.complete and [(p.row, p.code, p.column) for p in missing.problems] == [
        (3, "MISSING_COLUMN", "Code")
    ]
    assert "Code, Name" in missing.problems[0].message("en") or "Code" in missing.problems[0].message("en")
    assert not Header(COLUMNS, 1, ["x", "y"], "en").recognised


def test_cells_are_read_strictly_and_problems_land_on_their_column():
    columns = (Column("amount", "数量", "Amount"), Column("day", "日期", "Day"), Column("note", "备注", "Note"))
    header = Header(columns, 1, ["数量", "Day", "Note"], "en")
    today = date(2026, 1, 10)
    good = header.cells(2, [" 12.5 ", date(2026, 1, 9), "  hi  "])
    assert (good.number("amount"), good.day("day", today), good.text("note")) == (
        __import__("decimal").Decimal("12.5"),
        date(2026, 1, 9),
        "hi",
    )
    assert not good.problems
    for amount in ("３１", "1e30", "12,5", "NaN"):
        cells = header.cells(3, [amount, "2026-1-9", "a\x00b"])
        assert (cells.number("amount"), cells.day("day"), cells.text("note")) == (None, None, None)
        assert [(p.code, p.column) for p in cells.problems] == [
            ("BAD_NUMBER", "数量"),
            ("BAD_DATE", "Day"),
            ("TEXT_CHARS", "Note"),
        ]
    future = header.cells(4, ["", "2026-01-11", ""])
    assert (future.number("amount"), future.day("day", today)) == (None, None)
    assert [p.code for p in future.problems] == ["FUTURE_DATE"] and "2026-01-11" in future.problems[0].message("en")
    assert header.cells(5, ["1.5"]).integer("amount") is None


@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "surrogate"])
def test_problems_quoting_a_cell_hold_no_text_a_database_cannot_store(bad):
    # Only the first 64 KiB of a CSV are searched for control bytes: a cell or header further on
    # may hold U+0000, which PostgreSQL refuses in JSON; the job's problems must still be saved.
    columns = (Column("day", "日期", "Day"),)
    header = Header(columns, 1, ["Day", f"x{bad}y"], "en")
    cells = header.cells(2, [f"20{bad}26-01-01"])
    assert cells.day("day") is None
    found = [*header.problems, *cells.problems]
    assert [p.code for p in found] == ["UNKNOWN_COLUMN", "BAD_DATE"]
    for shown in found:
        assert storable_json(shown.to_json()), shown
    assert found[0].column == "x\ufffdy" and "20\ufffd26-01-01" in found[1].message("en")


def test_a_job_keeps_the_first_problems_and_counts_all():
    problems = Problems()
    for row in range(2, MAX_KEPT + 502):
        problems.add(problem(row, "Code", ProblemCode.DUPLICATE_KEY, value="A", first_row=1))
    assert problems.count == MAX_KEPT + 500 and len(problems.kept) == MAX_KEPT
    assert len(problems.bad_rows) == MAX_KEPT + 500


def test_every_problem_code_has_a_message_in_every_language():
    for code in ProblemCode:
        texts = MESSAGES.get(f"import.problem.{code.value}")
        assert texts and all(texts.get(locale) for locale in SUPPORTED_LOCALES), code


def test_a_csv_export_never_starts_a_cell_with_what_a_spreadsheet_runs(tmp_path):
    # OWASP's list: = + - @ and also tab and carriage return, which some spreadsheets skip
    # before they look for a formula.
    path = tmp_path / "out.csv"
    writer = TableWriter(path, FileFormat.CSV)
    cells = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=cmd|' /C calc'!A0", "\r=1+1", "ok"]
    writer.row(cells)
    writer.close()
    text = path.read_bytes().decode("utf-8-sig")
    written = next(csv.reader(io.StringIO(text, newline="")))
    assert written == ["'" + cell for cell in cells[:-1]] + ["ok"]


@pytest.mark.parametrize("fmt", list(FileFormat))
def test_writers_round_trip_through_the_readers(tmp_path, fmt):
    path = tmp_path / f"out.{fmt.value}"
    writer = TableWriter(path, fmt, "技能")
    writer.header(["编码", "名称", "数", "日期", "是否"])
    rows = [["=SUM(A1)", "-3 点", 31.2, date(2026, 2, 3), True], ["+86 138", "@home", 7, None, False]]
    for row in rows:
        writer.row(row)
    writer.notes("说明", [["列", "说明"], ["编码", "…"]])
    writer.close()
    if fmt is FileFormat.CSV:
        raw = path.read_bytes()
        assert raw.startswith(codecs.BOM_UTF8) and b"'=SUM(A1)" in raw  # a spreadsheet shows it as text
    read = table(path)
    day = date(2026, 2, 3) if fmt is FileFormat.XLSX else "2026-02-03"  # a CSV cell is text
    assert read[1][1][:4] == ["=SUM(A1)", "-3 点", "31.2", day]
    empty = None if fmt is FileFormat.XLSX else ""  # the header of the rows reads both as absent
    assert read[1][1][4] == "true" and read[2][1] == ["+86 138", "@home", "7", empty, "false"]
