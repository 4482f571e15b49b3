"""Frozen control limits: the few parameters a chart's limits derive from, and the per-point limits they give.

A `Limits` is what phase I produces and phase II judges against. It stores process parameters, not limit
values, so a subgroup of any size gets its own exact limits (σ/√n for X̄, d2(n)σ ± 3d3(n)σ for R, ...), and EWMA
limits follow the exact time-varying variance. It serialises to a small JSON object for storage.
"""
from dataclasses import asdict, dataclass, fields

import numpy as np

from spc.engine.constants import c4, d2, d3, per_size

VARIABLES = ("xbar_r", "xbar_s", "imr")
ATTRIBUTES = ("p", "np", "c", "u")
TIME_WEIGHTED = ("ewma", "cusum")
CHART_TYPES = VARIABLES + ATTRIBUTES + TIME_WEIGHTED
CHART_NAMES = {
    "xbar_r": ("xbar", "r"), "xbar_s": ("xbar", "s"), "imr": ("i", "mr"),
    "p": ("p",), "np": ("np",), "c": ("c",), "u": ("u",), "ewma": ("ewma",), "cusum": ("cusum_pos", "cusum_neg"),
}
SIGMA_MULTIPLE = 3.0  # Shewhart limits; the zone rules are defined against ±1, 2, 3 σ


@dataclass(frozen=True)
class Limits:
    chart: str
    center: float  # μ (variables, EWMA, CUSUM target), p̄ (p, np), c̄ (c), ū (u)
    sigma: float | None = None  # process σ (variables, EWMA, CUSUM)
    sample_size: int | None = None  # np chart: the constant n
    sigma_method: str | None = None  # rbar | sbar | pooled | mrbar | given
    lam: float | None = None  # EWMA λ
    L: float | None = None  # EWMA limit width in σ_EWMA
    k: float | None = None  # CUSUM reference value, in σ
    h: float | None = None  # CUSUM decision interval, in σ

    def to_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict) -> "Limits":
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def limit_series(limits: Limits, count: int, sizes=None, ewma_factor=None) -> dict[str, tuple]:
    """Per-point (centre, sigma, ucl, lcl) arrays for each chart of `limits.chart`, for `count` points.

    `sizes` are the subgroup/sample sizes of the points (variables and p/u charts). EWMA limits depend on the
    position in the whole series through `ewma_factor` = (1 − λ)^(2i) per point (from `ewma_variance_factor`);
    without it the points are taken to start the series.
    """
    kind = limits.chart
    mu, sigma = limits.center, limits.sigma
    if kind in ("xbar_r", "xbar_s"):
        n = np.asarray(sizes, dtype=np.float64)
        series = {"xbar": _symmetric(np.full(count, mu), sigma / np.sqrt(n))}
        if kind == "xbar_r":
            center_r = per_size(d2, sizes) * sigma
            series["r"] = _floored(center_r, per_size(d3, sizes) * sigma)
        else:
            c4n = per_size(c4, sizes)
            series["s"] = _floored(c4n * sigma, np.sqrt(1.0 - c4n * c4n) * sigma)
        return series
    if kind == "imr":
        return {
            "i": _constant(_symmetric(np.float64(mu), np.float64(sigma)), count),
            "mr": _constant(_floored(np.float64(d2(2) * sigma), np.float64(d3(2) * sigma)), count),
        }
    if kind in ("p", "u"):
        n = np.asarray(sizes, dtype=np.float64)
        spread = mu * (1.0 - mu) if kind == "p" else mu
        return {kind: _floored(np.full(count, mu), np.sqrt(spread / n))}
    if kind == "np":
        n = float(limits.sample_size)
        return {"np": _constant(_floored(np.float64(_np_center(n, mu)), np.sqrt(np.float64(n * mu * (1.0 - mu)))), count)}
    if kind == "c":
        return {"c": _constant(_floored(np.float64(mu), np.sqrt(np.float64(mu))), count)}
    if kind == "ewma":
        factor = ewma_variance_factor(limits.lam, count) if ewma_factor is None else ewma_factor
        sigma_z = sigma * np.sqrt(limits.lam / (2.0 - limits.lam) * (1.0 - factor))
        center = np.full(count, mu)
        return {"ewma": (center, sigma_z, center + limits.L * sigma_z, center - limits.L * sigma_z)}
    if kind == "cusum":
        h = np.full(count, limits.h * sigma)
        zero, nan = np.zeros(count), np.full(count, np.nan)
        return {"cusum_pos": (zero, nan, h, zero), "cusum_neg": (zero, nan, h, zero)}
    raise ValueError(f"unknown chart type {kind!r}")


def ewma_variance_factor(lam: float, count: int, previous: float = 1.0) -> np.ndarray:
    """(1 − λ)^(2i) for the next `count` points, continuing from `previous` (the factor of the point before; 1 at
    the start) by repeated multiplication, so batch and live evaluation produce the same bits."""
    steps = np.full(count, (1.0 - lam) * (1.0 - lam))
    if count:
        steps[0] = previous * steps[0]
    return np.multiply.accumulate(steps)


def _constant(row, count):
    """Limits that are the same for every point: computed once (with the same operations as the per-point arrays)
    and broadcast as read-only views instead of materialising a million copies."""
    return tuple(np.broadcast_to(value, (count,)) for value in row)


def _symmetric(center, sigma):
    return center, sigma, center + SIGMA_MULTIPLE * sigma, center - SIGMA_MULTIPLE * sigma


def _floored(center, sigma):
    return center, sigma, center + SIGMA_MULTIPLE * sigma, np.maximum(center - SIGMA_MULTIPLE * sigma, 0.0)


def _np_center(n: float, p_bar: float) -> float:
    """n·p̄, snapped to the integer it rounds away from. p̄ = Σc/Σn, so n·p̄ = Σc/k exactly; with k ≤ 10⁶ samples
    its resolution is ≥ 10⁻⁶, so a product within 10⁻⁹ of an integer is that integer plus rounding error — left in,
    constant counts would sit just beside their own centre line and fire the same-side run rules."""
    center = n * p_bar
    nearest = round(center)
    return float(nearest) if abs(center - nearest) <= 1e-9 * max(1.0, abs(center)) else center

