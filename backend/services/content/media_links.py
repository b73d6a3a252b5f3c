"""Short-lived signed links to media files: ``/media/<sha256>?k=<key>``.

A phone's video player and download manager cannot add an Authorization header, so a link carries
its own permission: the key is signed (``backend/signing.py``, kind ``m1``) over the file's hash,
the company, its MIME type and an expiry, and is handed only to people who may see the content
(``content`` services check that before they sign). Checking a key needs no database, so every
Range request of a download costs a signature check and a ``stat``. A link cannot be widened to
another file (the hash is signed) and dies at its expiry; a fresh one comes with the course's
download links (``courseDownload``), which the app asks for when a link has expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.signing import expiry, sign, unsign

LINK_KIND = "m1"


@dataclass(frozen=True)
class MediaKey:
    """What a media link's key says: the file, whose company it is, its type and the expiry."""

    sha256: str
    tenant_id: int
    mime_type: str
    expires_at: int


def media_path(
    settings: Settings, tenant_id: int, sha256: str, mime_type: str, now: datetime | None = None
) -> tuple[str, datetime]:
    """A link to one file of ``tenant_id`` for someone allowed to see it, and when it expires."""
    expires_at = expiry(now or datetime.now(UTC), settings.media_url_ttl_seconds)
    key = sign(settings.keys, LINK_KIND, [sha256, tenant_id, mime_type, expires_at])
    return f"/media/{sha256}?k={key}", datetime.fromtimestamp(expires_at, UTC)


def read_media_key(settings: Settings, sha256: str, key: str, now: datetime | None = None) -> MediaKey:
    """The claims of a key we signed for ``sha256``: UNAUTHENTICATED for a forged, altered or
    malformed key, FORBIDDEN for a key of another file, TOKEN_EXPIRED past its expiry."""
    try:
        signed_hash, tenant_id, mime_type, expires_at = unsign(settings.keys, LINK_KIND, key)
        claims = MediaKey(str(signed_hash), int(tenant_id), str(mime_type), int(expires_at))
    except (ValueError, TypeError) as exc:
        raise DomainError(ErrorCode.UNAUTHENTICATED) from exc
    if claims.sha256 != sha256:
        raise DomainError(ErrorCode.FORBIDDEN)
    if claims.expires_at <= (now or datetime.now(UTC)).timestamp():
        raise DomainError(ErrorCode.TOKEN_EXPIRED)
    return claims
