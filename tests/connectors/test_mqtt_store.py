"""Duplicate MQTT deliveries end to end: the broker's redelivery after a crash and a publisher's repeats are
stored once in the measurement table."""
import asyncio

import pytest

from connectors import services
from connectors.mqtt.adapter import MqttAdapter, seen_keys
from qms.models import Measurement
from tests.connectors.protocol_helpers import ListSink, PrivateMosquitto, mosquitto_available, publish, require_service
from tests.connectors.test_mqtt_adapter import CrashAfterWrite, cycle, prefix, spec, start, stop, wait_for
from tests.factories import CharacteristicFactory, ConnectorFactory

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _mosquitto_binary():
    # These tests start a private broker; the house policy applies (skip outside CI, fail under CI=true).
    require_service(mosquitto_available(), "the mosquitto binary")


@pytest.fixture
def connector(site):
    CharacteristicFactory(site=site, code="IMM.CUSHION", physical_min=0, physical_max=100, lsl=None, usl=None,
                          nominal=None)
    CharacteristicFactory(site=site, code="IMM.BARREL_Z2")
    return site


def store(batch_id, envelopes, connector_model):
    return services.store_readings(batch_id, [e.to_json() for e in envelopes], connector_id=connector_model.pk)


async def crash_then_redeliver(port, topic_root):
    crashing = CrashAfterWrite()
    task = await start(MqttAdapter(spec(port, topic_root), crashing))
    await asyncio.to_thread(publish, port, [(f"{topic_root}/imm01/cycle", cycle(7))])
    await asyncio.gather(task, return_exceptions=True)
    seen_keys(spec(port, topic_root).key).clear()     # a runner restarted by SIGKILL remembers nothing
    redelivered = ListSink()
    task = await start(MqttAdapter(spec(port, topic_root), redelivered))
    await wait_for(lambda: len(redelivered.envelopes) == 2)
    await stop(task)
    return crashing.envelopes, redelivered.envelopes


def test_a_redelivery_after_a_crash_is_stored_once(connector, tmp_path):
    broker = PrivateMosquitto(tmp_path).start()
    topic_root = prefix()
    try:
        first, again = asyncio.run(crash_then_redeliver(broker.port, topic_root))
    finally:
        broker.stop()
    model = ConnectorFactory(site=connector, name=spec(broker.port, topic_root).name, kind="mqtt")
    assert store("outbox-1:1-2", first, model).stored == 2
    outcome = store("outbox-1:3-4", again, model)      # a different outbox batch: only the data can tell
    assert (outcome.stored, outcome.duplicates) == (0, 2)
    assert Measurement.objects.count() == 2


async def publisher_repeats(topic_root):
    sink = ListSink()
    adapter = MqttAdapter(spec(1883, topic_root), sink)
    task = await start(adapter)
    await asyncio.to_thread(publish, 1883, [(f"{topic_root}/imm01/cycle", cycle(8))] * 3)
    await wait_for(lambda: adapter.received == 3)
    await stop(task)
    return sink.envelopes


def test_a_publisher_repeating_a_message_is_stored_once(connector):
    topic_root = prefix()
    envelopes = asyncio.run(publisher_repeats(topic_root))
    model = ConnectorFactory(site=connector, name=spec(1883, topic_root).name, kind="mqtt")
    store("outbox-2:1-2", envelopes, model)
    assert Measurement.objects.count() == 2
