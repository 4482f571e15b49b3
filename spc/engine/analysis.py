"""One-call analysis: validate the input, phase I limits from the baseline, judge every point, capability.

`analyze()` is what the stateless API calls. It raises `EngineInputError` (naming the field) for anything it
cannot analyse and returns an `Analysis` whose `to_dict()` is the API response.
"""
import gc
import math
from dataclasses import dataclass

import numpy as np

from spc.engine.capability import attribute_capability, capability
from spc.engine.charts import ChartData, ChartSeries, estimate_limits, evaluate, moving_range_sigma, within_sigma
from spc.engine.constants import MAX_SUBGROUP, MIN_SUBGROUP
from spc.engine.errors import EngineInputError
from spc.engine.limits import ATTRIBUTES, CHART_NAMES, CHART_TYPES, TIME_WEIGHTED, Limits
from spc.engine.rules import DEFAULT_RULES, RULES, SHEWHART_RULES
from spc.engine.subgroups import Subgroups

MAX_VALUES = 1_000_000
# Squares of larger numbers overflow double precision (variances, sums of squares): refuse them by name instead
# of returning infinite limits. No physical measurement comes near.
MAX_MAGNITUDE = 1e100
MAX_EXCLUSION_ROUNDS = 50
PARAMS = {
    "lambda", "L", "k", "h", "target", "sigma", "sigma_method", "baseline", "exclude", "exclude_out_of_control",
    "subgroup_size", "confidence", "transform",
}
SIGMA_METHODS = {"xbar_r": ("rbar", "sbar", "pooled"), "xbar_s": ("sbar", "pooled", "rbar")}
TRANSFORMS = ("auto", "none", "box-cox", "johnson")


@dataclass
class Analysis:
    chart: str
    charts: list[ChartSeries]
    limits: Limits
    rules: dict[str, tuple]
    baseline_count: int
    excluded: list[int]
    sigma_within: float | None
    sigma_overall: float | None
    capability: dict | None

    def to_dict(self) -> dict:
        # Millions of new floats and small dicts would trigger the cyclic GC over and over, each pass walking the
        # million-item lists already built (seconds for a 1M-point analysis); nothing here can form a cycle.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._to_dict()
        finally:
            if enabled:
                gc.enable()

    def _to_dict(self) -> dict:
        return {
            "chart": self.chart,
            "charts": [
                {
                    "name": c.name,
                    "points": _json_floats(c.points),
                    "center": _json_floats(c.center),
                    "ucl": _json_floats(c.ucl),
                    "lcl": _json_floats(c.lcl),
                    "signals": [s.to_dict() for s in c.signals],
                }
                for c in self.charts
            ],
            "sigma_within": _json_number(self.sigma_within),
            "sigma_overall": _json_number(self.sigma_overall),
            "limits": self.limits.to_dict(),
            "rules": {name: list(rules) for name, rules in self.rules.items()},
            "baseline": {"count": self.baseline_count, "excluded": self.excluded},
            "capability": self.capability,
        }


def analyze(chart, *, subgroups=None, values=None, counts=None, sizes=None, rules=None, dispersion_rules=None,
            params=None, spec=None) -> Analysis:
    if chart not in CHART_TYPES:
        raise EngineInputError(f"Unknown chart {chart!r}; expected one of {', '.join(CHART_TYPES)}.",
                               field="chart", code="unknown_chart")
    params = validate_params(chart, params or {})
    data = build_data(chart, subgroups=subgroups, values=values, counts=counts, sizes=sizes, params=params)
    rules_by_chart = resolve_rules(chart, rules, dispersion_rules)
    spec = validate_spec(chart, spec)

    count = len(data)
    baseline = params.get("baseline", count)
    if baseline > count:
        raise EngineInputError(f"params.baseline is {baseline} but there are only {count} points.",
                               field="params", code="invalid_baseline")
    use = np.arange(count) < baseline
    for index in params.get("exclude", ()):
        if index >= count:
            raise EngineInputError(f"params.exclude names point {index}; the last point is {count - 1}.",
                                   field="params", code="invalid_exclude")
        use[index] = False
    estimate = _estimate(data, use, params)
    if params.get("exclude_out_of_control") and chart not in TIME_WEIGHTED:
        estimate, use = _exclude_out_of_control(data, use, params, estimate)

    charts, _ = evaluate(estimate.limits, data, rules_by_chart)
    used = data.take(np.flatnonzero(use))
    limits = estimate.limits
    overall = None
    result_capability = None
    if chart in ATTRIBUTES:
        result_capability = attribute_capability(limits, used.counts, used.sizes, params.get("confidence", 0.95))
    else:
        observations = used.observations()
        overall = float(np.std(observations, ddof=1)) if observations.size > 1 else None
        if spec is not None:
            result_capability = capability(
                observations, lsl=spec.get("lsl"), usl=spec.get("usl"), target=spec.get("target"),
                sigma_within=limits.sigma, within_df=estimate.within_df,
                within_sigma_of=_within_estimator(used, limits),
                confidence=params.get("confidence", 0.95), transform=params.get("transform", "auto"),
            )
    return Analysis(
        chart=chart, charts=charts, limits=limits, rules=rules_by_chart, baseline_count=int(baseline),
        excluded=[int(i) for i in np.flatnonzero(~use[:baseline])], sigma_within=limits.sigma,
        sigma_overall=overall, capability=result_capability,
    )


def _estimate(data: ChartData, use: np.ndarray, params: dict):
    if not use.any():
        raise EngineInputError("No baseline points are left to compute limits from.", field="params",
                               code="empty_baseline")
    try:
        return estimate_limits(data, use, params)
    except ValueError as exc:
        raise EngineInputError(f"{exc} (or give params.sigma).", field="values", code="too_few_points") from exc


def _exclude_out_of_control(data: ChartData, use: np.ndarray, params: dict, estimate):
    """Phase I as engineers do it: drop baseline points beyond the limits of any of the chart's charts, recompute,
    repeat until no baseline point is out (Montgomery §6.2 "revised control limits")."""
    beyond_only = {name: ("WE1",) for name in CHART_NAMES[data.chart]}
    for _ in range(MAX_EXCLUSION_ROUNDS):
        charts, _ = evaluate(estimate.limits, data, beyond_only)
        out = np.zeros(len(data), dtype=bool)
        for series in charts:
            out[[s.index for s in series.signals]] = True
        newly_out = out & use
        if not newly_out.any():
            break
        use = use & ~newly_out
        estimate = _estimate(data, use, params)
    return estimate, use


def _within_estimator(used: ChartData, limits: Limits):
    """σ within, recomputed the chart's way on transformed data (the Box-Cox route needs it)."""
    if used.subgroups is not None and limits.sigma_method in ("rbar", "sbar", "pooled"):
        groups = used.subgroups

        def of(transform):
            return within_sigma(Subgroups(transform(groups.padded), groups.sizes), limits.sigma_method)[0]

        return of
    if limits.sigma_method == "mrbar":
        values = used.values

        def of(transform):
            return moving_range_sigma(transform(values), np.ones(values.size, dtype=bool))[0]

        return of
    return None


# ---- validation ------------------------------------------------------------------------------------------------------


def build_data(chart, *, subgroups=None, values=None, counts=None, sizes=None, params=None) -> ChartData:
    params = params or {}
    if chart in ("xbar_r", "xbar_s"):
        _forbid(chart, values=values, counts=counts, sizes=sizes)
        return ChartData(chart, subgroups=_subgroups(subgroups, params.get("subgroup_size")))
    if chart in ("imr", "ewma", "cusum"):
        _forbid(chart, subgroups=subgroups, counts=counts, sizes=sizes)
        return ChartData(chart, values=_numbers(values, "values"))
    _forbid(chart, subgroups=subgroups, values=values)
    counts_array = _numbers(counts, "counts")
    _check_total(counts_array.size)
    if np.any(counts_array < 0) or np.any(counts_array != np.floor(counts_array)):
        bad = int(np.flatnonzero((counts_array < 0) | (counts_array != np.floor(counts_array)))[0])
        raise EngineInputError(f"counts[{bad}] is {counts_array[bad]!r}; counts must be whole numbers ≥ 0.",
                               field="counts", code="invalid_count")
    if chart == "c":
        if sizes is not None:
            raise EngineInputError("A c chart counts defects per constant inspection unit and takes no sizes; "
                                   "use a u chart for varying sizes.", field="sizes", code="unexpected_field")
        return ChartData(chart, counts=counts_array)
    sizes_array = _numbers(sizes, "sizes")
    if sizes_array.size != counts_array.size:
        raise EngineInputError(f"sizes has {sizes_array.size} items but counts has {counts_array.size}.",
                               field="sizes", code="length_mismatch")
    if np.any(sizes_array <= 0):
        bad = int(np.flatnonzero(sizes_array <= 0)[0])
        raise EngineInputError(f"sizes[{bad}] is {sizes_array[bad]!r}; sizes must be > 0.", field="sizes",
                               code="invalid_size")
    if chart in ("p", "np"):
        if np.any(sizes_array != np.floor(sizes_array)):
            bad = int(np.flatnonzero(sizes_array != np.floor(sizes_array))[0])
            raise EngineInputError(f"sizes[{bad}] is {sizes_array[bad]!r}; a sample size is a whole number.",
                                   field="sizes", code="invalid_size")
        if np.any(sizes_array < counts_array):
            bad = int(np.flatnonzero(sizes_array < counts_array)[0])
            raise EngineInputError(
                f"sizes[{bad}] = {sizes_array[bad]:g} is smaller than counts[{bad}] = {counts_array[bad]:g}: "
                "a sample cannot have more nonconforming units than units.", field="sizes", code="size_below_count")
    if chart == "np" and np.any(sizes_array != sizes_array[0]):
        raise EngineInputError("An np chart needs one constant sample size; the sizes vary (use a p chart).",
                               field="sizes", code="ragged_sizes")
    return ChartData(chart, counts=counts_array, sizes=sizes_array)


def _forbid(chart, **fields):
    for name, value in fields.items():
        if value is not None:
            raise EngineInputError(f"A {chart} chart does not take '{name}'.", field=name, code="unexpected_field")


def _check_total(total: int) -> None:
    if total > MAX_VALUES:
        raise EngineInputError(f"{total} values exceed the limit of {MAX_VALUES} per analysis.",
                               field="non_field_errors", code="too_many_points", status=413)


def _numbers(items, field: str) -> np.ndarray:
    if items is None:
        raise EngineInputError(f"'{field}' is required for this chart.", field=field, code="required")
    if not isinstance(items, (list, tuple, np.ndarray)):
        raise EngineInputError(f"'{field}' must be a list of numbers.", field=field, code="not_a_list")
    _check_total(len(items))
    if len(items) == 0:
        raise EngineInputError(f"'{field}' is empty.", field=field, code="empty")
    if not isinstance(items, np.ndarray) and not set(map(type, items)) <= {int, float}:
        position, item = next((i, v) for i, v in enumerate(items) if type(v) not in (int, float))
        raise EngineInputError(f"{field}[{position}] is {item!r}, not a number.", field=field, code="not_a_number")
    array = np.asarray(items, dtype=np.float64)
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise EngineInputError(f"{field}[{bad}] is not a finite number.", field=field, code="non_finite")
    huge = np.abs(array) > MAX_MAGNITUDE
    if huge.any():
        bad = int(np.flatnonzero(huge)[0])
        raise EngineInputError(f"{field}[{bad}] = {array[bad]:g} is beyond ±{MAX_MAGNITUDE:g}.", field=field,
                               code="out_of_range")
    return array


def _subgroups(groups, required_size) -> Subgroups:
    if groups is None:
        raise EngineInputError("'subgroups' is required for this chart.", field="subgroups", code="required")
    if not isinstance(groups, (list, tuple)):
        raise EngineInputError("'subgroups' must be a list of lists of numbers.", field="subgroups",
                               code="not_a_list")
    if len(groups) == 0:
        raise EngineInputError("'subgroups' is empty.", field="subgroups", code="empty")
    total = 0
    for row, group in enumerate(groups):
        if not isinstance(group, (list, tuple)):
            raise EngineInputError(f"subgroups[{row}] must be a list of numbers.", field="subgroups",
                                   code="not_a_list")
        size = len(group)
        total += size
        if size < MIN_SUBGROUP or size > MAX_SUBGROUP:
            raise EngineInputError(
                f"subgroups[{row}] has {size} values; X̄-R and X̄-S subgroups need {MIN_SUBGROUP} to {MAX_SUBGROUP}.",
                field="subgroups", code="subgroup_size_out_of_range")
        if required_size is not None and size != required_size:
            raise EngineInputError(
                f"subgroups[{row}] has {size} values but params.subgroup_size is {required_size}: ragged subgroups "
                "are not allowed here.", field="subgroups", code="ragged_subgroups")
        for column, item in enumerate(group):
            if type(item) not in (int, float):
                raise EngineInputError(f"subgroups[{row}][{column}] is {item!r}, not a number.", field="subgroups",
                                       code="not_a_number")
            if not math.isfinite(item):
                raise EngineInputError(f"subgroups[{row}][{column}] is not a finite number.", field="subgroups",
                                       code="non_finite")
            if abs(item) > MAX_MAGNITUDE:
                raise EngineInputError(f"subgroups[{row}][{column}] = {item:g} is beyond ±{MAX_MAGNITUDE:g}.",
                                       field="subgroups", code="out_of_range")
    _check_total(total)
    return Subgroups.from_lists(groups)


def resolve_rules(chart, rules, dispersion_rules) -> dict[str, tuple]:
    names = CHART_NAMES[chart]
    if chart == "cusum":
        allowed, default = ("CUSUM",), ("CUSUM",)
    elif chart == "ewma":
        allowed, default = ("EWMA",), ("EWMA",)
    else:
        allowed, default = SHEWHART_RULES, DEFAULT_RULES
    primary = _rule_list(rules, allowed, default, "rules", chart)
    result = {names[0]: primary}
    if chart == "cusum":
        result = {"cusum_pos": primary, "cusum_neg": primary}
    elif len(names) > 1:
        default_dispersion = tuple(r for r in primary if RULES[r].kind == "beyond")
        result[names[1]] = _rule_list(dispersion_rules, allowed, default_dispersion, "dispersion_rules", chart)
    elif dispersion_rules:
        raise EngineInputError(f"A {chart} chart has no dispersion chart.", field="dispersion_rules",
                               code="unexpected_field")
    return result


def _rule_list(rules, allowed, default, field, chart) -> tuple:
    if rules is None:
        return tuple(default)
    if not isinstance(rules, (list, tuple)):
        raise EngineInputError(f"'{field}' must be a list of rule ids.", field=field, code="not_a_list")
    chosen = []
    for rule in rules:
        if rule not in RULES and rule != "CUSUM":
            raise EngineInputError(f"Unknown rule {rule!r}; rules are WE1–WE4, N1–N8 (EWMA, CUSUM for those charts).",
                                   field=field, code="unknown_rule")
        if rule not in allowed:
            raise EngineInputError(
                f"Rule {rule!r} does not apply to a {chart} chart; it allows {', '.join(allowed)} "
                "(run rules assume independent points; EWMA and CUSUM statistics are autocorrelated).",
                field=field, code="rule_not_applicable")
        if rule not in chosen:
            chosen.append(rule)
    return tuple(chosen)


def validate_params(chart, params: dict) -> dict:
    if not isinstance(params, dict):
        raise EngineInputError("'params' must be an object.", field="params", code="invalid")
    unknown = sorted(set(params) - PARAMS)
    if unknown:
        raise EngineInputError(f"Unknown parameter(s): {', '.join(unknown)}.", field="params", code="unknown_param")
    out = {}
    for name, value in params.items():
        if value is None:
            continue
        if name in ("lambda", "L", "k", "h", "target", "sigma", "confidence"):
            if type(value) not in (int, float) or not math.isfinite(value):
                raise EngineInputError(f"params.{name} must be a finite number.", field="params", code="invalid_param")
            value = float(value)
        out[name] = value
    checks = (
        ("lambda", lambda v: 0 < v <= 1, "must be in (0, 1]"),
        ("L", lambda v: v > 0, "must be > 0"),
        ("k", lambda v: v >= 0, "must be ≥ 0"),
        ("h", lambda v: v > 0, "must be > 0"),
        ("sigma", lambda v: v > 0, "must be > 0"),
        ("confidence", lambda v: 0 < v < 1, "must be in (0, 1)"),
        ("baseline", lambda v: type(v) is int and v >= 1, "must be a whole number ≥ 1"),
        ("subgroup_size", lambda v: type(v) is int and MIN_SUBGROUP <= v <= MAX_SUBGROUP, "must be 2 to 25"),
        ("exclude_out_of_control", lambda v: type(v) is bool, "must be true or false"),
        ("transform", lambda v: v in TRANSFORMS, f"must be one of {', '.join(TRANSFORMS)}"),
        ("exclude", lambda v: isinstance(v, list) and all(type(i) is int and i >= 0 for i in v),
         "must be a list of point indices ≥ 0"),
    )
    for name, ok, message in checks:
        if name in out and not ok(out[name]):
            raise EngineInputError(f"params.{name} {message}.", field="params", code="invalid_param")
    if "sigma_method" in out and out["sigma_method"] not in SIGMA_METHODS.get(chart, ()):
        allowed = ", ".join(SIGMA_METHODS.get(chart, ())) or "none (fixed by the chart)"
        raise EngineInputError(f"params.sigma_method for a {chart} chart must be one of: {allowed}.", field="params",
                               code="invalid_param")
    if chart in ATTRIBUTES and "sigma" in out:
        raise EngineInputError("params.sigma does not apply to attribute charts (their sigma follows from the "
                               "centre); give params.target as the standard p, c or u.", field="params",
                               code="invalid_param")
    if chart in ("p", "np") and "target" in out and not 0 <= out["target"] <= 1:
        raise EngineInputError("params.target for a p/np chart is a proportion in [0, 1].", field="params",
                               code="invalid_param")
    return out


def validate_spec(chart, spec):
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise EngineInputError("'spec' must be an object with lsl, usl and/or target.", field="spec", code="invalid")
    if chart in ATTRIBUTES:
        raise EngineInputError("Specification limits apply to variables data, not to attribute charts.",
                               field="spec", code="unexpected_field")
    unknown = sorted(set(spec) - {"lsl", "usl", "target"})
    if unknown:
        raise EngineInputError(f"Unknown spec field(s): {', '.join(unknown)}.", field="spec", code="invalid")
    clean = {}
    for name in ("lsl", "usl", "target"):
        value = spec.get(name)
        if value is None:
            continue
        if type(value) not in (int, float) or not math.isfinite(value):
            raise EngineInputError(f"spec.{name} must be a finite number.", field="spec", code="invalid")
        clean[name] = float(value)
    if "lsl" not in clean and "usl" not in clean:
        raise EngineInputError("spec needs at least one of lsl and usl.", field="spec", code="invalid")
    if "lsl" in clean and "usl" in clean and clean["lsl"] >= clean["usl"]:
        raise EngineInputError("spec.lsl must be below spec.usl.", field="spec", code="invalid")
    return clean


def _json_floats(array: np.ndarray) -> list:
    values = array.tolist()
    for index in np.flatnonzero(~np.isfinite(array)).tolist():
        values[index] = None
    return values


def _json_number(value):
    return None if value is None or not math.isfinite(value) else float(value)
