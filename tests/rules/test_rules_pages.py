"""/rules/ pages: list, create with real widgets, edit with reason, enable/disable, history; permissions."""
import pytest
from django.test import Client

from qms.models import ReactionRule
from tests.factories import UserFactory
from tests.factories_rules import deviation_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def engineer_web(engineer):
    client = Client()
    client.force_login(engineer)
    return client


@pytest.fixture
def operator_web(site):
    client = Client()
    client.force_login(UserFactory(username="op", role="operator", sites=[site]))
    return client


def form_data(characteristic, **extra):
    data = {"name": "Z2 ±3", "trigger": "deviation", "severity": "critical", "threshold": "3",
            "characteristics": [str(characteristic.pk)], "freeze": "on", "freeze_from": "last_good",
            "freeze_lookback_s": "3600", "freeze_propagate_forward": "on", "enabled": "on"}
    data.update(extra)
    return data


def test_list_shows_the_rules_and_the_nav_entry(engineer_web, site, characteristic):
    deviation_rule(site)
    page = engineer_web.get("/rules/").content.decode()
    assert "Barrel ±3" in page and 'href="/rules/"' in page


def test_form_has_real_widgets(engineer_web, characteristic):
    page = engineer_web.get("/rules/new/").content.decode()
    assert '<select name="characteristics"' in page and 'multiple' in page
    assert 'type="checkbox" name="spc_rules" value="WE1"' in page
    assert 'name="notify_groups"' in page and "<textarea" in page


def test_create_through_the_form(engineer_web, characteristic):
    response = engineer_web.post("/rules/new/", form_data(characteristic))
    rule = ReactionRule.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/rules/{rule.pk}/"
    assert list(rule.characteristics.all()) == [characteristic] and rule.freeze


def test_service_errors_show_under_the_field(engineer_web, characteristic):
    response = engineer_web.post("/rules/new/", form_data(characteristic, threshold="999"))
    assert response.status_code == 400
    assert "physical range" in response.content.decode()
    assert not ReactionRule.objects.exists()


def test_edit_an_enabled_rule_needs_a_reason(engineer_web, site, characteristic):
    rule = deviation_rule(site, characteristics=[characteristic.pk])
    data = form_data(characteristic, name=rule.name, threshold="2.5", version="1")
    assert engineer_web.post(f"/rules/{rule.pk}/edit/", data).status_code == 400
    response = engineer_web.post(f"/rules/{rule.pk}/edit/", {**data, "reason": "tighter"})
    assert response.status_code == 302
    assert ReactionRule.objects.get().threshold == 2.5


def test_disable_and_enable(engineer_web, site, characteristic):
    rule = deviation_rule(site)
    assert engineer_web.post(f"/rules/{rule.pk}/toggle/", {"version": "1"}).status_code == 400
    engineer_web.post(f"/rules/{rule.pk}/toggle/", {"version": "1", "reason": "maintenance"})
    assert not ReactionRule.objects.get().enabled
    engineer_web.post(f"/rules/{rule.pk}/toggle/", {"version": "2"})
    assert ReactionRule.objects.get().enabled


def test_history_page(engineer_web, site, characteristic):
    rule = deviation_rule(site)
    engineer_web.post(f"/rules/{rule.pk}/toggle/", {"version": "1", "reason": "maintenance window"})
    page = engineer_web.get(f"/rules/{rule.pk}/history/").content.decode()
    assert "maintenance window" in page and "Version 2" in page


def test_operator_reads_but_cannot_create(operator_web, site, characteristic):
    rule = deviation_rule(site)
    assert operator_web.get(f"/rules/{rule.pk}/").status_code == 200
    assert operator_web.get("/rules/new/").status_code == 403


def test_rules_of_other_sites_are_not_found(engineer_web, other_site):
    from tests.factories import CharacteristicFactory

    CharacteristicFactory(site=other_site, code="X.T")
    foreign = deviation_rule(other_site)
    assert engineer_web.get(f"/rules/{foreign.pk}/").status_code == 404
