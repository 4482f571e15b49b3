"""The alarm REST API: reading with filters and scoping, transitions with permissions and error codes, the event
log cursor, KPIs, machine tokens."""
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from qms.models import Alarm
from qms.services.alarms import acknowledge_alarm, clear_alarm
from tests.factories import UserFactory, make_token, token_client
from tests.factories_alarms import T0, raise_test_alarm

pytestmark = pytest.mark.django_db


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def supervisor(site):
    return UserFactory(username="supervisor", role="supervisor", sites=[site])


@pytest.fixture
def operator(site):
    return UserFactory(username="operator", role="operator", sites=[site])


@pytest.fixture
def alarm(site, equipment):
    return raise_test_alarm(site, equipment=equipment, severity="critical").alarm


@pytest.fixture
def foreign_alarm(other_site):
    return raise_test_alarm(other_site, source_key="elsewhere").alarm


def test_list_shows_only_own_sites(supervisor, alarm, foreign_alarm):
    body = client_for(supervisor).get("/api/v1/alarms/").json()
    assert [row["id"] for row in body["results"]] == [alarm.pk]
    assert body["results"][0]["equipment"] == "IMM01" and body["results"][0]["url"] == f"/alarms/{alarm.pk}/"


@pytest.mark.parametrize(("query", "expected"), [
    ("severity=critical", 1), ("severity=minor", 0), ("equipment=IMM01", 1), ("equipment=IMM99", 0),
    ("open=true", 1), ("open=false", 0), ("state=active_unacknowledged", 1), ("state=cleared", 0),
    ("since=2026-11-28T07:00:00Z", 1), ("since=2026-11-28T09:00:00Z", 0),
])
def test_list_filters(supervisor, alarm, query, expected):
    assert client_for(supervisor).get(f"/api/v1/alarms/?{query}").json()["count"] == expected


def test_bad_filter_value_is_a_400_naming_the_field(supervisor, alarm):
    response = client_for(supervisor).get("/api/v1/alarms/?state=burning")
    assert response.status_code == 400 and "state" in str(response.json()["error"])


def test_detail_with_events(supervisor, alarm):
    body = client_for(supervisor).get(f"/api/v1/alarms/{alarm.pk}/").json()
    assert [event["kind"] for event in body["events"]] == ["raised"]


def test_other_sites_alarm_is_404(supervisor, foreign_alarm):
    client = client_for(supervisor)
    assert client.get(f"/api/v1/alarms/{foreign_alarm.pk}/").status_code == 404
    response = client.post(f"/api/v1/alarms/{foreign_alarm.pk}/acknowledge/", {}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert Alarm.objects.get(pk=foreign_alarm.pk).acknowledged_at is None


def test_acknowledge_then_twice_is_409(supervisor, alarm):
    client = client_for(supervisor)
    response = client.post(f"/api/v1/alarms/{alarm.pk}/acknowledge/", {"comment": "seen"}, format="json")
    assert response.status_code == 200 and response.json()["acknowledged_by"] == "supervisor"
    assert response.json()["time_to_acknowledge_s"] is not None
    again = client.post(f"/api/v1/alarms/{alarm.pk}/acknowledge/", {}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_acknowledged"


def test_unknown_body_field_is_a_400(supervisor, alarm):
    response = client_for(supervisor).post(f"/api/v1/alarms/{alarm.pk}/acknowledge/", {"coment": "x"},
                                           format="json")
    assert response.status_code == 400 and "coment" in response.json()["error"]["details"]


def test_operator_may_read_but_not_acknowledge(operator, alarm):
    client = client_for(operator)
    assert client.get("/api/v1/alarms/").status_code == 200
    response = client.post(f"/api/v1/alarms/{alarm.pk}/acknowledge/", {}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "role_forbidden"


def test_clear_and_close(supervisor, alarm):
    client = client_for(supervisor)
    early = client.post(f"/api/v1/alarms/{alarm.pk}/close/", {}, format="json")
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_cleared"
    client.post(f"/api/v1/alarms/{alarm.pk}/acknowledge/", {}, format="json")
    assert client.post(f"/api/v1/alarms/{alarm.pk}/clear/", {}, format="json").json()["state"] == "cleared"
    closed = client.post(f"/api/v1/alarms/{alarm.pk}/close/", {"comment": "fixed"}, format="json")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"


def test_shelve_requires_reason_and_a_future_time(supervisor, alarm):
    client = client_for(supervisor)
    until = (timezone.now() + timedelta(hours=1)).isoformat()
    missing = client.post(f"/api/v1/alarms/{alarm.pk}/shelve/", {"until": until}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["error"]["details"]
    past = client.post(f"/api/v1/alarms/{alarm.pk}/shelve/",
                       {"reason": "x", "until": (timezone.now() - timedelta(minutes=1)).isoformat()}, format="json")
    assert past.status_code == 400 and past.json()["error"]["code"] == "until_in_past"
    assert "until" in past.json()["error"]["details"]
    naive = client.post(f"/api/v1/alarms/{alarm.pk}/shelve/", {"reason": "x", "until": "2026-11-28T12:00:00"},
                        format="json")
    assert naive.status_code == 400
    ok = client.post(f"/api/v1/alarms/{alarm.pk}/shelve/", {"reason": "sensor swap", "until": until}, format="json")
    assert ok.status_code == 200, ok.json()
    assert ok.json()["shelved_reason"] == "sensor swap"
    assert client.post(f"/api/v1/alarms/{alarm.pk}/unshelve/", {}, format="json").json()["shelved_until"] is None
    again = client.post(f"/api/v1/alarms/{alarm.pk}/unshelve/", {}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_shelved"


def test_event_log_cursor(supervisor, site, alarm, foreign_alarm):
    acknowledge_alarm(alarm.pk, user=supervisor)
    clear_alarm(alarm.pk)
    client = client_for(supervisor)
    first = client.get("/api/v1/alarms/events/?site=S1&limit=2").json()
    assert [e["kind"] for e in first["events"]] == ["raised", "acknowledged"] and first["has_more"] is True
    rest = client.get(f"/api/v1/alarms/events/?site=S1&after={first['next_after']}").json()
    assert [e["kind"] for e in rest["events"]] == ["cleared"] and rest["has_more"] is False
    assert rest["events"][0]["snapshot"]["state"] == "cleared"
    everything = client.get("/api/v1/alarms/events/").json()
    assert {e["alarm"] for e in everything["events"]} == {alarm.pk}  # never another site's


def test_event_log_bad_parameters(supervisor, alarm):
    client = client_for(supervisor)
    assert client.get("/api/v1/alarms/events/?after=abc").json()["error"]["code"] == "invalid_parameter"
    assert client.get("/api/v1/alarms/events/?limit=0").status_code == 400
    assert client.get("/api/v1/alarms/events/?site=S2").status_code == 404


def test_machine_token_reads_with_the_scope_only(site, alarm):
    reader, _token = token_client(site, scopes=("alarms:read",))
    assert reader.get("/api/v1/alarms/").json()["count"] == 1
    assert reader.get("/api/v1/alarms/events/").status_code == 200
    denied = reader.post(f"/api/v1/alarms/{alarm.pk}/acknowledge/", {}, format="json")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "token_not_allowed"
    ingest_only, _token = token_client(site, scopes=("ingest",))
    assert ingest_only.get("/api/v1/alarms/").json()["error"]["code"] == "missing_scope"


def test_alarms_read_is_a_valid_scope(site):
    token, _raw = make_token(site, scopes=("alarms:read",))
    assert token.scopes == ["alarms:read"]


def test_kpis(supervisor, alarm):
    acknowledge_alarm(alarm.pk, user=supervisor, now=alarm.raised_at + timedelta(seconds=30))
    body = client_for(supervisor).get("/api/v1/alarms/kpis/?days=3650").json()
    assert body["error"]["code"] == "invalid_parameter"
    # T0 lies in 2026-11-28 08:00 UTC; the test clock is real time, so ask for enough days to cover it
    days = max(1, min(366, (timezone.now() - T0).days + 2))
    body = client_for(supervisor).get(f"/api/v1/alarms/kpis/?site=S1&days={days}").json()
    assert body["site"] == "S1"
    if T0 > timezone.now() - timedelta(days=days):
        assert body["by_severity"]["critical"] == 1 and body["time_to_acknowledge"]["median_s"] == 30.0


def test_anonymous_is_refused(api_client, alarm):
    assert api_client.get("/api/v1/alarms/").status_code in (401, 403)
