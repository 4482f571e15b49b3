"""The simulated injection-moulding line: one value model shared by every protocol face of the simulator (OPC UA
server, Modbus server, MQTT publisher). No Django import; no I/O.

`SimulatedPlant.tick(now)` advances the model and returns the current `Sample` of every tag of every machine;
`SimulatedPlant.shot(machine, now)` closes a moulding cycle and returns its `Shot` record. Protocol faces call
these (or read `plant.latest`) and publish what they get. Scenarios change what the model produces:

    normal          values around the nominal with realistic noise
    drift           barrel zone 2 of IMM02 drifts +4 °C (linear ramp over `drift_ramp_s`) from `drift_at`
    spikes          rare ±15 % spikes on temperatures and pressure
    bad-quality     one tag at a time reports bad quality (no value) for a few seconds
    clock-skew      source timestamps run `skew_s` ahead of the real clock
    backfill-burst  after `backfill_at`, one burst of the last minute's history with old timestamps
    server-restart  (a protocol-face behaviour: the OPC UA server stops/starts every `restart_every_s`)
    half-open       (a protocol-face behaviour: the OPC UA face stops answering without closing sockets)

Excursions on command (any scenario): `set_offset(machine, suffix, offset)` shifts one tag by `offset` from now on
(0 returns it to normal) and returns the offending sample with its source timestamp, so a test or a benchmark knows
exactly when the excursion began. The OPC UA face exposes it as the method Objects/Simulator/SetOffset.
`noise` scales the process noise (1.0: Cp ≈ 1; 0.5 keeps normal values well inside ±3 σ-based alarm thresholds).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from qms.demo import plant as demo

# Scenarios the plant or the OPC UA face plays, then the protocol faces' own (PROTOCOL_SCENARIOS).
SCENARIOS = ("normal", "drift", "spikes", "bad-quality", "clock-skew", "backfill-burst", "server-restart",
             "half-open", "word-order-swap", "device-down", "duplicate-deliveries")
# Scenario → the face that plays it (it reads plant.scenario.name): without that face the scenario would do nothing.
PROTOCOL_SCENARIOS = {"word-order-swap": "modbus", "device-down": "modbus", "duplicate-deliveries": "mqtt"}

# Dictionary suffix → EUROMAP 77-like browse path under the machine object.
TAG_PATHS: dict[str, str] = {
    **{f"BARREL_Z{zone}.TEMP": f"TemperatureZones/Barrel/Zone{zone}/ActualValue" for zone in range(1, 7)},
    "MOULD.TEMP": "TemperatureZones/Mould/Zone1/ActualValue",
    "INJECTION.PRESSURE": "InjectionUnit/PeakPressure",
    "SCREW.CUSHION": "InjectionUnit/Cushion",
    "CYCLE.TIME": "Cycle/CycleTime",
    "PART.WEIGHT": "Quality/PartWeight",
}
NOMINAL_PATHS: dict[str, str] = {
    **{f"BARREL_Z{zone}.TEMP": f"TemperatureZones/Barrel/Zone{zone}/NominalValue" for zone in range(1, 7)},
    "MOULD.TEMP": "TemperatureZones/Mould/Zone1/NominalValue",
}
# Per-shot values (EUROMAP 77 cycle parameters): published once per cycle, also as one cycle event.
SHOT_SUFFIXES = ("INJECTION.PRESSURE", "SCREW.CUSHION", "CYCLE.TIME", "PART.WEIGHT")
SPECS = {spec.suffix: spec for spec in demo.CHARACTERISTICS}


@dataclass(frozen=True, slots=True)
class Sample:
    machine: str
    suffix: str
    value: float | None        # None: bad quality (sensor failure)
    good: bool
    source_ts: datetime


@dataclass(frozen=True, slots=True)
class Shot:
    machine: str
    counter: int
    lot: str
    source_ts: datetime
    values: dict[str, float]   # suffix → value, plus "INJECTION.TIME"


@dataclass
class ScenarioOptions:
    name: str = "normal"
    drift_at: datetime | None = None
    drift_ramp_s: float = 120.0
    drift_machine: str = "IMM02"
    drift_suffix: str = "BARREL_Z2.TEMP"
    drift_delta: float = 4.0
    skew_s: float = 120.0
    backfill_at: datetime | None = None
    bad_every_s: float = 20.0
    bad_for_s: float = 4.0
    spike_probability: float = 0.01
    restart_every_s: float = 30.0
    down_s: float = 5.0


@dataclass
class SimulatedPlant:
    machines: tuple[str, ...] = demo.MACHINES
    scenario: ScenarioOptions = field(default_factory=ScenarioOptions)
    cycle_s: float = 32.0
    seed: int | None = None
    noise: float = 1.0
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    offsets: dict[tuple[str, str], float] = field(default_factory=dict)
    latest: dict[tuple[str, str], Sample] = field(default_factory=dict)
    shot_counters: dict[str, int] = field(default_factory=dict)
    lots: dict[str, str] = field(default_factory=dict)
    backfill_done: bool = False

    def __post_init__(self):
        self.random = random.Random(self.seed)
        for index, machine in enumerate(self.machines):
            self.shot_counters.setdefault(machine, 1000 * (index + 1))
            self.lots.setdefault(machine, f"L-{machine}-{self.started:%Y%m%d}-01")

    # --- values ---------------------------------------------------------------------------------------------
    def source_time(self, now: datetime) -> datetime:
        if self.scenario.name == "clock-skew":
            return now + timedelta(seconds=self.scenario.skew_s)
        return now

    def value(self, machine: str, suffix: str, now: datetime) -> float:
        spec = SPECS[suffix]
        sigma = spec.tolerance / 6.0 * self.noise        # capable process: Cp ≈ 1 at noise 1.0
        value = spec.nominal + self.random.gauss(0.0, sigma) + self.offsets.get((machine, suffix), 0.0)
        options = self.scenario
        if options.name == "drift" and machine == options.drift_machine and suffix == options.drift_suffix:
            drift_at = options.drift_at or self.started
            elapsed = (now - drift_at).total_seconds()
            if elapsed > 0:
                value += options.drift_delta * min(1.0, elapsed / max(options.drift_ramp_s, 0.001))
        if options.name == "spikes" and self.random.random() < options.spike_probability:
            value += spec.nominal * 0.15 * self.random.choice((-1, 1))
        low, high = spec.physical
        return round(min(max(value, low), high), spec.precision)

    def is_bad(self, machine: str, suffix: str, now: datetime) -> bool:
        if self.scenario.name != "bad-quality":
            return False
        options = self.scenario
        elapsed = (now - self.started).total_seconds()
        window = int(elapsed // options.bad_every_s)
        if elapsed - window * options.bad_every_s > options.bad_for_s:
            return False
        tags = [(m, s) for m in self.machines for s in TAG_PATHS if s not in SHOT_SUFFIXES]
        return tags[window % len(tags)] == (machine, suffix)

    def set_offset(self, machine: str, suffix: str, offset: float, now: datetime | None = None) -> Sample:
        """Shift one tag by `offset` from `now` on (0: back to normal); returns the tag's sample at `now`, the first
        value of the excursion (or of the return to normal), for the face to publish right away."""
        if machine not in self.machines:
            raise ValueError(f"unknown machine {machine!r} (simulated: {', '.join(self.machines)})")
        if suffix not in TAG_PATHS:
            raise ValueError(f"unknown tag {suffix!r} (known: {', '.join(TAG_PATHS)})")
        if not math.isfinite(offset):
            raise ValueError("the offset must be a finite number")
        now = now or datetime.now(UTC)
        if offset:
            self.offsets[(machine, suffix)] = offset
        else:
            self.offsets.pop((machine, suffix), None)
        sample = Sample(machine, suffix, self.value(machine, suffix, now), True, self.source_time(now))
        self.latest[(machine, suffix)] = sample
        return sample

    def tick(self, now: datetime | None = None) -> list[Sample]:
        """Current value of every continuously sampled tag (temperatures)."""
        now = now or datetime.now(UTC)
        samples = []
        for machine in self.machines:
            for suffix in TAG_PATHS:
                if suffix in SHOT_SUFFIXES:
                    continue
                bad = self.is_bad(machine, suffix, now)
                sample = Sample(machine, suffix, None if bad else self.value(machine, suffix, now), not bad,
                                self.source_time(now))
                self.latest[(machine, suffix)] = sample
                samples.append(sample)
        return samples

    def shot(self, machine: str, now: datetime | None = None) -> Shot:
        now = now or datetime.now(UTC)
        self.shot_counters[machine] += 1
        values = {suffix: self.value(machine, suffix, now) for suffix in SHOT_SUFFIXES}
        values["CYCLE.TIME"] = round(self.cycle_s + self.random.gauss(0, 0.2), 2)
        values["INJECTION.TIME"] = round(1.8 + self.random.gauss(0, 0.03), 3)
        ts = self.source_time(now)
        for suffix in SHOT_SUFFIXES:
            self.latest[(machine, suffix)] = Sample(machine, suffix, values[suffix], True, ts)
        return Shot(machine, self.shot_counters[machine], self.lots[machine], ts, values)

    def backfill(self, now: datetime | None = None, seconds: int = 60) -> list[Sample]:
        """The backfill-burst scenario: once, the last `seconds` of temperatures with their old timestamps."""
        now = now or datetime.now(UTC)
        options = self.scenario
        if self.backfill_done or options.name != "backfill-burst" or (options.backfill_at and now < options.backfill_at):
            return []
        self.backfill_done = True
        return [
            Sample(machine, suffix, self.value(machine, suffix, now), True, now - timedelta(seconds=age))
            for age in range(seconds, 0, -1)
            for machine in self.machines
            for suffix in TAG_PATHS if suffix not in SHOT_SUFFIXES
        ]

    def wave(self, index: int, now: datetime) -> float:
        """Bench tags: a smooth value that changes on every tick."""
        return self.waves(now, index + 1)[index]

    def waves(self, now: datetime, count: int) -> list[float]:
        """The first `count` bench tags' values at `now` (one tick of all of them)."""
        seconds, sin = now.timestamp(), math.sin
        return [round(100.0 + 10.0 * sin(seconds + index), 3) for index in range(count)]
