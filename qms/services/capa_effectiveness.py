"""Before/after figures of a CAPA from live data (docs/capa.md, "Effectiveness"); the verdict is
`qms.capa_rules.judge_effectiveness`.

Cpk per named characteristic: good-quality measurements of the period in time order, σ within from the average
moving range (MR̄/d2, as the I-MR chart), indices by `spc.engine.capability.capability` (normal route, no transform:
the same figure before and after).
Defect rate: production lots of the CAPA's product (and line, through their runs on the line's machines) with a run
starting in the period; rate = nonconforming quantity recorded on those lots by NCs that are not cancelled ÷ the
lots' quantity. None when nothing was produced.
"""
from __future__ import annotations

import math
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db.models import Sum

from qms.capa_rules import EffectivenessPolicy, judge_effectiveness
from qms.models import Capa, Measurement, NcLot, Nonconformance
from qms.models.measurements import Quality
from spc.engine.capability import capability
from spc.engine.charts import moving_range_sigma

MAX_VALUES = 20_000  # per characteristic and period: plenty for an index, bounded for the page


def policy() -> EffectivenessPolicy:
    return EffectivenessPolicy(
        cpk_target=float(getattr(settings, "CAPA_CPK_TARGET", 1.33)),
        min_points_after=int(getattr(settings, "CAPA_EFFECTIVENESS_MIN_POINTS", 25)),
        defect_rate_tolerance=float(getattr(settings, "CAPA_DEFECT_RATE_TOLERANCE", 0.0)),
        min_produced_after=float(getattr(settings, "CAPA_EFFECTIVENESS_MIN_PRODUCED", 0.0)),
    )


def cpk_of(values: list[float], lsl, usl, nominal) -> dict:
    """{"n", "mean", "cpk", "ppk"} of values in time order (cpk None with fewer than two values or no limits)."""
    x = np.asarray(values, dtype=np.float64)
    out = {"n": int(x.size), "mean": float(x.mean()) if x.size else None, "cpk": None, "ppk": None}
    if x.size < 2 or (lsl is None and usl is None):
        return out
    sigma, dof = moving_range_sigma(x, np.ones(x.size, dtype=bool))
    result = capability(x, lsl=lsl, usl=usl, target=nominal, sigma_within=sigma, within_df=dof, transform="none")
    out["cpk"] = _finite((result.get("within") or {}).get("Cpk"))
    out["ppk"] = _finite((result.get("overall") or {}).get("Ppk"))
    out["sigma_within"] = _finite(sigma)
    return out


def _finite(value):
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _values(characteristic, start, end) -> list[float]:
    if start is None or end is None:
        return []
    rows = Measurement.objects.filter(characteristic=characteristic, ts__gte=start, ts__lt=end, quality=Quality.GOOD) \
        .order_by("ts").values_list("value", flat=True)[:MAX_VALUES]
    return list(rows)


def defect_rate(capa: Capa, start, end) -> dict:
    """{"produced", "nonconforming", "rate"} of the CAPA's product/line in [start, end)."""
    from traceability.models import Lot

    if start is None or end is None or (capa.product_id is None and capa.line_id is None):
        return {"produced": 0.0, "nonconforming": 0.0, "rate": None}
    lots = Lot.objects.filter(site_id=capa.site_id, kind=Lot.Kind.PRODUCTION, runs__started_at__gte=start,
                              runs__started_at__lt=end)
    if capa.product_id is not None:
        lots = lots.filter(product_id=capa.product_id)
    if capa.line_id is not None:
        lots = lots.filter(runs__equipment__work_center__line_id=capa.line_id)
    lot_ids = set(lots.values_list("pk", flat=True))
    produced = Lot.objects.filter(pk__in=lot_ids).aggregate(total=Sum("quantity"))["total"] or 0.0
    nonconforming = NcLot.objects.filter(lot_id__in=lot_ids).exclude(
        nc__state=Nonconformance.State.CANCELLED).aggregate(total=Sum("quantity"))["total"] or 0.0
    rate = float(nonconforming) / float(produced) if produced else None
    return {"produced": float(produced), "nonconforming": float(nonconforming), "rate": rate}


def effectiveness_figures(capa: Capa, now: datetime) -> dict:
    """The figures and verdict stored in Capa.effectiveness_data."""
    rules = policy()
    characteristics = []
    for characteristic in capa.characteristics.order_by("code"):
        before = cpk_of(_values(characteristic, capa.baseline_start, capa.baseline_end),
                        characteristic.lsl, characteristic.usl, characteristic.nominal)
        after = cpk_of(_values(characteristic, capa.effective_from, now),
                       characteristic.lsl, characteristic.usl, characteristic.nominal)
        characteristics.append({"id": characteristic.pk, "code": characteristic.code, "name": characteristic.name_en,
                                "lsl": characteristic.lsl, "usl": characteristic.usl,
                                "n_before": before["n"], "cpk_before": before["cpk"], "mean_before": before["mean"],
                                "n_after": after["n"], "cpk_after": after["cpk"], "mean_after": after["mean"]})
    rate_before = defect_rate(capa, capa.baseline_start, capa.baseline_end)
    rate_after = defect_rate(capa, capa.effective_from, now)
    verdict = judge_effectiveness(characteristics, {"before": rate_before["rate"], "after": rate_after["rate"],
                                                    "produced_after": rate_after["produced"]}, rules)
    return {
        "verdict": verdict.verdict, "reasons": list(verdict.reasons), "checked_at": now.isoformat(),
        "periods": {"before": [_iso(capa.baseline_start), _iso(capa.baseline_end)],
                    "after": [_iso(capa.effective_from), now.isoformat()]},
        "policy": {"cpk_target": rules.cpk_target, "min_points_after": rules.min_points_after,
                   "defect_rate_tolerance": rules.defect_rate_tolerance,
                   "min_produced_after": rules.min_produced_after},
        "characteristics": characteristics,
        "defect_rate": {"before": rate_before, "after": rate_after},
    }


def _iso(value):
    return value.isoformat() if value is not None else None
