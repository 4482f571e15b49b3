"""A big hold change (SITE_WIDE_FROM lots or more) publishes its verdict changes after its commit, from a task fed by
a PendingVerdictPublication row written in the hold's transaction (threshold patched low here)."""
from datetime import timedelta
from unittest import mock

from django.db import transaction
from django.utils import timezone

from tests.factories import LotFactory
from tests.factories_verdicts import decide, hold_lots
from tests.verdicts.big_batch.conftest import CODES
from traceability.seams import VerdictChange
from traceability.verdicts.models import LotVerdict, PendingVerdictPublication
from traceability.verdicts.store import verdict_for_lots
from traceability.verdicts.write_through import (
    lots_awaiting_publication,
    note_lots_changed,
    pack_ids,
    publish_overdue_verdicts,
    publish_pending_verdicts,
    unpack_ids,
)

DISPATCH = "traceability.verdicts.write_through.publish_pending_verdicts.apply_async"


def test_ids_round_trip_through_the_packed_form():
    ids = [1, 2, 2**40, 9_007_199_254_740_993]
    assert unpack_ids(pack_ids(ids)) == ids


def test_the_big_transaction_writes_one_pending_row_and_no_lot_verdicts(site, lots):
    with mock.patch(DISPATCH), transaction.atomic():
        hold_lots(site, lots)
        assert LotVerdict.objects.count() == 0
        publication = PendingVerdictPublication.objects.get()
    assert publication.lot_count == 4
    assert unpack_ids(publication.packed_lot_ids) == sorted(lot.pk for lot in lots)


def test_the_commit_dispatches_the_publication_to_the_writeback_queue(site, lots, django_capture_on_commit_callbacks):
    with mock.patch(DISPATCH) as dispatch, django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, lots)
    publication = PendingVerdictPublication.objects.get()
    dispatch.assert_called_once_with(args=[publication.pk], queue="writeback")


def test_the_task_publishes_every_change_and_removes_the_row(site, lots, captured, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, lots)                                            # eager in tests: the task runs on commit
    assert captured == [VerdictChange(lot.pk, lot.code, "hold", None, 1) for lot in lots]
    assert not PendingVerdictPublication.objects.exists()
    assert set(LotVerdict.objects.values_list("verdict", flat=True)) == {"hold"}


def test_a_second_run_of_the_task_publishes_nothing(site, lots, captured, django_capture_on_commit_callbacks):
    with mock.patch(DISPATCH), django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, lots)
    publication_id = PendingVerdictPublication.objects.get().pk
    with django_capture_on_commit_callbacks(execute=True):
        assert publish_pending_verdicts(publication_id) == 4
    with django_capture_on_commit_callbacks(execute=True):
        assert publish_pending_verdicts(publication_id) == 0
    assert len(captured) == 4


def test_a_lost_dispatch_is_published_by_the_sweep_once_overdue(site, lots, captured,
                                                                django_capture_on_commit_callbacks):
    with mock.patch(DISPATCH, side_effect=ConnectionError("broker down")), \
            django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, lots)                                            # committed; the dispatch failed
    assert publish_overdue_verdicts() == 0                               # not overdue yet: its task may still run
    PendingVerdictPublication.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert publish_overdue_verdicts() == 1
    assert [change.verdict for change in captured] == ["hold"] * 4
    assert not PendingVerdictPublication.objects.exists()


def test_verdict_reads_see_the_hold_before_the_publication_runs(site, lots, django_capture_on_commit_callbacks):
    with mock.patch(DISPATCH), django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, lots)
    assert {code: v.verdict for code, v in verdict_for_lots(site.pk, CODES).items()} == dict.fromkeys(CODES, "hold")


def test_a_release_before_the_publication_is_still_announced(site, lots, captured,
                                                             django_capture_on_commit_callbacks):
    """MES may have read "hold" from the API meanwhile: it must hear the release, though "hold" was never pushed."""
    with mock.patch(DISPATCH), django_capture_on_commit_callbacks(execute=True):
        hold = hold_lots(site, lots)
    publication_id = PendingVerdictPublication.objects.get().pk
    assert lots_awaiting_publication(site.pk) == {lot.pk for lot in lots}
    with django_capture_on_commit_callbacks(execute=True):
        decide(hold, lots[0], "release")
    assert captured == [VerdictChange(lots[0].pk, "L-1", "release", None, 1)]
    captured.clear()
    with django_capture_on_commit_callbacks(execute=True):
        publish_pending_verdicts(publication_id)
    assert captured == [VerdictChange(lot.pk, lot.code, "hold", None, 1) for lot in lots[1:]]  # L-1: no news


def test_a_small_change_of_a_lot_not_awaiting_publication_stays_quiet_on_release(site, lots, captured,
                                                                                 django_capture_on_commit_callbacks):
    other = LotFactory(site=site, code="L-9")
    with mock.patch(DISPATCH), django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, lots)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        note_lots_changed(site.pk, [other.pk])                           # never held, verdict release
    assert captured == []
