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

from django.db import connection, transaction
from django.utils import timezone

from traceability.seams import VerdictChange, verdicts_changed
from traceability.verdicts.compute import compute_verdicts_for_codes, lot_codes, verdict_names
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
    codes = lot_codes(site_id, lot_ids)
    cache = verdict_cache()
    if cache is not None:
        cache.mark_dirty(site_id, sorted(codes.values()))
    changes = _publish(site_id, codes)
    transaction.on_commit(partial(_after_commit, site_id, sorted(codes.values()), changes))


def _publish(site_id: int, codes: dict[int, str]) -> list[VerdictChange]:
    """Record the new verdicts; return the changes (lots whose verdict differs from the one last published)."""
    ids = sorted(codes)
    published = _lock_published(site_id, ids)  # {lot_id: (verdict, change)}, rows locked until commit
    verdicts = verdict_names(ids)  # after the lock: sees every earlier writer's commit and our own rows
    changes, updates = [], []
    for lot_id in ids:
        verdict = verdicts.get(lot_id, RELEASE)
        previous, change = published[lot_id]
        if previous == verdict:
            continue
        if previous or verdict != RELEASE:  # a never-held lot "becoming" release is no news to MES
            change += 1
            changes.append(VerdictChange(lot_id=lot_id, lot_code=codes[lot_id], verdict=verdict,
                                         previous=previous or None, change=change))
        updates.append((lot_id, verdict, change))
    if updates:
        _store_published(site_id, updates)
    return changes


def _lock_published(site_id: int, ids: list[int]) -> dict[int, tuple[str, int]]:
    if connection.vendor == "postgresql":  # two statements whatever the number of lots (a freeze may hold 10,000)
        table = LotVerdict._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} (lot_id, site_id, verdict, change) "
                           f"SELECT lot_id, %s, '', 0 FROM unnest(%s::bigint[]) AS lot_id ON CONFLICT DO NOTHING",
                           [site_id, ids])
            cursor.execute(f"SELECT lot_id, verdict, change FROM {table} WHERE lot_id = ANY(%s::bigint[]) "
                           f"ORDER BY lot_id FOR UPDATE", [ids])
            return {lot_id: (verdict, change) for lot_id, verdict, change in cursor.fetchall()}
    LotVerdict.objects.bulk_create([LotVerdict(lot_id=lot_id, site_id=site_id) for lot_id in ids],
                                   ignore_conflicts=True)
    rows = LotVerdict.objects.select_for_update().filter(lot_id__in=ids).order_by("lot_id")
    return {lot_id: (verdict, change) for lot_id, verdict, change in rows.values_list("lot_id", "verdict", "change")}


def _store_published(site_id: int, updates: list[tuple[int, str, int]]) -> None:
    now = timezone.now()
    if connection.vendor == "postgresql":
        lot_ids, verdicts, changes = (list(column) for column in zip(*updates, strict=True))
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {LotVerdict._meta.db_table} AS published SET verdict = new.verdict, "
                           f"change = new.change, changed_at = %s "
                           f"FROM unnest(%s::bigint[], %s::text[], %s::int[]) AS new(lot_id, verdict, change) "
                           f"WHERE published.lot_id = new.lot_id", [now, lot_ids, verdicts, changes])
        return
    LotVerdict.objects.bulk_create(
        [LotVerdict(lot_id=lot_id, site_id=site_id, verdict=verdict, change=change, changed_at=now)
         for lot_id, verdict, change in updates],
        update_conflicts=True, unique_fields=["lot"], update_fields=["verdict", "change", "changed_at"])


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
