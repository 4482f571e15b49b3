"""Helpers for the verdict tests: holds written directly (the hold services are another helper's subject), always
with note_lots_changed inside the transaction, as the services do."""
from __future__ import annotations

import itertools

from django.db import transaction
from django.utils import timezone

from traceability.models import Hold, HoldLot
from traceability.verdicts.write_through import note_lots_changed

_numbers = itertools.count(1)


def hold_lots(site, lots, *, disposition="held", reason="barrel zone 2 beyond ±3 °C", state=Hold.State.ACTIVE,
              committed=None):
    """`committed`: called first thing after the commit (before the write-through) — the race tests' clock."""
    with transaction.atomic():
        if committed is not None:
            transaction.on_commit(committed)
        hold = Hold.objects.create(site=site, number=f"H-T{next(_numbers):05d}", reason=reason, state=state,
                                   placed_at=timezone.now(), placed_by="test")
        HoldLot.objects.bulk_create([HoldLot(hold=hold, lot=lot, via=HoldLot.Via.DIRECT, disposition=disposition)
                                     for lot in lots])
        note_lots_changed(site.pk, [lot.pk for lot in lots])
    return hold


def decide(hold, lot, disposition, *, release_hold=False, committed=None):
    with transaction.atomic():
        if committed is not None:
            transaction.on_commit(committed)
        HoldLot.objects.filter(hold=hold, lot=lot).update(disposition=disposition, disposed_at=timezone.now())
        if release_hold:
            Hold.objects.filter(pk=hold.pk).update(state=Hold.State.RELEASED, released_at=timezone.now())
        note_lots_changed(hold.site_id, [lot.pk])
