"""The effectiveness verdict of a CAPA from before/after figures (docs/capa.md, "Effectiveness").

Effective when
- every named characteristic has at least `min_points_after` values after the fix, and its Cpk after is at least
  max(cpk_target, Cpk before) (Cpk before unknown → at least cpk_target); and
- the defect rate did not rise: after ≤ before × (1 + defect_rate_tolerance) (no production in either period →
  that criterion says "no data" and does not decide; some production after the fix but less than
  `min_produced_after` → "not yet": too little to show the rate); and
- there is something to judge (at least one characteristic or a defect rate on both sides).
"Not yet" otherwise, with the reasons.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

EFFECTIVE, NOT_YET = "effective", "not_yet"


@dataclass(frozen=True)
class EffectivenessPolicy:
    cpk_target: float = 1.33
    min_points_after: int = 25
    defect_rate_tolerance: float = 0.0
    min_produced_after: float = 0.0


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reasons: tuple[dict, ...] = field(default_factory=tuple)


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def judge_effectiveness(characteristics: list[dict], defect_rate: dict | None, policy: EffectivenessPolicy) -> Verdict:
    """`characteristics`: [{"code", "n_after", "cpk_before", "cpk_after"}]; `defect_rate`: {"before", "after"} rates
    (None where nothing was produced) and optionally "produced_after" (the quantity the "after" rate is based on)."""
    reasons = []
    for item in characteristics:
        code = item.get("code")
        n_after = int(item.get("n_after") or 0)
        before, after = _number(item.get("cpk_before")), _number(item.get("cpk_after"))
        if n_after < policy.min_points_after:
            reasons.append({"code": "too_few_points", "characteristic": code, "n": n_after,
                            "min": policy.min_points_after})
            continue
        required = max(policy.cpk_target, before if before is not None else policy.cpk_target)
        if after is None or after < required:
            reasons.append({"code": "cpk_too_low", "characteristic": code, "cpk_after": after,
                            "required": required})
    rate_before = _number((defect_rate or {}).get("before"))
    rate_after = _number((defect_rate or {}).get("after"))
    rate_judged = rate_before is not None and rate_after is not None
    produced_after = _number((defect_rate or {}).get("produced_after"))
    if rate_judged and produced_after is not None and produced_after < policy.min_produced_after:
        reasons.append({"code": "too_little_production", "produced": produced_after,
                        "min": policy.min_produced_after})
    elif rate_judged and rate_after > rate_before * (1.0 + policy.defect_rate_tolerance):
        reasons.append({"code": "defect_rate_rose", "before": rate_before, "after": rate_after})
    if not characteristics and not rate_judged:
        reasons.append({"code": "nothing_to_judge"})
    return Verdict(NOT_YET if reasons else EFFECTIVE, tuple(reasons))
