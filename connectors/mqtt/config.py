"""MQTT connector configuration (see connectors/config.py for the contract).

Connector config: {"host": "127.0.0.1", "port": 1883, "client_id": "qp-s1-line1", "username": "",
                   "keepalive_s": 30, "session_expiry_s": 86400, "qos": 1, "tls": false, "ca_file": "",
                   "ts_path": "ts", "ts_format": null, "timezone": "Asia/Shanghai", "lot_path": "lot",
                   "id_path": "msg_id", "max_batch": 500, "records_path": null | "$" | "data.items"}
                   "payload_encryption": null | "sm4-gcm", "encryption_encoding": "raw" | "base64",
                   "encryption_bind_topic": true}
  secrets: {"password": "...", "sm4_key": "<32 hex digits>"}
Tag source_ref:   a topic filter with wildcards, e.g. "plant/line1/+/cycle" or "plant/#"
Tag params:       {"value_path": "barrel.z2"}  (dotted path into the JSON payload; [i] or .i for arrays)
Sparkplug B ("payload_format": "sparkplug_b"): source_ref "<group>/<edge node>/<device or ->:<metric name>", no params.
"""
from __future__ import annotations

from connectors.config import ConfigError, choice, number, reject_unknown
from connectors.files.fields import FieldError, zone
from connectors.translatable import gettext_noop

CONFIG_KEYS = {"host", "port", "client_id", "username", "keepalive_s", "session_expiry_s", "qos", "tls", "ca_file",
               "ts_path", "ts_format", "timezone", "lot_path", "id_path", "max_batch", "payload_encryption",
               "encryption_encoding", "encryption_bind_topic", "payload_format", "records_path"}


def _optional_text(config: dict, key: str) -> str | None:
    value = config.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigError(gettext_noop("%(key)s: must be text"), key=key)
    return value


def validate_config(config: dict) -> dict:
    reject_unknown(config, CONFIG_KEYS)
    host = config.get("host")
    if not isinstance(host, str) or not host.strip():
        raise ConfigError(gettext_noop("host: the broker's host name or address is required"))
    try:
        zone(config.get("timezone"))
    except FieldError as exc:
        raise ConfigError(gettext_noop("timezone: %(problem)s"), problem=exc) from None
    qos = number(config, "qos", 1, minimum=0, maximum=2, integer=True)
    if qos == 0:
        raise ConfigError(gettext_noop("qos: QoS 0 can lose messages; use 1 (or 2)"))
    return {
        "host": host.strip(),
        "port": number(config, "port", 1883, minimum=1, maximum=65535, integer=True),
        "client_id": _optional_text(config, "client_id"),
        "username": _optional_text(config, "username"),
        "keepalive_s": number(config, "keepalive_s", 30, minimum=5, maximum=3600, integer=True),
        "session_expiry_s": number(config, "session_expiry_s", 86400, minimum=60, maximum=2**32 - 1, integer=True),
        "qos": qos,
        "tls": bool(config.get("tls", False)),
        "ca_file": _optional_text(config, "ca_file"),
        "ts_path": config.get("ts_path", "ts") or None,
        "ts_format": _optional_text(config, "ts_format"),
        "timezone": _optional_text(config, "timezone"),
        "lot_path": _optional_text(config, "lot_path"),
        "id_path": _optional_text(config, "id_path"),
        "max_batch": number(config, "max_batch", 500, minimum=1, maximum=10_000, integer=True),
        "payload_encryption": _encryption(config),
        "payload_format": choice(config, "payload_format", "json", ("json", "sparkplug_b")),
        "records_path": _optional_text(config, "records_path"),
        "encryption_encoding": choice(config, "encryption_encoding", "raw", ("raw", "base64")),
        "encryption_bind_topic": bool(config.get("encryption_bind_topic", True)),
    }


def _encryption(config: dict) -> str | None:
    value = config.get("payload_encryption") or None
    if value not in (None, "sm4-gcm"):
        raise ConfigError(gettext_noop(
            "payload_encryption: only 'sm4-gcm' is supported (or empty for clear payloads)"))
    return value


def validate_tag(source_ref: str, params: dict) -> dict:
    reject_unknown(params, {"value_path"}, "params")
    if ":" in str(source_ref) and "value_path" not in params:
        return _validate_sparkplug_ref(str(source_ref))
    topic_filter = str(source_ref).strip()
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise ConfigError(gettext_noop("source_ref: '#' must be a whole last level of the topic filter"))
        if "+" in level and level != "+":
            raise ConfigError(gettext_noop("source_ref: '+' must be a whole level of the topic filter"))
    value_path = params.get("value_path", "value")
    if not isinstance(value_path, str) or not value_path.strip():
        raise ConfigError(gettext_noop("value_path: must be a path into the JSON payload, e.g. 'barrel.z2'"))
    return {"value_path": value_path.strip()}


def _validate_sparkplug_ref(source_ref: str) -> dict:
    """A Sparkplug B metric: '<group>/<edge node>/<device or ->:<metric name>'."""
    node_part, _, metric = source_ref.partition(":")
    parts = node_part.split("/")
    if len(parts) != 3 or not all(parts) or not metric or any(c in node_part for c in "+#"):
        raise ConfigError(gettext_noop(
            "source_ref: a Sparkplug B metric is '<group>/<edge node>/<device or ->:<metric name>'"))
    return {}
