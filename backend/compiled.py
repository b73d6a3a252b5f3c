"""Functions made from generated source, for the few hot loops whose shape is known only at run
time: a row's columns becoming a model object, a GraphQL selection becoming its answer. Written
out as straight-line code they cost a fraction of the general loop (no per-column tuple unpacking,
no call per field), and they do exactly what the loop does (each user's tests compare the two).

A user writes the source of ``def make(<names>): … return <function>`` from names it controls
(identifiers it checked) and constants written with ``repr`` (a client's GraphQL aliases are such
constants: never code), and calls ``factory(source)(**values)``: the source is compiled once per
distinct text (the cache is bounded: a client inventing aliases costs compiling, not memory), the
values (the conversions, the completions of the moment) are bound on each call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


@functools.lru_cache(maxsize=4096)
def factory(source: str) -> Callable[..., Any]:
    """The ``make`` function ``source`` defines, compiled once per distinct source."""
    scope: dict[str, Any] = {}
    exec(compile(source, "<xuefen compiled>", "exec"), scope)  # see the module's docstring
    return scope.pop("make")
