"""Hypothesis properties of the engine (pure, no database)."""
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from spc.engine import EngineInputError, analyze, evaluate
from spc.engine.live import LiveState, _chart_data
from spc.engine.rules import NELSON_RULES, SHEWHART_RULES

EXAMPLES = int(os.environ.get("SPC_HYPOTHESIS_EXAMPLES", "60"))  # raise it for a deeper local run
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Quarter steps make ties, centre-line hits and exact zone boundaries common — the cases rules get wrong.
grid_values = st.integers(-40, 40).map(lambda i: i / 4.0)
any_finite = st.floats(allow_nan=False, allow_infinity=False)
moderate = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def values_strategy(elements=grid_values, min_size=2, max_size=80):
    return st.lists(elements, min_size=min_size, max_size=max_size)


def subgroups_strategy(elements=grid_values, ragged=True):
    sizes = st.integers(2, 6) if ragged else st.just(5)
    return st.lists(sizes.flatmap(lambda n: st.lists(elements, min_size=n, max_size=n)), min_size=1, max_size=40)


def _limit_pairs(result):
    return [(c.center, c.ucl, c.lcl) for c in result.charts]


@SETTINGS
@given(values=values_strategy(moderate), shift=st.floats(-1e4, 1e4))
def test_shifting_the_data_shifts_the_individuals_limits(values, shift):
    base = analyze("imr", values=values)
    moved = analyze("imr", values=[v + shift for v in values])
    scale = max(1.0, max(abs(v) for v in values), abs(shift))
    i_base, i_moved = base.charts[0], moved.charts[0]
    assert i_moved.center[0] == pytest.approx(i_base.center[0] + shift, abs=1e-9 * scale)
    assert i_moved.ucl[0] - i_moved.center[0] == pytest.approx(i_base.ucl[0] - i_base.center[0], abs=1e-9 * scale)
    assert moved.charts[1].ucl[0] == pytest.approx(base.charts[1].ucl[0], abs=1e-9 * scale)  # MR chart unchanged


@SETTINGS
@given(groups=subgroups_strategy(moderate), shift=st.floats(-1e4, 1e4), chart=st.sampled_from(["xbar_r", "xbar_s"]))
def test_shifting_the_data_shifts_the_xbar_limits(groups, shift, chart):
    base = analyze(chart, subgroups=groups)
    moved = analyze(chart, subgroups=[[v + shift for v in g] for g in groups])
    scale = max(1.0, max(abs(v) for g in groups for v in g), abs(shift))
    np.testing.assert_allclose(moved.charts[0].ucl, base.charts[0].ucl + shift, atol=1e-9 * scale, rtol=0)
    np.testing.assert_allclose(moved.charts[0].lcl, base.charts[0].lcl + shift, atol=1e-9 * scale, rtol=0)
    np.testing.assert_allclose(moved.charts[1].ucl, base.charts[1].ucl, atol=1e-9 * scale, rtol=0)


@SETTINGS
@given(groups=subgroups_strategy(moderate), factor=st.floats(1e-3, 1e3),
       chart=st.sampled_from(["xbar_r", "xbar_s"]))
def test_scaling_the_data_scales_every_limit(groups, factor, chart):
    base = analyze(chart, subgroups=groups)
    scaled = analyze(chart, subgroups=[[v * factor for v in g] for g in groups])
    scale = max(1.0, max(abs(v) for g in groups for v in g)) * factor
    for before, after in zip(base.charts, scaled.charts, strict=True):
        for a, b in ((before.center, after.center), (before.ucl, after.ucl), (before.lcl, after.lcl)):
            np.testing.assert_allclose(b, a * factor, atol=1e-9 * scale, rtol=0)
    assert scaled.sigma_within == pytest.approx(base.sigma_within * factor, abs=1e-9 * scale)


@SETTINGS
@given(value=any_finite.filter(lambda v: abs(v) <= 1e100), n=st.integers(2, 60),
       chart=st.sampled_from(["imr", "ewma", "cusum", "xbar_r", "xbar_s"]))
def test_constant_data_fires_no_rule(value, n, chart):
    """A constant series has zero sigma: limits collapse onto the centre, which is exactly the constant, so no
    point is beyond them, no point is off the centre line, and zone rules are skipped. Nothing fires."""
    rules = {"ewma": None, "cusum": None}.get(chart, list(NELSON_RULES) + ["WE2", "WE3", "WE4"])
    if chart in ("xbar_r", "xbar_s"):
        result = analyze(chart, subgroups=[[value] * 5] * n, rules=rules, dispersion_rules=list(SHEWHART_RULES))
    else:
        result = analyze(chart, values=[value] * n, rules=rules)
    assert result.sigma_within == 0.0
    assert all(c.signals == [] for c in result.charts)


@SETTINGS
@given(count=st.integers(0, 50), size=st.integers(1, 50), n=st.integers(1, 40),
       chart=st.sampled_from(["p", "np", "c", "u"]))
def test_constant_attribute_data_fires_only_the_stratification_rule(count, size, n, chart):
    """Constant counts sit exactly on the centre line. Unlike constant measurements, an attribute chart's sigma
    comes from the binomial/Poisson model and is not zero, so every point is "within 1σ": Nelson's rule 7 exists
    to flag exactly that (too little variation) and fires from the 15th point; no other rule may fire."""
    count = min(count, size)
    sizes = None if chart == "c" else [size] * n
    result = analyze(chart, counts=[count] * n, sizes=sizes, rules=list(NELSON_RULES))
    fired = {s.rule for s in result.charts[0].signals}
    assert fired <= {"N7"}
    assert ("N7" in fired) == (n >= 15 and result.charts[0].ucl[0] > result.charts[0].center[0])


@SETTINGS
@given(values=values_strategy(any_finite, min_size=1, max_size=30),
       chart=st.sampled_from(["imr", "ewma", "cusum"]))
def test_the_engine_never_crashes_on_finite_values(values, chart):
    """Any finite input either analyses into valid JSON or is refused with an EngineInputError naming the problem:
    one value cannot give a moving range (imr/ewma/cusum then ask for params.sigma), and magnitudes beyond 1e100
    are refused because their squares overflow."""
    with np.errstate(all="ignore"):
        try:
            result = analyze(chart, values=values, rules=None)
        except EngineInputError as exc:
            too_big = max(abs(v) for v in values) > 1e100
            assert (exc.code, too_big or len(values) < 2) in (("out_of_range", True), ("too_few_points", True))
            return
    json.dumps(result.to_dict(), allow_nan=False)


@SETTINGS
@given(groups=subgroups_strategy(any_finite), chart=st.sampled_from(["xbar_r", "xbar_s"]))
def test_the_engine_never_crashes_on_finite_subgroups(groups, chart):
    with np.errstate(all="ignore"):
        try:
            result = analyze(chart, subgroups=groups, rules=list(NELSON_RULES))
        except EngineInputError as exc:
            assert exc.code == "out_of_range" and max(abs(v) for g in groups for v in g) > 1e100
            return
    json.dumps(result.to_dict(), allow_nan=False)


@st.composite
def live_cases(draw):
    chart = draw(st.sampled_from(["imr", "xbar_r", "xbar_s", "p", "np", "c", "u", "ewma", "cusum"]))
    if chart in ("xbar_r", "xbar_s"):
        data = draw(subgroups_strategy(ragged=draw(st.booleans())).filter(lambda g: len(g) >= 2))
    elif chart in ("imr", "ewma", "cusum"):
        data = draw(values_strategy(min_size=3, max_size=120))
    else:
        n = draw(st.integers(2, 60))
        sizes = [draw(st.integers(5, 12))] * n if chart == "np" else draw(st.lists(st.integers(5, 12), min_size=n,
                                                                                     max_size=n))
        counts = [draw(st.integers(0, s)) for s in sizes]
        data = {"counts": counts, "sizes": None if chart == "c" else sizes}
    if chart in ("ewma", "cusum"):
        rules = None
    else:
        rules = draw(st.lists(st.sampled_from(SHEWHART_RULES), min_size=1, max_size=12, unique=True))
    return chart, data, rules


def _analyze(chart, data, rules):
    if chart in ("xbar_r", "xbar_s"):
        return analyze(chart, subgroups=data, rules=rules, dispersion_rules=rules)
    if chart in ("imr", "ewma", "cusum"):
        params = {"lambda": 0.3} if chart == "ewma" else {}
        return analyze(chart, values=data, rules=rules, dispersion_rules=rules if chart == "imr" else None,
                       params=params)
    return analyze(chart, counts=data["counts"], sizes=data["sizes"], rules=rules)


def _split(data, cuts):
    if isinstance(data, dict):
        return [{"counts": data["counts"][a:b], "sizes": None if data["sizes"] is None else data["sizes"][a:b]}
                for a, b in cuts]
    return [data[a:b] for a, b in cuts]


def _length(data):
    return len(data["counts"]) if isinstance(data, dict) else len(data)


def _key(signals):
    return sorted((s.chart, s.index, s.rule, s.points) for s in signals)


@SETTINGS
@given(case=live_cases(), random=st.randoms(use_true_random=False))
def test_incremental_evaluation_fires_exactly_the_batch_signals(case, random):
    """Phase I limits from the data, then the same data fed to the live evaluator in random chunks (state passed
    through JSON between chunks) fires exactly the signals of the batch evaluation — same points, same indices."""
    chart, data, rules = case
    with np.errstate(all="ignore"):
        result = _analyze(chart, data, rules)
    assume(result.limits.sigma is None or np.isfinite(result.limits.sigma))
    batch = _key(s for c in result.charts for s in c.signals)
    total = _length(data)
    edges = sorted({0, total, *(random.randint(0, total) for _ in range(random.randint(0, 6)))})
    state = LiveState.start(result.limits, result.rules)
    live = []
    for chunk in _split(data, list(zip(edges, edges[1:], strict=False))):
        signals, state = state.evaluate(chunk)
        live.extend(signals)
        state = LiveState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert _key(live) == batch
    assert state.count == total


@SETTINGS
@given(case=live_cases(), cut=st.floats(0, 1))
@example(case=("xbar_r", [[0.0] * 5, [0.0] * 5], ["WE1"]), cut=1.0)  # nothing new after the whole history
@example(case=("xbar_s", [[0.0] * 5, [0.0] * 5], ["WE1"]), cut=1.0)
def test_state_built_from_history_continues_like_the_batch(case, cut):
    chart, data, rules = case
    with np.errstate(all="ignore"):
        result = _analyze(chart, data, rules)
    total = _length(data)
    split = int(cut * total)
    history, new = _split(data, [(0, split), (split, total)])
    state = LiveState.from_history(result.limits, result.rules, history)
    signals, _ = state.evaluate(new)
    expected = [s for s in _key(s for c in result.charts for s in c.signals) if s[1] >= split]
    assert _key(signals) == expected


def test_evaluation_cost_per_point_does_not_grow_with_history():
    """The live state holds no history: after a million points it is as small as after ten."""
    result = analyze("imr", values=[0.0, 1.0, 0.5, 0.25], rules=list(NELSON_RULES))
    rng = np.random.default_rng(7)
    short = LiveState.from_history(result.limits, result.rules, rng.normal(size=10))
    long = LiveState.from_history(result.limits, result.rules, rng.normal(size=1_000_000))
    assert len(json.dumps(long.to_dict())) <= len(json.dumps(short.to_dict())) + 40
    assert long.count == 1_000_000


def test_batch_evaluation_against_frozen_limits_matches_live_for_a_shifted_process():
    result = analyze("xbar_r", subgroups=np.random.default_rng(1).normal(10, 1, (30, 5)).tolist(),
                     rules=list(NELSON_RULES))
    later = np.random.default_rng(2).normal(10.8, 1, (200, 5)).tolist()
    charts, _ = evaluate(result.limits, _chart_data(result.limits, later), result.rules)
    batch = _key(s for c in charts for s in c.signals)
    state, live = LiveState.start(result.limits, result.rules), []
    for group in later:
        signals, state = state.evaluate([group])
        live.extend(signals)
    assert batch and _key(live) == batch
