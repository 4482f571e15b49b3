"""Plant services: uniqueness as field errors, site-consistent parents, what blocks a deletion."""
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from qms.models import Equipment, Measurement, Operation, Product, Site
from qms.services.plant import (
    InUseError,
    blocking_references,
    create_plant_object,
    delete_plant_object,
    update_plant_object,
)
from tests.factories import (
    AreaFactory,
    CharacteristicFactory,
    EquipmentFactory,
    OperationFactory,
    ProductFactory,
    WorkCenterFactory,
)

pytestmark = pytest.mark.django_db


def test_equipment_takes_its_site_from_the_work_center(site):
    work_center = WorkCenterFactory(line__area__site=site)
    machine = create_plant_object(Equipment, {"work_center": work_center, "code": "IMM05"})
    assert machine.site == site


def test_equipment_cannot_move_to_a_work_center_of_another_site(equipment, other_site):
    foreign = WorkCenterFactory(line__area__site=other_site)
    with pytest.raises(ValidationError) as excinfo:
        update_plant_object(equipment, {"work_center": foreign})
    assert "work_center" in excinfo.value.message_dict
    equipment.refresh_from_db()
    assert equipment.site.code == "S1"


def test_operation_work_center_must_share_the_products_site(site, other_site):
    product = ProductFactory(site=site)
    with pytest.raises(ValidationError) as excinfo:
        create_plant_object(Operation, {"product": product, "sequence": 10, "code": "MOULD",
                                        "work_center": WorkCenterFactory(line__area__site=other_site)})
    assert "work_center" in excinfo.value.message_dict


def test_duplicate_revision_message_names_both_parts_and_the_site(site):
    ProductFactory(site=site, part_number="PN-1", revision="A")
    with pytest.raises(ValidationError) as excinfo:
        create_plant_object(Product, {"site": site, "part_number": "PN-1", "revision": "A"})
    message = excinfo.value.message_dict["part_number"][0]
    assert "PN-1" in message and "“A”" in message and "S1" in message


def test_duplicate_site_code_is_a_field_error(site):
    with pytest.raises(ValidationError) as excinfo:
        create_plant_object(Site, {"code": "S1", "name": "again"})
    assert "code" in excinfo.value.message_dict


def test_fields_outside_the_model_contract_are_refused(site):
    with pytest.raises(ValidationError) as excinfo:
        update_plant_object(AreaFactory(site=site), {"site": site, "id": 99})
    assert "id" in excinfo.value.message_dict


def test_naming_rule_change_keeping_codes_valid_is_allowed(site, characteristic):
    updated = update_plant_object(site, {"naming_rule": r"^IMM[0-9]{2}\.[A-Z0-9_]+\.[A-Z]+$"})
    assert updated.follows_naming_rule(characteristic.code)


def test_measurements_block_deleting_their_equipment(site, equipment):
    entry = CharacteristicFactory(site=site)
    Measurement.objects.create(characteristic=entry, equipment=equipment, ts=timezone.now(), value=1, source="t",
                               received_at=timezone.now())
    labels = {referrer.label for referrer in blocking_references(equipment)}
    assert labels == {"measurements"}


def test_references_behind_cascades_block_deletion(site):
    operation = OperationFactory(product=ProductFactory(site=site), code="MOULD")
    CharacteristicFactory(site=site, code="IMM01.WEIGHT.PART", operation=operation)
    with pytest.raises(InUseError) as excinfo:
        delete_plant_object(operation.product)
    assert [referrer.examples for referrer in excinfo.value.referrers] == [["IMM01.WEIGHT.PART"]]
    assert Product.objects.filter(pk=operation.product_id).exists()


def test_examples_are_capped(site):
    area = AreaFactory(site=site)
    for number in range(7):
        WorkCenterFactory(line__area=area, line__code=f"L{number}")
    (referrer,) = blocking_references(area)
    assert (len(referrer.examples), referrer.more) == (5, True)


def test_unreferenced_product_deletes_with_its_operations(site):
    operation = OperationFactory(product=ProductFactory(site=site))
    delete_plant_object(operation.product, reason="obsolete part")
    assert not Operation.objects.filter(pk=operation.pk).exists()


def test_equipment_factory_machine_is_deletable_when_unused(site):
    machine = EquipmentFactory(work_center__line__area__site=site)
    delete_plant_object(machine)
    assert not Equipment.objects.filter(pk=machine.pk).exists()
