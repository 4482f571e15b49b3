"""Protocol gateway: republish normalised readings to MQTT as JSON on site/area/line/machine/tag topics, so other
consumers get e.g. Modbus data over MQTT (the Modbus-TCP-to-MQTT bridge plants ask for).

`MqttGateway` wraps the runner's sink: readings are made durable first (the inner sink), then published at QoS 1.
Publishing is best effort by design — the QMS's own copy is already safe; a broker outage must never hold back
ingestion — and paho queues the messages while the broker is away (up to `max_queued`).
"""
from __future__ import annotations

import json
import logging
import re

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from connectors.envelope import Envelope, ReadingSink
from connectors.translatable import gettext_noop

logger = logging.getLogger(__name__)
_UNSAFE_LEVEL = re.compile(r"[/+#\x00]")


def topic_level(text: str | None) -> str:
    """A topic level cannot contain '/', '+', '#' or NUL; an empty one becomes '_'."""
    return _UNSAFE_LEVEL.sub("_", (text or "").strip()) or "_"


def topic_for(envelope: Envelope, hierarchy: dict[str, tuple[str, str, str]], prefix: str = "") -> str:
    """site/area/line/machine/tag; `hierarchy` maps an equipment code to (site, area, line). Readings of unknown
    equipment go under the connector's site with '_' for area and line."""
    site_of_connector = envelope.connector.split("/", 1)[0]
    site, area, line = hierarchy.get(envelope.equipment or "", (site_of_connector, "_", "_"))
    levels = [site, area, line, envelope.equipment, envelope.characteristic]
    topic = "/".join(topic_level(level) for level in levels)
    return f"{prefix.rstrip('/')}/{topic}" if prefix else topic


def gateway_payload(envelope: Envelope) -> bytes:
    return json.dumps({
        "characteristic": envelope.characteristic, "value": envelope.value, "quality": envelope.quality,
        "ts": envelope.ts.isoformat(), "source_ts": envelope.source_ts.isoformat() if envelope.source_ts else None,
        "lot": envelope.lot, "equipment": envelope.equipment, "connector": envelope.connector,
        "source_ref": envelope.source_ref, "backfill": envelope.backfill,
        **({"reason": envelope.extra["reason"]} if envelope.extra.get("reason") else {}),
    }, separators=(",", ":")).encode()


REPUBLISH_KEYS = {"host", "port", "prefix", "qos", "retain", "client_id"}


def validate_republish(value) -> dict | None:
    """The optional `republish` block of a connector config: {"host", "port", "prefix", "qos", "retain"}."""
    from connectors.config import ConfigError, number, reject_unknown

    if value in (None, {}, False):
        return None
    if not isinstance(value, dict):
        raise ConfigError(gettext_noop('republish: must be an object like {"host": "127.0.0.1", "port": 1883}'))
    reject_unknown(value, REPUBLISH_KEYS, "republish")
    host = value.get("host")
    if not isinstance(host, str) or not host.strip():
        raise ConfigError(gettext_noop("republish.host: the broker to republish to is required"))
    prefix = value.get("prefix", "")
    if not isinstance(prefix, str) or "+" in prefix or "#" in prefix:
        raise ConfigError(gettext_noop("republish.prefix: a topic prefix without wildcards"))
    return {
        "host": host.strip(), "port": number(value, "port", 1883, minimum=1, maximum=65535, integer=True),
        "prefix": prefix, "qos": number(value, "qos", 1, minimum=0, maximum=2, integer=True),
        "retain": bool(value.get("retain", False)), "client_id": value.get("client_id") or None,
    }


def plant_hierarchy_or_empty(site_code: str) -> dict[str, tuple[str, str, str]]:
    """The hierarchy when Django is set up (the runner), else {} (adapter tests without a database)."""
    try:
        return plant_hierarchy(site_code)
    except Exception:   # no Django settings / no database: topics fall back to site/_/_/machine/tag
        logger.warning("gateway: plant hierarchy unavailable, area/line levels will be '_'", exc_info=True)
        return {}


def plant_hierarchy(site_code: str | None = None) -> dict[str, tuple[str, str, str]]:
    """Equipment code → (site, area, line) from the plant model (Django)."""
    from qms.models import Equipment

    rows = Equipment.objects.select_related("site", "work_center__line__area")
    if site_code:
        rows = rows.filter(site__code=site_code)
    hierarchy = {}
    for equipment in rows:
        line = getattr(getattr(equipment, "work_center", None), "line", None)
        hierarchy[equipment.code] = (equipment.site.code, line.area.code if line else "_", line.code if line else "_")
    return hierarchy


class MqttGateway:
    """A ReadingSink: `put` stores through `inner`, then publishes each reading."""

    def __init__(self, inner: ReadingSink, *, host: str, port: int = 1883, hierarchy: dict | None = None,
                 prefix: str = "", qos: int = 1, client_id: str = "qualitypulse-gateway", max_queued: int = 100_000,
                 retain: bool = False):
        self.inner, self.hierarchy, self.prefix, self.qos, self.retain = inner, hierarchy or {}, prefix, qos, retain
        self.published = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.max_queued_messages_set(max_queued)
        self.client.reconnect_delay_set(1, 30)
        self.client.connect_async(host, port)
        self.client.loop_start()

    async def put(self, envelopes: list[Envelope]) -> None:
        await self.inner.put(envelopes)
        for envelope in envelopes:
            result = self.client.publish(topic_for(envelope, self.hierarchy, self.prefix), gateway_payload(envelope),
                                         qos=self.qos, retain=self.retain)
            if result.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                logger.warning("gateway: publish queue full, reading not republished: %s", envelope.source_ref)
            else:
                self.published += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
