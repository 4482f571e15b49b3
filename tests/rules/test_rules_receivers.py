"""Receivers: SPC signals, stale/resumed data and equipment states reach the rules; disabled rules stay silent."""
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from connectors.seams import StaleTag, data_resumed, data_stale
from qms.models import Alarm, Measurement
from qms.seams import StoredPoint, measurements_stored
from qms.services.production_events import record_equipment_states
from qms.services.reaction_rules import create_rule
from spc.seams import RaisedSignal, spc_signal_raised
from tests.factories_rules import deviation_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            call()
    return run


def signal(characteristic, rule="WE1"):
    return RaisedSignal(id=1, site_id=characteristic.site_id, characteristic_id=characteristic.pk, chart="i",
                        rule=rule, ts=datetime(2026, 11, 28, 8, tzinfo=UTC), value=240.0, measurement_ids=(5,))


def test_spc_signal_raises_the_rules_alarm(site, characteristic):
    rule = create_rule(site, {"name": "SPC", "trigger": "spc", "spc_rules": ["WE1"], "severity": "minor"})
    spc_signal_raised.send(sender=None, event=signal(characteristic))
    alarm = Alarm.objects.get()
    assert (alarm.alarm_type, alarm.rule, alarm.severity) == ("spc", rule, "minor")
    assert alarm.evidence["spc"]["rule"] == "WE1" and alarm.evidence["spc"]["measurement_ids"] == [5]


def test_spc_signal_of_another_run_rule_is_ignored(site, characteristic):
    create_rule(site, {"name": "SPC", "trigger": "spc", "spc_rules": ["WE1"]})
    spc_signal_raised.send(sender=None, event=signal(characteristic, rule="N3"))
    assert not Alarm.objects.exists()


def stale_tag(characteristic):
    return StaleTag(connector_id=1, connector="sim-opcua", tag_id=1, source_ref="ns=2;s=T", characteristic_id=
                    characteristic.pk, characteristic=characteristic.code, equipment_id=characteristic.equipment_id,
                    last_value_at=timezone.now() - timedelta(seconds=10), expected_period_s=1.0,
                    stale_since=timezone.now() - timedelta(seconds=7))


def test_stale_data_raises_and_resumed_data_clears(site, characteristic):
    create_rule(site, {"name": "Stale", "trigger": "stale", "severity": "warning"})
    data_stale.send(sender=None, site_id=site.pk, tags=[stale_tag(characteristic)])
    assert Alarm.objects.get().alarm_type == "stale"
    data_resumed.send(sender=None, site_id=site.pk, tags=[stale_tag(characteristic)])
    assert Alarm.objects.get().state == "cleared"


def test_equipment_alarm_state_raises_and_running_clears(site, equipment, run_on_commit):
    create_rule(site, {"name": "Machine alarm", "trigger": "equipment_state", "equipment_states": ["alarm", "down"],
                       "equipment": [equipment.code]})
    now = timezone.now()
    run_on_commit(lambda: record_equipment_states(
        site, [{"equipment": equipment.code, "ts": (now - timedelta(seconds=5)).isoformat(), "state": "alarm",
                "reason": "E-stop"}], source="test"))
    alarm = Alarm.objects.get()
    assert alarm.source_key == f"equipment:{equipment.pk}/rule:{alarm.rule_id}" and alarm.equipment == equipment
    run_on_commit(lambda: record_equipment_states(
        site, [{"equipment": equipment.code, "ts": now.isoformat(), "state": "running"}], source="test"))
    assert Alarm.objects.get().state == "cleared"


def points(characteristic, *values):
    base = timezone.now() - timedelta(minutes=1)
    return [StoredPoint(i + 1, characteristic.pk, base + timedelta(seconds=i), v, 0, "", characteristic.equipment_id)
            for i, v in enumerate(values)]


def test_deviating_point_raises_one_alarm_for_the_batch(site, characteristic):
    deviation_rule(site, characteristics=[characteristic.pk])
    measurements_stored.send(sender=Measurement, site_id=site.pk, points=points(characteristic, 234.0, 236.0),
                             batch_id=None)
    alarm = Alarm.objects.get()
    assert alarm.trigger_value == 236.0 and alarm.severity == "critical"


def test_disabled_rules_are_silent(site, characteristic, run_on_commit):
    run_on_commit(lambda: deviation_rule(site, characteristics=[characteristic.pk], enabled=False))
    measurements_stored.send(sender=Measurement, site_id=site.pk, points=points(characteristic, 240.0),
                             batch_id=None)
    assert not Alarm.objects.exists()


def test_a_failing_action_still_raises_the_alarm(site, characteristic, monkeypatch):
    """freeze on a characteristic whose machine has no lots is fine; a hold service error must not lose the alarm."""
    from traceability.services import holds

    def broken(*args, **kwargs):
        raise holds.HoldError("boom", "the hold service is down")

    monkeypatch.setattr(holds, "freeze_window", broken)
    deviation_rule(site, characteristics=[characteristic.pk], freeze=True)
    measurements_stored.send(sender=Measurement, site_id=site.pk, points=points(characteristic, 240.0),
                             batch_id=None)
    alarm = Alarm.objects.get()
    assert "boom" in alarm.evidence["action_error"] or "down" in alarm.evidence["action_error"]
