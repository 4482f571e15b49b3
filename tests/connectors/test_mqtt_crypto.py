"""SM4-GCM payload decryption: round trips, tampering and wrong keys rejected with a reason, end to end on a broker."""
import asyncio
import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.config import ConfigError
from connectors.mqtt.adapter import MqttAdapter
from connectors.mqtt.crypto import DecryptionError, decrypt, encrypt, parse_key
from connectors.mqtt.mapping import PayloadError, PayloadSettings, TopicTag, decode_message
from connectors.spec import ConnectorSpec, TagSpec
from tests.connectors.protocol_helpers import ListSink, port_open, publish, require_service
from tests.connectors.test_mqtt_adapter import prefix, start, stop, wait_for

KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")   # GB/T 32907 example key
TOPIC = "plant/l1/imm01/cycle"


@given(st.binary(max_size=2048), st.booleans())
def test_encrypt_then_decrypt_is_identity(plaintext, as_base64):
    sealed = encrypt(KEY, plaintext, topic=TOPIC, base64_text=as_base64)
    assert decrypt(KEY, sealed, topic=TOPIC, base64_text=as_base64) == plaintext


def test_a_tampered_payload_fails_authentication():
    sealed = bytearray(encrypt(KEY, b'{"v": 1}', topic=TOPIC))
    sealed[15] ^= 0x01
    with pytest.raises(DecryptionError, match="authentication failed"):
        decrypt(KEY, bytes(sealed), topic=TOPIC)


def test_a_payload_replayed_on_another_topic_fails():
    sealed = encrypt(KEY, b'{"v": 1}', topic=TOPIC)
    with pytest.raises(DecryptionError):
        decrypt(KEY, sealed, topic="plant/l1/imm02/cycle")


def test_wrong_key_is_a_payload_rejection_with_the_reason():
    settings = PayloadSettings(ts_path=None, sm4_key=os.urandom(16))
    with pytest.raises(PayloadError, match="SM4-GCM authentication failed"):
        decode_message(TOPIC, encrypt(KEY, b'{"v": 1}', topic=TOPIC), [TopicTag(TOPIC, "v", "v")], settings)


def test_decrypted_payloads_are_mapped_as_usual():
    settings = PayloadSettings(ts_path=None, sm4_key=KEY)
    message = decode_message(TOPIC, encrypt(KEY, b'{"v": 2.5}', topic=TOPIC), [TopicTag(TOPIC, "v", "v")], settings)
    assert message.values[0].value == 2.5


@pytest.mark.parametrize("key", ["abc", "00" * 15, "zz" * 16])
def test_malformed_keys_are_refused(key):
    with pytest.raises(ValueError, match="sm4_key"):
        parse_key(key)


def encrypted_spec(topic_root, secrets):
    return ConnectorSpec(
        id=1, site="S1", name=f"enc-{topic_root[-8:]}", kind="mqtt", secrets=secrets,
        config={"host": "127.0.0.1", "port": 1883, "client_id": f"qp-enc-{topic_root[-8:]}", "session_expiry_s": 60,
                "payload_encryption": "sm4-gcm", "encryption_encoding": "base64", "id_path": "id"},
        tags=(TagSpec(source_ref=f"{topic_root}/+/cycle", characteristic="IMM.CUSHION", params={"value_path": "v"}),),
    )


def test_the_adapter_refuses_to_start_without_the_key():
    with pytest.raises(ConfigError, match="sm4_key"):
        MqttAdapter(encrypted_spec("x/abcdefgh", {}), ListSink())


@pytest.mark.asyncio
async def test_encrypted_messages_from_the_broker_are_decrypted_and_stored():
    require_service(port_open("127.0.0.1", 1883), "an MQTT broker on 127.0.0.1:1883")
    topic_root = prefix()
    topic = f"{topic_root}/imm01/cycle"
    sink = ListSink()
    adapter = MqttAdapter(encrypted_spec(topic_root, {"sm4_key": KEY.hex()}), sink)
    task = await start(adapter)
    try:
        good = encrypt(KEY, json.dumps({"id": 1, "ts": "2026-11-28T08:00:00+08:00", "v": 5.1}).encode(), topic=topic,
                       base64_text=True)
        forged = encrypt(os.urandom(16), b'{"id": 2, "ts": "2026-11-28T08:00:01+08:00", "v": 9}', topic=topic,
                         base64_text=True)
        await asyncio.to_thread(publish, 1883, [(topic, forged), (topic, good)])
        await wait_for(lambda: adapter.received == 2)
    finally:
        await stop(task)
    assert [e.value for e in sink.envelopes] == [5.1]
    assert adapter.rejected == 1
