"""Delivery lanes: several batches of a connector in flight (N+1 cut while N is delivered, N-1 confirmed beside
them), still delivered and confirmed strictly in order; a failure restarts from the failed batch with its id.
The outbox as sequence ranges: the next batch after a given sequence, old-format files, payload = to_json()."""
import asyncio
import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from connectors.envelope import Envelope
from connectors.outbox import Outbox
from connectors.runner import Runner
from tests.connectors.test_runner_core import CountingAdapter, FakeBackend, fast_settings, spec, wait_for

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def reading(value=1.0, connector="S1/opc", **changes):
    fields = dict(connector=connector, source_ref="ns=2;s=x", characteristic="C", value=value, raw_value=value,
                  quality="good", source_ts=T0, server_ts=None, received_ts=T0)
    fields.update(changes)
    return Envelope(**fields)


class SlowBackend(FakeBackend):
    """Records which batches were being delivered at the same moment as which outbox work."""

    def __init__(self, specs, **kwargs):
        super().__init__(specs, **kwargs)
        self.delivering = threading.Event()
        self.cut_while_delivering = 0
        self.failed_ids: list[str] = []

    def deliver(self, batch):
        self.delivering.set()
        try:
            import time

            time.sleep(0.02)
            if self.fail_times > 0:
                self.fail_times -= 1
                self.failed_ids.append(batch.batch_id)
                raise ConnectionError("database is down")
            return super().deliver(batch)
        finally:
            self.delivering.clear()


@pytest.mark.asyncio
async def test_pipelined_lanes_deliver_every_reading_once_in_order(tmp_path):
    backend = SlowBackend([spec({"count": 200, "period": 0})])
    outbox = Outbox(tmp_path / "o.sqlite3")
    original_next_batch = outbox.next_batch

    def watched_next_batch(*args):
        if backend.delivering.is_set():
            backend.cut_while_delivering += 1
        return original_next_batch(*args)

    outbox.next_batch = watched_next_batch
    runner = Runner(outbox, backend, fast_settings(batch_size=7), adapter_factory=CountingAdapter)
    task = asyncio.create_task(runner.run())
    await wait_for(lambda: len(backend.values()) == 200)
    runner.request_stop()
    await task
    assert backend.values() == list(range(1, 201))
    assert backend.cut_while_delivering > 0, "the next batch was never prepared during a delivery"
    assert Outbox(tmp_path / "o.sqlite3").pending_count() == 0


@pytest.mark.asyncio
async def test_a_failure_in_the_pipeline_resends_the_same_batch_and_keeps_the_order(tmp_path):
    backend = SlowBackend([spec({"count": 60, "period": 0})], fail_times=3)
    runner = Runner(Outbox(tmp_path / "o.sqlite3"), backend, fast_settings(batch_size=5),
                    adapter_factory=CountingAdapter)
    task = asyncio.create_task(runner.run())
    await wait_for(lambda: len(backend.values()) == 60)
    runner.request_stop()
    await task
    assert backend.values() == list(range(1, 61))
    assert backend.failed_ids and backend.failed_ids[0] == backend.delivered[0][0]   # resent under the same id


@pytest.mark.asyncio
async def test_without_prefetch_the_lane_still_delivers_in_order(tmp_path):
    backend = FakeBackend([spec({"count": 30, "period": 0})])
    runner = Runner(Outbox(tmp_path / "o.sqlite3"), backend, fast_settings(batch_size=4, prefetch=False),
                    adapter_factory=CountingAdapter)
    task = asyncio.create_task(runner.run())
    await wait_for(lambda: len(backend.values()) == 30)
    runner.request_stop()
    await task
    assert backend.values() == list(range(1, 31))


def test_next_batch_after_a_sequence_cuts_the_following_batch_and_keeps_both_open(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    outbox.append([reading(v) for v in range(10)])
    first = outbox.next_batch("S1/opc", 4)
    second = outbox.next_batch("S1/opc", 4, after_seq=first.last_seq)
    assert [e["seq"] for e in first.envelopes] == [1, 2, 3, 4]
    assert [e["seq"] for e in second.envelopes] == [5, 6, 7, 8]
    assert outbox.next_batch("S1/opc", 4) == first                     # the oldest open batch, same id
    assert outbox.next_batch("S1/opc", 4, after_seq=first.last_seq) == second
    outbox.confirm(first.batch_id)
    outbox.confirm(second.batch_id)
    assert [e["seq"] for e in outbox.next_batch("S1/opc", 4).envelopes] == [9, 10]


def test_confirming_a_batch_deletes_exactly_its_range(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    outbox.append([reading(v) for v in range(6)])
    batch = outbox.next_batch("S1/opc", 4)
    assert outbox.confirm(batch.batch_id) == 4
    assert outbox.confirm(batch.batch_id) == 0                          # a second confirmation removes nothing
    assert outbox.pending_count() == 2


def test_an_outbox_written_by_the_former_layout_is_still_delivered(tmp_path):
    """Files from before the range layout mark readings with their batch id and have an index on it."""
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path)
    outbox.append([reading(v) for v in range(6)])
    open_batch = outbox.next_batch("S1/opc", 4)
    outbox.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE readings SET batch_id=? WHERE seq BETWEEN 1 AND 4", (open_batch.batch_id,))
        db.execute("CREATE INDEX readings_batch ON readings (batch_id)")
    reopened = Outbox(path)
    assert reopened.next_batch("S1/opc", 4) == open_batch
    reopened.confirm(open_batch.batch_id)
    assert [e["seq"] for e in reopened.next_batch("S1/opc", 4).envelopes] == [5, 6]


@pytest.mark.parametrize("changes", [
    {},
    {"server_ts": T0 + timedelta(milliseconds=1), "received_ts": datetime(2026, 11, 24, 8, 0, 1, 500, tzinfo=UTC)},
    {"source_ts": datetime(2026, 11, 24, 16, 0, tzinfo=timezone(timedelta(hours=8)))},
    {"source_ts": datetime(1900, 1, 1, tzinfo=timezone(timedelta(hours=8, minutes=5, seconds=43)))},
    {"source_ts": None, "raw_value": [1, 2, (3, 4)], "extra": {"status": "Uncertain", "shot": 7}},
    {"raw_value": 2**70, "value": None, "quality": "bad"},
])
def test_the_stored_payload_is_to_json_with_the_sequence_number(tmp_path, changes):
    outbox = Outbox(tmp_path / "o.sqlite3")
    envelope = reading(**changes)
    outbox.append([envelope], numbered=False)
    with sqlite3.connect(tmp_path / "o.sqlite3") as db:
        (payload,) = db.execute("SELECT payload FROM readings").fetchone()
    expected = json.loads(json.dumps({**envelope.to_json(), "seq": 1}, default=str))
    assert json.loads(payload) == expected
    assert orjson.loads(payload) == expected
