"""Configuration from environment variables, with safe development defaults.

Every setting is read once into an immutable ``Settings``; tests build their own instance instead
of patching globals.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from functools import cached_property
from urllib.parse import urlsplit

from backend.keyring import KeyRing

log = logging.getLogger("xuefen.config")

DEV_SECRET_KEY = "xuefen-development-secret-do-not-use-in-production"
DEFAULT_DATABASE_URL = "sqlite://xuefen.sqlite3"
ENVIRONMENTS = ("development", "production")
DEFAULT_PUBLIC_URL = "http://localhost:8000"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MIN_PRODUCTION_SECRET_LENGTH = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(SystemExit):
    """A configuration the server refuses to run with. A ``SystemExit``: the command ends with
    its one-line message on stderr and exit status 1, no traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(f"xuefen: {message}")


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    return value


def _keys(env: dict[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of keys, as written (empty entries dropped: a trailing comma is fine).
    Nothing is stripped: a key with whitespace around it is refused (``_check_key_whitespace``)."""
    return tuple(key for key in env.get(name, "").split(",") if key)


def _check_key_whitespace(settings: Settings) -> None:
    """Refuse a key with whitespace at either end. Stripping some variables and not others made one
    key two: a current key read with the ``\r`` of a CRLF ``.env``, moved later into the (stripped)
    previous keys, no longer verified what it had signed. A key is used exactly as written, so
    whitespace around one is a mistake to report, never to guess at."""
    named = [("XUEFEN_SECRET_KEY", settings.secret_key), ("XUEFEN_DEVICE_TAG_KEY", settings.device_tag_key)]
    named += [("XUEFEN_PREVIOUS_SECRET_KEYS", key) for key in settings.previous_secret_keys]
    for name, key in named:
        if key != key.strip():
            raise ConfigError(
                f"{name}: a key has spaces, tabs or line breaks at its start or end "
                "(a .env saved with CRLF line ends?); remove them"
            )


def _origins(raw: str) -> tuple[str, ...]:
    """XUEFEN_CORS_ORIGINS: comma-separated origins (``https://app.example.com``) or ``*``. An
    origin is a scheme, a host and maybe a port: no path, as a browser's Origin header never has
    one (a trailing slash is forgiven)."""
    origins = []
    for item in (part.strip().rstrip("/") for part in raw.split(",")):
        if not item:
            continue
        scheme, _, rest = item.partition("://")
        if item != "*" and (scheme not in ("http", "https") or not rest or "/" in rest):
            raise ConfigError(f"XUEFEN_CORS_ORIGINS: {item!r} is not an origin such as https://app.example.com")
        origins.append(item)
    return tuple(origins)


def _public_url(env: dict[str, str]) -> str:
    """XUEFEN_PUBLIC_URL without its trailing slash: an http(s) address with a host and no query,
    fragment or credentials (it is printed into certificates' QR codes and handed out in links)."""
    raw = (env.get("XUEFEN_PUBLIC_URL") or DEFAULT_PUBLIC_URL).strip().rstrip("/")
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
        or not raw.isascii()
        or any(c.isspace() for c in raw)
    ):
        raise ConfigError(
            f"XUEFEN_PUBLIC_URL must be an http(s) address such as https://xuefen.example.com, got {raw!r}"
        )
    return raw


def _log_level(env: dict[str, str]) -> str:
    raw = (env.get("XUEFEN_LOG_LEVEL") or "INFO").strip().upper()
    if raw not in LOG_LEVELS:
        raise ConfigError(f"XUEFEN_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {raw.lower()!r}")
    return raw


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Runtime settings. Build with ``Settings.from_env()``; see the README for each variable."""

    database_url: str = DEFAULT_DATABASE_URL
    # The key ring (backend/keyring.py, docs/key-rotation.md): secret_key is the current key,
    # previous_secret_keys are still accepted (newest first), device_tag_key pins device tags.
    secret_key: str = DEV_SECRET_KEY
    previous_secret_keys: tuple[str, ...] = ()
    device_tag_key: str = ""
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # Login throttling (see backend/services/people/auth.py), kept in the database so it holds across
    # server processes. Each limit counts failures within the window and then refuses for the lock
    # time; 0 turns a limit off. login_max_failures: per typed account and client address (and per
    # account and already-signed-in device). Account-wide: failures from all addresses, refusing
    # only devices that never signed in to the account. Per source: one client address across all
    # accounts (enumeration of sequential employee numbers).
    login_max_failures: int = 5
    login_failure_window_seconds: int = 15 * 60
    login_lock_seconds: int = 15 * 60
    login_account_max_failures: int = 10
    login_source_max_failures: int = 100
    # A used refresh token retried from its device within this many seconds (its answer was lost)
    # gets the same new pair again instead of counting as reuse; 0 turns the grace off.
    refresh_retry_seconds: int = 120
    # argon2id cost; production keeps the library defaults, tests lower them to stay fast.
    password_time_cost: int = 3
    password_memory_cost_kib: int = 64 * 1024
    introspection: bool = True
    graphiql: bool = True
    max_query_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_page_size: int = 100
    # GraphQL over HTTP (docs/api.md). Persisted documents (APQ, the allow-list): a document's
    # text may be at most graphql_max_query_bytes (UTF-8) to be remembered; each process keeps
    # apq_cache_size of them in memory, and at most apq_max_stored unregistered ones are written
    # to the database (shared by every process; 0: APQ stays in process memory only). With
    # graphql_allowlist only registered documents run. cors_origins: the web origins allowed to
    # call the API from a browser (empty: no CORS headers).
    graphql_max_query_bytes: int = 64 * 1024
    apq_cache_size: int = 1000
    apq_max_stored: int = 10_000
    graphql_allowlist: bool = False
    cors_origins: tuple[str, ...] = ()
    db_pool_max: int = 10
    log_level: str = "INFO"
    # Observability (docs/observability.md). log_format: "json" (one JSON object a line) or
    # "console" (readable); metrics_token: the bearer token /metrics wants (empty: /metrics is
    # 404 on the public port); metrics_port: also serve the metrics on metrics_host:metrics_port
    # (0: no internal port); otel_enabled: OpenTelemetry tracing (the otel extra).
    log_format: str = "console"
    metrics_token: str = ""
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    otel_enabled: bool = False
    max_body_bytes: int = 8 * 1024 * 1024
    # A body over max_body_bytes is still read (and thrown away) up to this many bytes, so the
    # client, which is still sending, can read the 413; beyond it the connection is dropped.
    max_body_drain_bytes: int = 4 * 8 * 1024 * 1024
    # Request rate limits (backend/rate_limit.py, docs/api.md): per access token, per signed-in
    # device and person, and per client address for requests without a valid token, in the `limits` syntax
    # ("600/minute", several joined by ";", or "off"). Off in Settings built in code (tests and
    # benchmarks send thousands of requests with one token); from_env turns them on unless
    # XUEFEN_RATE_LIMIT=off. Counted in Redis at redis_url (keys under rate_limit_prefix) when set,
    # so all server processes share them; else per process.
    rate_limit: bool = False
    rate_limit_token: str = "600/minute"
    rate_limit_device: str = "12000/hour"
    # Per person (company + employee), over all their sign-ins: signing in again makes a new
    # session, so the token and device counters alone would give each new sign-in a fresh allowance.
    rate_limit_person: str = "1200/minute"
    rate_limit_address: str = "1200/minute"
    redis_url: str = ""
    rate_limit_prefix: str = "xuefen-rate"
    sync_tombstone_days: int = 30
    # Device times more than this many days before their arrival are flagged STALE.
    sync_stale_days: int = 30
    # The cheap integrity checks in a push's transaction (docs/integrity.md); off only to measure
    # what they cost (bench/sync_push.py) or in an emergency: the periodic scan still runs.
    integrity_on_push: bool = True
    # How long after the fact an offline record is believed (docs/sync-protocol.md): a scan
    # arriving later is held for the instructor or HR; a quiz finished offline before its closing
    # time counts only if it arrives within this after closing, and a closed quiz shows its answers
    # only once this has passed.
    offline_grace_seconds: int = 24 * 3600
    # Check-in: an online scan's claimed time may explain at most this much delay before the
    # server's clock; a code used by more people than shared_code is flagged on the roster.
    checkin_online_grace_seconds: int = 60
    checkin_shared_code: int = 20
    # How long a projector link (/sessions/{id}/projector?key=...) works; the kit gives a fresh one.
    projector_link_ttl_seconds: int = 15 * 60
    # How long a one-time activation code (new account, forgotten password) works.
    activation_code_hours: int = 72
    # Where the server keeps files while it works on them (an uploaded import file, only while its
    # job runs), and the largest import file HR may upload (bytes; the CLI reads local files).
    data_dir: str = "xuefen-data"
    import_max_bytes: int = 256 * 1024 * 1024
    # Lesson content and evidence (backend/services/content). Files are stored by sha256 under
    # media_dir, or in an S3-compatible bucket when media_s3_bucket is set (credentials from the
    # usual AWS_* variables; media_s3_endpoint for MinIO, Ceph, OSS, COS...). Media links
    # (/media/...) work for media_url_ttl_seconds; content files up to media_max_bytes, evidence
    # up to evidence_max_bytes, sent in chunks of up to evidence_chunk_max_bytes.
    media_dir: str = "xuefen-media"
    media_s3_bucket: str = ""
    media_s3_endpoint: str = ""
    media_s3_region: str = ""
    media_url_ttl_seconds: int = 6 * 3600
    media_max_bytes: int = 2 * 1024 * 1024 * 1024
    evidence_max_bytes: int = 100 * 1024 * 1024
    evidence_chunk_max_bytes: int = 4 * 1024 * 1024
    # Low-bitrate video renditions are made when ffmpeg is found (this name on PATH, or a path).
    ffmpeg: str = "ffmpeg"
    # Notification delivery (docs/notification-delivery.md). A message is tried at most
    # notify_max_attempts times, waiting base·2^(attempt−1) seconds (at most the cap, less up to a
    # quarter of jitter) between tries, then it is a dead letter. A worker's claim on a message
    # lasts notify_lease_seconds: a worker that died is taken over after it. Each request to a
    # receiver times out after notify_timeout_seconds. Private and loopback receivers (an
    # on-premise webhook, tests) are refused unless notify_allow_private_hosts.
    notify_max_attempts: int = 8
    notify_backoff_base_seconds: int = 30
    notify_backoff_cap_seconds: int = 6 * 3600
    notify_lease_seconds: int = 120
    notify_timeout_seconds: float = 10.0
    notify_allow_private_hosts: bool = False
    # The worker (`xuefen worker`, or embedded in the server when embedded_worker is on, as
    # `xuefen demo` does): how long it sleeps when there was nothing to do.
    worker_poll_seconds: float = 2.0
    embedded_worker: bool = False
    # Certificates (docs/certificates.md): the public address the verification QR codes and Open
    # Badges credentials point at (no trailing slash), and the TrueType font (.ttf/.ttc) with Chinese
    # glyphs embedded in certificate PDFs (empty: the first of certificates.pdf.FONT_CANDIDATES found).
    public_url: str = DEFAULT_PUBLIC_URL
    certificate_font: str = ""
    # "development" or "production"; production refuses the development secret (see __post_init__).
    environment: str = "development"

    def __post_init__(self) -> None:
        _check_key_whitespace(self)
        try:
            self.keys  # noqa: B018 (built now so a bad ring stops the start, not the first request)
        except ValueError as exc:  # its message names the variable to fix
            raise ConfigError(str(exc)) from exc
        if self.log_format not in ("json", "console"):
            raise ConfigError(f"XUEFEN_LOG_FORMAT must be json or console, got {self.log_format!r}")
        if self.metrics_token and len(self.metrics_token) < 16:
            raise ConfigError("XUEFEN_METRICS_TOKEN must be at least 16 characters (or unset: /metrics answers 404)")
        if not 0 <= self.metrics_port <= 65535:
            raise ConfigError(f"XUEFEN_METRICS_PORT must be a port number (0: none), got {self.metrics_port}")
        if self.environment not in ENVIRONMENTS:
            raise ConfigError(f"XUEFEN_ENV must be one of {', '.join(ENVIRONMENTS)}, got {self.environment!r}")
        if self.notify_max_attempts < 1 or self.notify_backoff_base_seconds < 0 or self.notify_backoff_cap_seconds < 0:
            raise ConfigError("XUEFEN_NOTIFY_MAX_ATTEMPTS must be at least 1 and the backoff seconds not negative")
        if self.notify_lease_seconds <= self.notify_timeout_seconds or self.worker_poll_seconds <= 0:
            # A send still running when its lease ends could be sent again by another worker.
            raise ConfigError("XUEFEN_NOTIFY_LEASE must be longer than XUEFEN_NOTIFY_TIMEOUT, and the poll positive")
        if self.environment == "production":
            problems = self.production_problems()
            if problems:
                raise ConfigError("XUEFEN_ENV=production refuses to start: " + "; ".join(problems))

    def production_problems(self, database_url_given: bool = True) -> list[str]:
        """What a production deployment must set and has not (empty when it is fine)."""
        problems = []
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < MIN_PRODUCTION_SECRET_LENGTH:
            problems.append(
                f"set XUEFEN_SECRET_KEY to a random value of at least {MIN_PRODUCTION_SECRET_LENGTH} characters, "
                "not the public development key (`xuefen keys generate` prints one)"
            )
        for name, keys in (
            ("XUEFEN_PREVIOUS_SECRET_KEYS", self.previous_secret_keys),
            ("XUEFEN_DEVICE_TAG_KEY", (self.device_tag_key,) if self.device_tag_key else ()),
        ):
            if any(key == DEV_SECRET_KEY or len(key) < MIN_PRODUCTION_SECRET_LENGTH for key in keys):
                problems.append(
                    f"every key in {name} must be at least {MIN_PRODUCTION_SECRET_LENGTH} characters "
                    "and not the public development key"
                )
        if "*" in self.cors_origins:
            problems.append("list the web origins in XUEFEN_CORS_ORIGINS instead of '*'")
        if not database_url_given:
            problems.append("set XUEFEN_DATABASE_URL (e.g. postgres://user:password@host:5432/xuefen)")
        return problems

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read ``XUEFEN_*`` variables (from ``os.environ`` unless ``env`` is given)."""
        env = dict(os.environ if env is None else env)
        environment = (env.get("XUEFEN_ENV") or "development").strip().lower()
        production = environment == "production"
        if production:
            # Checked here too because only the environment can tell an explicit database URL from
            # the default SQLite file (which production must not fall back to silently).
            probe = cls(
                secret_key=env.get("XUEFEN_SECRET_KEY") or DEV_SECRET_KEY,
                previous_secret_keys=_keys(env, "XUEFEN_PREVIOUS_SECRET_KEYS"),
                device_tag_key=env.get("XUEFEN_DEVICE_TAG_KEY", ""),
            )
            problems = probe.production_problems(database_url_given=bool(env.get("XUEFEN_DATABASE_URL")))
            # Links handed out and QR codes printed on certificates point there: never at this
            # machine's localhost, never over plain http (checked here: only the environment tells
            # an explicit address from the development default).
            public = urlsplit(_public_url(env))
            if not env.get("XUEFEN_PUBLIC_URL") or public.scheme != "https" or public.hostname in LOCAL_HOSTS:
                problems.append(
                    "set XUEFEN_PUBLIC_URL to the https address phones and printed QR codes reach "
                    "(e.g. https://xuefen.example.com)"
                )
            # SQLite has one writer and lives on one machine: a production install says so on
            # purpose (XUEFEN_ALLOW_SQLITE_IN_PRODUCTION=true), never by a typo'd URL.
            database_url = env.get("XUEFEN_DATABASE_URL") or ""
            if database_url.startswith("sqlite") and not _bool(env, "XUEFEN_ALLOW_SQLITE_IN_PRODUCTION", False):
                problems.append(
                    "use PostgreSQL in XUEFEN_DATABASE_URL, or set XUEFEN_ALLOW_SQLITE_IN_PRODUCTION=true "
                    "for a one-machine install (one server process, the worker embedded)"
                )
            if problems:
                raise ConfigError("XUEFEN_ENV=production refuses to start: " + "; ".join(problems))
        max_body_bytes = _int(env, "XUEFEN_MAX_BODY_BYTES", 8 * 1024 * 1024)
        return cls(
            environment=environment,
            database_url=env.get("XUEFEN_DATABASE_URL") or DEFAULT_DATABASE_URL,
            secret_key=env.get("XUEFEN_SECRET_KEY") or DEV_SECRET_KEY,
            previous_secret_keys=_keys(env, "XUEFEN_PREVIOUS_SECRET_KEYS"),
            device_tag_key=env.get("XUEFEN_DEVICE_TAG_KEY", ""),
            access_token_ttl_seconds=_int(env, "XUEFEN_ACCESS_TOKEN_TTL", 15 * 60),
            refresh_token_ttl_seconds=_int(env, "XUEFEN_REFRESH_TOKEN_TTL", 30 * 24 * 3600),
            login_max_failures=_int(env, "XUEFEN_LOGIN_MAX_FAILURES", 5),
            login_failure_window_seconds=_int(env, "XUEFEN_LOGIN_FAILURE_WINDOW", 15 * 60),
            login_lock_seconds=_int(env, "XUEFEN_LOGIN_LOCK_SECONDS", 15 * 60),
            login_account_max_failures=_int(env, "XUEFEN_LOGIN_ACCOUNT_MAX_FAILURES", 10),
            login_source_max_failures=_int(env, "XUEFEN_LOGIN_SOURCE_MAX_FAILURES", 100),
            refresh_retry_seconds=_int(env, "XUEFEN_REFRESH_RETRY_SECONDS", 120),
            password_time_cost=_int(env, "XUEFEN_PASSWORD_TIME_COST", 3),
            password_memory_cost_kib=_int(env, "XUEFEN_PASSWORD_MEMORY_KIB", 64 * 1024),
            introspection=_bool(env, "XUEFEN_INTROSPECTION", not production),
            graphiql=_bool(env, "XUEFEN_GRAPHIQL", not production),
            max_query_depth=_int(env, "XUEFEN_MAX_QUERY_DEPTH", 10),
            max_aliases=_int(env, "XUEFEN_MAX_ALIASES", 15),
            max_tokens=_int(env, "XUEFEN_MAX_TOKENS", 2000),
            max_page_size=_int(env, "XUEFEN_MAX_PAGE_SIZE", 100),
            graphql_max_query_bytes=_int(env, "XUEFEN_GRAPHQL_MAX_QUERY_BYTES", 64 * 1024),
            apq_cache_size=_int(env, "XUEFEN_APQ_CACHE_SIZE", 1000),
            apq_max_stored=_int(env, "XUEFEN_APQ_MAX_STORED", 10_000),
            graphql_allowlist=_bool(env, "XUEFEN_GRAPHQL_ALLOWLIST", False),
            cors_origins=_origins(env.get("XUEFEN_CORS_ORIGINS", "")),
            db_pool_max=_int(env, "XUEFEN_DB_POOL_MAX", 10),
            log_level=_log_level(env),
            log_format=(env.get("XUEFEN_LOG_FORMAT") or ("json" if production else "console")).strip().lower(),
            metrics_token=env.get("XUEFEN_METRICS_TOKEN", "").strip(),
            metrics_port=_int(env, "XUEFEN_METRICS_PORT", 0),
            metrics_host=env.get("XUEFEN_METRICS_HOST") or "127.0.0.1",
            otel_enabled=_bool(
                env,
                "XUEFEN_OTEL_ENABLED",
                bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")),
            ),
            max_body_bytes=max_body_bytes,
            max_body_drain_bytes=_int(env, "XUEFEN_MAX_BODY_DRAIN_BYTES", 4 * max_body_bytes),
            rate_limit=_bool(env, "XUEFEN_RATE_LIMIT", True),
            rate_limit_token=env.get("XUEFEN_RATE_LIMIT_TOKEN") or "600/minute",
            rate_limit_device=env.get("XUEFEN_RATE_LIMIT_DEVICE") or "12000/hour",
            rate_limit_person=env.get("XUEFEN_RATE_LIMIT_PERSON") or "1200/minute",
            rate_limit_address=env.get("XUEFEN_RATE_LIMIT_ADDRESS") or "1200/minute",
            redis_url=(env.get("XUEFEN_REDIS_URL") or "").strip(),
            rate_limit_prefix=env.get("XUEFEN_RATE_LIMIT_PREFIX") or "xuefen-rate",
            sync_tombstone_days=_int(env, "XUEFEN_SYNC_TOMBSTONE_DAYS", 30),
            sync_stale_days=_int(env, "XUEFEN_SYNC_STALE_DAYS", 30),
            integrity_on_push=_bool(env, "XUEFEN_INTEGRITY_ON_PUSH", True),
            offline_grace_seconds=_int(env, "XUEFEN_OFFLINE_GRACE", 24 * 3600),
            checkin_online_grace_seconds=_int(env, "XUEFEN_CHECKIN_ONLINE_GRACE", 60),
            checkin_shared_code=_int(env, "XUEFEN_CHECKIN_SHARED_CODE", 20),
            projector_link_ttl_seconds=_int(env, "XUEFEN_PROJECTOR_LINK_TTL", 15 * 60),
            activation_code_hours=_int(env, "XUEFEN_ACTIVATION_CODE_HOURS", 72),
            data_dir=env.get("XUEFEN_DATA_DIR") or "xuefen-data",
            import_max_bytes=_int(env, "XUEFEN_IMPORT_MAX_BYTES", 256 * 1024 * 1024),
            media_dir=env.get("XUEFEN_MEDIA_DIR") or "xuefen-media",
            media_s3_bucket=env.get("XUEFEN_MEDIA_S3_BUCKET", ""),
            media_s3_endpoint=env.get("XUEFEN_MEDIA_S3_ENDPOINT", ""),
            media_s3_region=env.get("XUEFEN_MEDIA_S3_REGION", ""),
            media_url_ttl_seconds=_int(env, "XUEFEN_MEDIA_URL_TTL", 6 * 3600),
            media_max_bytes=_int(env, "XUEFEN_MEDIA_MAX_BYTES", 2 * 1024 * 1024 * 1024),
            evidence_max_bytes=_int(env, "XUEFEN_EVIDENCE_MAX_BYTES", 100 * 1024 * 1024),
            evidence_chunk_max_bytes=_int(env, "XUEFEN_EVIDENCE_CHUNK_MAX_BYTES", 4 * 1024 * 1024),
            ffmpeg=env.get("XUEFEN_FFMPEG") or "ffmpeg",
            notify_max_attempts=_int(env, "XUEFEN_NOTIFY_MAX_ATTEMPTS", 8),
            notify_backoff_base_seconds=_int(env, "XUEFEN_NOTIFY_BACKOFF_BASE", 30),
            notify_backoff_cap_seconds=_int(env, "XUEFEN_NOTIFY_BACKOFF_CAP", 6 * 3600),
            notify_lease_seconds=_int(env, "XUEFEN_NOTIFY_LEASE", 120),
            notify_timeout_seconds=_float(env, "XUEFEN_NOTIFY_TIMEOUT", 10.0),
            notify_allow_private_hosts=_bool(env, "XUEFEN_NOTIFY_ALLOW_PRIVATE_HOSTS", False),
            worker_poll_seconds=_float(env, "XUEFEN_WORKER_POLL_SECONDS", 2.0),
            embedded_worker=_bool(env, "XUEFEN_EMBEDDED_WORKER", False),
            public_url=_public_url(env),
            certificate_font=(env.get("XUEFEN_CERTIFICATE_FONT") or "").strip(),
        )

    def with_overrides(self, **changes) -> Settings:
        """A copy with some settings changed (tests, CLI flags)."""
        return replace(self, **changes)

    @cached_property
    def keys(self) -> KeyRing:
        """The key ring: ``keys.current`` signs new values, ``keys.all`` verifies."""
        return KeyRing(self.secret_key, self.previous_secret_keys, self.device_tag_key)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def warn_if_unsafe(self) -> None:
        """Shout when the public development secret guards a real database; warn when production
        turns GraphiQL or introspection on (allowed: the schema is the published contract and
        neither grants access, but they are for developers, see docs/deployment.md)."""
        if self.environment == "production" and (self.graphiql or self.introspection):
            log.warning(
                "XUEFEN_ENV=production with XUEFEN_GRAPHIQL=%s and XUEFEN_INTROSPECTION=%s: "
                "turn them off unless developers need them on this server",
                str(self.graphiql).lower(),
                str(self.introspection).lower(),
            )
        if self.environment == "production" and self.previous_secret_keys and not self.device_tag_key:
            # Not refused: tags are labels, not security. But the default "oldest key of the ring"
            # follows the ring's shape: adding the new key as a previous one (step 3 of a rolling
            # rotation) or dropping the last one changes every tag HR has seen.
            log.warning(
                "XUEFEN_PREVIOUS_SECRET_KEYS is set but XUEFEN_DEVICE_TAG_KEY is not: device tags are "
                "keyed by the last key of XUEFEN_PREVIOUS_SECRET_KEYS (key id %s) and change when that "
                "list changes. Set XUEFEN_DEVICE_TAG_KEY to the key your tags were made with (before "
                "your first rotation: the old XUEFEN_SECRET_KEY), see docs/key-rotation.md step 2",
                self.keys.tag_kid,
            )
        if self.secret_key == DEV_SECRET_KEY and not self.is_sqlite:
            banner = "!" * 78
            log.warning(
                "\n%s\n!! XUEFEN_SECRET_KEY is not set: the PUBLIC development secret signs tokens\n"
                "!! on a non-SQLite database. Anyone can forge logins. Set XUEFEN_SECRET_KEY.\n%s",
                banner,
                banner,
            )
