"""Data-dictionary service rules: naming rule, limit ordering, reasons, versions, retire/delete."""
import pytest
from django.core.exceptions import ValidationError

from qms.audit.chain import verify_chain
from qms.audit.context import Actor, acting_as
from qms.models import AuditEntry, Characteristic
from qms.services.dictionary import (
    VersionConflict,
    create_characteristic,
    delete_characteristic,
    retire_characteristic,
    update_characteristic,
)
from qms.services.plant import InUseError
from tests.factories import EquipmentFactory, OperationFactory, ProductFactory, SiteFactory

pytestmark = pytest.mark.django_db

VALID = {"code": "IMM01.BARREL_Z1.TEMP", "name_en": "Barrel zone 1 temperature", "name_zh": "料筒一区温度",
         "unit": "°C", "precision": 1, "physical_min": 0, "physical_max": 400, "nominal": 230, "lsl": 225, "usl": 235}


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


def test_create_stores_every_field_at_version_1(site, equipment):
    entry = create_characteristic(site, {**VALID, "equipment": "IMM01", "criticality": "ctq", "subgroup_size": 5})
    entry.refresh_from_db()
    assert (entry.code, entry.equipment, entry.criticality, entry.subgroup_size, entry.version) == (
        "IMM01.BARREL_Z1.TEMP", equipment, "ctq", 5, 1)
    assert (entry.lsl, entry.nominal, entry.usl) == (225.0, 230.0, 235.0)


def test_code_must_follow_default_naming_rule(site):
    with pytest.raises(ValidationError) as excinfo:
        create_characteristic(site, {**VALID, "code": "imm01-barrel-temp"})
    assert "naming rule" in errors_of(excinfo)["code"][0]


def test_code_follows_the_sites_custom_naming_rule(db):
    strict = SiteFactory(code="S9", naming_rule=r"^P9-[0-9]{4}$")
    entry = create_characteristic(strict, {**VALID, "code": "P9-0042"})
    assert entry.code == "P9-0042"
    with pytest.raises(ValidationError) as excinfo:
        create_characteristic(strict, {**VALID, "code": "IMM01.BARREL_Z1.TEMP"})
    assert r"^P9-[0-9]{4}$" in errors_of(excinfo)["code"][0]


def test_naming_rule_must_match_the_whole_code(db):
    strict = SiteFactory(code="S9", naming_rule=r"P9-[0-9]{4}")
    with pytest.raises(ValidationError):
        create_characteristic(strict, {**VALID, "code": "P9-0042-EXTRA"})


def test_code_unique_per_site_is_a_field_error(site, characteristic):
    with pytest.raises(ValidationError) as excinfo:
        create_characteristic(site, {**VALID, "code": characteristic.code})
    assert "already has" in errors_of(excinfo)["code"][0]


def test_same_code_allowed_in_another_site(site, other_site, characteristic):
    entry = create_characteristic(other_site, {**VALID, "code": characteristic.code})
    assert entry.site == other_site


@pytest.mark.parametrize(("limits", "field"), [
    ({"lsl": 235, "usl": 225}, "usl"),
    ({"lsl": 230, "usl": 230}, "usl"),
    ({"nominal": 240}, "nominal"),
    ({"nominal": 220}, "nominal"),
    ({"physical_min": 300, "physical_max": 100, "lsl": None, "usl": None, "nominal": None}, "physical_max"),
    ({"physical_min": 228}, "lsl"),
    ({"physical_max": 232}, "usl"),
    ({"physical_max": 229, "usl": None}, "nominal"),
])
def test_limit_ordering_rules(site, limits, field):
    with pytest.raises(ValidationError) as excinfo:
        create_characteristic(site, {**VALID, **limits})
    assert field in errors_of(excinfo)


@pytest.mark.parametrize(("field", "value"), [
    ("lsl", "abc"), ("lsl", float("nan")), ("usl", float("inf")), ("nominal", True), ("precision", 2.5),
    ("precision", -1), ("data_type", "text"), ("criticality", "very"), ("subgroup_size", 30), ("update_period_s", 0),
    ("name_en", ""), ("unit", 5), ("equipment", "NO_SUCH_MACHINE"), ("colour", "red"),
])
def test_bad_values_are_named_by_field(site, field, value):
    with pytest.raises(ValidationError) as excinfo:
        create_characteristic(site, {**VALID, field: value})
    assert list(errors_of(excinfo)) == [field]


def test_numbers_as_text_are_read(site):
    entry = create_characteristic(site, {**VALID, "lsl": " 225.5 ", "precision": "2", "criticality": "CTQ"})
    assert (entry.lsl, entry.precision, entry.criticality) == (225.5, 2, "ctq")


def test_equipment_of_another_site_is_refused(site, other_site):
    EquipmentFactory(code="IMM77", work_center__line__area__site=other_site)
    with pytest.raises(ValidationError) as excinfo:
        create_characteristic(site, {**VALID, "equipment": "IMM77"})
    assert "IMM77" in errors_of(excinfo)["equipment"][0]


def test_operation_by_reference_and_of_another_site_refused(site, other_site):
    mine = OperationFactory(product=ProductFactory(site=site, part_number="PN-1", revision="B"), code="MOULD")
    OperationFactory(product=ProductFactory(site=other_site, part_number="PN-2", revision="A"), code="MOULD")
    entry = create_characteristic(site, {**VALID, "operation": "PN-1/B/MOULD"})
    assert entry.operation == mine
    with pytest.raises(ValidationError) as excinfo:
        create_characteristic(site, {**VALID, "code": "IMM01.BARREL_Z3.TEMP", "operation": "PN-2/A/MOULD"})
    assert "operation" in errors_of(excinfo)


def test_new_entry_cannot_start_retired(site):
    with pytest.raises(ValidationError) as excinfo:
        create_characteristic(site, {**VALID, "status": "retired"})
    assert "status" in errors_of(excinfo)


def test_update_bumps_version(characteristic):
    entry = update_characteristic(characteristic.pk, {"name_en": "Zone 2"})
    assert (entry.name_en, entry.version) == ("Zone 2", 2)


def test_update_that_changes_nothing_keeps_version_and_history(characteristic):
    before = characteristic.history.count()
    entry = update_characteristic(characteristic.pk, {"name_en": characteristic.name_en})
    assert entry.version == 1
    assert characteristic.history.count() == before


def test_judgement_change_of_released_entry_needs_reason(characteristic):
    with pytest.raises(ValidationError) as excinfo:
        update_characteristic(characteristic.pk, {"usl": 236})
    assert "reason" in errors_of(excinfo)
    characteristic.refresh_from_db()
    assert (characteristic.usl, characteristic.version) == (235.0, 1)


def test_judgement_change_of_draft_needs_no_reason(site):
    draft = create_characteristic(site, {**VALID, "status": "draft"})
    assert update_characteristic(draft.pk, {"usl": 236}).usl == 236


def test_non_judgement_change_of_released_entry_needs_no_reason(characteristic):
    assert update_characteristic(characteristic.pk, {"name_zh": "二区温度"}).name_zh == "二区温度"


def test_reason_lands_in_history_and_audit_chain(characteristic):
    with acting_as(Actor(label="qe-li", user_id=None)):
        update_characteristic(characteristic.pk, {"usl": 236}, reason="ECN-2026-17 widened tolerance")
    record = characteristic.history.order_by("-history_id").first()
    assert (record.usl, record.version, record.history_change_reason) == (236.0, 2, "ECN-2026-17 widened tolerance")
    assert record.history_actor == "qe-li"
    entry = AuditEntry.objects.filter(model="qms.Characteristic", object_pk=str(characteristic.pk)).order_by("-seq")[0]
    assert entry.reason == "ECN-2026-17 widened tolerance"
    assert entry.changes["usl"] == [235.0, 236.0]
    assert verify_chain()[1] == []


def test_expected_version_conflict_names_both_versions(characteristic):
    update_characteristic(characteristic.pk, {"name_en": "first"})
    with pytest.raises(VersionConflict) as excinfo:
        update_characteristic(characteristic.pk, {"name_en": "second"}, expected_version=1)
    message = errors_of(excinfo)["version"][0]
    assert "version 1" in message and "version 2" in message
    characteristic.refresh_from_db()
    assert characteristic.name_en == "first"


def test_expected_version_matching_saves(characteristic):
    assert update_characteristic(characteristic.pk, {"name_en": "x"}, expected_version=1).version == 2


def test_retire_requires_reason_and_keeps_entry(characteristic):
    with pytest.raises(ValidationError):
        retire_characteristic(characteristic.pk, reason=" ")
    entry = retire_characteristic(characteristic.pk, reason="machine scrapped")
    assert (entry.status, entry.version) == (Characteristic.Status.RETIRED, 2)
    assert characteristic.history.order_by("-history_id").first().history_change_reason == "machine scrapped"


def test_retiring_twice_is_refused(characteristic):
    retire_characteristic(characteristic.pk, reason="scrapped")
    with pytest.raises(ValidationError):
        retire_characteristic(characteristic.pk, reason="again")


def test_delete_of_entry_with_measurements_is_refused(characteristic):
    from django.utils import timezone

    from qms.models import Measurement

    Measurement.objects.create(characteristic=characteristic, ts=timezone.now(), value=230.1, source="t",
                               received_at=timezone.now())
    with pytest.raises(InUseError) as excinfo:
        delete_characteristic(characteristic.pk, reason="typo")
    assert "measurements" in excinfo.value.message and "Retire" in excinfo.value.message
    assert Characteristic.objects.filter(pk=characteristic.pk).exists()


def test_delete_of_released_entry_needs_reason(characteristic):
    with pytest.raises(ValidationError):
        delete_characteristic(characteristic.pk)
    delete_characteristic(characteristic.pk, reason="created by mistake")
    assert not Characteristic.objects.filter(pk=characteristic.pk).exists()
    assert AuditEntry.objects.filter(model="qms.Characteristic", action="delete", reason="created by mistake").exists()
