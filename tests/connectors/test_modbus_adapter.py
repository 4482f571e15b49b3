"""The Modbus adapter as the runner hosts it: spec → poller, config validation, health states."""
import asyncio

import pytest
import pytest_asyncio

from connectors.config import ConfigError
from connectors.modbus.adapter import ModbusAdapter
from connectors.modbus.config import validate_config, validate_tag
from connectors.simulator.modbus_server import RegisterBank, start_modbus_server
from connectors.spec import ConnectorSpec, TagSpec
from tests.connectors.protocol_helpers import ListSink, free_port


def spec(port, *tags):
    return ConnectorSpec(id=1, site="S1", name="gw", kind="modbus",
                         config=validate_config({"host": "127.0.0.1", "port": port, "interval_s": 0.02}), tags=tags)


TEMP = TagSpec(source_ref="1/holding/10", characteristic="IMM01.BARREL_Z2.TEMP", equipment="IMM01",
               params={"data_type": "float32", "word_order": "cdab"}, physical_min=0, physical_max=500)


@pytest_asyncio.fixture
async def gateway():
    bank = RegisterBank(unit_ids=(1,), size=32)
    port = free_port()
    server = await start_modbus_server(bank, port=port)
    yield bank, port
    await server.shutdown()


async def run_until(adapter, sink, count):
    task = asyncio.create_task(adapter.run())
    try:
        while len(sink.envelopes) < count:
            await asyncio.wait_for(sink.changed.wait(), 2)
            sink.changed.clear()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.asyncio
async def test_adapter_polls_the_tags_of_its_spec_and_counts_them(gateway):
    bank, port = gateway
    bank.write_value(1, "holding", 10, 231.5, "float32", "CDAB")
    sink = ListSink()
    adapter = ModbusAdapter(spec(port, TEMP), sink)
    await run_until(adapter, sink, 3)
    first = sink.envelopes[0]
    assert (first.connector, first.characteristic, first.value, first.equipment) == (
        "S1/gw", "IMM01.BARREL_Z2.TEMP", 231.5, "IMM01")
    assert adapter.health.state == "connected"
    assert adapter.health.received >= 3


@pytest.mark.asyncio
async def test_adapter_reports_down_when_nothing_answers():
    sink = ListSink()
    adapter = ModbusAdapter(spec(free_port(), TEMP), sink)
    await run_until(adapter, sink, 1)
    assert adapter.health.state == "down"
    assert adapter.health.bad_quality >= 1


@pytest.mark.parametrize("source_ref,params,message", [
    ("1/holding", {}, "expected '<unit id>/<table>/<address>'"),
    ("1/register/3", {}, "table must be one of"),
    ("300/holding/3", {}, "unit id 300"),
    ("1/coil/3", {"data_type": "float32"}, "does not fit a coil"),
    ("1/holding/3", {"word_order": "ACBD"}, "word_order"),
    ("1/holding/3", {"scale": 0}, "scale: must not be zero"),
    ("1/holding/3", {"bits": 3}, "unknown option"),
])
def test_bad_tag_settings_are_refused_with_the_field_named(source_ref, params, message):
    with pytest.raises(ConfigError, match=message):
        validate_tag(source_ref, params)


def test_config_needs_a_host():
    with pytest.raises(ConfigError, match="host"):
        validate_config({"port": 502})
