"""The live page's unacknowledged count includes alarms that cleared before anyone acknowledged them."""
import pytest
from django.test import Client

from qms.live.views import awaits_acknowledgement
from qms.services.alarms import acknowledge_alarm, clear_alarm
from tests.live.support import raise_one

pytestmark = pytest.mark.django_db


def test_a_cleared_alarm_nobody_acknowledged_is_counted(floor):
    raise_one(floor.site, 1)
    cleared = raise_one(floor.site, 2)
    clear_alarm(cleared.alarm.pk)
    seen = raise_one(floor.site, 3)
    acknowledge_alarm(seen.alarm.pk, user=floor.supervisor)
    client = Client()
    client.force_login(floor.supervisor)

    response = client.get("/alarms/")

    assert response.context["unacknowledged"] == 2


@pytest.mark.parametrize(("snapshot", "counted"), [
    ({"acknowledged_at": None, "state": "active_unacknowledged"}, True),
    ({"acknowledged_at": None, "state": "cleared"}, True),
    ({"acknowledged_at": "2026-11-28T08:00:00+00:00", "state": "cleared"}, False),
    ({"acknowledged_at": None, "state": "cleared", "shelved": True}, False),
    ({"acknowledged_at": None, "state": "closed"}, False),
])
def test_what_awaits_an_acknowledgement(snapshot, counted):
    assert awaits_acknowledgement(snapshot) is counted
