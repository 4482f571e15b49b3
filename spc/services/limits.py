"""Control limit revisions: phase I from a baseline of stored measurements, provisional limits from the
specification, or known standards entered by hand. Each revision is frozen, numbered, audited with its reason, and
from its creation on live evaluation judges new values against it (history keeps the revision it was judged by)."""
from __future__ import annotations

from datetime import datetime

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from qms.audit.context import because, current_actor
from qms.models import Measurement
from qms.models.measurements import Quality
from spc.engine.analysis import analyze
from spc.engine.errors import EngineInputError
from spc.engine.limits import CHART_NAMES, Limits, limit_series
from spc.models import SUBGROUPED_CHARTS, ChartConfig, LimitRevision, SpcState
from spc.services.live import judge_waiting, restart_state
from spc.services.series import engine_input
from spc.services.subgrouping import Group, SubgroupFormer, Value, single_points

# Provisional limits from the specification assume the capability a new process is usually asked for.
PROVISIONAL_CP = 1.33
MAX_BASELINE_VALUES = 1_000_000


def baseline_groups(config: ChartConfig, start: datetime | None, end: datetime | None, lot: str | None = None,
                    limit: int | None = None) -> list[Group]:
    """Stored values of the characteristic in [start, end] (bad quality left out), formed into plotted points the
    way live evaluation forms them. `limit` keeps the most recent values only."""
    rows = Measurement.objects.filter(characteristic_id=config.characteristic_id).exclude(quality=Quality.BAD)
    if start is not None:
        rows = rows.filter(ts__gte=start)
    if end is not None:
        rows = rows.filter(ts__lte=end)
    if lot:
        rows = rows.filter(lot_code=lot)
    if limit:
        rows = rows.order_by("-ts", "-id")[:limit]
        values = [Value(*row) for row in rows.values_list("id", "ts", "value", "lot_code")][::-1]
    else:
        values = [Value(*row) for row in rows.order_by("ts", "id").values_list("id", "ts", "value", "lot_code")
                  [:MAX_BASELINE_VALUES]]
    if config.is_subgrouped:
        return SubgroupFormer(config.subgrouping, config.subgroup_size, config.time_window_s).feed(values)
    return single_points(values)


def analysis_arguments(config: ChartConfig, groups: list[Group]) -> dict:
    data = engine_input(config, groups)
    if config.chart_type in SUBGROUPED_CHARTS:
        return {"subgroups": data}
    if isinstance(data, dict):
        return {"counts": data["counts"], "sizes": data.get("sizes")}
    return {"values": data}


def chart_params(config: ChartConfig) -> dict:
    return {key: value for key, value in (config.params or {}).items() if key in ("lambda", "L", "k", "h")}


def compute_limits_from_baseline(config: ChartConfig, *, start: datetime, end: datetime, reason: str,
                                 exclude_out_of_control: bool = False) -> LimitRevision:
    """Phase I: limits from the stored values in [start, end], optionally dropping out-of-control points and
    recomputing until none is out (Montgomery §6.2) → a new revision."""
    if start is None or end is None or start >= end:
        raise ValidationError({"end": _("The baseline period must end after it starts.")})
    groups = baseline_groups(config, start, end)
    if len(groups) < 2:
        raise ValidationError({"start": _("The baseline period holds %(count)d points; at least 2 are needed "
                                          "(20–25 are recommended).") % {"count": len(groups)}})
    params = chart_params(config)
    if exclude_out_of_control:
        params["exclude_out_of_control"] = True
    try:
        analysis = analyze(config.chart_type, params=params, rules=[], **analysis_arguments(config, groups))
    except EngineInputError as exc:
        raise ValidationError({"start": str(exc)}) from exc
    excluded_ids = [m for index in analysis.excluded for m in groups[index].ids]
    return revise_limits(config, limits=analysis.limits, method=LimitRevision.Method.BASELINE, reason=reason,
                         baseline_start=start, baseline_end=end, baseline_count=len(groups),
                         excluded=excluded_ids, excluded_count=len(analysis.excluded))


def limits_from_specification(config: ChartConfig, *, reason: str) -> LimitRevision:
    """Provisional limits before there is data: μ = nominal (or mid-specification), σ = tolerance / (6 · 1.33)."""
    characteristic = config.characteristic
    if config.chart_type not in ("imr", "xbar_r", "xbar_s", "ewma", "cusum"):
        raise ValidationError({"chart_type": _("Limits from the specification apply to variables charts only.")})
    if characteristic.lsl is None or characteristic.usl is None:
        raise ValidationError({"usl": _("Both specification limits are needed to derive provisional limits.")})
    center = characteristic.nominal if characteristic.nominal is not None else (characteristic.lsl + characteristic.usl) / 2
    sigma = (characteristic.usl - characteristic.lsl) / (6.0 * PROVISIONAL_CP)
    params = {**chart_params(config), "target": float(center), "sigma": float(sigma)}
    limits = _given_limits(config, params)
    return revise_limits(config, limits=limits, method=LimitRevision.Method.SPECIFICATION, reason=reason)


def limits_from_standard(config: ChartConfig, *, center: float, sigma: float | None, reason: str) -> LimitRevision:
    """Known standards (μ, σ — or p, c, u for attribute charts) entered by hand."""
    params = {**chart_params(config), "target": float(center)}
    if sigma is not None:
        params["sigma"] = float(sigma)
    return revise_limits(config, limits=_given_limits(config, params), method=LimitRevision.Method.MANUAL,
                         reason=reason)


def _given_limits(config: ChartConfig, params: dict) -> Limits:
    """The engine's Limits for given standards: the engine's own estimator with target/sigma fixed."""
    n = config.subgroup_size if config.is_subgrouped else 1
    placeholder = [Group(tuple(Value(i, datetime.min, 0.0, "") for i in range(n)))] * 2
    data = analysis_arguments(config, placeholder)
    try:
        return analyze(config.chart_type, params=params, rules=[], **data).limits
    except EngineInputError as exc:
        raise ValidationError({"sigma": str(exc)}) from exc


def limit_summary(config: ChartConfig, limits: Limits) -> dict:
    """Centre and limits of each chart at the configured size (what the revision list shows)."""
    sizes = None
    if config.is_subgrouped:
        sizes = np.array([config.subgroup_size])
    elif config.chart_type in ("p", "u"):
        sizes = np.array([float(config.sample_size or 1)])
    series = limit_series(limits, 1, sizes)
    summary = {}
    for name in CHART_NAMES[config.chart_type]:
        center, _sigma, ucl, lcl = (float(np.asarray(a)[0]) for a in series[name])
        summary[name] = {"center": center, "ucl": ucl, "lcl": lcl}
    return summary


def revise_limits(config: ChartConfig, *, limits: Limits, method: str, reason: str, baseline_start=None,
                  baseline_end=None, baseline_count: int = 0, excluded=(), excluded_count: int = 0) -> LimitRevision:
    """Freeze `limits` as the next revision and judge new values against them from now on."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": _("Give a reason: every limit revision is audited.")})
    if limits.chart != config.chart_type:
        raise ValidationError({"limits": _("These limits are for a %(chart)s chart.") % {"chart": limits.chart}})
    with transaction.atomic():
        # The state row first: concurrent evaluation waits for the new limits (and the audit head is locked last).
        state = SpcState.objects.select_for_update(of=("self",)).select_related("config__characteristic").get(
            config=config)
        waiting = state.pending if state.revision_id is None else []
        number = (LimitRevision.objects.filter(config=config).order_by("-number").values_list("number", flat=True)
                  .first() or 0) + 1
        with because(reason.strip()):
            revision = LimitRevision.objects.create(
                config=config, number=number, limits=limits.to_dict(), method=method, baseline_start=baseline_start,
                baseline_end=baseline_end, baseline_count=baseline_count, excluded=list(excluded),
                excluded_count=excluded_count, summary=limit_summary(config, limits), reason=reason.strip(),
                created_by=current_actor().label[:150],
            )
        restart_state(state, revision)
        if waiting:
            judge_waiting(state, waiting, baseline_end)
        state.save()
    return revision


def current_revision(config: ChartConfig) -> LimitRevision | None:
    return LimitRevision.objects.filter(config=config).order_by("-number").first()
