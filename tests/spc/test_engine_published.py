"""Published worked examples, reproduced to the precision they are published with. Plain pytest, no database."""
import numpy as np
import pytest

from spc.engine import analyze, gauge_rr
from spc.engine.constants import A2, A3, B3, B4, D3, D4, c4, d2, d3
from tests.spc.datasets import (
    CIRCUIT_BOARDS,
    NIST_EWMA,
    ORANGE_JUICE,
    PISTON_RINGS,
    TABLE_9_1,
    VISCOSITY,
    aiag_array,
)

# Montgomery, Introduction to Statistical Quality Control, Appendix VI "Factors for constructing variables control
# charts", n = 2..25 (c4 to 4 decimals, the rest to 3).
APPENDIX_VI = {
    "A2": [1.880, 1.023, 0.729, 0.577, 0.483, 0.419, 0.373, 0.337, 0.308, 0.285, 0.266, 0.249, 0.235, 0.223, 0.212,
           0.203, 0.194, 0.187, 0.180, 0.173, 0.167, 0.162, 0.157, 0.153],
    "A3": [2.659, 1.954, 1.628, 1.427, 1.287, 1.182, 1.099, 1.032, 0.975, 0.927, 0.886, 0.850, 0.817, 0.789, 0.763,
           0.739, 0.718, 0.698, 0.680, 0.663, 0.647, 0.633, 0.619, 0.606],
    "c4": [0.7979, 0.8862, 0.9213, 0.9400, 0.9515, 0.9594, 0.9650, 0.9693, 0.9727, 0.9754, 0.9776, 0.9794, 0.9810,
           0.9823, 0.9835, 0.9845, 0.9854, 0.9862, 0.9869, 0.9876, 0.9882, 0.9887, 0.9892, 0.9896],
    "d2": [1.128, 1.693, 2.059, 2.326, 2.534, 2.704, 2.847, 2.970, 3.078, 3.173, 3.258, 3.336, 3.407, 3.472, 3.532,
           3.588, 3.640, 3.689, 3.735, 3.778, 3.819, 3.858, 3.895, 3.931],
    "d3": [0.853, 0.888, 0.880, 0.864, 0.848, 0.833, 0.820, 0.808, 0.797, 0.787, 0.778, 0.770, 0.763, 0.756, 0.750,
           0.744, 0.739, 0.734, 0.729, 0.724, 0.720, 0.716, 0.712, 0.708],
    "B3": [0.000, 0.000, 0.000, 0.000, 0.030, 0.118, 0.185, 0.239, 0.284, 0.321, 0.354, 0.382, 0.406, 0.428, 0.448,
           0.466, 0.482, 0.497, 0.510, 0.523, 0.534, 0.545, 0.555, 0.565],
    "B4": [3.267, 2.568, 2.266, 2.089, 1.970, 1.882, 1.815, 1.761, 1.716, 1.679, 1.646, 1.618, 1.594, 1.572, 1.552,
           1.534, 1.518, 1.503, 1.490, 1.477, 1.466, 1.455, 1.445, 1.435],
    "D3": [0.000, 0.000, 0.000, 0.000, 0.000, 0.076, 0.136, 0.184, 0.223, 0.256, 0.283, 0.307, 0.328, 0.347, 0.363,
           0.378, 0.391, 0.403, 0.415, 0.425, 0.434, 0.443, 0.451, 0.459],
    "D4": [3.267, 2.574, 2.282, 2.114, 2.004, 1.924, 1.864, 1.816, 1.777, 1.744, 1.717, 1.693, 1.672, 1.653, 1.637,
           1.622, 1.608, 1.597, 1.585, 1.575, 1.566, 1.557, 1.548, 1.541],
}
FUNCTIONS = {"A2": A2, "A3": A3, "c4": c4, "d2": d2, "d3": d3, "B3": B3, "B4": B4, "D3": D3, "D4": D4}


@pytest.mark.parametrize("name", sorted(APPENDIX_VI))
def test_constants_match_montgomery_appendix_vi(name):
    """Montgomery, Introduction to SQC (7th/8th ed.), Appendix VI, n = 2–25, computed from the definitions.

    The table was built from rounded d2/d3, so a few entries differ from the exact value by one unit in the last
    place (e.g. D4(3) = 2.57459… is printed 2.574, d3(19) = 0.73348… is printed 0.734): tolerance is one unit."""
    unit = 1e-4 if name == "c4" else 1e-3
    for n, published in zip(range(2, 26), APPENDIX_VI[name], strict=True):
        assert FUNCTIONS[name](n) == pytest.approx(published, abs=unit + 1e-12), (name, n)


def test_d2_of_two_is_two_over_root_pi():
    """d2(2) = 2/√π exactly (E|X1 − X2| for standard normals); the quadrature must hit it to 1e-12."""
    assert d2(2) == pytest.approx(2 / np.sqrt(np.pi), abs=1e-12)


def test_xbar_r_piston_rings_phase_one():
    """Montgomery, Introduction to SQC, piston-ring inside diameter, X̄-R phase I on the 25 preliminary samples
    (Example 6.1 in the 6th/7th ed.): x̿ = 74.001, R̄ = 0.023, X̄ limits 73.988 / 74.014, no point out of control.
    R qcc 2.7 on the same data: centre 74.00118, σ = 0.009785039, limits [73.98805, 74.0143], R UCL 0.04812533."""
    result = analyze("xbar_r", subgroups=PISTON_RINGS[:25])
    xbar, r = result.charts
    assert round(xbar.center[0], 3) == 74.001
    assert round(r.center[0], 3) == 0.023
    assert (round(xbar.lcl[0], 3), round(xbar.ucl[0], 3)) == (73.988, 74.014)
    assert xbar.center[0] == pytest.approx(74.00118, abs=5e-6)
    assert result.sigma_within == pytest.approx(0.009785039, abs=5e-7)
    assert (xbar.lcl[0], xbar.ucl[0]) == (pytest.approx(73.98805, abs=5e-6), pytest.approx(74.0143, abs=5e-5))
    assert r.ucl[0] == pytest.approx(0.04812533, abs=2e-6)
    assert r.lcl[0] == 0.0
    assert xbar.signals == [] and r.signals == []


def test_xbar_r_piston_rings_phase_two_signals_the_shift():
    """Montgomery, piston rings, phase II (Table 6.4, samples 26–40 against the frozen phase I limits): the
    process mean has shifted upwards; X̄ points 37, 38 and 39 (1-based) plot above the UCL (Figure 6.5)."""
    result = analyze("xbar_r", subgroups=PISTON_RINGS, params={"baseline": 25}, rules=["WE1"])
    xbar = result.charts[0]
    assert [s.index + 1 for s in xbar.signals] == [37, 38, 39]
    assert xbar.ucl[30] == xbar.ucl[0]  # frozen


def test_xbar_s_piston_rings_against_qcc():
    """Montgomery, piston rings, X̄-S (Example 6.3 in the 7th ed.), checked against R qcc 2.7 (independent
    implementation): s̄ = 0.009240037, σ = s̄/c4 = 0.009829977, S UCL = 0.019302416, X̄ limits 73.988 / 74.014."""
    result = analyze("xbar_s", subgroups=PISTON_RINGS[:25])
    xbar, s = result.charts
    assert s.center[0] == pytest.approx(0.009240037, abs=5e-10)
    assert result.sigma_within == pytest.approx(0.009829977, abs=5e-10)
    assert s.ucl[0] == pytest.approx(0.019302416, abs=5e-9)
    assert (round(xbar.lcl[0], 3), round(xbar.ucl[0], 3)) == (73.988, 74.014)


def test_xbar_varying_subgroup_sizes_gives_per_point_limits():
    """qcc 2.7 comparison (as in the mistat test-suite): pistonrings with observations 9, 10, 30, 35, 45, 64, 65,
    74, 75, 85, 99, 100 removed, so subgroups have 3–5 values: x̿ = 74.00075. σ is Minitab's R̄ method (Burr
    weights fᵢ = d2²/d3²), recomputed here independently; each point's limits are x̿ ± 3σ/√nᵢ."""
    removed = {9, 10, 30, 35, 45, 64, 65, 74, 75, 85, 99, 100}
    flat = [v for group in PISTON_RINGS[:25] for v in group]
    groups = [[flat[i] for i in range(g * 5, g * 5 + 5) if i + 1 not in removed] for g in range(25)]
    result = analyze("xbar_r", subgroups=groups)
    xbar = result.charts[0]
    assert xbar.center[0] == pytest.approx(74.00075, abs=5e-6)
    ranges = [max(g) - min(g) for g in groups]
    weights = [d2(len(g)) ** 2 / d3(len(g)) ** 2 for g in groups]
    sigma = sum(w * r / d2(len(g)) for w, r, g in zip(weights, ranges, groups, strict=True)) / sum(weights)
    assert result.sigma_within == pytest.approx(sigma, rel=1e-12)
    for i, group in enumerate(groups):
        assert xbar.ucl[i] == pytest.approx(xbar.center[0] + 3 * sigma / np.sqrt(len(group)), rel=1e-12)


def test_p_chart_orange_juice_with_revised_limits():
    """Montgomery, Example 7.1 (orange-juice cans, 30 samples of 50): p̄ = 0.2313, UCL = 0.4102, LCL = 0.0524;
    samples 15 and 23 are out of control. Revised limits without them: p̄ = 0.2150, UCL = 0.3893, LCL = 0.0407,
    and sample 21 then exceeds the revised UCL. (qcc: 0.2313333 [0.05242755, 0.4102391]; 0.215
    [0.04070284, 0.3892972].)"""
    first = analyze("p", counts=ORANGE_JUICE, sizes=[50] * 30, rules=["WE1"]).charts[0]
    assert (round(first.center[0], 4), round(first.ucl[0], 4), round(first.lcl[0], 4)) == (0.2313, 0.4102, 0.0524)
    assert [s.index + 1 for s in first.signals] == [15, 23]
    revised = analyze("p", counts=ORANGE_JUICE, sizes=[50] * 30, rules=["WE1"], params={"exclude": [14, 22]})
    chart = revised.charts[0]
    assert (round(chart.center[0], 4), round(chart.ucl[0], 4), round(chart.lcl[0], 4)) == (0.2150, 0.3893, 0.0407)
    assert chart.lcl[0] == pytest.approx(0.04070284, abs=5e-9)
    assert [s.index + 1 for s in chart.signals] == [15, 21, 23]
    assert revised.excluded == [14, 22]


def test_c_chart_circuit_boards_and_iterative_exclusion():
    """Montgomery, c chart for nonconformities on printed circuit boards (26 samples of 100 boards): c̄ = 19.85,
    UCL = 33.22, LCL = 6.48, samples 6 and 20 out of control; revised without them c̄ = 19.67, UCL = 32.97,
    LCL = 6.36. With exclude_out_of_control the engine finds the same two samples itself. The book computes the
    first UCL from c̄ rounded to 19.85 (33.22); from the exact c̄ = 19.846 it is 33.211, so limits are held to ±0.01."""
    chart = analyze("c", counts=CIRCUIT_BOARDS, rules=["WE1"]).charts[0]
    assert round(chart.center[0], 2) == 19.85
    assert (chart.ucl[0], chart.lcl[0]) == (pytest.approx(33.22, abs=0.01), pytest.approx(6.48, abs=0.01))
    assert [s.index + 1 for s in chart.signals] == [6, 20]
    revised = analyze("c", counts=CIRCUIT_BOARDS, rules=["WE1"], params={"exclude_out_of_control": True})
    chart = revised.charts[0]
    assert (round(chart.center[0], 2), round(chart.ucl[0], 2), round(chart.lcl[0], 2)) == (19.67, 32.97, 6.36)
    assert revised.excluded == [5, 19]


def test_tabular_cusum_montgomery_example_9_1():
    """Montgomery, Example 9.1 / Table 9.2: tabular CUSUM of Table 9.1 with μ0 = 10, σ = 1, k = 0.5, h = 5.
    C⁺ for periods 1–30 as tabulated (2 dp), C⁺₂₉ = 5.28 > H = 5 is the first signal, N⁺ = 7 so the shift is dated
    after period 22, and the new mean estimate μ0 + K + C⁺/N⁺ = 11.25."""
    published_upper = [0.0, 0.0, 0.0, 1.16, 2.82, 2.50, 0.04, 1.00, 0.0, 0.0, 0.0, 0.97, 0.98, 0.0, 0.0, 0.0, 0.12,
                       0.0, 0.0, 0.34, 0.74, 0.0, 1.79, 2.79, 2.89, 3.47, 3.35, 4.47, 5.28, 5.30]
    result = analyze("cusum", values=TABLE_9_1, params={"target": 10, "sigma": 1, "k": 0.5, "h": 5})
    upper, lower = result.charts
    assert np.round(upper.points, 2).tolist() == published_upper
    first = upper.signals[0]
    assert first.index + 1 == 29
    assert first.points == tuple(range(22, 29))  # N+ = 7: periods 23..29
    assert 10 + 0.5 + upper.points[28] / len(first.points) == pytest.approx(11.25, abs=0.005)
    assert lower.signals == []


def test_ewma_montgomery_example_9_2():
    """Montgomery, Example 9.2: EWMA of Table 9.1 with λ = 0.1, L = 2.7, μ0 = 10, σ = 1. The example computes
    z₁ = 9.945, z₂ = 9.7495, limits 9.73/10.27 at period 1 and 9.64/10.36 at period 2, and steady-state limits
    9.38/10.62. The signalled periods are cross-checked against an independent loop written here."""
    result = analyze("ewma", values=TABLE_9_1, params={"target": 10, "sigma": 1, "lambda": 0.1, "L": 2.7})
    chart = result.charts[0]
    assert chart.points[:2].tolist() == pytest.approx([9.945, 9.7495], abs=1e-12)
    assert (round(chart.lcl[0], 2), round(chart.ucl[0], 2)) == (9.73, 10.27)
    assert (round(chart.lcl[1], 2), round(chart.ucl[1], 2)) == (9.64, 10.36)
    assert (round(chart.lcl[-1], 2), round(chart.ucl[-1], 2)) == (9.38, 10.62)
    z, expected = 10.0, []
    for i, x in enumerate(TABLE_9_1, start=1):
        z = 0.1 * x + 0.9 * z
        half = 2.7 * np.sqrt(0.1 / 1.9 * (1 - 0.9 ** (2 * i)))
        if abs(z - 10) > half:
            expected.append(i - 1)
    assert [s.index for s in chart.signals] == expected == [28, 29]


def test_ewma_nist_handbook_6_3_2_4():
    """NIST/SEMATECH e-Handbook of Statistical Methods §6.3.2.4: λ = 0.3, EWMA₀ = 50, s = 2.0539, k = 3. All 20
    EWMA values as printed (2 dp), steady-state limits 52.5884 / 47.4115 (printed from a factor truncated to
    0.4201, hence 1e-3), and no point out of control."""
    published = [50.60, 49.52, 50.56, 50.18, 50.16, 49.21, 49.75, 49.85, 50.26, 50.33, 50.11, 49.36, 49.52, 50.05,
                 49.38, 49.92, 50.73, 51.23, 51.94, 51.99]
    chart = analyze("ewma", values=NIST_EWMA, params={"target": 50, "sigma": 2.0539, "lambda": 0.3, "L": 3}).charts[0]
    assert np.round(chart.points, 2).tolist() == published
    assert chart.ucl[-1] == pytest.approx(52.5884, abs=1e-3)
    assert chart.lcl[-1] == pytest.approx(47.4115, abs=1e-3)
    assert chart.signals == []


def test_individuals_chart_viscosity():
    """Montgomery, individuals and moving-range chart of viscosity (qcc cites "Montgomery, pag. 242"): x̄ = 33.52,
    MR̄ = 0.48, limits 32.24 / 34.80, MR UCL = 1.57. qcc reports σ = 0.4261651 because it divides by the rounded
    d2 = 1.128; with the exact d2(2) = 1.12838 the engine gives MR̄/d2 = 0.42602 (difference 3e-4 relative), which
    moves the LCL from 32.245 (printed 32.24) to 32.2453 — limits are held to ±0.01."""
    result = analyze("imr", values=VISCOSITY)
    i, mr = result.charts
    assert round(i.center[0], 2) == 33.52
    assert (i.lcl[0], i.ucl[0]) == (pytest.approx(32.24, abs=0.01), pytest.approx(34.80, abs=0.01))
    assert round(mr.center[0], 2) == 0.48 and round(mr.ucl[0], 2) == 1.57
    assert result.sigma_within == pytest.approx(0.4261651 * 1.128 / d2(2), rel=1e-6)
    assert np.isnan(mr.points[0])


def test_gauge_rr_anova_aiag_msa_4th_edition():
    """AIAG, Measurement Systems Analysis 4th ed., ANOVA method on the 10 parts × 3 appraisers × 3 trials study, as
    reproduced in McNeese (2015), "Three Ways to Analyze a Gage R&R Study": SS_part 88.362, SS_appraiser 3.167,
    MS_part 9.818, MS_appraiser 1.584; interaction not significant → pooled: SS 3.118, MS 0.0400. Variance
    components: repeatability 0.0400, reproducibility 0.0515, GRR 0.0914, part 1.086; %GRR 27.9 %, ndc = 4."""
    result = gauge_rr(aiag_array())
    part, appraiser, repeat = result["anova"][:3]
    assert round(part["ss"], 3) == 88.362 and round(part["ms"], 3) == 9.818
    assert round(appraiser["ss"], 3) == 3.167 and round(appraiser["ms"], 3) == 1.584
    assert result["interaction_pooled"] is True and result["interaction_p_value"] > 0.25
    assert round(repeat["ss"], 3) == 3.118 and round(repeat["ms"], 4) == 0.0400
    components = result["components"]
    assert round(components["repeatability"]["variance"], 4) == 0.0400
    assert round(components["reproducibility"]["variance"], 4) == 0.0515
    assert round(components["gauge_rr"]["variance"], 4) == 0.0914
    assert round(components["part_to_part"]["variance"], 3) == 1.086
    assert round(result["GRR"], 1) == 27.9
    assert result["ndc"] == 4
