"""A misbehaving network for tests: an asyncio TCP proxy on 127.0.0.1 in front of a server.

For every accepted connection a seeded ``random.Random`` picks one fault:

- ``pass``: forward both ways untouched;
- ``refuse``: reset the connection at once (nothing reaches the server);
- ``drop_request``: read what the client sends, never forward it, close;
- ``drop_response``: forward the request, wait for the server to start answering (so the server
  has done the work and committed), then close without passing a byte back;
- ``truncate``: forward the request, pass back only part of the response, close;
- ``delay``: wait up to ``max_delay`` seconds, then forward untouched;
- ``stall``: forward the request, then hold the answer for ``stall_seconds`` (longer than the
  client's timeout, so the client gives up although the server committed), then close.
- ``cut``: forward both ways, streaming, but pass back only a random number of bytes (0 …
  ``cut_bytes``, the same for any number of requests on the connection), then close or reset: a
  download dropped at a random byte.

Faults are per connection; a client that wants one decision per request disables keep-alive.
Only loopback addresses are used. ``counts`` says how often each fault was chosen.

    async with FaultProxy(server_port, seed=7, refuse=0.1, drop_response=0.1) as proxy:
        ... talk to proxy.url ...
    print(proxy.counts)
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections import Counter

FAULTS = ("refuse", "drop_request", "drop_response", "truncate", "delay", "stall", "cut")
LOOPBACK = "127.0.0.1"
READ_WAIT = 1.0  # seconds drop_request waits for the request
RESPONSE_WAIT = 2.0  # seconds truncate waits for the whole response


class FaultProxy:
    def __init__(
        self,
        target_port: int,
        *,
        seed: int = 0,
        refuse: float = 0.0,
        drop_request: float = 0.0,
        drop_response: float = 0.0,
        truncate: float = 0.0,
        delay: float = 0.0,
        stall: float = 0.0,
        cut: float = 0.0,
        max_delay: float = 0.3,
        stall_seconds: float = 1.5,
        cut_bytes: int = 1 << 20,
    ) -> None:
        self.target_port = target_port
        self.rng = random.Random(seed)
        self.max_delay = min(max_delay, 0.3)  # bounded: the suite must stay fast
        self.stall_seconds = stall_seconds
        self.cut_bytes = cut_bytes
        self.counts: Counter[str] = Counter()
        self.enabled = True
        self.set_probabilities(
            refuse=refuse,
            drop_request=drop_request,
            drop_response=drop_response,
            truncate=truncate,
            delay=delay,
            stall=stall,
            cut=cut,
        )
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.port = 0

    def set_probabilities(self, **probabilities: float) -> None:
        """Change fault probabilities (each 0…1; together at most 1; the rest is ``pass``)."""
        unknown = set(probabilities) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        current = getattr(self, "probabilities", dict.fromkeys(FAULTS, 0.0))
        merged = {**current, **probabilities}
        if any(p < 0 for p in merged.values()) or sum(merged.values()) > 1 + 1e-9:
            raise ValueError(f"bad probabilities: {merged}")
        self.probabilities = merged

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._handle, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- one connection ------------------------------------------------------------------------

    def _choose(self) -> str:
        if not self.enabled:
            return "pass"
        roll, edge = self.rng.random(), 0.0
        for fault in FAULTS:
            edge += self.probabilities[fault]
            if roll < edge:
                return fault
        return "pass"

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        fault = self._choose()
        self.counts[fault] += 1
        delay = self.rng.uniform(0, self.max_delay) if fault == "delay" else 0.0
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            if fault == "refuse":
                _reset(client_writer)
                return
            if fault == "drop_request":
                await _read_some(client_reader)
                return
            if delay:
                await asyncio.sleep(delay)
            upstream_reader, upstream_writer = await asyncio.open_connection(LOOPBACK, self.target_port)
            if fault in ("pass", "delay"):
                await _pipe_both(client_reader, client_writer, upstream_reader, upstream_writer)
                return
            if fault == "cut":
                await _cut(client_reader, client_writer, upstream_reader, upstream_writer, self.rng, self.cut_bytes)
                return
            # The remaining faults forward the request and spoil the answer.
            forward = asyncio.create_task(_pipe(client_reader, upstream_writer))
            try:
                first = await upstream_reader.read(65536)  # the server answers: it has committed
                if fault == "truncate" and first:
                    response = await _read_response(upstream_reader, first)
                    cut = max(1, len(response) // 2) if len(response) > 1 else 0
                    client_writer.write(response[:cut])
                    await client_writer.drain()
                elif fault == "stall":
                    await asyncio.sleep(self.stall_seconds)
                # drop_response: nothing goes back.
            finally:
                forward.cancel()
                await asyncio.gather(forward, return_exceptions=True)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            for writer in (upstream_writer, client_writer):
                if writer is not None:
                    writer.close()
            self._tasks.discard(task)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0), like a refused or reset connection."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def _read_some(reader: asyncio.StreamReader) -> bytes:
    """What the client sends within READ_WAIT seconds (b"" when nothing came)."""
    try:
        async with asyncio.timeout(READ_WAIT):
            return await reader.read(65536)
    except TimeoutError:
        return b""


async def _read_response(reader: asyncio.StreamReader, first: bytes) -> bytes:
    """Collect one whole HTTP response (headers + Content-Length body) starting with ``first``:
    what arrived within RESPONSE_WAIT seconds, or before the server closed."""
    data = bytearray(first)
    try:
        async with asyncio.timeout(RESPONSE_WAIT):
            while not _complete(data):
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
    except TimeoutError:
        pass
    return bytes(data)


def _complete(data: bytearray) -> bool:
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    length = _content_length(bytes(data[:head_end]))
    return length is None or len(data) >= head_end + 4 + length


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def _cut(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
    rng: random.Random,
    most: int,
) -> None:
    """Forward both ways, streaming, until a random number of answer bytes went; then close, or
    reset (a coin toss)."""
    budget, reset = rng.randint(0, most), rng.random() < 0.5
    to_server = asyncio.create_task(_pipe(client_reader, upstream_writer))
    try:
        while budget > 0 and (chunk := await upstream_reader.read(min(65536, budget))):
            client_writer.write(chunk)
            budget -= len(chunk)
            await client_writer.drain()
        if reset:
            _reset(client_writer)
    finally:
        to_server.cancel()
        await asyncio.gather(to_server, return_exceptions=True)


async def _pipe_both(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
) -> None:
    """Forward both ways until the server side is done (the client may keep its half open)."""
    to_server = asyncio.create_task(_pipe(client_reader, upstream_writer))
    to_client = asyncio.create_task(_pipe(upstream_reader, client_writer))
    try:
        await to_client
    finally:
        to_server.cancel()
        await asyncio.gather(to_server, return_exceptions=True)
