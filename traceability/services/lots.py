"""Registering lots as MES reports them: create, or confirm/complete what is already recorded, never contradict it.

register_lot() is what POST /api/v1/lots/ does:
- a new code creates the lot, its first run (equipment, started_at[, ended_at]) and its parent edges;
- the same code again with the same data changes nothing (a retry is harmless);
- it may complete what was not known before: close the open run with ended_at, set a product/quantity/supplier that
  was empty, add parent edges not yet recorded;
- anything that contradicts the record (another kind, product, quantity, unit, end time, another run, another
  quantity on a known edge) is a Conflict naming every difference — nothing is changed.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from qms.models import Equipment, Product, Site
from traceability.models import GenealogyEdge, Lot, LotRun
from traceability.services.errors import Conflict
from traceability.services.genealogy import add_genealogy_edge, edge_differences, lock_site_genealogy
from traceability.services.lookup import check_lot_code, check_timestamp, iso
from traceability.services.runs import describe_run, lock_equipment, start_lot_run


@dataclass(frozen=True)
class ParentLink:
    """`quantity` (in `unit`; default the parent lot's unit) of lot `lot` went into the lot being registered."""

    lot: Lot
    quantity: float | None = None
    unit: str | None = None


@dataclass
class LotRegistration:
    lot: Lot
    created: bool
    changed: list[str] = field(default_factory=list)


def _check_quantity(name: str, value: float | None) -> None:
    if value is not None and (isinstance(value, bool) or not math.isfinite(value) or value < 0):
        raise ValidationError({name: _("The quantity must be a finite number ≥ 0.")})


def _check_request(site: Site, kind, product, quantity, equipment, started_at, ended_at, parents) -> None:
    if kind is not None and kind not in Lot.Kind.values:
        raise ValidationError({"kind": _("Unknown kind %(kind)r; one of: %(choices)s.")
                               % {"kind": kind, "choices": ", ".join(Lot.Kind.values)}})
    _check_quantity("quantity", quantity)
    if (equipment is None) != (started_at is None):
        missing = "started_at" if started_at is None else "equipment"
        raise ValidationError({missing: _("equipment and started_at come together: a run needs both.")})
    if ended_at is not None and started_at is None:
        raise ValidationError({"started_at": _("An end time needs a start time.")})
    check_timestamp("started_at", started_at)
    check_timestamp("ended_at", ended_at)
    if ended_at is not None and ended_at < started_at:
        raise ValidationError({"ended_at": _("The end (%(end)s) lies before the start (%(start)s).")
                               % {"end": iso(ended_at), "start": iso(started_at)}})
    if equipment is not None and equipment.site_id != site.pk:
        raise ValidationError({"equipment": _("Equipment %(code)s belongs to another site.") % {"code": equipment.code}})
    if product is not None and product.site_id != site.pk:
        raise ValidationError({"product": _("Product %(product)s belongs to another site.") % {"product": product}})
    seen = set()
    for link in parents:
        if link.lot.site_id != site.pk:
            raise ValidationError({"parents": _("Lot %(code)s belongs to another site.") % {"code": link.lot.code}})
        if link.lot.pk in seen:
            raise ValidationError({"parents": _("Lot %(code)s is listed twice.") % {"code": link.lot.code}})
        seen.add(link.lot.pk)
        _check_quantity("parents", link.quantity)


def _product_label(product: Product | None) -> str | None:
    return f"{product.part_number}@{product.revision}" if product is not None else None


def _differences(lot: Lot, *, kind, product, quantity, unit, supplier, equipment, started_at, ended_at,
                 parents: Sequence[ParentLink]) -> dict:
    """Everything the request contradicts on the stored lot. Values not sent, or not stored yet, never conflict."""
    differences: dict = {}
    if kind is not None and kind != lot.kind:
        differences["kind"] = {"stored": lot.kind, "sent": kind}
    if product is not None and lot.product_id is not None and product.pk != lot.product_id:
        differences["product"] = {"stored": _product_label(lot.product), "sent": _product_label(product)}
    if quantity is not None and lot.quantity is not None and quantity != lot.quantity:
        differences["quantity"] = {"stored": lot.quantity, "sent": quantity}
    if unit and unit != lot.unit:
        differences["unit"] = {"stored": lot.unit, "sent": unit}
    if supplier and lot.supplier and supplier != lot.supplier:
        differences["supplier"] = {"stored": lot.supplier, "sent": supplier}
    if equipment is not None:
        runs = list(lot.runs.select_related("lot", "equipment").order_by("started_at"))
        same = next((r for r in runs if r.equipment_id == equipment.pk and r.started_at == started_at), None)
        if same is not None:
            if ended_at is not None and same.ended_at is not None and same.ended_at != ended_at:
                differences["ended_at"] = {"stored": iso(same.ended_at), "sent": iso(ended_at)}
        elif runs:
            differences["run"] = {
                "stored": [describe_run(run) for run in runs],
                "sent": {"equipment": equipment.code, "started_at": iso(started_at),
                         "ended_at": iso(ended_at) if ended_at else None},
                "hint": _("To record a run on another machine or at another time, POST /api/v1/lots/%(code)s/runs/.")
                % {"code": lot.code},
            }
    if parents:
        edges = {e.parent_id: e for e in GenealogyEdge.objects.filter(child=lot, parent__in=[p.lot for p in parents])}
        for link in parents:
            edge = edges.get(link.lot.pk)
            if edge is not None:
                for name, difference in edge_differences(edge, link.quantity, link.unit).items():
                    differences.setdefault("parents", {}).setdefault(link.lot.code, {})[name] = difference
    return differences


def _lock_before_first_audit(site: Site, equipment: Equipment | None, started_at: datetime | None,
                             ended_at: datetime | None, parents: Sequence[ParentLink]) -> None:
    """The locks the run and the edges below take, taken before the lot's creation appends to the audit chain (which
    locks its head until the commit), in the order of traceability.services.holds ("Locks"): equipment → site →
    holds (all in one id-ordered pass) → head. Taken again further down, they are no-ops."""
    from traceability.services.hold_propagation import propagating_holds_of  # holds imports this module
    from traceability.services.holds import hold_ids_for_run, lock_holds

    hold_ids: set[int] = set()
    if equipment is not None:
        lock_equipment(equipment)
    if parents:
        lock_site_genealogy(site.pk)
        for link in parents:
            hold_ids.update(propagating_holds_of(link.lot))
    if equipment is not None and started_at is not None:
        hold_ids.update(hold_ids_for_run(equipment.pk, started_at, ended_at))
    lock_holds(hold_ids)


@transaction.atomic
def register_lot(site: Site, code: str, *, kind: str | None = None, product: Product | None = None,
                 quantity: float | None = None, unit: str | None = None, supplier: str | None = None,
                 equipment: Equipment | None = None, started_at: datetime | None = None,
                 ended_at: datetime | None = None, parents: Sequence[ParentLink] = (),
                 close_previous: bool = False, concurrent: bool = False) -> LotRegistration:
    """Create lot `code` in `site` (with its first run and parent edges), or confirm/complete the stored one.

    A new production lot needs `equipment` and `started_at` (it is reported when it starts on a machine); a material
    lot may come without a run (received from a supplier). Raises ValidationError for bad input, Conflict when the
    stored lot contradicts the request (see module doc). `close_previous`/`concurrent` apply to the run, see runs.py.
    """
    code = check_lot_code(code)
    _check_request(site, kind, product, quantity, equipment, started_at, ended_at, parents)
    _lock_before_first_audit(site, equipment, started_at, ended_at, parents)
    lot = Lot.objects.select_for_update(of=("self",)).select_related("product").filter(site=site, code=code).first()
    created = False
    if lot is None:
        if (kind or Lot.Kind.PRODUCTION) == Lot.Kind.PRODUCTION and equipment is None:
            raise ValidationError({"equipment": _(
                "A production lot is registered when it starts on a machine: send equipment and started_at."
            )})
        try:
            with transaction.atomic():
                lot = Lot.objects.create(
                    site=site, code=code, kind=kind or Lot.Kind.PRODUCTION, product=product, quantity=quantity,
                    unit=unit or Lot._meta.get_field("unit").default, supplier=supplier or "",
                )
            created = True
        except IntegrityError:
            # Another request registered the same code a moment ago: treat ours as the repeat it is.
            lot = Lot.objects.select_for_update(of=("self",)).select_related("product").get(site=site, code=code)
    changed: list[str] = []
    if not created:
        differences = _differences(
            lot, kind=kind, product=product, quantity=quantity, unit=unit, supplier=supplier, equipment=equipment,
            started_at=started_at, ended_at=ended_at, parents=parents,
        )
        if differences:
            raise Conflict(
                _("Lot %(code)s is already recorded with different data: %(fields)s.")
                % {"code": code, "fields": ", ".join(differences)},
                differences,
            )
        for name, value, empty in (("product", product, None), ("quantity", quantity, None), ("supplier", supplier, "")):
            if value not in (None, "") and getattr(lot, name) == empty:
                setattr(lot, name, value)
                changed.append(name)
        if changed:
            lot.save(update_fields=changed)
    if equipment is not None:
        before = LotRun.objects.filter(lot=lot, equipment=equipment, started_at=started_at).values_list("ended_at").first()
        run, run_created = start_lot_run(lot, equipment, started_at, ended_at=ended_at,
                                         close_previous=close_previous, concurrent=concurrent)
        if not created and (run_created or (before is not None and before[0] != run.ended_at)):
            changed.append("run")
    for link in parents:
        edge_before = GenealogyEdge.objects.filter(parent=link.lot, child=lot).values_list("quantity", "unit").first()
        edge, edge_created = add_genealogy_edge(link.lot, lot, link.quantity, link.unit)
        if not created and (edge_created or edge_before != (edge.quantity, edge.unit)):
            changed.append(f"parents.{link.lot.code}")
    return LotRegistration(lot=lot, created=created, changed=changed)
