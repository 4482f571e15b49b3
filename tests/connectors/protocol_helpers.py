"""Helpers shared by the Modbus/MQTT/table/file connector tests (no fixtures here: see each test module)."""
from __future__ import annotations

import asyncio
import socket

from connectors.envelope import Envelope


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ListSink:
    """A ReadingSink that keeps what it was given (in memory: durable enough for an adapter test)."""

    def __init__(self):
        self.envelopes: list[Envelope] = []
        self.batches = 0
        self.changed = asyncio.Event()

    async def put(self, envelopes: list[Envelope]) -> None:
        self.envelopes.extend(envelopes)
        self.batches += 1
        self.changed.set()

    def of(self, characteristic: str) -> list[Envelope]:
        return [e for e in self.envelopes if e.characteristic == characteristic]
