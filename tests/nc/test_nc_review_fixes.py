"""Issue 6 review: MRB bypass by severity, separation of duties for the opener/owner, attachments on finished NCs,
actions on cancel/close, the version signed at close, NaN quantities, MRB vote notifications."""
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from qms.models import Action, Attachment, Disposition, Notification
from qms.services import capa as capa_service
from qms.services import nc as nc_service
from qms.services.nc import NcError
from tests.factories import user_client
from tests.factories_nc import PASSWORD, NcPlant

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def plant():
    return NcPlant()


def test_severity_cannot_change_once_disposition_started(plant):
    plant.product_lot("L-1")
    nc = plant.in_disposition(lots=[("L-1", 100)], severity="major")
    with pytest.raises(NcError) as error:
        nc_service.update_nc(nc.pk, user=plant.engineer, changes={"severity": "minor"}, expected_version=nc.version)
    assert error.value.code == "severity_locked"
    nc.refresh_from_db()
    assert nc.severity == "major"


def test_severity_lock_is_409_in_the_api(plant):
    plant.product_lot("L-1")
    nc = plant.in_disposition(lots=[("L-1", 100)], severity="major")
    response = user_client(plant.engineer).patch(f"/api/v1/ncs/{nc.pk}/", {"version": nc.version,
                                                                            "severity": "minor"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "severity_locked"


def test_a_disposition_never_needs_fewer_votes_than_the_severity_asks(plant, settings):
    plant.product_lot("L-1")
    nc = plant.in_disposition(lots=[("L-1", 100)], severity="major")
    disposition = nc_service.propose_disposition(nc.pk, user=plant.engineer, nc_lot_id=nc.lots.get().pk,
                                                 decision="use_as_is", quantity=100)
    Disposition.objects.filter(pk=disposition.pk).update(approvals_required=1)  # e.g. an old row, a setting lowered
    nc_service.approve_disposition(disposition.pk, user=plant.engineer2, password=PASSWORD, meaning="ok",
                                   vote="approve")
    disposition.refresh_from_db()
    assert disposition.state == Disposition.State.PROPOSED


def test_the_engineer_who_opens_an_alarm_draft_becomes_its_reporter_and_may_not_vote(plant):
    plant.product_lot("L-1")
    nc = nc_service.create_nc(plant.site, title="drift", source="alarm", severity="minor", user=None, draft=True,
                              lots=[("L-1", 100)])  # as a reaction rule makes it: nobody reported it
    assert nc.created_by is None
    nc_service.open_nc(nc.pk, user=plant.engineer)
    nc.refresh_from_db()
    assert nc.created_by == plant.engineer
    nc = nc_service.start_disposition(nc.pk, user=plant.engineer)
    disposition = nc_service.propose_disposition(nc.pk, user=plant.engineer2, nc_lot_id=nc.lots.get().pk,
                                                 decision="use_as_is", quantity=100)
    with pytest.raises(NcError) as error:
        nc_service.approve_disposition(disposition.pk, user=plant.engineer, password=PASSWORD, meaning="ok",
                                       vote="approve")
    assert error.value.code == "separation_of_duties"


def test_the_owner_may_not_vote(plant):
    plant.product_lot("L-1")
    nc = plant.nc(lots=[("L-1", 100)], severity="minor")
    nc = nc_service.update_nc(nc.pk, user=plant.engineer, changes={"owner": "engineer"}, expected_version=nc.version)
    nc = nc_service.start_disposition(nc.pk, user=plant.engineer)
    disposition = nc_service.propose_disposition(nc.pk, user=plant.engineer2, nc_lot_id=nc.lots.get().pk,
                                                 decision="use_as_is", quantity=100)
    with pytest.raises(NcError) as error:
        nc_service.approve_disposition(disposition.pk, user=plant.engineer, password=PASSWORD, meaning="ok",
                                       vote="approve")
    assert error.value.code == "separation_of_duties" and "own" in error.value.message


@pytest.mark.parametrize("finish", ["close", "cancel"])
def test_no_attachment_on_a_finished_nc(plant, finish):
    nc = plant.nc(lots=(), severity="minor")
    if finish == "close":
        nc_service.close_nc(nc.pk, user=plant.engineer, password=PASSWORD, meaning="closed")
    else:
        nc_service.cancel_nc(nc.pk, user=plant.engineer, reason="duplicate")
    response = user_client(plant.engineer).post(f"/api/v1/ncs/{nc.pk}/attachments/",
                                                {"file": SimpleUploadedFile("a.png", PNG)}, format="multipart")
    assert response.status_code == 409 and response.json()["error"]["code"] == "record_closed", response.content
    assert Attachment.objects.count() == 0


def test_cancel_nc_cancels_its_open_actions_and_pushes_the_instruction(plant, monkeypatch):
    pushed = []
    monkeypatch.setattr("qms.services.actions.push_instruction", lambda action: pushed.append(action.state))
    nc = plant.nc(lots=(), severity="minor")
    action = capa_service.create_action(plant.site, user=plant.engineer, title="check heater", owner=plant.operator,
                                        due_date=date.today() + timedelta(days=1), kind="containment", nc=nc,
                                        equipment="IMM02", mes_instruction=True)
    nc_service.cancel_nc(nc.pk, user=plant.engineer, reason="duplicate")
    action.refresh_from_db()
    assert action.state == Action.State.CANCELLED and "duplicate" in action.completion_note
    assert pushed[-1] == Action.State.CANCELLED


def test_close_nc_refused_while_an_action_is_open(plant):
    nc = plant.nc(lots=(), severity="minor")
    capa_service.create_action(plant.site, user=plant.engineer, title="contain", owner=plant.operator,
                               due_date=date.today() + timedelta(days=1), kind="containment", nc=nc)
    response = user_client(plant.engineer).post(f"/api/v1/ncs/{nc.pk}/close/",
                                                {"password": PASSWORD, "meaning": "closed"}, format="json")
    body = response.json()["error"]
    assert response.status_code == 409 and body["code"] == "open_actions" and "contain" in body["message"]
    assert [row["title"] for row in body["details"]["actions"]] == ["contain"]
    nc.refresh_from_db()
    assert nc.state == "open"


def test_close_nc_with_a_stale_version_is_refused(plant):
    nc = plant.nc(lots=(), severity="minor")
    seen = nc.version
    nc_service.update_nc(nc.pk, user=plant.engineer2, changes={"description": "changed meanwhile"},
                         expected_version=seen)
    response = user_client(plant.engineer).post(f"/api/v1/ncs/{nc.pk}/close/", {
        "password": PASSWORD, "meaning": "closed", "version": seen}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "stale"
    nc.refresh_from_db()
    assert nc.state == "open"


def test_close_nc_with_the_current_version_closes(plant):
    nc = plant.nc(lots=(), severity="minor")
    response = user_client(plant.engineer).post(f"/api/v1/ncs/{nc.pk}/close/", {
        "password": PASSWORD, "meaning": "closed", "version": nc.version}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "closed"


@pytest.mark.parametrize("quantity", [float("nan"), float("inf")])
def test_non_finite_lot_quantity_refused(plant, quantity):
    plant.product_lot("L-1")
    with pytest.raises(NcError) as error:
        plant.nc(lots=[("L-1", quantity)], severity="minor")
    assert error.value.code == "invalid_lots"


def test_nan_quantity_affected_refused(plant):
    with pytest.raises(NcError) as error:
        plant.nc(lots=(), severity="minor", quantity_affected=float("nan"))
    assert error.value.code == "quantity_affected_invalid"


def test_proposing_a_disposition_notifies_the_mrb_members_who_may_vote(plant):
    plant.product_lot("L-1")
    nc = plant.in_disposition(lots=[("L-1", 100)], severity="major", user=plant.operator)
    nc_service.propose_disposition(nc.pk, user=plant.engineer, nc_lot_id=nc.lots.get().pk, decision="scrap",
                                   quantity=100)
    told = set(Notification.objects.filter(kind="mrb_vote_waiting").values_list("user__username", flat=True))
    assert "engineer2" in told
    assert "engineer" not in told  # the proposer
    assert "operator" not in told and "engineer-s2" not in told  # no MRB member / another site
