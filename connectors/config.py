"""Per-kind connector configuration: validation and defaults. No Django import.

Each kind's validator lives next to its adapter and is found by dotted path, so a new protocol plugs in by
creating its module — nothing here needs editing:

    connectors/<kind>/config.py:  def validate_config(config: dict) -> dict   # returns the normalised config
                                  def validate_tag(source_ref: str, params: dict) -> dict   # optional

A validator raises ConfigError(gettext_noop("field: what is wrong"), **params) on bad input (see connectors.translatable).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable

from connectors.translatable import TranslatableError, gettext_noop

CONFIG_MODULES: dict[str, str] = {
    "opcua": "connectors.opcua.config",
    "modbus": "connectors.modbus.config",
    "mqtt": "connectors.mqtt.config",
    "table": "connectors.table.config",
    "file": "connectors.files.config",
    "rest": "connectors.config",
    "webhook": "connectors.config",
}


class ConfigError(TranslatableError):
    """A connector or tag configuration problem; the message names the field."""


def _module(kind: str):
    path = CONFIG_MODULES.get(kind)
    if path is None:
        raise ConfigError(gettext_noop("kind: unknown connector kind %(kind)s"), kind=repr(kind))
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name and path.startswith(exc.name):
            return None  # the kind's module is not written yet: accept the config as given
        raise


def _validator(kind: str, name: str) -> Callable | None:
    module = _module(kind)
    return getattr(module, name, None) if module is not None else None


def validate_connector_config(kind: str, config: dict) -> dict:
    if not isinstance(config, dict):
        raise ConfigError(gettext_noop("config: must be a JSON object"))
    if kind == "rest":
        return validate_rest_config(config)
    if kind == "webhook":
        return validate_webhook_config(config)
    validator = _validator(kind, "validate_config")
    return validator(dict(config)) if validator else dict(config)


def validate_tag_params(kind: str, source_ref: str, params: dict) -> dict:
    if not isinstance(params, dict):
        raise ConfigError(gettext_noop("params: must be a JSON object"))
    if not source_ref or not str(source_ref).strip():
        raise ConfigError(gettext_noop("source_ref: must not be empty"))
    if kind in ("rest", "webhook"):
        return dict(params)
    validator = _validator(kind, "validate_tag")
    return validator(source_ref, dict(params)) if validator else dict(params)


# --- helpers shared by the per-kind validators -----------------------------------------------------------------
def number(config: dict, key: str, default: float | None, *, minimum: float | None = None,
           maximum: float | None = None, integer: bool = False) -> float | int | None:
    value = config.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(gettext_noop("%(key)s: must be a number, got %(value)s"), key=key, value=repr(value))
    if minimum is not None and value < minimum:
        raise ConfigError(gettext_noop("%(key)s: must be at least %(minimum)s"), key=key, minimum=minimum)
    if maximum is not None and value > maximum:
        raise ConfigError(gettext_noop("%(key)s: must be at most %(maximum)s"), key=key, maximum=maximum)
    return int(value) if integer else float(value)


def choice(config: dict, key: str, default: str, choices: tuple[str, ...]) -> str:
    value = config.get(key, default)
    if value not in choices:
        raise ConfigError(gettext_noop("%(key)s: must be one of %(choices)s; got %(value)s"), key=key,
                          choices=", ".join(choices), value=repr(value))
    return value


def reject_unknown(config: dict, known: set[str], where: str = "config") -> None:
    unknown = sorted(set(config) - known)
    if unknown:
        raise ConfigError(gettext_noop("%(where)s: unknown option(s) %(options)s"), where=where,
                          options=", ".join(unknown))


# --- REST push (MES posts to /api/v1/measurements/ with a token) and HTTP webhooks (write-back) -----------------
def validate_rest_config(config: dict) -> dict:
    reject_unknown(config, {"token_name", "note"})
    return dict(config)


def validate_webhook_config(config: dict) -> dict:
    reject_unknown(config, {"url", "timeout_s", "header", "readback_url"})
    url = config.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(gettext_noop("url: must be an http:// or https:// URL"))
    out = dict(config)
    out["timeout_s"] = number(config, "timeout_s", 5.0, minimum=0.1, maximum=60)
    out["header"] = config.get("header", "X-QualityPulse-Signature")
    return out
