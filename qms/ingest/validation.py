"""Validating a batch of measurement items: every item ends up accepted, an in-batch duplicate, or rejected.

One problem is reported per rejected item — the first in the order: shape, unknown fields, characteristic, value,
ts, equipment, lot, quality — so `rejected` counts items, and each dead letter carries one reason.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from .problems import Problem
from .spec import QUALITY_CODES, CharacteristicSpec, Limits
from .timestamps import parse_timestamp
from .values import check_value

REQUIRED_FIELDS = ("characteristic", "value", "ts")
ITEM_FIELDS = frozenset({"characteristic", "value", "ts", "lot", "equipment", "quality"})
DEFAULT_LIMITS = Limits()


class Accepted(NamedTuple):
    """A valid item, normalised: ts in UTC, value rounded per the dictionary, codes resolved to ids."""

    index: int
    characteristic_id: int
    ts: datetime
    value: float
    quality: int
    lot_code: str
    equipment_id: int | None


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    field: str          # "" when the problem concerns the item as a whole
    code: Problem
    params: dict
    item: object        # the item exactly as received


@dataclass(slots=True)
class ValidationResult:
    accepted: list[Accepted] = field(default_factory=list)     # unique by (characteristic, ts), in batch order
    duplicates: list[int] = field(default_factory=list)        # indices repeating an earlier item of the batch
    rejected: list[Rejection] = field(default_factory=list)
    rounded: list[int] = field(default_factory=list)           # indices (accepted or duplicate) whose value was rounded


def validate_items(items: list, *, characteristics: Mapping[str, CharacteristicSpec], equipment: Mapping[str, int],
                   now: datetime, limits: Limits = DEFAULT_LIMITS) -> ValidationResult:
    """Check every item against the dictionary. Never raises, whatever the items contain.

    `characteristics` maps code → spec and `equipment` maps code → id, both for the client's site only, so a code
    of another site is simply unknown.
    """
    result = ValidationResult()
    latest = now + timedelta(seconds=limits.max_future_seconds)
    earliest = datetime(limits.min_year, 1, 1, tzinfo=UTC)
    first_index_of: dict[tuple[int, datetime], int] = {}
    accept, reject = result.accepted.append, result.rejected.append

    fields = ITEM_FIELDS
    new_row = tuple.__new__   # Accepted(...) goes through a Python-level __new__: twice the cost per row

    for index, item in enumerate(items):
        # Fast test for the usual well-formed item; anything else gets the precise diagnosis.
        if not (type(item) is dict and "ts" in item and "value" in item and "characteristic" in item
                and fields.issuperset(item)):
            problem = _check_shape(item)
            if problem is not None:
                reject(Rejection(index, problem[0], problem[1], problem[2], item))
                continue

        code = item["characteristic"]
        spec = characteristics.get(code) if isinstance(code, str) else None
        if spec is None or spec.retired:
            if not isinstance(code, str):
                reject(Rejection(index, "characteristic", Problem.WRONG_TYPE, {"expected": "string"}, item))
            else:
                reason = Problem.UNKNOWN_CHARACTERISTIC if spec is None else Problem.RETIRED_CHARACTERISTIC
                reject(Rejection(index, "characteristic", reason, {"code": code}, item))
            continue

        value, rounded, problem, params = check_value(item["value"], spec)
        if problem is not None:
            reject(Rejection(index, "value", problem, params, item))
            continue

        ts, problem = parse_timestamp(item["ts"], max_length=limits.max_timestamp_length)
        if problem is None:
            if ts > latest:
                problem = Problem.IN_FUTURE
            elif ts < earliest:
                problem = Problem.TOO_OLD
        if problem is not None:
            params = {"max_future_seconds": limits.max_future_seconds, "min_year": limits.min_year}
            reject(Rejection(index, "ts", problem, params, item))
            continue

        equipment_id, problem = _resolve_equipment(item.get("equipment"), spec, equipment)
        if problem is not None:
            reject(Rejection(index, "equipment", problem, {"code": item.get("equipment")}, item))
            continue

        lot_code, problem = _check_lot(item.get("lot"), limits.max_lot_length)
        if problem is not None:
            reject(Rejection(index, "lot", problem, {"max_length": limits.max_lot_length}, item))
            continue

        quality = item.get("quality")
        if quality is None:
            quality_code = 0
        else:
            quality_code = QUALITY_CODES.get(quality) if isinstance(quality, str) else None
            if quality_code is None:
                reason = Problem.INVALID_CHOICE if isinstance(quality, str) else Problem.WRONG_TYPE
                reject(Rejection(index, "quality", reason, {"choices": list(QUALITY_CODES), "expected": "string"}, item))
                continue

        if rounded:
            result.rounded.append(index)
        key = (spec.id, ts)
        if key in first_index_of:
            result.duplicates.append(index)
            continue
        first_index_of[key] = index
        accept(new_row(Accepted, (index, spec.id, ts, value, quality_code, lot_code, equipment_id)))
    return result


def _check_shape(item) -> tuple[str, Problem, dict] | None:
    if not isinstance(item, dict):
        return "", Problem.NOT_AN_OBJECT, {}
    if not ITEM_FIELDS.issuperset(item):
        unknown = sorted(str(key) for key in item if key not in ITEM_FIELDS)
        return unknown[0], Problem.UNKNOWN_FIELD, {"field": unknown[0], "allowed": sorted(ITEM_FIELDS)}
    for name in REQUIRED_FIELDS:
        if name not in item:
            return name, Problem.MISSING, {}
    return None


def _resolve_equipment(raw, spec: CharacteristicSpec, equipment: Mapping[str, int]) -> tuple[int | None, Problem | None]:
    if raw is None:   # not named: the machine the dictionary entry belongs to
        return spec.equipment_id, None
    if not isinstance(raw, str):
        return None, Problem.WRONG_TYPE
    equipment_id = equipment.get(raw)
    if equipment_id is None:
        return None, Problem.UNKNOWN_EQUIPMENT
    return equipment_id, None


def _check_lot(raw, max_length: int) -> tuple[str, Problem | None]:
    if raw is None:
        return "", None
    if not isinstance(raw, str):
        return "", Problem.WRONG_TYPE
    if len(raw) > max_length:
        return "", Problem.TOO_LONG
    if raw and not raw.isprintable():
        return "", Problem.INVALID_CHARACTERS
    return raw, None
