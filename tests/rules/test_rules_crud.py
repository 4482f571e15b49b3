"""Rule CRUD service: validation (each error names its field), reasons, versions, audit, cache invalidation."""
import math

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from qms.models import AuditEntry, ReactionRule
from qms.services import reaction_rules as service
from tests.factories import CharacteristicFactory, ConnectorFactory, EquipmentFactory
from tests.factories_rules import deviation_rule

pytestmark = pytest.mark.django_db


def errors_of(call) -> dict:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.message_dict


def test_create_a_deviation_rule(site, characteristic):
    rule = deviation_rule(site, characteristics=[characteristic.code], freeze=True)
    assert rule.version == 1 and rule.enabled
    assert list(rule.characteristics.all()) == [characteristic]


@pytest.mark.parametrize("threshold", [0, -1, math.nan, math.inf, "nan", "inf"])
def test_impossible_thresholds_are_refused(site, characteristic, threshold):
    errors = errors_of(lambda: deviation_rule(site, threshold=threshold, characteristics=[characteristic.pk]))
    assert "threshold" in errors


def test_threshold_wider_than_the_physical_range_is_refused(site, characteristic):
    errors = errors_of(lambda: deviation_rule(site, threshold=500, characteristics=[characteristic.pk]))
    assert "physical range" in errors["threshold"][0]


def test_deviation_needs_a_threshold(site, characteristic):
    errors = errors_of(lambda: service.create_rule(site, {"name": "x", "trigger": "deviation"}))
    assert "threshold" in errors


def test_deviation_on_a_characteristic_without_nominal(site):
    bare = CharacteristicFactory(site=site, code="LAB.X", nominal=None)
    errors = errors_of(lambda: deviation_rule(site, characteristics=[bare.pk]))
    assert "LAB.X" in errors["characteristics"][0]


def test_threshold_on_a_spec_rule_is_refused(site):
    errors = errors_of(lambda: service.create_rule(site, {"name": "x", "trigger": "spec", "threshold": 2}))
    assert "threshold" in errors


def test_unknown_spc_rules(site):
    errors = errors_of(lambda: service.create_rule(site, {"name": "x", "trigger": "spc", "spc_rules": ["WE1", "XX9"]}))
    assert "XX9" in errors["spc_rules"][0]


def test_known_spc_rules_come_from_the_engine(site):
    rule = service.create_rule(site, {"name": "x", "trigger": "spc", "spc_rules": ["WE1", "N3", "CUSUM"]})
    assert rule.spc_rules == ["WE1", "N3", "CUSUM"]


def test_unknown_equipment_states(site):
    errors = errors_of(lambda: service.create_rule(
        site, {"name": "x", "trigger": "equipment_state", "equipment_states": ["exploded"]}))
    assert "exploded" in errors["equipment_states"][0]


def test_equipment_state_rule_needs_states(site):
    errors = errors_of(lambda: service.create_rule(site, {"name": "x", "trigger": "equipment_state"}))
    assert "equipment_states" in errors


def test_hold_command_needs_connector_and_target(site, characteristic):
    errors = errors_of(lambda: deviation_rule(site, hold_command=True))
    assert {"writeback_connector", "writeback_target"} <= set(errors)


def test_connector_of_another_site_is_refused(site, other_site, characteristic):
    foreign = ConnectorFactory(site=other_site, name="mes-hook", kind="webhook")
    errors = errors_of(lambda: deviation_rule(site, hold_command=True, writeback_connector=foreign.pk,
                                              writeback_target="/hold"))
    assert "writeback_connector" in errors


def test_scope_objects_of_another_site_are_refused(site, other_site, characteristic):
    foreign_machine = EquipmentFactory(code="X9", site=other_site, work_center__line__area__site=other_site)
    foreign_char = CharacteristicFactory(site=other_site, code="X9.T")
    errors = errors_of(lambda: deviation_rule(site, equipment=[foreign_machine.pk], characteristics=[foreign_char.pk]))
    assert {"equipment", "characteristics"} <= set(errors)
    assert "S1" in errors["equipment"][0]


def test_pattern_matching_nothing_is_an_error(site, characteristic):
    errors = errors_of(lambda: deviation_rule(site, characteristic_pattern="*.NOPE*"))
    assert "characteristic_pattern" in errors


def test_pattern_scope(site, characteristic):
    rule = deviation_rule(site, characteristic_pattern="*.BARREL_Z*.TEMP")
    assert rule.characteristic_pattern == "*.BARREL_Z*.TEMP"


def test_duplicate_name(site, characteristic):
    deviation_rule(site)
    assert "name" in errors_of(lambda: deviation_rule(site))


def test_unknown_field(site):
    assert "colour" in errors_of(lambda: service.create_rule(site, {"name": "x", "trigger": "spec", "colour": 1}))


def test_unknown_group(site, characteristic):
    assert "notify_groups" in errors_of(lambda: deviation_rule(site, notify_groups=["nobody-here"]))


def test_groups_by_name(site, characteristic):
    rule = deviation_rule(site, notify_groups=["supervisor"])
    assert list(rule.notify_groups.all()) == [Group.objects.get(name="supervisor")]


def test_changing_an_enabled_rule_needs_a_reason(site, characteristic):
    rule = deviation_rule(site)
    errors = errors_of(lambda: service.update_rule(rule.pk, {"threshold": 2.0}))
    assert "reason" in errors
    assert ReactionRule.objects.get(pk=rule.pk).threshold == 3.0


def test_changing_a_disabled_rule_needs_no_reason(site, characteristic):
    rule = deviation_rule(site, enabled=False)
    assert service.update_rule(rule.pk, {"threshold": 2.0}).version == 2


def test_update_bumps_the_version_and_audits_with_the_reason(site, characteristic):
    rule = deviation_rule(site)
    updated = service.update_rule(rule.pk, {"threshold": 2.5, "equipment": [characteristic.equipment.code]},
                                  reason="tighter after 8D", expected_version=1)
    assert updated.version == 2
    entries = AuditEntry.objects.filter(model="qms.ReactionRule", object_pk=str(rule.pk), action="update")
    assert {e.reason for e in entries} == {"tighter after 8D"}
    changed = {key for entry in entries for key in entry.changes}
    assert {"threshold", "equipment"} <= changed


def test_stale_version_is_a_conflict(site, characteristic):
    rule = deviation_rule(site)
    service.update_rule(rule.pk, {"threshold": 2.5}, reason="r", expected_version=1)
    with pytest.raises(service.RuleVersionConflict):
        service.update_rule(rule.pk, {"threshold": 2.0}, reason="r", expected_version=1)


def test_no_change_keeps_the_version(site, characteristic):
    rule = deviation_rule(site)
    assert service.update_rule(rule.pk, {"threshold": 3.0}).version == 1


def test_disable_needs_a_reason_and_enable_does_not(site, characteristic):
    rule = deviation_rule(site)
    assert "reason" in errors_of(lambda: service.disable_rule(rule.pk, reason=""))
    disabled = service.disable_rule(rule.pk, reason="machine in maintenance")
    assert not disabled.enabled
    assert service.enable_rule(rule.pk).enabled


def test_a_committed_change_recompiles_the_rules(site, characteristic, django_capture_on_commit_callbacks):
    from qms.services import rule_cache

    rule_cache.reset()
    assert rule_cache.site_rules(site.pk).empty
    with django_capture_on_commit_callbacks(execute=True):
        deviation_rule(site, characteristics=[characteristic.pk])
    compiled = rule_cache.site_rules(site.pk)
    assert [c.rule_id for c in compiled.checks_by_characteristic[characteristic.pk]] == [
        ReactionRule.objects.get().pk]
