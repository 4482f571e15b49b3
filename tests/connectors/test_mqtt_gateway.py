"""Protocol gateway: normalised readings republished to MQTT (site/area/line/machine/tag, JSON)."""
import asyncio
import json
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from connectors.envelope import Envelope
from connectors.gateway import MqttGateway, gateway_payload, plant_hierarchy, topic_for
from tests.connectors.protocol_helpers import ListSink, port_open, require_service
from tests.factories import EquipmentFactory

TS = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def reading(equipment="IMM01", characteristic="IMM01.BARREL_Z2.TEMP", value=231.5, quality="good", **extra):
    return Envelope(connector="S1/modbus-gw", source_ref="1/holding/10", characteristic=characteristic, value=value,
                    raw_value=[1, 2], quality=quality, source_ts=TS, server_ts=None, received_ts=TS,
                    equipment=equipment, extra=extra)


def test_topic_follows_the_plant_hierarchy():
    assert topic_for(reading(), {"IMM01": ("S1", "MOULDING", "L1")}) == "S1/MOULDING/L1/IMM01/IMM01.BARREL_Z2.TEMP"


def test_unsafe_characters_cannot_break_the_topic():
    assert topic_for(reading(equipment="A/B", characteristic="T#1+"), {}, prefix="qp/") == "qp/S1/_/_/A_B/T_1_"


def test_bad_quality_readings_carry_the_reason():
    payload = json.loads(gateway_payload(reading(value=None, quality="bad", reason="no_communication")))
    assert (payload["value"], payload["quality"], payload["reason"]) == (None, "bad", "no_communication")
    assert payload["ts"] == "2026-11-28T08:00:00+00:00"


@pytest.mark.django_db
def test_hierarchy_comes_from_the_plant_model(site):
    equipment = EquipmentFactory(code="IMM07", site=site, work_center__line__area__site=site)
    line = equipment.work_center.line
    assert plant_hierarchy("S1")["IMM07"] == ("S1", line.area.code, line.code)


@pytest.mark.asyncio
async def test_readings_are_stored_first_then_published_to_the_broker():
    require_service(port_open("127.0.0.1", 1883), "an MQTT broker on 127.0.0.1:1883")
    prefix = f"qp-gw-{uuid.uuid4().hex[:8]}"
    received = []
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    subscriber.on_message = lambda _c, _u, message: received.append((message.topic, json.loads(message.payload)))
    subscriber.connect("127.0.0.1", 1883)
    subscriber.subscribe(f"{prefix}/#", qos=1)
    subscriber.loop_start()
    inner = ListSink()
    gateway = MqttGateway(inner, host="127.0.0.1", port=1883, hierarchy={"IMM01": ("S1", "A1", "L1")}, prefix=prefix,
                          client_id=f"gw-{prefix}")
    try:
        await asyncio.sleep(0.3)
        await gateway.put([reading()])
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.02)
    finally:
        gateway.close()
        subscriber.loop_stop()
        subscriber.disconnect()
    assert len(inner.envelopes) == 1
    assert received == [(f"{prefix}/S1/A1/L1/IMM01/IMM01.BARREL_Z2.TEMP", json.loads(gateway_payload(reading())))]


@pytest.mark.asyncio
async def test_a_modbus_connector_with_republish_bridges_its_readings_to_mqtt():
    require_service(port_open("127.0.0.1", 1883), "an MQTT broker on 127.0.0.1:1883")
    from connectors.modbus.adapter import ModbusAdapter
    from connectors.simulator.modbus_server import RegisterBank, start_modbus_server
    from connectors.spec import ConnectorSpec, TagSpec
    from tests.connectors.protocol_helpers import free_port

    prefix = f"qp-bridge-{uuid.uuid4().hex[:8]}"
    bank = RegisterBank(unit_ids=(1,), size=16)
    bank.write_value(1, "holding", 10, 231.5, "float32", "CDAB")
    port = free_port()
    server = await start_modbus_server(bank, port=port)
    received = []
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    subscriber.on_message = lambda _c, _u, message: received.append((message.topic, json.loads(message.payload)))
    subscriber.connect("127.0.0.1", 1883)
    subscriber.subscribe(f"{prefix}/#", qos=1)
    subscriber.loop_start()
    spec = ConnectorSpec(id=1, site="S1", name="gw", kind="modbus", config={
        "host": "127.0.0.1", "port": port, "interval_s": 0.05,
        "republish": {"host": "127.0.0.1", "port": 1883, "prefix": prefix, "client_id": f"gw-{prefix}"}},
        tags=(TagSpec(source_ref="1/holding/10", characteristic="IMM01.BARREL_Z2.TEMP", equipment="IMM01",
                      params={"data_type": "float32", "word_order": "CDAB"}),))
    sink = ListSink()
    task = asyncio.create_task(ModbusAdapter(spec, sink).run())
    try:
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        subscriber.loop_stop()
        subscriber.disconnect()
        await server.shutdown()
    assert sink.envelopes, "stored first"
    topic, payload = received[0]
    assert topic == f"{prefix}/S1/_/_/IMM01/IMM01.BARREL_Z2.TEMP"
    assert (payload["value"], payload["quality"], payload["connector"]) == (231.5, "good", "S1/gw")


def test_republish_settings_are_validated():
    from connectors.config import ConfigError
    from connectors.modbus.config import validate_config

    with pytest.raises(ConfigError, match="republish.prefix"):
        validate_config({"host": "127.0.0.1", "republish": {"host": "127.0.0.1", "prefix": "plant/#"}})
    with pytest.raises(ConfigError, match="republish: unknown option"):
        validate_config({"host": "127.0.0.1", "republish": {"host": "127.0.0.1", "topic": "x"}})
