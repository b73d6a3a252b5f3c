"""Zero-copy file bodies under uvicorn: the ASGI ``http.response.zerocopysend`` extension.

Why this exists: uvicorn (0.54) implements neither ``zerocopysend`` nor ``pathsend``, so a file
body would pass through Python: read into bytes, handed to the transport, copied into the kernel,
per byte, for every phone downloading a course. asyncio's selector loop can do better:
``loop.sendfile(transport, file, offset, count)`` waits for the transport's write buffer to drain
and lets the kernel copy file pages to the socket (``os.sendfile``). uvloop has no
``loop.sendfile``, so ``xuefen serve`` runs this protocol on the asyncio loop (backend/cli.py),
and the extension is offered only when the running loop is asyncio's own.

``SendfileProtocol`` is uvicorn's httptools protocol plus two small overrides. What it relies on
in uvicorn (tests/test_media_route.py runs real servers through it and counts the bytes that went
through ``os.sendfile``, so a change there fails the suite):

- ``on_message_begin`` builds ``self.scope`` for each request (the extension is added to it);
- ``_start_asgi_task(cycle, app)`` starts each request's ASGI task (the app is handed a ``send``
  that understands the extension);
- ``RequestResponseCycle``: ``transport``, ``scope``, ``response_started``, ``response_complete``,
  ``disconnected``, ``chunked_encoding`` and ``expected_content_length`` (the Content-Length still
  owed), and its ``send``, which finishes a response (keep-alive or close, the next pipelined
  request, the keep-alive timer) when given the last, empty, body message. The access log line is
  written by ``send`` at the response start, as for any response.

A message is ``{"type": "http.response.zerocopysend", "file": <file object or descriptor>,
"offset": int, "count": int, "more_body": bool}`` (offset: the file's position when absent; count:
to the end of the file when absent). The response must have a Content-Length: the kernel writes
raw bytes, never chunk framing. A client gone mid-file ends the response quietly and closes the
connection (what uvicorn does when ``send`` meets a closed connection).
"""

from __future__ import annotations

import asyncio
import io
import os
from typing import IO, Any

from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

ZEROCOPY = "http.response.zerocopysend"


class SendfileProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that offers and serves ``http.response.zerocopysend``."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # uvloop's loop does not implement loop.sendfile: offer nothing there (apps fall back).
        if isinstance(self.loop, asyncio.BaseEventLoop):
            scope: dict[str, Any] = self.scope  # type: ignore[assignment]
            scope["extensions"] = {**(scope.get("extensions") or {}), ZEROCOPY: {}}

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        super()._start_asgi_task(cycle, _with_zerocopy(cycle, app, self.loop))


def _with_zerocopy(cycle: RequestResponseCycle, app: ASGI3Application, loop: asyncio.AbstractEventLoop) -> Any:
    async def app_with_zerocopy(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        async def send_or_sendfile(message: Any) -> None:
            if message["type"] == ZEROCOPY:
                await _zerocopy_send(cycle, loop, message)
            else:
                await send(message)

        await app(scope, receive, send_or_sendfile)

    return app_with_zerocopy


async def _zerocopy_send(cycle: RequestResponseCycle, loop: asyncio.AbstractEventLoop, message: Any) -> None:
    more_body = bool(message.get("more_body", False))
    if cycle.disconnected:
        return
    if not cycle.response_started or cycle.response_complete:
        raise RuntimeError(f"Unexpected ASGI message '{ZEROCOPY}' outside a response body.")
    if cycle.scope["method"] != "HEAD":
        if cycle.chunked_encoding:
            raise RuntimeError(f"'{ZEROCOPY}' needs a response with a Content-Length.")
        file = message["file"]
        # A bare descriptor is wrapped without taking it over: its owner closes it.
        fileobj = io.FileIO(file, "rb", closefd=False) if isinstance(file, int) else file
        try:
            sent, count = await _sendfile(cycle, loop, fileobj, message.get("offset"), message.get("count"))
        finally:
            if fileobj is not file:
                fileobj.close()
        if sent is None:
            return  # the client went away: the connection is closed, the app's next sends are ignored
        cycle.expected_content_length -= sent
        if sent < count:
            raise RuntimeError("Response content shorter than Content-Length")  # the file shrank
    # The rest (completion, keep-alive or close, pipelining) is uvicorn's, as for any last body.
    await cycle.send({"type": "http.response.body", "body": b"", "more_body": more_body})


async def _sendfile(
    cycle: RequestResponseCycle,
    loop: asyncio.AbstractEventLoop,
    fileobj: IO[bytes],
    offset: int | None,
    count: int | None,
) -> tuple[int | None, int]:
    """(bytes sent, bytes asked); None sent when the client is gone."""
    fileno = fileobj.fileno()
    if offset is None:
        offset = os.lseek(fileno, 0, os.SEEK_CUR)
    if count is None:
        count = max(0, os.fstat(fileno).st_size - offset)
    if count > cycle.expected_content_length:
        raise RuntimeError("Response content longer than Content-Length")
    if count == 0:
        return 0, 0
    if cycle.transport.is_closing():
        _gone(cycle)
        return None, count
    try:
        # Waits until what the transport holds (the head) is written, then os.sendfile until
        # `count` bytes went or the file ended (on a TLS transport asyncio reads and writes instead).
        return await loop.sendfile(cycle.transport, fileobj, offset, count), count
    except OSError:  # reset, broken pipe: the client left mid-file
        _gone(cycle)
        return None, count


def _gone(cycle: RequestResponseCycle) -> None:
    cycle.disconnected = True
    cycle.transport.close()
