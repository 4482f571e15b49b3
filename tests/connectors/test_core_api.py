"""/api/v1/connectors/ and /api/v1/metrics: CRUD by role, validation, secrets never shown, site scoping, status."""
import pytest

from connectors.models import Connector, ConnectorStatus
from tests.factories import ConnectorFactory, TagMappingFactory, UserFactory, user_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/connectors/"


def body(**overrides):
    data = {"name": "press-line", "kind": "opcua", "reason": "new line",
            "config": {"endpoint": "opc.tcp://10.0.0.5:4840/"}, "secrets": {"password": "pw"}}
    data.update(overrides)
    return data


def test_an_engineer_creates_a_connector_with_tags(engineer_client, characteristic):
    response = engineer_client.post(URL, body(tags=[{"characteristic": characteristic.code,
                                                     "source_ref": "ns=2;s=IMM01/Z2", "params": {"deadband": 0.5}}]),
                                    format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["config"]["publishing_interval_ms"] == 500          # defaults filled by the kind's validator
    assert data["secrets_set"] == ["password"] and "pw" not in str(data)
    assert data["tags"][0]["characteristic"] == characteristic.code


def test_invalid_config_is_refused_naming_the_field(engineer_client, site):
    response = engineer_client.post(URL, body(config={"endpoint": "http://wrong"}), format="json")
    assert response.status_code == 400
    assert "endpoint" in str(response.json()["error"]["details"]["config"])


def test_an_unknown_characteristic_is_refused(engineer_client, site):
    response = engineer_client.post(URL, body(tags=[{"characteristic": "NOPE.X.Y", "source_ref": "ns=2;s=x"}]),
                                    format="json")
    assert response.status_code == 400
    assert "tags[0].characteristic" in response.json()["error"]["details"]


def test_a_change_needs_a_reason(engineer_client, site):
    response = engineer_client.post(URL, body(reason=""), format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["details"]


def test_an_operator_may_read_but_not_configure(site):
    client = user_client(UserFactory(username="op", role="operator", sites=[site]))
    ConnectorFactory(site=site)
    assert client.get(URL).status_code == 200
    assert client.post(URL, body(), format="json").status_code == 403


def test_connectors_of_other_sites_are_invisible(engineer_client, other_site):
    ConnectorFactory(site=other_site, name="theirs")
    assert engineer_client.get(URL).json()["results"] == []


def test_machine_tokens_have_no_access(mes_client, site):
    ConnectorFactory(site=site)
    assert mes_client.get(URL).status_code == 403


def test_patch_keeps_masked_secrets_and_replaces_tags(engineer_client, characteristic):
    tag = TagMappingFactory(connector=ConnectorFactory(site=characteristic.site, secrets={"password": "old"}),
                            characteristic=characteristic)
    connector = tag.connector
    response = engineer_client.patch(f"{URL}{connector.pk}/", {"reason": "retune", "secrets": {"password": "********"},
                                                               "tags": [], "shadow_mode": True}, format="json")
    assert response.status_code == 200, response.json()
    connector.refresh_from_db()
    assert connector.secrets == {"password": "old"} and connector.shadow_mode
    assert connector.tags.count() == 0


def test_status_shows_counters(engineer_client, site):
    connector = ConnectorFactory(site=site)
    ConnectorStatus.objects.create(connector=connector, state="connected", received=10, stored=9, rejected=1)
    data = engineer_client.get(f"{URL}{connector.pk}/status/").json()
    assert (data["state"], data["received"], data["stored"], data["rejected"]) == ("connected", 10, 9, 1)


def test_delete_with_a_reason(engineer_client, site):
    connector = ConnectorFactory(site=site)
    assert engineer_client.delete(f"{URL}{connector.pk}/?reason=replaced").status_code == 204
    assert not Connector.objects.filter(pk=connector.pk).exists()


def test_metrics_are_prometheus_text_of_the_tokens_site(site, other_site):
    from tests.factories import token_client

    connector = ConnectorFactory(site=site, name="m1")
    ConnectorStatus.objects.create(connector=connector, state="connected", received=5, buffered=2)
    ConnectorFactory(site=other_site, name="theirs")
    client, _token = token_client(site, scopes=("metrics:read",))
    response = client.get("/api/v1/metrics")
    text = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert 'qualitypulse_connector_up{site="S1",connector="m1",kind="opcua"} 1' in text
    assert 'qualitypulse_connector_received_total{site="S1",connector="m1",kind="opcua"} 5' in text
    assert "theirs" not in text


def test_metrics_need_the_metrics_scope(site, mes_client):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/metrics").status_code in (401, 403)
    assert mes_client.get("/api/v1/metrics").status_code == 403
