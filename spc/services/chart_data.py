"""What the chart page draws: stored chart points with their per-point limits, signals, revisions, and the
capability panel — decimated on the server so 100,000 points stay usable in the browser.

Decimation (when more points fall in the range than `max_points`): the points are cut into buckets of consecutive
points; each bucket keeps its lowest and highest main-chart point (the envelope a dense chart shows anyway), its
first point, and every point that carries a signal — a signal is never decimated away.
"""
from __future__ import annotations

import math
from datetime import datetime

import numpy as np
from django.utils import timezone

from spc.engine.analysis import analyze
from spc.engine.errors import EngineInputError
from spc.engine.limits import CHART_NAMES, Limits, limit_series
from spc.labels import chart_label, rule_description
from spc.models import SUBGROUPED_CHARTS, ChartConfig, ChartPoint, LimitRevision, Signal
from spc.services.limits import analysis_arguments, baseline_groups

DEFAULT_MAX_POINTS = 5000
MAX_POINTS = 50_000
CAPABILITY_MAX_VALUES = 100_000
HISTOGRAM_BINS = 30


def decimate(main: np.ndarray, keep: np.ndarray, max_points: int) -> np.ndarray:
    """Indices to draw: the first, lowest and highest point of each bucket plus every index flagged in `keep`."""
    count = main.size
    if count <= max_points:
        return np.arange(count)
    chosen = keep.copy()
    edges = np.linspace(0, count, max(1, max_points // 3) + 1).astype(np.int64)
    filled = np.where(np.isnan(main), np.nanmean(main) if np.isfinite(main).any() else 0.0, main)
    for start, end in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        if end > start:
            window = filled[start:end]
            chosen[start] = True
            chosen[start + int(np.argmin(window))] = True
            chosen[start + int(np.argmax(window))] = True
    return np.flatnonzero(chosen)


def _iso(ts: datetime, zone=None) -> str:
    return ts.astimezone(zone or timezone.get_current_timezone()).isoformat()


def chart_payload(config: ChartConfig, *, since=None, until=None, lot: str | None = None,
                  max_points: int = DEFAULT_MAX_POINTS) -> dict:
    characteristic = config.characteristic
    in_range = {}
    if since is not None:
        in_range["ts__gte"] = since
    if until is not None:
        in_range["ts__lte"] = until
    if lot:
        in_range["lot_code"] = lot
    # Only points judged as this chart type can be drawn on it (a chart type change starts a new series).
    revisions = {r.pk: r for r in LimitRevision.objects.filter(config=config)
                 if Limits.from_dict(r.limits).chart == config.chart_type}
    in_range["revision_id__in"] = list(revisions)
    rows = ChartPoint.objects.filter(characteristic_id=characteristic.pk, **in_range).order_by("ts", "id")
    signals = list(
        Signal.objects.filter(characteristic_id=characteristic.pk, **{f"point__{k}": v for k, v in in_range.items()})
        .order_by("ts", "id").values("point_id", "chart", "rule", "ts", "value", "point_indices", "measurement_ids")
    )
    # Decide what to draw from (id, value) alone — cheap even for a million points — then load only those rows.
    thin = list(rows.values_list("id", "value"))
    total = len(thin)
    ids = np.fromiter((c[0] for c in thin), dtype=np.int64, count=total)
    main = np.fromiter((c[1] for c in thin), dtype=np.float64, count=total)
    signalled = np.fromiter({s["point_id"] for s in signals}, dtype=np.int64)
    chosen = decimate(main, np.isin(ids, signalled), max(10, min(max_points, MAX_POINTS)))
    fields = ("id", "ts", "value", "value2", "size", "revision_id", "index", "lot_code", "late")
    if chosen.size == total:
        picked = list(rows.values_list(*fields))
    else:
        by_id = {row[0]: row for row in ChartPoint.objects.filter(id__in=ids[chosen].tolist()).values_list(*fields)}
        picked = [by_id[i] for i in ids[chosen].tolist()]
    names = CHART_NAMES[config.chart_type]
    zone = timezone.get_current_timezone()
    x = [_iso(column[1], zone) for column in picked]
    first_point: dict[int, str] = {}  # where each revision's limits start on the drawn series
    for column, at in zip(picked, x, strict=True):
        first_point.setdefault(column[5], at)
    charts = [_series(config, name, position, picked, x, revisions) for position, name in enumerate(names)]
    signal_list = [
        {"chart": s["chart"], "rule": s["rule"], "description": rule_description(s["rule"]), "ts": _iso(s["ts"]),
         "value": s["value"], "points": s["point_indices"], "measurements": s["measurement_ids"][:50]}
        for s in signals
    ]
    return {
        "characteristic": {
            "id": characteristic.pk, "code": characteristic.code, "name": characteristic.name,
            "unit": characteristic.unit, "lsl": characteristic.lsl, "usl": characteristic.usl,
            "nominal": characteristic.nominal,
        },
        "config": {"chart_type": config.chart_type, "subgroup_size": config.subgroup_size,
                   "subgrouping": config.subgrouping, "rules": config.rules, "dispersion_rules": config.dispersion_rules},
        "charts": charts,
        "signals": signal_list,
        "revisions": [
            {"number": r.number, "ts": _iso(r.created_at), "first_point_ts": first_point.get(r.pk), "method": r.method,
             "method_label": str(r.get_method_display()),
             "reason": r.reason, "by": r.created_by, "summary": r.summary}
            for r in sorted(revisions.values(), key=lambda r: r.number)
        ],
        "lots": sorted({c[7] for c in picked if c[7]})[:500],
        "total_points": total,
        "returned_points": len(picked),
        "decimated": len(picked) < total,
        # Specification limits apply to individual values, not to subgroup means or statistics (Montgomery §6.2.4).
        "spec_applies": config.chart_type == "imr",
    }


def _series(config: ChartConfig, name: str, position: int, picked: list, x: list, revisions: dict) -> dict:
    """One chart's points with per-point centre, ±1σ/±2σ zones and limits (from each point's own revision)."""
    count = len(picked)
    y = [None] * count
    center, ucl, lcl, sigma = (np.full(count, np.nan) for _ in range(4))
    flags = [None] * count
    by_revision: dict[int, list[int]] = {}
    for i, (_pid, _ts, value, value2, _size, revision_id, _index, lot, late) in enumerate(picked):
        v = value if position == 0 else value2
        y[i] = None if v is None or (isinstance(v, float) and math.isnan(v)) else v
        flags[i] = {"lot": lot, "late": late} if (lot or late) else None
        by_revision.setdefault(revision_id, []).append(i)
    for revision_id, positions in by_revision.items():
        revision = revisions.get(revision_id)
        if revision is None:
            continue
        limits = Limits.from_dict(revision.limits)
        where = np.array(positions)
        sizes = None
        if config.chart_type in SUBGROUPED_CHARTS:
            sizes = np.array([picked[i][4] for i in positions], dtype=np.float64)
        elif config.chart_type in ("p", "u"):
            sizes = np.full(where.size, float(config.sample_size or 1))
        factor = None
        if config.chart_type == "ewma":
            indices = np.array([picked[i][6] for i in positions], dtype=np.float64)
            factor = (1.0 - limits.lam) ** (2.0 * (indices + 1.0))
        series = limit_series(limits, where.size, sizes, factor)[name]
        center[where], sigma[where], ucl[where], lcl[where] = (np.asarray(a, dtype=np.float64) for a in series)
    return {"name": name, "label": chart_label(name), "x": x, "y": y, "center": _floats(center),
            "ucl": _floats(ucl), "lcl": _floats(lcl), "sigma": _floats(sigma), "meta": flags}


def _floats(array: np.ndarray) -> list:
    return [None if not math.isfinite(v) else v for v in array.tolist()]


def capability_payload(config: ChartConfig, *, since=None, until=None, lot: str | None = None) -> dict | None:
    """Capability of the values in the range against the specification (variables charts), with a histogram and
    the fitted normal curve; None when there is nothing to say."""
    characteristic = config.characteristic
    if config.chart_type not in ("imr", "xbar_r", "xbar_s", "ewma", "cusum"):
        return None
    if characteristic.lsl is None and characteristic.usl is None:
        return None
    groups = baseline_groups(config, since, until, lot=lot, limit=CAPABILITY_MAX_VALUES)
    kind = config.chart_type if config.is_subgrouped else "imr"
    if len(groups) < 2:
        return None
    spec = {k: v for k, v in (("lsl", characteristic.lsl), ("usl", characteristic.usl)) if v is not None}
    if characteristic.nominal is not None and ("lsl" in spec) == ("usl" in spec):
        spec["target"] = characteristic.nominal
    arguments = analysis_arguments(config, groups)
    try:
        analysis = analyze(kind, rules=[], spec=spec, params={"transform": "none"}, **arguments)
    except EngineInputError:
        return None
    observations = np.array([v for g in groups for v in g.values], dtype=np.float64)
    result = analysis.capability or {}
    mean, overall = result.get("mean"), result.get("sigma_overall")
    counts, edges = np.histogram(observations, bins=HISTOGRAM_BINS)
    width = float(edges[1] - edges[0]) if edges.size > 1 else 1.0
    curve_x = np.linspace(min(edges[0], spec.get("lsl", edges[0])), max(edges[-1], spec.get("usl", edges[-1])), 120)
    curve_y = None
    if mean is not None and overall:
        curve_y = (observations.size * width / (overall * math.sqrt(2 * math.pi))
                   * np.exp(-0.5 * ((curve_x - mean) / overall) ** 2)).tolist()
    return {
        "n": int(observations.size),
        "indices": result,
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
        "curve": {"x": curve_x.tolist(), "y": curve_y},
        "spec": spec,
    }
