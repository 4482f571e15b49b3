"""The connector runner: a long-lived, supervised asyncio process hosting one adapter task per enabled connector.

    adapters ──put──► outbox (SQLite, fsync'd) ──flusher──► backend.deliver(batch) ──► ingest (Celery / in-process)
                                                    ▲                 │ confirmed
                                                    └──── confirm ◄───┘  (deleted only now)

- Supervision: an adapter that raises is restarted with exponential backoff (1 s … 30 s, jitter); one that has
  run well for a minute starts again from the short backoff.
- Reload without restart: the backend's config version (max updated_at + counts) is polled; on a change the specs
  are reloaded and only connectors whose fingerprint changed are restarted; removed/disabled ones are stopped.
- Flushing: one delivery lane per connector with pending readings. A lane delivers its connector's batches strictly
  in order (a later batch never overtakes an earlier one), but pipelined: while batch N is being stored, batch N+1
  is already cut (and decoded) from the outbox, and batch N−1's confirmation (its deletion from the outbox) runs
  beside them — so up to three batches of a connector are in flight, confirmed in order. A failed delivery is
  retried with backoff and the same batch id (idempotent).
- Graceful stop (SIGTERM): adapters are cancelled, a last flush is attempted for a few seconds, status is saved.
  Anything not flushed stays in the outbox for the next start.

No Django import: the database side is the `RunnerBackend` (connectors.services.DjangoRunnerBackend).
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from connectors.adapters import Adapter, adapter_class, runner_hosted
from connectors.envelope import Envelope
from connectors.health import CONNECTING, DOWN, STOPPED, ConnectorHealth
from connectors.outbox import AsyncOutbox, Batch, Outbox
from connectors.spec import ConnectorSpec

log = logging.getLogger("connectors.runner")


# Young-generation size of the cyclic garbage collector in a runner process (Python's default: 700 allocations).
# At 10,000 values/s a runner allocates several container objects per value (notification items, envelopes, payload
# dicts of the batch in flight); with the default, survivors of the batches in flight were promoted so often that
# full collections over the whole heap (Django, asyncua) took ~20 % of the runners' time (bench/connectors.py opcua).
GC_YOUNG_THRESHOLD = 50_000


def tune_gc_for_throughput() -> None:
    """For a long-lived runner process, once its modules are imported: move everything allocated so far out of the
    collector's reach (`gc.freeze`: module-level objects live as long as the process anyway) and collect the young
    generation less often. Cycles are still collected; only the timing changes."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


class RunnerBackend(Protocol):
    """What the runner needs from the outside world. All methods are blocking; the runner calls them in threads."""

    def config_version(self) -> str: ...
    def load_specs(self) -> list[ConnectorSpec]: ...
    def deliver(self, batch: Batch) -> bool: ...          # True once the ingest of this batch is confirmed
    def save_status(self, snapshots: dict[int, dict], buffered: dict[str, int], runner: str) -> None: ...

    # Optional: `executor` (the backend's own thread(s), e.g. to keep database connections on one thread) and
    # `close()` (called on that executor when the runner stops).


@dataclass
class RunnerSettings:
    config_poll_s: float = 2.0
    flush_interval_s: float = 0.05
    status_interval_s: float = 2.0
    batch_size: int = 5000
    retry_min_s: float = 0.5
    retry_max_s: float = 5.0
    restart_min_s: float = 1.0
    restart_max_s: float = 30.0
    stop_flush_s: float = 5.0
    prefetch: bool = True           # cut batch N+1 while batch N is delivered (see the module docstring)
    periodic: list[tuple[float, Callable[[], object]]] = field(default_factory=list)


class ConnectorSink:
    """The sink one adapter writes to: stamps the connector key and commits to the shared outbox."""

    def __init__(self, outbox: AsyncOutbox, key: str, wake: asyncio.Event):
        self.outbox = outbox
        self.key = key
        self.wake = wake

    async def put(self, envelopes: list[Envelope]) -> None:
        stamped = [e if e.connector == self.key else replace(e, connector=self.key) for e in envelopes]
        await self.outbox.put(stamped, numbered=False)
        self.wake.set()


@dataclass
class _Hosted:
    spec: ConnectorSpec
    health: ConnectorHealth
    task: asyncio.Task


class Runner:
    def __init__(self, outbox: Outbox, backend: RunnerBackend, settings: RunnerSettings | None = None, *,
                 adapter_factory: Callable[[ConnectorSpec, ConnectorSink, ConnectorHealth], Adapter] | None = None,
                 name: str | None = None):
        self.outbox = AsyncOutbox(outbox)
        self.backend = backend
        self.settings = settings or RunnerSettings()
        self.adapter_factory = adapter_factory or self._default_factory
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.hosted: dict[int, _Hosted] = {}
        self.healths: dict[int, ConnectorHealth] = {}
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._retry_delay: dict[str, float] = {}
        self._lanes: dict[str, asyncio.Task] = {}
        self._version: str | None = None
        self.delivered_batches = 0

    async def _call(self, fn, *args):
        """Run a blocking backend call on the backend's executor (default: asyncio's thread pool)."""
        return await asyncio.get_running_loop().run_in_executor(getattr(self.backend, "executor", None), fn, *args)

    @staticmethod
    def _default_factory(spec, sink, health):
        return adapter_class(spec.kind)(spec, sink, health)

    # --- lifecycle ----------------------------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        log.info("connector runner %s starting", self.name)
        background = [
            asyncio.create_task(self._config_loop(), name="config"),
            asyncio.create_task(self._flush_loop(), name="flush"),
            asyncio.create_task(self._status_loop(), name="status"),
        ] + [
            asyncio.create_task(self._periodic_loop(interval, job), name=f"periodic:{getattr(job, '__name__', job)}")
            for interval, job in self.settings.periodic
        ]
        try:
            await self._stop.wait()
        finally:
            log.info("connector runner %s stopping", self.name)
            for hosted in list(self.hosted.values()):
                await self._stop_connector(hosted)
            lanes = list(self._lanes.values())
            for task in background + lanes:
                task.cancel()
            await asyncio.gather(*background, *lanes, return_exceptions=True)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.settings.stop_flush_s):
                    await self._drain()
            with contextlib.suppress(Exception):
                await self._save_status()
            if hasattr(self.backend, "close"):
                with contextlib.suppress(Exception):
                    await self._call(self.backend.close)
            self.outbox.close()
            log.info("connector runner %s stopped", self.name)

    # --- configuration ------------------------------------------------------------------------------------------
    async def _config_loop(self) -> None:
        while True:
            try:
                version = await self._call(self.backend.config_version)
                if version != self._version:
                    specs = await self._call(self.backend.load_specs)
                    await self.apply_specs(specs)
                    self._version = version
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not load connector configuration; keeping the running set")
            await asyncio.sleep(self.settings.config_poll_s)

    async def apply_specs(self, specs: list[ConnectorSpec]) -> None:
        wanted = {spec.id: spec for spec in specs if runner_hosted(spec.kind)}
        for spec_id, hosted in list(self.hosted.items()):
            spec = wanted.get(spec_id)
            if spec is None or spec.fingerprint != hosted.spec.fingerprint:
                log.info("stopping connector %s (%s)", hosted.spec.name, "removed" if spec is None else "changed")
                await self._stop_connector(hosted)
        for spec_id, spec in wanted.items():
            if spec_id not in self.hosted:
                self._start_connector(spec)

    def _start_connector(self, spec: ConnectorSpec) -> None:
        health = self.healths.setdefault(spec.id, ConnectorHealth())
        task = asyncio.create_task(self._supervise(spec, health), name=f"connector:{spec.name}")
        self.hosted[spec.id] = _Hosted(spec, health, task)
        log.info("started connector %s (%s)", spec.name, spec.kind)

    async def _stop_connector(self, hosted: _Hosted) -> None:
        hosted.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await hosted.task
        hosted.health.set_state(STOPPED)
        self.hosted.pop(hosted.spec.id, None)

    async def _supervise(self, spec: ConnectorSpec, health: ConnectorHealth) -> None:
        sink = ConnectorSink(self.outbox, spec.key, self._wake)
        delay = self.settings.restart_min_s
        while True:
            started = time.monotonic()
            health.set_state(CONNECTING)
            try:
                adapter = self.adapter_factory(spec, sink, health)
                await adapter.run()
                raise RuntimeError("adapter returned although the connector is enabled")
            except asyncio.CancelledError:
                health.set_state(STOPPED)
                raise
            except Exception as exc:
                log.exception("connector %s crashed; restarting", spec.name)
                health.error(exc)
                health.set_state(DOWN, f"{type(exc).__name__}: {exc}")
            if time.monotonic() - started > 60:
                delay = self.settings.restart_min_s
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.settings.restart_max_s)
            health.reconnected()

    # --- flushing -----------------------------------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        while True:
            try:
                for key in await self.outbox.connectors_with_pending():
                    lane = self._lanes.get(key)
                    if lane is None or lane.done():
                        self._lanes[key] = asyncio.create_task(self._lane(key), name=f"deliver:{key}")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("flush failed")
            self._wake.clear()
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that races the wake-up.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.flush_interval_s):
                    await self._wake.wait()

    async def _lane(self, key: str) -> None:
        """Deliver the connector's batches in order until its outbox is empty (pipelined: see the module doc)."""
        after = 0                                      # last sequence number confirmed by this lane
        prepared: asyncio.Task | None = None           # batch N+1, cut while N is delivered
        confirming: asyncio.Task | None = None         # deletion of batch N-1 from the outbox
        try:
            while True:
                if prepared is not None:
                    batch = await prepared
                    prepared = None
                else:
                    batch = await self.outbox.next_batch(key, self.settings.batch_size, after)
                if batch is None:
                    return
                if self.settings.prefetch:
                    prepared = asyncio.create_task(self.outbox.next_batch(key, self.settings.batch_size,
                                                                          batch.last_seq))
                if await self._deliver(batch):
                    if confirming is not None:
                        await confirming               # in order: N-1 is deleted before N
                    confirming = asyncio.create_task(self.outbox.confirm(batch.batch_id))
                    after = batch.last_seq
                    continue
                # Not confirmed: back off, then start again from this batch (same id; the prefetched one stays
                # open in the outbox and comes next).
                if prepared is not None:
                    await asyncio.gather(prepared, return_exceptions=True)
                    prepared = None
                after = batch.first_seq - 1
                await asyncio.sleep(self._next_retry_delay(key))
        finally:
            if prepared is not None:
                prepared.cancel()
            if confirming is not None:
                await asyncio.shield(confirming)

    async def _deliver(self, batch: Batch) -> bool:
        try:
            confirmed = await self._call(self.backend.deliver, batch)
        except Exception as exc:
            log.warning("delivery of %s failed: %s", batch.batch_id, exc)
            await self.outbox.record_failure(batch.batch_id, f"{type(exc).__name__}: {exc}")
            return False
        if confirmed:
            self.delivered_batches += 1
            self._retry_delay.pop(batch.connector, None)
        return bool(confirmed)

    def _next_retry_delay(self, key: str) -> float:
        delay = min(self._retry_delay.get(key, self.settings.retry_min_s / 2) * 2, self.settings.retry_max_s)
        self._retry_delay[key] = delay
        return delay

    async def flush_once(self) -> bool:
        """Deliver at most one batch per connector, one after the other (the stop drain); True if any was confirmed."""
        progressed = False
        for key in await self.outbox.connectors_with_pending():
            batch = await self.outbox.next_batch(key, self.settings.batch_size)
            if batch is not None and await self._deliver(batch):
                await self.outbox.confirm(batch.batch_id)
                progressed = True
        return progressed

    async def _drain(self) -> None:
        while await self.outbox.connectors_with_pending():
            if not await self.flush_once():
                await asyncio.sleep(self.settings.retry_min_s)

    # --- status and periodic jobs -------------------------------------------------------------------------------
    async def _save_status(self) -> None:
        buffered = await self.outbox.pending_counts()
        snapshots = {spec_id: health.snapshot() for spec_id, health in self.healths.items()}
        await self._call(self.backend.save_status, snapshots, buffered, self.name)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.status_interval_s)
            try:
                await self._save_status()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not save connector status")

    async def _periodic_loop(self, interval: float, job: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic job %s failed", job)
