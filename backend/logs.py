"""Logging setup. Query logging stays off: SQL parameters carry personal data and token hashes."""

from __future__ import annotations

import logging
import re


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    # tortoise.db_client logs every query with its parameters at DEBUG: never in production.
    logging.getLogger("tortoise.db_client").setLevel(logging.WARNING)
    logging.getLogger("tortoise").setLevel(max(logging.INFO, logging.getLevelName(level)))


# Query parameters that are bearer secrets: media and report download links (?k=), projector links
# (?key=), tokens.
_SECRET_PARAMETER = re.compile(r"([?&](?:k|key|token|access_token|refresh_token)=)[^&\s\"]*", re.IGNORECASE)


class RedactLinkSecrets(logging.Filter):
    """Blanks the secret parameters of the paths uvicorn's access log writes (a media or projector
    link's key works for whoever reads it until it expires, and logs are read by many)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "=" in a for a in record.args):
            record.args = tuple(
                _SECRET_PARAMETER.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def redact_access_log() -> None:
    """Install the filter on uvicorn's access logger (once per process)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactLinkSecrets) for f in access.filters):
        access.addFilter(RedactLinkSecrets())
