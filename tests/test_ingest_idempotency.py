"""Idempotency-Key replays, key conflicts, and concurrent same-key / overlapping batches (PostgreSQL)."""
import threading
import time

import orjson
import pytest
from django.db import connection, transaction

from qms.models import DeadLetter, IngestBatch, Measurement
from qms.services.ingest import ingest_measurements
from tests.factories import UserFactory
from tests.ingest_helpers import post_batch, reading, series, site_with_temperature, token_client


@pytest.mark.django_db
class TestReplay:
    def test_a_retry_with_the_same_key_replays_status_and_body_byte_for_byte(self, mes_client, characteristic):
        items = series(3) + [reading(value="bad", ts="2026-01-05T09:00:00Z")]
        first = post_batch(mes_client, items, key="batch-0001")
        again = post_batch(mes_client, items, key="batch-0001")
        assert (again.status_code, again.content) == (first.status_code, first.content)
        assert again["Idempotent-Replayed"] == "true"
        assert not first.has_header("Idempotent-Replayed")

    def test_a_retry_with_the_same_key_stores_nothing_more(self, mes_client, characteristic):
        items = series(3) + [reading(value="bad", ts="2026-01-05T09:00:00Z")]
        post_batch(mes_client, items, key="batch-0001")
        post_batch(mes_client, items, key="batch-0001")
        assert (IngestBatch.objects.count(), Measurement.objects.count(), DeadLetter.objects.count()) == (1, 3, 1)

    def test_a_fully_rejected_batch_replays_its_422(self, mes_client, characteristic):
        first = post_batch(mes_client, [reading(value=None)], key="k")
        again = post_batch(mes_client, [reading(value=None)], key="k")
        assert (first.status_code, again.status_code, again.content) == (422, 422, first.content)
        assert DeadLetter.objects.count() == 1

    def test_a_retry_serialised_differently_is_still_the_same_request(self, mes_client, characteristic):
        first = post_batch(mes_client, [reading()], key="k")
        reordered = b'{ "measurements" : [ {"ts": "2026-01-05T08:00:00.123Z", "value": 231.2, ' \
                    b'"characteristic": "IMM01.BARREL_Z2.TEMP"} ] }'
        again = post_batch(mes_client, raw=reordered, key="k")
        assert again.content == first.content

    def test_a_key_reused_for_a_different_body_is_422_naming_the_conflict(self, mes_client, characteristic):
        first = post_batch(mes_client, series(2), key="k")
        response = post_batch(mes_client, series(3), key="k")
        assert response.status_code == 422
        error = orjson.loads(response.content)["error"]
        assert error["code"] == "idempotency_key_reused"
        assert error["details"] == {"batch": first.json()["batch"]}
        assert Measurement.objects.count() == 2

    def test_keys_are_per_client(self, mes_client, characteristic, site):
        other = token_client(site, name="MES-2")
        post_batch(mes_client, series(2), key="k")
        assert post_batch(other, series(2), key="k").json()["stored"] == 2

    def test_the_same_key_and_items_for_another_site_conflict(self, api_client, characteristic, other_site):
        site_with_temperature(other_site)
        api_client.force_authenticate(UserFactory(username="both", role="operator",
                                                  sites=[characteristic.site, other_site]))
        post_batch(api_client, series(1), key="k", site="S1")
        assert post_batch(api_client, series(1), key="k", site="S2").status_code == 422

    @pytest.mark.parametrize("key", ["", "x" * 201, "naïve-key"])
    def test_an_unusable_key_is_a_400(self, mes_client, characteristic, key):
        response = post_batch(mes_client, series(1), key=key)
        assert response.status_code == 400
        assert orjson.loads(response.content)["error"]["code"] == "invalid_idempotency_key"
        assert not Measurement.objects.exists()


# --- concurrency: real transactions on PostgreSQL -------------------------------------------------------------------
def wait_until_a_connection_waits_for_a_lock(deadline_s: float = 20.0) -> None:
    """Block until another session of this database is waiting on a lock (the serialisation point we test)."""
    end = time.monotonic() + deadline_s
    with connection.cursor() as cursor:
        while time.monotonic() < end:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the second request never waited for the first one's lock")


def in_thread(target, results: dict, name: str) -> threading.Thread:
    def run():
        try:
            results[name] = target()
        except BaseException as exc:   # kept for the assertions: a thread's failure must fail the test
            results[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def held_open(ingest, first_done: threading.Event, release: threading.Event, *, roll_back: bool = False):
    """Run `ingest` inside a transaction that stays open until `release` is set."""
    def run():
        with transaction.atomic():
            result = ingest()
            first_done.set()
            release.wait(timeout=30)
            if roll_back:
                raise RuntimeError("rolled back on purpose")
        return result
    return run


def after(event: threading.Event, ingest):
    def run():
        event.wait(timeout=30)
        return ingest()
    return run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestConcurrency:
    def ingest(self, site, items, key=None):
        return lambda: ingest_measurements(site=site, items=items, source="token:MES-1", idempotency_key=key)

    def race(self, first, second, *, roll_back=False):
        results, first_done, release = {}, threading.Event(), threading.Event()
        threads = [in_thread(held_open(first, first_done, release, roll_back=roll_back), results, "first"),
                   in_thread(after(first_done, second), results, "second")]
        first_done.wait(timeout=30)
        wait_until_a_connection_waits_for_a_lock()
        release.set()
        for thread in threads:
            thread.join(timeout=60)
        return results

    def test_two_requests_with_the_same_key_store_once_and_answer_alike(self, site, characteristic):
        items = series(50)
        results = self.race(self.ingest(site, items, "same-key"), self.ingest(site, items, "same-key"))
        assert not results["first"].replayed
        assert results["second"].replayed
        assert results["second"].body == results["first"].body
        assert (IngestBatch.objects.count(), Measurement.objects.count()) == (1, 50)

    def test_when_the_first_request_rolls_back_the_second_stores_the_batch(self, site, characteristic):
        items = series(20)
        results = self.race(self.ingest(site, items, "same-key"), self.ingest(site, items, "same-key"), roll_back=True)
        assert isinstance(results["first"], RuntimeError)
        assert (results["second"].replayed, results["second"].body["stored"]) == (False, 20)
        assert Measurement.objects.count() == 20

    def test_overlapping_batches_in_flight_store_each_point_once(self, site, characteristic):
        results = self.race(self.ingest(site, series(30)), self.ingest(site, series(30, start_second=20)))
        assert (results["first"].body["stored"], results["second"].body["stored"]) == (30, 20)
        assert results["second"].body["duplicate_indices"] == list(range(10))
        assert Measurement.objects.count() == 50

    def test_concurrent_posts_over_http_with_one_key_store_once(self, site, characteristic, mes_token):
        _token, raw = mes_token
        items, barrier, results = series(200), threading.Barrier(4), {}

        def post():
            from rest_framework.test import APIClient

            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
            barrier.wait(timeout=30)
            response = post_batch(client, items, key="http-key")
            return response.status_code, response.content

        threads = [in_thread(post, results, name) for name in ("a", "b", "c")]
        barrier.wait(timeout=30)
        for thread in threads:
            thread.join(timeout=60)
        assert len({results[name] for name in ("a", "b", "c")}) == 1
        assert results["a"][0] == 200
        assert (IngestBatch.objects.count(), Measurement.objects.count()) == (1, 200)
