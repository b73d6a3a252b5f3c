"""Protocol versions and limits, stated in one place (also served by ``syncInfo``)."""

from __future__ import annotations

from backend.errors import DomainError, ErrorCode

SUPPORTED_VERSIONS = (1,)
MAX_PUSH_RECORDS = 500
DEFAULT_PULL_LIMIT = 200
MAX_PULL_LIMIT = 1000


def check_version(version: int) -> None:
    if version not in SUPPORTED_VERSIONS:
        raise DomainError(ErrorCode.UNSUPPORTED_PROTOCOL, supported=", ".join(map(str, SUPPORTED_VERSIONS)))
