"""Modbus write-back to a real pymodbus server: coils and typed holding registers, confirmed by read-back."""
import pytest
import pytest_asyncio

from connectors.modbus.codec import decode
from connectors.modbus.writeback import ModbusWriteError, write
from connectors.simulator.modbus_server import RegisterBank, start_modbus_server
from connectors.spec import ConnectorSpec, TagSpec
from tests.connectors.protocol_helpers import free_port

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def device():
    bank = RegisterBank(unit_ids=(1, 2), size=32)
    port = free_port()
    server = await start_modbus_server(bank, port=port)
    yield bank, port
    await server.shutdown()


def spec(port, *tags):
    return ConnectorSpec(id=1, site="S1", name="gw", kind="modbus", config={"host": "127.0.0.1", "port": port},
                         tags=tags)


async def test_a_coil_is_written_and_read_back(device):
    bank, port = device
    assert await write(spec(port), "2/coil/7", True) is True
    assert bank.units[2].tables["coil"][7] is True


async def test_a_typed_register_uses_the_target_suffix(device):
    bank, port = device
    assert await write(spec(port), "1/holding/20:float32:CDAB", 231.5) == 231.5
    assert decode(bank.units[1].tables["holding"][20:22], "float32", "CDAB") == 231.5


async def test_a_register_mapped_by_a_tag_takes_its_type_and_scale(device):
    bank, port = device
    tag = TagSpec(source_ref="1/holding/4", characteristic="IMM01.HOLD_SETPOINT",
                  params={"data_type": "int16", "scale": 0.1})
    assert await write(spec(port, tag), "1/holding/4", -12.5) == -12.5
    assert decode(bank.units[1].tables["holding"][4:5], "int16") == -125


async def test_input_registers_cannot_be_written(device):
    _bank, port = device
    with pytest.raises(ModbusWriteError, match="only coils and holding registers"):
        await write(spec(port), "1/input/0", 1)


async def test_a_dead_unit_fails_the_write(device):
    bank, port = device
    bank.set_down(2)
    with pytest.raises(ModbusWriteError, match="exception code 11"):
        await write(spec(port), "2/coil/1", True)
