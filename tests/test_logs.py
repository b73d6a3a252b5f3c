"""What the server writes to its logs never carries a link's secret (backend/logs.py)."""

from __future__ import annotations

import logging

from backend.app import create_app
from backend.logs import RedactLinkSecrets


def _access_line(path: str) -> str:
    # The record uvicorn's access logger writes for each response.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", path, "1.1", 200),
        None,
    )
    assert RedactLinkSecrets().filter(record)
    return record.getMessage()


def test_link_keys_and_tokens_are_blanked_in_access_lines():
    line = _access_line("/media/" + "a" * 64 + "?k=m1.eyJ.sig&download=1")
    assert "m1.eyJ" not in line and "?k=[redacted]&download=1" in line and "a" * 64 in line
    line = _access_line("/sessions/7/projector?key=p1.WzEw.qbu")
    assert "p1.WzEw" not in line and "key=[redacted]" in line
    assert "tok" not in _access_line("/x?a=1&TOKEN=tok&b=2") and "b=2" in _access_line("/x?a=1&token=tok&b=2")
    assert _access_line("/graphql") == '127.0.0.1:5 - "GET /graphql HTTP/1.1" 200'


def test_the_app_installs_the_filter_once(test_settings):
    create_app(test_settings, manage_db=False)
    create_app(test_settings, manage_db=False)
    filters = [f for f in logging.getLogger("uvicorn.access").filters if isinstance(f, RedactLinkSecrets)]
    assert len(filters) == 1
