"""raise_alarm: new alarms, repeats folded into the open alarm, the storm bound, re-activation after clearing."""
from datetime import timedelta

import pytest

from qms import seams
from qms.models import Alarm, AlarmEvent, AuditEntry
from qms.services.alarms import AlarmError, alarm_snapshot, clear_alarm, raise_alarm
from tests.factories_alarms import T0, raise_test_alarm

pytestmark = pytest.mark.django_db


def test_first_trigger_creates_an_active_unacknowledged_alarm_with_a_raised_event(site):
    result = raise_test_alarm(site)
    assert result.created is True
    alarm = Alarm.objects.get(pk=result.alarm.pk)
    assert alarm.state == Alarm.State.ACTIVE_UNACKNOWLEDGED
    assert alarm.version == 1
    event = AlarmEvent.objects.get(pk=result.event_id)
    assert event.kind == "raised" and event.snapshot["id"] == alarm.pk and event.snapshot["version"] == 1


def test_raise_is_audited(site):
    alarm = raise_test_alarm(site).alarm
    entry = AuditEntry.objects.get(model="qms.alarm", object_pk=str(alarm.pk))
    assert entry.action == "create" and entry.changes["event"] == [None, "raised"] and entry.site_id == site.pk


def test_repeat_updates_the_open_alarm_instead_of_raising_another(site):
    first = raise_test_alarm(site)
    second = raise_test_alarm(site, now=T0 + timedelta(seconds=5))
    assert second.created is False and second.alarm.pk == first.alarm.pk
    alarm = Alarm.objects.get(pk=first.alarm.pk)
    assert alarm.occurrences == 2 and alarm.last_triggered_at == T0 + timedelta(seconds=5)
    assert AlarmEvent.objects.get(pk=second.event_id).kind == "repeated"


def test_repeat_with_higher_severity_raises_the_severity(site):
    raise_test_alarm(site, severity="minor")
    result = raise_test_alarm(site, severity="critical", now=T0 + timedelta(milliseconds=10))
    assert Alarm.objects.get(pk=result.alarm.pk).severity == "critical"
    assert AlarmEvent.objects.get(pk=result.event_id).snapshot["severity"] == "critical"


def test_repeat_with_lower_severity_keeps_the_higher_one(site):
    raise_test_alarm(site, severity="critical")
    result = raise_test_alarm(site, severity="warning", now=T0 + timedelta(seconds=2))
    assert Alarm.objects.get(pk=result.alarm.pk).severity == "critical"


def test_other_type_or_source_is_another_alarm(site):
    raise_test_alarm(site)
    assert raise_test_alarm(site, alarm_type="spec").created is True
    assert raise_test_alarm(site, source_key="characteristic:2").created is True
    assert Alarm.objects.count() == 3


def test_storm_of_ten_thousand_repeats_is_one_alarm_with_bounded_events(site):
    first = raise_test_alarm(site)
    for n in range(1, 10_000):
        raise_test_alarm(site, now=T0 + timedelta(milliseconds=n))  # 10 s of repeats, one per millisecond
    alarm = Alarm.objects.get(pk=first.alarm.pk)
    assert Alarm.objects.count() == 1
    assert alarm.occurrences == 10_000
    assert AlarmEvent.objects.filter(alarm=alarm).count() <= 1 + 10  # raised + at most one repeat event per second
    assert AuditEntry.objects.filter(model="qms.alarm").count() <= 1 + 10


def test_counted_repeat_answers_with_the_latest_event_id(site):
    first = raise_test_alarm(site)
    counted = raise_test_alarm(site, now=T0 + timedelta(milliseconds=100))
    assert counted.event_id == first.event_id


def test_seam_is_sent_on_commit_for_raise_and_not_for_a_counted_repeat(site, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    seams.alarm_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = raise_test_alarm(site)
        with django_capture_on_commit_callbacks(execute=True):
            raise_test_alarm(site, now=T0 + timedelta(milliseconds=5))
    finally:
        seams.alarm_changed.disconnect(receiver)
    assert received == [{"signal": seams.alarm_changed, "alarm_id": result.alarm.pk, "site_id": site.pk,
                         "line_id": None, "event_id": result.event_id, "kind": "raised"}]


def test_cleared_alarm_becomes_active_again_on_a_new_trigger(site):
    alarm = raise_test_alarm(site).alarm
    clear_alarm(alarm.pk, at=T0 + timedelta(minutes=1))
    result = raise_test_alarm(site, now=T0 + timedelta(minutes=2))
    alarm.refresh_from_db()
    assert result.created is False
    assert alarm.state == Alarm.State.ACTIVE_UNACKNOWLEDGED and alarm.cleared_at is None


def test_unknown_severity_is_refused(site):
    with pytest.raises(AlarmError) as error:
        raise_test_alarm(site, severity="catastrophic")
    assert error.value.code == "invalid_severity" and not Alarm.objects.exists()


def test_equipment_alarm_takes_the_equipment_line(site, equipment):
    alarm = raise_test_alarm(site, equipment=equipment).alarm
    assert alarm.line_id == equipment.work_center.line_id
    assert AlarmEvent.objects.get(alarm=alarm).line_id == alarm.line_id


def test_snapshot_names_codes_and_the_detail_url(site, equipment, characteristic):
    alarm = raise_alarm(site=site, source_key=f"characteristic:{characteristic.pk}", alarm_type="deviation",
                        severity="critical", title="Z2", trigger_ts=T0, trigger_value=234.5, equipment=equipment,
                        characteristic=characteristic, now=T0).alarm
    snapshot = alarm_snapshot(alarm)
    assert snapshot["site"] == "S1" and snapshot["equipment"] == "IMM01"
    assert snapshot["characteristic"] == "IMM01.BARREL_Z2.TEMP" and snapshot["url"] == f"/alarms/{alarm.pk}/"
    assert snapshot["trigger_ts"] == T0.isoformat() and snapshot["acknowledged_by"] is None


def test_counted_repeat_returns_the_alarm_as_stored(site):
    first = raise_test_alarm(site, severity="critical").alarm
    counted = raise_test_alarm(site, severity="minor", now=T0 + timedelta(milliseconds=300)).alarm
    stored = Alarm.objects.get(pk=first.pk)
    assert counted.pk == first.pk and counted.occurrences == 2 == stored.occurrences
    assert counted.last_triggered_at == stored.last_triggered_at == T0 + timedelta(milliseconds=300)
    assert counted.raised_at == first.raised_at and counted.severity == "critical" and counted.site == site
