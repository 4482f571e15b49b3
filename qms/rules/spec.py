"""The compiled form of a reaction rule: plain frozen values the ingest hot path reads without touching Django."""
from __future__ import annotations

import math
from dataclasses import dataclass

DEVIATION = "deviation"
SPEC = "spec"
SPC = "spc"
STALE = "stale"
EQUIPMENT_STATE = "equipment_state"
TRIGGERS = (DEVIATION, SPEC, SPC, STALE, EQUIPMENT_STATE)
MEASUREMENT_TRIGGERS = (DEVIATION, SPEC)

# Measurement quality codes (qms.models.measurements.Quality): 0 good, 1 uncertain, 2 bad. A value the source itself
# flags as bad (sensor fault) says nothing about the process: it neither trips a rule nor counts as back to normal.
GOOD_QUALITY_LIMIT = 1


@dataclass(frozen=True, slots=True)
class Limits:
    nominal: float | None = None
    lsl: float | None = None
    usl: float | None = None


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What a rule reacts to, independent of its scope (the scope is resolved into per-characteristic checks)."""

    id: int
    site_id: int
    trigger: str
    severity: str
    threshold: float | None = None
    spc_rules: frozenset[str] = frozenset()
    equipment_states: frozenset[str] = frozenset()

    def matches_spc_rule(self, rule: str) -> bool:
        """An SPC rule with no chosen run rules reacts to any signal."""
        return self.trigger == SPC and (not self.spc_rules or rule in self.spc_rules)

    def matches_state(self, state: str) -> bool:
        return self.trigger == EQUIPMENT_STATE and state in self.equipment_states


@dataclass(frozen=True, slots=True)
class MeasurementCheck:
    """One rule applied to one characteristic: the deviation or specification test of each new value."""

    rule_id: int
    trigger: str
    characteristic_id: int
    equipment_id: int | None
    limits: Limits
    threshold: float | None = None

    def is_bad(self, value: float) -> bool:
        if self.trigger == DEVIATION:
            return abs(value - self.limits.nominal) > self.threshold
        lsl, usl = self.limits.lsl, self.limits.usl
        return (lsl is not None and value < lsl) or (usl is not None and value > usl)

    def excess(self, value: float) -> float:
        """How far beyond the rule's bound the value lies (larger = worse): picks a batch's worst value."""
        if self.trigger == DEVIATION:
            return abs(value - self.limits.nominal) - self.threshold
        below = self.limits.lsl - value if self.limits.lsl is not None else -math.inf
        above = value - self.limits.usl if self.limits.usl is not None else -math.inf
        return max(below, above)

    def good_range(self) -> tuple[float, float]:
        """The closed interval of values that pass (for the database's "last good value" query)."""
        if self.trigger == DEVIATION:
            return self.limits.nominal - self.threshold, self.limits.nominal + self.threshold
        low = self.limits.lsl if self.limits.lsl is not None else -math.inf
        high = self.limits.usl if self.limits.usl is not None else math.inf
        return low, high

    def evidence(self) -> dict:
        return {"nominal": self.limits.nominal, "lsl": self.limits.lsl, "usl": self.limits.usl,
                "threshold": self.threshold}


def compile_check(rule: RuleSpec, characteristic_id: int, equipment_id: int | None,
                  limits: Limits) -> MeasurementCheck | None:
    """The check of a deviation/spec rule for one characteristic, or None where the rule cannot judge it
    (a deviation rule on a characteristic without nominal, a spec rule on one without limits)."""
    if rule.trigger == DEVIATION:
        if limits.nominal is None or rule.threshold is None or not _usable_threshold(rule.threshold):
            return None
    elif rule.trigger == SPEC:
        if limits.lsl is None and limits.usl is None:
            return None
    else:
        return None
    return MeasurementCheck(rule.id, rule.trigger, characteristic_id, equipment_id, limits, rule.threshold)


def _usable_threshold(threshold: float) -> bool:
    return math.isfinite(threshold) and threshold > 0


def alarm_source_key(rule_id: int, *, characteristic_id: int | None = None, equipment_id: int | None = None) -> str:
    """The alarm's source key: one open alarm per rule and characteristic (or equipment), so each rule keeps its own
    severity, actions and return to normal. Together with the trigger type it is the alarm's identity."""
    if characteristic_id is not None:
        return f"characteristic:{characteristic_id}/rule:{rule_id}"
    return f"equipment:{equipment_id}/rule:{rule_id}"
