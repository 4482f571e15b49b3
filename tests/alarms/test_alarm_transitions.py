"""Acknowledge, clear, close, contain: each transition, its illegal cases, the audit trail and the event log."""
from datetime import timedelta

import pytest

from qms.models import Alarm, AlarmEvent, AuditEntry
from qms.services.alarms import (
    AlarmError,
    acknowledge_alarm,
    clear_alarm,
    clear_open_alarm,
    close_alarm,
    mark_contained,
)
from tests.factories import UserFactory
from tests.factories_alarms import T0, raise_test_alarm

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor(site):
    return UserFactory(username="supervisor", role="supervisor", sites=[site])


@pytest.fixture
def alarm(site):
    return raise_test_alarm(site).alarm


def kinds(alarm):
    return list(AlarmEvent.objects.filter(alarm=alarm).values_list("kind", flat=True))


def test_acknowledge_records_who_when_and_the_comment(alarm, supervisor):
    acknowledge_alarm(alarm.pk, user=supervisor, comment="on it", now=T0 + timedelta(seconds=42))
    alarm.refresh_from_db()
    assert alarm.state == Alarm.State.ACKNOWLEDGED and alarm.acknowledged_by == supervisor
    assert alarm.acknowledged_at == T0 + timedelta(seconds=42) and alarm.ack_comment == "on it"
    assert alarm.version == 2 and kinds(alarm) == ["raised", "acknowledged"]
    event = AlarmEvent.objects.get(alarm=alarm, kind="acknowledged")
    assert event.actor == "supervisor" and event.snapshot["acknowledged_by"] == "supervisor"


def test_acknowledge_is_audited_with_the_user(alarm, supervisor):
    acknowledge_alarm(alarm.pk, user=supervisor)
    entry = AuditEntry.objects.filter(model="qms.alarm", object_pk=str(alarm.pk)).order_by("-seq").first()
    assert entry.actor_user_id == supervisor.pk and entry.changes["event"] == [None, "acknowledged"]
    assert entry.changes["state"] == ["active_unacknowledged", "acknowledged"]


def test_second_acknowledgement_is_refused_and_the_first_stays(alarm, supervisor, site):
    other = UserFactory(username="other", role="supervisor", sites=[site])
    acknowledge_alarm(alarm.pk, user=supervisor)
    with pytest.raises(AlarmError) as error:
        acknowledge_alarm(alarm.pk, user=other)
    assert error.value.code == "already_acknowledged" and "supervisor" in error.value.message
    alarm.refresh_from_db()
    assert alarm.acknowledged_by == supervisor and kinds(alarm).count("acknowledged") == 1


def test_unknown_alarm_is_not_found(supervisor, db):
    with pytest.raises(AlarmError) as error:
        acknowledge_alarm(999999, user=supervisor)
    assert error.value.code == "not_found"


def test_clear_sets_the_time_and_state(alarm):
    clear_alarm(alarm.pk, at=T0 + timedelta(minutes=3), reason="back in range")
    alarm.refresh_from_db()
    assert alarm.state == Alarm.State.CLEARED and alarm.cleared_at == T0 + timedelta(minutes=3)
    assert AlarmEvent.objects.get(alarm=alarm, kind="cleared").comment == "back in range"


def test_clear_twice_is_refused(alarm):
    clear_alarm(alarm.pk)
    with pytest.raises(AlarmError) as error:
        clear_alarm(alarm.pk)
    assert error.value.code == "already_cleared"


def test_cleared_alarm_can_still_be_acknowledged_and_stays_cleared(alarm, supervisor):
    clear_alarm(alarm.pk)
    acknowledge_alarm(alarm.pk, user=supervisor)
    alarm.refresh_from_db()
    assert alarm.state == Alarm.State.CLEARED and alarm.acknowledged_by == supervisor


def test_clear_open_alarm_by_key(site, alarm):
    cleared = clear_open_alarm(site.pk, alarm.source_key, alarm.alarm_type, at=T0 + timedelta(minutes=1))
    assert cleared.pk == alarm.pk and cleared.state == Alarm.State.CLEARED


def test_clear_open_alarm_without_one_is_none(site, alarm):
    assert clear_open_alarm(site.pk, "characteristic:unknown", "deviation", at=T0) is None
    clear_alarm(alarm.pk)
    assert clear_open_alarm(site.pk, alarm.source_key, alarm.alarm_type, at=T0) is None


def test_close_needs_cleared_and_acknowledged(alarm, supervisor):
    with pytest.raises(AlarmError) as error:
        close_alarm(alarm.pk, user=supervisor)
    assert error.value.code == "not_cleared"
    clear_alarm(alarm.pk)
    with pytest.raises(AlarmError) as error:
        close_alarm(alarm.pk, user=supervisor)
    assert error.value.code == "not_acknowledged"


def test_close_after_ack_and_clear(alarm, supervisor):
    acknowledge_alarm(alarm.pk, user=supervisor)
    clear_alarm(alarm.pk)
    close_alarm(alarm.pk, user=supervisor, comment="heater band replaced")
    alarm.refresh_from_db()
    assert alarm.state == Alarm.State.CLOSED and alarm.closed_by == supervisor and alarm.closed_at is not None
    assert kinds(alarm) == ["raised", "acknowledged", "cleared", "closed"]
    assert alarm.version == 4


def test_closed_alarm_refuses_every_transition(alarm, supervisor):
    acknowledge_alarm(alarm.pk, user=supervisor)
    clear_alarm(alarm.pk)
    close_alarm(alarm.pk, user=supervisor)
    for attempt in (lambda: clear_alarm(alarm.pk), lambda: close_alarm(alarm.pk, user=supervisor),
                    lambda: acknowledge_alarm(alarm.pk, user=supervisor)):
        with pytest.raises(AlarmError) as error:
            attempt()
        assert error.value.code == "alarm_closed"


def test_new_trigger_after_closing_raises_a_new_alarm(site, alarm, supervisor):
    acknowledge_alarm(alarm.pk, user=supervisor)
    clear_alarm(alarm.pk)
    close_alarm(alarm.pk, user=supervisor)
    again = raise_test_alarm(site, now=T0 + timedelta(hours=1))
    assert again.created is True and again.alarm.pk != alarm.pk


def test_contained_is_set_once(alarm):
    mark_contained(alarm.pk, at=T0 + timedelta(seconds=2), hold_id=7)
    mark_contained(alarm.pk, at=T0 + timedelta(seconds=9), hold_id=8)
    alarm.refresh_from_db()
    assert alarm.contained_at == T0 + timedelta(seconds=2)
    assert kinds(alarm).count("contained") == 1


def test_failed_transition_changes_nothing(alarm, supervisor):
    acknowledge_alarm(alarm.pk, user=supervisor)
    before = AuditEntry.objects.count(), AlarmEvent.objects.count()
    with pytest.raises(AlarmError):
        acknowledge_alarm(alarm.pk, user=supervisor)
    alarm.refresh_from_db()
    assert (AuditEntry.objects.count(), AlarmEvent.objects.count()) == before and alarm.version == 2
