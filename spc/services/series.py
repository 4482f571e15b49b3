"""The bridge between stored points and the pure engine: engine input for a run of plotted points, and what each
chart plots for them (the engine's own statistics functions, so the stored values match what was judged)."""
from __future__ import annotations

import numpy as np

from spc.engine.charts import ChartData, chart_statistics
from spc.engine.limits import CHART_NAMES, Limits
from spc.engine.subgroups import Subgroups
from spc.models import SUBGROUPED_CHARTS, ChartConfig
from spc.services.subgrouping import Group


def engine_input(config: ChartConfig, groups: list[Group]):
    """What `LiveState.evaluate` and `analyze` take for these points."""
    kind = config.chart_type
    if kind in SUBGROUPED_CHARTS:
        return [g.values for g in groups]
    values = [g.members[0].value for g in groups]
    if kind in ("imr", "ewma", "cusum"):
        return values
    if kind == "c":
        return {"counts": values}
    return {"counts": values, "sizes": [float(config.sample_size or 1)] * len(values)}


def chart_data(limits: Limits, data) -> ChartData:
    kind = limits.chart
    if kind in SUBGROUPED_CHARTS:
        return ChartData(kind, subgroups=Subgroups.from_lists(data))
    if kind in ("imr", "ewma", "cusum"):
        return ChartData(kind, values=np.asarray(data, dtype=np.float64))
    counts = np.asarray(data["counts"], dtype=np.float64)
    sizes = data.get("sizes")
    return ChartData(kind, counts=counts, sizes=None if sizes is None else np.asarray(sizes, dtype=np.float64))


def plotted_values(limits: Limits, data, carry: dict) -> list[tuple[float, float | None]]:
    """(main chart value, second chart value or None) per point, continuing from the engine state's carry."""
    points, _extra, _carry = chart_statistics(limits, chart_data(limits, data), carry)
    names = CHART_NAMES[limits.chart]
    first = points[names[0]].tolist()
    second = points[names[1]].tolist() if len(names) > 1 else [None] * len(first)
    return [(a, None if b is None or b != b else b) for a, b in zip(first, second, strict=True)]
