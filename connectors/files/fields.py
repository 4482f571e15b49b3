"""Reading one field of a legacy record (file row, table row, MQTT JSON payload): paths into JSON, numbers and
timestamps as old systems write them. Pure; raises FieldError with a reason a person can act on."""
from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.translatable import TranslatableError, gettext_noop

MISSING = object()
_PATH_TOKEN = re.compile(r"[^.\[\]]+|\[(\d+)\]")
# Epoch numbers above this are milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
_EPOCH_MS_THRESHOLD = 1e11


class FieldError(TranslatableError):
    """A field's content cannot be used; the message says why."""


def get_path(data, path: str):
    """'a.b[0].c' or 'a.b.0.c' → the value, or MISSING. An empty path or '$' is the whole document."""
    if path in ("", "$"):
        return data
    if isinstance(data, dict) and path in data:       # the common case, a plain key: no parsing
        return data[path]
    current = data
    for match in _PATH_TOKEN.finditer(path.removeprefix("$.")):
        key = match.group(1) if match.group(1) is not None else match.group(0)
        if isinstance(current, list):
            try:
                current = current[int(key)]
            except (ValueError, IndexError):
                return MISSING
        elif isinstance(current, dict) and key in current:
            current = current[key]
        else:
            return MISSING
    return current


def parse_number(raw, *, decimal_comma: bool = False) -> float:
    if isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, int | float | Decimal):     # Decimal: NUMERIC/DECIMAL columns of PostgreSQL and MySQL
        value = float(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if not text:
            raise FieldError(gettext_noop("empty"))
        if decimal_comma:
            text = text.replace(".", "").replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            raise FieldError(gettext_noop("not a number: %(value)s"), value=repr(raw[:40])) from None
    elif raw is None:
        raise FieldError(gettext_noop("empty"))
    else:
        raise FieldError(gettext_noop("not a number: %(value)s"), value=type(raw).__name__)
    if math.isnan(value) or math.isinf(value):
        raise FieldError(gettext_noop("not a finite number"))
    return value


def zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FieldError(gettext_noop("unknown time zone %(zone)s"), zone=repr(name)) from exc


def parse_timestamp(raw, *, tz: ZoneInfo | None = None, fmt: str | None = None) -> datetime:
    """ISO 8601 text, a `fmt` strptime pattern, epoch seconds/milliseconds, or a date/datetime (DBF columns).
    Local times without an offset take `tz` (the plant's zone); without `tz` they are refused, never guessed."""
    if isinstance(raw, datetime):
        parsed = raw
    elif isinstance(raw, date):
        parsed = datetime.combine(raw, time())
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        seconds = raw / 1000 if raw > _EPOCH_MS_THRESHOLD else raw
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise FieldError(gettext_noop("epoch time out of range: %(value)s"), value=raw) from None
    elif isinstance(raw, str) and raw.strip():
        text = raw.strip()
        try:
            parsed = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
        except ValueError:
            if fmt:
                raise FieldError(gettext_noop("not a timestamp in format %(format)s: %(value)s"), format=fmt,
                                 value=repr(text[:40])) from None
            raise FieldError(gettext_noop("not a timestamp: %(value)s"), value=repr(text[:40])) from None
    elif raw is None or raw == "":
        raise FieldError(gettext_noop("empty"))
    else:
        raise FieldError(gettext_noop("not a timestamp: %(value)s"), value=type(raw).__name__)
    if parsed.tzinfo is None:
        if tz is None:
            raise FieldError(gettext_noop("timestamp has no time zone (configure the source's time zone)"))
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def parse_text(raw, *, max_length: int = 64) -> str | None:
    if raw is None or raw is MISSING:
        return None
    text = str(raw).strip()
    if len(text) > max_length:
        raise FieldError(gettext_noop("longer than %(length)s characters"), length=max_length)
    return text or None
