"""The worker: notifications out of the outbox, and the scheduled jobs.

Two loops. Delivery: fan out waiting notifications (``outbox.dispatch``), send due deliveries
(``outbox.deliver``), and again at once while there was work, otherwise sleep
``worker_poll_seconds``. Beside it, the scheduled jobs (``scheduler.run_due``) every poll interval,
so a long job never holds up messages. SIGTERM or SIGINT stops both after what is in flight (the
batch being sent, the job running); a second one stops at once: what was claimed is taken over by
another worker once its lease runs out.

``xuefen worker`` runs it on its own: on PostgreSQL run as many as you like, on any hosts (the
claims split the work; docs/notification-delivery.md). On SQLite, which has one writer, run it
embedded in the server instead (``XUEFEN_EMBEDDED_WORKER=true``, what ``xuefen demo`` does:
``create_app`` starts it as a task in the app's lifespan).

Logs say how many notifications and messages were handled, never to whom or what.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from backend import db
from backend.config import Settings
from backend.services.notifications import outbox, scheduler
from backend.services.notifications.channels.addresses import outbound_client
from backend.services.notifications.channels.base import Transport

LOG = logging.getLogger("xuefen.worker")

# Fan-out is cheap (four statements per 500 notifications), but a tick stops after this many
# batches so that deliveries already due are not kept waiting behind a very large fan-out.
DISPATCH_BATCHES_PER_TICK = 20


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Progress:
    """What one delivery tick did."""

    dispatched: int = 0
    delivered: int = 0

    def __bool__(self) -> bool:
        return bool(self.dispatched or self.delivered)


class Worker:
    """One worker: a delivery loop, and beside it a loop running the scheduled ``jobs`` (so a long
    job, an integrity scan of a large company, never holds up messages). ``clock`` is what it
    calls "now" (tests drive it)."""

    def __init__(
        self,
        settings: Settings,
        *,
        concurrency: int = 20,
        dispatch_batch: int = 500,
        deliver_batch: int = 100,
        jobs: tuple[scheduler.Job, ...] = scheduler.JOBS,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.settings = settings
        self.concurrency = concurrency
        self.dispatch_batch = dispatch_batch
        self.deliver_batch = max(deliver_batch, concurrency)  # at least one full round of sends
        self.jobs = jobs
        self.clock = clock

    def transport(self) -> Transport:
        """The HTTP client and policy channels send with (close ``transport.http`` after)."""
        http = outbound_client(
            allow_private_hosts=self.settings.notify_allow_private_hosts,
            timeout_seconds=self.settings.notify_timeout_seconds,
        )
        return Transport(http, self.settings.notify_timeout_seconds, self.settings.notify_allow_private_hosts)

    async def tick(self, transport: Transport) -> Progress:
        """One round of delivery: fan out what waits, then one batch of due deliveries."""
        progress = Progress()
        for _ in range(DISPATCH_BATCHES_PER_TICK):
            dispatched = await outbox.dispatch(self.clock(), self.dispatch_batch)
            progress.dispatched += dispatched
            if dispatched < self.dispatch_batch:
                break
        progress.delivered = await outbox.deliver(
            transport, self.clock(), self.deliver_batch, self.concurrency, settings=self.settings
        )
        return progress

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None:
        """Deliver until ``stop`` is set (``once``: until there is nothing to do, having run the
        due jobs once). A failed round (the database away, say) is logged and tried again after
        the poll interval."""
        transport = self.transport()  # addresses.outbound_client keeps httpx's request lines out of the log
        jobs = asyncio.create_task(self._jobs(stop, once), name="xuefen-scheduled-jobs") if self.jobs else None
        LOG.info("notification worker started (concurrency %d)", self.concurrency)
        try:
            while not stop.is_set():
                try:
                    progress = await self.tick(transport)
                except Exception as error:
                    if once:
                        raise
                    LOG.warning("delivery round failed: %s", type(error).__name__)
                    progress = Progress()
                if progress:
                    LOG.info(
                        "notifications dispatched %d, deliveries handled %d", progress.dispatched, progress.delivered
                    )
                    continue
                if once:
                    break
                await _sleep(stop, self.settings.worker_poll_seconds)
        except asyncio.CancelledError:  # stopped at once: the job running is abandoned too
            if jobs is not None:
                jobs.cancel()
            raise
        finally:
            if jobs is not None:
                if not once:
                    stop.set()  # the jobs loop ends with the delivery loop
                await asyncio.gather(jobs, return_exceptions=True)
            await transport.http.aclose()
            LOG.info("notification worker stopped")

    async def _jobs(self, stop: asyncio.Event, once: bool) -> None:
        while not stop.is_set():
            try:
                ran = await scheduler.run_due(self.clock(), jobs=self.jobs, should_stop=stop.is_set)
                if ran:
                    LOG.info("scheduled jobs run: %d", len(ran))
            except Exception as error:
                LOG.warning("scheduled jobs round failed: %s", type(error).__name__)
            if once:
                return
            await _sleep(stop, self.settings.worker_poll_seconds)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, or less when ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def run_worker(settings: Settings, *, once: bool = False, concurrency: int = 20, jobs: bool = True) -> int:
    """``xuefen worker``: open the database, run until SIGTERM/SIGINT (or, ``once``, until there is
    nothing to do), close it. 0 when it stopped cleanly. Without ``jobs`` it only delivers."""
    await db.init_db(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set() and task is not None:  # asked twice: stop now
            task.cancel()
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    try:
        worker = Worker(settings, concurrency=concurrency, jobs=scheduler.JOBS if jobs else ())
        await worker.run(stop, once=once)
    except asyncio.CancelledError:
        LOG.warning("worker stopped mid-batch: its claims are taken over when their leases run out")
        return 1
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await db.close_db()
    return 0


class EmbeddedWorker:
    """A worker as a task of the server process (the app's lifespan starts and stops it)."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.worker.run(self.stop), name="xuefen-embedded-worker")

    async def close(self, grace_seconds: float = 30.0) -> None:
        """Finish the batch in flight (within ``grace_seconds``), then stop."""
        if self.task is None:
            return
        self.stop.set()
        try:
            await asyncio.wait_for(self.task, grace_seconds)
        except TimeoutError:
            LOG.warning("embedded worker did not finish its batch in time: its claims wait for their leases")
        except Exception as error:
            LOG.warning("embedded worker ended with %s", type(error).__name__)
