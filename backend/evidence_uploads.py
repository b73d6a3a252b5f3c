"""Evidence uploads over HTTP: the tus 1.0 core protocol with the checksum extension, so the app can
use TUSKit (iOS) or tus-android-client. The upload already exists: a record named the attachment
(docs/sync-protocol.md, "Evidence uploads"); its URL is ``/evidence/<attachment id>``.

- ``OPTIONS /evidence/{id}``: what the server speaks (``Tus-Version``, ``Tus-Extension``,
  ``Tus-Checksum-Algorithm``, ``Tus-Max-Size``).
- ``HEAD /evidence/{id}``: ``Upload-Offset`` (bytes the server has) and ``Upload-Length``.
- ``PATCH /evidence/{id}``: one chunk (``Content-Type: application/offset+octet-stream``) at
  ``Upload-Offset``, optionally ``Upload-Checksum: sha256 <base64>``; 204 with the new offset.

The attachment's own employee's ``Authorization: Bearer`` token is needed: 401 without a valid
one, 403 for a colleague's attachment, 404 for an unknown id or another company's. Answers are
never cached. Refusals carry a JSON body with the error code and a message in the caller's
language (``Accept-Language``), and the current ``Upload-Offset`` where it helps.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import negotiate_locale
from backend.services.content import evidence_upload
from backend.services.people import auth
from backend.services.viewer import Viewer

TUS_VERSION = "1.0.0"
OFFSET_STREAM = "application/offset+octet-stream"
_DIGITS = re.compile(r"[0-9]{1,18}")
_STATUS = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.ACCOUNT_DISABLED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.VALIDATION: 400,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UPLOAD_OFFSET_MISMATCH: 409,
    ErrorCode.CHUNK_CHECKSUM_MISMATCH: 460,  # tus checksum extension
    ErrorCode.EVIDENCE_HASH_MISMATCH: 422,
    ErrorCode.EVIDENCE_UNREADABLE: 422,
}


def _headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def _refusal(request: Request, error: DomainError, status: int | None = None) -> Response:
    locale = negotiate_locale(request.headers.get("accept-language"))
    body = {"errors": [{"message": error.message(locale), "extensions": {"code": error.code.value}}]}
    headers = _headers()
    if "offset" in error.params:
        headers["Upload-Offset"] = str(error.params["offset"])
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=status or _STATUS.get(error.code, 400),
        media_type="application/json",
        headers=headers,
    )


def _invalid(name: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION, reason_key="reason.field", name=name)


async def _viewer(request: Request, settings: Settings) -> Viewer:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DomainError(ErrorCode.UNAUTHENTICATED)
    return await auth.authenticate(settings, token.strip())


def _checksum(header: str | None) -> bytes | None:
    """The digest of ``Upload-Checksum: sha256 <base64>``; VALIDATION for another algorithm or a
    malformed value (tus: 400)."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm.lower() != "sha256":
        raise _invalid("Upload-Checksum")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("Upload-Checksum") from exc
    if len(digest) != 32:
        raise _invalid("Upload-Checksum")
    return digest


def evidence_endpoints(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    """The ``/evidence/{attachment_id}`` endpoint (OPTIONS, HEAD, PATCH)."""

    async def endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(
                status_code=204,
                headers=_headers(
                    **{
                        "Tus-Version": TUS_VERSION,
                        "Tus-Extension": "checksum",
                        "Tus-Checksum-Algorithm": "sha256",
                        "Tus-Max-Size": str(settings.evidence_max_bytes),
                    }
                ),
            )
        if request.headers.get("tus-resumable") != TUS_VERSION:
            return Response(status_code=412, headers={"Tus-Version": TUS_VERSION, "Cache-Control": "no-store"})
        attachment_id = request.path_params["attachment_id"]
        try:
            viewer = await _viewer(request, settings)
            if request.method == "HEAD":
                row = await evidence_upload.offset_of(settings, viewer, attachment_id)
                return Response(
                    status_code=200,
                    headers=_headers(
                        **{
                            "Upload-Offset": str(evidence_upload.received(row)),
                            "Upload-Length": str(row.size_bytes),
                        }
                    ),
                )
            content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if content_type != OFFSET_STREAM:
                return _refusal(request, _invalid("Content-Type"), 415)
            offset_text = request.headers.get("upload-offset", "")
            if not _DIGITS.fullmatch(offset_text):
                raise _invalid("Upload-Offset")
            checksum = _checksum(request.headers.get("upload-checksum"))
            # Owner first, then the body: a stranger learns nothing. (The body is already bounded:
            # RequestBodyMiddleware reads at most XUEFEN_MAX_BODY_BYTES of any request.)
            row = await evidence_upload.attachment_of(viewer, attachment_id)
            data = await request.body()
            offset = await evidence_upload.append(settings, viewer, row, int(offset_text), data, checksum)
        except DomainError as error:
            return _refusal(request, error)
        return Response(status_code=204, headers=_headers(**{"Upload-Offset": str(offset)}))

    return endpoint
