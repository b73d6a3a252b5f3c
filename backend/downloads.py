"""Downloads for HR admins in the app: import templates and exports of the company's rows.

- ``GET /imports/templates/{kind}.{xlsx|csv}``: the kind's header row (and, in XLSX, a sheet
  explaining the columns);
- ``GET /exports/{kind}.{xlsx|csv}``: the company's rows in the same columns (import it back and
  nothing changes).

Both need the ``Authorization: Bearer`` access token of an HR admin (401 without a valid one,
403 for anyone else) and are never cached. Headers are in the caller's language
(``Accept-Language``, or ``?locale=en`` / ``zh-CN``); imports read either. The file is written to
a temporary file as the rows are read and streamed from there, then removed.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import SUPPORTED_LOCALES, negotiate_locale
from backend.models import Role
from backend.services.imports.exports import file_format, write_export, write_template
from backend.services.imports.files import FileFormat
from backend.services.imports.registry import kind_named
from backend.services.people import auth
from backend.services.viewer import Viewer

_MEDIA = {
    FileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    FileFormat.CSV: "text/csv; charset=utf-8",
}
_STATUS = {ErrorCode.UNAUTHENTICATED: 401, ErrorCode.TOKEN_EXPIRED: 401, ErrorCode.FORBIDDEN: 403}
_NO_STORE = {"Cache-Control": "no-store"}


def _locale(request: Request) -> str:
    asked = request.query_params.get("locale")
    return asked if asked in SUPPORTED_LOCALES else negotiate_locale(request.headers.get("accept-language"))


async def _hr_admin(request: Request, settings: Settings) -> Viewer:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DomainError(ErrorCode.UNAUTHENTICATED)
    viewer = await auth.authenticate(settings, token.strip())
    viewer.require_role(Role.HR_ADMIN)
    return viewer


def _temporary(suffix: str) -> Path:
    handle, name = tempfile.mkstemp(prefix="xuefen-", suffix=suffix)
    os.close(handle)
    return Path(name)


def download_endpoints(settings: Settings) -> tuple[Callable[[Request], Awaitable[Response]], ...]:
    """The template and the export endpoints."""

    async def serve(request: Request, export: bool) -> Response:
        locale = _locale(request)
        try:
            viewer = await _hr_admin(request, settings)
            kind = kind_named(request.path_params["kind"])
            fmt = file_format(request.path_params["format"])
        except DomainError as error:
            body = {"errors": [{"message": error.message(locale), "extensions": {"code": error.code.value}}]}
            return JSONResponse(body, status_code=_STATUS.get(error.code, 404), headers=_NO_STORE)
        path = await asyncio.to_thread(_temporary, f".{fmt.value}")
        try:
            if export:
                await write_export(kind, viewer.tenant_id, path, fmt, locale)
            else:
                await asyncio.to_thread(write_template, kind, path, fmt, locale)
        except BaseException:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise
        name = f"{kind.name}{'' if export else '-template'}.{fmt.value}"
        return FileResponse(
            path,
            media_type=_MEDIA[fmt],
            filename=name,
            headers=_NO_STORE,
            background=BackgroundTask(path.unlink, missing_ok=True),
        )

    async def template(request: Request) -> Response:
        return await serve(request, export=False)

    async def export(request: Request) -> Response:
        return await serve(request, export=True)

    return template, export
