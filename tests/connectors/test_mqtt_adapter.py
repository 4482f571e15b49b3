"""The MQTT adapter against real Mosquitto brokers: the machine's on 1883 for the steady cases, a private one
(restartable) for the session and failure cases."""
import asyncio
import json
import uuid

import pytest

from connectors.mqtt.adapter import MqttAdapter
from connectors.spec import ConnectorSpec, TagSpec
from tests.connectors.protocol_helpers import ListSink, PrivateMosquitto, mosquitto_available, publish, require_service

pytestmark = [pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def _mosquitto_binary():
    # These tests start a private broker; the house policy applies (skip outside CI, fail under CI=true).
    require_service(mosquitto_available(), "the mosquitto binary")


@pytest.fixture
def broker(tmp_path):
    mosquitto = PrivateMosquitto(tmp_path).start()
    yield mosquitto
    mosquitto.stop()


def spec(port, prefix, **config):
    tags = (
        TagSpec(source_ref=f"{prefix}/+/cycle", characteristic="IMM.CUSHION", params={"value_path": "cushion"},
                physical_min=0, physical_max=100),
        TagSpec(source_ref=f"{prefix}/+/cycle", characteristic="IMM.BARREL_Z2", params={"value_path": "barrel.z2"}),
    )
    settings = {"host": "127.0.0.1", "port": port, "client_id": f"qp-test-{prefix.replace('/', '-')}",
                "lot_path": "lot", "id_path": "id", "session_expiry_s": 60, **config}
    return ConnectorSpec(id=1, site="S1", name=f"mqtt-{prefix}", kind="mqtt", config=settings, tags=tags)


def cycle(n, **overrides):
    record = {"id": f"shot-{n}", "ts": f"2026-11-28T08:00:{n:02d}+08:00", "lot": "L1", "cushion": 5.0 + n / 100,
              "barrel": {"z2": 231.5}}
    return json.dumps({**record, **overrides})


async def wait_for(condition, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def start(adapter):
    task = asyncio.create_task(adapter.run())
    await wait_for(lambda: adapter.health.state == "connected")
    await asyncio.sleep(0.1)    # SUBACK
    return task


async def stop(task):
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def prefix():
    return f"qp-test/{uuid.uuid4().hex[:8]}"


async def test_messages_on_wildcard_topics_become_readings_with_time_and_lot():
    topic_root = prefix()
    sink = ListSink()
    adapter = MqttAdapter(spec(1883, topic_root), sink)
    task = await start(adapter)
    try:
        await asyncio.to_thread(publish, 1883, [(f"{topic_root}/imm01/cycle", cycle(1))])
        await wait_for(lambda: len(sink.envelopes) == 2)
    finally:
        await stop(task)
    cushion = sink.of("IMM.CUSHION")[0]
    assert (cushion.value, cushion.lot, cushion.quality, cushion.connector) == (5.01, "L1", "good", spec(1, topic_root).key)
    assert cushion.source_ts.isoformat() == "2026-11-28T00:00:01+00:00"
    assert sink.of("IMM.BARREL_Z2")[0].value == 231.5


async def test_a_bad_payload_is_rejected_and_counted_and_the_session_goes_on():
    topic_root = prefix()
    sink = ListSink()
    adapter = MqttAdapter(spec(1883, topic_root), sink)
    task = await start(adapter)
    try:
        await asyncio.to_thread(publish, 1883, [(f"{topic_root}/imm01/cycle", b"{garbage"),
                                                (f"{topic_root}/imm01/cycle", cycle(2))])
        await wait_for(lambda: len(sink.envelopes) == 2)
        assert adapter.health.state == "connected"
        assert "rejected 1 payload(s), last: not JSON" in adapter.health.detail
    finally:
        await stop(task)
    assert adapter.rejected == 1
    assert "not JSON" in adapter.rejections[0][2]


async def test_duplicate_deliveries_are_stored_once():
    topic_root = prefix()
    sink = ListSink()
    adapter = MqttAdapter(spec(1883, topic_root), sink)
    task = await start(adapter)
    try:
        await asyncio.to_thread(publish, 1883, [(f"{topic_root}/imm01/cycle", cycle(3))] * 3)
        await wait_for(lambda: adapter.received == 3)
    finally:
        await stop(task)
    assert len(sink.envelopes) == 2
    assert adapter.duplicates == 2


class CrashAfterWrite(ListSink):
    """The outbox write succeeds, then the process dies before the PUBACK could be sent."""

    async def put(self, envelopes):
        await super().put(envelopes)
        raise RuntimeError("killed between outbox write and ack")


async def test_a_crash_before_the_ack_leads_to_a_redelivery_with_the_same_identity(broker):
    # The outbox write succeeded but the PUBACK never left: the broker must redeliver (nothing is lost), and the
    # copy carries the same timestamp and source, so the measurement store's uniqueness keeps one.
    topic_root = prefix()
    crashing = CrashAfterWrite()
    first = MqttAdapter(spec(broker.port, topic_root), crashing)
    task = await start(first)
    await asyncio.to_thread(publish, broker.port, [(f"{topic_root}/imm01/cycle", cycle(4))])
    with pytest.raises(RuntimeError, match="killed"):
        await asyncio.wait_for(task, 5)

    sink = ListSink()
    second = MqttAdapter(spec(broker.port, topic_root), sink)      # the runner restarts the adapter
    task = await start(second)
    try:
        await wait_for(lambda: len(sink.envelopes) == 2)
        assert second.session_present is True
    finally:
        await stop(task)
    identity = [(e.characteristic, e.source_ts, e.connector, e.value) for e in sink.envelopes]
    assert identity == [(e.characteristic, e.source_ts, e.connector, e.value) for e in crashing.envelopes]
    assert all(e.extra["dup"] for e in sink.envelopes)

    third = MqttAdapter(spec(broker.port, topic_root), ListSink())  # acked now: nothing comes back
    task = await start(third)
    await asyncio.sleep(0.3)
    await stop(task)
    assert third.received == 0


async def test_messages_published_while_the_connector_is_away_arrive_after_it_returns(broker):
    topic_root = prefix()
    first = MqttAdapter(spec(broker.port, topic_root), ListSink())
    await stop(await start(first))                              # session created with its subscription
    await asyncio.to_thread(publish, broker.port, [(f"{topic_root}/imm01/cycle", cycle(n)) for n in range(5)])
    sink = ListSink()
    second = MqttAdapter(spec(broker.port, topic_root), sink)
    task = await start(second)
    try:
        await wait_for(lambda: len(sink.envelopes) == 10)
    finally:
        await stop(task)
    assert [e.value for e in sink.of("IMM.CUSHION")] == [5.0, 5.01, 5.02, 5.03, 5.04]


async def test_broker_restart_reconnects_and_resumes_the_persistent_session(broker):
    topic_root = prefix()
    sink = ListSink()
    adapter = MqttAdapter(spec(broker.port, topic_root), sink)
    task = await start(adapter)
    try:
        await asyncio.to_thread(publish, broker.port, [(f"{topic_root}/imm01/cycle", cycle(1))])
        await wait_for(lambda: len(sink.envelopes) == 2)
        broker.stop()
        await wait_for(lambda: adapter.health.state == "down")
        broker.start()
        await wait_for(lambda: adapter.health.state == "connected", timeout=10)
        assert adapter.session_present is True
        assert adapter.health.reconnects == 1
        await asyncio.to_thread(publish, broker.port, [(f"{topic_root}/imm01/cycle", cycle(2))])
        await wait_for(lambda: len(sink.envelopes) == 4)
    finally:
        await stop(task)
    assert [e.value for e in sink.of("IMM.CUSHION")] == [5.01, 5.02]


async def test_a_downgraded_subscription_is_reported_not_silent(tmp_path):
    # A broker capped at QoS 0 grants the subscription at QoS 0: messages would be lost without redelivery.
    broker = PrivateMosquitto(tmp_path, extra_config="max_qos 0\n").start()
    try:
        adapter = MqttAdapter(spec(broker.port, "capped"), ListSink())
        task = asyncio.create_task(adapter.run())
        await wait_for(lambda: adapter.health.state == "degraded")
        await stop(task)
    finally:
        broker.stop()
    assert "refused or downgraded" in adapter.health.last_error and "Granted QoS 0" in adapter.health.last_error


async def test_an_unreachable_broker_is_reported_down(tmp_path):
    from tests.connectors.protocol_helpers import free_port

    adapter = MqttAdapter(spec(free_port(), prefix()), ListSink())
    task = asyncio.create_task(adapter.run())
    try:
        await wait_for(lambda: adapter.health.state == "down")
    finally:
        await stop(task)
    assert "cannot reach the broker" in adapter.health.detail


async def test_a_batch_message_is_stored_record_by_record_and_a_repeat_of_it_stored_once():
    topic_root = prefix()
    sink = ListSink()
    adapter = MqttAdapter(spec(1883, topic_root, records_path="items"), sink)
    task = await start(adapter)
    batch = json.dumps({"items": [json.loads(cycle(n)) for n in range(3)]})
    try:
        await asyncio.to_thread(publish, 1883, [(f"{topic_root}/imm01/cycle", batch)] * 2)
        await wait_for(lambda: adapter.received == 2)
    finally:
        await stop(task)
    assert [e.value for e in sink.of("IMM.CUSHION")] == [5.0, 5.01, 5.02]
    assert adapter.duplicates == 3
