"""The printed 8D report gives the reasons of a "not yet" effectiveness verdict as sentences, not raw dicts."""
import pytest
from django.test import Client

from tests.factories_reports import ReportPlant

pytestmark = pytest.mark.django_db


def test_effectiveness_reasons_print_as_sentences():
    plant = ReportPlant()
    capa = plant.capa(days_ago=10, approved=1)
    capa.effectiveness = "not_yet"
    capa.effectiveness_data = {"verdict": "not_yet", "reasons": [
        {"code": "too_few_points", "characteristic": "BARREL_Z2", "n": 5, "min": 25}]}
    capa.save()
    client = Client()
    client.force_login(plant.engineer)
    page = client.get(f"/capas/{capa.pk}/report/").content.decode()
    reasons = page[page.index('id="effectiveness-reasons"'):]
    assert "BARREL_Z2: only 5 values since the fix took effect; at least 25 are needed to judge it." in reasons
    assert "too_few_points" not in page and "{&#x27;code&#x27;" not in page
