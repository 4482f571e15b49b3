"""The printable 8D report /capas/<id>/report/ and its PDF."""
import pytest
from django.test import Client

from qms.models import CapaStep, RootCause
from qms.services.esignature import sign
from tests.factories_reports import ReportPlant

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Quality-2026"


@pytest.fixture
def plant():
    return ReportPlant()


@pytest.fixture
def capa(plant):
    capa = plant.capa(days_ago=10, approved=1)
    d0 = capa.steps.get(step="D0")
    d0.content = {"symptom": "Short shots on housing", "emergency_response": "Sorted 2 lots"}
    d0.save()
    d1 = capa.steps.get(step="D1")
    d1.content = {"members": [{"user": "engineer", "role": "champion"}]}
    d1.save()
    signature = sign(plant.engineer, PASSWORD, meaning="D0 approved", record=d0, content=d0.content,
                     site_id=plant.site.pk)
    CapaStep.objects.filter(pk=d0.pk).update(approved_signature=signature)
    RootCause.objects.create(capa=capa, category="machine", cause="Heater band worn",
                             whys=["Zone 2 ran cold", "Heater band worn"], is_root_cause=True)
    return capa


def page_of(user, url):
    client = Client()
    client.force_login(user)
    return client.get(url)


def test_report_is_a_bare_document_with_every_step(plant, capa):
    page = page_of(plant.operator, f"/capas/{capa.pk}/report/").content.decode()
    assert 'class="main-nav"' not in page and "<nav" not in page  # no app navigation on paper
    for step in ("D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8"):
        assert f'id="step-{step}"' in page
    assert "size: A4" in page and "break-before: page" in page


def test_report_shows_content_causes_and_signatures(plant, capa):
    page = page_of(plant.engineer, f"/capas/{capa.pk}/report/").content.decode()
    assert "Short shots on housing" in page and "Sorted 2 lots" in page
    assert "<th>Person</th>" in page and "champion" in page  # D1 team as a table
    assert "1. Zone 2 ran cold" in page and "Heater band worn" in page
    assert "D0 approved" in page and "engineer" in page  # the signature: name, meaning (and time)


def test_report_of_another_site_is_not_found(plant, capa):
    assert page_of(plant.outsider, f"/capas/{capa.pk}/report/").status_code == 404


def test_pdf_export(plant, capa):
    response = page_of(plant.engineer, f"/capas/{capa.pk}/report.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
