"""Modbus TCP polling session: reads the planned blocks every `interval_s`, decodes, checks plausibility and hands
envelopes to the sink.

What it promises:
- A unit id that does not answer yields bad-quality readings with reason "no_communication" (value None) — never
  the last good value again — and is demoted (polled less often) so the other units on the gateway keep their rate.
- A lost TCP connection yields "no_communication" for every point and is re-established with backoff on its own.
- A value outside the dictionary's physical range (the usual symptom of a wrong word order) is bad quality with
  the reason, the raw registers kept for diagnosis.
- Cycles are scheduled on absolute deadlines (no drift); a cycle that overruns skips the missed slots.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException

from connectors.envelope import Envelope, ReadingSink

from .codec import DecodeError, SuspectDecoding, decode, implausibility, to_engineering
from .plan import ModbusPoint, ReadBlock, Table, UnitHealth, plan_reads

logger = logging.getLogger(__name__)

NO_COMMUNICATION = "no_communication"
# Exception codes with which a gateway says "the device behind me did not answer": a unit failure, not a config one.
GATEWAY_FAILURE_CODES = {0x0A, 0x0B}


@dataclass
class PollerStats:
    cycles: int = 0
    readings: int = 0
    bad_readings: int = 0
    reconnects: int = 0
    skipped_cycles: int = 0
    lateness_s: deque = field(default_factory=lambda: deque(maxlen=10_000))   # actual − scheduled start per cycle


class UnitFailure(Exception):
    """The unit id did not answer (timeout, gateway exception 0x0A/0x0B)."""


class ModbusPoller:
    def __init__(
        self, *, connector: str, host: str, port: int, points: list[ModbusPoint], sink: ReadingSink,
        interval_s: float = 1.0, timeout_s: float = 1.0, max_gap: int = 8, demote_after: int = 2, max_skip: int = 32,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.connector, self.host, self.port = connector, host, port
        self.points, self.sink, self.interval_s, self.timeout_s = points, sink, interval_s, timeout_s
        self.blocks = plan_reads(points, max_gap=max_gap)
        self.health = {unit: UnitHealth(demote_after=demote_after, max_skip=max_skip)
                       for unit in sorted({p.unit_id for p in points})}
        self.now = now
        self.suspects: dict[ModbusPoint, SuspectDecoding] = {}
        self.stats = PollerStats()
        self.client: AsyncModbusTcpClient | None = None
        self._reconnect_at = 0.0
        self._reconnect_delay = interval_s

    # --- connection ---------------------------------------------------------------------------------------------
    async def _ensure_connected(self) -> bool:
        if self.client is not None and self.client.connected:
            return True
        if time.monotonic() < self._reconnect_at:
            return False
        if self.client is not None:
            self.client.close()
            self.stats.reconnects += 1
        # pymodbus' own background reconnect is off (reconnect_delay=0): the poll loop owns the retry schedule.
        self.client = AsyncModbusTcpClient(self.host, port=self.port, timeout=self.timeout_s, retries=0,
                                           reconnect_delay=0)
        try:
            connected = await self.client.connect()
        except (OSError, ModbusException):
            connected = False
        if connected:
            self._reconnect_delay = self.interval_s
            return True
        self._reconnect_at = time.monotonic() + self._reconnect_delay
        self._reconnect_delay = min(self._reconnect_delay * 2, 30.0)
        return False

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    # --- one cycle ----------------------------------------------------------------------------------------------
    async def _read(self, block: ReadBlock) -> list[int] | list[bool]:
        readers = {
            Table.HOLDING: self.client.read_holding_registers, Table.INPUT: self.client.read_input_registers,
            Table.COIL: self.client.read_coils, Table.DISCRETE: self.client.read_discrete_inputs,
        }
        try:
            response = await readers[block.table](block.address, count=block.count, device_id=block.unit_id)
        except ConnectionException:
            raise
        except (TimeoutError, ModbusException) as exc:
            raise UnitFailure(str(exc)) from exc
        if response.isError():
            code = getattr(response, "exception_code", None)
            if code in GATEWAY_FAILURE_CODES:
                raise UnitFailure(f"gateway exception {code:#04x}")
            raise DecodeError(f"device answered with exception code {code}")
        return response.bits[:block.count] if block.table.is_bits else response.registers

    def _envelope(self, point: ModbusPoint, value, raw, quality, reason: str | None, ts: datetime) -> Envelope:
        self.stats.readings += 1
        if quality == "bad":
            self.stats.bad_readings += 1
        return Envelope(
            connector=self.connector, source_ref=point.source_ref, characteristic=point.characteristic,
            value=value, raw_value=raw, quality=quality, source_ts=ts, server_ts=None, received_ts=ts,
            equipment=point.equipment, extra={"reason": reason} if reason else {},
        )

    def _decode_block(self, block: ReadBlock, data: list, ts: datetime) -> list[Envelope]:
        envelopes = []
        for point in block.points:
            start = point.address - block.address
            raw = [int(v) for v in data[start:start + point.width]]
            try:
                number = to_engineering(decode(raw, point.data_type, point.word_order), point.scale, point.offset)
            except DecodeError as exc:
                envelopes.append(self._envelope(point, None, raw, "bad", f"undecodable: {exc}", ts))
                continue
            reason = implausibility(number, point.physical_min, point.physical_max)
            suspect = self.suspects.setdefault(point, SuspectDecoding()).record(reason is not None)
            if reason:
                envelopes.append(self._envelope(point, None, raw, "bad", f"implausible: {reason}", ts))
            elif suspect:
                envelopes.append(self._envelope(point, None, raw, "bad", suspect, ts))
            else:
                envelopes.append(self._envelope(point, number, raw, "good", None, ts))
        return envelopes

    def _no_communication(self, points, ts: datetime) -> list[Envelope]:
        return [self._envelope(p, None, None, "bad", NO_COMMUNICATION, ts) for p in points]

    async def poll_once(self) -> list[Envelope]:
        """One poll cycle over every due unit; returns the envelopes it produced (already handed to the sink)."""
        self.stats.cycles += 1
        due_units = {unit for unit, health in self.health.items() if health.due()}
        due_blocks = [b for b in self.blocks if b.unit_id in due_units]
        envelopes: list[Envelope] = []
        if not due_blocks:
            return envelopes
        if not await self._ensure_connected():
            envelopes = self._no_communication([p for b in due_blocks for p in b.points], self.now())
        else:
            failed_units: set[int] = set()
            connection_lost = False
            for block in due_blocks:
                if block.unit_id in failed_units:
                    envelopes += self._no_communication(block.points, self.now())
                    continue
                try:
                    data = await self._read(block)
                except ConnectionException:
                    # The TCP link is gone: every remaining block is unanswered, and no unit is to blame for it.
                    remaining = due_blocks[due_blocks.index(block):]
                    envelopes += self._no_communication([p for b in remaining for p in b.points], self.now())
                    connection_lost = True
                    break
                except UnitFailure as exc:
                    logger.info("%s: unit %s did not answer: %s", self.connector, block.unit_id, exc)
                    envelopes += self._no_communication(block.points, self.now())
                    failed_units.add(block.unit_id)
                    continue
                except DecodeError as exc:
                    ts = self.now()
                    envelopes += [self._envelope(p, None, None, "bad", str(exc), ts) for p in block.points]
                    continue
                envelopes += self._decode_block(block, data, self.now())
            for unit in () if connection_lost else due_units:
                if unit in failed_units:
                    if self.health[unit].record_failure():
                        logger.warning("%s: unit %s demoted (polled every %s cycles)", self.connector, unit,
                                       self.health[unit].skip)
                elif self.health[unit].record_success():
                    logger.info("%s: unit %s answers again, promoted", self.connector, unit)
        if envelopes:
            await self.sink.put(envelopes)
        return envelopes

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set, on absolute deadlines."""
        next_start = time.monotonic()
        try:
            while not stop.is_set():
                self.stats.lateness_s.append(time.monotonic() - next_start)
                await self.poll_once()
                next_start += self.interval_s
                behind = time.monotonic() - next_start
                if behind > 0:
                    missed = int(behind // self.interval_s) + 1
                    self.stats.skipped_cycles += missed
                    next_start += missed * self.interval_s
                try:
                    await asyncio.wait_for(stop.wait(), timeout=max(0.0, next_start - time.monotonic()))
                except TimeoutError:
                    pass
        finally:
            self.close()

    @classmethod
    def from_config(cls, *, connector: str, config: dict, sink: ReadingSink) -> ModbusPoller:
        """config: {"host", "port", "interval_s", "timeout_s", "max_gap", "points": [ModbusPoint settings...]}"""
        points = [ModbusPoint.from_config(p) for p in config.get("points", [])]
        if not points:
            raise ValueError("a Modbus connector needs at least one point")
        options = {k: config[k] for k in ("interval_s", "timeout_s", "max_gap", "demote_after", "max_skip") if k in config}
        return cls(connector=connector, host=config.get("host", "127.0.0.1"), port=int(config.get("port", 502)),
                   points=points, sink=sink, **options)
