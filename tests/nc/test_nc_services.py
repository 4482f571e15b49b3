"""The NC services: creation, numbering, edits with the version check, the state machine and its guards."""
import pytest

from qms.models import AuditEntry, ESignature, NcLot, Nonconformance
from qms.services import nc as nc_service
from qms.services.nc import NcError
from tests.factories_nc import PASSWORD, NcPlant

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return NcPlant()


def refused(code, call, /, *args, **kwargs) -> NcError:
    with pytest.raises(NcError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


def test_numbers_are_site_prefixed_and_sequential(plant):
    first, second = plant.nc(), plant.nc()
    assert (first.number, second.number) == ("NC-S1-000001", "NC-S1-000002")


def test_create_records_lots_codes_and_creator(plant):
    lot = plant.product_lot("L-1", quantity=500)
    nc = plant.nc(lots=[("L-1", 40)], defect_codes=["SHORT_SHOT", "flash"])
    assert nc.state == "open" and nc.created_by == plant.operator
    assert [(entry.lot, entry.quantity) for entry in nc.lots.all()] == [(lot, 40)]
    assert sorted(nc.defect_codes.values_list("code", flat=True)) == ["FLASH", "SHORT_SHOT"]
    assert AuditEntry.objects.filter(model="qms.Nonconformance", object_pk=str(nc.pk), action="nc_links").exists()


def test_create_as_draft(plant):
    assert plant.nc(draft=True).state == "draft"


@pytest.mark.parametrize(("fields", "code", "field"), [
    ({"title": " "}, "title_required", "title"),
    ({"source": "gossip"}, "invalid_source", "source"),
    ({"severity": "huge"}, "invalid_severity", "severity"),
    ({"defect_codes": ["NOPE"]}, "unknown_defect_code", "defect_codes"),
    ({"lots": [("L-404", 1)]}, "invalid_lots", "lots"),
    ({"equipment": "IMM09"}, "unknown_equipment", "equipment"),
])
def test_bad_input_is_refused_naming_the_field(plant, fields, code, field):
    error = refused(code, plant.nc, **fields)
    assert error.field == field
    assert not Nonconformance.objects.exists()


def test_quantity_above_the_lot_quantity_is_refused(plant):
    plant.product_lot("L-1", quantity=50)
    error = refused("invalid_lots", plant.nc, lots=[("L-1", 51)])
    assert "L-1" in error.details["lots"]


def test_lot_of_another_site_is_refused(plant):
    plant.product_lot("L-X", site=plant.other_site)
    refused("invalid_lots", plant.nc, lots=[("L-X", 1)])


def test_deactivated_defect_code_is_not_offered(plant):
    plant.flash.active = False
    plant.flash.save()
    refused("unknown_defect_code", plant.nc, defect_codes=["FLASH"])


def test_update_applies_changes_and_bumps_the_version(plant):
    nc = plant.nc()
    updated = nc_service.update_nc(nc.pk, user=plant.engineer, expected_version=nc.version,
                                   changes={"title": "Flash on housing", "defect_codes": ["FLASH"],
                                            "equipment": "IMM02"})
    assert updated.version == nc.version + 1 and updated.title == "Flash on housing"
    assert updated.equipment == plant.imm02
    assert list(updated.defect_codes.values_list("code", flat=True)) == ["FLASH"]


def test_stale_version_is_refused_naming_who_and_when(plant):
    nc = plant.nc()
    nc_service.update_nc(nc.pk, user=plant.engineer, expected_version=1, changes={"title": "first"})
    error = refused("stale", nc_service.update_nc, nc.pk, user=plant.engineer2, expected_version=1,
                    changes={"title": "second"})
    assert "reload" in error.message and error.details["current_version"] == 2
    assert Nonconformance.objects.get().title == "first"


def test_lots_can_be_replaced_while_open(plant):
    plant.product_lot("L-1")
    plant.product_lot("L-2")
    nc = plant.nc(lots=[("L-1", 10)])
    nc_service.update_nc(nc.pk, user=plant.engineer, expected_version=nc.version,
                         changes={"lots": [{"lot": "L-2", "quantity": 5}]})
    assert list(NcLot.objects.values_list("lot__code", "quantity")) == [("L-2", 5)]


def test_lots_are_fixed_once_the_disposition_started(plant):
    plant.product_lot("L-1")
    nc = plant.in_disposition(lots=[("L-1", 10)])
    refused("lots_locked", nc_service.update_nc, nc.pk, user=plant.engineer, expected_version=nc.version,
            changes={"lots": []})


def test_the_happy_path_of_states(plant):
    plant.product_lot("L-1")
    nc = plant.nc(lots=[("L-1", 10)], draft=True, severity="minor")
    assert nc_service.open_nc(nc.pk, user=plant.engineer).state == "open"
    assert nc_service.start_disposition(nc.pk, user=plant.engineer).state == "disposition"
    disposition = nc_service.propose_disposition(nc.pk, user=plant.engineer, nc_lot_id=nc.lots.get().pk,
                                                 decision="scrap", quantity=10)
    nc_service.approve_disposition(disposition.pk, user=plant.engineer2, password=PASSWORD, meaning="MRB approval",
                                   vote="approve")
    assert Nonconformance.objects.get().state == "dispositioned"
    closed = nc_service.close_nc(nc.pk, user=plant.engineer, password=PASSWORD, meaning="closed after scrap")
    assert closed.state == "closed" and closed.closed_at is not None
    assert ESignature.objects.filter(record_model="qms.nonconformance", record_pk=str(nc.pk)).exists()


@pytest.mark.parametrize(("call", "kwargs"), [
    (nc_service.open_nc, {}),
    (nc_service.complete_disposition, {}),
    (nc_service.close_nc, {"password": PASSWORD, "meaning": "close"}),
])
def test_illegal_transitions_are_refused(plant, call, kwargs):
    plant.product_lot("L-1")
    nc = plant.nc(lots=[("L-1", 10)])  # open, with a lot: cannot be reopened, completed or closed
    with pytest.raises(NcError) as caught:
        call(nc.pk, user=plant.engineer, **kwargs)
    assert caught.value.code in ("illegal_transition", "disposition_required")
    assert Nonconformance.objects.get().state == "open"


def test_disposition_needs_lots(plant):
    nc = plant.nc()
    refused("no_lots", nc_service.start_disposition, nc.pk, user=plant.engineer)


def test_disposition_needs_quantities(plant):
    plant.product_lot("L-1", quantity=None)
    nc = plant.nc(lots=[("L-1", 0)])
    refused("lot_quantity_missing", nc_service.start_disposition, nc.pk, user=plant.engineer)


def test_an_nc_without_lots_closes_from_open(plant):
    nc = plant.nc(source="internal_audit")
    assert nc_service.close_nc(nc.pk, user=plant.engineer, password=PASSWORD, meaning="done").state == "closed"


def test_close_with_a_wrong_password_changes_nothing(plant):
    nc = plant.nc()
    refused("signature_password", nc_service.close_nc, nc.pk, user=plant.engineer, password="wrong",
            meaning="done")
    assert Nonconformance.objects.get().state == "open" and not ESignature.objects.exists()


def test_closing_is_for_quality_engineers(plant):
    nc = plant.nc()
    refused("not_permitted", nc_service.close_nc, nc.pk, user=plant.operator, password=PASSWORD, meaning="done")


def test_cancel_needs_a_reason(plant):
    nc = plant.nc()
    refused("reason_required", nc_service.cancel_nc, nc.pk, user=plant.engineer, reason=" ")
    cancelled = nc_service.cancel_nc(nc.pk, user=plant.engineer, reason="duplicate of NC-S1-000009")
    assert cancelled.state == "cancelled"
    refused("illegal_transition", nc_service.open_nc, nc.pk, user=plant.engineer)


def test_an_nc_of_another_site_is_not_found(plant):
    nc = plant.nc()
    refused("not_found", nc_service.open_nc, nc.pk, user=plant.foreign_engineer)
