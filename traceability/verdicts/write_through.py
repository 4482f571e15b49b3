"""Contract between the hold services and the verdict cache.

    note_lots_changed(site_id: int, lot_ids: Iterable[int]) -> None

Called by `traceability.services.holds` INSIDE the transaction that changed the lots' HoldLot rows (after the
change). Before the commit it marks the lots dirty in the cache (see cache.py for the guarantee) and records the
lots' new verdicts in LotVerdict (row-locked: concurrent writers of one lot queue up, so each change has an exact
`previous` and a per-lot change number). After the commit it writes the verdicts through to the cache and sends
`traceability.seams.verdicts_changed` for the lots whose verdict changed.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from django.db import transaction
from django.utils import timezone

from traceability.models import Lot
from traceability.seams import VerdictChange, verdicts_changed
from traceability.verdicts.compute import compute_verdicts_for_codes, compute_verdicts_from_db
from traceability.verdicts.models import LotVerdict
from traceability.verdicts.rule import RELEASE
from traceability.verdicts.store import verdict_cache

logger = logging.getLogger(__name__)


def note_lots_changed(site_id: int, lot_ids: Iterable[int]) -> None:
    lot_ids = sorted({int(lot_id) for lot_id in lot_ids})
    if not lot_ids:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("note_lots_changed must be called inside the transaction that changed the lots")
    codes = dict(Lot.objects.filter(pk__in=lot_ids, site_id=site_id).values_list("pk", "code"))
    cache = verdict_cache()
    if cache is not None:
        cache.mark_dirty(site_id, sorted(codes.values()))
    changes = _publish(site_id, codes)
    transaction.on_commit(partial(_after_commit, site_id, sorted(codes.values()), changes))


def _publish(site_id: int, codes: dict[int, str]) -> list[VerdictChange]:
    """Record the new verdicts; return the changes (lots whose verdict differs from the one last published)."""
    ids = sorted(codes)
    LotVerdict.objects.bulk_create([LotVerdict(lot_id=lot_id, site_id=site_id) for lot_id in ids],
                                   ignore_conflicts=True)
    published = {row.lot_id: row for row in LotVerdict.objects.select_for_update().filter(lot_id__in=ids)
                 .order_by("lot_id")}
    fresh = compute_verdicts_from_db(ids)  # after the lock: sees every earlier writer's commit and our own rows
    now = timezone.now()
    changes, rows = [], []
    for lot_id in ids:
        row, verdict = published[lot_id], fresh[lot_id].verdict
        if row.verdict == verdict:
            continue
        previous = row.verdict or None
        row.verdict, row.changed_at = verdict, now
        if previous is not None or verdict != RELEASE:  # a never-held lot "becoming" release is no news to MES
            row.change += 1
            changes.append(VerdictChange(lot_id=lot_id, lot_code=codes[lot_id], verdict=verdict, previous=previous,
                                         change=row.change))
        rows.append(row)
    if rows:
        LotVerdict.objects.bulk_update(rows, ["verdict", "change", "changed_at"], batch_size=1000)
    return changes


def _after_commit(site_id: int, codes: list[str], changes: list[VerdictChange]) -> None:
    cache = verdict_cache()
    if cache is not None:
        try:
            cache.finish(site_id, codes, compute_verdicts_for_codes)
        except Exception:  # the dirty marks expire; until then the lots are answered from the database
            logger.exception("verdict write-through failed for %d lot(s) of site %s", len(codes), site_id)
    if changes:
        for receiver, outcome in verdicts_changed.send_robust(sender=LotVerdict, site_id=site_id, changes=changes):
            if isinstance(outcome, Exception):
                logger.error("verdicts_changed receiver %r failed", receiver, exc_info=outcome)
