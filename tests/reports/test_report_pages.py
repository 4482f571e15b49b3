"""Report pages /reports/: access, charts, CSV exports, bad parameters."""
import pytest
from django.test import Client

from tests.factories_reports import ReportPlant

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return ReportPlant()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pareto_page_draws_the_chart_and_the_table(plant):
    plant.nc(plant.flash)
    plant.nc(plant.flash)
    plant.nc(plant.short_shot)
    response = client_for(plant.operator).get("/reports/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<svg" in page and 'class="report-chart"' in page
    assert "FLASH Flash" in page and "66.7" in page


def test_pareto_csv_export_keeps_the_filters(plant):
    plant.nc(plant.flash, quantity=3)
    plant.nc(plant.scratch, quantity=1)
    response = client_for(plant.engineer).get("/reports/", {"measure": "cost", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="pareto-cost-' in response["Content-Disposition"]
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "Code,Defect,Cost,Share %,Cumulative %,Vital few"
    assert lines[1] == "FLASH,Flash,30.0,100.0,100.0,true"


def test_bad_dates_are_explained_and_nothing_is_drawn(plant):
    response = client_for(plant.engineer).get("/reports/", {"date_from": "2026-11-28", "date_to": "2026-11-01"})
    assert response.status_code == 400
    assert "The start date lies after the end date." in response.content.decode()
    assert "<svg" not in response.content.decode()


def test_trend_page_and_csv(plant):
    plant.nc(plant.flash, line=plant.line1)
    client = client_for(plant.engineer)
    page = client.get("/reports/nc-trend/", {"period": "month"}).content.decode()
    assert "<polyline" in page and "L1" in page
    csv_lines = client.get("/reports/nc-trend/", {"period": "month", "format": "csv"}).content.decode(
        "utf-8-sig").splitlines()
    assert csv_lines[0].startswith("Line,") and csv_lines[0].endswith(",Total")
    assert csv_lines[1].startswith("L1,") and csv_lines[1].endswith(",1")
    assert csv_lines[-1].startswith("Total,")


def test_capa_aging_page_lists_open_capas_and_overdue_actions(plant):
    from datetime import date

    capa = plant.capa(days_ago=40, approved=2)
    plant.action(due=date(2020, 1, 1), capa=capa)
    page = client_for(plant.engineer).get("/reports/capa-aging/").content.decode()
    assert capa.number in page
    assert "D2 problem description (5W2H)" in page
    assert 'id="overdue-actions"' in page and "Fix the mould" in page


@pytest.mark.parametrize("table", ["aging", "capas", "overdue"])
def test_capa_aging_tables_export_as_csv(plant, table):
    plant.capa(days_ago=5)
    response = client_for(plant.engineer).get("/reports/capa-aging/", {"format": "csv", "table": table})
    assert response.status_code == 200
    assert response.content.decode("utf-8").startswith("\ufeff")


def test_reports_need_a_signed_in_user(plant):
    assert Client().get("/reports/").status_code == 302


def test_reports_show_only_the_current_site(plant):
    plant.nc(plant.flash, site=plant.other_site)
    page = client_for(plant.engineer).get("/reports/").content.decode()
    assert "FLASH Flash" not in page


def test_reports_are_in_the_navigation(plant):
    page = client_for(plant.operator).get("/").content.decode()
    assert 'href="/reports/"' in page
