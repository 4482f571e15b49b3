"""Capability indices, their confidence intervals, normality and the non-normal routes (pure, no database)."""
import numpy as np
import pytest
from scipy import stats

from spc.engine import analyze, anderson_darling, capability
from spc.engine.capability import ad_p_value
from tests.spc.datasets import ORANGE_JUICE, PISTON_RINGS


def sample_with(mean, sd, n, seed=0):
    """n values whose sample mean and sample sd (n − 1 divisor) are exactly `mean` and `sd`."""
    x = np.random.default_rng(seed).normal(size=n)
    return mean + sd * (x - x.mean()) / x.std(ddof=1)


def test_cp_confidence_interval_montgomery():
    """Montgomery, Introduction to SQC, ch. 8 (Example 8.5 in the 6th ed.): USL = 62, LSL = 38, n = 20, s = 1.75,
    centred: Cp = 2.29 with the 95 % chi-square interval 1.57 ≤ Cp ≤ 3.01 (here as Pp, σ = the sample sd). The
    book multiplies the rounded 2.29; from the exact 2.2857 the lower bound is 1.5650, hence ±0.005."""
    result = capability(sample_with(50, 1.75, 20), lsl=38, usl=62, transform="none")
    overall = result["overall"]
    assert round(overall["Pp"], 2) == 2.29
    assert overall["Pp_ci"] == [pytest.approx(1.57, abs=0.0051), pytest.approx(3.01, abs=0.0051)]


def test_cpk_confidence_interval_bissell_montgomery():
    """Montgomery, ch. 8 (Example 8.6 in the 6th ed.): n = 20, Cpk = 1.33 → 95 % interval 0.88 ≤ Cpk ≤ 1.78 by
    Bissell's approximation Cpk ± z·√(1/(9n) + Cpk²/(2(n − 1)))."""
    mean, sd = 50.0, 1.0
    usl = mean + 3 * 1.33 * sd
    result = capability(sample_with(mean, sd, 20), lsl=mean - 10, usl=usl, transform="none")
    overall = result["overall"]
    assert overall["Ppk"] == pytest.approx(1.33, abs=1e-12)
    assert [round(v, 2) for v in overall["Ppk_ci"]] == [0.88, 1.78]


def test_nist_capability_example_and_expected_ppm():
    """NIST/SEMATECH e-Handbook §6.1.6: USL = 20, LSL = 8, μ = 16, σ = 2 → Cp = 1.0, Cpk = min(4/6, 8/6) = 0.667.
    Expected ppm is cross-checked against scipy's normal tail directly."""
    result = capability(sample_with(16, 2, 200), lsl=8, usl=20, transform="none")
    overall = result["overall"]
    assert overall["Pp"] == pytest.approx(1.0, abs=1e-12)
    assert round(overall["Ppk"], 3) == 0.667
    expected = 1e6 * (stats.norm.cdf(8, 16, 2) + stats.norm.sf(20, 16, 2))
    assert overall["expected_ppm"]["total"] == pytest.approx(expected, rel=1e-9)


def test_within_indices_use_the_charts_estimator():
    """X̄-R on the piston rings (Montgomery ch. 8 uses these specs, 74 ± 0.05): σ_within = R̄/d2 gives
    Cp = 0.1/(6·0.009785) = 1.70; Pp uses the overall sample sd of the 125 values."""
    result = analyze("xbar_r", subgroups=PISTON_RINGS[:25], spec={"lsl": 73.95, "usl": 74.05},
                     params={"transform": "none"})
    within, overall = result.capability["within"], result.capability["overall"]
    assert round(within["Cp"], 2) == 1.70
    assert within["Cp"] == pytest.approx(0.1 / (6 * result.sigma_within), rel=1e-12)
    values = np.array(PISTON_RINGS[:25]).ravel()
    assert overall["Pp"] == pytest.approx(0.1 / (6 * values.std(ddof=1)), rel=1e-12)
    assert within["dof"] == pytest.approx(0.9 * 25 * 4)  # Minitab's ν for R̄


def test_cpm_uses_the_target():
    x = sample_with(10.5, 1.0, 50)
    result = capability(x, lsl=7, usl=13, target=10, transform="none")
    tau = np.sqrt(np.sum((x - 10) ** 2) / (x.size - 1))
    assert result["cpm"]["Cpm"] == pytest.approx(3 / (3 * tau), rel=1e-12)
    low, high = result["cpm"]["Cpm_ci"]
    assert low < result["cpm"]["Cpm"] < high


def test_anderson_darling_p_value_agrees_with_monte_carlo():
    """The D'Agostino–Stephens p-value, against scipy's Monte Carlo p-value for the same statistic (independent
    method): within Monte Carlo error."""
    rng = np.random.default_rng(11)
    for sample in (rng.normal(size=40), rng.gamma(4.0, size=40)):
        ours = anderson_darling(sample)["p_value"]
        mc = stats.anderson(sample, method=stats.MonteCarloMethod(n_resamples=3000, rng=1)).pvalue
        assert ours == pytest.approx(mc, abs=0.03)


def test_ad_p_value_is_monotone_in_the_statistic():
    values = [ad_p_value(a, 50) for a in np.linspace(0.05, 3, 60)]
    assert all(b <= a for a, b in zip(values, values[1:], strict=False))


def test_skewed_positive_data_take_the_box_cox_route_and_say_so():
    x = np.random.default_rng(5).lognormal(mean=1.0, sigma=0.6, size=300)
    result = capability(x, lsl=0.5, usl=12, sigma_within=float(np.std(x, ddof=1)), transform="auto")
    method = result["method"]
    assert result["normality"]["p_value"] < 0.05
    assert method["route"] == "box-cox"
    assert method["lambda"] == pytest.approx(stats.boxcox(x)[1], rel=1e-9)
    assert method["normality_after"]["p_value"] > result["normality"]["p_value"]
    assert result["overall"]["Ppk"] is not None


def test_skewed_data_with_negatives_take_the_johnson_route():
    x = np.random.default_rng(6).lognormal(mean=1.0, sigma=0.6, size=300) - 2.0
    result = capability(x, lsl=-1.9, usl=10, transform="auto")
    assert result["method"]["route"] == "johnson"
    assert result["within"] is None
    assert 0 < result["overall"]["Ppk"] < result["overall"]["Pp"]


def test_no_transform_keeps_the_normal_route():
    x = np.random.default_rng(5).lognormal(size=200)
    assert capability(x, usl=20, transform="none")["method"]["route"] == "normal"


def test_attribute_capability_exact_binomial_interval():
    """p chart capability: p̄ with the Clopper–Pearson interval, cross-checked with scipy's binomtest."""
    result = analyze("p", counts=ORANGE_JUICE, sizes=[50] * 30)
    interval = stats.binomtest(sum(ORANGE_JUICE), 1500).proportion_ci(method="exact")
    assert result.capability["proportion"] == pytest.approx(sum(ORANGE_JUICE) / 1500)
    assert result.capability["proportion_ci"] == pytest.approx([interval.low, interval.high], rel=1e-9)


def test_zero_sigma_gives_null_indices_not_infinity():
    result = capability([5.0] * 10, lsl=4, usl=6, sigma_within=0.0, transform="none")
    assert result["within"]["Cp"] is None and result["overall"]["Pp"] is None
