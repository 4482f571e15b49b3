"""Parsing a POSTed batch body, and making rejected items storable as JSON.

orjson does the parsing (DRF's JSON parser is several times slower). Strict JSON has no NaN/Infinity, but many
producers (Python's json.dumps, some PLC gateways) emit them; rather than failing a whole batch, such a body is
re-read with the standard library, which maps the tokens to floats, so only the affected items are rejected
(code "non_finite") and the rest are stored. Everything else orjson refuses stays a 400.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime

import orjson

TOP_LEVEL_FIELDS = frozenset({"measurements", "site"})
_NON_FINITE_TOKENS = (b"NaN", b"Infinity", b"-Infinity")


class BodyError(Exception):
    """The body as a whole is unusable. `status` is the HTTP status, `code` the machine-readable reason."""

    def __init__(self, code: str, *, status: int = 400, **params):
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params


@dataclass(frozen=True, slots=True)
class BatchBody:
    items: list
    site_code: str | None = None
    lenient_numbers: bool = False   # True when NaN/Infinity tokens forced the fallback parser


def _non_finite_at(raw: bytes, exc: orjson.JSONDecodeError) -> bool:
    """Did orjson stop at a NaN/Infinity token or at a number that overflows a double?"""
    if "infinity" in str(exc).lower():
        return True
    position = getattr(exc, "pos", None)
    if position is None:
        return False
    return any(raw.startswith(token, position) for token in _NON_FINITE_TOKENS)


def _loads(raw: bytes) -> tuple[object, bool]:
    try:
        return orjson.loads(raw), False
    except orjson.JSONDecodeError as exc:
        if not _non_finite_at(raw, exc):
            raise BodyError("malformed_json", detail=str(exc)) from exc
        first_error = exc
    try:
        parsed = json.loads(raw)
        # The stdlib accepts things orjson rightly refuses (lone surrogates, which no database can store);
        # round-tripping through orjson catches them.
        orjson.dumps(parsed)
    except (ValueError, TypeError, orjson.JSONEncodeError) as exc:
        raise BodyError("malformed_json", detail=str(first_error)) from exc
    return parsed, True


def parse_batch_body(raw: bytes, *, max_items: int) -> BatchBody:
    if not raw or not raw.strip():
        raise BodyError("empty_body")
    parsed, lenient = _loads(raw)
    if not isinstance(parsed, dict):
        raise BodyError("body_not_an_object")
    unknown = sorted(set(parsed) - TOP_LEVEL_FIELDS)
    if unknown:
        raise BodyError("unknown_top_level_field", field=unknown[0])
    if "measurements" not in parsed:
        raise BodyError("measurements_missing")
    items = parsed["measurements"]
    if not isinstance(items, list):
        raise BodyError("measurements_not_a_list")
    if len(items) > max_items:
        raise BodyError("batch_too_large", status=413, count=len(items), limit=max_items)
    site_code = parsed.get("site")
    if site_code is not None and not isinstance(site_code, str):
        raise BodyError("site_not_a_string")
    return BatchBody(items=items, site_code=site_code or None, lenient_numbers=lenient)


def storable(value):
    """A JSON-storable copy of an item for the dead-letter table: non-finite floats become the strings
    "NaN"/"Infinity"/"-Infinity", dates become ISO-8601, NUL characters (which PostgreSQL cannot store) become the
    six characters \\u0000, anything else unknown becomes its str()."""
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000") if "\x00" in value else value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, dict):
        return {storable(str(key)): storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(item) for item in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return storable(str(value))
