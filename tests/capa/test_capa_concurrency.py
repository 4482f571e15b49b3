"""Races on PostgreSQL's row locks: two saves of one step with the same version, two numbers at once, an approval
racing a reopen."""
import pytest

from qms.models import Capa, CapaStep
from qms.services import capa as capa_service
from qms.services.capa import CapaError
from tests.factories_capa import COMPLETE, PASSWORD, CapaPlant
from tests.test_lots_concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def plant():
    return CapaPlant()


def test_two_saves_with_the_same_version_one_is_stale(plant):
    capa = plant.capa()

    def save(user, what):
        return lambda: capa_service.save_step(capa.pk, "D2", user=user, content={**COMPLETE["D2"], "what": what},
                                              expected_version=1)

    outcomes = race(save(plant.engineer, "short shot"), save(plant.engineer2, "flash"))

    stale = [o for o in outcomes if isinstance(o, CapaError)]
    assert len(stale) == 1 and stale[0].code == "stale" and stale[0].http_status == 409
    winner = next(o for o in outcomes if isinstance(o, CapaStep))
    row = CapaStep.objects.get(capa=capa, step="D2")
    assert row.version == 2 and row.content["what"] == winner.content["what"]


def test_two_capas_opened_at_once_get_distinct_numbers(plant):
    outcomes = race(lambda: plant.capa(title="a"), lambda: plant.capa(title="b", user=plant.engineer2))
    assert sorted(o.number for o in outcomes) == ["CAPA-S1-000001", "CAPA-S1-000002"]
    assert Capa.objects.count() == 2


def test_approval_racing_a_reopen_leaves_a_consistent_step(plant):
    capa = plant.capa()
    plant.save(capa, "D0")
    capa_service.submit_step(capa.pk, "D0", user=plant.engineer)

    outcomes = race(
        lambda: capa_service.approve_step(capa.pk, "D0", user=plant.engineer2, password=PASSWORD, meaning="ok"),
        lambda: capa_service.reopen_step(capa.pk, "D0", user=plant.engineer, reason="forgot a detail"),
    )

    assert not any(isinstance(o, Exception) and not isinstance(o, CapaError) for o in outcomes)
    row = CapaStep.objects.get(capa=capa, step="D0")
    assert (row.state == "approved") == (row.approved_signature_id is not None)
