"""Issue 6 review: the category Pareto counts an NC once per category; equal rows are ordered by code."""
import pytest

from qms.reports.pareto import pareto
from qms.services import reports
from tests.factories_reports import NOW, ReportPlant

pytestmark = pytest.mark.django_db


def by_code(report):
    return [(report.codes[row.key].code, row.value) for row in report.rows]


def test_an_nc_with_two_codes_of_one_category_counts_once_for_it():
    plant = ReportPlant()
    plant.nc(plant.short_shot, plant.flash, quantity=10)
    plant.nc(plant.flash, quantity=5)
    report = reports.defect_pareto(plant.site, level="category", now=NOW)
    assert by_code(report) == [("FILL", 2.0)]


def test_equal_rows_are_ordered_by_code_not_by_id():
    plant = ReportPlant()  # SHORT_SHOT is created (gets its id) before SCRATCH
    plant.nc(plant.short_shot)
    plant.nc(plant.scratch)
    report = reports.defect_pareto(plant.site, now=NOW)
    assert by_code(report) == [("SCRATCH", 1.0), ("SHORT_SHOT", 1.0)]


def test_pareto_tie_order_is_given_by_the_caller():
    rows = pareto([(2, 1.0), (10, 1.0)], tie_order={2: "B", 10: "A"}.get)
    assert [row.key for row in rows] == [10, 2]
