"""What the validator needs to know about the dictionary, as plain data (the service layer builds these)."""
from __future__ import annotations

from dataclasses import dataclass

# Must match qms.models.measurements.Quality (asserted by a test): stored as small integers.
QUALITY_CODES = {"good": 0, "uncertain": 1, "bad": 2}

FLOAT, INTEGER, BOOLEAN = "float", "int", "bool"
ROUND, REJECT = "round", "reject"


@dataclass(frozen=True, slots=True)
class CharacteristicSpec:
    id: int
    code: str
    data_type: str = FLOAT                  # "float" | "int" | "bool"
    precision: int = 2                      # decimal places allowed for "float"
    precision_policy: str = ROUND           # "round" | "reject" when a value has more decimals
    physical_min: float | None = None
    physical_max: float | None = None
    equipment_id: int | None = None         # used when an item names no equipment
    retired: bool = False


@dataclass(frozen=True, slots=True)
class Limits:
    max_future_seconds: int = 300
    min_year: int = 2000
    max_lot_length: int = 64
    max_timestamp_length: int = 64
