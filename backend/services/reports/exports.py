"""Reports as files: writing a ``Table`` to XLSX or CSV, and the signed links that download one.

Writing streams: rows are read from the table's async iterator and written as they come, a few
hundred at a time (XLSX through xlsxwriter's constant-memory mode, CSV as UTF-8 with a BOM), so
memory stays flat however many rows a report has. Cells that look like formulas stay text
(backend/services/imports/files.py).

A download link (``/reports/<name>.<xlsx|csv>?k=…``, served by backend/report_downloads.py) is a
bearer secret for ten minutes, modelled on the projector links (backend/services/sessions/qr.py):

- ``export_link`` is the one place a link is made (the ``exportReport`` mutation and the HR
  dashboard call it). It runs the report's checks for the viewer *now* (roles, options, subtree,
  ids: the same function the download runs, without reading a row) and signs (backend/signing.py,
  kind ``r1``) the tenant, the viewer's login (auth session), the report, the format, its options
  and the expiry.
- The download checks the signature, the path and the expiry without the database, then that the
  login is still live (signed out or revoked: 401), rebuilds the viewer from it with their roles
  of now, and runs the report as that viewer: a link never shows more than its holder's login
  may see at the moment it is used.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tortoise import connections

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.services.imports.files import FileFormat, TableWriter, WriteCell, csv_cells
from backend.services.people import auth
from backend.services.reports import rollups
from backend.services.reports.frame import Dimension, Period, ReportFilter
from backend.services.reports.registry import ReportExport, report_named
from backend.services.reports.tables import ReportOptions, Table
from backend.services.viewer import Viewer
from backend.signing import Keys, expiry, sign, unsign

LINK_KIND = "r1"
LINK_TTL_SECONDS = 600  # long enough to click, short enough that a forwarded link soon dies
BATCH_ROWS = 500  # rows handed to the writer's thread at a time
CSV_CHUNK_BYTES = 64 * 1024  # what a CSV download sends at a time

Progress = Callable[[int, int | None], None]  # (rows written, rows in all when known)


# --- writing ------------------------------------------------------------------------------------

_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet_name(title: str) -> str:
    """A title as an XLSX sheet name: at most 31 characters, none of ``[]:*?/\\``."""
    # Cut first, then trim: a name cut just after an apostrophe would end in one, which Excel refuses.
    return _SHEET_FORBIDDEN.sub(" ", title)[:31].strip("' ") or "report"


async def _batches(rows: AsyncIterator[Sequence[WriteCell]]) -> AsyncIterator[list[Sequence[WriteCell]]]:
    batch: list[Sequence[WriteCell]] = []
    async for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


async def write_report(table: Table, path: Path, fmt: FileFormat, locale: str, progress: Progress | None = None) -> int:
    """Write ``table`` to ``path`` (a header row in ``locale``, then every row); the rows written.
    The writing runs in a thread a batch at a time, so a server keeps answering meanwhile."""
    writer = await asyncio.to_thread(TableWriter, path, fmt, sheet_name(table.title(locale)), table.zone)
    written = 0
    try:
        headers = [column.header(locale) for column in table.columns]
        await asyncio.to_thread(writer.header, headers, [column.width for column in table.columns])
        async for batch in _batches(table.rows):
            await asyncio.to_thread(_write_rows, writer, batch)
            written += len(batch)
            if progress is not None:
                progress(written, table.total)
    finally:
        await _close_rows(table)
        await asyncio.to_thread(writer.close)
    return written


def _write_rows(writer: TableWriter, rows: list[Sequence[WriteCell]]) -> None:
    for row in rows:
        writer.row(row)


async def csv_chunks(table: Table, locale: str) -> AsyncIterator[bytes]:
    """The table as CSV bytes (UTF-8 with a BOM), a chunk at a time, read as it is sent."""
    buffer = io.StringIO()
    out = csv.writer(buffer)
    buffer.write("\ufeff")  # the BOM: Excel then reads UTF-8
    out.writerow([column.header(locale) for column in table.columns])
    try:
        async for row in table.rows:
            out.writerow(csv_cells(row, table.zone))
            if buffer.tell() >= CSV_CHUNK_BYTES:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")
    finally:
        await _close_rows(table)


async def _close_rows(table: Table) -> None:
    """End the rows' iterator (an async generator holding a cursor or a transaction) now."""
    close = getattr(table.rows, "aclose", None)
    if close is not None:
        await close()


def file_name(report: ReportExport, options: ReportOptions, locale: str, fmt: FileFormat) -> str:
    """The file's name as a browser saves it: the title in ``locale`` and the period if any."""
    name = report.title(locale)
    if options.filter is not None:
        period = options.filter.period
        name += f" {period.first.isoformat()}~{period.last.isoformat()}"
    return f"{name}.{fmt.value}"


# --- the options as a link carries them -----------------------------------------------------------


def options_claims(options: ReportOptions) -> dict[str, Any]:
    """``options`` as compact JSON-ready claims (only what is set)."""
    f = options.filter
    given: dict[str, Any] = {}
    if f is not None:
        given = {
            "from": f.period.first.isoformat(),
            "to": f.period.last.isoformat(),
            "orgUnit": f.org_unit_id,
            "site": f.site_id,
            "course": f.course_id,
            "scenario": f.scenario,
            "positionFamily": f.position_family,
            "positionLevel": f.position_level,
        }
    given |= {
        "by": options.breakdown.value if options.breakdown else None,
        "employee": options.employee_id,
        "quiz": options.quiz_id,
        "manager": options.manager_id,
    }
    claims = {key: value for key, value in given.items() if value is not None}
    return claims


def options_of(claims: dict[str, Any]) -> ReportOptions:
    """The options back from ``options_claims`` (ValueError, TypeError or KeyError when not)."""
    report_filter = None
    if "from" in claims:
        report_filter = ReportFilter(
            period=Period.of(date.fromisoformat(claims["from"]), date.fromisoformat(claims["to"])),
            org_unit_id=_int(claims.get("orgUnit")),
            site_id=_int(claims.get("site")),
            course_id=_int(claims.get("course")),
            scenario=claims.get("scenario"),
            position_family=claims.get("positionFamily"),
            position_level=claims.get("positionLevel"),
        )
    return ReportOptions(
        filter=report_filter,
        breakdown=Dimension(claims["by"]) if "by" in claims else None,
        employee_id=_int(claims.get("employee")),
        quiz_id=_int(claims.get("quiz")),
        manager_id=_int(claims.get("manager")),
    )


def _int(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(value)
    return value


# --- links ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportLink:
    """A download link (a path on this server) and when it stops working."""

    url: str
    expires_at: datetime


@dataclass(frozen=True)
class LinkClaims:
    """What a link's key says, once its signature is checked."""

    tenant_id: int
    auth_session_id: uuid.UUID
    report: str
    format: FileFormat
    options: ReportOptions
    expires_at: int  # Unix seconds


async def report_table(viewer: Viewer, report_name: str, options: ReportOptions) -> tuple[ReportExport, Table]:
    """The report's table for ``viewer``: NOT_FOUND for an unknown report, then the report's
    checks (roles before the options, then its own), no row read yet."""
    report = report_named(report_name)
    table = await report.table(viewer, options)
    table.zone = await rollups.company_zone(connections.get("default"), viewer.tenant_id)
    return report, table


async def export_link(
    settings: Settings,
    viewer: Viewer,
    report_name: str,
    fmt: FileFormat,
    options: ReportOptions,
    now: datetime | None = None,
) -> ExportLink:
    """A signed link downloading ``report_name`` with ``options`` as ``fmt`` for ``viewer``, if
    the viewer may run it now (else the report's refusal: FORBIDDEN, NOT_FOUND, VALIDATION)."""
    report, table = await report_table(viewer, report_name, options)
    await _close_rows(table)
    expires_at = expiry(now or datetime.now(UTC), LINK_TTL_SECONDS)
    key = sign(
        settings.keys,
        LINK_KIND,
        [viewer.tenant_id, viewer.session_id.hex, report.name, fmt.value, options_claims(options), expires_at],
    )
    return ExportLink(f"/reports/{report.name}.{fmt.value}?k={key}", datetime.fromtimestamp(expires_at, UTC))


def read_link(secret: Keys, key: str) -> LinkClaims:
    """The claims of a key we signed; UNAUTHENTICATED for anything else."""
    try:
        tenant_id, auth_session_id, report, fmt, options, expires_at = unsign(secret, LINK_KIND, key)
        return LinkClaims(
            int(tenant_id),
            uuid.UUID(hex=auth_session_id),
            str(report),
            FileFormat(fmt),
            options_of(options),
            int(expires_at),
        )
    except (ValueError, TypeError, KeyError, AttributeError, DomainError) as exc:
        raise DomainError(ErrorCode.UNAUTHENTICATED, link_message="report_link.invalid") from exc


def check_link(secret: Keys, key: str, report_name: str, fmt: FileFormat, now: datetime | None = None) -> LinkClaims:
    """The claims of a link for ``report_name`` as ``fmt``, unexpired; checked without the
    database (UNAUTHENTICATED for a key of another report or format, TOKEN_EXPIRED after)."""
    claims = read_link(secret, key)
    if claims.report != report_name or claims.format is not fmt:
        raise DomainError(ErrorCode.UNAUTHENTICATED, link_message="report_link.invalid")
    if claims.expires_at <= (now or datetime.now(UTC)).timestamp():
        raise DomainError(ErrorCode.TOKEN_EXPIRED, link_message="report_link.expired")
    return claims


async def viewer_of_link(claims: LinkClaims) -> Viewer:
    """The viewer whose login made the link, as they are now: UNAUTHENTICATED when the login was
    signed out or revoked or the employee left. Roles are read again, so a role taken away since
    the link was made is gone from it too."""
    viewer = await auth.viewer_of_session(claims.tenant_id, claims.auth_session_id)
    if viewer is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED, link_message="report_link.invalid")
    return viewer
