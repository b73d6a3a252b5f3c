"""The reference phone client of the Xuefen sync protocol (docs/sync-protocol.md).

The app team reads this file as the model implementation, so it favours clarity over cleverness.
Everything a phone must get right is here:

* **The outbox is written before anything is sent.** ``record()`` gives the activity record its
  per-device sequence number and a UUID and commits it to a local SQLite file in one transaction.
  From then on nothing can lose it: not a crash, not a dead network, not a killed app.
* **Outbox rows leave only on a final answer** from the server (``ACCEPTED``, ``DUPLICATE``,
  non-retryable ``REJECTED``, ``CONFLICT``). A request whose answer never arrived is simply sent
  again: the server answers ``DUPLICATE`` for what it already has, so a retry is always safe.
* **Pull pages are applied atomically**: the page's changes, its cursor and the server's
  ``appliedSeq`` go into the local store in one transaction, so the cursor never runs ahead of
  the data. ``RESET_REQUIRED`` clears the store and the cursor (never the outbox) and starts over.
* **Network trouble is normal**: transport errors, timeouts, HTTP 5xx and ``INTERNAL`` are retried
  with exponential backoff and full jitter; after ``max_attempts`` the call gives up with
  ``SyncNetworkError`` and the next ``sync()`` picks up where this one stopped.
* **Sequence numbers are dense**: 1, 2, 3, … per device, never reused. ``SEQUENCE_GAP`` is a bug
  (raised, never papered over); ``SEQUENCE_REUSED`` (app data restored from an old backup) makes
  the client renumber its waiting records after the server's ``appliedSeq`` instead of losing them.
* **Tokens**: on ``TOKEN_EXPIRED`` the client refreshes once (single flight: concurrent callers
  wait for the one refresh), stores the new pair durably *before* using it, and logs in again if
  the refresh token was already used or is invalid.

Local transactions never contain an ``await``: an asyncio cancellation or an exception can only
happen between them, so the SQLite file is consistent at every point. A new ``SyncClient`` on the
same file resumes exactly where the previous one stopped.

It needs httpx, which the server does not: install it with ``pip install 'xuefen[client]'``.

Usage::

    client = SyncClient("phone.sqlite3", "https://xuefen.example.com",
                        tenant="acme", employee_no="E0001", password="…")
    client.record("LESSON_COMPLETED", {"moduleId": module_id, "secondsSpent": 600})
    summary = await client.sync()      # push the outbox, then pull what changed
    courses = client.store_items("COURSE")
    await client.close()
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import random
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger("xuefen.sync.client")

PROTOCOL_VERSION = 1
MAX_BATCH = 500  # the server's limit per syncPush (docs/sync-protocol.md)

# --- GraphQL documents (they match schema/schema.graphql exactly) ------------------------------

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) {
    tokens { accessToken refreshToken }
    errors { code message field retryAfterSeconds }
  }
}
"""

REFRESH = """
mutation Refresh($input: RefreshTokenInput!) {
  refreshToken(input: $input) {
    tokens { accessToken refreshToken }
    errors { code message field retryAfterSeconds }
  }
}
"""

SYNC_PUSH = """
mutation SyncPush($input: SyncPushInput!) {
  syncPush(input: $input) {
    results { id seq status code message retryable originalStatus serverVersion receivedAt }
    appliedSeq
    serverTime
    clockOffsetMs
    clockSkewed
    errors { code message field retryAfterSeconds }
  }
}
"""

SYNC_PULL = """
query SyncPull($input: SyncPullInput!) {
  syncPull(input: $input) {
    changes { entity id op data }
    cursor
    hasMore
    appliedSeq
    serverTime
    errors { code message field retryAfterSeconds }
  }
}
"""

# --- error codes the client acts on ------------------------------------------------------------

TOKEN_EXPIRED = "TOKEN_EXPIRED"
UNAUTHENTICATED = "UNAUTHENTICATED"
REFRESH_FAILED_LOGIN_AGAIN = frozenset({"REFRESH_TOKEN_REUSED", "INVALID_REFRESH_TOKEN"})
INTERNAL = "INTERNAL"
SEQUENCE_GAP = "SEQUENCE_GAP"
SEQUENCE_REUSED = "SEQUENCE_REUSED"
RESET_REQUIRED = "RESET_REQUIRED"
CURSOR_INVALID = "CURSOR_INVALID"
BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"

# HTTP statuses worth retrying: the server (or something in front of it) is having a bad moment.
RETRYABLE_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})


# --- errors ------------------------------------------------------------------------------------


class SyncError(Exception):
    """A sync step failed. ``code`` is the server's stable error code when there is one."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class SyncNetworkError(SyncError):
    """The server could not be reached (or kept failing) after every retry. Nothing is lost:
    call ``sync()`` again later."""


class SyncAuthError(SyncError):
    """Signing in failed for a reason a retry cannot fix (wrong password, disabled account…)."""


class SequenceGapError(SyncError):
    """The server is missing records before the ones sent. The outbox is dense by construction,
    so this is a client bug (or a server that lost data): stop and report, never skip."""


class SyncProtocolError(SyncError):
    """The server refused the request as a whole (unsupported protocol, device mismatch,
    malformed document…). Retrying the same request cannot help."""


class _Retryable(Exception):
    """Internal: this attempt failed in a way worth another try."""


# --- the summary of one sync() -----------------------------------------------------------------


@dataclass
class SyncSummary:
    """What one ``sync()`` did."""

    pushed: int = 0  # outbox rows that got a final answer and left the outbox
    pulled: int = 0  # changes applied to the local store
    retries: int = 0  # requests repeated after a transport error, timeout, 5xx or INTERNAL
    pages: int = 0  # pull pages applied
    resets: int = 0  # RESET_REQUIRED (or CURSOR_INVALID) answers that restarted the pull
    rejected: list[dict[str, Any]] = field(default_factory=list)  # final refusals, to show the user
    conflicts: list[dict[str, Any]] = field(default_factory=list)  # CONFLICTs, with serverVersion
    pending: int = 0  # outbox rows still waiting (retryable refusals), to be sent next time


@dataclass
class _BatchAnswer:
    """What the server's answer to one syncPush batch means for each outbox row."""

    final: list[str] = field(default_factory=list)  # ids with a final answer: they leave the outbox
    waiting: list[dict[str, Any]] = field(default_factory=list)  # retryable refusals (seq not consumed)
    gap: dict[str, Any] | None = None  # the first SEQUENCE_GAP refusal
    reused: bool = False  # a SEQUENCE_REUSED refusal: the outbox must be renumbered

    @classmethod
    def of(cls, batch: list[sqlite3.Row], results: list[dict[str, Any]], summary: SyncSummary) -> _BatchAnswer:
        """Sort the batch by the results; final refusals and conflicts go to ``summary``."""
        answer = cls()
        by_id = {str(r["id"]).lower(): r for r in results}
        for row in batch:
            result = by_id.get(row["id"])
            if result is None:
                answer.waiting.append({"id": row["id"], "seq": row["seq"], "code": None})
                continue
            status = result["status"]
            if status == "REJECTED" and result.get("code") == SEQUENCE_REUSED:
                # The server already used this seq for another record and did NOT store this
                # one. Dropping it would lose a fact; it happens when the app's data was
                # restored from an old backup. Keep it and renumber.
                answer.reused = True
                continue
            if status == "REJECTED" and result.get("retryable"):
                if result.get("code") == SEQUENCE_GAP:
                    answer.gap = answer.gap or result
                else:
                    answer.waiting.append(result)
                continue
            # ACCEPTED, DUPLICATE, CONFLICT and final REJECTED are all final answers.
            answer.final.append(row["id"])
            if status == "REJECTED" or (status == "DUPLICATE" and result.get("originalStatus") == "REJECTED"):
                summary.rejected.append(result)
            elif status == "CONFLICT" or (status == "DUPLICATE" and result.get("originalStatus") == "CONFLICT"):
                summary.conflicts.append(result)
        return answer


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(UTC).isoformat()


class SyncClient:
    """One phone: a local SQLite file (outbox, store, meta) and a connection to the server.

    Parameters:
        db_path: the local database file (created if missing).
        base_url: the server, e.g. ``http://127.0.0.1:8000`` (requests go to ``/graphql``).
        tenant, employee_no, password: the credentials (a phone keeps the password only as long
            as the app needs to sign in again; here it is kept to re-login after a refused refresh).
        device_id: this installation's id. Generated once and stored in the file when absent;
            a file always belongs to one device and one employee.
        transport: an ``httpx`` transport (e.g. ``httpx.ASGITransport(app=app)`` in tests), or
        http_factory: a callable returning an ``httpx.AsyncClient`` (e.g. one with no keep-alive,
            or one going through a proxy). The client owns and closes what it creates.
        clock: the device clock (injectable so simulations can skew it).
        sleep: how to wait between retries (injectable so tests run fast).
        rng: the random source of the retry jitter.
        batch_size: records per syncPush (at most 500).
        pull_limit: changes per syncPull page.
        retry_base, retry_cap: backoff in seconds: attempt n waits uniform(0, min(cap, base·2ⁿ⁻¹)).
        max_attempts: tries per request before ``SyncNetworkError``.
        timeout: seconds per HTTP request.
    """

    def __init__(
        self,
        db_path: str | Path,
        base_url: str,
        *,
        tenant: str,
        employee_no: str,
        password: str,
        device_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_factory: Callable[[], httpx.AsyncClient] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        batch_size: int = MAX_BATCH,
        pull_limit: int = 200,
        retry_base: float = 0.25,
        retry_cap: float = 10.0,
        max_attempts: int = 6,
        timeout: float = 15.0,
        compress: bool = True,
        language: str | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1…{MAX_BATCH}")
        if transport is not None and http_factory is not None:
            raise ValueError("give a transport or an http_factory, not both")
        self.url = base_url.rstrip("/") + "/graphql"
        self.tenant = tenant
        self.employee_no = employee_no
        self._password = password
        self._transport = transport
        self._http_factory = http_factory
        self._http: httpx.AsyncClient | None = None
        self.clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.batch_size = batch_size
        self.pull_limit = pull_limit
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.compress = compress
        self.language = language
        self.retries = 0  # running total of retried requests (sync() reports its share)
        self._auth_lock = asyncio.Lock()  # single flight for login and refresh
        self._sync_lock = asyncio.Lock()  # one sync() at a time per client
        self.device_id: str  # this installation's, read from (or first written to) the file

        self._db = sqlite3.connect(str(db_path), isolation_level=None)  # we issue BEGIN/COMMIT
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed record survives power loss
        self._db.execute("PRAGMA busy_timeout=5000")
        with self._transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS outbox ("
                " id TEXT PRIMARY KEY,"  # the record's UUID, generated here
                " seq INTEGER NOT NULL UNIQUE,"  # per-device sequence, 1, 2, 3 … never reused
                " kind TEXT NOT NULL,"
                " occurred_at TEXT NOT NULL,"  # device clock, ISO 8601 UTC
                " payload TEXT NOT NULL)"  # JSON
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS store ("
                " entity TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL,"
                " PRIMARY KEY (entity, id))"
            )
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            stored_device = self._get(db, "device_id")
            if stored_device is None:
                self.device_id = device_id or f"dev-{uuid.uuid4().hex}"
                self._put(db, "device_id", self.device_id)
                self._put(db, "next_seq", "1")
                self._put(db, "applied_seq", "0")
                self._put(db, "tenant", tenant)
                self._put(db, "employee_no", employee_no.upper())
            else:
                if device_id is not None and device_id != stored_device:
                    raise ValueError(f"{db_path} belongs to device {stored_device!r}, not {device_id!r}")
                owner = (self._get(db, "tenant"), self._get(db, "employee_no"))
                if owner != (tenant, employee_no.upper()):
                    # The outbox holds another employee's records: never send them as this one.
                    raise ValueError(f"{db_path} belongs to {owner[1]} of {owner[0]}")
                self.device_id = stored_device

    # --- local database ------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One local transaction. Never ``await`` inside: it must be all or nothing."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @staticmethod
    def _get(db: sqlite3.Connection, key: str) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _put(db: sqlite3.Connection, key: str, value: str | None) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _meta(self, key: str) -> str | None:
        return self._get(self._db, key)

    @property
    def cursor(self) -> str | None:
        """The feed cursor of the last applied page (None before the first pull)."""
        return self._meta("cursor")

    @property
    def applied_seq(self) -> int:
        """The server's applied sequence for this device, as last heard."""
        return int(self._meta("applied_seq") or 0)

    # --- recording -----------------------------------------------------------------------------

    def record(self, kind: str, payload: dict[str, Any], occurred_at: datetime | None = None) -> str:
        """Put an activity record in the outbox and return its id.

        The next sequence number and the row are committed in ONE local transaction before this
        returns, so a record either exists with a unique seq or not at all."""
        if not kind or not isinstance(kind, str):
            raise ValueError("kind must be a non-empty string")
        if not isinstance(payload, dict):
            raise ValueError("payload must be a JSON object")
        record_id = str(uuid.uuid4())
        occurred = _iso(occurred_at or self.clock())
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        with self._transaction() as db:
            seq = int(self._get(db, "next_seq") or 1)
            db.execute(
                "INSERT INTO outbox (id, seq, kind, occurred_at, payload) VALUES (?, ?, ?, ?, ?)",
                (record_id, seq, kind, occurred, body),
            )
            self._put(db, "next_seq", str(seq + 1))
        return record_id

    def outbox_size(self) -> int:
        """Records still waiting for a final answer from the server."""
        return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def outbox(self) -> list[dict[str, Any]]:
        """The outbox in sequence order (for inspection)."""
        rows = self._db.execute("SELECT id, seq, kind, occurred_at, payload FROM outbox ORDER BY seq")
        return [
            {
                "id": r["id"],
                "seq": r["seq"],
                "kind": r["kind"],
                "occurredAt": r["occurred_at"],
                "payload": json.loads(r["payload"]),
            }
            for r in rows
        ]

    def store_items(self, entity: str | None = None) -> dict[tuple[str, str], Any]:
        """The local store as ``{(entity, id): data}``, optionally of one entity."""
        if entity is None:
            rows = self._db.execute("SELECT entity, id, data FROM store")
        else:
            rows = self._db.execute("SELECT entity, id, data FROM store WHERE entity = ?", (entity,))
        return {(r["entity"], r["id"]): json.loads(r["data"]) for r in rows}

    # --- sync ----------------------------------------------------------------------------------

    async def sync(self) -> SyncSummary:
        """Push the whole outbox, then pull until the feed has nothing more. Safe to call at any
        time and to interrupt at any point: the next call resumes."""
        async with self._sync_lock:
            summary = SyncSummary()
            retries_before = self.retries
            try:
                await self._push(summary)
                await self._pull(summary)
            finally:
                summary.retries = self.retries - retries_before
            return summary

    async def push(self) -> SyncSummary:
        """Only the push half of ``sync()``."""
        async with self._sync_lock:
            summary, retries_before = SyncSummary(), self.retries
            try:
                await self._push(summary)
            finally:
                summary.retries = self.retries - retries_before
            return summary

    async def pull(self) -> SyncSummary:
        """Only the pull half of ``sync()``."""
        async with self._sync_lock:
            summary, retries_before = SyncSummary(), self.retries
            try:
                await self._pull(summary)
            finally:
                summary.retries = self.retries - retries_before
            return summary

    async def _push(self, summary: SyncSummary) -> None:
        batch_size = self.batch_size
        renumbered = 0
        while True:
            batch = self._db.execute(
                "SELECT id, seq, kind, occurred_at, payload FROM outbox ORDER BY seq LIMIT ?",
                (batch_size,),
            ).fetchall()
            if not batch:
                return
            variables = {
                "input": {
                    "protocolVersion": PROTOCOL_VERSION,
                    "deviceId": self.device_id,
                    "sentAt": None,  # stamped with the device clock on every attempt (_request)
                    "records": [
                        {
                            "id": r["id"],
                            "seq": r["seq"],
                            "kind": r["kind"],
                            "occurredAt": r["occurred_at"],
                            "payload": json.loads(r["payload"]),
                        }
                        for r in batch
                    ],
                }
            }
            try:
                payload = await self._call(SYNC_PUSH, variables, "syncPush", stamp_sent_at=True)
            except SyncProtocolError as error:
                if error.code == PAYLOAD_TOO_LARGE and len(batch) > 1:
                    # HTTP 413: the body is over the server's limit (big payloads). Halve the batch.
                    batch_size = len(batch) // 2
                    continue
                raise
            codes = [e["code"] for e in payload["errors"]]
            if codes:
                if BATCH_TOO_LARGE in codes and len(batch) > 1:
                    batch_size = len(batch) // 2  # this server takes fewer records per push
                    continue
                raise SyncProtocolError(f"syncPush refused: {payload['errors']}", codes[0])

            answer = _BatchAnswer.of(batch, payload["results"], summary)
            final, waiting, gap = answer.final, answer.waiting, answer.gap

            # Drop what is final and remember the server's high-water mark, in one transaction.
            applied_seq = int(payload["appliedSeq"])
            with self._transaction() as db:
                db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in final])
                self._put(db, "applied_seq", str(applied_seq))
            summary.pushed += len(final)

            if answer.reused:
                renumbered += 1
                if renumbered > 3:
                    raise SyncProtocolError("sequence numbers keep colliding", SEQUENCE_REUSED)
                self._renumber_outbox(applied_seq)
                continue

            if gap is not None and not waiting:
                # Nothing earlier is waiting, yet the server misses records before these: the
                # outbox is dense by construction, so this is a bug. Never skip records to "fix" it.
                raise SequenceGapError(
                    f"server applied up to {payload['appliedSeq']} but got seq {gap['seq']}: {gap.get('message')}",
                    SEQUENCE_GAP,
                )
            if waiting or gap is not None:
                # A record was refused for now (e.g. the server is not ready for it); everything
                # after it would be a gap. Keep them all and try again on the next sync().
                summary.pending = self.outbox_size()
                log.info("push stopped: %d record(s) to retry later", summary.pending)
                return
            if not final:
                raise SyncProtocolError("syncPush answered without results for the batch")

    def _renumber_outbox(self, applied_seq: int) -> None:
        """Give every waiting record a new sequence number after the server's ``applied_seq``,
        keeping their order, and move ``next_seq`` past them: all in one transaction. Safe
        because a record refused with SEQUENCE_REUSED was not stored under any number."""
        with self._transaction() as db:
            ids = [row[0] for row in db.execute("SELECT id FROM outbox ORDER BY seq")]
            db.execute("UPDATE outbox SET seq = -seq")  # out of the way of the UNIQUE constraint
            db.executemany(
                "UPDATE outbox SET seq = ? WHERE id = ?",
                [(applied_seq + 1 + offset, record_id) for offset, record_id in enumerate(ids)],
            )
            next_seq = max(int(self._get(db, "next_seq") or 1), applied_seq + 1 + len(ids))
            self._put(db, "next_seq", str(next_seq))
        log.warning("outbox renumbered from %d (the server had used our sequence numbers)", applied_seq + 1)

    async def _pull(self, summary: SyncSummary) -> None:
        while True:
            cursor = self._meta("cursor")
            variables = {
                "input": {
                    "protocolVersion": PROTOCOL_VERSION,
                    "deviceId": self.device_id,
                    "cursor": cursor,
                    "limit": self.pull_limit,
                }
            }
            payload = await self._call(SYNC_PULL, variables, "syncPull")
            codes = [e["code"] for e in payload["errors"]]
            if RESET_REQUIRED in codes or CURSOR_INVALID in codes:
                if cursor is None or summary.resets >= 3:
                    raise SyncProtocolError(f"syncPull refused a fresh pull: {payload['errors']}", codes[0])
                # Our cursor is older than the oldest tombstone the server kept (or the server no
                # longer knows it): we may have missed deletions, so start over from a snapshot.
                # The outbox is NOT touched: those records are still ours to deliver.
                with self._transaction() as db:
                    db.execute("DELETE FROM store")
                    self._put(db, "cursor", None)
                summary.resets += 1
                log.warning("pull: %s, local store cleared, pulling a fresh snapshot", codes[0])
                continue
            if codes:
                raise SyncProtocolError(f"syncPull refused: {payload['errors']}", codes[0])

            changes = payload["changes"]
            new_cursor = payload["cursor"] or cursor
            self._apply_page(changes, new_cursor, int(payload["appliedSeq"]))
            summary.pulled += len(changes)
            summary.pages += 1
            if not payload["hasMore"]:
                return
            if new_cursor == cursor and not changes:
                raise SyncProtocolError("syncPull says hasMore but its cursor does not move")

    def _apply_page(self, changes: list[dict[str, Any]], cursor: str | None, applied_seq: int) -> None:
        """A page, its cursor and the server's appliedSeq: all in the store, or none of it."""
        with self._transaction() as db:
            for change in changes:
                if change["op"] == "DELETE":
                    db.execute("DELETE FROM store WHERE entity = ? AND id = ?", (change["entity"], change["id"]))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO store (entity, id, data) VALUES (?, ?, ?)",
                        (change["entity"], change["id"], json.dumps(change["data"], ensure_ascii=False)),
                    )
            self._put(db, "cursor", cursor)
            self._put(db, "applied_seq", str(applied_seq))

    # --- authentication ------------------------------------------------------------------------

    async def login(self) -> None:
        """Sign in with the password (also done automatically when needed)."""
        async with self._auth_lock:
            await self._login_locked()

    async def _login_locked(self) -> None:
        variables = {
            "input": {
                "tenant": self.tenant,
                "employeeNo": self.employee_no,
                "password": self._password,
                "deviceId": self.device_id,
            }
        }
        payload = await self._call(LOGIN, variables, "login", authenticated=False)
        if payload["errors"]:
            error = payload["errors"][0]
            raise SyncAuthError(f"login failed: {error['message']}", error["code"])
        self._store_tokens(payload["tokens"])

    def _store_tokens(self, tokens: dict[str, str]) -> None:
        # Durable before use: if the app dies right after, the next start has a working pair
        # (the old refresh token is already spent on the server).
        with self._transaction() as db:
            self._put(db, "access_token", tokens["accessToken"])
            self._put(db, "refresh_token", tokens["refreshToken"])

    async def _access_token(self) -> str:
        token = self._meta("access_token")
        if token:
            return token
        async with self._auth_lock:
            if not self._meta("access_token"):
                await self._login_locked()
        token = self._meta("access_token")
        if token is None:  # a login stores a pair or raises: only a broken local file gets here
            raise SyncAuthError("signed in, but no access token was stored", UNAUTHENTICATED)
        return token

    async def _renew(self, stale_token: str, code: str) -> None:
        """After ``TOKEN_EXPIRED`` (refresh) or ``UNAUTHENTICATED`` (login again) for a request
        made with ``stale_token``. Single flight: whoever gets the lock first renews; the others
        find a different token stored and simply use it."""
        async with self._auth_lock:
            if self._meta("access_token") != stale_token:
                return  # someone renewed while we waited
            refresh_token = self._meta("refresh_token")
            if code != TOKEN_EXPIRED or not refresh_token:
                await self._login_locked()  # the session is gone: sign in again
                return
            variables = {"input": {"refreshToken": refresh_token, "deviceId": self.device_id}}
            payload = await self._call(REFRESH, variables, "refreshToken", authenticated=False)
            if not payload["errors"]:
                self._store_tokens(payload["tokens"])
                return
            error = payload["errors"][0]
            if error["code"] in REFRESH_FAILED_LOGIN_AGAIN:
                # A refresh retried after its answer was lost gets the same pair within the
                # server's retry window (XUEFEN_REFRESH_RETRY_SECONDS); later, REFRESH_TOKEN_REUSED
                # ends the session. Sign in again.
                log.info("refresh refused (%s): signing in again", error["code"])
                await self._login_locked()
                return
            raise SyncAuthError(f"refresh failed: {error['message']}", error["code"])

    # --- HTTP ----------------------------------------------------------------------------------

    async def _call(
        self,
        document: str,
        variables: dict[str, Any],
        field_name: str,
        *,
        authenticated: bool = True,
        stamp_sent_at: bool = False,
    ) -> dict[str, Any]:
        """Run one GraphQL operation and return its payload (``data[field_name]``), renewing the
        token when the server says so. Payload ``errors`` other than auth ones are the caller's."""
        for _ in range(4):  # a few renewals at most; a server that keeps refusing is a bug
            token = await self._access_token() if authenticated else None
            payload, auth_code = await self._request(document, variables, field_name, token, stamp_sent_at)
            if auth_code is None:
                return payload
            if not authenticated or token is None:
                raise SyncAuthError(f"{field_name}: {auth_code}", auth_code)
            await self._renew(token, auth_code)
        raise SyncAuthError(f"{field_name}: still not signed in after renewing", UNAUTHENTICATED)

    async def _request(
        self,
        document: str,
        variables: dict[str, Any],
        field_name: str,
        token: str | None,
        stamp_sent_at: bool,
    ) -> tuple[dict[str, Any], str | None]:
        """POST with retries. Returns ``(payload, auth_code)`` where ``auth_code`` is
        TOKEN_EXPIRED/UNAUTHENTICATED when the request was refused for its token."""
        attempt = 0
        while True:
            attempt += 1
            if stamp_sent_at:
                # sentAt is "the device clock when this request was built": stamp every attempt,
                # or a retry after a long backoff would look like a device clock running behind.
                variables["input"]["sentAt"] = _iso(self.clock())
            try:
                return await self._attempt(document, variables, field_name, token)
            except _Retryable as exc:
                if attempt >= self.max_attempts:
                    raise SyncNetworkError(f"{field_name}: giving up after {attempt} attempts ({exc})") from exc
                self.retries += 1
                # Exponential backoff with full jitter: phones that failed together must not
                # all come back at the same instant.
                delay = self._rng.uniform(0, min(self.retry_cap, self.retry_base * 2 ** (attempt - 1)))
                log.debug("%s attempt %d failed (%s); retrying in %.2fs", field_name, attempt, exc, delay)
                await self._sleep(delay)

    async def _attempt(
        self, document: str, variables: dict[str, Any], field_name: str, token: str | None
    ) -> tuple[dict[str, Any], str | None]:
        body = json.dumps({"query": document, "variables": variables}, ensure_ascii=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "X-Request-ID": uuid.uuid4().hex,  # correlates with the server log
        }
        if self.compress:
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.language:
            headers["Accept-Language"] = self.language
        try:
            response = await self._client().post(self.url, content=body, headers=headers, timeout=self.timeout)
        except httpx.RequestError as exc:  # connect/read errors, timeouts, broken or truncated bodies
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code in RETRYABLE_HTTP:
            raise _Retryable(f"HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError as exc:  # a body cut short without the transport noticing
            if response.status_code == 200:
                raise _Retryable("unreadable response body") from exc
            raise SyncProtocolError(f"HTTP {response.status_code}: {response.text[:200]}") from exc
        if response.status_code != 200:
            codes = _top_level_codes(answer)
            raise SyncProtocolError(f"HTTP {response.status_code}: {answer}", codes[0] if codes else None)

        top_codes = _top_level_codes(answer)
        payload = (answer.get("data") or {}).get(field_name)
        payload_codes = [e.get("code") for e in (payload or {}).get("errors") or []]
        codes = top_codes + payload_codes
        if INTERNAL in codes:
            raise _Retryable("INTERNAL")  # the server rolled everything back: send it again as is
        for code in (TOKEN_EXPIRED, UNAUTHENTICATED):
            if code in codes:
                return {}, code
        if payload is None:
            raise SyncProtocolError(f"{field_name} failed: {answer.get('errors')}", top_codes[0] if top_codes else None)
        return payload, None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            if self._http_factory is not None:
                self._http = self._http_factory()
            else:
                self._http = httpx.AsyncClient(transport=self._transport, timeout=self.timeout)
        return self._http

    async def close(self) -> None:
        """Close the HTTP client and the local database."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self._db.close()


def _top_level_codes(answer: Any) -> list[str]:
    if not isinstance(answer, dict):
        return []
    return [
        ((error.get("extensions") or {}).get("code") or "")
        for error in answer.get("errors") or []
        if isinstance(error, dict)
    ]
