"""An alarm that cleared before anyone acknowledged it still awaits an acknowledgement: it is escalated when overdue
and counted as unacknowledged (the excursion happened; it cannot be closed unacknowledged)."""
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group

from qms.models import Notification
from qms.services.alarms import clear_alarm, escalate_overdue_alarms
from tests.factories import UserFactory
from tests.factories_alarms import T0, make_rule, raise_test_alarm

pytestmark = pytest.mark.django_db


def test_a_cleared_unacknowledged_alarm_is_escalated_when_overdue(site):
    leads = Group.objects.create(name="shift leads")
    lead = UserFactory(username="lead", sites=[site])
    lead.groups.add(leads)
    rule = make_rule(site, escalate_after_min=10, escalation_groups=[leads])
    alarm = raise_test_alarm(site, rule=rule).alarm
    clear_alarm(alarm.pk, at=T0 + timedelta(minutes=2))

    assert escalate_overdue_alarms(now=T0 + timedelta(minutes=10)) == 1
    assert Notification.objects.filter(user=lead, kind="escalation").count() == 1
