"""The pure 8D rules: required content per step, transitions and order, the effectiveness verdict."""
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qms.capa_rules import (
    FIVE_W_TWO_H,
    MAX_WHYS,
    STEPS,
    ActionFacts,
    CauseFacts,
    EffectivenessPolicy,
    StepFacts,
    TransitionRefused,
    check_approve,
    check_reopen,
    check_submit,
    judge_effectiveness,
    prerequisites,
    step_problems,
    steps_reopened_with,
)

texts = st.text(min_size=1, max_size=20).filter(lambda s: s.strip())
step_states = st.fixed_dictionaries({s: st.sampled_from(["open", "submitted", "approved"]) for s in STEPS})


def codes(step, facts):
    return [p.code for p in step_problems(step, facts)]


@given(st.dictionaries(st.sampled_from(FIVE_W_TWO_H), texts))
def test_d2_requires_exactly_the_missing_5w2h(content):
    missing = {p.field for p in step_problems("D2", StepFacts(content=content))}
    assert missing == set(FIVE_W_TWO_H) - set(content)


@given(st.lists(texts, min_size=0, max_size=12), st.booleans())
def test_root_cause_chain_length(whys, verified):
    cause = CauseFacts(id=1, category="machine", cause="heater", whys=tuple(whys), is_root_cause=True,
                       verified=verified)
    problems = codes("D4", StepFacts(causes=(cause,)))
    assert ("why_chain_length" in problems) == (not 1 <= len(whys) <= MAX_WHYS)
    assert ("verified_root_cause_required" in problems) == (not verified)


def test_d4_without_causes_needs_a_verified_root_cause():
    assert codes("D4", StepFacts()) == ["verified_root_cause_required"]


def test_d4_cause_outside_5m1e_is_a_problem():
    cause = CauseFacts(id=1, category="money", cause="x", whys=("a",), is_root_cause=True, verified=True)
    assert codes("D4", StepFacts(causes=(cause,))) == ["category_invalid"]


def test_d1_needs_two_members_and_a_champion_among_them():
    assert codes("D1", StepFacts(content={"members": [{"user": "a"}]})) == ["team_too_small", "champion_required"]
    assert codes("D1", StepFacts(content={"members": [{"user": "a"}, {"user": "b"}], "champion": "c"})) == [
        "champion_not_member"]
    assert codes("D1", StepFacts(content={"members": [{"user": "a"}, {"user": "b"}], "champion": "a"})) == []


def _action(**kw):
    base = {"id": 1, "title": "t", "kind": "corrective", "state": "open", "owner": "o", "due_date": date(2026, 1, 1)}
    return ActionFacts(**{**base, **kw})


def test_d3_containment_needs_verification_and_ignores_cancelled():
    assert codes("D3", StepFacts(actions=(_action(kind="containment", state="cancelled"),))) == [
        "containment_required"]
    assert codes("D3", StepFacts(actions=(_action(kind="containment"),))) == ["verification_required"]
    assert codes("D3", StepFacts(actions=(_action(kind="containment", verification="audit"),))) == []


def test_d5_and_d6_corrective_actions():
    root = CauseFacts(id=7, category="machine", cause="x", whys=("a",), is_root_cause=True, verified=True)
    assert codes("D5", StepFacts(causes=(root,), actions=(_action(),))) == ["action_needs_root_cause"]
    assert codes("D5", StepFacts(causes=(root,), actions=(_action(root_cause_id=7),))) == []
    assert codes("D6", StepFacts(actions=(_action(),))) == ["action_not_done"]
    done = _action(state="done", completed_at=datetime(2026, 1, 2, tzinfo=UTC))
    assert codes("D6", StepFacts(actions=(done,))) == []


def test_d7_items_and_d8_effectiveness():
    assert codes("D7", StepFacts()) == ["prevention_required"]
    assert codes("D7", StepFacts(content={"items": [{"kind": "x", "reference": "r"}]})) == [
        "prevention_kind_invalid"]
    assert codes("D8", StepFacts(content={"recognition": "thanks"}, effectiveness="not_yet")) == ["not_effective"]
    assert codes("D8", StepFacts(content={"recognition": "thanks"}, effectiveness="effective")) == []


def test_prerequisites_let_d3_run_alongside_d2():
    assert prerequisites("D3") == ("D0", "D1")
    assert prerequisites("D4") == ("D0", "D1", "D2", "D3")
    assert prerequisites("D0") == ()


@given(step_states, st.sampled_from(STEPS))
def test_submit_allowed_iff_open_and_prerequisites_approved(states, step):
    allowed = states[step] == "open" and all(states[s] == "approved" for s in prerequisites(step))
    try:
        check_submit(step, states)
        assert allowed
    except TransitionRefused:
        assert not allowed


@given(step_states, st.sampled_from(STEPS))
def test_approve_only_submitted_steps(states, step):
    try:
        check_approve(step, states)
        assert states[step] == "submitted"
    except TransitionRefused as refused:
        assert states[step] != "submitted" or refused.code == "previous_steps_not_approved"


@given(step_states, st.sampled_from(STEPS))
def test_reopen_leaves_no_approved_step_whose_prerequisite_is_open(states, step):
    """After a reopen, no non-open step depends on a step that was reopened (the order invariant survives)."""
    if states[step] == "open":
        return
    after = dict(states)
    for name in (step, *steps_reopened_with(step, states)):
        after[name] = "open"
    reopened = {step, *steps_reopened_with(step, states)}
    for later in STEPS:
        if after[later] != "open":
            assert not reopened.intersection(prerequisites(later))


def test_reopen_needs_a_reason():
    with pytest.raises(TransitionRefused) as caught:
        check_reopen("D2", {s: "approved" for s in STEPS}, "  ")
    assert caught.value.code == "reason_required"


POLICY = EffectivenessPolicy(cpk_target=1.33, min_points_after=25, defect_rate_tolerance=0.0)
cpks = st.one_of(st.none(), st.floats(min_value=-2, max_value=5))


@given(cpks, cpks, st.integers(min_value=0, max_value=100))
def test_verdict_follows_the_cpk_rule(before, after, n_after):
    verdict = judge_effectiveness([{"code": "C", "n_after": n_after, "cpk_before": before, "cpk_after": after}],
                                  None, POLICY)
    required = max(1.33, before if before is not None else 1.33)
    expected = n_after >= 25 and after is not None and after >= required
    assert (verdict.verdict == "effective") == expected


@given(st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1))
def test_verdict_refuses_a_rising_defect_rate(before, after):
    verdict = judge_effectiveness([], {"before": before, "after": after}, POLICY)
    assert (verdict.verdict == "effective") == (after <= before)


def test_nothing_to_judge_is_not_yet():
    assert judge_effectiveness([], {"before": None, "after": 0.1}, POLICY).reasons[0]["code"] == "nothing_to_judge"
