"""The simulator's Modbus face read by the Modbus poller configured from the face's own register map."""
import pytest

from connectors.modbus.plan import ModbusPoint
from connectors.modbus.poller import NO_COMMUNICATION, ModbusPoller
from connectors.simulator.faces import SimulatorOptions
from connectors.simulator.modbus_server import build_face, connector_tags
from connectors.simulator.plant import SPECS, ScenarioOptions, SimulatedPlant
from tests.connectors.protocol_helpers import ListSink, free_port

pytestmark = pytest.mark.asyncio


def points(machines):
    result = []
    for tag in connector_tags(machines):
        unit, table, address = tag["source_ref"].split("/")
        low, high = SPECS[tag["characteristic"].split(".", 1)[1]].physical
        result.append(ModbusPoint(characteristic=tag["characteristic"], unit_id=int(unit), table=table,
                                  address=int(address), physical_min=low, physical_max=high, **tag["params"]))
    return result


async def read_face(scenario: str, cycles: int = 1):
    plant = SimulatedPlant(scenario=ScenarioOptions(name=scenario, restart_every_s=0.001, down_s=0.001), seed=7)
    face = build_face(plant, SimulatorOptions(modbus_port=free_port()))
    await face.start()
    try:
        samples = plant.tick()
        await face.publish(samples, None)
        poller = ModbusPoller(connector="S1/sim", host="127.0.0.1", port=face.options.modbus_port, sink=ListSink(),
                              points=points(plant.machines), timeout_s=0.5)
        for _ in range(cycles):
            samples = plant.tick()
            await face.publish(samples, None)
            readings = await poller.poll_once()
        poller.close()
    finally:
        await face.stop()
    return samples, {r.characteristic: r for r in readings}


async def test_the_face_serves_the_plants_values():
    samples, readings = await read_face("normal")
    for sample in samples:
        reading = readings[f"{sample.machine}.{sample.suffix}"]
        assert reading.quality == "good"
        assert reading.value == pytest.approx(sample.value, abs=1e-3)


async def test_word_order_swap_scenario_turns_into_bad_quality():
    # Most swapped values are implausible at once; the few that land in range by chance are caught as the tag's
    # decoding turns suspect after a few cycles.
    samples, readings = await read_face("word-order-swap", cycles=6)
    swapped = [readings[f"{s.machine}.{s.suffix}"] for s in samples]
    assert all(r.quality == "bad" and r.value is None for r in swapped)


async def test_device_down_scenario_silences_the_second_machine_only():
    _samples, readings = await read_face("device-down")
    by_machine = {machine: {r.quality for code, r in readings.items() if code.startswith(machine)}
                  for machine in ("IMM01", "IMM02", "IMM03")}
    assert by_machine == {"IMM01": {"good"}, "IMM02": {"bad"}, "IMM03": {"good"}}
    assert readings["IMM02.MOULD.TEMP"].extra["reason"] == NO_COMMUNICATION
