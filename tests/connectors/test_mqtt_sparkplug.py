"""Sparkplug B: the payload codec, the edge-node session (births, aliases, seq gaps → rebirth, deaths → bad quality,
historical → backfill), and the MQTT adapter in Sparkplug mode against a real broker."""
import asyncio
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from connectors.config import ConfigError
from connectors.mqtt.adapter import MqttAdapter
from connectors.mqtt.config import validate_tag
from connectors.mqtt.sparkplug import (
    BOOLEAN,
    DOUBLE,
    FLOAT,
    INT16,
    INT64,
    REBIRTH_METRIC,
    UINT32,
    Metric,
    Payload,
    SparkplugError,
    SparkplugSession,
    decode_payload,
    encode_payload,
)
from connectors.spec import ConnectorSpec, TagSpec
from tests.connectors.protocol_helpers import ListSink, port_open, publish, require_service
from tests.connectors.test_mqtt_adapter import start, stop, wait_for

NOW = datetime(2026, 11, 28, tzinfo=UTC)
T0 = 1_764_288_000_000


def birth(seq, *metrics):
    return encode_payload(Payload(timestamp=T0, seq=seq, metrics=metrics))


def data(seq, *metrics, ts=T0 + 1000):
    return encode_payload(Payload(timestamp=ts, seq=seq, metrics=metrics))


NBIRTH = birth(0, Metric(name="bdSeq", datatype=INT64, value=0), Metric(name=REBIRTH_METRIC, datatype=BOOLEAN, value=0),
               Metric(name="Line/Speed", alias=1, datatype=DOUBLE, value=12.5))
DBIRTH = birth(1, Metric(name="Barrel/Zone2/Temp", alias=10, datatype=FLOAT, value=231.5),
               Metric(name="Shots", alias=11, datatype=UINT32, value=1000))


@given(st.integers(-(2**15), 2**15 - 1), st.floats(allow_nan=False), st.integers(0, 2**32 - 1))
def test_payload_round_trip(int16, double, uint32):
    payload = Payload(timestamp=T0, seq=5, metrics=(
        Metric(name="a", alias=1, timestamp=T0, datatype=INT16, value=int16),
        Metric(name="b", datatype=DOUBLE, value=double, is_historical=True),
        Metric(alias=3, datatype=UINT32, value=uint32),
        Metric(name="n", datatype=DOUBLE, is_null=True),
    ))
    decoded = decode_payload(encode_payload(payload))
    assert (decoded.timestamp, decoded.seq) == (T0, 5)
    assert [m.value for m in decoded.metrics] == [int16, double, uint32, None]
    assert decoded.metrics[1].is_historical and decoded.metrics[3].is_null


def test_truncated_payload_is_an_error():
    with pytest.raises(SparkplugError):
        decode_payload(DBIRTH[:-3])


def session_with_births():
    session = SparkplugSession()
    session.handle("spBv1.0/G1/NBIRTH/EDGE1", NBIRTH, NOW)
    session.handle("spBv1.0/G1/DBIRTH/EDGE1/IMM01", DBIRTH, NOW)
    return session


def test_births_give_values_and_teach_aliases():
    session = SparkplugSession()
    first = session.handle("spBv1.0/G1/NBIRTH/EDGE1", NBIRTH, NOW)
    assert [(v.ref, v.value) for v in first.values] == [("G1/EDGE1/-:Line/Speed", 12.5)]
    session.handle("spBv1.0/G1/DBIRTH/EDGE1/IMM01", DBIRTH, NOW)
    outcome = session.handle("spBv1.0/G1/DDATA/EDGE1/IMM01", data(2, Metric(alias=10, datatype=FLOAT, value=232.0)),
                             NOW)
    assert [(v.ref, v.value, v.quality) for v in outcome.values] == [("G1/EDGE1/IMM01:Barrel/Zone2/Temp", 232.0, "good")]
    assert outcome.values[0].source_ts == datetime.fromtimestamp((T0 + 1000) / 1000, UTC)


def test_a_seq_gap_asks_for_a_rebirth_and_trusts_nothing_until_then():
    session = session_with_births()
    gap = session.handle("spBv1.0/G1/DDATA/EDGE1/IMM01", data(5, Metric(alias=10, datatype=FLOAT, value=1.0)), NOW)
    assert (gap.rebirth, gap.values) == (("G1", "EDGE1"), [])
    assert "expected 2, got 5" in gap.problem
    after = session.handle("spBv1.0/G1/DDATA/EDGE1/IMM01", data(6, Metric(alias=10, datatype=FLOAT, value=1.0)), NOW)
    assert after.rebirth == ("G1", "EDGE1")
    reborn = session.handle("spBv1.0/G1/NBIRTH/EDGE1", NBIRTH, NOW)
    assert reborn.rebirth is None


def test_data_before_any_birth_asks_for_a_rebirth():
    outcome = SparkplugSession().handle("spBv1.0/G1/DDATA/EDGE1/IMM01", data(2, Metric(alias=10, value=1.0)), NOW)
    assert outcome.rebirth == ("G1", "EDGE1") and outcome.values == []


def test_an_unknown_alias_is_never_guessed():
    session = session_with_births()
    outcome = session.handle("spBv1.0/G1/DDATA/EDGE1/IMM01", data(2, Metric(alias=99, datatype=FLOAT, value=1.0)), NOW)
    assert outcome.values == [] and outcome.rebirth == ("G1", "EDGE1")


def test_historical_metrics_are_backfill_and_nulls_are_bad():
    session = session_with_births()
    outcome = session.handle("spBv1.0/G1/DDATA/EDGE1/IMM01", data(
        2, Metric(alias=10, datatype=FLOAT, value=230.0, is_historical=True, timestamp=T0 - 60_000),
        Metric(alias=11, datatype=UINT32, is_null=True)), NOW)
    assert [(v.value, v.quality, v.backfill) for v in outcome.values] == [(230.0, "good", True), (None, "bad", False)]


def test_death_marks_every_metric_of_the_node_bad():
    session = session_with_births()
    outcome = session.handle("spBv1.0/G1/NDEATH/EDGE1", encode_payload(Payload(metrics=(
        Metric(name="bdSeq", datatype=INT64, value=0),))), NOW)
    assert sorted((v.ref, v.quality, v.reason) for v in outcome.values) == [
        ("G1/EDGE1/-:Line/Speed", "bad", "no_communication"),
        ("G1/EDGE1/IMM01:Barrel/Zone2/Temp", "bad", "no_communication"),
        ("G1/EDGE1/IMM01:Shots", "bad", "no_communication"),
    ]


def test_sparkplug_tag_refs_are_validated():
    assert validate_tag("G1/EDGE1/IMM01:Barrel/Zone2/Temp", {}) == {}
    with pytest.raises(ConfigError, match="Sparkplug B metric"):
        validate_tag("G1/EDGE1:Temp", {})


@pytest.mark.asyncio
async def test_the_adapter_in_sparkplug_mode_stores_metrics_and_requests_a_rebirth_on_a_gap():
    require_service(port_open("127.0.0.1", 1883), "an MQTT broker on 127.0.0.1:1883")
    group = f"qp{uuid.uuid4().hex[:8]}"
    commands = []
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    listener.on_message = lambda _c, _u, message: commands.append(decode_payload(message.payload))
    listener.connect("127.0.0.1", 1883)
    listener.subscribe(f"spBv1.0/{group}/NCMD/EDGE1", qos=1)
    listener.loop_start()
    spec = ConnectorSpec(id=1, site="S1", name=f"spb-{group}", kind="mqtt", config={
        "host": "127.0.0.1", "port": 1883, "client_id": f"qp-{group}", "payload_format": "sparkplug_b",
        "session_expiry_s": 60}, tags=(
        TagSpec(source_ref=f"{group}/EDGE1/IMM01:Barrel/Zone2/Temp", characteristic="IMM01.BARREL_Z2.TEMP"),))
    sink = ListSink()
    adapter = MqttAdapter(spec, sink)
    task = await start(adapter)
    base = f"spBv1.0/{group}"
    try:
        await asyncio.to_thread(publish, 1883, [
            (f"{base}/NBIRTH/EDGE1", NBIRTH), (f"{base}/DBIRTH/EDGE1/IMM01", DBIRTH),
            (f"{base}/DDATA/EDGE1/IMM01", data(2, Metric(alias=10, datatype=FLOAT, value=232.0))),
            (f"{base}/DDATA/EDGE1/IMM01", data(9, Metric(alias=10, datatype=FLOAT, value=999.0))),
        ])
        await wait_for(lambda: adapter.received == 4 and commands)
    finally:
        await stop(task)
        listener.loop_stop()
        listener.disconnect()
    assert [e.value for e in sink.envelopes] == [231.5, 232.0]
    assert commands[0].metrics[0].name == REBIRTH_METRIC and commands[0].metrics[0].value == 1.0
    assert adapter.rebirths_requested == 1


def test_float_metrics_come_back_as_the_decimal_the_edge_node_sent():
    payload = decode_payload(encode_payload(Payload(metrics=(Metric(name="t", datatype=FLOAT, value=199.2),))))
    assert payload.metrics[0].value == 199.2
