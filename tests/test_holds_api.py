"""/api/v1/holds/: place, list, detail, e-signed decisions and release, close the window; errors and token rules."""
import pytest

from qms.models import ESignature
from tests.factories import token_client, user_client
from tests.factories_holds import PASSWORD, Plant, at
from traceability.models import Hold, HoldLot
from traceability.services.holds import place_hold

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return Plant()


@pytest.fixture
def hold(plant):
    plant.lot("A")
    plant.lot("B")
    return place_hold(plant.site, reason="suspect resin", lots=["A", "B"])


def test_placing_a_window_hold_answers_201_with_the_held_lots(plant):
    plant.lot("W", equipment=plant.imm02, start=8, end=9)

    response = user_client(plant.supervisor).post("/api/v1/holds/", {
        "reason": "barrel zone 2 +4 °C", "equipment": "IMM02", "window_start": at(8).isoformat(),
        "window_end": at(10).isoformat(), "propagate_forward": True}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"] == "H-S1-000001" and body["state"] == "active" and body["equipment"] == "IMM02"
    assert body["lots"] == [{"lot": "W", "via": "window", "depth": 0, "disposition": "held", "decided_by": None,
                             "decided_at": None, "signature_meaning": None, "comment": "", "version": 1}]


def test_an_unknown_lot_is_a_400_naming_it(plant):
    response = user_client(plant.supervisor).post("/api/v1/holds/", {"reason": "r", "lots": ["GHOST"]},
                                                  format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_lot" and "GHOST" in error["message"] and "lots" in error["details"]


def test_a_window_ending_before_it_starts_is_a_400(plant):
    response = user_client(plant.supervisor).post("/api/v1/holds/", {
        "reason": "r", "equipment": "IMM02", "window_start": at(10).isoformat(), "window_end": at(9).isoformat()},
        format="json")

    assert response.status_code == 400 and response.json()["error"]["code"] == "window_end_before_start"


def test_an_operator_may_not_place_holds(plant):
    plant.lot("A")

    response = user_client(plant.operator).post("/api/v1/holds/", {"reason": "r", "lots": ["A"]}, format="json")

    assert response.status_code == 403 and not Hold.objects.exists()


def test_list_filters_by_state_and_lot(plant, hold):
    plant.lot("C")
    place_hold(plant.site, reason="other", lots=["C"])
    client = user_client(plant.operator)

    by_lot = client.get("/api/v1/holds/?lot=A").json()["results"]
    by_state = client.get("/api/v1/holds/?state=released").json()["results"]

    assert [h["number"] for h in by_lot] == [hold.number] and by_lot[0]["lot_count"] == 2
    assert by_state == []


def test_a_hold_of_another_site_is_404(plant, hold):
    response = user_client(plant.foreign_engineer).get(f"/api/v1/holds/{hold.pk}/")

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_signed_disposition_answers_the_hold_with_the_decision(plant, hold):
    response = user_client(plant.engineer).post(f"/api/v1/holds/{hold.pk}/lots/A/dispose/", {
        "disposition": "release", "password": PASSWORD, "meaning": "released after re-inspection"}, format="json")

    assert response.status_code == 200, response.json()
    lot = next(entry for entry in response.json()["lots"] if entry["lot"] == "A")
    assert lot["disposition"] == "release" and lot["decided_by"] == "engineer"
    assert lot["signature_meaning"] == "released after re-inspection"
    assert response.json()["state"] == "partially_released"


def test_a_wrong_password_is_403_and_changes_nothing(plant, hold):
    response = user_client(plant.engineer).post(f"/api/v1/holds/{hold.pk}/lots/A/dispose/", {
        "disposition": "release", "password": "wrong", "meaning": "ok"}, format="json")

    assert response.status_code == 403 and response.json()["error"]["code"] == "signature_password"
    assert HoldLot.objects.get(hold=hold, lot__code="A").disposition == "held" and not ESignature.objects.exists()


def test_a_supervisor_may_not_sign(plant, hold):
    response = user_client(plant.supervisor).post(f"/api/v1/holds/{hold.pk}/lots/A/dispose/", {
        "disposition": "release", "password": PASSWORD, "meaning": "ok"}, format="json")

    assert response.status_code == 403


def test_deciding_twice_is_409_with_who_decided(plant, hold):
    client = user_client(plant.engineer)
    body = {"disposition": "scrap", "password": PASSWORD, "meaning": "scrapped"}
    client.post(f"/api/v1/holds/{hold.pk}/lots/A/dispose/", body, format="json")

    response = client.post(f"/api/v1/holds/{hold.pk}/lots/A/dispose/", {**body, "disposition": "release"},
                           format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_decided"
    assert response.json()["error"]["details"]["decided_by"] == "engineer"


def test_a_lot_not_under_the_hold_is_404(plant, hold):
    response = user_client(plant.engineer).post(f"/api/v1/holds/{hold.pk}/lots/NOPE/dispose/", {
        "disposition": "release", "password": PASSWORD, "meaning": "ok"}, format="json")

    assert response.status_code == 404


def test_an_unknown_disposition_is_400_naming_the_field(plant, hold):
    response = user_client(plant.engineer).post(f"/api/v1/holds/{hold.pk}/lots/A/dispose/", {
        "disposition": "ship", "password": PASSWORD, "meaning": "ok"}, format="json")

    assert response.status_code == 400 and "disposition" in response.json()["error"]["details"]


def test_release_then_release_again_is_409(plant, hold):
    client = user_client(plant.engineer)
    body = {"password": PASSWORD, "meaning": "released after re-inspection"}

    first = client.post(f"/api/v1/holds/{hold.pk}/release/", body, format="json")
    second = client.post(f"/api/v1/holds/{hold.pk}/release/", body, format="json")

    assert first.status_code == 200 and first.json()["state"] == "released"
    assert second.status_code == 409 and second.json()["error"]["code"] == "already_released"


def test_close_window_fixes_the_end(plant):
    hold = place_hold(plant.site, reason="drift", equipment=plant.imm02, window_start=at(8))

    response = user_client(plant.supervisor).post(f"/api/v1/holds/{hold.pk}/close-window/",
                                                  {"end": at(9).isoformat()}, format="json")

    assert response.status_code == 200 and response.json()["window_end"] == "2026-11-20T09:00:00Z"
    assert response.json()["window_open"] is False


def test_a_token_with_the_holds_scope_reads_and_places_holds(plant):
    plant.lot("A")
    client, _token = token_client(plant.site, scopes=("holds:write",))

    placed = client.post("/api/v1/holds/", {"reason": "MES hold", "lots": ["A"]}, format="json")
    listed = client.get("/api/v1/holds/")

    assert placed.status_code == 201 and placed.json()["placed_by"].startswith("token:")
    assert listed.status_code == 200 and listed.json()["count"] == 1


def test_a_token_without_the_scope_cannot_read_holds(plant):
    client, _token = token_client(plant.site, scopes=("ingest",))

    assert client.get("/api/v1/holds/").status_code == 403


@pytest.mark.parametrize("path", ["lots/A/dispose/", "release/"])
def test_a_token_never_signs(plant, hold, path):
    client, _token = token_client(plant.site, scopes=("holds:write",))

    response = client.post(f"/api/v1/holds/{hold.pk}/{path}", {
        "disposition": "release", "password": "x", "meaning": "ok"}, format="json")

    assert response.status_code == 403 and response.json()["error"]["code"] == "signature_needs_person"


def test_the_detail_embeds_the_first_lots_and_links_the_rest(plant, monkeypatch):
    monkeypatch.setattr("traceability.api.holds.EMBEDDED_LOTS", 2)
    for code in ("A", "B", "C"):
        plant.lot(code)
    hold = place_hold(plant.site, reason="suspect resin", lots=["A", "B", "C"])

    body = user_client(plant.operator).get(f"/api/v1/holds/{hold.pk}/").json()

    assert [entry["lot"] for entry in body["lots"]] == ["A", "B"]
    assert body["lot_count"] == 3 and body["lots_truncated"] is True
    assert body["lots_url"] == f"/api/v1/holds/{hold.pk}/lots/"


def test_a_small_hold_embeds_all_its_lots(plant, hold):
    body = user_client(plant.operator).get(f"/api/v1/holds/{hold.pk}/").json()

    assert len(body["lots"]) == 2 and body["lots_truncated"] is False


def test_the_lots_endpoint_pages_every_lot_by_cursor(plant):
    codes = [f"L{n:02d}" for n in range(5)]
    for code in codes:
        plant.lot(code)
    hold = place_hold(plant.site, reason="suspect resin", lots=codes)
    client = user_client(plant.operator)

    seen, url = [], f"/api/v1/holds/{hold.pk}/lots/?page_size=2"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 2
        seen += [entry["lot"] for entry in page["results"]]
        url = page["next"]

    assert sorted(seen) == codes and len(seen) == len(set(seen))


def test_the_lots_endpoint_filters_by_disposition(plant, hold):
    HoldLot.objects.filter(hold=hold, lot__code="A").update(disposition="scrap")

    page = user_client(plant.operator).get(f"/api/v1/holds/{hold.pk}/lots/?disposition=held").json()

    assert [entry["lot"] for entry in page["results"]] == ["B"]


def test_the_lots_endpoint_names_a_bad_disposition(plant, hold):
    response = user_client(plant.operator).get(f"/api/v1/holds/{hold.pk}/lots/?disposition=gone")

    assert response.status_code == 400 and "disposition" in response.json()["error"]["details"]


def test_the_lots_of_another_sites_hold_are_404(plant, hold):
    assert user_client(plant.foreign_engineer).get(f"/api/v1/holds/{hold.pk}/lots/").status_code == 404


def test_a_token_with_the_holds_scope_reads_the_lots(plant, hold):
    client, _token = token_client(plant.site, scopes=("holds:write",))

    assert client.get(f"/api/v1/holds/{hold.pk}/lots/").json()["results"][0]["lot"] in {"A", "B"}
