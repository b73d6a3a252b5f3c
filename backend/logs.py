"""Logging setup. Query logging stays off: SQL parameters carry personal data and token hashes."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    # tortoise.db_client logs every query with its parameters at DEBUG: never in production.
    logging.getLogger("tortoise.db_client").setLevel(logging.WARNING)
    logging.getLogger("tortoise").setLevel(max(logging.INFO, logging.getLevelName(level)))
