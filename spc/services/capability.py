"""Current capability per characteristic for the overview page: computed from the most recent values against the
specification, at most every REFRESH_AFTER per characteristic (after an evaluation commits), and stored on the
SPC state row so the overview reads one row per characteristic and never touches history."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from spc.engine.analysis import analyze
from spc.engine.errors import EngineInputError
from spc.models import ChartConfig, SpcState
from spc.services.limits import analysis_arguments, baseline_groups

logger = logging.getLogger(__name__)

RECENT_VALUES = 500
REFRESH_AFTER = timedelta(minutes=5)


def refresh_capability(config: ChartConfig, *, force: bool = False) -> tuple[float | None, float | None]:
    """Cpk (within, the chart's σ estimator) and Ppk (overall) of the last RECENT_VALUES values."""
    now = timezone.now()
    state = SpcState.objects.filter(config=config).only("capability_at").first()
    if state is None:
        return None, None
    if not force and state.capability_at is not None and now - state.capability_at < REFRESH_AFTER:
        return None, None
    characteristic = config.characteristic
    cpk = ppk = None
    n = 0
    if config.chart_type in ("imr", "xbar_r", "xbar_s", "ewma", "cusum") and (
            characteristic.lsl is not None or characteristic.usl is not None):
        groups = baseline_groups(config, None, None, limit=RECENT_VALUES)
        spec = {k: v for k, v in (("lsl", characteristic.lsl), ("usl", characteristic.usl)) if v is not None}
        if len(groups) >= 2:
            kind = config.chart_type if config.is_subgrouped else "imr"
            try:
                result = analyze(kind, rules=[], spec=spec, params={"transform": "none"},
                                 **analysis_arguments(config, groups)).capability or {}
            except EngineInputError:
                result = {}
            cpk = (result.get("within") or {}).get("Cpk")
            ppk = (result.get("overall") or {}).get("Ppk")
            n = result.get("n", 0)
    SpcState.objects.filter(config=config).update(cpk=cpk, ppk=ppk, capability_n=n, capability_at=now)
    return cpk, ppk


def refresh_if_stale(config_id: int) -> None:
    config = ChartConfig.objects.select_related("characteristic").filter(pk=config_id).first()
    if config is None:
        return
    try:
        refresh_capability(config)
    except Exception:  # the overview figure is a convenience; never fail an evaluation over it
        logger.warning("capability refresh failed for chart config %s", config_id, exc_info=True)
