"""Reports over REST: shapes, errors, permissions, site scope."""
from datetime import date

import pytest
from django.utils import timezone

from tests.factories import token_client, user_client
from tests.factories_reports import NOW, ReportPlant

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return ReportPlant()


def test_pareto_json(plant):
    plant.nc(plant.flash)
    plant.nc(plant.flash)
    plant.nc(plant.short_shot)
    body = user_client(plant.engineer).get("/api/v1/reports/pareto/").json()
    assert body["site"] == "S1" and body["measure"] == "count" and body["nc_count"] == 3
    assert [(r["code"], r["value"], r["cumulative_pct"]) for r in body["rows"]] == [("FLASH", 2, 66.67),
                                                                                   ("SHORT_SHOT", 1, 100.0)]
    assert body["rows"][0]["name_zh"] == "飞边"


def test_pareto_bad_parameter_is_a_named_400(plant):
    response = user_client(plant.engineer).get("/api/v1/reports/pareto/", {"measure": "weight"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_choice"
    assert response.json()["error"]["details"] == {"field": "measure"}


def test_trend_json(plant):
    plant.nc(plant.flash, line=plant.line1)
    body = user_client(plant.engineer).get("/api/v1/reports/nc-trend/", {"period": "month"}).json()
    assert body["series"][0]["name"] == "L1" and sum(body["series"][0]["counts"]) == 1
    assert len(body["periods"]) == len(body["totals"])


def test_capa_aging_json(plant):
    days_since_now = (timezone.now() - NOW).total_seconds() / 86400  # the API reports as of the real clock
    capa = plant.capa(days_ago=days_since_now + 40)
    plant.action(due=date(2020, 1, 1), capa=capa)
    body = user_client(plant.engineer).get("/api/v1/reports/capa-aging/").json()
    assert [b["count"] for b in body["buckets"]] == [0, 1, 0, 0]
    assert body["capas"][0]["number"] == capa.number and body["capas"][0]["current_step"] == "D0"
    assert body["overdue_actions"][0]["capa"] == capa.number


def test_other_site_is_refused(plant):
    response = user_client(plant.engineer).get("/api/v1/reports/pareto/", {"site": "S2"})
    assert response.status_code == 403


def test_machine_tokens_cannot_read_reports(plant):
    client, _token = token_client(plant.site, scopes=("ingest",))
    response = client.get("/api/v1/reports/pareto/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "token_not_allowed"


def test_anonymous_is_refused(plant, api_client):
    assert api_client.get("/api/v1/reports/capa-aging/").status_code in (401, 403)
