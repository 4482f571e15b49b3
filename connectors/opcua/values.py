"""OPC UA status codes and values → the envelope's quality and number. Pure functions, no I/O."""
from __future__ import annotations

import math

from connectors.envelope import QualityName

# OPC UA Part 4 §7.34: the top two bits of a StatusCode are its severity.
_SEVERITY = {0b00: "good", 0b01: "uncertain", 0b10: "bad", 0b11: "bad"}


def quality_of(status_code: int) -> QualityName:
    """Good (0x0…), Uncertain (0x4…), Bad (0x8…/0xC…)."""
    return _SEVERITY[(int(status_code) >> 30) & 0b11]


def numeric(value: object, *, scale: float | None = None, offset: float | None = None) -> float | None:
    """The value as a finite float, or None when it is not a usable number (None, text, arrays, NaN, inf)."""
    if isinstance(value, bool):
        number = 1.0 if value else 0.0
    elif isinstance(value, int | float):
        number = float(value)
    else:
        return None
    if scale is not None:
        number *= scale
    if offset is not None:
        number += offset
    return number if math.isfinite(number) else None


def passes_deadband(previous: float | None, current: float | None, deadband: float | None) -> bool:
    """Client-side absolute deadband (for servers that refuse the DataChangeFilter). A None on either side — a
    bad-quality value — always passes: a change of quality is news, and None must never reach arithmetic."""
    if not deadband or previous is None or current is None:
        return True
    return abs(current - previous) > deadband


def jsonable(value: object) -> object:
    """The raw value for the envelope's raw_value (JSON-serialisable)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value][:100]
    return str(value)[:500]
