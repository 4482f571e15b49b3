"""qms.rules: pure evaluation of reaction rules (no database)."""
import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from qms.rules import (
    CharacteristicInfo,
    Limits,
    Point,
    RuleScope,
    RuleSpec,
    StateChange,
    alarm_source_key,
    characteristics_in_scope,
    compile_check,
    equipment_in_scope,
    evaluate_equipment_states,
    evaluate_points,
    match_spc_signal,
    match_stale,
    pattern_matches,
)

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
DEVIATION = RuleSpec(id=1, site_id=1, trigger="deviation", severity="critical", threshold=3.0)
SPEC = RuleSpec(id=2, site_id=1, trigger="spec", severity="major")
LIMITS = Limits(nominal=210.0, lsl=205.0, usl=215.0)


def check(rule=DEVIATION, limits=LIMITS, characteristic_id=7):
    return compile_check(rule, characteristic_id, 3, limits)


def points(*values, characteristic_id=7, start=0, quality=0):
    return [Point(100 + start + i, characteristic_id, T0 + timedelta(seconds=start + i), v, quality, "L1", 3)
            for i, v in enumerate(values)]


def test_deviation_beyond_threshold_is_bad():
    assert check().is_bad(214.0)
    assert check().is_bad(206.9)


def test_deviation_on_the_threshold_is_good():
    assert not check().is_bad(213.0)


def test_spec_outside_limits_is_bad():
    spec = check(SPEC)
    assert spec.is_bad(204.9) and spec.is_bad(215.1) and not spec.is_bad(215.0)


def test_spec_with_one_sided_limit():
    spec = check(SPEC, Limits(nominal=None, lsl=None, usl=5.0))
    assert spec.is_bad(5.1) and not spec.is_bad(-100.0)


def test_deviation_cannot_judge_without_nominal():
    assert check(limits=Limits(nominal=None, lsl=1.0, usl=2.0)) is None


def test_spec_cannot_judge_without_limits():
    assert check(SPEC, Limits(nominal=1.0)) is None


def test_non_measurement_triggers_compile_to_no_check():
    assert check(RuleSpec(id=3, site_id=1, trigger="spc", severity="minor")) is None


@given(value=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
       nominal=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
       threshold=st.floats(min_value=1e-6, max_value=1e5))
def test_deviation_matches_its_definition(value, nominal, threshold):
    rule = RuleSpec(id=1, site_id=1, trigger="deviation", severity="major", threshold=threshold)
    compiled = compile_check(rule, 1, None, Limits(nominal=nominal))
    assert compiled.is_bad(value) == (abs(value - nominal) > threshold)


@given(value=st.floats(allow_nan=False, allow_infinity=False),
       lsl=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
       usl=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)))
def test_spec_matches_its_definition(value, lsl, usl):
    compiled = compile_check(SPEC, 1, None, Limits(lsl=lsl, usl=usl))
    if lsl is None and usl is None:
        assert compiled is None
    else:
        assert compiled.is_bad(value) == ((lsl is not None and value < lsl) or (usl is not None and value > usl))


def test_a_batch_of_offending_values_coalesces_into_one_trigger_with_the_worst():
    triggers, normals = evaluate_points(points(210.0, 214.0, 216.5, 213.5), {7: [check()]})
    assert len(triggers) == 1 and normals == []
    trigger = triggers[0]
    assert (trigger.value, trigger.count, trigger.ts) == (216.5, 3, T0 + timedelta(seconds=1))
    assert trigger.last_good_ts == T0
    assert trigger.measurement_id == 102
    assert trigger.source_key == "characteristic:7/rule:1" and trigger.alarm_type == "deviation"


def test_worst_value_counts_both_sides():
    triggers, _ = evaluate_points(points(214.0, 205.0), {7: [check()]})
    assert triggers[0].value == 205.0


def test_unordered_points_are_judged_in_time_order():
    batch = points(210.0, 214.0)[::-1]
    triggers, _ = evaluate_points(batch, {7: [check()]})
    assert triggers[0].last_good_ts == T0


def test_good_batch_without_open_alarm_yields_nothing():
    assert evaluate_points(points(210.0, 211.0), {7: [check()]}) == ([], [])


def test_good_batch_returns_an_open_alarm_to_normal_at_its_first_value():
    key = ("characteristic:7/rule:1", "deviation")
    triggers, normals = evaluate_points(points(210.5, 211.0), {7: [check()]}, open_keys={key})
    assert triggers == []
    assert [(n.key, n.ts, n.value) for n in normals] == [(key, T0, 210.5)]


def test_bad_then_good_in_one_batch_trips_and_returns():
    triggers, normals = evaluate_points(points(214.0, 215.0, 210.0, 210.2), {7: [check()]})
    assert len(triggers) == 1
    assert normals[0].ts == T0 + timedelta(seconds=2)


def test_good_then_bad_ends_tripped():
    key = ("characteristic:7/rule:1", "deviation")
    triggers, normals = evaluate_points(points(210.0, 214.0), {7: [check()]}, open_keys={key})
    assert len(triggers) == 1 and normals == []


def test_bad_quality_values_neither_trip_nor_return():
    key = ("characteristic:7/rule:1", "deviation")
    assert evaluate_points(points(300.0, 210.0, quality=2), {7: [check()]}, open_keys={key}) == ([], [])


def test_points_of_characteristics_without_rules_are_ignored():
    assert evaluate_points(points(500.0, characteristic_id=8), {7: [check()]}) == ([], [])


def test_each_rule_of_a_characteristic_judges_on_its_own():
    triggers, _ = evaluate_points(points(214.0), {7: [check(), check(SPEC)]})
    assert [t.rule_id for t in triggers] == [1]


@given(st.lists(st.floats(min_value=190, max_value=230), min_size=1, max_size=40))
def test_trigger_iff_any_value_offends(values):
    triggers, normals = evaluate_points(points(*values), {7: [check()]})
    offending = [v for v in values if abs(v - 210.0) > 3.0]
    assert len(triggers) == (1 if offending else 0)
    if offending:
        assert triggers[0].count == len(offending)
        assert abs(triggers[0].value - 210.0) == max(abs(v - 210.0) for v in offending)
        # returned to normal exactly when the batch ends on a good value
        assert bool(normals) == (abs(values[-1] - 210.0) <= 3.0)


@given(st.lists(st.floats(min_value=190, max_value=230), min_size=1, max_size=40), st.randoms())
def test_outcome_does_not_depend_on_delivery_order(values, random):
    batch = points(*values)
    shuffled = list(batch)
    random.shuffle(shuffled)
    assert evaluate_points(batch, {7: [check()]}) == evaluate_points(shuffled, {7: [check()]})


def test_split_batches_end_in_the_same_state_as_one_batch():
    checks = {7: [check()]}
    key = ("characteristic:7/rule:1", "deviation")
    first, _ = evaluate_points(points(210.0, 214.0), checks)
    assert first
    _, normals = evaluate_points(points(210.0, start=2), checks, open_keys={key})
    assert normals[0].ts == T0 + timedelta(seconds=2)


# --- SPC, stale, equipment state --------------------------------------------------------------------------------


def test_spc_rule_without_chosen_run_rules_reacts_to_any():
    any_rule = RuleSpec(id=5, site_id=1, trigger="spc", severity="minor")
    chosen = RuleSpec(id=6, site_id=1, trigger="spc", severity="major", spc_rules=frozenset({"WE1"}))
    triggers = match_spc_signal([any_rule, chosen, DEVIATION], rule="WE2", characteristic_id=7, equipment_id=3,
                                ts=T0, value=1.0, evidence={"rule": "WE2"})
    assert [t.rule_id for t in triggers] == [5]
    triggers = match_spc_signal([any_rule, chosen], rule="WE1", characteristic_id=7, equipment_id=3,
                                ts=T0, value=1.0, evidence={})
    assert [t.rule_id for t in triggers] == [5, 6]


def test_stale_trips_and_resumes():
    stale = RuleSpec(id=9, site_id=1, trigger="stale", severity="warning")
    raised = match_stale([stale, DEVIATION], characteristic_id=7, equipment_id=3, since=T0, resumed=False,
                         evidence={})
    assert [(t.rule_id, t.alarm_type) for t in raised] == [(9, "stale")]
    cleared = match_stale([stale], characteristic_id=7, equipment_id=3, since=T0, resumed=True, evidence={})
    assert cleared[0].key == ("characteristic:7/rule:9", "stale")


STATE_RULE = RuleSpec(id=4, site_id=1, trigger="equipment_state", severity="major",
                      equipment_states=frozenset({"alarm", "down"}))


def test_equipment_entering_an_alarm_state_trips():
    changes = [StateChange(3, T0, "running"), StateChange(3, T0 + timedelta(seconds=5), "alarm", "E-stop")]
    triggers, normals = evaluate_equipment_states(changes, {3: [STATE_RULE]})
    assert [(t.source_key, t.ts, t.evidence["state"]) for t in triggers] == [
        ("equipment:3/rule:4", T0 + timedelta(seconds=5), "alarm")]
    assert normals == []


def test_equipment_leaving_the_states_returns_to_normal():
    key = ("equipment:3/rule:4", "equipment_state")
    changes = [StateChange(3, T0, "running")]
    _, normals = evaluate_equipment_states(changes, {3: [STATE_RULE]}, open_keys={key})
    assert normals[0].key == key and normals[0].ts == T0


def test_equipment_without_rules_is_ignored():
    assert evaluate_equipment_states([StateChange(8, T0, "alarm")], {3: [STATE_RULE]}) == ([], [])


# --- scope -------------------------------------------------------------------------------------------------------

CHARS = [
    CharacteristicInfo(1, "IMM01.BARREL_Z1.TEMP", equipment_id=10, line_id=100),
    CharacteristicInfo(2, "IMM02.BARREL_Z2.TEMP", equipment_id=20, line_id=100),
    CharacteristicInfo(3, "IMM02.MOULD.TEMP", equipment_id=20, line_id=100),
    CharacteristicInfo(4, "LAB.WEIGHT", equipment_id=None, line_id=None),
]


def test_empty_scope_covers_the_site():
    assert len(characteristics_in_scope(RuleScope(), CHARS)) == 4


def test_scope_is_the_union_of_its_parts():
    scope = RuleScope(characteristic_ids=frozenset({4}), pattern="*.BARREL_Z*.TEMP")
    assert [c.id for c in characteristics_in_scope(scope, CHARS)] == [1, 2, 4]
    assert [c.id for c in characteristics_in_scope(RuleScope(equipment_ids=frozenset({20})), CHARS)] == [2, 3]
    assert [c.id for c in characteristics_in_scope(RuleScope(line_ids=frozenset({100})), CHARS)] == [1, 2, 3]


def test_pattern_is_case_sensitive():
    assert pattern_matches("*.barrel*", [c.code for c in CHARS]) == []


def test_equipment_scope_of_a_state_rule():
    equipment = [(10, 100), (20, 100), (30, None)]
    assert equipment_in_scope(RuleScope(), equipment, CHARS) == {10, 20, 30}
    assert equipment_in_scope(RuleScope(pattern="IMM02.*"), equipment, CHARS) == {20}
    assert equipment_in_scope(RuleScope(line_ids=frozenset({100})), equipment, CHARS) == {10, 20}


@given(st.sets(st.integers(1, 4)), st.sets(st.sampled_from([10, 20])), st.sets(st.sampled_from([100])))
def test_a_wider_scope_covers_at_least_as_much(chosen, machines, lines):
    narrow = RuleScope(characteristic_ids=frozenset(chosen))
    wide = RuleScope(characteristic_ids=frozenset(chosen), equipment_ids=frozenset(machines),
                     line_ids=frozenset(lines))
    if chosen:
        assert set(characteristics_in_scope(narrow, CHARS)) <= set(characteristics_in_scope(wide, CHARS))


def test_source_keys():
    assert alarm_source_key(5, characteristic_id=7) == "characteristic:7/rule:5"
    assert alarm_source_key(5, equipment_id=3) == "equipment:3/rule:5"


def test_excess_is_positive_only_for_bad_values():
    compiled = check()
    assert compiled.excess(214.0) > 0 > compiled.excess(212.0)
    assert math.isinf(check(SPEC, Limits(usl=5.0)).good_range()[0])
