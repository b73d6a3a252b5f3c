"""What the server writes to its log while a block runs, through the real formatter (JSON lines by
default): for tests that read access lines and check that nothing secret is in them."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from backend.logs import handler


@contextmanager
def captured_log(log_format: str = "json") -> Iterator[io.StringIO]:
    """What the server writes to its log while the block runs, through the real formatter."""
    stream = io.StringIO()
    capture = handler(stream, log_format)
    root, ours = logging.getLogger(), logging.getLogger("xuefen")
    old_level = ours.level
    root.addHandler(capture)
    ours.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(capture)
        ours.setLevel(old_level)
