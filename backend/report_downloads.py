"""``GET /reports/{name}.{xlsx|csv}?k=…``: a report as a file, through a signed link.

The link comes from ``exportReport`` (or the HR dashboard's export button) and works for ten
minutes while the login that asked for it is live (backend/services/reports/exports.py says how it
is checked). The key is checked before the database is touched; the report then runs as the
link's viewer, with their roles and subtree of now. CSV streams as the rows are read; XLSX is
written to a temporary file in constant memory, sent, then removed. Headers are in the caller's
language (``?locale=`` or ``Accept-Language``). Refusals are JSON like backend/downloads.py: 401
(bad, expired or signed-out link), 403, 404 (no such report), 400 (the options no longer hold).
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse

from backend.config import Settings
from backend.downloads import _locale, _temporary
from backend.errors import DomainError, ErrorCode
from backend.i18n import translate
from backend.services.imports.files import FileFormat
from backend.services.reports import exports
from backend.services.reports.registry import report_named

_MEDIA = {
    FileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    FileFormat.CSV: "text/csv; charset=utf-8",
}
_STATUS = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
}
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def content_disposition(fallback: str, name: str) -> str:
    """``attachment`` with an ASCII name for old clients and the real (Chinese) one in RFC 5987."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _refusal(error: DomainError, locale: str) -> JSONResponse:
    link_message = error.params.get("link_message")
    message = translate(link_message, locale) if link_message else error.message(locale)
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": error.code.value}}]},
        status_code=_STATUS.get(error.code, 400),
        headers=_NO_STORE,
    )


def report_endpoint(settings: Settings):
    """The route handler, bound to the app's settings."""

    async def download(request: Request) -> Response:
        locale = _locale(request)
        try:
            report = report_named(request.path_params["name"])
            try:
                fmt = FileFormat(request.path_params["format"])
            except ValueError:
                raise DomainError(ErrorCode.NOT_FOUND) from None
            claims = exports.check_link(settings.keys, request.query_params.get("k", ""), report.name, fmt)
            viewer = await exports.viewer_of_link(claims)
            _, table = await exports.report_table(viewer, report.name, claims.options)
        except DomainError as error:
            return _refusal(error, locale)
        headers = {
            **_NO_STORE,
            "Content-Disposition": content_disposition(
                f"{report.name}.{fmt.value}", exports.file_name(report, claims.options, locale, fmt)
            ),
        }
        if fmt is FileFormat.CSV:
            return StreamingResponse(exports.csv_chunks(table, locale), media_type=_MEDIA[fmt], headers=headers)
        path = await asyncio.to_thread(_temporary, ".xlsx")
        try:
            await exports.write_report(table, path, fmt, locale)
        except BaseException:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise
        return FileResponse(
            path, media_type=_MEDIA[fmt], headers=headers, background=BackgroundTask(path.unlink, missing_ok=True)
        )

    return download
