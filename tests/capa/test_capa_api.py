"""The CAPA, action and MES instruction API: shapes, guards as error bodies, scoping, token scopes."""
from datetime import date, timedelta

import pytest

from qms.services import capa as capa_service
from tests.factories import token_client, user_client
from tests.factories_capa import COMPLETE, PASSWORD, CapaPlant

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return CapaPlant()


def test_open_and_read_a_capa(plant):
    client = user_client(plant.engineer)
    nc = plant.nc()
    response = client.post("/api/v1/capas/", {"site": "S1", "title": "Short shots", "nonconformances": [nc.number]},
                           format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"] == "CAPA-S1-000001" and body["nonconformances"] == [nc.number]
    assert [s["step"] for s in body["steps"]] == [f"D{i}" for i in range(9)]
    listed = client.get("/api/v1/capas/").json()
    assert [c["number"] for c in listed["results"]] == ["CAPA-S1-000001"]


def test_step_save_submit_approve_over_the_api(plant):
    capa = plant.capa()
    author, approver = user_client(plant.engineer), user_client(plant.engineer2)
    url = f"/api/v1/capas/{capa.pk}/steps/D0/"
    assert author.put(url, {"content": COMPLETE["D0"], "version": 1}, format="json").status_code == 200
    assert author.post(url + "submit/", {}, format="json").status_code == 200
    body = approver.post(url + "approve/", {"password": PASSWORD, "meaning": "approved"}, format="json").json()
    d0 = body["steps"][0]
    assert d0["state"] == "approved" and d0["approval_meaning"] == "approved"


def test_stale_save_is_409_with_code(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    response = user_client(plant.engineer2).put(f"/api/v1/capas/{capa.pk}/steps/D0/",
                                                {"content": COMPLETE["D0"], "version": 1}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "stale"
    assert response.json()["error"]["details"]["changed_by"] == "engineer"


def test_incomplete_submit_is_409_with_problems(plant):
    capa = plant.capa()
    response = user_client(plant.engineer).post(f"/api/v1/capas/{capa.pk}/steps/D0/submit/", {}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "step_incomplete"
    assert {p["field"] for p in error["details"]["problems"]} == {"symptom", "emergency_response"}


def test_self_approval_is_403(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)
    response = user_client(plant.engineer).post(f"/api/v1/capas/{capa.pk}/steps/D0/approve/",
                                                {"password": PASSWORD, "meaning": "ok"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "self_approval"


def test_wrong_password_is_403_as_on_ncs_and_holds(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)
    response = user_client(plant.engineer2).post(f"/api/v1/capas/{capa.pk}/steps/D0/approve/",
                                                 {"password": "nope", "meaning": "ok"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "signature_password"


def test_reopen_without_reason_is_refused(plant):
    capa = plant.capa()
    plant.approve(capa, "D0")
    response = user_client(plant.engineer).post(f"/api/v1/capas/{capa.pk}/steps/D0/reopen/", {"reason": ""},
                                                format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "reason_required"


def test_root_cause_crud(plant):
    capa = plant.capa()
    client = user_client(plant.engineer)
    body = client.post(f"/api/v1/capas/{capa.pk}/root-causes/", {
        "category": "machine", "cause": "heater relay", "whys": ["worn"], "is_root_cause": True},
        format="json").json()
    cause_id = body["root_causes"][0]["id"]
    assert client.patch(f"/api/v1/root-causes/{cause_id}/", {"verified": True},
                        format="json").json()["root_causes"][0]["verified"] is True
    assert client.delete(f"/api/v1/root-causes/{cause_id}/").status_code == 204


def test_another_sites_capa_is_404(plant):
    capa = plant.capa()
    response = user_client(plant.foreign_engineer).get(f"/api/v1/capas/{capa.pk}/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_operator_cannot_open_a_capa(plant):
    response = user_client(plant.operator).post("/api/v1/capas/", {"title": "x"}, format="json")
    assert response.status_code == 403


def test_my_tasks_overdue_first_and_complete(plant):
    capa_service.create_action(plant.site, user=plant.engineer, title="late", owner=plant.operator,
                               due_date=date.today() - timedelta(days=3))
    capa_service.create_action(plant.site, user=plant.engineer, title="someone else's", owner=plant.supervisor,
                               due_date=date.today())
    client = user_client(plant.operator)
    mine = client.get("/api/v1/actions/?mine=true").json()["results"]
    assert [(a["title"], a["overdue"]) for a in mine] == [("late", True)]
    done = client.post(f"/api/v1/actions/{mine[0]['id']}/complete/", {"note": "done"}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "done"


def test_create_action_via_api(plant):
    capa = plant.capa()
    response = user_client(plant.engineer).post("/api/v1/actions/", {
        "site": "S1", "title": "Sort stock", "owner": "supervisor", "due_date": "2026-12-01", "kind": "containment",
        "capa": capa.number, "verification": "recount"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["capa_step"] == "D3"


def test_instructions_for_mes_by_equipment(plant):
    capa_service.create_action(plant.site, user=plant.engineer, title="Check zone 2 heater", owner=plant.operator,
                               due_date=date.today(), equipment=plant.imm02, mes_instruction=True,
                               kind="containment")
    capa_service.create_action(plant.site, user=plant.engineer, title="not for MES", owner=plant.operator,
                               due_date=date.today(), equipment=plant.imm02)
    client, _token = token_client(plant.site, scopes=("instructions:read",))
    body = client.get("/api/v1/instructions/?equipment=IMM02").json()
    assert [(i["title"], i["equipment"], i["state"]) for i in body["results"]] == [
        ("Check zone 2 heater", "IMM02", "open")]
    assert client.get("/api/v1/instructions/?equipment=IMM01").json()["results"] == []


def test_instructions_need_the_scope(plant):
    client, _token = token_client(plant.site, scopes=("ingest",))
    response = client.get("/api/v1/instructions/?equipment=IMM02")
    assert response.status_code == 403 and response.json()["error"]["code"] == "missing_scope"


def test_instructions_need_a_filter(plant):
    client, _token = token_client(plant.site, scopes=("instructions:read",))
    assert client.get("/api/v1/instructions/").json()["error"]["code"] == "required"


def test_tokens_cannot_use_the_capa_api(plant):
    client, _token = token_client(plant.site, scopes=("instructions:read",))
    assert client.get("/api/v1/capas/").status_code == 403
