"""Modbus TCP connector configuration (see connectors/config.py for the contract).

Connector config: {"host": "10.0.0.5", "port": 502, "interval_s": 1.0, "timeout_s": 1.0, "max_gap": 8,
                   "demote_after": 2, "max_skip": 32,
                   "republish": {"host": "127.0.0.1", "port": 1883, "prefix": "plant"}}   (optional gateway)
Tag source_ref:   "<unit id>/<table>/<address>", e.g. "1/holding/10", "3/input/0", "1/coil/5", "2/discrete/7"
Tag params:       {"data_type": "float32", "word_order": "CDAB", "scale": 0.1, "offset": 0}
"""
from __future__ import annotations

from connectors.config import ConfigError, choice, number, reject_unknown
from connectors.gateway import validate_republish
from connectors.translatable import gettext_noop

from .codec import DataType, WordOrder
from .plan import Table

CONFIG_KEYS = {"host", "port", "interval_s", "timeout_s", "max_gap", "demote_after", "max_skip", "republish"}
TAG_KEYS = {"data_type", "word_order", "scale", "offset"}


def validate_config(config: dict) -> dict:
    reject_unknown(config, CONFIG_KEYS)
    host = config.get("host")
    if not isinstance(host, str) or not host.strip():
        raise ConfigError(gettext_noop("host: the gateway's host name or address is required"))
    return {
        "host": host.strip(),
        "port": number(config, "port", 502, minimum=1, maximum=65535, integer=True),
        "interval_s": number(config, "interval_s", 1.0, minimum=0.01, maximum=3600),
        "timeout_s": number(config, "timeout_s", 1.0, minimum=0.05, maximum=30),
        "max_gap": number(config, "max_gap", 8, minimum=0, maximum=100, integer=True),
        "demote_after": number(config, "demote_after", 2, minimum=1, maximum=100, integer=True),
        "max_skip": number(config, "max_skip", 32, minimum=1, maximum=1024, integer=True),
        "republish": validate_republish(config.get("republish")),
    }


def parse_source_ref(source_ref: str) -> tuple[int, Table, int]:
    """"1/holding/10" → (1, Table.HOLDING, 10)."""
    parts = str(source_ref).strip().split("/")
    if len(parts) != 3:
        raise ConfigError(gettext_noop("source_ref: expected '<unit id>/<table>/<address>', got %(source_ref)s"),
                          source_ref=repr(source_ref))
    unit, table, address = parts
    try:
        unit_id, register = int(unit), int(address)
    except ValueError as exc:
        raise ConfigError(gettext_noop("source_ref: unit id and address must be integers in %(source_ref)s"),
                          source_ref=repr(source_ref)) from exc
    if not 0 <= unit_id <= 255:
        raise ConfigError(gettext_noop("source_ref: unit id %(unit_id)s is outside 0–255"), unit_id=unit_id)
    if not 0 <= register <= 65535:
        raise ConfigError(gettext_noop("source_ref: address %(address)s is outside 0–65535"), address=register)
    try:
        return unit_id, Table(table.lower()), register
    except ValueError as exc:
        raise ConfigError(gettext_noop("source_ref: table must be one of %(choices)s; got %(table)s"),
                          choices=", ".join(Table), table=repr(table)) from exc


def validate_tag(source_ref: str, params: dict) -> dict:
    reject_unknown(params, TAG_KEYS, "params")
    _unit, table, _address = parse_source_ref(source_ref)
    default_type = DataType.BOOL if table.is_bits else DataType.UINT16
    data_type = choice(params, "data_type", default_type.value, tuple(DataType))
    if table.is_bits != (data_type == DataType.BOOL):
        raise ConfigError(gettext_noop(
            "params: data_type %(data_type)s does not fit a %(table)s (coils/discrete inputs are bool)"),
            data_type=data_type, table=table)
    order = str(params.get("word_order", WordOrder.ABCD)).upper()
    if order not in tuple(WordOrder):
        raise ConfigError(gettext_noop("word_order: must be one of %(choices)s; got %(value)s"),
                          choices=", ".join(WordOrder), value=repr(params.get("word_order")))
    scale = number(params, "scale", 1.0)
    if scale == 0:
        raise ConfigError(gettext_noop("scale: must not be zero"))
    return {"data_type": data_type, "word_order": order, "scale": scale, "offset": number(params, "offset", 0.0)}
