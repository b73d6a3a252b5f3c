"""Where file bytes live: one small interface, two stores.

Every file is stored once under its sha256 (content addressing: the same bytes uploaded twice, by
two courses or two companies, are one object; which company holds which file is a database row,
``MediaObject``). A file enters a store only once its hash is known, from a temporary file in the
store's own spool directory, so a store never holds a partial or unverified object.

- ``LocalStore`` (the embedded default): ``XUEFEN_MEDIA_DIR/ab/cd/<sha256>``, written by an atomic
  rename, served by the ``/media`` route with sendfile.
- ``S3Store`` (production, several servers, one bucket): any S3-compatible service (AWS S3, MinIO,
  Ceph, Alibaba OSS, Tencent COS), ``XUEFEN_MEDIA_S3_BUCKET`` (+ ``_ENDPOINT``, ``_REGION``;
  credentials from the usual ``AWS_*`` variables). The ``/media`` route answers with a redirect to a
  presigned URL of the object, so bytes go from the bucket to the phone directly.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from backend.config import Settings
from backend.errors import DomainError, ErrorCode

SHA256 = re.compile(r"[0-9a-f]{64}")
CHUNK = 1024 * 1024


def check_sha256(value: str) -> str:
    """``value`` if it is a lower-case hex sha256, else ValueError (a key never names a path)."""
    if not isinstance(value, str) or not SHA256.fullmatch(value):
        raise ValueError("not a sha256")
    return value


@dataclass(frozen=True)
class Spooled:
    """A file written to a store's spool directory: its path, sha256 and size."""

    path: Path
    sha256: str
    size: int


class MediaStore(Protocol):
    """Where file bytes live. Keys are sha256 hex strings; objects never change once stored."""

    spool_dir: Path

    async def put(self, spooled: Spooled) -> None:
        """Store a spooled file under its hash (moves it; nothing happens if it is already there)."""

    async def has(self, sha256: str) -> bool:
        """Whether the object is stored."""

    def local_path(self, sha256: str) -> Path | None:
        """The object's file when the store is local (served with sendfile), else None."""

    async def presigned_url(
        self, sha256: str, *, mime_type: str, file_name: str, expires_in: int, method: str = "GET"
    ) -> str | None:
        """A URL the client fetches the object from directly with ``method`` (GET or HEAD; remote
        stores), else None."""

    async def fetch(self, sha256: str, destination: Path) -> None:
        """Copy the object to a local file (e.g. for ffmpeg)."""

    async def delete(self, sha256: str) -> None:
        """Remove the object (only when no row of any company names it any more)."""


async def spool(
    store: MediaStore, read: Callable[[int], Awaitable[bytes]], max_bytes: int, *, too_large: str = "file"
) -> Spooled:
    """Write a stream to the store's spool directory while hashing it: PAYLOAD_TOO_LARGE past
    ``max_bytes`` (the partial file removed). The caller ``put``s the result or ``discard``s it."""
    store.spool_dir.mkdir(parents=True, exist_ok=True)
    path = store.spool_dir / f"{uuid.uuid4().hex}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("wb") as out:
            while chunk := await read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise DomainError(ErrorCode.PAYLOAD_TOO_LARGE, limit=max_bytes, field=too_large)
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Spooled(path, digest.hexdigest(), size)


async def spool_chunks(store: MediaStore, chunks: AsyncIterator[bytes]) -> Spooled:
    """``spool`` for bytes that come as an async iterator of chunks (already size-checked)."""
    store.spool_dir.mkdir(parents=True, exist_ok=True)
    path = store.spool_dir / f"{uuid.uuid4().hex}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Spooled(path, digest.hexdigest(), size)


def discard(spooled: Spooled) -> None:
    """Remove a spooled file that will not be stored."""
    spooled.path.unlink(missing_ok=True)


class LocalStore:
    """Objects as files under ``root``: ``root/ab/cd/<sha256>``, each written by an atomic rename
    from ``root/.spool`` (same filesystem), so a reader sees a whole object or none."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.spool_dir = root / ".spool"

    def _path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, spooled: Spooled) -> None:
        target = self._path(spooled.sha256)
        if target.exists():
            spooled.path.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(spooled.path, 0o644)
        os.replace(spooled.path, target)

    async def has(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def local_path(self, sha256: str) -> Path | None:
        return self._path(sha256)

    async def presigned_url(
        self, sha256: str, *, mime_type: str, file_name: str, expires_in: int, method: str = "GET"
    ) -> str | None:
        return None

    async def fetch(self, sha256: str, destination: Path) -> None:
        await asyncio.to_thread(shutil.copyfile, self._path(sha256), destination)

    async def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)


class S3Store:
    """Objects in an S3-compatible bucket under ``media/<sha256>``, spooled locally first (the hash
    must be known before the object is named). boto3 is blocking: calls run in a thread."""

    def __init__(self, settings: Settings) -> None:
        import boto3  # noqa: PLC0415 - optional dependency (pip install 'xuefen[s3]'), only when configured

        options: dict[str, Any] = {}
        if settings.media_s3_endpoint:
            options["endpoint_url"] = settings.media_s3_endpoint
        if settings.media_s3_region:
            options["region_name"] = settings.media_s3_region
        self.client = boto3.client("s3", **options)
        self.bucket = settings.media_s3_bucket
        self.spool_dir = Path(settings.media_dir) / ".spool"

    @staticmethod
    def _key(sha256: str) -> str:
        return f"media/{check_sha256(sha256)}"

    async def put(self, spooled: Spooled) -> None:
        try:
            if not await self.has(spooled.sha256):
                await asyncio.to_thread(
                    self.client.upload_file, str(spooled.path), self.bucket, self._key(spooled.sha256)
                )
        finally:
            spooled.path.unlink(missing_ok=True)

    async def has(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError  # noqa: PLC0415 - optional dependency, as above

        try:
            await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=self._key(sha256))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def local_path(self, sha256: str) -> Path | None:
        return None

    async def presigned_url(
        self, sha256: str, *, mime_type: str, file_name: str, expires_in: int, method: str = "GET"
    ) -> str | None:
        if method == "HEAD":  # S3 signs the method: a HEAD needs a head_object URL
            return await asyncio.to_thread(
                self.client.generate_presigned_url,
                "head_object",
                Params={"Bucket": self.bucket, "Key": self._key(sha256)},
                ExpiresIn=expires_in,
            )
        params = {
            "Bucket": self.bucket,
            "Key": self._key(sha256),
            "ResponseContentType": mime_type,
            "ResponseCacheControl": "private, max-age=31536000, immutable",
        }
        if file_name:
            params["ResponseContentDisposition"] = content_disposition(file_name)
        return await asyncio.to_thread(
            self.client.generate_presigned_url, "get_object", Params=params, ExpiresIn=expires_in
        )

    async def fetch(self, sha256: str, destination: Path) -> None:
        await asyncio.to_thread(self.client.download_file, self.bucket, self._key(sha256), str(destination))

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(sha256))


def content_disposition(file_name: str, disposition: str = "inline") -> str:
    """A Content-Disposition header for a (possibly Chinese) file name: an ASCII fallback and the
    RFC 5987 UTF-8 form every current browser and download manager reads."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in file_name) or "file"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


_STORES: dict[tuple[str, str, str, str], MediaStore] = {}


def media_store(settings: Settings) -> MediaStore:
    """The store ``settings`` configure (one instance per configuration and process)."""
    key = (settings.media_dir, settings.media_s3_bucket, settings.media_s3_endpoint, settings.media_s3_region)
    store = _STORES.get(key)
    if store is None:
        store = S3Store(settings) if settings.media_s3_bucket else LocalStore(Path(settings.media_dir))
        _STORES[key] = store
    return store


def temporary_dir(store: MediaStore) -> Path:
    """A fresh private directory beside the spool (renditions, inspection), removed by the caller."""
    store.spool_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="work-", dir=store.spool_dir))
