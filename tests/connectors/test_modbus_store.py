"""Modbus device down end to end: no-communication readings are never stored as numbers; recovery stores again."""
import asyncio

import pytest

from connectors import services
from connectors.modbus.plan import ModbusPoint
from connectors.modbus.poller import ModbusPoller
from connectors.simulator.modbus_server import RegisterBank, start_modbus_server
from qms.models import Measurement
from tests.connectors.protocol_helpers import ListSink, free_port
from tests.factories import CharacteristicFactory, ConnectorFactory

pytestmark = pytest.mark.django_db


async def down_then_up():
    bank = RegisterBank(unit_ids=(1,), size=16)
    bank.write_value(1, "holding", 0, 231.5, "float32", "CDAB")
    port = free_port()
    server = await start_modbus_server(bank, port=port)
    sink = ListSink()
    poller = ModbusPoller(connector="S1/gw", host="127.0.0.1", port=port, sink=sink, timeout_s=0.5, demote_after=100,
                          points=[ModbusPoint(characteristic="IMM01.BARREL_Z2.TEMP", address=0, data_type="float32",
                                              word_order="CDAB", physical_min=0, physical_max=400)])
    batches = [await poller.poll_once()]
    bank.set_down(1)
    batches.append(await poller.poll_once())
    bank.set_down(1, False)
    bank.write_value(1, "holding", 0, 232.5, "float32", "CDAB")
    await asyncio.sleep(0.01)
    batches.append(await poller.poll_once())
    poller.close()
    await server.shutdown()
    return batches


def test_no_communication_is_never_stored_as_a_value_and_recovery_is(site):
    CharacteristicFactory(site=site, code="IMM01.BARREL_Z2.TEMP")
    connector = ConnectorFactory(site=site, name="gw", kind="modbus", config={"host": "127.0.0.1"})
    outcomes = [services.store_readings(f"b{n}", [e.to_json() for e in batch], connector_id=connector.pk)
                for n, batch in enumerate(asyncio.run(down_then_up()))]
    assert [(o.stored, o.not_stored_bad) for o in outcomes] == [(1, 0), (0, 1), (1, 0)]
    assert list(Measurement.objects.order_by("ts").values_list("value", flat=True)) == [231.5, 232.5]
