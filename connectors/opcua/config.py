"""OPC UA connector configuration. No Django import.

config:
    endpoint                 opc.tcp://host:port/path                              (required)
    publishing_interval_ms   subscription publishing interval                       (500)
    sampling_interval_ms     default sampling interval of monitored items           (250)
    queue_size               server-side queue per monitored item: no change lost between publishes (10)
    keepalive_count          publishing intervals without data before a keep-alive  (asyncua default)
    watchdog_s               how often the link is probed; a half-open link is found within ~2 × this (2.0)
    request_timeout_s        per-request timeout                                    (4.0)
    session_timeout_ms       how long the server keeps our session after the link drops (60000):
                             a reconnect within it resumes the subscription and republishes missed values
    security_policy          "None" | "Basic256Sha256"                              ("None")
    security_mode            "Sign" | "SignAndEncrypt"                              ("SignAndEncrypt")
    certificate, private_key client certificate / key files (PEM or DER)       (required with Basic256Sha256)
    server_certificate       the server's certificate file, to pin it               (optional)
    username                 user name; the password is in the connector's secrets["password"]
    backfill_after_s         values older than this on arrival are flagged backfill (60)
    cycle_event_type         browse name of the cycle event type ("CycleParametersEventType")
    lot_field, shot_field    event fields carrying the lot and the shot counter ("LotId", "ShotCounter")

tag (TagMapping) source_ref: a node id ("ns=2;s=IMM01/Cycle/CycleTime"), or for a cycle-event field the emitting
node's id with params {"event_field": "CycleTime"}.
tag params: sampling_interval_ms, deadband (absolute, engineering units; server filter), client_deadband (the same,
applied by us, None-safe), queue_size, scale, offset, event_field.
"""
from __future__ import annotations

from connectors.config import ConfigError, choice, number, reject_unknown
from connectors.translatable import gettext_noop

KNOWN = {
    "endpoint", "publishing_interval_ms", "sampling_interval_ms", "queue_size", "keepalive_count", "watchdog_s",
    "request_timeout_s", "session_timeout_ms", "security_policy", "security_mode", "certificate", "private_key",
    "server_certificate", "username", "backfill_after_s", "cycle_event_type", "lot_field", "shot_field",
}
TAG_KNOWN = {"sampling_interval_ms", "deadband", "client_deadband", "queue_size", "scale", "offset", "event_field"}


def validate_config(config: dict) -> dict:
    reject_unknown(config, KNOWN)
    endpoint = config.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith("opc.tcp://"):
        raise ConfigError(gettext_noop("endpoint: must be an opc.tcp:// URL"))
    out = dict(config)
    out["publishing_interval_ms"] = number(config, "publishing_interval_ms", 500, minimum=10, maximum=3_600_000)
    out["sampling_interval_ms"] = number(config, "sampling_interval_ms", 250, minimum=0, maximum=3_600_000)
    out["queue_size"] = number(config, "queue_size", 10, minimum=0, maximum=100_000, integer=True)
    if "keepalive_count" in config:
        out["keepalive_count"] = number(config, "keepalive_count", None, minimum=1, maximum=10_000, integer=True)
    out["watchdog_s"] = number(config, "watchdog_s", 2.0, minimum=0.1, maximum=600)
    out["request_timeout_s"] = number(config, "request_timeout_s", 4.0, minimum=0.1, maximum=600)
    out["session_timeout_ms"] = number(config, "session_timeout_ms", 60_000, minimum=1_000, maximum=86_400_000)
    out["security_policy"] = choice(config, "security_policy", "None", ("None", "Basic256Sha256"))
    out["security_mode"] = choice(config, "security_mode", "SignAndEncrypt", ("Sign", "SignAndEncrypt"))
    if out["security_policy"] != "None" and not (config.get("certificate") and config.get("private_key")):
        raise ConfigError(gettext_noop("certificate: Basic256Sha256 needs a client certificate and private key"))
    out["backfill_after_s"] = number(config, "backfill_after_s", 60.0, minimum=0)
    out["cycle_event_type"] = config.get("cycle_event_type", "CycleParametersEventType")
    out["lot_field"] = config.get("lot_field", "LotId")
    out["shot_field"] = config.get("shot_field", "ShotCounter")
    return out


def validate_tag(source_ref: str, params: dict) -> dict:
    reject_unknown(params, TAG_KNOWN, "params")
    out = dict(params)
    for key in ("sampling_interval_ms", "deadband", "client_deadband", "scale", "offset"):
        if key in params:
            out[key] = number(params, key, None, minimum=0 if key != "offset" and key != "scale" else None)
    if "queue_size" in params:
        out["queue_size"] = number(params, "queue_size", None, minimum=0, maximum=100_000, integer=True)
    if "event_field" in params and not isinstance(params["event_field"], str):
        raise ConfigError(gettext_noop("params.event_field: must be a string"))
    try:
        from asyncua import ua

        ua.NodeId.from_string(source_ref)
    except Exception as exc:
        raise ConfigError(gettext_noop("source_ref: not an OPC UA node id (%(detail)s)"), detail=str(exc)) from exc
    return out
