"""Write-back over MQTT (connectors.writeback calls `write`): publish the command as a retained QoS 1 message on the
target topic, then confirm it by reading the retained message back from the broker.

Payload: {"value": …, "connector": "<site>/<name>", "sent_at": "<ISO 8601>"}.
"""
from __future__ import annotations

import asyncio
import json
import threading
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from connectors.spec import ConnectorSpec

from .config import validate_config

TIMEOUT_S = 10.0


class MqttWriteError(Exception):
    """The broker did not take or give back the command."""


def _client(config: dict, secrets: dict) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"qualitypulse-writeback-{uuid.uuid4().hex[:10]}",
                         protocol=mqtt.MQTTv5)
    if config["username"]:
        client.username_pw_set(config["username"], (secrets or {}).get("password"))
    if config["tls"]:
        client.tls_set(ca_certs=config["ca_file"])
    return client


def publish_and_read_back(config: dict, secrets: dict, topic: str, payload: bytes):
    client = _client(config, secrets)
    received = threading.Event()
    answer: dict = {}

    def on_message(_client, _userdata, message):
        if message.retain and message.payload == payload:
            answer["payload"] = message.payload
            received.set()

    client.on_message = on_message
    try:
        client.connect(config["host"], config["port"], keepalive=30)
    except OSError as exc:
        raise MqttWriteError(f"cannot reach the broker at {config['host']}:{config['port']}: {exc}") from exc
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(timeout=TIMEOUT_S)
        if not info.is_published():
            raise MqttWriteError(f"{topic}: the broker did not acknowledge the command")
        client.subscribe(topic, qos=1)           # the retained message comes back: the broker holds the command
        if not received.wait(TIMEOUT_S):
            raise MqttWriteError(f"{topic}: the command could not be read back from the broker")
        return json.loads(answer["payload"])["value"]
    finally:
        client.disconnect()
        client.loop_stop()


async def write(spec: ConnectorSpec, target: str, value):
    config = validate_config(spec.config)
    if not target or any(c in target for c in "+#"):
        raise MqttWriteError("target: a topic without wildcards")
    payload = json.dumps({"value": value, "connector": spec.key, "sent_at": datetime.now(UTC).isoformat()},
                         sort_keys=True).encode()
    return await asyncio.to_thread(publish_and_read_back, config, spec.secrets, target, payload)
