"""The workspace's History section shows the merged history of the CAPA, its steps, causes and actions, with the
effectiveness figures as a sentence rather than raw JSON."""
import pytest

from qms.services import capa as capa_service
from tests.factories_capa import CapaPlant
from tests.factories_holds import at

pytestmark = pytest.mark.django_db


def history_section(client, user, capa) -> str:
    client.force_login(user)
    page = client.get(f"/capas/{capa.pk}/").content.decode()
    return page[page.index('id="history"'):]


def test_the_history_section_shows_steps_and_causes_next_to_the_capa(client):
    plant = CapaPlant()
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.add_root_cause(capa.pk, user=plant.engineer, category="machine", cause="worn check ring")
    section = history_section(client, plant.engineer, capa)
    assert 'href="#step-D0"' in section
    assert "Cause: worn check ring" in section


def test_effectiveness_in_the_history_reads_as_a_sentence(client):
    plant = CapaPlant()
    capa = capa_service.update_capa(plant.capa().pk, user=plant.engineer, expected_version=1, changes={
        "characteristics": ["BARREL_Z2"], "baseline_start": at(0), "baseline_end": at(8), "effective_from": at(9)})
    plant.measurements([230.0 + 0.1 * (i % 5) for i in range(5)], at(9.5))
    capa_service.check_effectiveness(capa.pk, now=at(12), user=plant.engineer)
    section = history_section(client, plant.engineer, capa)
    assert "BARREL_Z2: only 5 values since the fix took effect" in section
    assert "BARREL_Z2 Cpk" in section
    assert '{"' not in section and "&quot;code&quot;" not in section
