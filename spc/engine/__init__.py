"""The SPC engine: pure numpy/scipy, no Django. Public surface:

analyze(...)            one-call analysis (phase I limits, rules, capability) — the stateless API uses it
Limits                  frozen limits (phase II), JSON-serialisable
evaluate(...)           judge data against given limits (batch)
LiveState               incremental evaluator: state.evaluate(new_points) -> (signals, new_state)
capability(...), gauge_rr(...), anderson_darling(...)
"""
from spc.engine.analysis import MAX_VALUES, Analysis, analyze
from spc.engine.capability import anderson_darling, capability
from spc.engine.charts import ChartData, estimate_limits, evaluate
from spc.engine.errors import EngineInputError
from spc.engine.gauge import gauge_rr
from spc.engine.limits import CHART_NAMES, CHART_TYPES, Limits
from spc.engine.rules import RULES, Signal

__all__ = [
    "CHART_NAMES", "CHART_TYPES", "MAX_VALUES", "RULES", "Analysis", "ChartData", "EngineInputError", "Limits",
    "Signal", "analyze", "anderson_darling", "capability", "estimate_limits", "evaluate", "gauge_rr",
]
