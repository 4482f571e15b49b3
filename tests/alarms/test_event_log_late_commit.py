"""The alarm event log on PostgreSQL: an event whose lower id commits after a higher one is not skipped by a client
paging with `after=<last id>` (GET /api/v1/alarms/events/ hands out ids only up to the settled horizon)."""
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from qms.models import AlarmEvent
from qms.services.alarm_event_horizon import settled_event_horizon
from tests.factories import SiteFactory, UserFactory
from tests.factories_alarms import raise_test_alarm

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class OpenWriter:
    """A writer in another session that inserts an event (drawing its id) and holds its transaction open."""

    def __init__(self, alarm):
        self.alarm = alarm
        self.inserted = threading.Event()
        self.finish = threading.Event()
        self.event_id = None
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        try:
            with transaction.atomic():
                event = AlarmEvent.objects.create(alarm=self.alarm, site_id=self.alarm.site_id, kind="acknowledged",
                                                  at=timezone.now(), actor="late writer")
                self.event_id = event.pk
                self.inserted.set()
                self.finish.wait(timeout=30)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.inserted.wait(timeout=10)
        return self

    def commit(self):
        self.finish.set()
        self.thread.join(timeout=30)

    def __exit__(self, *exc):
        self.commit()


@pytest.fixture
def setup():
    site = SiteFactory(code="S1")
    reader = APIClient()
    reader.force_authenticate(UserFactory(username="reader", role="supervisor", sites=[site]))
    alarm = raise_test_alarm(site).alarm
    return site, alarm, reader


def read(reader, after):
    response = reader.get(f"/api/v1/alarms/events/?site=S1&after={after}")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_higher_id_is_held_back_while_a_lower_one_is_still_being_written(setup, settings):
    site, alarm, reader = setup
    settings.ALARM_EVENTS_SETTLE_WAIT_S = 0
    start = read(reader, 0)["next_after"]
    with OpenWriter(alarm) as late:
        higher = AlarmEvent.objects.create(alarm=alarm, site=site, kind="cleared", at=timezone.now(), actor="quick")
        assert late.event_id < higher.pk

        held_back = read(reader, start)

        assert held_back["events"] == [] and held_back["settled"] is False and held_back["next_after"] == start
        late.commit()
    caught_up = read(reader, start)
    assert [e["id"] for e in caught_up["events"]] == [late.event_id, higher.pk] and caught_up["settled"] is True


def test_the_page_waits_for_a_writer_that_commits_within_the_settle_time(setup, settings):
    site, alarm, reader = setup
    settings.ALARM_EVENTS_SETTLE_WAIT_S = 20
    start = read(reader, 0)["next_after"]
    with OpenWriter(alarm) as late:
        higher = AlarmEvent.objects.create(alarm=alarm, site=site, kind="cleared", at=timezone.now(), actor="quick")
        threading.Timer(0.3, late.commit).start()

        page = read(reader, start)

    assert [e["id"] for e in page["events"]] == [late.event_id, higher.pk] and page["settled"] is True


def test_the_horizon_is_the_newest_id_when_nothing_is_being_written(setup):
    _site, alarm, _reader = setup
    newest = AlarmEvent.objects.filter(alarm=alarm).order_by("-pk").values_list("pk", flat=True).first()

    horizon = settled_event_horizon(wait_s=0)

    assert horizon.settled is True and horizon.up_to >= newest
