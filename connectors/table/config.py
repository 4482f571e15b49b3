"""Intermediate-table connector configuration (see connectors/config.py for the contract).

Connector config:
  {"url": "postgresql://mes@10.1.2.3:5432/mes" | "mysql://qms@10.1.2.4:3306/mes" | "sqlite:////data/mes.db",
   "table": "qc_results", "id_column": "id", "status_column": "qms_status", "pending_value": 0, "done_value": 1,
   "error_value": 9, "batch_size": 500, "max_batches": 20,
   "ts_column": "measured_at", "timezone": "Asia/Shanghai", "ts_format": null, "lot_column": "lot_no",
   "equipment_column": null,
   wide rows:  "value_columns": {"TEMP_Z2": "IMM01.BARREL_Z2.TEMP", ...}
   long rows:  "characteristic_column": "item_code", "value_column": "item_value", "codes": {"T2": "IMM01...."}}
  secrets: {"password": "..."}   (kept out of the URL so it never lands in the history)
Tags (optional): source_ref = a column (wide) or a legacy item code (long) → the tag's characteristic; they are
merged into value_columns / codes.
"""
from __future__ import annotations

from connectors.config import ConfigError, number, reject_unknown
from connectors.files.config import MAPPING_KEYS, mapping_from_spec  # noqa: F401 (re-exported)
from connectors.files.rows import MappingError, RowMapping
from connectors.translatable import gettext_noop

from .source import MYSQL, SourceError, TableLayout, quoted

CONFIG_KEYS = {"url", "table", "id_column", "status_column", "pending_value", "done_value", "error_value",
               "batch_size", "max_batches"} | MAPPING_KEYS


def validate_config(config: dict) -> dict:
    reject_unknown(config, CONFIG_KEYS)
    url = config.get("url")
    if not isinstance(url, str) or url.split("://", 1)[0].split("+")[0] not in (
            "postgresql", "postgres", "mysql", "mariadb", "sqlite"):
        raise ConfigError(gettext_noop("url: a postgresql://, mysql://, mariadb:// or sqlite:/// URL is required"))
    if "@" in url and ":" in url.split("://", 1)[1].split("@", 1)[0]:
        raise ConfigError(gettext_noop("url: put the password in the connector's secrets, not in the URL"))
    out = dict(config)
    for key in ("table", "id_column", "status_column"):
        try:
            quoted(MYSQL, config.get(key, {"id_column": "id", "status_column": "qms_status"}.get(key)))
        except SourceError as exc:
            raise ConfigError(gettext_noop("%(key)s: %(detail)s"), key=key, detail=exc) from None
    if config.get("pending_value", 0) == config.get("done_value", 1):
        raise ConfigError(gettext_noop("done_value: must differ from pending_value"))
    out["batch_size"] = number(config, "batch_size", 500, minimum=1, maximum=10_000, integer=True)
    out["max_batches"] = number(config, "max_batches", 20, minimum=1, maximum=1000, integer=True)
    try:
        RowMapping.from_config(config)
    except MappingError as exc:
        raise ConfigError(exc.message, **exc.params) from None
    return out


def layout_from_config(config: dict) -> TableLayout:
    return TableLayout(
        table=config["table"], id_column=config.get("id_column", "id"),
        status_column=config.get("status_column", "qms_status"), pending_value=config.get("pending_value", 0),
        done_value=config.get("done_value", 1), error_value=config.get("error_value"),
    )
