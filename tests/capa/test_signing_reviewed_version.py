"""The 8D signature forms (step approval, CAPA close) send the version the signer reviewed: a change after
the page was loaded refuses the signature as stale with a message that nothing was signed."""
import re

import pytest

from qms.models import CapaStep, ESignature
from qms.services import capa as capa_service
from tests.factories_capa import PASSWORD, CapaPlant

pytestmark = pytest.mark.django_db

UNSIGNED = "Nothing was signed"


def hidden_version(page: str, form_id: str) -> str:
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', page, re.S).group(0)
    return re.search(r'name="version" value="(\d+)"', form).group(1)


def submitted_step(plant, capa, step="D0"):
    plant.save(capa, step)
    capa_service.submit_step(capa.pk, step, user=plant.engineer)


def test_a_step_changed_after_the_approver_loaded_the_page_is_not_signed(client):
    plant = CapaPlant()
    capa = plant.capa()
    submitted_step(plant, capa)
    client.force_login(plant.engineer2)
    seen = hidden_version(client.get(f"/capas/{capa.pk}/").content.decode(), "step-D0-approve-form")
    capa_service.reopen_step(capa.pk, "D0", user=plant.engineer, reason="symptom reworded")
    submitted_step(plant, capa)  # different content, submitted again while the approver reads the old one
    response = client.post(f"/capas/{capa.pk}/steps/D0/approve/",
                           {"password": PASSWORD, "meaning": "ok", "version": seen})
    assert response.status_code == 409
    assert UNSIGNED in response.content.decode()
    assert CapaStep.objects.get(capa=capa, step="D0").state == "submitted"
    assert not ESignature.objects.filter(user=plant.engineer2).exists()


def test_the_step_approval_form_signs_the_version_it_shows(client):
    plant = CapaPlant()
    capa = plant.capa()
    submitted_step(plant, capa)
    client.force_login(plant.engineer2)
    seen = hidden_version(client.get(f"/capas/{capa.pk}/").content.decode(), "step-D0-approve-form")
    client.post(f"/capas/{capa.pk}/steps/D0/approve/", {"password": PASSWORD, "meaning": "ok", "version": seen})
    assert CapaStep.objects.get(capa=capa, step="D0").state == "approved"


def test_a_capa_changed_after_the_closer_loaded_the_page_is_not_signed(client):
    plant = CapaPlant()
    capa = plant.capa()
    client.force_login(plant.engineer2)
    seen = hidden_version(client.get(f"/capas/{capa.pk}/").content.decode(), "close-form")
    capa_service.add_root_cause(capa.pk, user=plant.engineer, category="machine", cause="worn check ring")
    response = client.post(f"/capas/{capa.pk}/close/", {"password": PASSWORD, "meaning": "closed", "version": seen})
    assert response.status_code == 409
    assert UNSIGNED in response.content.decode()
