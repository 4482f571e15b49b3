"""/api/v1/reaction-rules/: users with the reaction-rule permissions; errors name the field; versions checked."""
import pytest
from rest_framework.test import APIClient

from qms.models import ReactionRule
from tests.factories import UserFactory, make_token
from tests.factories_rules import deviation_rule

pytestmark = pytest.mark.django_db
URL = "/api/v1/reaction-rules/"


@pytest.fixture
def supervisor_client(site):
    client = APIClient()
    client.force_authenticate(UserFactory(username="sup", role="supervisor", sites=[site]))
    return client


def body(characteristic, **extra):
    return {"name": "Z2 ±3", "trigger": "deviation", "threshold": 3, "severity": "critical",
            "characteristics": [characteristic.code], "notify_groups": ["supervisor"], **extra}


def test_engineer_creates_a_rule(engineer_client, characteristic):
    response = engineer_client.post(URL, body(characteristic), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["characteristics"] == [characteristic.code] and data["version"] == 1 and data["site"] == "S1"


def test_validation_errors_name_the_field(engineer_client, characteristic):
    response = engineer_client.post(URL, body(characteristic, threshold=0), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "threshold" in error["details"]


def test_list_and_detail(engineer_client, site, characteristic):
    rule = deviation_rule(site)
    assert [r["id"] for r in engineer_client.get(URL).json()["results"]] == [rule.pk]
    assert engineer_client.get(f"{URL}{rule.pk}/").json()["threshold"] == 3.0


def test_other_sites_rules_are_invisible(engineer_client, other_site):
    from tests.factories import CharacteristicFactory

    CharacteristicFactory(site=other_site, code="X.T")
    foreign = deviation_rule(other_site)
    assert engineer_client.get(f"{URL}{foreign.pk}/").status_code == 404


def test_update_with_version_and_reason(engineer_client, site, characteristic):
    rule = deviation_rule(site)
    response = engineer_client.patch(f"{URL}{rule.pk}/", {"threshold": 2.5, "version": 1, "reason": "tighter"},
                                     format="json")
    assert response.status_code == 200 and response.json()["version"] == 2


def test_update_of_an_enabled_rule_without_reason(engineer_client, site, characteristic):
    rule = deviation_rule(site)
    response = engineer_client.patch(f"{URL}{rule.pk}/", {"threshold": 2.5}, format="json")
    assert response.status_code == 400 and "reason" in response.json()["error"]["details"]


def test_stale_version_is_409(engineer_client, site, characteristic):
    rule = deviation_rule(site)
    engineer_client.patch(f"{URL}{rule.pk}/", {"threshold": 2.5, "reason": "r"}, format="json")
    response = engineer_client.patch(f"{URL}{rule.pk}/", {"threshold": 2.0, "version": 1, "reason": "r"},
                                     format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "version_conflict"


def test_disable_and_enable(engineer_client, site, characteristic):
    rule = deviation_rule(site)
    assert engineer_client.post(f"{URL}{rule.pk}/disable/", {"reason": "maintenance"}, format="json").json()[
        "enabled"] is False
    assert engineer_client.post(f"{URL}{rule.pk}/enable/", {}, format="json").json()["enabled"] is True


def test_history(engineer_client, site, characteristic):
    rule = deviation_rule(site)
    engineer_client.patch(f"{URL}{rule.pk}/", {"threshold": 2.5, "reason": "tighter"}, format="json")
    versions = engineer_client.get(f"{URL}{rule.pk}/history/").json()
    assert versions[0]["reason"] == "tighter" and len(versions) == 2


def test_supervisor_may_read_but_not_write(supervisor_client, site, characteristic):
    deviation_rule(site)
    assert supervisor_client.get(URL).status_code == 200
    response = supervisor_client.post(URL, body(characteristic, name="other"), format="json")
    assert response.status_code == 403
    assert ReactionRule.objects.count() == 1


def test_machine_tokens_are_refused(site):
    _token, raw = make_token(site, scopes=("ingest",))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(URL).status_code == 403
