"""Write-back to a Modbus device (connectors.writeback calls `write`): a coil or holding register(s), confirmed by
reading the value back.

target: "<unit>/coil/<address>" or "<unit>/holding/<address>", optionally ":<data type>[:<word order>]"
(e.g. "1/holding/20:float32:CDAB"). Without a suffix, a tag mapping of the connector with the same source_ref lends
its data type, word order, scale and offset; otherwise a holding register is a uint16.
"""
from __future__ import annotations

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from connectors.spec import ConnectorSpec

from .codec import DataType, WordOrder, decode, encode, from_engineering, register_count, to_engineering
from .config import parse_source_ref, validate_config, validate_tag
from .plan import Table


class ModbusWriteError(Exception):
    """The device refused or did not answer the write (the message says which)."""


def _target(spec: ConnectorSpec, target: str) -> tuple[int, Table, int, dict]:
    ref, _, suffix = target.partition(":")
    unit, table, address = parse_source_ref(ref)
    if table not in (Table.COIL, Table.HOLDING):
        raise ModbusWriteError(f"{target}: only coils and holding registers can be written")
    if suffix:
        data_type, _, order = suffix.partition(":")
        params = validate_tag(ref, {"data_type": data_type, "word_order": order or WordOrder.ABCD.value})
    else:
        tag = spec.tag_for(ref)
        params = validate_tag(ref, tag.params if tag else {})
    return unit, table, address, params


async def write(spec: ConnectorSpec, target: str, value):
    config = validate_config(spec.config)
    unit, table, address, params = _target(spec, target)
    client = AsyncModbusTcpClient(config["host"], port=config["port"], timeout=config["timeout_s"], retries=1,
                                  reconnect_delay=0)
    try:
        if not await client.connect():
            raise ModbusWriteError(f"cannot connect to {config['host']}:{config['port']}")
        if table is Table.COIL:
            answer = await client.write_coil(address, bool(value), device_id=unit)
            _check(answer, target)
            back = await client.read_coils(address, count=1, device_id=unit)
            _check(back, target)
            return bool(back.bits[0])
        data_type = DataType(params["data_type"])
        raw = from_engineering(float(value), data_type, params["scale"], params["offset"])
        registers = encode(raw, data_type, params["word_order"])
        answer = await client.write_registers(address, registers, device_id=unit)
        _check(answer, target)
        back = await client.read_holding_registers(address, count=register_count(data_type), device_id=unit)
        _check(back, target)
        return to_engineering(decode(back.registers, data_type, params["word_order"]), params["scale"],
                              params["offset"])
    except ModbusException as exc:
        raise ModbusWriteError(f"{target}: {exc}") from exc
    finally:
        client.close()


def _check(response, target: str) -> None:
    if response.isError():
        raise ModbusWriteError(f"{target}: device answered exception code {getattr(response, 'exception_code', '?')}")
