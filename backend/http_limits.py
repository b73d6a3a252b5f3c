"""Request bodies: a size limit, and gzip-compressed uploads (phones on slow links send their
outbox compressed). Decompression is bounded, so a small "zip bomb" cannot exhaust memory.

A refused body is still read to its end (and thrown away), up to a bound, before the answer goes
out: a client sends its whole body before it reads, and a server that closes a connection with
unread bytes makes the kernel reset it, so the client would see a network error instead of the
413 that tells a phone to halve its batch (with ``Connection: close`` uvicorn closes at once).
Only a body past the bound, or one announced with ``Expect: 100-continue`` (whose client waits
for the verdict before sending), is answered without reading it."""

from __future__ import annotations

import json
import zlib
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import DomainError, ErrorCode
from backend.i18n import negotiate_locale


class UploadTooLarge(Exception):
    """An upload's body went past its limit while the app was reading it."""


class RequestBodyMiddleware:
    """Reads the body once: 413 past ``max_bytes`` (after decompression), 400 for a corrupt gzip
    body; the app then sees a plain body with the Content-Encoding removed.

    File uploads (``multipart/form-data`` to one of ``upload_paths``, not compressed) are not read
    here but streamed to the app, which checks who sends them before it reads them and spools
    their files to disk; they may be up to ``upload_bytes`` long (413 past it)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        drain_bytes: int | None = None,
        upload_bytes: int = 0,
        upload_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = 4 * max_bytes if drain_bytes is None else drain_bytes
        self.upload_bytes = upload_bytes
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        encoding = headers.get(b"content-encoding", b"identity").decode("latin-1").strip().lower()
        locale = negotiate_locale(headers.get(b"accept-language", b"").decode("latin-1"))
        declared = headers.get(b"content-length", b"")
        declared_bytes = int(declared) if declared.isdigit() else None
        expects_continue = headers.get(b"expect", b"").lower() == b"100-continue"

        async def refuse(status: int, code: ErrorCode, *, read: int | None, **params: Any) -> None:
            """Answer once the rest of the body is read and dropped. ``read``: bytes read so far
            (None when the body has been read to its end; 0 before anything was read)."""
            too_long = declared_bytes is not None and declared_bytes > self.drain_bytes
            waiting_client = read == 0 and expects_continue
            if read is not None and not too_long and not waiting_client:
                await _drain(receive, read, self.drain_bytes)
            await _refuse(send, status, code, locale, **params)

        if encoding not in ("identity", "gzip"):
            await refuse(415, ErrorCode.VALIDATION, read=0, reason_key="reason.field", name="Content-Encoding")
            return
        content_type = headers.get(b"content-type", b"").decode("latin-1").split(";", 1)[0].strip().lower()
        if (
            self.upload_bytes
            and encoding == "identity"
            and content_type == "multipart/form-data"
            and scope["path"] in self.upload_paths
        ):
            if declared_bytes is not None and declared_bytes > self.upload_bytes:
                await refuse(413, ErrorCode.PAYLOAD_TOO_LARGE, read=0, max=self.upload_bytes)
                return
            upload = _Upload(receive, self.upload_bytes)
            try:
                await self.app(scope, upload.receive, upload.sending(send, self.drain_bytes))
            except UploadTooLarge:
                if upload.answered:
                    raise
                await refuse(413, ErrorCode.PAYLOAD_TOO_LARGE, read=upload.received, max=self.upload_bytes)
            return
        if declared_bytes is not None and encoding == "identity" and declared_bytes > self.max_bytes:
            await refuse(413, ErrorCode.PAYLOAD_TOO_LARGE, read=0, max=self.max_bytes)
            return
        body = _Body(receive, self.max_bytes, gzip=encoding == "gzip")
        try:
            if not await body.read():
                return  # the client went away
        except OverflowError:
            await refuse(413, ErrorCode.PAYLOAD_TOO_LARGE, read=body.read_so_far, max=self.max_bytes)
            return
        except zlib.error:
            await refuse(400, ErrorCode.VALIDATION, read=body.read_so_far, reason_key="reason.field", name="gzip body")
            return

        replaced = [
            (name, value) for name, value in scope["headers"] if name not in (b"content-encoding", b"content-length")
        ] + [(b"content-length", str(len(body.data)).encode())]
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body.data), "more_body": False}
            return await receive()

        await self.app({**scope, "headers": replaced}, replay, send)


class _Body:
    """A request body read to its end, gzip inflated on the way, never held past ``max_bytes``
    (decompressed)."""

    def __init__(self, receive: Receive, max_bytes: int, gzip: bool) -> None:
        self.receive = receive
        self.max_bytes = max_bytes
        self.inflater = zlib.decompressobj(wbits=31) if gzip else None
        self.data = bytearray()
        self.received = 0  # bytes on the wire (compressed), for the drain bound
        self.more = True

    async def read(self) -> bool:
        """Read the rest; False when the client went away. Raises OverflowError past
        ``max_bytes``, zlib.error for a corrupt or truncated gzip body."""
        while self.more:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return False
            chunk = message.get("body", b"")
            self.received += len(chunk)
            self.more = message.get("more_body", False)
            if self.inflater is not None:
                chunk = self.inflater.decompress(chunk, self.max_bytes + 1 - len(self.data))
                if self.inflater.unconsumed_tail:
                    raise OverflowError
            self.data += chunk
            if len(self.data) > self.max_bytes:
                raise OverflowError
        if self.inflater is not None and not self.inflater.eof:
            raise zlib.error("truncated gzip body")
        return True

    @property
    def read_so_far(self) -> int | None:
        """Bytes read while the body goes on, None once it was read to its end (see ``refuse``)."""
        return self.received if self.more else None


class _Upload:
    """An upload's body as the app reads it: counted (UploadTooLarge past ``limit``), and read to
    its end (up to the drain bound) before an answer that did not read it all goes out."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self.limit = limit
        self.received = 0
        self.more = True
        self.answered = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.more = message.get("more_body", False)
            if self.received > self.limit:
                raise UploadTooLarge
        else:
            self.more = False
        return message

    def sending(self, send: Send, drain_bytes: int) -> Send:
        async def send_after_body(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.answered = True
                if self.more:  # refused before the file was read: read and drop it first
                    self.more = False
                    await _drain(self._receive, self.received, drain_bytes)
            await send(message)

        return send_after_body


async def _drain(receive: Receive, read: int, bound: int) -> None:
    """Read and drop the rest of a request body, until its end or ``bound`` bytes in all."""
    while read <= bound:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _refuse(send: Send, status: int, code: ErrorCode, locale: str, **params: Any) -> None:
    error = DomainError(code, **params)
    body = json.dumps(
        {"data": None, "errors": [{"message": error.message(locale), "extensions": {"code": code.value}}]},
        ensure_ascii=False,
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
