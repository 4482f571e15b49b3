"""Checking one value against its dictionary entry: type, finiteness, data type, precision, physical range."""
from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from .problems import Problem
from .spec import BOOLEAN, FLOAT, INTEGER, REJECT, CharacteristicSpec

_BOOLEAN_NUMBERS = {0: 0.0, 1: 1.0}
_SCALES = tuple(10.0 ** places for places in range(23))   # exact powers of ten in binary64
_EXACT_LIMIT = 2.0 ** 51   # below it, value × 10^places is within 0.5 of the integer it stands for


def round_half_even(value: float, places: int) -> float:
    """Round the decimal number the client sent (the float's shortest repr, i.e. its JSON text) to `places`
    decimals, ties to even — rule B of ISO 80000-1:2009 Annex B. Rounding the binary float instead would turn
    2.675 into 2.67."""
    with localcontext() as context:
        context.prec = 60
        return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def has_more_decimals(value: float, places: int) -> bool:
    """True when the shortest decimal form of `value` has more than `places` decimals.

    The definition is round(value, places) != value (round() is correctly rounded: it returns `value` exactly when
    `value` is the double nearest to some `places`-decimal number), but round() on floats goes through a decimal
    string and costs about 1 µs. Equivalent and cheaper while |value × 10^places| < 2^51: with k the integer
    nearest to value × 10^places, `value` is within precision exactly when k / 10^places (a correctly rounded
    division of exact operands) gives `value` back. The hypothesis test holds the two against each other.
    """
    scale = _SCALES[places] if places < len(_SCALES) else 10.0 ** places
    scaled = value * scale
    if -_EXACT_LIMIT < scaled < _EXACT_LIMIT:
        return round(scaled) / scale != value
    return round(value, places) != value


def storable_number(raw) -> float | None:
    try:
        value = float(raw)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def check_value(raw, spec: CharacteristicSpec) -> tuple[float | None, bool, Problem | None, dict]:
    """Return (value to store, was it rounded, problem, message params). Never raises."""
    data_type = spec.data_type
    if data_type == BOOLEAN:
        if raw is True or raw is False:
            return float(raw), False, None, {}
        if isinstance(raw, (int, float)):
            if raw in _BOOLEAN_NUMBERS:
                return _BOOLEAN_NUMBERS[raw], False, None, {}
            return None, False, Problem.NOT_BOOLEAN, {"value": storable_number(raw)}
        return None, False, Problem.WRONG_TYPE, {"expected": "boolean"}

    kind = type(raw)
    if kind is float:   # the common case first
        value = raw
    # bool is an int subclass: true/false must not pass as 1/0 for a numeric characteristic (no coercion).
    elif isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None, False, Problem.WRONG_TYPE, {"expected": "number"}
    else:
        try:
            value = float(raw)
        except OverflowError:   # an integer beyond double range
            return None, False, Problem.NON_FINITE, {}
    if value - value != 0.0:   # NaN or ±Infinity (cheaper than math.isfinite on the hot path)
        return None, False, Problem.NON_FINITE, {}

    rounded = False
    if data_type == INTEGER:
        if not value.is_integer():
            return None, False, Problem.NOT_INTEGER, {"value": value}
    elif data_type == FLOAT and has_more_decimals(value, spec.precision):
        if spec.precision_policy == REJECT:
            return None, False, Problem.TOO_PRECISE, {"value": value, "precision": spec.precision}
        value = round_half_even(value, spec.precision)
        rounded = True

    low, high = spec.physical_min, spec.physical_max
    if (low is not None and value < low) or (high is not None and value > high):
        return None, rounded, Problem.OUT_OF_RANGE, {"value": value, "min": low, "max": high}
    return value, rounded, None, {}
