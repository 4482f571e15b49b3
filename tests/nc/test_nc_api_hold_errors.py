"""The MRB vote that approves a disposition decides the lot's held entries; when that hand-over to the hold fails
the API answers a conflict with the hold's reason, and nothing is changed."""
import pytest
from rest_framework.test import APIClient

from qms.api.nc import STATUS_OF
from qms.models import Disposition
from qms.services import nc as nc_service
from tests.factories_nc import PASSWORD, NcPlant
from traceability.models import HoldLot
from traceability.services.holds import dispose_hold_lot, place_hold

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def vote(user, disposition_id):
    return client_for(user).post(f"/api/v1/dispositions/{disposition_id}/approve/",
                                 {"vote": "approve", "password": PASSWORD, "meaning": "MRB approval"}, format="json")


def test_a_held_lot_decided_by_someone_else_meanwhile_is_a_409_and_nothing_changes(monkeypatch):
    plant = NcPlant()
    lot = plant.product_lot("L-1", quantity=100)
    hold = place_hold(plant.site, reason="short shots", lots=[lot])
    nc = plant.in_disposition(lots=[("L-1", 100)], holds=[hold], severity="minor")
    proposed = client_for(plant.engineer).post(f"/api/v1/ncs/{nc.pk}/dispositions/", {
        "lot": "L-1", "decision": "rework", "quantity": 100, "rationale": "regrind gate"}, format="json")
    disposition_id = proposed.json()["id"]
    entry = HoldLot.objects.get(hold=hold)
    lock_holds = nc_service._lock_holds_to_decide

    def another_decider_wins(nc, disposition):
        # The race this guards: the hold entry is decided by another engineer between the vote reading the lot's
        # entries and deciding them.
        picked = lock_holds(nc, disposition)
        dispose_hold_lot(entry.pk, disposition="scrap", user=plant.engineer2, password=PASSWORD, meaning="scrapped")
        return picked

    monkeypatch.setattr(nc_service, "_lock_holds_to_decide", another_decider_wins)
    response = vote(plant.supervisor, disposition_id)
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "hold_already_decided"
    assert "L-1" in error["message"] and "Nothing was changed" in error["message"]
    assert Disposition.objects.get(pk=disposition_id).state == "proposed"
    assert HoldLot.objects.get(pk=entry.pk).disposition == "held"  # the interloper rolled back with the vote


@pytest.mark.parametrize("code", ["hold_not_permitted", "hold_disposition_not_approved", "hold_not_in_disposition",
                                  "hold_invalid_disposition"])
def test_broken_hand_overs_to_the_hold_are_conflicts_not_permission_refusals(code):
    assert STATUS_OF[code] == 409
