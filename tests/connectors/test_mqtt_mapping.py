"""MQTT payload mapping (pure): paths, timestamps, dedupe keys, rejections with reasons."""
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.config import ConfigError
from connectors.mqtt.config import validate_config, validate_tag
from connectors.mqtt.mapping import PayloadError, PayloadSettings, TopicRouter, TopicTag, decode_message

CYCLE = {"msg_id": "imm01-4711", "ts": "2026-11-28T08:00:00+08:00", "lot": "L-2026-1128-01",
         "cushion": 5.21, "barrel": {"zones": [230.0, 231.5]}}
TAGS = [TopicTag("plant/+/imm01/cycle", "cushion", "cushion"),
        TopicTag("plant/+/imm01/cycle", "barrel.zones[1]", "z2")]


CYCLE_SETTINGS = PayloadSettings(lot_path="lot", id_path="msg_id")


def decode(document, settings=CYCLE_SETTINGS, tags=TAGS):
    payload = document if isinstance(document, bytes) else json.dumps(document).encode()
    return decode_message("plant/l1/imm01/cycle", payload, tags, settings)


def test_values_timestamp_and_lot_come_from_their_paths():
    message = decode(CYCLE)
    assert [(v.key, v.value) for v in message.values] == [("cushion", 5.21), ("z2", 231.5)]
    assert message.source_ts == datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert message.lot == "L-2026-1128-01"


def test_the_dedupe_key_is_the_payload_id_when_there_is_one():
    assert decode(CYCLE).dedupe_key == "plant/l1/imm01/cycle|id|imm01-4711"


def test_without_an_id_the_dedupe_key_is_topic_and_timestamp():
    assert decode({**CYCLE, "msg_id": None}).dedupe_key == "plant/l1/imm01/cycle|ts|2026-11-28T00:00:00+00:00"


def test_without_id_and_time_the_dedupe_key_is_the_payload_digest():
    settings = PayloadSettings(ts_path=None)
    first, again = decode({"cushion": 1}, settings), decode({"cushion": 1}, settings)
    assert first.dedupe_key == again.dedupe_key != decode({"cushion": 2}, settings).dedupe_key


def test_epoch_milliseconds_are_understood():
    assert decode({**CYCLE, "ts": 1_764_288_000_000}).source_ts == datetime(2025, 11, 28, tzinfo=UTC)


def test_local_time_takes_the_configured_zone():
    settings = PayloadSettings(tz=ZoneInfo("Asia/Shanghai"))
    assert decode({**CYCLE, "ts": "2026-11-28 08:00:00"}, settings).source_ts == datetime(2026, 11, 28, tzinfo=UTC)


@pytest.mark.parametrize("payload,reason", [
    (b"{not json", "not JSON"),
    ({"cushion": 1}, "no timestamp at 'ts'"),
    ({**CYCLE, "ts": "yesterday"}, "timestamp at 'ts': not a timestamp"),
    ({**CYCLE, "ts": "2026-11-28 08:00:00"}, "has no time zone"),
    (b"\xff\xfe", "not JSON"),
])
def test_unusable_messages_are_rejected_with_a_reason(payload, reason):
    with pytest.raises(PayloadError, match=reason):
        decode(payload)


def test_one_bad_value_does_not_spoil_the_others():
    message = decode({**CYCLE, "cushion": "n/a"})
    assert [(v.key, v.value, v.problem) for v in message.values] == [
        ("cushion", None, "value at 'cushion': not a number: 'n/a'"), ("z2", 231.5, None)]


def test_a_missing_value_path_is_named():
    message = decode({k: v for k, v in CYCLE.items() if k != "barrel"})
    assert message.values[1].problem == "no value at 'barrel.zones[1]'"


def test_router_matches_wildcards():
    router = TopicRouter([TopicTag("plant/#", "v", "all"), TopicTag("plant/+/imm02/cycle", "v", "imm02")])
    assert [t.key for t in router.tags_for("plant/l1/imm02/cycle")] == ["all", "imm02"]
    assert [t.key for t in router.tags_for("other/l1")] == []


@pytest.mark.parametrize("topic_filter", ["plant/#/cycle", "plant/im+/cycle", "plant/x#"])
def test_malformed_topic_filters_are_refused(topic_filter):
    with pytest.raises(ConfigError, match="source_ref"):
        validate_tag(topic_filter, {"value_path": "v"})


def test_qos_0_is_refused_because_it_can_lose_messages():
    with pytest.raises(ConfigError, match="QoS 0"):
        validate_config({"host": "127.0.0.1", "qos": 0})


def test_unknown_time_zone_is_refused():
    with pytest.raises(ConfigError, match="timezone"):
        validate_config({"host": "127.0.0.1", "timezone": "Mars/Olympus"})


def test_a_batch_payload_gives_one_record_per_element_and_keeps_bad_ones_apart():
    from connectors.mqtt.mapping import decode_records

    settings = PayloadSettings(records_path="$", id_path="id")
    payload = json.dumps([
        {"id": "a", "ts": "2026-11-28T08:00:00Z", "v": 1.5},
        {"id": "b", "ts": "not a time", "v": 2.5},
        {"id": "c", "ts": "2026-11-28T08:00:02Z", "v": 3.5},
        "junk",
    ]).encode()
    records = decode_records("plant/x", payload, [TopicTag("plant/x", "v", "v")], settings)
    assert [(r.dedupe_key, [v.value for v in r.values]) for r in records if not r.problem] == [
        ("plant/x|id|a", [1.5]), ("plant/x|id|c", [3.5])]
    assert [r.problem for r in records if r.problem] == [
        "record 1: timestamp at 'ts': not a timestamp: 'not a time'", "record 3: not a JSON object"]


def test_a_batch_path_that_is_not_an_array_rejects_the_message():
    from connectors.mqtt.mapping import decode_records

    with pytest.raises(PayloadError, match="no array of records at 'items'"):
        decode_records("t", b'{"items": {}}', [], PayloadSettings(records_path="items"))
