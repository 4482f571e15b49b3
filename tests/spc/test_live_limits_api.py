"""GET/POST /api/v1/spc/characteristics/{id}/config/: the configuration with its revisions; new revisions only by
users holding spc.revise_limits, each with a reason; other sites see nothing."""
from datetime import timedelta

import pytest

from qms.models import AuditEntry
from spc.models import LimitRevision
from tests.factories import UserFactory, user_client
from tests.spc.live_support import BASE, chart_with_limits, eager_evaluation, post_values  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_evaluation")]


def url(characteristic):
    return f"/api/v1/spc/characteristics/{characteristic.pk}/config/"


def test_the_configuration_lists_revisions_newest_first(characteristic, mes_client):
    config, _revision = chart_with_limits(characteristic)
    from spc.services.limits import limits_from_standard

    limits_from_standard(config, center=230.5, sigma=0.8, reason="re-centred after tool change")
    body = mes_client.get(url(characteristic)).json()
    assert body["chart_type"] == "imr" and body["rules"] == ["WE1", "WE2", "WE3", "WE4"]
    assert [r["number"] for r in body["revisions"]] == [2, 1]
    assert body["revisions"][0]["limits"]["center"] == 230.5
    assert body["revisions"][0]["reason"] == "re-centred after tool change"


def test_an_engineer_freezes_limits_from_a_baseline(characteristic, engineer_client, mes_client):
    chart_with_limits(characteristic)
    post_values(mes_client, characteristic.code, [230.0 + 0.3 * ((i * 7) % 5 - 2) for i in range(25)])
    response = engineer_client.post(url(characteristic), {
        "method": "baseline", "start": (BASE - timedelta(seconds=1)).isoformat(),
        "end": (BASE + timedelta(minutes=1)).isoformat(), "exclude_out_of_control": True,
        "reason": "capability study 2026-11"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == 2 and body["baseline_count"] == 25 and body["method"] == "baseline"
    revision = LimitRevision.objects.get(number=2)
    assert AuditEntry.objects.get(model="spc.LimitRevision", object_pk=str(revision.pk)).reason == \
        "capability study 2026-11"


def test_a_revision_without_reason_or_baseline_period_is_refused(characteristic, engineer_client):
    chart_with_limits(characteristic)
    missing_reason = engineer_client.post(url(characteristic), {"method": "spec"}, format="json")
    assert missing_reason.status_code == 400 and "reason" in missing_reason.json()["error"]["details"]
    missing_period = engineer_client.post(url(characteristic), {"method": "baseline", "reason": "x"}, format="json")
    assert missing_period.status_code == 400 and "start" in missing_period.json()["error"]["details"]
    assert LimitRevision.objects.count() == 1


def test_operators_and_machine_tokens_cannot_revise_limits(characteristic, site, mes_client):
    chart_with_limits(characteristic)
    operator = user_client(UserFactory(username="op-api", role="operator", sites=[site]))
    body = {"method": "spec", "reason": "why not"}
    assert operator.post(url(characteristic), body, format="json").status_code == 403
    assert mes_client.post(url(characteristic), body, format="json").status_code == 403
    assert LimitRevision.objects.count() == 1


def test_another_sites_configuration_is_404(characteristic, other_site):
    chart_with_limits(characteristic)
    stranger = user_client(UserFactory(username="s2-api", role="quality_engineer", sites=[other_site]))
    assert stranger.get(url(characteristic)).status_code == 404
    assert stranger.post(url(characteristic), {"method": "spec", "reason": "x"}, format="json").status_code == 404
