"""Races on PostgreSQL's real row locks: concurrent raises of one key, two supervisors acknowledging at once."""
import threading
from datetime import timedelta

import pytest
from django.db import connection

from qms.models import Alarm, AlarmEvent
from qms.services.alarms import AlarmError, acknowledge_alarm
from tests.factories import SiteFactory, UserFactory
from tests.factories_alarms import T0, raise_test_alarm

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(*calls):
    """Run the calls at the same moment in threads; return what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as exc:  # the outcome under test may be an exception
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_concurrent_raises_of_one_key_leave_exactly_one_open_alarm():
    site = SiteFactory(code="RACE")
    outcomes = race(*[lambda n=n: raise_test_alarm(site, now=T0 + timedelta(seconds=n)) for n in range(6)])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(1 for o in outcomes if o.created) == 1
    alarm = Alarm.objects.get(site=site)
    assert alarm.occurrences == 6


def test_two_supervisors_acknowledging_at_once_one_wins_and_the_trail_names_them():
    site = SiteFactory(code="RACE")
    first = UserFactory(username="sup-a", role="supervisor", sites=[site])
    second = UserFactory(username="sup-b", role="supervisor", sites=[site])
    alarm = raise_test_alarm(site).alarm
    outcomes = race(lambda: acknowledge_alarm(alarm.pk, user=first), lambda: acknowledge_alarm(alarm.pk, user=second))
    errors = [o for o in outcomes if isinstance(o, AlarmError)]
    winners = [o for o in outcomes if isinstance(o, Alarm)]
    assert len(errors) == 1 and len(winners) == 1, outcomes
    assert errors[0].code == "already_acknowledged"
    alarm.refresh_from_db()
    event = AlarmEvent.objects.get(alarm=alarm, kind="acknowledged")
    assert event.actor == alarm.acknowledged_by.username
    assert alarm.acknowledged_by.username in errors[0].message
