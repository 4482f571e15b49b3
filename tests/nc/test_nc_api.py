"""REST API of NCs, dispositions, attachments and defect codes: shapes, errors per house style, permissions,
scoping."""
import pytest
from rest_framework.test import APIClient

from qms.models import Nonconformance
from tests.factories import make_token
from tests.factories_nc import PASSWORD, PNG, NcPlant, upload
from traceability.models import HoldLot
from traceability.services.holds import place_hold

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return NcPlant()


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def error_of(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


def test_create_and_read_an_nc(plant):
    plant.product_lot("L-1", quantity=200)
    response = client_for(plant.operator).post("/api/v1/ncs/", {
        "title": "Flash at parting line", "source": "inspection", "severity": "minor", "equipment": "IMM01",
        "defect_codes": ["FLASH"], "lots": [{"lot": "L-1", "quantity": 12}], "detection_point": "final inspection",
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == "NC-S1-000001" and body["state"] == "open" and body["equipment"] == "IMM01"
    assert body["lots"][0] == {"id": body["lots"][0]["id"], "lot": "L-1", "quantity": 12, "unit": "pcs",
                               "lot_quantity": 200}
    assert [code["code"] for code in body["defect_codes"]] == ["FLASH"]
    assert body["history"][0]["by"] == "operator"
    detail = client_for(plant.auditor).get(f"/api/v1/ncs/{body['id']}/").json()
    assert detail["title"] == "Flash at parting line"


def test_bad_input_names_the_field(plant):
    error = error_of(client_for(plant.operator).post("/api/v1/ncs/", {
        "title": "x", "source": "inspection", "lots": [{"lot": "L-404", "quantity": 1}]}, format="json"),
        400, "invalid_lots")
    assert "lots" in error["details"]
    error_of(client_for(plant.operator).post("/api/v1/ncs/", {"title": "x"}, format="json"), 400,
             "validation_error")


def test_list_filters(plant):
    plant.nc(title="a", severity="minor")
    plant.nc(title="b", severity="critical", defect_codes=["FLASH"])
    client = client_for(plant.auditor)
    assert [r["title"] for r in client.get("/api/v1/ncs/?severity=critical").json()["results"]] == ["b"]
    assert [r["title"] for r in client.get("/api/v1/ncs/?defect_code=flash").json()["results"]] == ["b"]
    assert len(client.get("/api/v1/ncs/?since=2000-01-01").json()["results"]) == 2
    error_of(client.get("/api/v1/ncs/?state=bogus"), 400, "validation_error")
    error_of(client.get("/api/v1/ncs/?since=yesterday"), 400, "validation_error")


def test_other_sites_ncs_are_invisible(plant):
    nc = plant.nc()
    client = client_for(plant.foreign_engineer)
    assert client.get("/api/v1/ncs/").json()["results"] == []
    assert client.get(f"/api/v1/ncs/{nc.pk}/").status_code == 404


def test_stale_edit_is_a_409(plant):
    nc = plant.nc()
    client = client_for(plant.engineer)
    assert client.patch(f"/api/v1/ncs/{nc.pk}/", {"version": 1, "title": "new"}, format="json").status_code == 200
    error = error_of(client.patch(f"/api/v1/ncs/{nc.pk}/", {"version": 1, "title": "newer"}, format="json"),
                     409, "stale")
    assert "reload" in error["message"] and error["details"]["current_version"] == 2


def test_illegal_transition_is_a_409(plant):
    nc = plant.nc()
    error_of(client_for(plant.engineer).post(f"/api/v1/ncs/{nc.pk}/open/"), 409, "illegal_transition")


def test_operators_cannot_run_transitions(plant):
    nc = plant.nc(draft=True)
    error_of(client_for(plant.operator).post(f"/api/v1/ncs/{nc.pk}/open/"), 403, "role_forbidden")


def test_close_with_a_wrong_password_is_a_403(plant):
    nc = plant.nc()
    error = error_of(client_for(plant.engineer).post(f"/api/v1/ncs/{nc.pk}/close/",
                                                     {"password": "nope", "meaning": "done"}, format="json"),
                     403, "signature_password")
    assert "password" in error["details"]
    assert Nonconformance.objects.get().state == "open"


def test_the_mrb_over_the_api(plant):
    lot = plant.product_lot("L-1", quantity=100)
    hold = place_hold(plant.site, reason="short shots", lots=[lot])
    nc = plant.in_disposition(lots=[("L-1", 100)], holds=[hold], severity="major")
    proposed = client_for(plant.engineer).post(f"/api/v1/ncs/{nc.pk}/dispositions/", {
        "lot": "L-1", "decision": "rework", "quantity": 100, "rationale": "regrind gate"}, format="json")
    assert proposed.status_code == 201, proposed.content
    disposition_id = proposed.json()["id"]
    url = f"/api/v1/dispositions/{disposition_id}/approve/"
    error_of(client_for(plant.engineer).post(url, {"vote": "approve", "password": PASSWORD, "meaning": "ok"},
                                             format="json"), 403, "separation_of_duties")
    first = client_for(plant.supervisor).post(url, {"vote": "approve", "password": PASSWORD, "meaning": "ok"},
                                              format="json")
    assert first.status_code == 200 and first.json()["state"] == "proposed"
    error_of(client_for(plant.supervisor).post(url, {"vote": "approve", "password": PASSWORD, "meaning": "ok"},
                                               format="json"), 409, "already_voted")
    second = client_for(plant.engineer2).post(url, {"vote": "approve", "password": PASSWORD,
                                                    "meaning": "MRB approval"}, format="json")
    assert second.json()["state"] == "approved"
    assert [a["user"] for a in second.json()["approvals"]] == ["supervisor", "engineer2"]
    assert second.json()["approvals"][1]["signature"]["meaning"] == "MRB approval"
    assert HoldLot.objects.get(hold=hold).disposition == "rework"
    assert client_for(plant.engineer).get(f"/api/v1/ncs/{nc.pk}/").json()["state"] == "dispositioned"


def test_proposal_exceeding_the_lot_is_a_400_naming_quantity(plant):
    plant.product_lot("L-1", quantity=100)
    nc = plant.in_disposition(lots=[("L-1", 10)])
    error = error_of(client_for(plant.engineer).post(f"/api/v1/ncs/{nc.pk}/dispositions/", {
        "lot": "L-1", "decision": "scrap", "quantity": 11}, format="json"), 400, "quantity_exceeds_lot")
    assert "quantity" in error["details"]


def test_upload_and_download_an_attachment(plant):
    nc = plant.nc()
    response = client_for(plant.operator).post(f"/api/v1/ncs/{nc.pk}/attachments/",
                                               {"file": upload("photo.png", PNG, "image/png")}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content_type"] == "image/png" and body["size"] == len(PNG)
    download = client_for(plant.auditor).get(body["download"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == PNG
    assert download["X-Content-Type-Options"] == "nosniff"
    assert client_for(plant.foreign_engineer).get(body["download"]).status_code == 404


def test_disallowed_attachment_is_a_400(plant):
    nc = plant.nc()
    error_of(client_for(plant.operator).post(f"/api/v1/ncs/{nc.pk}/attachments/",
                                             {"file": upload("run.exe", b"MZ")}, format="multipart"),
             400, "attachment_type")


def test_oversize_attachment_is_a_413(plant, settings):
    settings.NC_ATTACHMENT_MAX_BYTES = 10
    nc = plant.nc()
    error_of(client_for(plant.operator).post(f"/api/v1/ncs/{nc.pk}/attachments/",
                                             {"file": upload("photo.png", PNG)}, format="multipart"),
             413, "attachment_too_large")


def test_machine_tokens_are_refused(plant):
    _token, raw = make_token(plant.site, scopes=("ingest",))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    error_of(client.get("/api/v1/ncs/"), 403, "token_not_allowed")


def test_defect_codes_api(plant):
    client = client_for(plant.engineer)
    listed = client.get("/api/v1/defect-codes/").json()["results"]
    assert [(row["code"], row["depth"]) for row in listed] == [("FILL", 0), ("FLASH", 1), ("SHORT_SHOT", 1)]
    created = client.post("/api/v1/defect-codes/", {"code": "GATE", "name_en": "Gate vestige",
                                                    "name_zh": "浇口残留", "parent": "FILL"}, format="json")
    assert created.status_code == 201 and created.json()["site"] == "S1"
    error_of(client.post("/api/v1/defect-codes/", {"code": "GATE", "name_en": "x", "name_zh": "x"}, format="json"),
             409, "code_taken")
    code_id = created.json()["id"]
    assert client.post(f"/api/v1/defect-codes/{code_id}/deactivate/").json()["active"] is False
    assert "GATE" not in [row["code"] for row in client.get("/api/v1/defect-codes/").json()["results"]]
    assert client.patch(f"/api/v1/defect-codes/{code_id}/", {"name_en": "Gate rest"},
                        format="json").json()["name_en"] == "Gate rest"
    error_of(client_for(plant.operator).post("/api/v1/defect-codes/", {"code": "Z", "name_en": "z", "name_zh": "z"},
                                             format="json"), 403, "role_forbidden")
