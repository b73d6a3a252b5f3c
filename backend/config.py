"""Configuration from environment variables, with safe development defaults.

Every setting is read once into an immutable ``Settings``; tests build their own instance instead
of patching globals.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace

log = logging.getLogger("xuefen.config")

DEV_SECRET_KEY = "xuefen-development-secret-do-not-use-in-production"
DEFAULT_DATABASE_URL = "sqlite://xuefen.sqlite3"


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SystemExit(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Runtime settings. Build with ``Settings.from_env()``; see the README for each variable."""

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = DEV_SECRET_KEY
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # Login throttling: after this many failures for one (tenant, employee number) within the
    # window, further attempts are refused until the lock expires. Kept in the database so it holds
    # across server processes.
    login_max_failures: int = 5
    login_failure_window_seconds: int = 15 * 60
    login_lock_seconds: int = 15 * 60
    # argon2id cost; production keeps the library defaults, tests lower them to stay fast.
    password_time_cost: int = 3
    password_memory_cost_kib: int = 64 * 1024
    introspection: bool = True
    graphiql: bool = True
    max_query_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_page_size: int = 100
    db_pool_max: int = 10
    log_level: str = "INFO"
    max_body_bytes: int = 8 * 1024 * 1024
    sync_tombstone_days: int = 30

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        """Read ``XUEFEN_*`` variables (from ``os.environ`` unless ``env`` is given)."""
        env = dict(os.environ if env is None else env)
        production = env.get("XUEFEN_ENV", "development").lower() == "production"
        return cls(
            database_url=env.get("XUEFEN_DATABASE_URL") or DEFAULT_DATABASE_URL,
            secret_key=env.get("XUEFEN_SECRET_KEY") or DEV_SECRET_KEY,
            access_token_ttl_seconds=_int(env, "XUEFEN_ACCESS_TOKEN_TTL", 15 * 60),
            refresh_token_ttl_seconds=_int(env, "XUEFEN_REFRESH_TOKEN_TTL", 30 * 24 * 3600),
            login_max_failures=_int(env, "XUEFEN_LOGIN_MAX_FAILURES", 5),
            login_failure_window_seconds=_int(env, "XUEFEN_LOGIN_FAILURE_WINDOW", 15 * 60),
            login_lock_seconds=_int(env, "XUEFEN_LOGIN_LOCK_SECONDS", 15 * 60),
            password_time_cost=_int(env, "XUEFEN_PASSWORD_TIME_COST", 3),
            password_memory_cost_kib=_int(env, "XUEFEN_PASSWORD_MEMORY_KIB", 64 * 1024),
            introspection=_bool(env, "XUEFEN_INTROSPECTION", not production),
            graphiql=_bool(env, "XUEFEN_GRAPHIQL", not production),
            max_query_depth=_int(env, "XUEFEN_MAX_QUERY_DEPTH", 10),
            max_aliases=_int(env, "XUEFEN_MAX_ALIASES", 15),
            max_tokens=_int(env, "XUEFEN_MAX_TOKENS", 2000),
            max_page_size=_int(env, "XUEFEN_MAX_PAGE_SIZE", 100),
            db_pool_max=_int(env, "XUEFEN_DB_POOL_MAX", 10),
            log_level=env.get("XUEFEN_LOG_LEVEL", "INFO").upper(),
            max_body_bytes=_int(env, "XUEFEN_MAX_BODY_BYTES", 8 * 1024 * 1024),
            sync_tombstone_days=_int(env, "XUEFEN_SYNC_TOMBSTONE_DAYS", 30),
        )

    def with_overrides(self, **changes) -> "Settings":
        """A copy with some settings changed (tests, CLI flags)."""
        return replace(self, **changes)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def warn_if_unsafe(self) -> None:
        """Shout when the public development secret guards a real database."""
        if self.secret_key == DEV_SECRET_KEY and not self.is_sqlite:
            banner = "!" * 78
            log.warning(
                "\n%s\n!! XUEFEN_SECRET_KEY is not set: the PUBLIC development secret signs tokens\n"
                "!! on a non-SQLite database. Anyone can forge logins. Set XUEFEN_SECRET_KEY.\n%s",
                banner,
                banner,
            )
