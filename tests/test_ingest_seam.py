"""The measurements_stored seam: sent after commit with exactly the newly stored points, never on rollback."""
import contextlib
import logging

import pytest
from django.db import transaction

from qms.models import Measurement
from qms.seams import StoredPoint, measurements_stored
from qms.services.ingest import ingest_measurements
from tests.ingest_helpers import post_batch, reading, series

pytestmark = pytest.mark.django_db


class Calls(list):
    """(site_id, points) per signal, plus the batch ids sent along."""

    batch_ids: list


@pytest.fixture
def received():
    calls = Calls()
    calls.batch_ids = []

    def receiver(sender, site_id, points, **kwargs):
        calls.append((site_id, points))
        calls.batch_ids.append(kwargs.get("batch_id"))

    measurements_stored.connect(receiver, dispatch_uid="test-ingest-seam")
    yield calls
    measurements_stored.disconnect(dispatch_uid="test-ingest-seam")


def test_new_points_are_announced_once_after_commit(mes_client, characteristic, received,
                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_batch(mes_client, [reading(lot="L-1", quality="bad"), reading(ts="2026-01-05T07:00:00Z")])
    ((site_id, points),) = received
    assert site_id == characteristic.site_id
    stored = Measurement.objects.order_by("ts")
    assert points == [
        StoredPoint(row.id, row.characteristic_id, row.ts, row.value, row.quality, row.lot_code, row.equipment_id)
        for row in stored
    ]


def test_the_batch_id_rides_along(mes_client, characteristic, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        batch = post_batch(mes_client, series(2)).json()["batch"]
    assert received.batch_ids == [batch]


def test_duplicates_and_rejects_are_not_announced(mes_client, characteristic, received,
                                                  django_capture_on_commit_callbacks):
    post_batch(mes_client, series(2))
    with django_capture_on_commit_callbacks(execute=True):
        post_batch(mes_client, series(3) + [reading(value="x", ts="2026-01-05T09:00:00Z")])
    ((_site_id, points),) = received
    assert [point.id for point in points] == list(Measurement.objects.order_by("ts").values_list("id", flat=True))[2:]


def test_nothing_is_announced_when_nothing_new_was_stored(mes_client, characteristic, received,
                                                          django_capture_on_commit_callbacks):
    post_batch(mes_client, series(2))
    with django_capture_on_commit_callbacks(execute=True):
        post_batch(mes_client, series(2))
    assert received == []


def test_nothing_is_announced_when_the_transaction_rolls_back(site, characteristic, received,
                                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with contextlib.suppress(RuntimeError), transaction.atomic():
            ingest_measurements(site=site, items=series(3), source="token:MES-1")
            raise RuntimeError("the caller's transaction fails after the ingest")
    assert (callbacks, received) == ([], [])
    assert not Measurement.objects.exists()


def test_the_announcement_waits_for_the_commit(site, characteristic, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ingest_measurements(site=site, items=series(3), source="token:MES-1")
    assert received == []
    assert len(callbacks) == 1


def test_a_failing_consumer_does_not_fail_the_ingest(mes_client, characteristic, django_capture_on_commit_callbacks,
                                                     caplog):
    def broken(sender, **kwargs):
        raise ValueError("SPC is down")

    measurements_stored.connect(broken, dispatch_uid="test-broken-consumer")
    try:
        with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
            response = post_batch(mes_client, series(2))
    finally:
        measurements_stored.disconnect(dispatch_uid="test-broken-consumer")
    assert response.status_code == 200
    assert Measurement.objects.count() == 2
    assert "measurements_stored receiver" in caplog.text
