"""The simulator's MQTT face: one JSON cycle record per shot and machine, QoS 1, on
`<prefix>/<machine>/cycle` (prefix from options.extra["mqtt_prefix"], default "qualitypulse/sim"):

    {"id": "IMM01-1042", "ts": "2026-11-28T08:00:00.123+00:00", "machine": "IMM01", "lot": "L-IMM01-20261128-01",
     "shot": 1042, "values": {"INJECTION_PRESSURE": 851.0, "SCREW_CUSHION": 5.02, "CYCLE_TIME": 32.1,
                              "PART_WEIGHT": 48.51, "INJECTION_TIME": 1.801}}

(value keys are the dictionary suffixes with '.' → '_', so a payload path stays a plain dotted path).
Scenario of its own: "duplicate-deliveries" — every record is published twice, every fifth three times, as a
publisher that retries without waiting for its PUBACK does; the connector must store each shot once.
"""
from __future__ import annotations

import json

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

DEFAULT_PREFIX = "qualitypulse/sim"


def value_key(suffix: str) -> str:
    return suffix.replace(".", "_")


def connector_tags(machines, prefix: str = DEFAULT_PREFIX) -> list[dict]:
    """Tag mappings of an MQTT connector reading the simulator (connector config: id_path "id", lot_path "lot")."""
    from connectors.simulator.plant import SHOT_SUFFIXES

    return [
        {"source_ref": f"{prefix}/{machine}/cycle", "characteristic": f"{machine}.{suffix}",
         "params": {"value_path": f"values.{value_key(suffix)}"}}
        for machine in machines for suffix in SHOT_SUFFIXES
    ]


def cycle_record(shot) -> dict:
    return {
        "id": f"{shot.machine}-{shot.counter}", "ts": shot.source_ts.isoformat(), "machine": shot.machine,
        "lot": shot.lot, "shot": shot.counter, "values": {value_key(k): v for k, v in shot.values.items()},
    }


class MqttCycleFace:
    name = "mqtt"

    def __init__(self, plant, options):
        self.plant, self.options = plant, options
        self.prefix = options.extra.get("mqtt_prefix", DEFAULT_PREFIX).rstrip("/")
        self.duplicates = plant.scenario.name == "duplicate-deliveries"
        self.client: mqtt.Client | None = None
        self.published = 0

    async def start(self) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"qualitypulse-simulator-{id(self):x}",
                                  protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(1, 10)
        self.client.connect_async(self.options.mqtt_host, self.options.mqtt_port)
        self.client.loop_start()

    async def stop(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    async def publish(self, samples, now) -> None:
        """Continuous temperatures are the OPC UA / Modbus faces' business; MQTT carries cycle records."""

    async def publish_shot(self, shot) -> None:
        payload = json.dumps(cycle_record(shot))
        copies = 1
        if self.duplicates:
            copies = 3 if shot.counter % 5 == 0 else 2
        for _ in range(copies):
            self.client.publish(f"{self.prefix}/{shot.machine}/cycle", payload, qos=1)
            self.published += 1

    async def publish_backfill(self, samples) -> None:
        """Cycle records are not backfilled by this simulated publisher."""


def build_face(plant, options) -> MqttCycleFace:
    return MqttCycleFace(plant, options)
