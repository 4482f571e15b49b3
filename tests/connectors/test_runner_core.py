"""The runner without Django: supervision, reload on config change, ordered delivery with retries, graceful stop.
Adapters and the backend are in-memory fakes; the outbox is the real SQLite one."""
import asyncio
from datetime import UTC, datetime

import pytest

from connectors.adapters import Adapter
from connectors.outbox import Outbox
from connectors.runner import Runner, RunnerSettings
from connectors.spec import ConnectorSpec, TagSpec

pytestmark = pytest.mark.asyncio

TAG = TagSpec(source_ref="n1", characteristic="IMM01.BARREL_Z2.TEMP", physical_min=0, physical_max=400)


class FakeBackend:
    def __init__(self, specs, fail_times=0):
        self.specs = list(specs)
        self.version = "1"
        self.fail_times = fail_times
        self.delivered: list[tuple[str, list[int]]] = []
        self.statuses = []

    def config_version(self):
        return self.version

    def load_specs(self):
        return list(self.specs)

    def deliver(self, batch):
        if self.fail_times > 0:
            self.fail_times -= 1
            raise ConnectionError("database is down")
        if batch.batch_id not in {b for b, _ in self.delivered}:
            self.delivered.append((batch.batch_id, [e["seq"] for e in batch.envelopes]))
        return True

    def save_status(self, snapshots, buffered, runner):
        self.statuses.append((snapshots, buffered))

    def values(self):
        return [seq for _b, seqs in self.delivered for seq in seqs]


class CountingAdapter(Adapter):
    """Emits `count` readings, one every `period` seconds, then idles."""
    starts: list[str] = []

    async def run(self):
        CountingAdapter.starts.append(self.spec.fingerprint)
        self.health.connected()
        for i in range(self.spec.config.get("count", 10)):
            await self.emit([self.envelope(TAG, float(i), quality="good", source_ts=datetime.now(UTC))])
            await asyncio.sleep(self.spec.config.get("period", 0.001))
        await asyncio.Event().wait()


class CrashingAdapter(Adapter):
    runs = 0

    async def run(self):
        CrashingAdapter.runs += 1
        raise RuntimeError("protocol error")


def spec(config=None, spec_id=1, name="opc", kind="opcua"):
    return ConnectorSpec(id=spec_id, site="S1", name=name, kind=kind, config=config or {}, tags=(TAG,))


def fast_settings(**overrides):
    values = dict(config_poll_s=0.05, flush_interval_s=0.01, status_interval_s=0.05, retry_min_s=0.02,
                  retry_max_s=0.05, restart_min_s=0.02, restart_max_s=0.05, stop_flush_s=2.0)
    values.update(overrides)
    return RunnerSettings(**values)


async def wait_for(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def test_readings_are_delivered_in_sequence_and_removed_from_the_outbox(tmp_path):
    backend = FakeBackend([spec({"count": 50})])
    runner = Runner(Outbox(tmp_path / "o.sqlite3"), backend, fast_settings(batch_size=7),
                    adapter_factory=CountingAdapter)
    task = asyncio.create_task(runner.run())
    await wait_for(lambda: len(backend.values()) == 50)
    runner.request_stop()
    await task
    assert backend.values() == list(range(1, 51))
    assert Outbox(tmp_path / "o.sqlite3").pending_count() == 0


async def test_a_crashing_adapter_is_restarted_with_backoff(tmp_path):
    CrashingAdapter.runs = 0
    backend = FakeBackend([spec()])
    runner = Runner(Outbox(tmp_path / "o.sqlite3"), backend, fast_settings(), adapter_factory=CrashingAdapter)
    task = asyncio.create_task(runner.run())
    await wait_for(lambda: CrashingAdapter.runs >= 3)
    health = runner.healths[1]
    runner.request_stop()
    await task
    assert "protocol error" in health.last_error
    assert health.reconnects >= 2


async def test_a_config_change_restarts_only_the_changed_connector(tmp_path):
    CountingAdapter.starts = []
    backend = FakeBackend([spec({"count": 1}, 1, "a"), spec({"count": 1}, 2, "b")])
    runner = Runner(Outbox(tmp_path / "o.sqlite3"), backend, fast_settings(), adapter_factory=CountingAdapter)
    task = asyncio.create_task(runner.run())
    await wait_for(lambda: len(CountingAdapter.starts) == 2)
    untouched_task = runner.hosted[2].task
    backend.specs[0] = spec({"count": 2}, 1, "a")
    backend.version = "2"
    await wait_for(lambda: len(CountingAdapter.starts) == 3)
    assert runner.hosted[2].task is untouched_task
    backend.specs = backend.specs[1:]
    backend.version = "3"
    await wait_for(lambda: 1 not in runner.hosted)
    runner.request_stop()
    await task


async def test_delivery_failures_keep_readings_and_drain_in_order_afterwards(tmp_path):
    backend = FakeBackend([spec({"count": 30})], fail_times=6)
    runner = Runner(Outbox(tmp_path / "o.sqlite3"), backend, fast_settings(batch_size=4),
                    adapter_factory=CountingAdapter)
    task = asyncio.create_task(runner.run())
    await wait_for(lambda: len(backend.values()) == 30)
    runner.request_stop()
    await task
    assert backend.values() == list(range(1, 31))


async def test_stop_flushes_what_is_buffered(tmp_path):
    backend = FakeBackend([spec({"count": 20, "period": 0})], fail_times=10**9)
    runner = Runner(Outbox(tmp_path / "o.sqlite3"), backend, fast_settings(retry_min_s=30, retry_max_s=30),
                    adapter_factory=CountingAdapter)
    task = asyncio.create_task(runner.run())
    await wait_for(lambda: runner.healths.get(1) is not None and runner.healths[1].received == 20)
    backend.fail_times = 0  # the database is back, but the next retry is 30 s away: only the stop flush delivers
    runner.request_stop()
    await task
    assert backend.values() == list(range(1, 21))


async def test_status_is_saved_with_counters_and_buffer_sizes(tmp_path):
    backend = FakeBackend([spec({"count": 5})])
    runner = Runner(Outbox(tmp_path / "o.sqlite3"), backend, fast_settings(), adapter_factory=CountingAdapter)
    task = asyncio.create_task(runner.run())
    await wait_for(lambda: any(s.get(1, {}).get("received") == 5 for s, _ in backend.statuses))
    runner.request_stop()
    await task
    snapshots, _buffered = backend.statuses[-1]
    assert snapshots[1]["state"] == "stopped"


async def test_a_tuned_runner_process_collects_young_objects_less_often_and_leaves_its_start_up_heap_alone():
    import gc

    from connectors.runner import GC_YOUNG_THRESHOLD, tune_gc_for_throughput

    before = gc.get_threshold()
    try:
        tune_gc_for_throughput()
        assert (gc.get_threshold()[0], gc.get_freeze_count() > 0) == (GC_YOUNG_THRESHOLD, True)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
