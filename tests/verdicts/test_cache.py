"""The Redis write-through cache: fresh after commit, race guards, loss → rebuild, Redis down → database."""
import pytest
import redis as redis_lib
from django.db import transaction

from tests.factories import LotFactory, SiteFactory
from tests.factories_verdicts import decide, hold_lots
from tests.verdicts.conftest import redis_client
from traceability.verdicts.cache import SENTINEL_KEY, value_key
from traceability.verdicts.compute import compute_verdicts_for_codes
from traceability.verdicts.models import VerdictCacheState
from traceability.verdicts.store import verdict_for_lots
from traceability.verdicts.write_through import note_lots_changed

pytestmark = pytest.mark.redis


@pytest.fixture
def site(db):
    return SiteFactory(code="S1")


@pytest.fixture
def lot(site):
    return LotFactory(site=site, code="L-0001")


def cached(site, code):
    return redis_client().get(value_key(site.pk, code))


def test_a_miss_is_filled_from_the_database(verdict_cache, site, lot):
    assert verdict_for_lots(site.pk, ["L-0001"])["L-0001"].verdict == "release"
    assert cached(site, "L-0001").endswith(b'"verdict":"release","reasons":[]')


def test_commit_writes_the_new_verdict_through(verdict_cache, site, lot, django_capture_on_commit_callbacks):
    verdict_for_lots(site.pk, ["L-0001"])
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, [lot])
    assert b'"verdict":"hold"' in cached(site, "L-0001")
    assert verdict_for_lots(site.pk, ["L-0001"])["L-0001"].verdict == "hold"


def test_the_cached_value_is_gone_before_commit(verdict_cache, site, lot, django_capture_on_commit_callbacks):
    verdict_for_lots(site.pk, ["L-0001"])
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        note_lots_changed(site.pk, [lot.pk])
        assert cached(site, "L-0001") is None


def test_a_slow_reader_cannot_write_its_pre_commit_answer_after_the_commit(
        verdict_cache, site, lot, django_capture_on_commit_callbacks):
    snapshot = verdict_cache.snapshot(site.pk, ["L-0001"])              # the reader starts ...
    stale = compute_verdicts_for_codes(site.pk, ["L-0001"])             # ... reads "release" from the database
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, [lot])                                          # a hold commits meanwhile
    assert verdict_cache.fill(site.pk, stale, snapshot, ["L-0001"]) == 0  # the late write is refused
    assert b'"verdict":"hold"' in cached(site, "L-0001")


def test_no_fill_while_a_writer_is_in_flight(verdict_cache, site, lot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        note_lots_changed(site.pk, [lot.pk])
        snapshot = verdict_cache.snapshot(site.pk, ["L-0001"])         # taken after the writer marked the lot
        computed = compute_verdicts_for_codes(site.pk, ["L-0001"])
        assert verdict_cache.fill(site.pk, computed, snapshot, ["L-0001"]) == 0


def test_rolled_back_writer_leaves_the_lot_to_the_database(verdict_cache, site, lot):
    with pytest.raises(RuntimeError), transaction.atomic():
        note_lots_changed(site.pk, [lot.pk])
        raise RuntimeError("boom")
    assert verdict_for_lots(site.pk, ["L-0001"])["L-0001"].verdict == "release"
    assert cached(site, "L-0001") is None  # until the in-flight mark expires: answered from the database


def test_a_flushed_cache_answers_from_the_database_then_a_rebuild_refills(
        verdict_cache, site, lot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, [lot])
    redis_client().flushdb()
    assert verdict_for_lots(site.pk, ["L-0001"])["L-0001"].verdict == "hold"
    assert cached(site, "L-0001") is None          # no sentinel: nothing is filled until a rebuild
    epoch, filled = verdict_cache.rebuild()
    assert filled == 1 and redis_client().get(SENTINEL_KEY).decode() == epoch
    assert b'"verdict":"hold"' in cached(site, "L-0001")


def test_cache_loss_requests_a_rebuild(verdict_cache, site, lot, monkeypatch):
    requested = []
    monkeypatch.setattr(verdict_cache, "request_rebuild", lambda: requested.append(True))
    redis_client().flushdb()
    verdict_cache.validate()
    assert verdict_cache.epoch is None and requested


def test_a_writer_that_cannot_reach_redis_invalidates_the_epoch(verdict_cache, site, lot, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    verdict_for_lots(site.pk, ["L-0001"])
    def refuse(*args, **kwargs):
        raise redis_lib.ConnectionError("down")
    monkeypatch.setattr(verdict_cache, "_mark", refuse)
    with django_capture_on_commit_callbacks(execute=False):
        hold_lots(site, [lot])
    assert VerdictCacheState.objects.get().epoch == ""
    monkeypatch.setattr(verdict_cache, "_down_until", 0.0)
    verdict_cache.validate()                       # what every reader does within VALIDATE_EVERY_S
    assert verdict_for_lots(site.pk, ["L-0001"])["L-0001"].verdict == "hold"   # the stale cached "release" is ignored


def test_redis_down_answers_from_the_database(db, settings, site, lot, django_capture_on_commit_callbacks, caplog):
    from traceability.verdicts import store

    settings.VERDICT_REDIS_URL = "redis://127.0.0.1:1/0"   # nothing listens there
    store._caches.clear()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            hold_lots(site, [lot])
        assert verdict_for_lots(site.pk, ["L-0001"])["L-0001"].verdict == "hold"
        assert "answering from the database" in caplog.text
    finally:
        store._caches.clear()


def test_embedded_default_reads_the_database(no_redis, site, lot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        decide(hold_lots(site, [lot]), lot, "scrap")
    assert verdict_for_lots(site.pk, ["L-0001"])["L-0001"].verdict == "reject"


def test_rebuild_command(verdict_cache, site, lot):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("rebuild_verdict_cache", stdout=out)
    assert "1 lot(s) prefilled" in out.getvalue() and cached(site, "L-0001") is not None


def test_values_of_an_old_epoch_are_not_served(verdict_cache, site, lot):
    key = value_key(site.pk, "L-0001")
    redis_client().set(key, b'old-epoch|{"lot":"L-0001","verdict":"release","reasons":[]')
    hold_lots(site, [lot])  # (callbacks not run: the value above stays)
    redis_client().set(key, b'old-epoch|{"lot":"L-0001","verdict":"release","reasons":[]')
    assert verdict_for_lots(site.pk, ["L-0001"])["L-0001"].verdict == "hold"



def test_beyond_the_write_through_cap_lots_are_filled_by_their_first_reader(
        verdict_cache, site, monkeypatch, django_capture_on_commit_callbacks):
    from traceability.verdicts import cache as cache_module

    monkeypatch.setattr(cache_module, "WRITE_THROUGH_MAX", 0)
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, [LotFactory(site=site, code="L-B")])
    assert cached(site, "L-B") is None
    assert verdict_for_lots(site.pk, ["L-B"])["L-B"].verdict == "hold"
    assert b'"verdict":"hold"' in cached(site, "L-B")   # the in-flight mark was ended: the reader could fill
