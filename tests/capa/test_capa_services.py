"""The CAPA services: opening, editing steps with the version check, the step state machine and every guard."""
from datetime import date, timedelta

import pytest

from qms.models import Action, AuditEntry, Capa, CapaStep, ESignature
from qms.services import capa as capa_service
from qms.services.capa import CapaError
from tests.factories_capa import COMPLETE, PASSWORD, CapaPlant

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return CapaPlant()


def refused(code, call, *args, **kwargs) -> CapaError:
    with pytest.raises(CapaError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


def test_open_numbers_per_site_and_creates_nine_open_steps(plant):
    first, second = plant.capa(), plant.capa()
    assert (first.number, second.number) == ("CAPA-S1-000001", "CAPA-S1-000002")
    assert list(first.steps.order_by("step").values_list("step", "state")) == [
        (f"D{i}", "open") for i in range(9)]


def test_open_links_ncs_and_takes_scope_and_symptom_from_them(plant):
    nc = plant.nc(product=plant.product, description="found at final inspection")
    capa = plant.capa(ncs=[nc.number])
    assert list(capa.nonconformances.all()) == [nc]
    assert capa.product == plant.product
    assert "found at final inspection" in plant.step(capa, "D0").content["symptom"]


def test_open_refuses_another_sites_nc(plant):
    from qms.services import nc as nc_service
    foreign = nc_service.create_nc(plant.other_site, title="x", source="inspection", severity="minor",
                                   user=plant.foreign_engineer)
    refused("invalid", plant.capa, ncs=[foreign.pk])
    assert not Capa.objects.exists()


def test_operator_may_not_open_a_capa(plant):
    refused("not_permitted", plant.capa, user=plant.operator)


def test_save_step_bumps_version_and_audits(plant):
    capa = plant.capa()
    row = plant.save(capa, "D2")
    assert row.version == 2 and row.content["how_many"] == "120 pcs"
    assert AuditEntry.objects.filter(action="update", object_pk=str(row.pk)).exists()


def test_save_step_with_stale_version_names_who_changed_it(plant):
    capa = plant.capa()
    plant.save(capa, "D2", user=plant.engineer2)
    error = refused("stale", capa_service.save_step, capa.pk, "D2", user=plant.engineer, content=COMPLETE["D2"],
                    expected_version=1)
    assert "engineer2" in error.message and error.http_status == 409
    assert error.details["current_version"] == 2


def test_save_step_refuses_unknown_fields(plant):
    capa = plant.capa()
    refused("unknown_fields", capa_service.save_step, capa.pk, "D2", user=plant.engineer,
            content={"colour": "red"}, expected_version=1)


def test_d1_sets_team_and_champion(plant):
    capa = plant.capa()
    plant.save(capa, "D1")
    capa.refresh_from_db()
    assert capa.champion == plant.engineer
    assert set(capa.team.all()) == {plant.engineer, plant.engineer2}


def test_d1_refuses_a_member_of_another_site(plant):
    capa = plant.capa()
    refused("unknown_user", plant.save, capa, "D1", {"champion": "engineer", "members": [
        {"user": "engineer", "role": ""}, {"user": "engineer-s2", "role": ""}]})


def test_submit_incomplete_step_lists_the_missing_fields(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D1")
    plant.save(capa, "D2", {"what": "short shot"})
    error = refused("step_incomplete", capa_service.submit_step, capa.pk, "D2", user=plant.engineer)
    assert {p["field"] for p in error.details["problems"]} == {"where", "when", "who", "why", "how", "how_many"}
    assert plant.step(capa, "D2").state == "open"


def test_submit_waits_for_previous_steps(plant):
    capa = plant.capa()
    plant.save(capa, "D2")
    error = refused("previous_steps_not_approved", capa_service.submit_step, capa.pk, "D2", user=plant.engineer)
    assert error.details["waiting"] == ["D0", "D1"]


def test_d3_runs_alongside_d2(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D1")
    assert plant.approve(capa, "D3").state == "approved"
    assert plant.step(capa, "D2").state == "open"


def test_d4_cannot_be_closed_without_a_root_cause(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D3")
    error = refused("step_incomplete", capa_service.submit_step, capa.pk, "D4", user=plant.engineer)
    assert error.details["problems"][0]["code"] == "verified_root_cause_required"


def test_d4_refuses_an_unverified_root_cause(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D3")
    capa_service.add_root_cause(capa.pk, user=plant.engineer, category="method", cause="no work instruction",
                                whys=["never written"], is_root_cause=True, verified=False)
    refused("step_incomplete", capa_service.submit_step, capa.pk, "D4", user=plant.engineer)


def test_d4_refuses_a_root_cause_without_a_why(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D3")
    capa_service.add_root_cause(capa.pk, user=plant.engineer, category="machine", cause="heater",
                                is_root_cause=True, verified=True)
    error = refused("step_incomplete", capa_service.submit_step, capa.pk, "D4", user=plant.engineer)
    assert error.details["problems"][0]["code"] == "why_chain_length"


def test_root_cause_with_unknown_category_is_refused(plant):
    capa = plant.capa()
    refused("category_invalid", capa_service.add_root_cause, capa.pk, user=plant.engineer, category="money",
            cause="x")
    assert not capa.root_causes.exists()


def test_root_cause_with_too_many_whys_is_refused(plant):
    capa = plant.capa()
    refused("why_chain_length", capa_service.add_root_cause, capa.pk, user=plant.engineer, category="man",
            cause="x", whys=[f"why {i}" for i in range(8)])


def test_root_causes_are_frozen_once_d4_is_submitted(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D4")
    cause = capa.root_causes.get()
    refused("step_not_open", capa_service.update_root_cause, cause.pk, user=plant.engineer,
            changes={"cause": "other"})


def test_d5_corrective_action_must_address_a_root_cause(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D4")
    capa_service.create_action(plant.site, user=plant.engineer, title="Train operators", owner=plant.operator,
                               due_date=date.today(), capa=capa)
    error = refused("step_incomplete", capa_service.submit_step, capa.pk, "D5", user=plant.engineer)
    assert error.details["problems"][0]["code"] == "action_needs_root_cause"


def test_d6_needs_every_corrective_action_done(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D5")
    error = refused("step_incomplete", capa_service.submit_step, capa.pk, "D6", user=plant.engineer)
    assert error.details["problems"][0]["code"] == "action_not_done"


def test_self_approval_is_refused(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)
    error = refused("self_approval", capa_service.approve_step, capa.pk, "D0", user=plant.engineer,
                    password=PASSWORD, meaning="approved")
    assert error.http_status == 403
    assert plant.step(capa, "D0").state == "submitted" and not ESignature.objects.exists()


def test_wrong_password_changes_nothing(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)
    refused("signature_password", capa_service.approve_step, capa.pk, "D0", user=plant.engineer2,
            password="wrong", meaning="approved")
    assert plant.step(capa, "D0").state == "submitted" and not ESignature.objects.exists()


def test_approval_needs_a_meaning(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)
    refused("signature_meaning", capa_service.approve_step, capa.pk, "D0", user=plant.engineer2,
            password=PASSWORD, meaning=" ")


def test_supervisor_may_not_approve_steps(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)
    refused("not_permitted", capa_service.approve_step, capa.pk, "D0", user=plant.supervisor,
            password=PASSWORD, meaning="ok")


def test_approval_is_signed_and_audited(plant):
    capa = plant.capa()
    row = plant.approve(capa, "D0")
    assert row.approved_signature.user == plant.engineer2 and row.approved_signature.meaning
    assert AuditEntry.objects.filter(action="transition", object_pk=str(row.pk)).exists()


def test_approved_step_cannot_be_edited(plant):
    capa = plant.capa()
    plant.approve(capa, "D0")
    refused("step_not_open", plant.save, capa, "D0")


def test_reopen_without_reason_is_refused(plant):
    capa = plant.capa()
    plant.approve(capa, "D0")
    error = refused("reason_required", capa_service.reopen_step, capa.pk, "D0", user=plant.engineer, reason=" ")
    assert error.field == "reason" and plant.step(capa, "D0").state == "approved"


def test_reopen_falls_back_dependent_later_steps(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D4")
    capa_service.reopen_step(capa.pk, "D2", user=plant.engineer, reason="where was wrong")
    states = dict(capa.steps.values_list("step", "state"))
    assert states["D2"] == states["D4"] == "open"
    assert states["D3"] == "approved"  # D3 does not depend on D2
    assert plant.step(capa, "D2").reopen_reason == "where was wrong"
    assert plant.step(capa, "D4").approved_signature is None


def test_reopen_of_open_step_is_refused(plant):
    capa = plant.capa()
    refused("step_already_open", capa_service.reopen_step, capa.pk, "D0", user=plant.engineer, reason="x")


def test_close_needs_every_step_approved(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D7")
    Capa.objects.filter(pk=capa.pk).update(effectiveness="effective")
    error = refused("steps_not_approved", capa_service.close_capa, capa.pk, user=plant.engineer2, password=PASSWORD,
                    meaning="closed")
    assert error.details["waiting"] == ["D8"]


def test_close_with_not_yet_effectiveness_is_refused(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D8")
    Capa.objects.filter(pk=capa.pk).update(effectiveness="not_yet")
    refused("not_effective", capa_service.close_capa, capa.pk, user=plant.engineer2, password=PASSWORD,
            meaning="closed")
    capa.refresh_from_db()
    assert capa.state == "open"


def test_d8_needs_an_effective_verdict(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D7")
    plant.save(capa, "D8")
    error = refused("step_incomplete", capa_service.submit_step, capa.pk, "D8", user=plant.engineer)
    assert error.details["problems"][0]["code"] == "not_effective"


def test_full_8d_closes_signed(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D8")
    closed = capa_service.close_capa(capa.pk, user=plant.engineer2, password=PASSWORD, meaning="8D closed")
    assert closed.state == "closed" and closed.closed_signature.meaning == "8D closed"
    refused("capa_not_open", plant.save, closed, "D0")


def test_cancel_needs_a_reason_and_cancels_open_actions(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D2")
    plant.fill(capa, "D3")
    refused("reason_required", capa_service.cancel_capa, capa.pk, user=plant.engineer, reason="")
    capa_service.cancel_capa(capa.pk, user=plant.engineer, reason="duplicate of CAPA-S1-000009")
    capa.refresh_from_db()
    assert capa.state == "cancelled"
    assert set(capa.actions.values_list("state", flat=True)) == {"cancelled"}


def test_another_sites_engineer_sees_nothing(plant):
    capa = plant.capa()
    refused("not_found", plant.save, capa, "D0", user=plant.foreign_engineer)


def test_update_capa_sets_plan_and_checks_periods(plant):
    from tests.factories_holds import at
    capa = plant.capa()
    capa = capa_service.update_capa(capa.pk, user=plant.engineer, expected_version=capa.version, changes={
        "characteristics": ["BARREL_Z2"], "baseline_start": at(0), "baseline_end": at(8), "effective_from": at(9)})
    assert list(capa.characteristics.values_list("code", flat=True)) == ["BARREL_Z2"]
    refused("invalid", capa_service.update_capa, capa.pk, user=plant.engineer, expected_version=capa.version,
            changes={"effective_from": at(4)})


def test_containment_action_on_approved_d3_is_refused(plant):
    capa = plant.capa()
    plant.approve_through(capa, "D3")
    refused("step_not_open", capa_service.create_action, plant.site, user=plant.engineer, title="more sorting",
            owner=plant.operator, due_date=date.today() + timedelta(days=1), kind="containment", capa=capa)
    assert Action.objects.filter(kind="containment").count() == 1


def test_step_rows_are_never_deleted_by_cancel(plant):
    capa = plant.capa()
    capa_service.cancel_capa(capa.pk, user=plant.engineer, reason="opened by mistake")
    assert CapaStep.objects.filter(capa=capa).count() == 9
