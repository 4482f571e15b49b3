"""Two actors changing the same entry at once (PostgreSQL row locks): no lost update, conflicts named, no 500s.

Each test holds the row lock (or an uncommitted insert) in the main thread, starts the second actor in a thread,
waits until PostgreSQL reports that actor blocked on a lock, then commits — so the race happens every run.
"""
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from qms.models import Characteristic
from qms.services.dictionary import VersionConflict, create_characteristic, update_characteristic
from tests.factories import CharacteristicFactory, SiteFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LOCK_WAIT_POLLS = 500


def _wait_until_someone_waits_for_a_lock():
    with connection.cursor() as cursor:
        for _attempt in range(LOCK_WAIT_POLLS):
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            cursor.execute("SELECT pg_sleep(0.02)")
    pytest.fail("the second actor never waited for the lock: the service does not lock the row")


class Actor(threading.Thread):
    def __init__(self, work):
        super().__init__(daemon=True)
        self.work, self.result, self.error = work, None, None

    def run(self):
        try:
            self.result = self.work()
        except Exception as exc:  # handed to the test thread
            self.error = exc
        finally:
            connection.close()


@pytest.fixture
def entry():
    return CharacteristicFactory(site=SiteFactory(code="S1"), code="IMM01.BARREL_Z2.TEMP", status="draft")


def test_concurrent_updates_of_different_fields_keep_both(entry):
    second = Actor(lambda: update_characteristic(entry.pk, {"name_zh": "二区"}))
    with transaction.atomic():
        Characteristic.objects.select_for_update().get(pk=entry.pk)
        second.start()
        _wait_until_someone_waits_for_a_lock()
        update_characteristic(entry.pk, {"name_en": "Zone 2"})
    second.join(timeout=30)
    assert second.error is None
    entry.refresh_from_db()
    assert (entry.name_en, entry.name_zh, entry.version) == ("Zone 2", "二区", 3)
    assert entry.history.count() == 3


def test_concurrent_updates_of_the_same_version_one_wins_one_is_told(entry):
    second = Actor(lambda: update_characteristic(entry.pk, {"usl": 240}, expected_version=1))
    with transaction.atomic():
        Characteristic.objects.select_for_update().get(pk=entry.pk)
        second.start()
        _wait_until_someone_waits_for_a_lock()
        update_characteristic(entry.pk, {"usl": 238}, expected_version=1)
    second.join(timeout=30)
    assert isinstance(second.error, VersionConflict)
    entry.refresh_from_db()
    assert (entry.usl, entry.version) == (238.0, 2)


def test_concurrent_creates_of_the_same_code_give_a_field_error(entry):
    site = entry.site
    data = {"code": "IMM01.NEW.TEMP", "name_en": "new"}
    second = Actor(lambda: create_characteristic(site, data))
    with transaction.atomic():
        create_characteristic(site, data)
        second.start()
        _wait_until_someone_waits_for_a_lock()
    second.join(timeout=30)
    assert isinstance(second.error, ValidationError)
    assert "code" in second.error.message_dict
    assert Characteristic.objects.filter(code="IMM01.NEW.TEMP").count() == 1
