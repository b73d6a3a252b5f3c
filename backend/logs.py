"""Logging: one line shape for every logger (ours, uvicorn's, tortoise's), through structlog.

The code logs with the standard library (``logging.getLogger("xuefen.…")``); structlog's
``ProcessorFormatter`` turns each record into the same fields: ``time`` (ISO 8601, UTC),
``level``, ``logger``, the message (``message`` in JSON, ``event`` on the console), the request's
context bound with ``structlog.contextvars`` (``request_id``, ``tenant``, ``operation``) and any
``extra`` fields (the access line's ``method``, ``path``, ``status``, ``duration_ms``...).

Two renderings: JSON lines (production: XUEFEN_ENV=production, or XUEFEN_LOG_FORMAT=json) and a
readable console line (development). See docs/observability.md.

What never reaches a log: query logging stays off (SQL parameters carry personal data and token
hashes); secret query parameters (``?k=``, ``?key=``, ``token``), calendar feed paths
(``/calendar/<token>.ics``) and bearer tokens are blanked in
every string field by ``scrub`` (a last line of defence: the code must not log them at all).
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor

LOG_FORMATS = ("json", "console")

# Query parameters that are bearer secrets: media and report download links (?k=), projector links
# (?key=), tokens.
_SECRET_PARAMETER = re.compile(r"([?&](?:k|key|token|access_token|refresh_token)=)[^&\s\"]*", re.IGNORECASE)
# An Authorization header's value or a JWT (access tokens, signed links) pasted into a message.
_BEARER = re.compile(r"(\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# A private calendar feed's token is its path (/calendar/<token>.ics, backend/calendar_route.py):
# everything after /calendar/ is blanked, whatever was added to it (/calendar/<token>/x too), but
# the route's own template (the access line's ``route``).
_CALENDAR_PATH = re.compile(r"(/calendar/)(?!\{token\}\.ics(?:[?#\s\"']|$))[^?#\s\"']+")
_CALENDAR_MARK = "/calendar/"
# Fields of uvicorn's records that only repeat the message with terminal colours.
_NOISE = ("color_message",)


def redact(text: str) -> str:
    """``text`` with link secrets, calendar feed tokens, bearer tokens and JWTs blanked."""
    if _CALENDAR_MARK in text:
        text = _CALENDAR_PATH.sub(r"\1[redacted]", text)
    if "=" in text:
        text = _SECRET_PARAMETER.sub(r"\1[redacted]", text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(r"\1[redacted]", text)
    if "eyJ" in text:
        text = _JWT.sub("[redacted]", text)
    return text


def scrub(logger: Any, method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: every string field redacted (``redact``), uvicorn's noise dropped."""
    for key in _NOISE:
        event_dict.pop(key, None)
    for key, value in event_dict.items():
        if isinstance(value, str) and not key.startswith("_"):
            event_dict[key] = redact(value)
    return event_dict


def _shared_processors() -> list[Processor]:
    """What every line gets, from structlog or from the standard library."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        structlog.stdlib.ExtraAdder(),
        scrub,
    ]


def formatter(log_format: str = "console") -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every handler (also named by ``logging_config`` for uvicorn's workers,
    which run this in each process: it configures structlog there too)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    _configure_structlog()
    renderer: list[Processor]
    if log_format == "json":
        renderer = [
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(ensure_ascii=False, default=str),
        ]
    else:
        # Plain tracebacks: rich's (structlog's default when rich is installed) show the frames'
        # local variables, which can hold a password or a token.
        renderer = [
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), timestamp_key="time", exception_formatter=structlog.dev.plain_traceback
            )
        ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )


def _configure_structlog() -> None:
    """structlog's own loggers (``structlog.get_logger``) hand their events to the standard
    library, so they go through the same handlers and formatter."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def logging_config(level: str = "INFO", log_format: str = "console") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary: one stderr handler with our formatter on the
    root logger; uvicorn's loggers propagate to it (their own handlers removed). ``xuefen serve``
    hands it to uvicorn, which applies it in each worker process."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"xuefen": {"()": "backend.logs.formatter", "log_format": log_format}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "xuefen", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's start-up and error lines, in our shape; its access log is replaced by
            # backend.observability.access (one line per request, with its context).
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
            # tortoise.db_client logs every query with its parameters at DEBUG: never.
            "tortoise.db_client": {"level": "WARNING"},
            "tortoise": {"level": max(logging.INFO, logging.getLevelName(level))},
        },
    }


def configure_logging(level: str = "INFO", log_format: str = "console") -> None:
    """Set up logging for this process (the CLI's commands; ``xuefen serve``'s workers get the same
    through uvicorn's ``log_config``)."""
    logging.config.dictConfig(logging_config(level, log_format))


def handler(stream: IO[str], log_format: str = "json") -> logging.Handler:
    """A handler writing our lines to ``stream`` (tests capture the real output with it)."""
    made = logging.StreamHandler(stream)
    made.setFormatter(formatter(log_format))
    return made


class RedactLinkSecrets(logging.Filter):
    """Blanks the secret parameters of the paths uvicorn's access log writes, for a deployment that
    runs uvicorn with its own access log (``xuefen serve`` turns it off and writes its own line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(a, str) and ("=" in a or _CALENDAR_MARK in a) for a in record.args
        ):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_access_log() -> None:
    """Install the filter on uvicorn's access logger (once per process)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactLinkSecrets) for f in access.filters):
        access.addFilter(RedactLinkSecrets())
