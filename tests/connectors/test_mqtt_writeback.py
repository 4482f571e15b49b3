"""MQTT write-back on the machine's broker: a retained QoS 1 command, confirmed by reading it back."""
import uuid

import pytest

from connectors.mqtt.writeback import MqttWriteError
from connectors.mqtt.writeback import write as mqtt_write
from connectors.spec import ConnectorSpec
from tests.connectors.protocol_helpers import free_port, port_open, publish, require_service

pytestmark = pytest.mark.asyncio


async def test_mqtt_write_back_is_confirmed_by_the_retained_message():
    require_service(port_open("127.0.0.1", 1883), "an MQTT broker on 127.0.0.1:1883")
    topic = f"qp-writeback/{uuid.uuid4().hex[:8]}/IMM01/hold"
    mqtt_spec = ConnectorSpec(id=1, site="S1", name="mq", kind="mqtt", config={"host": "127.0.0.1", "port": 1883})
    try:
        assert await mqtt_write(mqtt_spec, topic, {"hold": True, "lot": "L1"}) == {"hold": True, "lot": "L1"}
    finally:
        publish(1883, [(topic, b"")], retain=True)     # clear the retained message


async def test_an_unreachable_broker_fails_the_write():
    spec = ConnectorSpec(id=1, site="S1", name="mq", kind="mqtt", config={"host": "127.0.0.1", "port": free_port()})
    with pytest.raises(MqttWriteError, match="cannot reach the broker"):
        await mqtt_write(spec, "plant/IMM01/hold", True)


async def test_a_wildcard_target_is_refused():
    spec = ConnectorSpec(id=1, site="S1", name="mq", kind="mqtt", config={"host": "127.0.0.1"})
    with pytest.raises(MqttWriteError, match="without wildcards"):
        await mqtt_write(spec, "plant/+/hold", True)
