"""Chart statistics, phase I estimation and batch evaluation against given limits.

- `ChartData` holds the validated input of one chart type (subgroups, individual values, or counts and sizes).
- `estimate_limits()` is phase I: process parameters from the baseline points (optionally minus excluded ones).
- `chart_statistics()` computes what each chart plots, continuing from a `carry` (last value for the moving range,
  EWMA filter state, CUSUM sums) so live evaluation can resume exactly where the batch left off.
- `evaluate()` judges points against frozen limits and runs the rules: phase II, or phase I's final pass.
"""
from dataclasses import dataclass, field

import numpy as np
from scipy import signal as scipy_signal

from spc.engine.constants import c4, d2, d3, per_size
from spc.engine.limits import CHART_NAMES, Limits, ewma_variance_factor, limit_series
from spc.engine.rules import Signal, detect, sort_signals
from spc.engine.subgroups import Subgroups

SBAR_EFFICIENCY = ((2, 0.88), (3, 0.92), (4, 0.94), (5, 0.95), (7, 0.96), (9, 0.97), (17, 0.98), (64, 0.99))


@dataclass(frozen=True)
class ChartData:
    chart: str
    subgroups: Subgroups | None = None
    values: np.ndarray | None = None
    counts: np.ndarray | None = None
    sizes: np.ndarray | None = None  # attribute sample sizes

    def __len__(self) -> int:
        if self.subgroups is not None:
            return len(self.subgroups)
        if self.values is not None:
            return int(self.values.size)
        return int(self.counts.size)

    def take(self, index) -> "ChartData":
        return ChartData(
            self.chart,
            subgroups=None if self.subgroups is None else self.subgroups.take(index),
            values=None if self.values is None else self.values[index],
            counts=None if self.counts is None else self.counts[index],
            sizes=None if self.sizes is None else self.sizes[index],
        )

    def point_sizes(self):
        """The n each point's limits depend on (None for charts whose limits do not vary with n)."""
        if self.subgroups is not None:
            return self.subgroups.sizes
        if self.chart in ("p", "u"):
            return self.sizes
        return None

    def observations(self) -> np.ndarray:
        """Individual measurements (variables and time-weighted charts), for capability."""
        return self.subgroups.values() if self.subgroups is not None else self.values


@dataclass
class ChartSeries:
    name: str
    points: np.ndarray
    center: np.ndarray
    sigma: np.ndarray
    ucl: np.ndarray
    lcl: np.ndarray
    signals: list[Signal] = field(default_factory=list)


@dataclass(frozen=True)
class Estimate:
    limits: Limits
    within_df: float | None  # degrees of freedom of the within-sigma estimate (capability confidence intervals)


# ---- phase I -------------------------------------------------------------------------------------------------------


def estimate_limits(data: ChartData, use: np.ndarray, params: dict) -> Estimate:
    """Process parameters from the points where `use` is True. `params` may fix `target` and/or `sigma`."""
    kind = data.chart
    target, given_sigma = params.get("target"), params.get("sigma")
    if kind in ("p", "np", "c", "u"):
        return Estimate(_attribute_limits(data, use, target), None)
    if kind in ("xbar_r", "xbar_s"):
        groups = data.subgroups.take(np.flatnonzero(use))
        mu = target if target is not None else _weighted_grand_mean(groups)
        if given_sigma is not None:
            sigma, method, df = given_sigma, "given", None
        else:
            method = params.get("sigma_method") or ("rbar" if kind == "xbar_r" else "sbar")
            sigma, df = within_sigma(groups, method)
        return Estimate(Limits(kind, float(mu), float(sigma), sigma_method=method), df)
    # individual values: imr, ewma, cusum
    values = data.values
    mu = target if target is not None else _mean(values[use])
    if given_sigma is not None:
        sigma, method, df = given_sigma, "given", None
    else:
        sigma, df = moving_range_sigma(values, use)
        method = "mrbar"
    extra = {}
    if kind == "ewma":
        extra = {"lam": float(params.get("lambda", 0.2)), "L": float(params.get("L", 3.0))}
    elif kind == "cusum":
        extra = {"k": float(params.get("k", 0.5)), "h": float(params.get("h", 5.0))}
    return Estimate(Limits(kind, float(mu), float(sigma), sigma_method=method, **extra), df)


def within_sigma(groups: Subgroups, method: str) -> tuple[float, float]:
    """σ within subgroups and its degrees of freedom (Minitab's approximations, for capability intervals).

    rbar: Σ fᵢ Rᵢ/d2(nᵢ) / Σ fᵢ with fᵢ = d2²/d3² (Burr's weights; R̄/d2 for equal n), ν ≈ 0.9·k(n̄ − 1)
    sbar: Σ hᵢ sᵢ/c4(nᵢ) / Σ hᵢ with hᵢ = c4²/(1 − c4²) (S̄/c4 for equal n), ν ≈ f(n̄)·k(n̄ − 1)
    pooled: √(Σ(nᵢ−1)sᵢ² / Σ(nᵢ−1)) / c4(Σ(nᵢ−1) + 1), ν = Σ(nᵢ − 1)
    """
    sizes = groups.sizes
    k, mean_n = len(groups), float(np.mean(sizes))
    if method == "rbar":
        d2n, d3n = per_size(d2, sizes), per_size(d3, sizes)
        weights = d2n**2 / d3n**2
        return float(np.sum(weights * groups.ranges() / d2n) / np.sum(weights)), 0.9 * k * (mean_n - 1.0)
    if method == "sbar":
        c4n = per_size(c4, sizes)
        weights = c4n**2 / (1.0 - c4n**2)
        efficiency = next((f for limit, f in SBAR_EFFICIENCY if mean_n <= limit), 1.0)
        return float(np.sum(weights * groups.stdevs() / c4n) / np.sum(weights)), efficiency * k * (mean_n - 1.0)
    if method == "pooled":
        dof = float(np.sum(sizes - 1))
        pooled = np.sqrt(np.sum((sizes - 1) * groups.stdevs() ** 2) / dof)
        return float(pooled / c4(int(dof) + 1)), dof
    raise ValueError(f"unknown sigma method {method!r}")


def moving_range_sigma(values: np.ndarray, use: np.ndarray) -> tuple[float, float]:
    """MR̄/d2(2) over consecutive pairs of used points; ν ≈ (number of values) − 1 (Minitab, span 2)."""
    pairs = use[1:] & use[:-1]
    ranges = np.abs(np.diff(values))[pairs]
    if ranges.size == 0:
        raise ValueError("need at least two consecutive values to estimate sigma from moving ranges")
    return float(np.mean(ranges) / d2(2)), float(ranges.size)


def _attribute_limits(data: ChartData, use: np.ndarray, target) -> Limits:
    kind = data.chart
    counts = data.counts[use]
    if kind == "c":
        center = target if target is not None else _mean(counts)
        return Limits(kind, float(center))
    sizes = data.sizes[use]
    center = target if target is not None else float(np.sum(counts) / np.sum(sizes))
    sample_size = int(data.sizes[0]) if kind == "np" else None
    return Limits(kind, float(center), sample_size=sample_size)


def _mean(values: np.ndarray) -> float:
    # Relative to the first value: a constant series has exactly that constant as its mean.
    return float(values[0] + np.mean(values - values[0]))


def _weighted_grand_mean(groups: Subgroups) -> float:
    means, sizes = groups.means(), groups.sizes
    return float(means[0] + np.sum(sizes * (means - means[0])) / np.sum(sizes))


# ---- statistics and evaluation ---------------------------------------------------------------------------------------


def chart_statistics(limits: Limits, data: ChartData, carry: dict | None = None):
    """What each chart plots for `data`, continuing from `carry`; returns (points by chart, extra, new carry).

    `extra` holds the CUSUM run lengths (N+, N−) that date a shift; `carry` is JSON-serialisable.
    """
    kind = limits.chart
    carry = dict(carry or {})
    if kind in ("xbar_r", "xbar_s"):
        groups = data.subgroups
        second = groups.ranges() if kind == "xbar_r" else groups.stdevs()
        return {"xbar": groups.means(), CHART_NAMES[kind][1]: second}, {}, carry
    if kind == "imr":
        values = data.values
        previous = carry.get("last_value")
        moving = np.empty(values.size)
        if values.size:
            moving[0] = abs(values[0] - previous) if previous is not None else np.nan
            moving[1:] = np.abs(values[1:] - values[:-1])
            carry["last_value"] = float(values[-1])
        return {"i": values, "mr": moving}, {}, carry
    if kind in ("p", "u"):
        return {kind: data.counts / data.sizes}, {}, carry
    if kind in ("np", "c"):
        return {kind: data.counts.astype(np.float64)}, {}, carry
    if kind == "ewma":
        # z − μ0 follows the same recursion on x − μ0; in that form a series sitting on target stays exactly on
        # target (λx + (1 − λ)z can miss x in the last bit and then "drift" across a zero-width limit).
        lam = limits.lam
        state = carry.get("ewma_state", 0.0)
        deviation, final = scipy_signal.lfilter([lam], [1.0, -(1.0 - lam)], data.values - limits.center, zi=[state])
        z = limits.center + deviation
        factor = ewma_variance_factor(lam, len(data), carry.get("ewma_factor", 1.0))
        if len(data):
            carry["ewma_state"], carry["ewma_factor"] = float(final[0]), float(factor[-1])
        return {"ewma": z}, {"ewma_factor": factor}, carry
    if kind == "cusum":
        return _cusum(limits, data.values, carry)
    raise ValueError(f"unknown chart type {kind!r}")


def _cusum(limits: Limits, values: np.ndarray, carry: dict):
    """Tabular CUSUM (Montgomery §9.1): C⁺ᵢ = max(0, xᵢ − (μ0 + K) + C⁺ᵢ₋₁), C⁻ᵢ = max(0, (μ0 − K) − xᵢ + C⁻ᵢ₋₁).

    A sequential loop on purpose: the recursion has no exact vectorised form, and the live evaluator must produce
    the same bits. The sums are never reset after a signal (Montgomery's Table 9.2 keeps accumulating).
    """
    k_units = limits.k * limits.sigma
    upper_ref, lower_ref = limits.center + k_units, limits.center - k_units
    pos, neg = carry.get("cusum_pos", 0.0), carry.get("cusum_neg", 0.0)
    run_pos, run_neg = carry.get("run_pos", 0), carry.get("run_neg", 0)
    count = values.size
    c_pos, c_neg = np.empty(count), np.empty(count)
    n_pos, n_neg = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.int64)
    for i, x in enumerate(values.tolist()):
        pos = max(0.0, x - upper_ref + pos)
        neg = max(0.0, lower_ref - x + neg)
        run_pos = run_pos + 1 if pos > 0.0 else 0
        run_neg = run_neg + 1 if neg > 0.0 else 0
        c_pos[i], c_neg[i], n_pos[i], n_neg[i] = pos, neg, run_pos, run_neg
    carry.update(cusum_pos=pos, cusum_neg=neg, run_pos=run_pos, run_neg=run_neg)
    return {"cusum_pos": c_pos, "cusum_neg": c_neg}, {"run_pos": n_pos, "run_neg": n_neg}, carry


def cusum_signals(name: str, sums: np.ndarray, runs: np.ndarray, decision: float, offset: int) -> list[Signal]:
    """C± above H: the points involved run back to where the sum left zero (N±), which dates the shift."""
    return [
        Signal(name, "CUSUM", i + offset, tuple(range(i + offset - int(runs[i]) + 1, i + offset + 1)))
        for i in np.flatnonzero(sums > decision).tolist()
    ]


def evaluate(limits: Limits, data: ChartData, rules_by_chart: dict[str, tuple], *, carry=None, offset: int = 0):
    """Judge `data` against `limits`; returns (list of ChartSeries, new carry)."""
    points, extra, carry = chart_statistics(limits, data, carry)
    series = limit_series(limits, len(data), data.point_sizes(), extra.get("ewma_factor"))
    charts = []
    for name in CHART_NAMES[limits.chart]:
        center, sigma, ucl, lcl = series[name]
        values = points[name]
        if limits.chart == "cusum":
            runs = extra["run_pos"] if name == "cusum_pos" else extra["run_neg"]
            signals = cusum_signals(name, values, runs, limits.h * limits.sigma, offset)
        else:
            signals = detect(rules_by_chart.get(name, ()), values, center, sigma, ucl, lcl, chart=name, offset=offset)
        charts.append(ChartSeries(name, values, center, sigma, ucl, lcl, sort_signals(signals)))
    return charts, carry
