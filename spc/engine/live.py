"""Incremental evaluation for live use: judge new points against frozen limits in O(1) per point.

A `LiveState` is everything one characteristic needs between arrivals: its frozen `Limits`, the rules per chart,
how many points have been judged, the chart statistics' carry (last value for the moving range, EWMA filter
state and variance factor, CUSUM sums and run lengths) and, per chart, the run-rule counters of `RuleTracker`
(at most the last 4 zone flags plus run lengths — never the history). It round-trips through JSON.

    state = LiveState.start(limits, rules={"xbar": ("N1", "N2")})       # or LiveState.from_history(...)
    signals, state = state.evaluate([[10.1, 10.3, 9.9, 10.0, 10.2]])   # one subgroup (X̄-R/X̄-S)
    signals, state = state.evaluate([10.1, 10.4])                      # individual values (I-MR, EWMA, CUSUM)
    signals, state = state.evaluate({"counts": [3], "sizes": [50]})    # attributes (sizes omitted for c)
    stored = state.to_dict(); state = LiveState.from_dict(stored)

`evaluate` fires exactly the signals that the batch `charts.evaluate` fires for the same points at the same
positions — the same statistics functions, the same limit arithmetic, and a rule tracker that mirrors the
vectorised rules operation for operation (tests/spc hold them to it with hypothesis).
"""
from dataclasses import dataclass, field

import numpy as np

from spc.engine.charts import ChartData, chart_statistics, cusum_signals, evaluate
from spc.engine.limits import CHART_NAMES, Limits, limit_series
from spc.engine.rules import WINDOW, RuleTracker, sort_signals
from spc.engine.subgroups import Subgroups


@dataclass
class LiveState:
    limits: Limits
    rules: dict[str, tuple]
    count: int = 0
    carry: dict = field(default_factory=dict)
    trackers: dict[str, RuleTracker] = field(default_factory=dict)
    # Per-size limit rows, computed by the batch `limit_series` itself (so the bits match); not serialised.
    _limit_rows: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def start(cls, limits: Limits, rules: dict[str, tuple]) -> "LiveState":
        names = CHART_NAMES[limits.chart]
        rules = {name: tuple(rules.get(name, ())) for name in names}
        return cls(limits, rules, 0, {}, {name: RuleTracker(rules[name]) for name in names})

    @classmethod
    def from_history(cls, limits: Limits, rules: dict[str, tuple], history) -> "LiveState":
        """The state after `history` (in `evaluate`'s input form), computed vectorised: statistics over the whole
        history, rule trackers warmed on its last WINDOW points only (no rule looks further back)."""
        state = cls.start(limits, rules)
        data = _chart_data(limits, history)
        if len(data) == 0:
            return state
        charts, carry = evaluate(limits, data, {})
        first = max(0, len(data) - WINDOW)
        for series in charts if limits.chart != "cusum" else ():  # CUSUM's state is its sums (in `carry`)
            tracker = state.trackers[series.name]
            for i in range(first, len(data)):
                tracker.push(i, float(series.points[i]), float(series.center[i]), float(series.sigma[i]),
                             float(series.ucl[i]), float(series.lcl[i]), series.name, [])
        return cls(limits, state.rules, len(data), carry, state.trackers)

    def evaluate(self, new_points) -> tuple[list, "LiveState"]:
        """Judge the new points (subgroups, values, or counts/sizes); returns (signals, new state)."""
        if self.limits.chart == "imr" and not isinstance(new_points, np.ndarray) and len(new_points) <= _SMALL:
            data, points, extra, carry = self._few_individuals(new_points)
        else:
            data = _chart_data(self.limits, new_points)
            if len(data) == 0:  # nothing new (subgroup statistics cannot reduce over zero subgroups)
                return [], self
            points, extra, carry = chart_statistics(self.limits, data, self.carry)
        count = len(data)
        if count == 0:
            return [], self
        rows = self._rows(data, count, extra)
        signals: list = []
        trackers = {}
        for name in CHART_NAMES[self.limits.chart]:
            values = points[name]
            if self.limits.chart == "cusum":
                runs = extra["run_pos"] if name == "cusum_pos" else extra["run_neg"]
                signals.extend(cusum_signals(name, values, runs, self.limits.h * self.limits.sigma, self.count))
                continue
            tracker = self.trackers[name].copy()
            found: list = []
            push = tracker.push
            index = self.count
            for x, (center, sigma, ucl, lcl) in zip(values.tolist(), rows[name], strict=True):
                push(index, x, center, sigma, ucl, lcl, name, found)
                index += 1
            signals.extend(sort_signals(found) if len(found) > 1 else found)
            trackers[name] = tracker
        return signals, LiveState(self.limits, self.rules, self.count + count, carry, trackers or self.trackers,
                                  self._limit_rows)

    def _few_individuals(self, new_points):
        """I-MR's statistics for a handful of values without numpy's per-call overhead — the same IEEE operations
        (difference, absolute value) as `chart_statistics`, so the same bits (the property tests cover it)."""
        values = [float(v) for v in new_points]
        previous = self.carry.get("last_value")
        moving = []
        for x in values:
            moving.append(abs(x - previous) if previous is not None else _NAN)
            previous = x
        carry = dict(self.carry)
        if values:
            carry["last_value"] = values[-1]
        data = ChartData("imr", values=_SizedList(values))
        return data, {"i": _SizedList(values), "mr": _SizedList(moving)}, {}, carry

    def _rows(self, data: ChartData, count: int, extra: dict) -> dict[str, list]:
        """(centre, sigma, ucl, lcl) per point and chart. Limits that depend only on n are cached per n."""
        sizes = data.point_sizes()
        if self.limits.chart == "ewma" or (sizes is not None and count > 1 and sizes.min() != sizes.max()):
            series = limit_series(self.limits, count, sizes, extra.get("ewma_factor"))
            return {name: list(zip(*(a.tolist() for a in arrays), strict=True)) for name, arrays in series.items()}
        key = None if sizes is None else float(sizes[0])
        cached = self._limit_rows.get(key)
        if cached is None:
            series = limit_series(self.limits, 1, None if sizes is None else sizes[:1])
            cached = {name: tuple(float(a[0]) for a in arrays) for name, arrays in series.items()}
            self._limit_rows[key] = cached
        return {name: [row] * count for name, row in cached.items()}

    def to_dict(self) -> dict:
        return {
            "limits": self.limits.to_dict(),
            "rules": {name: list(rules) for name, rules in self.rules.items()},
            "count": self.count,
            "carry": self.carry,
            "trackers": {name: tracker.to_dict() for name, tracker in self.trackers.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "LiveState":
        rules = {name: tuple(r) for name, r in data["rules"].items()}
        trackers = data.get("trackers", {})
        return cls(
            Limits.from_dict(data["limits"]),
            rules,
            int(data["count"]),
            dict(data.get("carry", {})),
            {name: RuleTracker(rules[name], trackers.get(name)) for name in rules},
        )


_SMALL = 8
_NAN = float("nan")


class _SizedList(list):
    """A plain list standing in for a 1-D array where the live path only needs len() and tolist()."""

    @property
    def size(self) -> int:
        return len(self)

    def tolist(self) -> list:
        return self


def _chart_data(limits: Limits, points) -> ChartData:
    kind = limits.chart
    if kind in ("xbar_r", "xbar_s"):
        groups = points.subgroups if isinstance(points, Subgroups) else Subgroups.from_lists(list(points))
        return ChartData(kind, subgroups=groups)
    if kind in ("imr", "ewma", "cusum"):
        return ChartData(kind, values=np.asarray(points, dtype=np.float64).reshape(-1))
    counts = np.asarray(points["counts"], dtype=np.float64)
    sizes = points.get("sizes")
    if kind == "np":
        sizes = np.full(counts.size, float(limits.sample_size)) if sizes is None else sizes
    return ChartData(kind, counts=counts, sizes=None if sizes is None else np.asarray(sizes, dtype=np.float64))
