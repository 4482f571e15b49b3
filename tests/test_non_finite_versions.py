"""A version that is no finite whole number (NaN, ±inf, 1.5, true) is refused with an error naming the field —
never a 500 from int(inf) — in the NC, CAPA, action and hold services."""
import math
from datetime import date

import pytest

from qms.services import capa as capa_service
from qms.services import nc as nc_service
from qms.services.capa import CapaError
from qms.services.nc import NcError
from qms.services.record_version import version_number
from tests.factories_capa import COMPLETE, CapaPlant
from tests.factories_holds import PASSWORD, Plant
from traceability.models import HoldLot
from traceability.services.holds import HoldError, dispose_hold_lot, place_hold

NOT_WHOLE = [math.nan, math.inf, -math.inf, 1.5, True, "nan", "inf", "abc", None, ""]


@pytest.mark.parametrize("value", NOT_WHOLE)
def test_no_finite_whole_number_is_no_version(value):
    assert version_number(value) is None


@pytest.mark.parametrize(("value", "expected"), [(3, 3), (3.0, 3), ("3", 3), (" 4 ", 4)])
def test_whole_numbers_are_versions(value, expected):
    assert version_number(value) == expected


def refused(error_type, call, **kwargs):
    with pytest.raises(error_type) as caught:
        call(**kwargs)
    assert caught.value.field == "version", caught.value.message
    return caught.value


@pytest.mark.django_db
@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_a_step_saved_with_a_non_finite_version_is_refused(value):
    plant = CapaPlant()
    capa = plant.capa()
    error = refused(CapaError, capa_service.save_step, capa_id=capa.pk, step="D0", user=plant.engineer,
                    content=COMPLETE["D0"], expected_version=value)
    assert error.code == "version_required" and "whole number" in error.message
    assert plant.step(capa, "D0").version == 1


@pytest.mark.django_db
def test_an_action_completed_with_an_infinite_version_is_refused():
    plant = CapaPlant()
    action = capa_service.create_action(plant.site, user=plant.engineer, title="Check heater", owner=plant.operator,
                                        due_date=date(2030, 1, 1), nc=plant.nc().number, kind="containment")
    error = refused(CapaError, capa_service.complete_action, action_id=action.pk, user=plant.engineer, note="done",
                    expected_version=math.inf)
    assert error.code == "version_required"
    action.refresh_from_db()
    assert action.state == "open"


@pytest.mark.django_db
def test_an_nc_edited_with_an_infinite_version_is_refused():
    plant = CapaPlant()
    nc = plant.nc()
    error = refused(NcError, nc_service.update_nc, nc_id=nc.pk, user=plant.engineer,
                    changes={"description": "x"}, expected_version=-math.inf)
    assert error.code == "version_required"


@pytest.mark.django_db
def test_a_held_lot_decided_with_a_nan_version_is_refused():
    plant = Plant()
    plant.lot("A")
    hold = place_hold(plant.site, reason="suspect resin", lots=["A"])
    entry = HoldLot.objects.get(hold=hold)
    error = refused(HoldError, dispose_hold_lot, hold_lot_id=entry.pk, disposition="release", user=plant.engineer,
                    password=PASSWORD, meaning="ok", version=math.nan)
    assert error.code == "invalid_version"
    entry.refresh_from_db()
    assert entry.disposition == "held"
