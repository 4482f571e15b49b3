"""The pure report arithmetic (qms.reports): Pareto, periods, age buckets, SVG drawings."""
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qms.reports import aging, csvtext, periods, svg
from qms.reports.pareto import pareto

weights = st.lists(st.tuples(st.sampled_from("ABCDEFGHIJ"), st.floats(min_value=0, max_value=1e6, allow_nan=False)),
                   max_size=60)


@given(weights)
def test_pareto_cumulative_ends_at_exactly_100(items):
    rows = pareto(items)
    if rows:
        assert rows[-1].cumulative_pct == 100.0


@given(weights)
def test_pareto_is_sorted_descending_with_non_decreasing_cumulative(items):
    rows = pareto(items)
    assert [r.value for r in rows] == sorted((r.value for r in rows), reverse=True)
    assert all(a.cumulative_pct <= b.cumulative_pct for a, b in zip(rows, rows[1:], strict=False))


@given(st.lists(st.sampled_from("ABCDEFG"), max_size=80))
def test_pareto_preserves_counts(keys):
    rows = pareto((key, 1) for key in keys)
    assert {r.key: r.value for r in rows} == {key: keys.count(key) for key in set(keys)}
    assert sum(r.value for r in rows) == len(keys)


@given(weights)
def test_pareto_shares_add_up_to_100(items):
    rows = pareto(items)
    if rows:
        assert sum(r.share_pct for r in rows) == pytest.approx(100.0)


def test_pareto_marks_the_vital_few_up_to_the_category_crossing_80_percent():
    rows = pareto([("A", 50), ("B", 25), ("C", 15), ("D", 10)])  # 50, 75, 90 (crosses), 100
    assert [(r.key, r.vital_few) for r in rows] == [("A", True), ("B", True), ("C", True), ("D", False)]


def test_pareto_drops_zero_weights_and_breaks_ties_by_key():
    rows = pareto([("B", 2), ("A", 2), ("Z", 0)])
    assert [r.key for r in rows] == ["A", "B"]


def test_pareto_refuses_negative_weights():
    with pytest.raises(ValueError, match="negative"):
        pareto([("A", -1)])


def test_pareto_of_nothing_is_empty():
    assert pareto([]) == []


def test_weeks_start_on_monday_and_months_on_the_first():
    assert periods.period_start(date(2026, 11, 28), "week") == date(2026, 11, 23)
    assert periods.period_start(date(2026, 11, 28), "month") == date(2026, 11, 1)


def test_month_after_december_is_january():
    assert periods.next_period(date(2026, 12, 1), "month") == date(2027, 1, 1)


def test_unknown_period_is_refused():
    with pytest.raises(ValueError, match="unknown period"):
        periods.period_start(date(2026, 1, 1), "fortnight")


def test_trend_fills_empty_periods_with_zero_and_orders_groups_by_total():
    events = [(date(2026, 11, 2), "L2"), (date(2026, 11, 20), "L1"), (date(2026, 11, 21), "L1")]
    result = periods.trend(events, date(2026, 11, 1), date(2026, 11, 22), "week")
    assert result.periods == [date(2026, 10, 26), date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]
    assert result.series == {"L1": [0, 0, 0, 2], "L2": [0, 1, 0, 0]}
    assert result.totals == [0, 1, 0, 2]


def test_trend_ignores_events_outside_the_range():
    result = periods.trend([(date(2026, 10, 1), "L1")], date(2026, 11, 1), date(2026, 11, 30), "month")
    assert result.series == {}
    assert result.totals == [0]


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), st.integers(0, 800),
       st.sampled_from(periods.PERIODS))
def test_every_day_in_range_falls_in_one_listed_period(first, span, period):
    last = first + timedelta(days=span)
    starts = periods.period_starts(first, last, period)
    for day in (first, last, first + timedelta(days=span // 2)):
        assert periods.period_start(day, period) in starts
    assert starts == sorted(set(starts))


@pytest.mark.parametrize(("days", "index"), [(-3, 0), (0, 0), (29, 0), (30, 1), (59, 1), (60, 2), (89, 2), (90, 3),
                                             (4000, 3)])
def test_age_buckets(days, index):
    assert aging.bucket_index(days) == index


def test_bucket_labels():
    assert [b.label for b in aging.buckets()] == ["0–29", "30–59", "60–89", "≥ 90"]


@given(st.lists(st.integers(-10, 500)))
def test_bucket_counts_preserve_the_number_of_records(ages):
    assert sum(aging.count_by_bucket(ages)) == len(ages)


def test_bucket_bounds_must_increase():
    with pytest.raises(ValueError):
        aging.buckets((60, 30))


def test_svg_escapes_labels():
    drawing = svg.pareto_chart(["<script>"], [3], [100.0], label="Pareto & co")
    assert "<script>" not in drawing
    assert "&lt;script&gt;" in drawing
    assert 'aria-label="Pareto &amp; co"' in drawing


def test_svg_draws_one_bar_per_category_and_the_cumulative_line():
    drawing = svg.pareto_chart(["A", "B", "C"], [5, 3, 2], [50.0, 80.0, 100.0], label="P")
    assert drawing.count("<rect") == 3
    assert "<polyline" in drawing


def test_svg_line_chart_has_one_line_per_series():
    drawing = svg.line_chart(["W1", "W2"], [("L1", [1, 2]), ("L2", [0, 3])], label="T")
    assert drawing.count("<polyline") == 2


def test_svg_of_empty_data_is_an_empty_drawing():
    assert svg.bar_chart([], [], label="x").endswith("</svg>")


def test_csv_starts_with_a_bom_and_defuses_formulas():
    text = csvtext.csv_text(["code", "count"], [["=HYPERLINK()", 3], ["缺料", 1.5], [None, True]])
    assert text.startswith("\ufeff")
    assert text.splitlines()[1:] == ["'=HYPERLINK(),3", "缺料,1.5", ",true"]
