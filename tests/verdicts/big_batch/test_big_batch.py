"""A batch of SITE_WIDE_FROM lots or more (a propagated freeze) invalidates its whole site in one Redis operation
and keeps its LotVerdict bookkeeping in SQL — with the same guarantee as lot-by-lot (threshold patched low here)."""
import pytest
from django.db import transaction

from tests.factories_verdicts import decide, hold_lots
from tests.verdicts.big_batch.conftest import CODES
from tests.verdicts.conftest import redis_client
from traceability.seams import VerdictChange
from traceability.verdicts.cache import value_key
from traceability.verdicts.compute import compute_verdicts_for_codes
from traceability.verdicts.store import verdict_for_lots
from traceability.verdicts.write_through import note_lots_changed

pytestmark = pytest.mark.redis


def verdicts(site, codes=CODES):
    return {code: verdict.verdict for code, verdict in verdict_for_lots(site.pk, codes).items()}


def cached(site, code):
    return redis_client().get(value_key(site.pk, code))


def test_a_reader_after_the_commit_sees_the_hold_though_release_was_cached(
        verdict_cache, site, lots, django_capture_on_commit_callbacks):
    assert set(verdicts(site).values()) == {"release"}
    assert all(cached(site, code) is not None for code in CODES)         # "release" cached for every lot
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, lots[:3])
    assert verdicts(site) == {"L-1": "hold", "L-2": "hold", "L-3": "hold", "L-4": "release"}


def test_the_first_readers_refill_the_cache(verdict_cache, site, lots, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, lots[:3])
    assert cached(site, "L-1") is None                                   # not written through: left to readers
    verdicts(site)
    assert b'"verdict":"hold"' in cached(site, "L-1")
    assert verdict_cache.get_bodies(site.pk, CODES).keys() == set(CODES)  # served from Redis now


def test_before_the_commit_cached_values_are_no_longer_served_nor_filled(
        verdict_cache, site, lots, django_capture_on_commit_callbacks):
    verdicts(site)
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        note_lots_changed(site.pk, [lot.pk for lot in lots[:3]])
        assert verdict_cache.get_bodies(site.pk, CODES) == {}
        snapshot = verdict_cache.snapshot(site.pk, CODES)
        assert verdict_cache.fill(site.pk, compute_verdicts_for_codes(site.pk, CODES), snapshot, CODES) == 0


def test_a_slow_reader_cannot_write_its_pre_commit_answer_after_the_commit(
        verdict_cache, site, lots, django_capture_on_commit_callbacks):
    snapshot = verdict_cache.snapshot(site.pk, ["L-1"])                  # the reader starts ...
    stale = compute_verdicts_for_codes(site.pk, ["L-1"])                 # ... reads "release" from the database
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, lots[:3])                                        # a big freeze commits meanwhile
    assert verdict_cache.fill(site.pk, stale, snapshot, ["L-1"]) == 0    # the late write is refused
    assert verdicts(site, ["L-1"]) == {"L-1": "hold"}


def test_push_changes_carry_exact_previous_verdicts_and_change_numbers(
        verdict_cache, site, lots, captured, django_capture_on_commit_callbacks):
    l1, l2, l3, l4 = lots
    with django_capture_on_commit_callbacks(execute=True):
        first = hold_lots(site, [l1, l2])                               # small batch: lot by lot
    with django_capture_on_commit_callbacks(execute=True):
        decide(first, l1, "scrap")                                       # L-1 reject (change 2)
    with django_capture_on_commit_callbacks(execute=True):
        decide(first, l2, "release")                                     # L-2 release (change 2)
    captured.clear()
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, [l1, l2, l3, l4])                                # big batch
    assert captured == [
        VerdictChange(l2.pk, "L-2", "hold", "release", 3),
        VerdictChange(l3.pk, "L-3", "hold", None, 1),
        VerdictChange(l4.pk, "L-4", "hold", None, 1),
    ]                                                                    # L-1 stays reject: no news
    assert verdicts(site) == {"L-1": "reject", "L-2": "hold", "L-3": "hold", "L-4": "hold"}


def test_a_big_release_counts_on_from_the_published_verdicts(
        verdict_cache, site, lots, captured, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        hold = hold_lots(site, lots)
    with django_capture_on_commit_callbacks(execute=True):
        decide(hold, lots[0], "nc", release_hold=True)                   # small: L-1 pending, change 2
    captured.clear()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        note_lots_changed(site.pk, [lot.pk for lot in lots])             # the hold was released above: big batch
    assert captured == [VerdictChange(lot.pk, lot.code, "release", "hold", 2) for lot in lots[1:]]
    assert verdicts(site) == {"L-1": "pending", "L-2": "release", "L-3": "release", "L-4": "release"}
