"""Chart configuration per characteristic: sensible defaults, validated changes, each change audited with a reason."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from qms.audit.context import because
from qms.models import Characteristic
from spc.engine.analysis import resolve_rules
from spc.engine.errors import EngineInputError
from spc.engine.limits import CHART_TYPES
from spc.models import ATTRIBUTE_CHARTS, SUBGROUPED_CHARTS, ChartConfig, SpcState

DEFAULT_TIME_WINDOW_S = 60


def default_chart_type(characteristic: Characteristic) -> str:
    """Textbook choice (Montgomery ch. 6–7): n = 1 → I-MR, 2–10 → X̄-R, > 10 → X̄-S; whole-number characteristics
    are counts of defects → c chart."""
    if characteristic.data_type == Characteristic.DataType.INTEGER:
        return "c"
    n = characteristic.subgroup_size or 1
    if n == 1:
        return "imr"
    return "xbar_r" if n <= 10 else "xbar_s"


def ensure_chart_config(characteristic: Characteristic) -> ChartConfig:
    """The characteristic's configuration, created with the defaults the first time it is needed."""
    config = ChartConfig.objects.filter(characteristic=characteristic).first()
    if config is not None:
        return config
    chart_type = default_chart_type(characteristic)
    try:
        return configure_chart(characteristic, chart_type=chart_type,
                               reason=_("Default chart configuration from the data dictionary."))
    except IntegrityError:  # a concurrent first delivery created it a moment earlier (configure_chart's savepoint)
        return ChartConfig.objects.get(characteristic=characteristic)


def configure_chart(characteristic: Characteristic, *, reason: str, chart_type: str | None = None,
                    subgroup_size: int | None = None, subgrouping: str = ChartConfig.Subgrouping.COUNT,
                    time_window_s: int | None = None, sample_size: int | None = None, rules=None,
                    dispersion_rules=None, params: dict | None = None) -> ChartConfig:
    """Create or change the chart configuration. A change of chart type or subgrouping makes the current limits
    meaningless: live evaluation then waits until new limits are set (the limit history stays)."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": _("Give a reason: chart configuration changes are audited.")})
    chart_type = chart_type or default_chart_type(characteristic)
    if chart_type not in CHART_TYPES:
        raise ValidationError({"chart_type": _("Unknown chart type %(type)s.") % {"type": chart_type}})
    if chart_type in SUBGROUPED_CHARTS:
        subgroup_size = subgroup_size or max(characteristic.subgroup_size, 2)
        if not 2 <= subgroup_size <= 25:
            raise ValidationError({"subgroup_size": _("X̄ charts need subgroups of 2 to 25 values.")})
    else:
        subgroup_size = 1
        subgrouping = ChartConfig.Subgrouping.COUNT
    if subgrouping == ChartConfig.Subgrouping.TIME:
        time_window_s = time_window_s or DEFAULT_TIME_WINDOW_S
    if chart_type in ("p", "np", "u") and not sample_size:
        raise ValidationError({"sample_size": _("p, np and u charts need the sample size each value counts.")})
    try:
        resolved = resolve_rules(chart_type, rules, dispersion_rules)
    except EngineInputError as exc:
        raise ValidationError({exc.field if exc.field in ("rules", "dispersion_rules") else "rules": str(exc)}) from exc
    names = list(resolved)
    fields = {
        "chart_type": chart_type, "subgroup_size": subgroup_size, "subgrouping": subgrouping,
        "time_window_s": time_window_s if subgrouping == ChartConfig.Subgrouping.TIME else None,
        "sample_size": sample_size if chart_type in ATTRIBUTE_CHARTS else None,
        "rules": list(resolved[names[0]]),
        "dispersion_rules": list(resolved[names[1]]) if len(names) > 1 and chart_type != "cusum" else [],
        "params": dict(params or {}),
    }
    with transaction.atomic(), because(reason.strip()):
        config = ChartConfig.objects.select_for_update().filter(characteristic=characteristic).first()
        if config is None:
            config = ChartConfig.objects.create(characteristic=characteristic, **fields)
            SpcState.objects.create(config=config)
            return config
        state = SpcState.objects.select_for_update().get(config=config)
        invalidates = any(getattr(config, f) != fields[f] for f in ("chart_type", "subgroup_size", "subgrouping",
                                                                     "time_window_s", "sample_size", "params"))
        rules_changed = config.rules != fields["rules"] or config.dispersion_rules != fields["dispersion_rules"]
        for name, value in fields.items():
            setattr(config, name, value)
        config.save()
        if invalidates:
            state.revision, state.engine_state, state.pending, state.recent = None, None, [], []
            state.save(update_fields=["revision", "engine_state", "pending", "recent", "updated_at"])
        elif rules_changed and state.engine_state:
            from spc.services.live import restart_state

            restart_state(state, state.revision)
            state.save()
    return config
