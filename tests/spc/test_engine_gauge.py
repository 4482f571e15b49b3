"""Gauge R&R, ANOVA method: the interaction branch, tolerance percentages and bad designs (pure, no database).

The published AIAG example (tests/spc/test_engine_published.py) pools the interaction; this designed study has a
real part × operator interaction, with every sum of squares derivable by hand: part means 10/20/30, operator
effects 0/+5/−5, interaction table [[4,−4,0],[−4,0,4],[0,4,−4]], trial noise ±1 (2 trials)."""
import math

import pytest

from spc.engine import EngineInputError, gauge_rr

PART_BASE = [10, 20, 30]
OPERATOR_EFFECT = [0, 5, -5]
INTERACTION = [[4, -4, 0], [-4, 0, 4], [0, 4, -4]]  # [operator][part]


def designed_study():
    return [[[PART_BASE[p] + OPERATOR_EFFECT[o] + INTERACTION[o][p] + noise for noise in (-1, 1)]
             for o in range(3)] for p in range(3)]


def test_significant_interaction_is_kept_and_components_follow_the_expected_mean_squares():
    """MS_part = 600, MS_operator = 150, MS_interaction = 48, MS_error = 2 → σ²_EV = 2, σ²_PO = (48 − 2)/2 = 23,
    σ²_O = (150 − 48)/6 = 17, σ²_P = (600 − 48)/6 = 92; GRR = 42, total = 134."""
    result = gauge_rr(designed_study(), tolerance=60)
    assert result["interaction_pooled"] is False
    ms = {row["source"]: row.get("ms") for row in result["anova"]}
    assert ms == {"part": 600, "operator": 150, "part*operator": 48, "repeatability": 2, "total": None}
    components = result["components"]
    expected = {"repeatability": 2, "part_operator": 23, "operator": 17, "reproducibility": 40, "gauge_rr": 42,
                "part_to_part": 92, "total": 134}
    for name, variance in expected.items():
        assert components[name]["variance"] == pytest.approx(variance), name
    assert result["GRR"] == pytest.approx(100 * math.sqrt(42 / 134))
    assert components["gauge_rr"]["pct_tolerance"] == pytest.approx(100 * 6 * math.sqrt(42) / 60)
    assert result["ndc"] == math.floor(1.41 * math.sqrt(92 / 42)) == 2


def test_a_given_process_sigma_replaces_the_total_variation():
    result = gauge_rr(designed_study(), process_sigma=20.0)
    assert result["components"]["total"]["sd"] == pytest.approx(20.0)
    assert result["GRR"] == pytest.approx(100 * math.sqrt(42) / 20)


@pytest.mark.parametrize(
    "measurements", [[[[1.0, 2.0]]], [[[1, 2], [3]], [[1, 2], [3, 4]]], [[[1.0, float("nan")]] * 2] * 2]
)
def test_unbalanced_small_or_non_finite_studies_are_refused(measurements):
    with pytest.raises(EngineInputError):
        gauge_rr(measurements)
