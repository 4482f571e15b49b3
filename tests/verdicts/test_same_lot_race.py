"""Two writers on the SAME lot at once (PostgreSQL + Redis, the real hold services): writer A places hold 2 on lot L
while writer B releases L on hold 1. Whoever commits last, the cached verdict equals the database's, and the
published changes of L form one chain (numbers 1, 2, … without gaps or twins, each `previous` the verdict before)."""
import threading

import pytest
import redis as redis_lib
from django.db import connection

from tests.factories import LotFactory, SiteFactory, UserFactory
from tests.factories_holds import PASSWORD
from traceability.models import HoldLot
from traceability.seams import verdicts_changed
from traceability.services.holds import dispose_hold_lot, place_hold
from traceability.verdicts import store
from traceability.verdicts.cache import decode_body
from traceability.verdicts.compute import compute_verdicts_for_codes

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
ROUNDS = 6


@pytest.fixture
def published():
    collected = []
    lock = threading.Lock()

    def listen(sender, site_id, changes: list, **kwargs):
        with lock:
            collected.extend(changes)

    verdicts_changed.connect(listen, dispatch_uid="test-same-lot-race")
    yield collected
    verdicts_changed.disconnect(dispatch_uid="test-same-lot-race")


def run_together(*jobs):
    barrier = threading.Barrier(len(jobs))
    failures = []

    def run(job):
        try:
            barrier.wait()
            job()
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def test_hold_and_release_of_one_lot_at_once_leave_cache_and_database_agreeing(settings, published):
    redis_lib.Redis.from_url(settings.REDIS_URL).flushdb()
    store._caches.clear()
    cache = store.verdict_cache()
    cache.auto_rebuild = False
    cache.rebuild(prewarm=False)
    site = SiteFactory(code="S1")
    engineer = UserFactory(username="engineer", role="quality_engineer", sites=[site])
    for round_ in range(ROUNDS):
        lot = LotFactory(site=site, code=f"L-{round_}")
        first = place_hold(site, reason="barrel zone 2 +4 °C", lots=[lot])
        entry = HoldLot.objects.get(hold=first, lot=lot)

        run_together(
            lambda lot=lot: place_hold(site, reason="second look", lots=[lot]),
            lambda entry=entry: dispose_hold_lot(entry.pk, disposition="release", user=engineer, password=PASSWORD,
                                                 meaning="released after re-inspection"),
        )

        in_db = compute_verdicts_for_codes(site.pk, [lot.code])[lot.code]
        cached = decode_body(cache.get_bodies(site.pk, [lot.code])[lot.code])
        assert in_db.verdict == "hold" and len(in_db.reasons) == 1  # hold 2 holds it, hold 1 released it
        assert (cached.verdict, [r["hold"] for r in cached.reasons]) == (
            in_db.verdict, [r["hold"] for r in in_db.reasons])
        chain = sorted((c for c in published if c.lot_id == lot.pk), key=lambda c: c.change)
        assert [c.change for c in chain] == list(range(1, len(chain) + 1))
        assert [c.previous for c in chain] == [None, *[c.verdict for c in chain[:-1]]]
        assert chain[-1].verdict == in_db.verdict
