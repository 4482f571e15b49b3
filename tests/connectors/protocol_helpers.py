"""Helpers shared by the Modbus/MQTT/table/file connector tests (no fixtures here: see each test module)."""
from __future__ import annotations

import asyncio
import socket

from connectors.envelope import Envelope
from tests.service_policy import require_service  # noqa: F401 (re-exported for the connector tests)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ListSink:
    """A ReadingSink that keeps what it was given (in memory: durable enough for an adapter test)."""

    def __init__(self):
        self.envelopes: list[Envelope] = []
        self.batches = 0
        self.changed = asyncio.Event()

    async def put(self, envelopes: list[Envelope]) -> None:
        self.envelopes.extend(envelopes)
        self.batches += 1
        self.changed.set()

    def of(self, characteristic: str) -> list[Envelope]:
        return [e for e in self.envelopes if e.characteristic == characteristic]


class PrivateMosquitto:
    """A mosquitto of our own on a free loopback port with persistence, so a test may stop and restart it without
    touching the machine's broker."""

    def __init__(self, workdir, port: int | None = None, extra_config: str = ""):
        self.workdir, self.port = workdir, port or free_port()
        self.config = workdir / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser root\npersistence true\n"
            f"persistence_location {workdir}/\nautosave_interval 1\nmax_queued_messages 1000000\n{extra_config}"
        )
        self.process = None

    def start(self) -> PrivateMosquitto:
        import subprocess
        import time

        self.process = subprocess.Popen(["mosquitto", "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("private mosquitto did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()        # SIGTERM: mosquitto writes its persistence file on the way out
            self.process.wait(timeout=5)
            self.process = None


def mosquitto_available() -> bool:
    import shutil

    return shutil.which("mosquitto") is not None


def publish(port: int, messages: list[tuple[str, bytes | str]], qos: int = 1, retain: bool = False) -> None:
    """Publish with a throwaway paho client and wait until the broker acknowledged every message."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=qos, retain=retain) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=5)
    finally:
        client.disconnect()
        client.loop_stop()



def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
