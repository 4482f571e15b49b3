"""The report query layer (qms.services.reports): which NCs count, cost, trend grouping, CAPA aging, site scope."""
from datetime import date

import pytest
from django.utils import translation

from qms.models import Action, Capa, Nonconformance
from qms.services import reports
from tests.factories_reports import NOW, ReportPlant

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return ReportPlant()


def keyed(report):
    return {report.codes[row.key].code: row.value for row in report.rows}


def test_pareto_by_count_counts_each_nc_once_per_code(plant):
    plant.nc(plant.short_shot, plant.flash)
    plant.nc(plant.short_shot)
    report = reports.defect_pareto(plant.site, now=NOW)
    assert keyed(report) == {"SHORT_SHOT": 2, "FLASH": 1}
    assert report.nc_count == 2
    assert report.rows[-1].cumulative_pct == 100.0


def test_pareto_skips_drafts_cancelled_other_sites_and_old_ncs(plant):
    plant.nc(plant.flash, state=Nonconformance.State.DRAFT)
    plant.nc(plant.flash, state=Nonconformance.State.CANCELLED)
    plant.nc(plant.flash, site=plant.other_site)
    plant.nc(plant.flash, days_ago=200)
    plant.nc(plant.scratch)
    assert keyed(reports.defect_pareto(plant.site, now=NOW)) == {"SCRATCH": 1}


def test_pareto_by_cost_is_quantity_times_unit_cost_inherited_from_the_parent(plant):
    plant.nc(plant.short_shot, quantity=30)  # 30 × FILL's 2.00
    plant.nc(plant.flash, lots=[("LOT-A", 4), ("LOT-B", 1)])  # no quantity_affected: lots 5 × 10.00
    report = reports.defect_pareto(plant.site, measure="cost", now=NOW)
    assert keyed(report) == {"SHORT_SHOT": 60.0, "FLASH": 50.0}


def test_pareto_by_cost_lists_codes_without_cost(plant):
    plant.nc(plant.scratch, quantity=5)
    plant.nc(plant.flash, quantity=1)
    report = reports.defect_pareto(plant.site, measure="cost", now=NOW)
    assert keyed(report) == {"FLASH": 10.0}
    assert [code.code for code in report.not_costed] == ["SCRATCH"]


def test_pareto_by_category_rolls_codes_up_to_their_root(plant):
    plant.nc(plant.short_shot)
    plant.nc(plant.flash)
    plant.nc(plant.scratch)
    assert keyed(reports.defect_pareto(plant.site, level="category", now=NOW)) == {"FILL": 2, "SCRATCH": 1}


def test_pareto_label_follows_the_language(plant):
    plant.nc(plant.flash)
    report = reports.defect_pareto(plant.site, now=NOW)
    with translation.override("zh-hans"):
        assert report.label(report.rows[0]) == "FLASH 飞边"
    with translation.override("en"):
        assert report.label(report.rows[0]) == "FLASH Flash"


def test_date_range_is_inclusive_in_the_site_time_zone(plant):
    # 2026-11-27 16:30 UTC is 2026-11-28 00:30 in Shanghai: it belongs to the 28th.
    nc = plant.nc(plant.flash)
    Nonconformance.objects.filter(pk=nc.pk).update(created_at=NOW.replace(day=27, hour=16, minute=30))
    assert keyed(reports.defect_pareto(plant.site, date_from="2026-11-28", date_to="2026-11-28", now=NOW)) == \
        {"FLASH": 1}
    assert reports.defect_pareto(plant.site, date_from="2026-11-27", date_to="2026-11-27", now=NOW).rows == []


@pytest.mark.parametrize(("params", "code", "field"), [
    ({"date_from": "28.11.2026"}, "invalid_date", "from"),
    ({"date_from": "2026-11-28", "date_to": "2026-11-01"}, "invalid_range", "from"),
    ({"date_from": "2020-01-01", "date_to": "2026-11-01"}, "range_too_long", "from"),
    ({"measure": "weight"}, "invalid_choice", "measure"),
    ({"level": "family"}, "invalid_choice", "level"),
])
def test_bad_pareto_parameters_are_named(plant, params, code, field):
    with pytest.raises(reports.ReportError) as caught:
        reports.defect_pareto(plant.site, now=NOW, **params)
    assert (caught.value.code, caught.value.field) == (code, field)


def test_trend_by_line_per_week(plant):
    plant.nc(plant.flash, line=plant.line1, days_ago=1)   # week of 2026-11-23
    plant.nc(plant.flash, line=plant.line1, days_ago=2)
    plant.nc(plant.flash, line=plant.line2, days_ago=8)   # week of 2026-11-16
    plant.nc(plant.flash, days_ago=1)                      # no line
    report = reports.nc_trend(plant.site, date_from="2026-11-16", date_to="2026-11-28", now=NOW)
    assert report.trend.periods == [date(2026, 11, 16), date(2026, 11, 23)]
    assert report.trend.series == {"L1": [0, 2], "(no line)": [0, 1], "L2": [1, 0]}
    assert [report.period_label(p) for p in report.trend.periods] == ["2026-W47", "2026-W48"]


def test_trend_by_product_per_month(plant):
    plant.nc(plant.flash, product=plant.product, days_ago=1)
    plant.nc(plant.flash, product=plant.product, days_ago=40)
    report = reports.nc_trend(plant.site, date_from="2026-10-01", date_to="2026-11-28", period="month",
                              group="product", now=NOW)
    assert report.trend.series == {"PN-7001": [1, 1]}
    assert report.period_label(report.trend.periods[0]) == "2026-10"


def test_capa_aging_buckets_and_current_step(plant):
    young = plant.capa(days_ago=3, approved=0)
    middle = plant.capa(days_ago=45, approved=4)
    plant.capa(days_ago=120, approved=9)
    plant.capa(days_ago=500, state=Capa.State.CLOSED)
    plant.capa(days_ago=10, site=plant.other_site)
    report = reports.capa_aging(plant.site, now=NOW)
    assert report.by_bucket == [1, 1, 0, 1]
    assert {row.capa.pk: row.current_step for row in report.capas if row.capa.pk in (young.pk, middle.pk)} == \
        {young.pk: "D0", middle.pk: "D4"}
    assert report.by_step["ready"] == 1
    assert report.matrix["D4"] == [0, 1, 0, 0]
    assert [row.age_days for row in report.capas] == [120, 45, 3]  # oldest first


def test_overdue_actions_are_open_and_due_before_today(plant):
    capa = plant.capa(days_ago=20)
    late = plant.action(due=date(2026, 11, 27), capa=capa)
    plant.action(due=date(2026, 11, 28), capa=capa)  # due today: not overdue yet
    plant.action(due=date(2026, 11, 1), capa=capa, state=Action.State.DONE)
    plant.action(due=date(2026, 11, 1), site=plant.other_site)
    report = reports.capa_aging(plant.site, now=NOW)
    assert [action.pk for action in report.overdue] == [late.pk]
    assert report.capas[0].overdue_actions == 1
