"""Legacy-file connector configuration (see connectors/config.py for the contract).

Connector config:
  {"file_format": null | "csv" | "json" | "dbf",   (null: from the extension)
   "encoding": null | "utf-8" | "gb18030" | "gbk" | ...,   (null: UTF-8, else GB18030; DBF: its code page, else GB18030)
   "delimiter": null | ";" ...,  "records_path": null | "data.rows",
   "drop_directory": "/srv/qms/drop/line1", "patterns": ["*.csv", "*.dbf", "*.json"], "settle_s": 5,
   "ts_column": "DATETIME", "timezone": "Asia/Shanghai", "ts_format": "%Y/%m/%d %H:%M:%S", "lot_column": "LOT",
   "equipment_column": null, "decimal_comma": false,
   wide:  "value_columns": {"TEMP2": "IMM01.BARREL_Z2.TEMP"}
   long:  "characteristic_column": "ITEM", "value_column": "VALUE", "codes": {"T2": "IMM01.BARREL_Z2.TEMP"}}
Tags (optional): source_ref = a column (wide) or a legacy item code (long) → the tag's characteristic.
"""
from __future__ import annotations

import codecs

from connectors.config import ConfigError, number, reject_unknown
from connectors.files.rows import MappingError, RowMapping
from connectors.translatable import gettext_noop

from .readers import FORMATS

MAPPING_KEYS = {"ts_column", "time_column", "timezone", "ts_format", "lot_column", "equipment_column", "value_columns",
                "characteristic_column", "value_column", "codes", "decimal_comma", "skip_empty"}
READ_KEYS = {"file_format", "encoding", "delimiter", "records_path"}
CONFIG_KEYS = MAPPING_KEYS | READ_KEYS | {"drop_directory", "patterns", "settle_s"}


def validate_config(config: dict) -> dict:
    reject_unknown(config, CONFIG_KEYS)
    out = dict(config)
    if config.get("file_format") not in (None, *FORMATS):
        raise ConfigError(gettext_noop("file_format: must be one of %(formats)s (or empty: from the extension)"),
                          formats=", ".join(FORMATS))
    if config.get("encoding"):
        try:
            codecs.lookup(config["encoding"])
        except LookupError:
            raise ConfigError(gettext_noop("encoding: unknown encoding %(encoding)s"),
                              encoding=repr(config["encoding"])) from None
    delimiter = config.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise ConfigError(gettext_noop("delimiter: must be a single character"))
    patterns = config.get("patterns", ["*.csv", "*.json", "*.dbf"])
    if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
        raise ConfigError(gettext_noop("patterns: must be a list of file-name patterns such as '*.csv'"))
    out["patterns"] = patterns
    out["settle_s"] = number(config, "settle_s", 5.0, minimum=0, maximum=3600)
    try:
        RowMapping.from_config(config)
    except MappingError as exc:
        raise ConfigError(exc.message, **exc.params) from None
    return out


def mapping_from_spec(config: dict, tags=()) -> RowMapping:
    merged = {key: config[key] for key in MAPPING_KEYS if key in config}
    extra = {tag.source_ref: tag.characteristic for tag in tags}
    if extra:
        key = "codes" if merged.get("characteristic_column") else "value_columns"
        merged[key] = {**(merged.get(key) or {}), **extra}
    return RowMapping.from_config(merged)


def read_options(config: dict) -> dict:
    return {key: config.get(key) or None for key in READ_KEYS}
