"""Request bodies: a size limit, and gzip-compressed uploads (phones on slow links send their
outbox compressed). Decompression is bounded, so a small "zip bomb" cannot exhaust memory."""

from __future__ import annotations

import json
import zlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import DomainError, ErrorCode
from backend.i18n import negotiate_locale


class RequestBodyMiddleware:
    """Reads the body once: 413 past ``max_bytes`` (after decompression), 400 for a corrupt gzip
    body; the app then sees a plain body with the Content-Encoding removed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        encoding = headers.get(b"content-encoding", b"identity").decode("latin-1").strip().lower()
        locale = negotiate_locale(headers.get(b"accept-language", b"").decode("latin-1"))
        if encoding not in ("identity", "gzip"):
            await _refuse(send, 415, ErrorCode.VALIDATION, locale, reason_key="reason.field", name="Content-Encoding")
            return
        declared = headers.get(b"content-length")
        if declared and declared.isdigit() and encoding == "identity" and int(declared) > self.max_bytes:
            await _refuse(send, 413, ErrorCode.PAYLOAD_TOO_LARGE, locale, max=self.max_bytes)
            return
        inflater = zlib.decompressobj(wbits=31) if encoding == "gzip" else None
        body = bytearray()
        more = True
        try:
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                more = message.get("more_body", False)
                if inflater is not None:
                    chunk = inflater.decompress(chunk, self.max_bytes + 1 - len(body))
                    if inflater.unconsumed_tail:
                        raise OverflowError
                body += chunk
                if len(body) > self.max_bytes:
                    raise OverflowError
            if inflater is not None and not inflater.eof:
                raise zlib.error("truncated gzip body")
        except OverflowError:
            await _refuse(send, 413, ErrorCode.PAYLOAD_TOO_LARGE, locale, max=self.max_bytes)
            return
        except zlib.error:
            await _refuse(send, 400, ErrorCode.VALIDATION, locale, reason_key="reason.field", name="gzip body")
            return

        replaced = [
            (name, value) for name, value in scope["headers"]
            if name not in (b"content-encoding", b"content-length")
        ] + [(b"content-length", str(len(body)).encode())]
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app({**scope, "headers": replaced}, replay, send)


async def _refuse(send: Send, status: int, code: ErrorCode, locale: str, **params) -> None:
    error = DomainError(code, **params)
    body = json.dumps(
        {"data": None, "errors": [{"message": error.message(locale), "extensions": {"code": code.value}}]},
        ensure_ascii=False,
    ).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
