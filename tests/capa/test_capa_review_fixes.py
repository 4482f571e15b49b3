"""Issue 6 review: the effectiveness verdict voided by a plan change, the content author may not approve, the
version signed, step-approval notifications and the pending list, merged history, wrong password → 403, the
minimum production of the defect-rate criterion."""
from datetime import UTC, datetime, timedelta

import pytest

from qms.capa_rules import EffectivenessPolicy, judge_effectiveness
from qms.models import Capa, CapaStep, Notification
from qms.services import capa as capa_service
from qms.services import nc as nc_service
from qms.services.approval_notices import pending_approvals
from qms.services.capa import CapaError
from qms.web.capa_history import capa_history
from tests.factories import CharacteristicFactory, user_client
from tests.factories_capa import PASSWORD, CapaPlant

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def plant():
    return CapaPlant()


def effective_capa(plant):
    capa = plant.capa()
    plant.measurements([230 + (i % 3) * 0.5 for i in range(40)], T0)
    plant.measurements([230 + (i % 2) * 0.1 for i in range(40)], T0 + timedelta(days=10))
    capa_service.update_capa(capa.pk, user=plant.engineer, expected_version=capa.version, changes={
        "characteristics": ["BARREL_Z2"], "baseline_start": T0, "baseline_end": T0 + timedelta(days=5),
        "effective_from": T0 + timedelta(days=9)})
    capa = capa_service.check_effectiveness(capa.pk, user=plant.engineer, now=T0 + timedelta(days=20))
    assert capa.effectiveness == "effective", capa.effectiveness_data
    return capa


@pytest.mark.parametrize("change", [
    {"characteristics": ["BAD"]}, {"effective_from": T0 + timedelta(days=6)}, {"baseline_start": T0 - timedelta(1)},
])
def test_a_plan_change_voids_the_effectiveness_verdict(plant, change):
    capa = effective_capa(plant)
    CharacteristicFactory(site=plant.site, code="BAD", lsl=0.0, usl=1.0, nominal=0.5, equipment=plant.imm02)
    capa_service.update_capa(capa.pk, user=plant.engineer, expected_version=capa.version, changes=change)
    capa.refresh_from_db()
    assert capa.effectiveness == Capa.Effectiveness.UNKNOWN and capa.effectiveness_data == {}


def test_a_title_change_keeps_the_verdict(plant):
    capa = effective_capa(plant)
    capa_service.update_capa(capa.pk, user=plant.engineer, expected_version=capa.version, changes={"title": "new"})
    capa.refresh_from_db()
    assert capa.effectiveness == Capa.Effectiveness.EFFECTIVE


def test_a_plan_change_after_d8_approval_reopens_d8_and_blocks_closing(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D8")
    capa.refresh_from_db()
    capa_service.update_capa(capa.pk, user=plant.engineer, expected_version=capa.version,
                             changes={"effective_from": T0})
    d8 = plant.step(capa, "D8")
    assert d8.state == CapaStep.State.OPEN and d8.approved_signature is None and d8.reopen_reason
    with pytest.raises(CapaError) as error:
        capa_service.close_capa(capa.pk, user=plant.engineer2, password=PASSWORD, meaning="closed")
    assert error.value.code == "steps_not_approved"


def test_whoever_last_saved_the_content_may_not_approve_it(plant):
    capa = plant.capa()
    plant.save(capa, "D0", user=plant.engineer)
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer2)
    with pytest.raises(CapaError) as error:
        capa_service.approve_step(capa.pk, "D0", user=plant.engineer, password=PASSWORD, meaning="approved")
    assert error.value.code == "self_approval"
    assert plant.step(capa, "D0").last_saved_by == plant.engineer


def test_approving_a_step_version_not_seen_is_stale(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    seen = capa_service.submit_step(capa.pk, "D0", user=plant.engineer).version
    CapaStep.objects.filter(capa=capa, step="D0").update(version=seen + 1)  # changed since the page was loaded
    response = user_client(plant.engineer2).post(f"/api/v1/capas/{capa.pk}/steps/D0/approve/", {
        "password": PASSWORD, "meaning": "approved", "version": seen}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "stale"
    assert plant.step(capa, "D0").state == CapaStep.State.SUBMITTED


def test_closing_a_capa_version_not_seen_is_stale(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D8")
    capa.refresh_from_db()
    seen = capa.version
    capa_service.update_capa(capa.pk, user=plant.engineer, expected_version=seen, changes={"title": "renamed"})
    with pytest.raises(CapaError) as error:
        capa_service.close_capa(capa.pk, user=plant.engineer2, password=PASSWORD, meaning="closed",
                                expected_version=seen)
    assert error.value.code == "stale"


def test_wrong_password_on_a_step_approval_is_403(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)
    response = user_client(plant.engineer2).post(f"/api/v1/capas/{capa.pk}/steps/D0/approve/",
                                                 {"password": "nope", "meaning": "ok"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "signature_password"


def test_submitting_a_step_notifies_the_approvers_but_not_the_submitter(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)
    told = set(Notification.objects.filter(kind="step_approval_waiting").values_list("user__username", flat=True))
    assert "engineer2" in told and "engineer" not in told and "engineer-s2" not in told


def test_pending_approvals_list_what_the_user_may_sign(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)
    plant.product_lot("L-1")
    nc = plant.in_disposition(lots=[("L-1", 100)], severity="major")
    disposition = nc_service.propose_disposition(
        nc.pk, user=plant.engineer, nc_lot_id=nc.lots.get().pk, decision="scrap", quantity=100)
    mine = pending_approvals(plant.engineer2, plant.site)
    assert [row.pk for row in mine.steps] == [plant.step(capa, "D0").pk]
    assert [row.pk for row in mine.votes] == [disposition.pk]
    theirs = pending_approvals(plant.engineer, plant.site)
    assert not theirs.steps and not theirs.votes


def test_the_tasks_page_shows_what_waits_for_a_signature(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)
    from django.test import Client
    client = Client()
    client.force_login(plant.engineer2)
    page = client.get("/tasks/").content.decode()
    assert 'id="pending-approvals"' in page and capa.number in page


def test_capa_history_merges_steps_causes_and_actions(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D5")
    cause = capa.root_causes.get()
    parts = [entry.part for entry in capa_history(capa, limit=500)]
    assert any(part.startswith("D4") for part in parts)
    assert any(part == f"Cause: {cause.cause}" for part in parts)
    assert any(part.startswith("Action: Replace heater relay") for part in parts)
    whens = [entry.when for entry in capa_history(capa, limit=500)]
    assert whens == sorted(whens, reverse=True)


def test_little_production_after_the_fix_is_not_yet_proof():
    policy = EffectivenessPolicy(min_produced_after=100)
    verdict = judge_effectiveness([], {"before": 0.05, "after": 0.0, "produced_after": 20}, policy)
    assert verdict.verdict == "not_yet" and verdict.reasons[0]["code"] == "too_little_production"
    enough = judge_effectiveness([], {"before": 0.05, "after": 0.0, "produced_after": 500}, policy)
    assert enough.verdict == "effective"

