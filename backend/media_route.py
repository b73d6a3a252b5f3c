"""``GET`` and ``HEAD /media/<sha256>?k=<key>``: the files of lesson content, for phones.

A link carries its own permission (``content/media_links.py``: signed over the hash, the company,
the MIME type and an expiry), so the app's video player and download manager use it without an
Authorization header, and checking it needs no database: a Range request of a download costs a
signature check, an ``open`` and an ``fstat``.

- A forged, altered or malformed key: 401 ``UNAUTHENTICATED``; an expired one: 401
  ``TOKEN_EXPIRED`` (the app fetches fresh links with ``courseDownload``); a key of another file:
  403 ``FORBIDDEN``; a malformed hash or a file not in the store: 404 ``NOT_FOUND``. Errors are
  JSON bodies like GraphQL errors, in the caller's language, never cached.
- Local store: the bytes, with a strong ``ETag`` (the hash: the bytes can never change), the file's
  ``Last-Modified``, ``Accept-Ranges: bytes``, ``Cache-Control: private, max-age=<the link's
  remaining life>``. One range (``bytes=a-b``, ``a-``, ``-n``) is a 206; an unsatisfiable one a
  416 with ``Content-Range: bytes */<size>``; an invalid Range header, or one asking for several
  ranges, is ignored (the whole file, 200, as RFC 9110 allows). ``If-Range`` (strong comparison
  with the ETag, or the exact Last-Modified date) keeps the range only when it matches.
  ``If-None-Match`` (weak comparison, ``*``, lists) and, without it, ``If-Modified-Since`` answer
  304. The body goes by ``http.response.zerocopysend`` when the server offers it
  (backend/sendfile.py: the kernel copies file to socket), else in chunks read off the event loop.
- S3 store: a 307 redirect to a presigned URL of the object that dies no later than the link, never
  cached; the bucket answers ranges (and a missing object) itself: no request to S3 per download.

The route is served ahead of the app's compression middleware (``MediaRoute``): media is never
gzipped (that would change the bytes a range counts and the ETag names), and that middleware
drops messages it does not know, like ``zerocopysend``.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import IO

import anyio
import anyio.to_thread
from starlette.datastructures import Headers
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.http_caching import none_match
from backend.i18n import negotiate_locale
from backend.sendfile import ZEROCOPY
from backend.services.content.media_links import read_media_key
from backend.services.content.storage import SHA256, media_store

PREFIX = "/media/"
CHUNK = 256 * 1024  # bytes per read when the server cannot send the file itself
_STATUS = {ErrorCode.UNAUTHENTICATED: 401, ErrorCode.TOKEN_EXPIRED: 401, ErrorCode.FORBIDDEN: 403}
_NO_STORE = {"Cache-Control": "no-store"}
# A link's key is a bearer secret for its lifetime: never sent on as a Referer by a document
# opened from it; and the type we signed is the type, never sniffed into something else.
_ALWAYS = {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
# type/subtype and parameters, printable ASCII only (anything else would break the header).
_MIME = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]*/[\w!#$&^.+-]+(;[\x20-\x7e]*)?", re.ASCII)
_RANGE_SPEC = re.compile(r"([0-9]+)-([0-9]*)|-([0-9]+)")
# More digits than any file has bytes: the number is "larger than the file" without parsing it.
_HUGE = 1 << 80


class MediaRoute:
    """ASGI middleware that answers ``/media/…`` itself and passes everything else on (it sits
    above the compression middleware; see the module docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        router = Router(routes=[Route(PREFIX + "{sha256}", media_endpoint(settings), methods=["GET", "HEAD"])])
        self.router = ExceptionMiddleware(router)  # a 405 or 404 of the router, as the app answers them

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            await self.router(scope, receive, send)
        else:
            await self.app(scope, receive, send)


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` … ``end`` (inclusive) of a file of ``size`` bytes."""

    start: int
    end: int
    size: int


class Unsatisfiable(Exception):
    """A Range none of whose bytes the file has: 416."""


def _number(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 20 else _HUGE  # no 10,000-digit int() for a header


def byte_range(header: str | None, size: int) -> ByteRange | None:
    """The one range ``header`` asks for, None to send the whole file (no header, an invalid one,
    another unit, several ranges, an empty file), Unsatisfiable for a 416 (RFC 9110 §14.1–14.2)."""
    if header is None or size == 0:
        return None
    unit, equals, ranges = header.partition("=")
    if not equals or unit.lower() != "bytes":
        return None
    specs = [spec.strip(" \t") for spec in ranges.split(",")]
    specs = [spec for spec in specs if spec]  # a list may hold empty elements (RFC 9110 §5.6.1)
    matches = [_RANGE_SPEC.fullmatch(spec) for spec in specs]
    if not matches or any(match is None for match in matches):
        return None
    if len(matches) > 1:
        return None  # several ranges: the whole file (allowed; no multipart to build and parse)
    first, last, suffix = matches[0].groups()  # type: ignore[union-attr]
    if suffix is not None:
        length = _number(suffix)
        if length == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - length), size - 1, size)
    start = _number(first)
    end = _number(last) if last else _HUGE
    if end < start:
        return None  # invalid, so ignored
    if start >= size:
        raise Unsatisfiable
    return ByteRange(start, min(end, size - 1), size)


def _http_date(value: str) -> float | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # any header a client sends: never a 500
        return None
    return None if parsed.tzinfo is None else parsed.timestamp()


def _if_range_holds(value: str, etag: str, modified: int) -> bool:
    """Strong comparison: the exact ETag (never a weak one) or the exact Last-Modified date."""
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    return _http_date(value) == modified


def _not_modified(headers: Headers, etag: str, modified: int) -> bool:
    """If-None-Match, else If-Modified-Since (RFC 9110 §13.2.2: the first is evaluated alone)."""
    if "if-none-match" in headers:
        return none_match(headers, etag)
    since = headers.get("if-modified-since")
    since_at = _http_date(since) if since is not None else None
    return since_at is not None and modified <= since_at


def _refusal(request: Request, error: DomainError) -> JSONResponse:
    locale = negotiate_locale(request.headers.get("accept-language"))
    body = {"errors": [{"message": error.message(locale), "extensions": {"code": error.code.value}}]}
    return JSONResponse(body, status_code=_STATUS.get(error.code, 404), headers={**_NO_STORE, **_ALWAYS})


def _open(path: Path) -> tuple[IO[bytes], os.stat_result] | None:
    try:
        file = path.open("rb")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    info = os.fstat(file.fileno())
    if not stat.S_ISREG(info.st_mode):
        file.close()
        return None
    return file, info


def media_endpoint(settings: Settings) -> Callable[[Request], object]:
    """The endpoint of ``/media/{sha256}``."""
    store = media_store(settings)

    async def media(request: Request) -> Response:
        sha256 = request.path_params["sha256"]
        try:
            if not SHA256.fullmatch(sha256):
                raise DomainError(ErrorCode.NOT_FOUND)
            claims = read_media_key(settings, sha256, request.query_params.get("k", ""))
            # Whole seconds left, rounded down: nothing outlives the link.
            left = min(int(claims.expires_at - time.time()), settings.media_url_ttl_seconds)
            if left <= 0:
                raise DomainError(ErrorCode.TOKEN_EXPIRED)
            mime_type = claims.mime_type if _MIME.fullmatch(claims.mime_type) else "application/octet-stream"
            path = store.local_path(sha256)
            if path is None:
                return await _redirect(sha256, mime_type, left, request.method)
            opened = await anyio.to_thread.run_sync(_open, path)
            if opened is None:
                raise DomainError(ErrorCode.NOT_FOUND)
        except DomainError as error:
            return _refusal(request, error)
        file, info = opened
        return _answer(request, file, info, sha256, mime_type, left)

    async def _redirect(sha256: str, mime_type: str, left: int, method: str) -> Response:
        # A presigned URL is signed for one method: a HEAD goes to a URL signed for HEAD.
        url = await store.presigned_url(sha256, mime_type=mime_type, file_name="", expires_in=left, method=method)
        if url is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        return Response(status_code=307, headers={"Location": url, "Cache-Control": "private, no-store", **_ALWAYS})

    return media


def _answer(
    request: Request, file: IO[bytes], info: os.stat_result, sha256: str, mime_type: str, left: int
) -> Response:
    etag, modified = f'"{sha256}"', int(info.st_mtime)
    validators = {
        "ETag": etag,
        "Last-Modified": formatdate(modified, usegmt=True),
        "Cache-Control": f"private, max-age={left}",
        **_ALWAYS,
    }
    if _not_modified(request.headers, etag, modified):
        file.close()
        return Response(status_code=304, headers=validators)
    headers = {**validators, "Accept-Ranges": "bytes"}
    size = info.st_size
    if_range = request.headers.get("if-range")
    try:
        wanted = byte_range(request.headers.get("range"), size)
    except Unsatisfiable:
        file.close()
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    headers["Content-Type"] = mime_type
    if wanted is not None and (if_range is None or _if_range_holds(if_range, etag, modified)):
        headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
        return FileSlice(file, wanted.start, wanted.end - wanted.start + 1, 206, headers)
    return FileSlice(file, 0, size, 200, headers)


class FileSlice(Response):
    """``count`` bytes of an open file from ``offset``: sent by the server itself when it offers
    ``zerocopysend``, else read in chunks off the event loop. The file is closed at the end."""

    def __init__(self, file: IO[bytes], offset: int, count: int, status_code: int, headers: dict[str, str]) -> None:
        self.file, self.offset, self.count = file, offset, count
        self.status_code = status_code
        self.background = None
        self.init_headers({**headers, "Content-Length": str(count)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            if scope["method"] == "HEAD" or self.count == 0:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif ZEROCOPY in (scope.get("extensions") or {}):
                await send({"type": ZEROCOPY, "file": self.file, "offset": self.offset, "count": self.count})
            else:
                await self._stream(receive, send)
        finally:
            self.file.close()

    async def _stream(self, receive: Receive, send: Send) -> None:
        """Chunks read in a worker thread; stops when the client disconnects (servers of ASGI
        spec < 2.4 drop what is sent after that without saying so)."""
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                fd, offset, end = self.file.fileno(), self.offset, self.offset + self.count
                while offset < end:
                    chunk = await anyio.to_thread.run_sync(os.pread, fd, min(CHUNK, end - offset), offset)
                    if not chunk:
                        raise RuntimeError("media file shorter than its size")
                    offset += len(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": offset < end})
                group.cancel_scope.cancel()

            group.start_soon(stream)
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()
