"""The adapter contract and registry. No Django import.

An adapter is one protocol session for one connector, hosted by the runner:

    class MyAdapter(Adapter):
        async def run(self) -> None:
            ...   # connect, subscribe/poll, build Envelopes, `await self.sink.put(envelopes)`, report self.health

`run` should never return while the connector is meant to run; it handles its own reconnects (with backoff) and
raises only for what it cannot handle — the runner then restarts it with backoff. Cancellation (config change,
SIGTERM) arrives as asyncio.CancelledError: clean up and re-raise.

Kinds are found by dotted path so a protocol plugs in by creating its module; table and file connectors are
polled by Celery beat, not hosted by the runner.
"""
from __future__ import annotations

import abc
import asyncio
import contextlib
import importlib
import logging
from datetime import UTC, datetime

from connectors.envelope import Envelope, QualityName, ReadingSink
from connectors.health import ConnectorHealth
from connectors.spec import ConnectorSpec, TagSpec

ADAPTER_CLASSES: dict[str, str] = {
    "opcua": "connectors.opcua.adapter.OpcUaAdapter",
    "modbus": "connectors.modbus.adapter.ModbusAdapter",
    "mqtt": "connectors.mqtt.adapter.MqttAdapter",
}


def runner_hosted(kind: str) -> bool:
    return kind in ADAPTER_CLASSES


def adapter_class(kind: str) -> type[Adapter]:
    path = ADAPTER_CLASSES[kind]
    module_name, _, class_name = path.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


class Adapter(abc.ABC):
    kind = ""

    def __init__(self, spec: ConnectorSpec, sink: ReadingSink, health: ConnectorHealth | None = None):
        self.spec = spec
        self.key = spec.key      # one string for all envelopes (the property builds a new one per call)
        self.sink = sink
        self.health = health or ConnectorHealth()
        self.log = logging.getLogger(f"connectors.{self.kind or 'adapter'}.{spec.name}")

    @abc.abstractmethod
    async def run(self) -> None:
        """Hold the protocol session until cancelled, handing readings to self.sink."""

    def envelope(self, tag: TagSpec, value: float | None, *, quality: QualityName, raw_value: object = None,
                 source_ts: datetime | None = None, server_ts: datetime | None = None, backfill: bool = False,
                 lot: str | None = None, received_ts: datetime | None = None, extra: dict | None = None) -> Envelope:
        """Build an envelope for `tag`, enforcing the two rules every adapter must keep:
        a None value is always bad quality, and a value outside the dictionary's physical range is bad quality
        (a wrong word order or scale must never look like a number)."""
        if value is None:
            quality = "bad"
        elif tag.physical_min is not None and value < tag.physical_min or (
            tag.physical_max is not None and value > tag.physical_max
        ):
            quality = "bad"
            extra = {**(extra or {}), "implausible": True}
        return Envelope(
            connector=self.key, source_ref=tag.source_ref, characteristic=tag.characteristic, value=value,
            raw_value=raw_value if raw_value is not None else value, quality=quality, source_ts=source_ts,
            server_ts=server_ts, received_ts=received_ts or datetime.now(UTC), backfill=backfill, lot=lot,
            equipment=tag.equipment, extra=extra or {},
        )

    async def emit(self, envelopes: list[Envelope]) -> None:
        """Hand readings to the sink (durable when this returns) and count them."""
        if not envelopes:
            return
        # The outbox write runs on its own thread and lands even when this task is cancelled meanwhile (a config
        # change, a stop): wait for it and count what it wrote before giving in, or `received` trails `stored`.
        write = asyncio.ensure_future(self.sink.put(envelopes))
        try:
            await asyncio.shield(write)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):   # a failed write is not counted
                await write
                self._count(envelopes)
            raise
        self._count(envelopes)

    def _count(self, envelopes: list[Envelope]) -> None:
        bad = sum(1 for e in envelopes if e.quality == "bad")
        latest = max((e.source_ts or e.received_ts for e in envelopes), default=None)
        self.health.counted(len(envelopes), bad, latest)
