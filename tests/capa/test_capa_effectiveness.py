"""Effectiveness from live data: Cpk before/after from measurements, the defect rate of the CAPA's product."""
import numpy as np
import pytest

from qms.services import capa as capa_service
from qms.services.capa import CapaError
from tests.factories import LotRunFactory
from tests.factories_capa import CapaPlant
from tests.factories_holds import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return CapaPlant()


def planned(plant, capa, characteristics=("BARREL_Z2",)):
    return capa_service.update_capa(capa.pk, user=plant.engineer, expected_version=capa.version, changes={
        "characteristics": list(characteristics), "baseline_start": at(0), "baseline_end": at(8),
        "effective_from": at(9)})


def normal(sd, n, seed):
    return (230.0 + np.random.default_rng(seed).normal(0.0, sd, n)).tolist()


def test_improved_cpk_is_effective(plant):
    capa = planned(plant, plant.capa())
    plant.measurements(normal(3.0, 60, 1), at(1))
    plant.measurements(normal(0.8, 60, 2), at(9.5))
    capa = capa_service.check_effectiveness(capa.pk, now=at(12), user=plant.engineer)
    figures = capa.effectiveness_data["characteristics"][0]
    assert figures["cpk_before"] < 1.33 < figures["cpk_after"]
    assert (figures["n_before"], figures["n_after"]) == (60, 60)
    assert capa.effectiveness == "effective" and capa.effectiveness_checked_at == at(12)


def test_unchanged_cpk_is_not_yet(plant):
    capa = planned(plant, plant.capa())
    plant.measurements(normal(3.0, 60, 1), at(1))
    plant.measurements(normal(3.0, 60, 3), at(9.5))
    capa = capa_service.check_effectiveness(capa.pk, now=at(12), user=plant.engineer)
    assert capa.effectiveness == "not_yet"
    assert capa.effectiveness_data["reasons"][0]["code"] == "cpk_too_low"


def test_too_few_points_after_is_not_yet(plant):
    capa = planned(plant, plant.capa())
    plant.measurements(normal(3.0, 60, 1), at(1))
    plant.measurements(normal(0.5, 10, 2), at(9.5))
    capa = capa_service.check_effectiveness(capa.pk, now=at(12), user=plant.engineer)
    assert capa.effectiveness_data["reasons"][0] == {"code": "too_few_points", "characteristic": "BARREL_Z2",
                                                     "n": 10, "min": 25}


def test_measurements_after_now_are_ignored(plant):
    capa = planned(plant, plant.capa())
    plant.measurements(normal(0.5, 60, 2), at(13))
    capa = capa_service.check_effectiveness(capa.pk, now=at(12), user=plant.engineer)
    assert capa.effectiveness_data["characteristics"][0]["n_after"] == 0


def _production(plant, code, hour, quantity, nonconforming):
    lot = plant.product_lot(code, quantity=quantity)
    LotRunFactory(lot=lot, equipment=plant.imm02, started_at=at(hour), ended_at=at(hour + 0.5))
    if nonconforming:
        plant.nc(lots=[(code, nonconforming)], product=plant.product)
    return lot


def test_defect_rate_falling_is_effective(plant):
    _production(plant, "L-BEFORE", 1, 1000, 50)
    _production(plant, "L-AFTER", 10, 1000, 10)
    capa = planned(plant, plant.capa(ncs=[plant.nc(product=plant.product)]), characteristics=())
    capa = capa_service.check_effectiveness(capa.pk, now=at(12), user=plant.engineer)
    rate = capa.effectiveness_data["defect_rate"]
    assert (rate["before"]["rate"], rate["after"]["rate"]) == (0.05, 0.01)
    assert capa.effectiveness == "effective"


def test_defect_rate_rising_is_not_yet(plant):
    _production(plant, "L-BEFORE", 1, 1000, 10)
    _production(plant, "L-AFTER", 10, 1000, 30)
    capa = planned(plant, plant.capa(ncs=[plant.nc(product=plant.product)]), characteristics=())
    capa = capa_service.check_effectiveness(capa.pk, now=at(12), user=plant.engineer)
    assert capa.effectiveness == "not_yet"
    assert capa.effectiveness_data["reasons"][0]["code"] == "defect_rate_rose"


def test_tolerance_is_configurable(plant, settings):
    settings.CAPA_DEFECT_RATE_TOLERANCE = 0.5
    _production(plant, "L-BEFORE", 1, 1000, 20)
    _production(plant, "L-AFTER", 10, 1000, 25)
    capa = planned(plant, plant.capa(ncs=[plant.nc(product=plant.product)]), characteristics=())
    assert capa_service.check_effectiveness(capa.pk, now=at(12), user=plant.engineer).effectiveness == "effective"


def test_check_needs_the_fix_date(plant):
    capa = plant.capa()
    with pytest.raises(CapaError) as caught:
        capa_service.check_effectiveness(capa.pk, now=at(12), user=plant.engineer)
    assert caught.value.code == "effective_from_required"
