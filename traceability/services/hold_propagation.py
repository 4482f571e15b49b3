"""Forward propagation after the freeze: a lot made from a held lot joins the parent's holds.

    hold_new_child(parent, child) -> list[Hold]

`place_hold` propagates forward to what was made from the held lots *when it is placed*. Genealogy recorded later
(`add_genealogy_edge`, `register_lot(parents=...)`) calls this inside its own transaction for every NEW edge: the
child and everything already made from it join each hold that is not released, propagates forward, and still holds
the parent (held or in rework). Depth = the parent's depth + 1 (+ the child's own descendants' distance). A lot
already under the hold keeps its entry (and depth).

Locks: the genealogy writer holds the site row (`lock_site_genealogy`); here the holds are locked in id order
(site → hold, as the hold services lock hold rows after whatever scope row they need). A propagating hold takes the
same site lock while it is placed, so an edge and a freeze of one site never overlap: whichever commits second sees
the other (the freeze traces the committed edge, or the edge's writer finds the committed hold here).
"""
from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from qms.audit.chain import record_audit
from traceability.models import Hold, HoldLot, Lot
from traceability.services.genealogy import DEFAULT_MAX_DEPTH, trace_forward
from traceability.services.holds import STILL_HOLDING, _lots_changed, _save_hold

DEPTH_MAX = 32767  # HoldLot.depth is a small integer


def propagating_holds_of(parent: Lot) -> dict[int, int]:
    """{hold id: the parent's depth in it} for the propagating, unreleased holds that still hold `parent`. Genealogy
    writers lock these holds (`holds.lock_holds`) before their first audited change: every hold writer locks the hold
    before the audit chain's head."""
    return dict(
        HoldLot.objects.filter(lot=parent, disposition__in=STILL_HOLDING, hold__propagate_forward=True)
        .exclude(hold__state=Hold.State.RELEASED).values_list("hold_id", "depth")
    )


def hold_new_child(parent: Lot, child: Lot) -> list[Hold]:
    """Add `child` (and what was made from it) to every propagating, unreleased hold that still holds `parent`.
    Call inside the transaction that recorded the edge parent → child. Returns the holds that gained lots."""
    parent_depths = propagating_holds_of(parent)
    if not parent_depths:
        return []
    descendants = trace_forward([child.pk], max_depth=DEFAULT_MAX_DEPTH)
    holds = (Hold.objects.select_for_update(of=("self",), no_key=True).filter(pk__in=parent_depths)
             .exclude(state=Hold.State.RELEASED).order_by("pk"))
    grown = []
    for hold in holds:
        # Re-read under the hold lock: the parent's entry may have been decided meanwhile.
        if not HoldLot.objects.filter(Q(disposition__in=STILL_HOLDING), hold=hold, lot=parent).exists():
            continue
        added = _add(hold, descendants, base_depth=parent_depths[hold.pk] + 1)
        if not added:
            continue
        reason = _("lot %(child)s made from held lot %(parent)s") % {"child": child.code, "parent": parent.code}
        _save_hold(hold, reason=reason)
        record_audit(action="lots_added", model=Hold._meta.label, object_pk=hold.pk, object_repr=hold.number,
                     site_id=hold.site_id, changes={"lots": [None, len(added)]}, reason=reason)
        _lots_changed(hold, added, "lots_added")
        grown.append(hold)
    return grown


def _add(hold: Hold, descendants: dict[int, int], *, base_depth: int) -> list[int]:
    existing = set(hold.lots.filter(lot_id__in=list(descendants)).values_list("lot_id", flat=True))
    rows = [HoldLot(hold=hold, lot_id=lot_id, via=HoldLot.Via.GENEALOGY, depth=min(base_depth + depth, DEPTH_MAX),
                    disposition=HoldLot.Disposition.HELD)
            for lot_id, depth in sorted(descendants.items()) if lot_id not in existing]
    HoldLot.objects.bulk_create(rows, batch_size=2000)
    return [row.lot_id for row in rows]
