"""Verdicts straight from the database (the source of truth): two queries for any number of lots."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection

from traceability.models import Hold, HoldLot, Lot
from traceability.verdicts.rule import Entry, Verdict, decide, reason_of, verdict_of

CHUNK = 5000  # lots per IN (...) list: keeps SQLite under its bound-parameter limit


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def entries_by_lot(lot_ids: list[int]) -> dict[int, list[Entry]]:
    entries: dict[int, list[Entry]] = defaultdict(list)
    for chunk in _chunks(lot_ids):
        rows = HoldLot.objects.filter(lot_id__in=chunk).values_list(
            "lot_id", "hold_id", "hold__number", "hold__reason", "hold__placed_at", "hold__state", "disposition",
            "disposed_at",
        )
        for lot_id, hold_id, number, reason, placed_at, state, disposition, disposed_at in rows:
            since = disposed_at if disposition == HoldLot.Disposition.NC and disposed_at else placed_at
            entries[lot_id].append(Entry(hold_id, number, reason, since.isoformat() if since else "", disposition,
                                         state == Hold.State.RELEASED))
    return entries


def verdict_from_entries(code: str, entries: Iterable[Entry]) -> Verdict:
    verdict, deciding = decide(entries)
    return Verdict(lot=code, verdict=verdict, reasons=[reason_of(entry) for entry in deciding])


def compute_verdicts_from_db(lot_ids: Iterable[int]) -> dict[int, Verdict]:
    """{lot_id: Verdict} for the given lots (unknown ids are left out). Two queries per 5,000 lots."""
    lot_ids = sorted(set(lot_ids))
    codes: dict[int, str] = {}
    for chunk in _chunks(lot_ids):
        codes.update(Lot.objects.filter(pk__in=chunk).values_list("pk", "code"))
    entries = entries_by_lot(list(codes))
    return {lot_id: verdict_from_entries(code, entries.get(lot_id, ())) for lot_id, code in codes.items()}


def lots_by_code(site_id: int, codes: Iterable[str]) -> dict[str, int]:
    """{code: lot_id} for the codes that name a lot of the site."""
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(codes))):
        found.update(Lot.objects.filter(site_id=site_id, code__in=chunk).values_list("code", "pk"))
    return found


def compute_verdicts_for_codes(site_id: int, codes: Iterable[str]) -> dict[str, Verdict]:
    """{code: Verdict} for the codes that name a lot of the site (two queries); unknown codes are left out."""
    ids = lots_by_code(site_id, codes)
    entries = entries_by_lot(list(ids.values()))
    return {code: verdict_from_entries(code, entries.get(lot_id, ())) for code, lot_id in ids.items()}


def verdict_names(lot_ids: list[int]) -> dict[int, str]:
    """{lot_id: verdict} without reasons — what the writers need, lean enough for a freeze of 10,000 lots.
    Lots without hold entries are absent (release)."""
    pairs: dict[int, list[tuple[str, bool]]] = defaultdict(list)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT entry.lot_id, entry.disposition, hold.state = %s FROM {HoldLot._meta.db_table} AS entry "
                f"JOIN {Hold._meta.db_table} AS hold ON hold.id = entry.hold_id WHERE entry.lot_id = ANY(%s::bigint[])",
                [Hold.State.RELEASED, lot_ids])
            rows = cursor.fetchall()
    else:
        rows = [row for chunk in _chunks(lot_ids) for row in HoldLot.objects.filter(lot_id__in=chunk).values_list(
            "lot_id", "disposition", "hold__state")]
        rows = [(lot_id, disposition, state == Hold.State.RELEASED) for lot_id, disposition, state in rows]
    for lot_id, disposition, released in rows:
        pairs[lot_id].append((disposition, released))
    return {lot_id: verdict_of(entries) for lot_id, entries in pairs.items()}


def lot_codes(site_id: int, lot_ids: list[int]) -> dict[int, str]:
    """{lot_id: code} for the ids that are lots of the site."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, code FROM {Lot._meta.db_table} WHERE site_id = %s AND id = ANY(%s::bigint[])",
                           [site_id, lot_ids])
            return dict(cursor.fetchall())
    return {pk: code for chunk in _chunks(lot_ids)
            for pk, code in Lot.objects.filter(pk__in=chunk, site_id=site_id).values_list("pk", "code")}
