"""The 8D pages: list, open, the workspace (forms per step, errors next to fields), my tasks."""
from datetime import date, timedelta

import pytest

from qms.models import CapaStep
from qms.services import capa as capa_service
from tests.factories_capa import COMPLETE, PASSWORD, CapaPlant

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return CapaPlant()


def client_for(client, user):
    client.force_login(user)
    return client


def test_list_and_nav(plant, client):
    plant.capa(title="Short shots on housing")
    page = client_for(client, plant.engineer).get("/capas/").content.decode()
    assert "CAPA-S1-000001" in page and 'href="/capas/"' in page and 'href="/tasks/"' in page


def test_open_from_the_form(plant, client):
    response = client_for(client, plant.engineer).post("/capas/new/", {"title": "Flash on lid", "champion": "engineer"})
    assert response.status_code == 302 and response["Location"].startswith("/capas/")


def test_open_without_title_shows_the_error(plant, client):
    response = client_for(client, plant.engineer).post("/capas/new/", {"title": ""})
    assert response.status_code == 400 and "Give the CAPA a title." in response.content.decode()


def test_workspace_shows_every_step_with_stable_ids(plant, client):
    capa = plant.capa()
    page = client_for(client, plant.engineer).get(f"/capas/{capa.pk}/").content.decode()
    for step in ("D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8"):
        assert f'id="step-{step}"' in page and f'id="step-{step}-state"' in page
    assert 'id="cause-form"' in page and 'id="effectiveness-verdict"' in page and 'id="D2-how_many"' in page


def test_save_and_submit_through_the_forms(plant, client):
    capa = plant.capa()
    browser = client_for(client, plant.engineer)
    response = browser.post(f"/capas/{capa.pk}/steps/D0/save/", {**COMPLETE["D0"], "version": 1})
    assert response.status_code == 302 and response["Location"].endswith("#step-D0")
    browser.post(f"/capas/{capa.pk}/steps/D0/submit/")
    assert CapaStep.objects.get(capa=capa, step="D0").state == "submitted"


def test_stale_save_shows_who_changed_it_and_keeps_the_input(plant, client):
    capa = plant.capa()
    plant.save(capa, "D0", user=plant.engineer2)
    response = client_for(client, plant.engineer).post(f"/capas/{capa.pk}/steps/D0/save/",
                                                       {"symptom": "my text", "emergency_response": "x",
                                                        "version": 1})
    page = response.content.decode()
    assert response.status_code == 409 and "engineer2" in page and "my text" in page


def test_submit_incomplete_lists_the_problems_in_the_section(plant, client):
    capa = plant.capa()
    response = client_for(client, plant.engineer).post(f"/capas/{capa.pk}/steps/D0/submit/")
    page = response.content.decode()
    assert response.status_code == 409 and 'id="step-D0-error"' in page and "This field is required." in page


def test_wrong_password_is_shown_next_to_the_password(plant, client):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)
    response = client_for(client, plant.engineer2).post(f"/capas/{capa.pk}/steps/D0/approve/",
                                                        {"password": "nope", "meaning": "ok"})
    assert response.status_code == 403 and 'id="error-D0-password"' in response.content.decode()


def test_approve_and_reopen_through_the_forms(plant, client):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)
    approver = client_for(client, plant.engineer2)
    approver.post(f"/capas/{capa.pk}/steps/D0/approve/", {"password": PASSWORD, "meaning": "ok"})
    assert CapaStep.objects.get(capa=capa, step="D0").state == "approved"
    response = approver.post(f"/capas/{capa.pk}/steps/D0/reopen/", {"reason": ""})
    assert response.status_code == 400 and 'id="error-D0-reason"' in response.content.decode()


def test_add_a_cause_with_whys(plant, client):
    capa = plant.capa()
    client_for(client, plant.engineer).post(f"/capas/{capa.pk}/steps/D4/cause/", {
        "category": "machine", "cause": "heater relay", "why": ["relay worn", "no PM", ""],
        "is_root_cause": "on", "verified": "on"})
    cause = capa.root_causes.get()
    assert cause.whys == ["relay worn", "no PM"] and cause.is_root_cause and cause.verified


def test_d1_members_from_repeatable_rows(plant, client):
    capa = plant.capa()
    client_for(client, plant.engineer).post(f"/capas/{capa.pk}/steps/D1/save/", {
        "champion": "engineer", "member_user": ["engineer", "engineer2", ""], "member_role": ["lead", "", ""],
        "version": 1})
    assert CapaStep.objects.get(capa=capa, step="D1").content["members"] == [
        {"user": "engineer", "role": "lead"}, {"user": "engineer2", "role": ""}]


def test_another_sites_capa_is_404(plant, client):
    capa = plant.capa()
    assert client_for(client, plant.foreign_engineer).get(f"/capas/{capa.pk}/").status_code == 404


def test_my_tasks_overdue_first_and_complete(plant, client):
    capa_service.create_action(plant.site, user=plant.engineer, title="later", owner=plant.operator,
                               due_date=date.today() + timedelta(days=5))
    late = capa_service.create_action(plant.site, user=plant.engineer, title="late one", owner=plant.operator,
                                      due_date=date.today() - timedelta(days=2))
    browser = client_for(client, plant.operator)
    page = browser.get("/tasks/").content.decode()
    assert page.index("late one") < page.index("later") and "overdue" in page
    assert browser.post(f"/tasks/{late.pk}/complete/", {"note": ""}).status_code == 400
    assert browser.post(f"/tasks/{late.pk}/complete/", {"note": "fixed"}).status_code == 302
    late.refresh_from_db()
    assert late.state == "done"
