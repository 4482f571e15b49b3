"""Run rules on hand-built patterns (centre 0, σ 1, limits ±3): each rule fires where its definition says, at the
point completing the pattern, naming the points involved. Definitions: Nelson (1984), J. Qual. Technol. 16(4);
Western Electric Statistical Quality Control Handbook (1956); conventions in spc/engine/rules.py."""
import numpy as np
import pytest

from spc.engine.rules import detect


def fire(rule, xs):
    x = np.asarray(xs, dtype=float)
    n = x.size
    return [(s.index, s.points) for s in detect((rule,), x, np.zeros(n), np.ones(n), np.full(n, 3.0),
                                                np.full(n, -3.0), chart="i")]


@pytest.mark.parametrize("rule", ["WE1", "N1"])
def test_one_point_beyond_the_limits(rule):
    assert fire(rule, [0, 0, 3.5, -3.01, 3.0]) == [(2, (2,)), (3, (3,))]


@pytest.mark.parametrize("rule", ["WE2", "N5"])
def test_two_of_three_beyond_two_sigma_same_side(rule):
    assert fire(rule, [0, 2.5, 0.5, 2.5, -2.5, 0, 2.1]) == [(3, (1, 3))]


def test_two_of_three_needs_the_same_side():
    assert fire("WE2", [2.5, -2.5, 0.0]) == []


@pytest.mark.parametrize("rule", ["WE3", "N6"])
def test_four_of_five_beyond_one_sigma_same_side(rule):
    assert fire(rule, [1.5, 1.5, 0.5, 1.5, 1.5]) == [(4, (0, 1, 3, 4))]


def test_eight_on_one_side_we4_but_not_nelson_2():
    xs = [0.5] * 8
    assert fire("WE4", xs) == [(7, tuple(range(8)))]
    assert fire("N2", xs) == []
    assert fire("N2", xs + [0.2]) == [(8, tuple(range(9)))]


def test_a_point_on_the_centre_line_breaks_a_run():
    assert fire("WE4", [0.5] * 4 + [0.0] + [0.5] * 7) == []


def test_every_further_point_of_a_run_signals_again():
    assert [index for index, _ in fire("WE4", [-0.5] * 10)] == [7, 8, 9]


def test_six_points_trending():
    assert fire("N3", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) == [(5, tuple(range(6)))]
    assert fire("N3", [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]) == [(5, tuple(range(6)))]
    assert fire("N3", [0.1, 0.2, 0.3, 0.3, 0.5, 0.6]) == []  # a tie breaks the trend


def test_fourteen_points_alternating():
    assert fire("N4", [0.1, -0.1] * 7) == [(13, tuple(range(14)))]
    assert fire("N4", [0.1, -0.1] * 6 + [0.1]) == []


def test_fifteen_points_within_one_sigma():
    assert fire("N7", [0.1, -0.2] * 7 + [0.5]) == [(14, tuple(range(15)))]
    assert fire("N7", [0.1] * 14 + [1.0]) == []  # |z| = 1 is not "within"


def test_eight_points_beyond_one_sigma_either_side():
    assert fire("N8", [1.5, -1.5] * 4) == [(7, tuple(range(8)))]


def test_zone_rules_are_skipped_where_sigma_is_zero():
    x = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    signals = detect(("WE3", "N7"), x, np.zeros(5), np.zeros(5), np.zeros(5), np.zeros(5), chart="i")
    assert signals == []


def test_nan_points_take_part_in_no_pattern():
    assert fire("WE4", [0.5] * 4 + [np.nan] + [0.5] * 7) == []
