"""Shelving (reason, expiry, cap, expiry by the beat) and escalation with a controlled clock."""
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group

from qms.models import Alarm, AlarmEvent, Notification
from qms.services.alarms import (
    AlarmError,
    acknowledge_alarm,
    due_escalation_level,
    escalate_overdue_alarms,
    shelve_alarm,
    unshelve_alarm,
    unshelve_expired_alarms,
)
from tests.factories import UserFactory
from tests.factories_alarms import T0, make_rule, raise_test_alarm

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor(site):
    return UserFactory(username="supervisor", role="supervisor", sites=[site])


@pytest.fixture
def alarm(site):
    return raise_test_alarm(site).alarm


def test_shelve_records_reason_expiry_and_who(alarm, supervisor):
    shelve_alarm(alarm.pk, user=supervisor, reason="sensor replaced", until=T0 + timedelta(hours=2), now=T0)
    alarm.refresh_from_db()
    assert alarm.shelved_until == T0 + timedelta(hours=2) and alarm.shelved_by == supervisor
    assert AlarmEvent.objects.get(alarm=alarm, kind="shelved").snapshot["shelved_until"] is not None


@pytest.mark.parametrize(("reason", "until", "code"), [
    ("", timedelta(hours=1), "reason_required"),
    ("   ", timedelta(hours=1), "reason_required"),
    ("x", timedelta(seconds=-1), "until_in_past"),
    ("x", timedelta(hours=25), "until_too_far"),
])
def test_bad_shelving_is_refused_naming_the_field(alarm, supervisor, reason, until, code):
    with pytest.raises(AlarmError) as error:
        shelve_alarm(alarm.pk, user=supervisor, reason=reason, until=T0 + until, now=T0)
    assert error.value.code == code and error.value.is_bad_input
    alarm.refresh_from_db()
    assert alarm.shelved_until is None


def test_shelved_alarm_still_counts_repeats(site, alarm, supervisor):
    shelve_alarm(alarm.pk, user=supervisor, reason="known", until=T0 + timedelta(hours=1), now=T0)
    raise_test_alarm(site, now=T0 + timedelta(minutes=1))
    alarm.refresh_from_db()
    assert alarm.occurrences == 2 and alarm.shelved_until is not None


def test_unshelve_by_user_and_twice_refused(alarm, supervisor):
    shelve_alarm(alarm.pk, user=supervisor, reason="known", until=T0 + timedelta(hours=1), now=T0)
    unshelve_alarm(alarm.pk, user=supervisor, now=T0 + timedelta(minutes=5))
    alarm.refresh_from_db()
    assert alarm.shelved_until is None
    with pytest.raises(AlarmError) as error:
        unshelve_alarm(alarm.pk, user=supervisor)
    assert error.value.code == "not_shelved"


def test_expired_shelving_is_lifted_by_the_beat_as_the_system(alarm, supervisor):
    shelve_alarm(alarm.pk, user=supervisor, reason="known", until=T0 + timedelta(minutes=30), now=T0)
    assert unshelve_expired_alarms(now=T0 + timedelta(minutes=29)) == 0
    assert unshelve_expired_alarms(now=T0 + timedelta(minutes=30)) == 1
    event = AlarmEvent.objects.get(alarm=alarm, kind="unshelved")
    assert event.actor == "system" and Alarm.objects.get(pk=alarm.pk).shelved_until is None


@pytest.mark.parametrize(("minutes", "level"), [(0, 0), (9.9, 0), (10, 1), (25, 2), (31, 3), (500, 3)])
def test_due_escalation_level(minutes, level):
    assert due_escalation_level(T0, T0 + timedelta(minutes=minutes), 10, 3) == level


@pytest.fixture
def escalation(site):
    leads = Group.objects.create(name="shift leads")
    managers = Group.objects.create(name="quality managers")
    lead = UserFactory(username="lead", sites=[site])
    lead.groups.add(leads)
    manager = UserFactory(username="manager", sites=[site])
    manager.groups.add(managers)
    rule = make_rule(site, escalate_after_min=10, escalation_groups=[leads, managers])
    return rule, lead, manager


def test_escalation_notifies_the_next_level_each_interval(site, escalation):
    rule, lead, manager = escalation
    alarm = raise_test_alarm(site, rule=rule).alarm
    assert escalate_overdue_alarms(now=T0 + timedelta(minutes=9)) == 0
    assert escalate_overdue_alarms(now=T0 + timedelta(minutes=10)) == 1
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["lead"]
    assert escalate_overdue_alarms(now=T0 + timedelta(minutes=11)) == 0  # level 1 already done
    assert escalate_overdue_alarms(now=T0 + timedelta(minutes=20)) == 1
    assert Notification.objects.filter(user=manager, kind="escalation").count() == 1
    alarm.refresh_from_db()
    assert alarm.escalation_level == 2 and AlarmEvent.objects.filter(alarm=alarm, kind="escalated").count() == 2


def test_escalation_stops_at_the_cap(site, escalation, settings):
    settings.ALARM_ESCALATION_MAX_LEVEL = 2
    rule, _lead, _manager = escalation
    alarm = raise_test_alarm(site, rule=rule).alarm
    escalate_overdue_alarms(now=T0 + timedelta(minutes=10))
    escalate_overdue_alarms(now=T0 + timedelta(minutes=20))
    assert escalate_overdue_alarms(now=T0 + timedelta(minutes=300)) == 0
    alarm.refresh_from_db()
    assert alarm.escalation_level == 2


def test_acknowledged_alarm_is_not_escalated(site, escalation, supervisor):
    rule, _lead, _manager = escalation
    alarm = raise_test_alarm(site, rule=rule).alarm
    acknowledge_alarm(alarm.pk, user=supervisor, now=T0 + timedelta(minutes=5))
    assert escalate_overdue_alarms(now=T0 + timedelta(minutes=60)) == 0
    assert not Notification.objects.exists()


def test_shelved_alarm_is_not_escalated_until_the_shelving_ends(site, escalation, supervisor):
    rule, _lead, _manager = escalation
    alarm = raise_test_alarm(site, rule=rule).alarm
    shelve_alarm(alarm.pk, user=supervisor, reason="maintenance", until=T0 + timedelta(minutes=30), now=T0)
    assert escalate_overdue_alarms(now=T0 + timedelta(minutes=20)) == 0
    assert escalate_overdue_alarms(now=T0 + timedelta(minutes=31)) == 1


def test_alarm_without_escalation_rule_is_left_alone(site):
    raise_test_alarm(site, rule=make_rule(site, name="no escalation"))
    assert escalate_overdue_alarms(now=T0 + timedelta(days=1)) == 0
