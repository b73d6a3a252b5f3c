"""Bringing a whole company in, on PostgreSQL: a generated company of 20,000 employees, 1,000 org
units, 500 courses × 4 modules and 1,000,000 history records, imported from XLSX (master data) and
CSV (history) with `xuefen import`, each kind in its own process as IT runs it.

For each file it prints the import's rows/s and peak RSS against two baselines measured in the same
run on the same database: a raw asyncpg ``COPY`` of the file's rows into a scratch table of text
columns (the floor of any loader), and the same ``COPY`` fed by our own streaming file reader
(what a loader that reads the file but checks nothing would do).

    python -m bench.import_company [--database postgres://postgres@127.0.0.1:5432/postgres]
        [--employees 20000] [--org-units 1000] [--courses 500] [--history 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import asyncpg
import xlsxwriter  # type: ignore[import-untyped]

from backend.services.imports.files import read_table

ROOT = Path(__file__).resolve().parent.parent
TENANT = "bench"
MODULE_KINDS = ("LESSON", "LESSON", "QUIZ", "PRACTICE")
SECRET = "bench-secret-key-" + "x" * 32


@dataclass
class Shape:
    employees: int
    org_units: int
    courses: int
    history: int


# --- the generated company ----------------------------------------------------------------------


def org_unit_rows(shape: Shape) -> Iterator[list[object]]:
    """A tree: 10 divisions, each with departments, each with teams."""
    yield ["code", "name", "parent", "closed_on"]
    for number in range(1, shape.org_units + 1):
        parent = "" if number <= 10 else f"U{(number - 1) // 10:04d}"
        yield [f"U{number:04d}", f"部门{number:04d}", parent, None]


def site_rows() -> Iterator[list[object]]:
    yield ["code", "name", "address", "latitude", "longitude", "time_zone", "is_headquarters"]
    for number in range(1, 21):
        yield [
            f"S{number:02d}",
            f"办事处{number:02d}",
            f"某市某路{number}号",
            31.2,
            121.5,
            "Asia/Shanghai",
            number == 1,
        ]


def position_rows() -> Iterator[list[object]]:
    yield ["code", "family", "sequence", "level", "grade"]
    for family in ("SAL", "TEC", "PRD", "MGT", "SUP"):
        for sequence in ("A", "B", "C", "D"):
            for grade in range(1, 6):
                yield [f"{family}-{sequence}-{grade}", f"{family}族", f"{sequence}序列", f"{grade}级", grade]


def skill_rows() -> Iterator[list[object]]:
    yield ["code", "name", "category"]
    for number in range(1, 201):
        yield [f"SK-{number:03d}", f"技能{number:03d}", "通用"]


def employee_no(number: int) -> str:
    return f"{number:05d}-{(number % 90) + 10:02d}"


def employee_rows(shape: Shape) -> Iterator[list[object]]:
    """Managers first in number but not in the file's order: the file is shuffled in blocks."""
    rng = random.Random(13)
    yield ["employee_no", "name", "phone", "email", "org_unit", "position", "site", "manager", "hired_on", "roles"]
    numbers = list(range(1, shape.employees + 1))
    rng.shuffle(numbers)
    for number in numbers:
        manager = "" if number <= 50 else employee_no(rng.randint(1, min(number - 1, 2000)))
        unit = f"U{rng.randint(11, shape.org_units):04d}"
        position = f"{rng.choice(('SAL', 'TEC', 'PRD'))}-{rng.choice('ABCD')}-{rng.randint(1, 5)}"
        roles = "MANAGER" if number <= 2000 else ""
        hired = date(2015, 1, 1) + timedelta(days=number % 3000)
        yield [
            employee_no(number),
            f"员工{number}",
            "",
            "",
            unit,
            position,
            f"S{number % 20 + 1:02d}",
            manager,
            hired,
            roles,
        ]


def course_code(number: int) -> str:
    return f"T-{number:03d}-01" if number < 1000 else f"T-{number}-01"


def course_rows(shape: Shape) -> Iterator[list[object]]:
    yield [
        "code", "title", "summary", "scenario", "format", "hours", "credits", "requires_approval", "status",
        "module_no", "module_title", "module_kind", "module_credits", "required_count", "requirement", "optional",
    ]  # fmt: skip
    for number in range(1, shape.courses + 1):
        code = course_code(number)
        for module, kind in enumerate(MODULE_KINDS, start=1):
            yield [
                code, f"课程{number}", "概要", "通用", "BLENDED", "4.0", "2.0", "否", "PUBLISHED",
                module, f"模块{module}", kind, "0.5", 1, "", "否",
            ]  # fmt: skip


def history_rows(shape: Shape) -> Iterator[list[object]]:
    """Lessons of published courses over five years, by employees at random (deterministic)."""
    rng = random.Random(7)
    yield ["employee_no", "course_code", "module_no", "activity", "occurred_at", "score", "count", "source"]
    start = datetime(2021, 1, 1, 9, 0)
    for index in range(shape.history):
        number = rng.randint(1, shape.employees)
        course = rng.randint(1, shape.courses)
        module = rng.choice((1, 2))
        moment = start + timedelta(minutes=index * 2)
        yield [
            employee_no(number),
            course_code(course),
            module,
            "LESSON",
            moment.isoformat(sep=" "),
            "",
            1,
            f"旧系统#{index}",
        ]


def write_xlsx(path: Path, rows: Iterator[list[object]]) -> int:
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet, count = workbook.add_worksheet("data"), -1
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for number, row in enumerate(rows):
        for column, cell in enumerate(row):
            if isinstance(cell, date):
                sheet.write_datetime(number, column, datetime(cell.year, cell.month, cell.day), day)
            elif cell is not None and cell != "":
                sheet.write(number, column, cell if not isinstance(cell, bool) else ("是" if cell else "否"))
        count = number
    workbook.close()
    return count


def write_csv(path: Path, rows: Iterator[list[object]]) -> int:
    count = -1
    with path.open("w", encoding="gb18030", newline="") as stream:  # what Excel in China saves
        writer = csv.writer(stream)
        for number, row in enumerate(rows):
            writer.writerow(["" if cell is None else cell for cell in row])
            count = number
    return count


# --- running and measuring --------------------------------------------------------------------------


def _database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def _cli(database: str, *args: str) -> tuple[float, float, str]:
    """Run ``xuefen ARGS`` in its own process: seconds, its peak RSS (MB), its output. The peak
    is measured by GNU time around the process: a child forked from this (large) process would
    report this one's memory as its own."""
    env = {**os.environ, "XUEFEN_DATABASE_URL": database, "XUEFEN_SECRET_KEY": SECRET, "XUEFEN_LOG_LEVEL": "WARNING"}
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        command = ["/usr/bin/time", "-f", "%M", "-o", rss.name, sys.executable, "-m", "backend.cli", *args]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        seconds = time.perf_counter() - start
        peak_kib = int(rss.read().strip().splitlines()[-1])
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise SystemExit(f"xuefen {' '.join(args)} failed: " + output)
    return seconds, peak_kib / 1024, output


async def _copy_baselines(database: str, path: Path) -> tuple[float, float]:
    """Seconds to COPY the file's rows (prepared in memory first), and to COPY them as our reader
    streams them out of the file, into a scratch table of text columns."""
    rows = [[None if cell is None else str(cell) for cell in row] for _, row in read_table(path)]
    header, data = rows[0], rows[1:]
    width = len(header)
    data = [row + [None] * (width - len(row)) for row in data]
    connection = await asyncpg.connect(database)
    try:
        columns = ", ".join(f"c{i} text" for i in range(width))
        await connection.execute(f"DROP TABLE IF EXISTS bench_copy; CREATE UNLOGGED TABLE bench_copy ({columns})")
        start = time.perf_counter()
        await connection.copy_records_to_table("bench_copy", records=data)
        copy_seconds = time.perf_counter() - start
        await connection.execute("TRUNCATE bench_copy")
        start = time.perf_counter()
        batch: list[list[str | None]] = []
        for number, row in read_table(path):
            if number == 1:
                continue
            batch.append([None if cell is None else str(cell) for cell in row] + [None] * (width - len(row)))
            if len(batch) == 10_000:
                await connection.copy_records_to_table("bench_copy", records=batch)
                batch = []
        if batch:
            await connection.copy_records_to_table("bench_copy", records=batch)
        read_copy_seconds = time.perf_counter() - start
        await connection.execute("DROP TABLE bench_copy")
    finally:
        await connection.close()
    return copy_seconds, read_copy_seconds


async def _prepare(admin_url: str, name: str) -> str:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return _database(admin_url, name)


async def _drop(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--employees", type=int, default=20_000)
    parser.add_argument("--org-units", type=int, default=1_000)
    parser.add_argument("--courses", type=int, default=500)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database and files (printed)")
    args = parser.parse_args()
    shape = Shape(args.employees, args.org_units, args.courses, args.history)
    name = f"xuefen_bench_import_{os.getpid()}"
    database = asyncio.run(_prepare(args.database, name))
    folder = Path(tempfile.mkdtemp(prefix="xuefen-bench-import-"))
    try:
        _run(database, folder, shape)
    finally:
        if args.keep:
            print(f"\nKept: database {database}, files in {folder}")
        else:
            asyncio.run(_drop(args.database, name))
            for file in folder.iterdir():
                file.unlink()
            folder.rmdir()


def _run(database: str, folder: Path, shape: Shape) -> None:
    print(
        f"Generating: {shape.org_units:,} org units, 20 sites, 100 positions, 200 skills, {shape.employees:,} employees, "
        f"{shape.courses:,} courses × {len(MODULE_KINDS)} modules, {shape.history:,} history records"
    )
    files = [
        ("org_units", write_xlsx, org_unit_rows(shape), "xlsx"),
        ("sites", write_xlsx, site_rows(), "xlsx"),
        ("positions", write_xlsx, position_rows(), "xlsx"),
        ("skills", write_xlsx, skill_rows(), "xlsx"),
        ("employees", write_xlsx, employee_rows(shape), "xlsx"),
        ("courses", write_xlsx, course_rows(shape), "xlsx"),
        ("history", write_csv, history_rows(shape), "csv"),
    ]
    written = []
    for kind, writer, rows, suffix in files:
        path = folder / f"{kind}.{suffix}"
        written.append((kind, path, writer(path, rows)))
    _cli(database, "migrate")
    _cli(
        database,
        "tenant",
        "create",
        TENANT,
        "--name",
        "基准测试有限公司",
        "--time-zone",
        "Asia/Shanghai",
        "--admin",
        "00000-10",
    )
    print(f"\n{'kind':<10} {'file':<5} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'COPY rows/s':>12} "
          f"{'× COPY':>7} {'read+COPY/s':>12} {'× read+COPY':>12} {'peak RSS':>9}")  # fmt: skip
    for kind, path, count in written:
        seconds, rss, output = _cli(database, "import", kind, str(path), "--tenant", TENANT, "--locale", "en")
        copy_seconds, read_copy_seconds = asyncio.run(_copy_baselines(database, path))
        rate = count / seconds
        copy_rate, read_copy_rate = count / copy_seconds, count / read_copy_seconds
        print(
            f"{kind:<10} {path.suffix[1:]:<5} {count:>9,} {seconds:>8.1f} {rate:>9,.0f} {copy_rate:>12,.0f} "
            f"{rate / copy_rate:>7.3f} {read_copy_rate:>12,.0f} {rate / read_copy_rate:>12.3f} {rss:>7.0f} MB"
        )
        if "created" not in output.lower():
            print(output)
    seconds, rss, output = _cli(database, "import", "employees", str(folder / "employees.xlsx"), "--tenant", TENANT)
    print(f"\nThe employees file again (all unchanged): {seconds:.1f} s, peak RSS {rss:.0f} MB")
    print(f"(this process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")  # fmt: skip


if __name__ == "__main__":
    main()
