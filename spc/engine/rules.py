"""Run rules (Western Electric 1–4, Nelson 1–8): one definition table, two evaluators that agree exactly.

`detect()` is the vectorised batch evaluator (a million points in a fraction of a second); `RuleTracker` is the
scalar, O(1)-per-point evaluator for live use whose whole state is a handful of counters. Both compute the same
per-point features with the same floating-point operations, so they fire the same signals — a property test
holds them to it.

Conventions (documented in docs/spc.md):
- z = (x − centre) / σ_point with the chart's own per-point sigma; zone rules are skipped where σ_point is 0 or
  not finite (a constant baseline has zero sigma: limits collapse to the centre and only rule 1 can fire).
- "beyond k σ" is strict (z > k), "within 1 σ" is strict (|z| < 1), a point on the centre line belongs to
  neither side and breaks a same-side run, a tie breaks a trend and an alternation.
- A signal is reported at the point that completes the pattern (every later point of a continuing run signals
  again, as Minitab marks them). For "k of m" rules the completing point must itself be beyond the zone
  boundary on that side; the window may be shorter at the very start of the series.
- `points` lists the indices involved: the whole run, or the points beyond the boundary in a k-of-m window.
"""
from dataclasses import dataclass

import numpy as np

_INF = float("inf")


@dataclass(frozen=True, slots=True)
class RuleDefinition:
    id: str
    kind: str  # beyond | side_run | trend | alternate | k_of_m | within | outside
    length: int = 1  # points in the pattern (runs) or window size m (k of m)
    count: int = 1  # k (k of m)
    zone: float = 0.0  # zone boundary in sigma units (k of m)
    description: str = ""


RULES: dict[str, RuleDefinition] = {
    r.id: r
    for r in (
        RuleDefinition("WE1", "beyond", description="1 point beyond the 3σ control limits"),
        RuleDefinition("WE2", "k_of_m", 3, 2, 2.0, "2 of 3 consecutive points beyond 2σ, same side"),
        RuleDefinition("WE3", "k_of_m", 5, 4, 1.0, "4 of 5 consecutive points beyond 1σ, same side"),
        RuleDefinition("WE4", "side_run", 8, description="8 consecutive points on the same side of the centre line"),
        RuleDefinition("N1", "beyond", description="1 point beyond the 3σ control limits"),
        RuleDefinition("N2", "side_run", 9, description="9 consecutive points on the same side of the centre line"),
        RuleDefinition("N3", "trend", 6, description="6 consecutive points steadily increasing or decreasing"),
        RuleDefinition("N4", "alternate", 14, description="14 consecutive points alternating up and down"),
        RuleDefinition("N5", "k_of_m", 3, 2, 2.0, "2 of 3 consecutive points beyond 2σ, same side"),
        RuleDefinition("N6", "k_of_m", 5, 4, 1.0, "4 of 5 consecutive points beyond 1σ, same side"),
        RuleDefinition("N7", "within", 15, description="15 consecutive points within 1σ of the centre line"),
        RuleDefinition("N8", "outside", 8, description="8 consecutive points beyond 1σ, either side"),
        RuleDefinition("EWMA", "beyond", description="EWMA statistic beyond its L·σ_EWMA limits"),
    )
}
SHEWHART_RULES = tuple(r for r in RULES if r != "EWMA")
DEFAULT_RULES = ("WE1", "WE2", "WE3", "WE4")
NELSON_RULES = tuple(f"N{i}" for i in range(1, 9))
WINDOW = 15  # the longest pattern (N7): the most history any rule needs
_RUN_CAP = 1000  # live counters stop growing here; every threshold is ≤ WINDOW


@dataclass(frozen=True, slots=True)
class Signal:
    chart: str
    rule: str
    index: int
    points: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"index": self.index, "rule": self.rule, "points": list(self.points)}


# ---- batch ---------------------------------------------------------------------------------------------------------


def _run_lengths(condition: np.ndarray) -> np.ndarray:
    """For each i, how many consecutive True values end at i."""
    position = np.arange(1, condition.size + 1, dtype=np.int32)
    last_false = np.where(condition, np.int32(0), position)
    np.maximum.accumulate(last_false, out=last_false)
    return position - last_false


def _previous_count(flags: np.ndarray, window: int) -> np.ndarray:
    """For each i, how many of the `window` points before i are flagged (fewer exist at the start)."""
    cumulative = np.concatenate((np.zeros(1, dtype=np.int32), np.cumsum(flags, dtype=np.int32)))
    index = np.arange(flags.size, dtype=np.int32)
    return cumulative[index] - cumulative[np.maximum(index - window, 0)]


class _Features:
    """Per-point booleans, computed once and shared by the rules that need them."""

    def __init__(self, x, center, sigma, ucl, lcl):
        self.x, self.center, self.sigma, self.ucl, self.lcl = x, center, sigma, ucl, lcl
        self._cache = {}

    def get(self, name):
        if name not in self._cache:
            self._cache[name] = getattr(self, "_" + name)()
        return self._cache[name]

    def _z(self):
        usable = (self.sigma > 0) & (self.sigma < _INF)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(usable, (self.x - self.center) / np.where(usable, self.sigma, 1.0), np.nan)

    def _beyond(self):
        return (self.x > self.ucl) | (self.x < self.lcl)

    def _above(self):
        return self.x > self.center

    def _below(self):
        return self.x < self.center

    def _increase(self):
        out = np.zeros(self.x.size, dtype=bool)
        out[1:] = self.x[1:] > self.x[:-1]
        return out

    def _decrease(self):
        out = np.zeros(self.x.size, dtype=bool)
        out[1:] = self.x[1:] < self.x[:-1]
        return out

    def _alternate(self):
        inc, dec = self.get("increase"), self.get("decrease")
        out = np.zeros(self.x.size, dtype=bool)
        out[1:] = (inc[1:] & dec[:-1]) | (dec[1:] & inc[:-1])
        return out

    def _within(self):
        z = self.get("z")
        return (z > -1.0) & (z < 1.0)

    def _outside(self):
        z = self.get("z")
        return (z > 1.0) | (z < -1.0)


def detect(rules, x, center, sigma, ucl, lcl, *, chart: str, offset: int = 0) -> list[Signal]:
    """All signals of `rules` on one chart. Arrays are per point; NaN points never take part in a pattern."""
    x = np.asarray(x, dtype=np.float64)
    features = _Features(x, *(np.asarray(a, dtype=np.float64) for a in (center, sigma, ucl, lcl)))
    signals: list[Signal] = []
    for rule_id in rules:
        rule = RULES[rule_id]
        for index, points in _fire(rule, features):
            signals.append(Signal(chart, rule_id, index + offset, tuple(p + offset for p in points)))
    signals.sort(key=lambda s: (s.index, _ORDER[s.rule]))
    return signals


def _fire(rule: RuleDefinition, f: _Features):
    if rule.kind == "beyond":
        for i in np.flatnonzero(f.get("beyond")).tolist():
            yield i, (i,)
        return
    if rule.kind == "k_of_m":
        z = f.get("z")
        for flags in (z > rule.zone, z < -rule.zone):
            fired = flags & (_previous_count(flags, rule.length - 1) >= rule.count - 1)
            for i in np.flatnonzero(fired).tolist():
                start = max(0, i - rule.length + 1)
                yield i, tuple(start + j for j in np.flatnonzero(flags[start:i + 1]).tolist())
        return
    if rule.kind == "side_run":
        conditions, needed = (f.get("above"), f.get("below")), rule.length
    elif rule.kind == "trend":
        conditions, needed = (f.get("increase"), f.get("decrease")), rule.length - 1
    elif rule.kind == "alternate":
        conditions, needed = (f.get("alternate"),), rule.length - 2
    elif rule.kind == "within":
        conditions, needed = (f.get("within"),), rule.length
    else:  # outside
        conditions, needed = (f.get("outside"),), rule.length
    for condition in conditions:
        for i in np.flatnonzero(_run_lengths(condition) >= needed).tolist():
            yield i, tuple(range(i - rule.length + 1, i + 1))


_ORDER = {rule_id: position for position, rule_id in enumerate(RULES)}
_ORDER["CUSUM"] = len(_ORDER)


# ---- live ----------------------------------------------------------------------------------------------------------

_A2_UP, _A2_DOWN, _B1_UP, _B1_DOWN = 1, 2, 4, 8
_ZONE_BITS = {(2.0, 1): _A2_UP, (2.0, -1): _A2_DOWN, (1.0, 1): _B1_UP, (1.0, -1): _B1_DOWN}


class RuleTracker:
    """Scalar twin of `detect()` for one chart: feed points one by one, O(1) each, state serialisable to JSON."""

    __slots__ = ("rules", "compiled", "above", "below", "increasing", "decreasing", "alternating", "within", "outside",
                 "last_x", "last_increase", "last_decrease", "recent")

    def __init__(self, rules, state: dict | None = None):
        self.rules = tuple(rules)
        self.compiled = tuple(RULES[r] for r in self.rules if r in RULES)
        state = state or {}
        self.above = state.get("above", 0)
        self.below = state.get("below", 0)
        self.increasing = state.get("increasing", 0)
        self.decreasing = state.get("decreasing", 0)
        self.alternating = state.get("alternating", 0)
        self.within = state.get("within", 0)
        self.outside = state.get("outside", 0)
        last_x = state.get("last_x")
        self.last_x = float("nan") if last_x is None else float(last_x)
        self.last_increase = state.get("last_increase", False)
        self.last_decrease = state.get("last_decrease", False)
        self.recent = list(state.get("recent", ()))  # zone bit masks of the last 4 points, oldest first

    def copy(self) -> "RuleTracker":
        twin = RuleTracker.__new__(RuleTracker)
        twin.rules, twin.compiled, twin.above, twin.below = self.rules, self.compiled, self.above, self.below
        twin.increasing, twin.decreasing, twin.alternating = self.increasing, self.decreasing, self.alternating
        twin.within, twin.outside, twin.last_x = self.within, self.outside, self.last_x
        twin.last_increase, twin.last_decrease, twin.recent = self.last_increase, self.last_decrease, list(self.recent)
        return twin

    def to_dict(self) -> dict:
        return {
            "above": self.above, "below": self.below, "increasing": self.increasing,
            "decreasing": self.decreasing, "alternating": self.alternating, "within": self.within,
            "outside": self.outside, "last_x": None if self.last_x != self.last_x else self.last_x,
            "last_increase": self.last_increase, "last_decrease": self.last_decrease, "recent": list(self.recent),
        }

    def push(self, index: int, x: float, center: float, sigma: float, ucl: float, lcl: float, chart: str,
             out: list) -> None:
        # The same comparisons and the same arithmetic as _Features, point by point.
        if sigma > 0 and sigma < _INF:
            z = (x - center) / sigma
        else:
            z = float("nan")
        increase = x > self.last_x
        decrease = x < self.last_x
        alternate = (increase and self.last_decrease) or (decrease and self.last_increase)
        # Counters stop at _RUN_CAP (every threshold is far below) so the stored state stays small.
        self.above = (self.above + 1 if self.above < _RUN_CAP else _RUN_CAP) if x > center else 0
        self.below = (self.below + 1 if self.below < _RUN_CAP else _RUN_CAP) if x < center else 0
        self.increasing = (self.increasing + 1 if self.increasing < _RUN_CAP else _RUN_CAP) if increase else 0
        self.decreasing = (self.decreasing + 1 if self.decreasing < _RUN_CAP else _RUN_CAP) if decrease else 0
        self.alternating = (self.alternating + 1 if self.alternating < _RUN_CAP else _RUN_CAP) if alternate else 0
        self.within = (self.within + 1 if self.within < _RUN_CAP else _RUN_CAP) if -1.0 < z < 1.0 else 0
        self.outside = (self.outside + 1 if self.outside < _RUN_CAP else _RUN_CAP) if (z > 1.0 or z < -1.0) else 0
        bits = (_A2_UP if z > 2.0 else 0) | (_A2_DOWN if z < -2.0 else 0) | (_B1_UP if z > 1.0 else 0) | (
            _B1_DOWN if z < -1.0 else 0)
        for rule in self.compiled:
            rule_id, kind = rule.id, rule.kind
            if kind == "beyond":
                if x > ucl or x < lcl:
                    out.append(Signal(chart, rule_id, index, (index,)))
            elif kind == "k_of_m":
                self._k_of_m(rule, bits, index, chart, out)
            else:
                if kind == "side_run":
                    hit = self.above >= rule.length or self.below >= rule.length
                elif kind == "trend":
                    hit = self.increasing >= rule.length - 1 or self.decreasing >= rule.length - 1
                elif kind == "alternate":
                    hit = self.alternating >= rule.length - 2
                elif kind == "within":
                    hit = self.within >= rule.length
                else:
                    hit = self.outside >= rule.length
                if hit:
                    out.append(Signal(chart, rule_id, index, tuple(range(index - rule.length + 1, index + 1))))
        self.last_x = x
        self.last_increase = increase
        self.last_decrease = decrease
        self.recent.append(bits)
        if len(self.recent) > 4:
            del self.recent[0]

    def _k_of_m(self, rule: RuleDefinition, bits: int, index: int, chart: str, out: list) -> None:
        window = self.recent[-(rule.length - 1):] if rule.length > 1 else []
        for side in (1, -1):
            flag = _ZONE_BITS[(rule.zone, side)]
            if not bits & flag:
                continue
            if sum(1 for b in window if b & flag) >= rule.count - 1:
                first = index - len(window)
                involved = [first + j for j, b in enumerate(window) if b & flag]
                out.append(Signal(chart, rule.id, index, (*involved, index)))


def sort_signals(signals: list[Signal]) -> list[Signal]:
    return sorted(signals, key=lambda s: (s.index, _ORDER[s.rule]))
