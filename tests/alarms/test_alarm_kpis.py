"""Alarm KPIs: the pure statistics (no database), and the site figures over the database."""
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qms.alarm_kpis import AlarmTimes, median, percentile, summarise
from qms.services.alarm_kpis import alarm_kpis, overview_figures
from qms.services.alarms import acknowledge_alarm, mark_contained
from tests.factories import UserFactory
from tests.factories_alarms import T0, raise_test_alarm

D0 = datetime(2026, 11, 20, 8, tzinfo=UTC)


def times(ack_s=None, contain_s=None, severity="major", day=0):
    raised = D0 + timedelta(days=day)
    return AlarmTimes(raised_at=raised, severity=severity, trigger_ts=raised - timedelta(seconds=1),
                      acknowledged_at=raised + timedelta(seconds=ack_s) if ack_s is not None else None,
                      contained_at=raised - timedelta(seconds=1) + timedelta(seconds=contain_s)
                      if contain_s is not None else None)


def test_median_and_p90():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0, 3.0, 4.0]) == 2.5
    assert percentile(list(map(float, range(11))), 0.9) == 9.0
    assert median([]) is None and percentile([], 0.9) is None


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1))
def test_percentiles_lie_within_the_values_and_are_ordered(values):
    assert min(values) <= median(values) <= percentile(values, 0.9) <= max(values)


def test_summary_counts_by_severity_and_skips_missing_times():
    summary = summarise([times(ack_s=30, severity="critical"), times(ack_s=90), times(contain_s=4)])
    assert summary["count"] == 3
    assert summary["by_severity"] == {"critical": 1, "major": 2, "minor": 0, "warning": 0}
    assert summary["time_to_acknowledge"] == {"count": 2, "median_s": 60.0, "p90_s": 84.0}
    assert summary["time_to_contain"]["median_s"] == 4.0


def test_summary_per_day():
    summary = summarise([times(ack_s=10), times(ack_s=20, day=1), times(ack_s=40, day=1)])
    assert [(d["day"], d["count"], d["time_to_acknowledge"]["median_s"]) for d in summary["per_day"]] == [
        ("2026-11-20", 1, 10.0), ("2026-11-21", 2, 30.0)]


def test_negative_clock_skew_counts_as_zero():
    assert summarise([times(contain_s=-5)])["time_to_contain"]["median_s"] == 0.0


@pytest.mark.django_db
def test_site_kpis_and_overview(site, other_site):
    supervisor = UserFactory(username="supervisor", role="supervisor", sites=[site])
    first = raise_test_alarm(site, source_key="a").alarm
    raise_test_alarm(site, source_key="b", severity="critical")
    raise_test_alarm(other_site, source_key="a")
    acknowledge_alarm(first.pk, user=supervisor, now=T0 + timedelta(seconds=45))
    mark_contained(first.pk, at=T0 + timedelta(seconds=2), hold_id=None)
    kpis = alarm_kpis(site, days=7, now=T0 + timedelta(hours=1))
    assert kpis["count"] == 2 and kpis["by_severity"]["critical"] == 1
    assert kpis["time_to_acknowledge"]["median_s"] == 45.0
    assert kpis["time_to_contain"]["median_s"] == 3.0  # trigger_ts is one second before raising
    assert overview_figures(site, now=T0 + timedelta(hours=1)) == {"active": 2, "unacknowledged": 1,
                                                                   "median_ack_s": 45.0}
