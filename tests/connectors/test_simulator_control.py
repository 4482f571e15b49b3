"""The simulator's excursion control: a tag shifted on command (with the offending value's source timestamp known),
back to normal at offset 0, over OPC UA as Objects/Simulator/SetOffset; and the noise scale."""
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from connectors.simulator.plant import ScenarioOptions, SimulatedPlant

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def plant(**options):
    return SimulatedPlant(seed=7, started=T0, **options)


def zone2(model, machine="IMM02", start=T0, count=200):
    return [model.value(machine, "BARREL_Z2.TEMP", start + timedelta(seconds=i)) for i in range(count)]


def test_an_offset_shifts_that_tag_and_returns_the_offending_sample_at_the_given_time():
    model = plant(noise=0.25)
    sample = model.set_offset("IMM02", "BARREL_Z2.TEMP", 4.0, now=T0)
    assert (sample.machine, sample.suffix, sample.source_ts, sample.good) == ("IMM02", "BARREL_Z2.TEMP", T0, True)
    assert sample.value > 213.0
    assert min(zone2(model)) > 213.0
    assert model.latest[("IMM02", "BARREL_Z2.TEMP")] == sample


def test_an_offset_leaves_other_machines_and_tags_alone():
    model = plant(noise=0.25)
    model.set_offset("IMM02", "BARREL_Z2.TEMP", 4.0, now=T0)
    assert max(abs(v - 210.0) for v in zone2(model, "IMM01")) < 3.0
    assert max(abs(model.value("IMM02", "BARREL_Z1.TEMP", T0) - 200.0) for _ in range(100)) < 3.0


def test_offset_zero_returns_to_normal():
    model = plant(noise=0.25)
    model.set_offset("IMM02", "BARREL_Z2.TEMP", 4.0, now=T0)
    model.set_offset("IMM02", "BARREL_Z2.TEMP", 0.0, now=T0)
    assert max(abs(v - 210.0) for v in zone2(model)) < 3.0
    assert model.offsets == {}


def test_the_offset_follows_the_clock_skew_scenarios_source_time():
    model = SimulatedPlant(scenario=ScenarioOptions(name="clock-skew", skew_s=120), seed=7, started=T0)
    assert model.set_offset("IMM01", "MOULD.TEMP", 2.0, now=T0).source_ts == T0 + timedelta(seconds=120)


@pytest.mark.parametrize(("machine", "tag", "offset", "message"), [
    ("IMM09", "BARREL_Z2.TEMP", 4.0, "unknown machine 'IMM09'"),
    ("IMM02", "BARREL_Z9.TEMP", 4.0, "unknown tag 'BARREL_Z9.TEMP'"),
    ("IMM02", "BARREL_Z2.TEMP", float("nan"), "finite"),
])
def test_a_bad_excursion_is_refused_by_name_and_changes_nothing(machine, tag, offset, message):
    model = plant()
    with pytest.raises(ValueError, match=message):
        model.set_offset(machine, tag, offset, now=T0)
    assert model.offsets == {}


def test_noise_scales_the_spread():
    wide = statistics.stdev(zone2(plant(noise=1.0), count=2000))
    narrow = statistics.stdev(zone2(plant(noise=0.5), count=2000))
    assert narrow == pytest.approx(wide / 2, rel=0.15)


@pytest.mark.asyncio
async def test_set_offset_over_opc_ua_publishes_the_offending_value_with_the_returned_timestamp():
    from asyncua import Client, ua

    from connectors.simulator.control import SimulatorControl
    from connectors.simulator.faces import SimulatorOptions
    from connectors.simulator.opcua_server import OpcUaFace, node_id_string
    from tests.connectors.protocol_helpers import free_port

    face = OpcUaFace(SimulatedPlant(machines=("IMM02",), noise=0.5), SimulatorOptions(opcua_port=free_port()))
    await face.start()
    try:
        before = datetime.now(UTC)
        async with SimulatorControl(face.endpoint) as control:
            source_ts = await control.set_offset("IMM02", "BARREL_Z2.TEMP", 4.0)
            with pytest.raises(ua.UaStatusCodeError):
                await control.set_offset("IMM09", "BARREL_Z2.TEMP", 4.0)
        async with Client(face.endpoint) as client:
            node = client.get_node(node_id_string("IMM02", "TemperatureZones/Barrel/Zone2/ActualValue"))
            data_value = await node.read_data_value()
    finally:
        await face.stop()
    assert before <= source_ts <= datetime.now(UTC)
    assert data_value.SourceTimestamp.replace(tzinfo=UTC) == source_ts.replace(microsecond=source_ts.microsecond)
    assert data_value.Value.Value > 213.0


def test_simulate_mes_takes_a_noise_scale():
    from django.core.management import CommandError

    from connectors.management.commands.simulate_mes import Command, build_simulator

    def parse(*argv):
        return vars(Command().create_parser("manage.py", "simulate_mes").parse_args(argv))

    assert build_simulator(parse("--noise", "0.5")).plant.noise == 0.5
    with pytest.raises(CommandError, match="--noise"):
        build_simulator(parse("--noise", "-1"))
