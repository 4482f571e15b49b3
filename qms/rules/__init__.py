"""Reaction-rule evaluation, pure: no Django, no I/O.

`spec` holds the compiled form of a rule (what the hot path reads), `scope` decides which characteristics and
equipment a rule covers, `evaluate` turns points, SPC signals, stale tags and equipment states into triggers and
return-to-normal events. The Django side (qms.services.reaction_rules / reactions / rule_cache) compiles rules from
the database and acts on what this package returns.
"""
from qms.rules.evaluate import (
    Normal,
    Point,
    StateChange,
    Trigger,
    evaluate_equipment_states,
    evaluate_points,
    match_spc_signal,
    match_stale,
)
from qms.rules.scope import (
    CharacteristicInfo,
    RuleScope,
    characteristics_in_scope,
    equipment_in_scope,
    pattern_matches,
)
from qms.rules.spec import (
    GOOD_QUALITY_LIMIT,
    Limits,
    MeasurementCheck,
    RuleSpec,
    alarm_source_key,
    compile_check,
)

__all__ = [
    "GOOD_QUALITY_LIMIT", "CharacteristicInfo", "Limits", "MeasurementCheck", "Normal", "Point", "RuleScope",
    "RuleSpec", "Trigger", "alarm_source_key", "characteristics_in_scope", "compile_check", "equipment_in_scope",
    "evaluate_equipment_states", "evaluate_points", "match_spc_signal", "match_stale", "pattern_matches", "StateChange",
]
