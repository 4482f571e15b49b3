"""The late-commit overlap keys on when an event row was written, not on its `at`: a rule's clear carries the
source timestamp of the good value, which may lie minutes back, yet a late commit of it must still reach the page."""
from datetime import timedelta

import pytest
from django.utils import timezone

from qms.live import feed
from qms.models import AlarmEvent
from tests.live.support import raise_one

pytestmark = pytest.mark.django_db


def test_a_late_event_with_an_old_source_time_is_still_read_in_the_overlap(floor):
    raised = raise_one(floor.site, 1)
    event = AlarmEvent.objects.get(pk=raised.event_id)
    AlarmEvent.objects.filter(pk=event.pk).update(at=timezone.now() - timedelta(minutes=10))  # a rule's clear time
    later = raise_one(floor.site, 2)
    cursor = feed.FeedCursor(floor.site.pk, None, cursor=later.event_id)  # the higher id was delivered first
    cursor.mark_sent([later.event_id])

    assert [e.pk for e in feed.unsent_events(cursor)] == [event.pk]


def test_an_event_written_long_ago_is_left_to_the_reload(floor):
    raised = raise_one(floor.site, 1)
    AlarmEvent.objects.filter(pk=raised.event_id).update(created_at=timezone.now() - timedelta(minutes=10))
    later = raise_one(floor.site, 2)
    cursor = feed.FeedCursor(floor.site.pk, None, cursor=later.event_id)
    cursor.mark_sent([later.event_id])

    assert feed.unsent_events(cursor) == []
