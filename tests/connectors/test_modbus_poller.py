"""The Modbus poller against a real pymodbus TCP server on loopback (a gateway with several unit ids)."""
import asyncio

import pytest
import pytest_asyncio

from connectors.modbus.plan import ModbusPoint
from connectors.modbus.poller import NO_COMMUNICATION, ModbusPoller
from connectors.simulator.modbus_server import RegisterBank, start_modbus_server
from tests.connectors.protocol_helpers import ListSink, free_port

pytestmark = pytest.mark.asyncio

TEMP = {"characteristic": "IMM01.BARREL_Z2.TEMP", "unit_id": 1, "address": 10, "data_type": "float32",
        "word_order": "CDAB", "physical_min": 0.0, "physical_max": 500.0}
CUSHION = {"characteristic": "IMM01.CUSHION", "unit_id": 1, "table": "input", "address": 0, "data_type": "int16",
           "scale": 0.01, "physical_min": -10, "physical_max": 100}
SHOTS = {"characteristic": "IMM01.SHOTS", "unit_id": 1, "address": 20, "data_type": "uint32", "word_order": "DCBA"}
DOOR = {"characteristic": "IMM01.DOOR_OPEN", "unit_id": 1, "table": "coil", "address": 5}
ALARM = {"characteristic": "IMM01.ALARM", "unit_id": 1, "table": "discrete", "address": 2}
PRESSURE_2 = {"characteristic": "IMM02.PEAK_PRESSURE", "unit_id": 2, "address": 0, "data_type": "float64",
              "word_order": "BADC", "physical_min": 0, "physical_max": 3000}


@pytest_asyncio.fixture
async def gateway():
    bank = RegisterBank(unit_ids=(1, 2), size=64, gateway_timeout_s=0.05)
    port = free_port()
    server = await start_modbus_server(bank, port=port)
    yield bank, port, server
    await server.shutdown()


def poller(port, sink, *points, **options):
    return ModbusPoller(connector="modbus-gw", host="127.0.0.1", port=port, sink=sink,
                        points=[ModbusPoint.from_config(p) for p in points], timeout_s=0.5, **options)


def fill_normal(bank):
    bank.write_value(1, "holding", 10, 231.5, "float32", "CDAB")
    bank.write_value(1, "input", 0, 12.34, "int16", scale=0.01)
    bank.write_value(1, "holding", 20, 123456, "uint32", "DCBA")
    bank.write_raw(1, "coil", 5, [True])
    bank.write_raw(1, "discrete", 2, [False])
    bank.write_value(2, "holding", 0, 1450.25, "float64", "BADC")


async def test_every_table_and_type_decodes_to_the_engineering_value(gateway):
    bank, port, _server = gateway
    fill_normal(bank)
    sink = ListSink()
    values = {e.characteristic: (e.value, e.quality)
              for e in await poller(port, sink, TEMP, CUSHION, SHOTS, DOOR, ALARM, PRESSURE_2).poll_once()}
    assert values == {
        "IMM01.BARREL_Z2.TEMP": (231.5, "good"), "IMM01.CUSHION": (pytest.approx(12.34), "good"),
        "IMM01.SHOTS": (123456.0, "good"), "IMM01.DOOR_OPEN": (1.0, "good"), "IMM01.ALARM": (0.0, "good"),
        "IMM02.PEAK_PRESSURE": (1450.25, "good"),
    }
    assert len(sink.envelopes) == 6


async def test_a_word_order_swap_surfaces_as_bad_quality_not_as_a_number(gateway):
    bank, port, _server = gateway
    bank.word_order_swapped = True
    fill_normal(bank)
    [reading] = await poller(port, ListSink(), TEMP).poll_once()
    assert (reading.value, reading.quality) == (None, "bad")
    assert reading.extra["reason"].startswith("implausible")
    assert reading.raw_value == bank.units[1].tables["holding"][10:12]


async def test_device_down_gives_no_communication_never_the_last_value_then_recovers(gateway):
    bank, port, _server = gateway
    fill_normal(bank)
    sink = ListSink()
    modbus = poller(port, sink, TEMP, demote_after=100)
    [first] = await modbus.poll_once()
    assert first.quality == "good"
    bank.set_down(1)
    down = [r for _ in range(3) for r in await modbus.poll_once()]
    assert [(r.value, r.quality, r.extra["reason"]) for r in down] == [(None, "bad", NO_COMMUNICATION)] * 3
    bank.set_down(1, False)
    bank.write_value(1, "holding", 10, 232.0, "float32", "CDAB")
    [recovered] = await modbus.poll_once()
    assert (recovered.value, recovered.quality) == (232.0, "good")


async def test_a_dead_unit_is_demoted_so_the_live_unit_keeps_its_rate(gateway):
    bank, port, _server = gateway
    fill_normal(bank)
    bank.set_down(2)
    modbus = poller(port, ListSink(), TEMP, PRESSURE_2, demote_after=2, max_skip=8)
    for _ in range(20):
        await modbus.poll_once()
    assert bank.requests[1] == 20
    assert bank.requests[2] < 8
    assert modbus.health[2].demoted


async def test_a_demoted_unit_is_promoted_back_once_it_answers(gateway):
    bank, port, _server = gateway
    fill_normal(bank)
    bank.set_down(2)
    modbus = poller(port, ListSink(), PRESSURE_2, demote_after=1, max_skip=4)
    for _ in range(6):
        await modbus.poll_once()
    bank.set_down(2, False)
    goods = []
    for _ in range(6):
        goods += [r for r in await modbus.poll_once() if r.quality == "good"]
    assert not modbus.health[2].demoted
    assert len(goods) >= 2


async def test_server_gone_gives_no_communication_and_reconnects_when_back(gateway):
    bank, port, server = gateway
    fill_normal(bank)
    modbus = poller(port, ListSink(), TEMP, interval_s=0.01)
    assert (await modbus.poll_once())[0].quality == "good"
    await server.shutdown()
    await asyncio.sleep(0.05)
    [lost] = await modbus.poll_once()
    assert (lost.value, lost.quality, lost.extra["reason"]) == (None, "bad", NO_COMMUNICATION)
    for _ in range(3):
        await modbus.poll_once()
    assert not modbus.health[1].demoted      # a lost link is nobody's unit's fault
    restarted = await start_modbus_server(bank, port=port)
    try:
        for _ in range(50):
            readings = await modbus.poll_once()
            if readings and readings[0].quality == "good":
                break
            await asyncio.sleep(0.02)
        assert readings[0].value == 231.5
        assert modbus.stats.reconnects >= 1
    finally:
        modbus.close()
        await restarted.shutdown()


async def test_run_polls_until_stopped(gateway):
    bank, port, _server = gateway
    fill_normal(bank)
    sink = ListSink()
    modbus = poller(port, sink, TEMP, interval_s=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(modbus.run(stop))
    while len(sink.envelopes) < 5:
        await asyncio.wait_for(sink.changed.wait(), 2)
        sink.changed.clear()
    stop.set()
    await asyncio.wait_for(task, 2)
    assert all(e.value == 231.5 for e in sink.envelopes)
