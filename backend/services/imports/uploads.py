"""Imports through the API (HR admins): an uploaded file becomes a job that runs in the server
process, in the background, while ``importJob`` shows its status and progress.

- The file is copied under ``XUEFEN_DATA_DIR/imports/<tenant>/`` (never past
  ``XUEFEN_IMPORT_MAX_BYTES``: PAYLOAD_TOO_LARGE) and kept only while its job runs.
- A file that is neither CSV nor XLSX is refused at once (IMPORT_FILE_UNREADABLE), without a job.
- A job whose process died stays QUEUED or RUNNING with a row that stops moving; once it has not
  moved for ``jobs.STALE_AFTER`` it is marked FAILED (INTERRUPTED) whenever HR reads the jobs
  (``stale_jobs_failed``), and its file is removed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import ImportJob, Role
from backend.services.imports.jobs import create_job, run_job, stale_jobs_failed
from backend.services.imports.registry import kind_named
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.viewer import Viewer

CHUNK = 1024 * 1024
ReadChunk = Callable[[int], Awaitable[bytes]]

JOB_ORDER: Keyset[ImportJob] = Keyset("import_job", ("created_at", "id"), (datetime, int), descending=True)

_RUNNING: set[asyncio.Task[None]] = set()  # jobs of this process (a reference keeps each task alive)
_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f/\\]")


def stored_path(settings: Settings, storage_key: str) -> Path:
    """Where a job's file is kept (``storage_key`` is relative to the data directory)."""
    return Path(settings.data_dir) / storage_key


def _file_name(name: str | None) -> str:
    """The uploaded file's name as people gave it, safe to show: the last path part, no control
    characters, at most 200 characters."""
    base = re.split(r"[/\\]", name or "")[-1]
    return _NAME_CHARS.sub("", base).strip()[:200] or "upload"


async def _store(path: Path, read: ReadChunk, limit: int) -> None:
    """Copy the upload to ``path``, chunk by chunk; PAYLOAD_TOO_LARGE past ``limit`` bytes."""
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    stream = await asyncio.to_thread(path.open, "wb")
    size = 0
    try:
        while chunk := await read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise DomainError(ErrorCode.PAYLOAD_TOO_LARGE, field="input.file", max=limit)
            await asyncio.to_thread(stream.write, chunk)
    finally:
        await asyncio.to_thread(stream.close)


async def start_import(
    viewer: Viewer,
    settings: Settings,
    kind_name: str,
    file_name: str | None,
    read: ReadChunk,
    *,
    dry_run: bool,
    partial: bool,
    locale: str,
) -> ImportJob:
    """Store an uploaded file and start its job in the background (HR admins). The job starts
    QUEUED; ``importJob`` shows it move."""
    viewer.require_role(Role.HR_ADMIN)
    kind = kind_named(kind_name, "input.kind")
    key = f"imports/{viewer.tenant_id}/{uuid.uuid4().hex}"
    path = stored_path(settings, key)
    try:
        await _store(path, read, settings.import_max_bytes)
        job = await create_job(
            viewer.tenant_id,
            kind,
            path,
            _file_name(file_name),
            dry_run=dry_run,
            partial=partial,
            actor_id=viewer.employee_id,
            storage_key=key,
        )
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    task = asyncio.create_task(_run_stored(job, path, locale))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return job


async def _run_stored(job: ImportJob, path: Path, locale: str) -> None:
    try:
        await run_job(job, path, via="graphql", locale=locale)
    except Exception:
        logging.getLogger("xuefen.imports").exception("import job %s could not be recorded", job.id)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


async def wait_for_jobs() -> None:
    """Wait until the jobs this process started have ended (tests, shutdown)."""
    while _RUNNING:
        await asyncio.gather(*_RUNNING, return_exceptions=True)


async def fail_stale_jobs(settings: Settings, tenant_id: int | None = None) -> int:
    """Mark the jobs of dead processes FAILED and remove their files; how many there were."""
    stale = await stale_jobs_failed(tenant_id)
    for job in stale:
        if job.storage_key:
            await asyncio.to_thread(stored_path(settings, job.storage_key).unlink, missing_ok=True)
    return len(stale)


async def import_job(viewer: Viewer, settings: Settings, job_id: int) -> ImportJob:
    """One job of the company (HR admins); NOT_FOUND for another company's."""
    viewer.require_role(Role.HR_ADMIN)
    await fail_stale_jobs(settings, viewer.tenant_id)
    job = await ImportJob.filter(tenant_id=viewer.tenant_id, id=job_id).first()
    if job is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="id")
    return job


async def import_jobs(
    viewer: Viewer, settings: Settings, first: int, after: str | None, max_page_size: int
) -> Page[ImportJob]:
    """The company's import jobs, newest first (HR admins)."""
    viewer.require_role(Role.HR_ADMIN)
    first = check_page_size(first, max_page_size)
    await fail_stale_jobs(settings, viewer.tenant_id)
    return await JOB_ORDER.fetch(ImportJob.filter(tenant_id=viewer.tenant_id), first, after)
