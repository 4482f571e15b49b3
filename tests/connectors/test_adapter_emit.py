"""Adapter.emit counts exactly what reached the outbox, also when its task is cancelled during the write."""
import asyncio
from datetime import UTC, datetime

import pytest

from connectors.adapters import Adapter
from connectors.spec import ConnectorSpec, TagSpec

pytestmark = pytest.mark.asyncio

TAG = TagSpec(source_ref="n1", characteristic="IMM01.BARREL_Z2.TEMP")


class SlowSink:
    """An outbox write that finishes when the test lets it (as a write on the outbox thread would, cancelled or not)."""

    def __init__(self, fails: bool = False):
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.fails = fails
        self.written: list = []

    async def put(self, envelopes):
        self.started.set()
        await self.release.wait()
        if self.fails:
            raise OSError("disk full")
        self.written.extend(envelopes)


class IdleAdapter(Adapter):
    async def run(self):
        await asyncio.Event().wait()


def _adapter(sink) -> IdleAdapter:
    return IdleAdapter(ConnectorSpec(id=1, site="S1", name="c", kind="opcua", tags=(TAG,)), sink)


def _readings(adapter, n: int) -> list:
    return [adapter.envelope(TAG, float(i), quality="good", source_ts=datetime.now(UTC)) for i in range(n)]


async def _cancel_during_write(sink) -> IdleAdapter:
    adapter = _adapter(sink)
    task = asyncio.create_task(adapter.emit(_readings(adapter, 5)))
    await sink.started.wait()
    task.cancel()
    await asyncio.sleep(0)
    sink.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    return adapter


async def test_a_write_that_lands_after_the_cancellation_is_counted():
    sink = SlowSink()
    adapter = await _cancel_during_write(sink)
    assert len(sink.written) == 5 and adapter.health.received == 5


async def test_a_write_that_fails_after_the_cancellation_is_not_counted():
    sink = SlowSink(fails=True)
    adapter = await _cancel_during_write(sink)
    assert sink.written == [] and adapter.health.received == 0


async def test_an_uncancelled_write_is_counted_once():
    sink = SlowSink()
    sink.release.set()
    adapter = _adapter(sink)
    await adapter.emit(_readings(adapter, 3))
    assert adapter.health.received == 3
