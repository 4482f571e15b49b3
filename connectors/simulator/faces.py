"""Protocol faces of the simulator and the loop that drives them. No Django import.

A face is one protocol server/publisher showing the simulated plant (OPC UA server, Modbus TCP server, MQTT
publisher). To add one, write a module with

    def build_face(plant: SimulatedPlant, options: SimulatorOptions) -> SimulatorFace

and register its dotted path in FACES below. The loop calls, on every face:

    await face.start()                      once
    await face.publish(samples, now)        every tick (1 / options.rate_hz): continuous tags, list[Sample]
    await face.publish_shot(shot)           once per moulding cycle and machine: a Shot (one record per shot)
    await face.publish_backfill(samples)    the backfill-burst scenario: old samples, once
    await face.stop()                       at the end

Faces must never block the loop for long (await I/O; do not sleep). Scenario behaviours that belong to the
protocol (server restart, half-open link, word-order swap, duplicate MQTT deliveries) are the face's own: read
`plant.scenario.name` and options.
"""
from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from connectors.simulator.plant import Sample, Shot, SimulatedPlant

log = logging.getLogger("connectors.simulator")

FACES: dict[str, str] = {
    "opcua": "connectors.simulator.opcua_server.build_face",
    "modbus": "connectors.simulator.modbus_server.build_face",
    "mqtt": "connectors.simulator.mqtt_publisher.build_face",
}


# A tick late by up to this much is still made up (the next ticks follow at once), so a briefly busy machine costs
# no samples; further behind, the clock restarts from now instead of bursting.
CATCH_UP_S = 1.0


@dataclass
class SimulatorOptions:
    host: str = "127.0.0.1"
    opcua_port: int = 4840
    modbus_port: int = 5020
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    rate_hz: float = 1.0            # ticks per second for continuously sampled tags
    bench_tags: int = 0             # extra fast-changing tags (OPC UA: Bench/Tag0000…), for bench/connectors.py
    faces: tuple[str, ...] = ("opcua",)
    extra: dict = field(default_factory=dict)   # face-specific options


class SimulatorFace(Protocol):
    name: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, samples: list[Sample], now: datetime) -> None: ...
    async def publish_shot(self, shot: Shot) -> None: ...
    async def publish_backfill(self, samples: list[Sample]) -> None: ...


def build_faces(plant: SimulatedPlant, options: SimulatorOptions) -> list[SimulatorFace]:
    faces = []
    for name in options.faces:
        path = FACES[name]
        module_name, _, function = path.rpartition(".")
        faces.append(getattr(importlib.import_module(module_name), function)(plant, options))
    return faces


class Simulator:
    def __init__(self, plant: SimulatedPlant, options: SimulatorOptions, faces: list[SimulatorFace] | None = None):
        self.plant = plant
        self.options = options
        self.faces = faces if faces is not None else build_faces(plant, options)
        self._stop = asyncio.Event()
        self.ticks = 0

    def request_stop(self) -> None:
        self._stop.set()

    async def start(self) -> None:
        for face in self.faces:
            await face.start()
            log.info("simulator face %s started", face.name)

    async def stop(self) -> None:
        for face in self.faces:
            with contextlib.suppress(Exception):
                await face.stop()

    async def run(self) -> None:
        """Start the faces and drive them until `request_stop()`."""
        await self.start()
        loop = asyncio.get_running_loop()
        period = 1.0 / self.options.rate_hz
        # Machines shoot staggered over one cycle so the three do not publish in lock-step.
        next_shot = {
            machine: loop.time() + (index + 1) * self.plant.cycle_s / (len(self.plant.machines) + 1)
            for index, machine in enumerate(self.plant.machines)
        }
        next_tick = loop.time()
        try:
            while not self._stop.is_set():
                now = datetime.now(UTC)
                samples = self.plant.tick(now)
                for face in self.faces:
                    await self._safely(face, face.publish(samples, now))
                for machine, due in next_shot.items():
                    if loop.time() >= due:
                        shot = self.plant.shot(machine, now)
                        for face in self.faces:
                            await self._safely(face, face.publish_shot(shot))
                        next_shot[machine] = due + self.plant.cycle_s
                backfill = self.plant.backfill(now)
                if backfill:
                    for face in self.faces:
                        await self._safely(face, face.publish_backfill(backfill))
                self.ticks += 1
                next_tick += period
                delay = next_tick - loop.time()
                if delay < -CATCH_UP_S:      # fell far behind (overloaded machine): do not try to catch up in a burst
                    next_tick = loop.time()
                    delay = 0
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(delay, 0)):
                        await self._stop.wait()
        finally:
            await self.stop()

    @staticmethod
    async def _safely(face, coroutine) -> None:
        try:
            await coroutine
        except Exception:
            log.exception("simulator face %s failed to publish", face.name)
