"""Verdicts under concurrent hold/release on PostgreSQL + Redis: no request that starts after a commit returns the
verdict from before it (writers place and release holds while readers call the API)."""
import threading
import time

import pytest
import redis as redis_lib
from django.db import connection
from django.test import Client

from tests.factories import LotFactory, SiteFactory, make_token
from tests.factories_verdicts import decide, hold_lots
from traceability.verdicts import access, store

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

LOTS_PER_WRITER = 3
WRITERS = 2
TOGGLES = 24   # per writer: hold, release, hold, ...
READERS = 4


def state_after(writes: int) -> str:
    return "hold" if writes % 2 else "release"


def test_no_request_started_after_a_commit_sees_the_older_verdict(settings):
    redis_lib.Redis.from_url(settings.REDIS_URL).flushdb()
    store._caches.clear()
    access.forget_cached_tokens()
    store.verdict_cache().auto_rebuild = False
    site = SiteFactory(code="S1")
    lots = [LotFactory(site=site, code=f"L-{i}") for i in range(WRITERS * LOTS_PER_WRITER)]
    _token, raw = make_token(site, scopes=("verdicts:read",), name="MES-C")
    store.verdict_cache().rebuild(prewarm=True)
    writes: dict[str, list[tuple[float, float]]] = {lot.code: [] for lot in lots}  # (began, committed-by)
    reads: list[tuple[str, float, float, str]] = []
    done = threading.Event()
    failures: list[BaseException] = []

    def writer(own):
        try:
            for toggle in range(TOGGLES):
                lot = own[toggle % len(own)]
                count = len(writes[lot.code])
                began, committed = time.perf_counter(), []
                def stamp(committed=committed):
                    committed.append(time.perf_counter())
                if count % 2 == 0:
                    lot._hold = hold_lots(site, [lot], committed=stamp)
                else:
                    decide(lot._hold, lot, "release", release_hold=True, committed=stamp)
                writes[lot.code].append((began, committed[0]))  # committed[0]: right after COMMIT returned
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    def reader(index):
        client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        try:
            i = index
            while not done.is_set():
                code = lots[i % len(lots)].code
                i += 1
                started = time.perf_counter()
                response = client.get(f"/api/v1/verdicts/lots/{code}/")
                reads.append((code, started, time.perf_counter(), response.json()["verdict"]))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    writer_threads = [threading.Thread(target=writer, args=(lots[w::WRITERS],)) for w in range(WRITERS)]
    reader_threads = [threading.Thread(target=reader, args=(r,)) for r in range(READERS)]
    for thread in writer_threads + reader_threads:
        thread.start()
    for thread in writer_threads:
        thread.join()
    done.set()
    for thread in reader_threads:
        thread.join()
    assert not failures, failures

    stale = []
    for code, started, ended, verdict in reads:
        history = writes[code]
        committed_before = sum(1 for _began, committed in history if committed < started)
        possibly_committed = sum(1 for began, _committed in history if began < ended)
        allowed = {state_after(n) for n in range(committed_before, possibly_committed + 1)}
        if verdict not in allowed:
            stale.append((code, verdict, allowed))
    assert len(reads) > 100
    assert not stale, stale[:5]
    # and at rest, the cache agrees with the database
    final = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for lot in lots:
        expected = state_after(len(writes[lot.code]))
        assert final.get(f"/api/v1/verdicts/lots/{lot.code}/").json()["verdict"] == expected
    store._caches.clear()
