"""The simulator's plant model and its scenarios (pure: no servers), and simulate_mes end to end on loopback."""
from datetime import UTC, datetime, timedelta

import pytest

from connectors.simulator.plant import SHOT_SUFFIXES, SPECS, TAG_PATHS, ScenarioOptions, SimulatedPlant
from qms.demo import plant as demo

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def plant(name="normal", **options):
    return SimulatedPlant(scenario=ScenarioOptions(name=name, **options), seed=7, started=T0)


def mean(values):
    return sum(values) / len(values)


def test_every_demo_characteristic_has_a_node():
    assert {spec.suffix for spec in demo.CHARACTERISTICS} == set(TAG_PATHS)


def test_normal_values_stay_inside_the_physical_range_around_the_nominal():
    model = plant()
    samples = [s for i in range(200) for s in model.tick(T0 + timedelta(seconds=i))]
    for sample in samples:
        low, high = SPECS[sample.suffix].physical
        assert low <= sample.value <= high
    zone2 = [s.value for s in samples if (s.machine, s.suffix) == ("IMM02", "BARREL_Z2.TEMP")]
    assert abs(mean(zone2) - 210.0) < 0.5


def test_drift_moves_imm02_zone2_by_four_degrees_after_the_ramp_and_nothing_else():
    model = plant("drift", drift_at=T0 + timedelta(seconds=60), drift_ramp_s=120)
    late = T0 + timedelta(seconds=400)
    before = [model.value("IMM02", "BARREL_Z2.TEMP", T0 + timedelta(seconds=i)) for i in range(50)]
    after = [model.value("IMM02", "BARREL_Z2.TEMP", late + timedelta(seconds=i)) for i in range(200)]
    other = [model.value("IMM01", "BARREL_Z2.TEMP", late + timedelta(seconds=i)) for i in range(200)]
    assert abs(mean(before) - 210.0) < 0.6
    assert abs(mean(after) - 214.0) < 0.5
    assert abs(mean(other) - 210.0) < 0.5


def test_bad_quality_scenario_reports_one_tag_at_a_time_without_value():
    model = plant("bad-quality", bad_every_s=20, bad_for_s=4)
    bad = [s for s in model.tick(T0 + timedelta(seconds=1)) if not s.good]
    assert len(bad) == 1 and bad[0].value is None
    assert all(s.good for s in model.tick(T0 + timedelta(seconds=10)))


def test_clock_skew_runs_source_timestamps_ahead():
    model = plant("clock-skew", skew_s=120)
    [first, *_] = model.tick(T0)
    assert first.source_ts == T0 + timedelta(seconds=120)


def test_backfill_burst_replays_the_last_minute_once_with_old_timestamps():
    model = plant("backfill-burst")
    burst = model.backfill(T0)
    assert burst and min(s.source_ts for s in burst) == T0 - timedelta(seconds=60)
    assert model.backfill(T0 + timedelta(seconds=1)) == []


def test_a_shot_carries_counter_lot_and_the_cycle_values():
    model = plant()
    first, second = model.shot("IMM01", T0), model.shot("IMM01", T0 + timedelta(seconds=32))
    assert second.counter == first.counter + 1
    assert set(SHOT_SUFFIXES) <= set(first.values) and "INJECTION.TIME" in first.values
    assert first.lot.startswith("L-IMM01-")


@pytest.mark.asyncio
async def test_the_simulator_loop_serves_live_opcua_values():
    import asyncio

    from asyncua import Client

    from connectors.simulator.faces import Simulator, SimulatorOptions
    from tests.connectors.protocol_helpers import free_port

    port = free_port()
    simulator = Simulator(SimulatedPlant(machines=("IMM01",), cycle_s=0.5), SimulatorOptions(opcua_port=port, rate_hz=20))
    task = asyncio.create_task(simulator.run())
    try:
        while simulator.ticks == 0:
            await asyncio.sleep(0.05)
        async with Client(f"opc.tcp://127.0.0.1:{port}/qualitypulse/") as client:
            counter = client.get_node("ns=2;s=IMM01/Cycle/ShotCounter")
            first = await counter.read_value()
            await asyncio.sleep(1.2)
            assert await counter.read_value() > first
            value = await client.get_node("ns=2;s=IMM01/TemperatureZones/Barrel/Zone1/ActualValue").read_value()
            assert 190 < value < 210
    finally:
        simulator.request_stop()
        await task
