"""Helpers for the trace and serial-number tests: genealogies built in one go, holds set up without the hold
services (which another module owns and tests)."""
from __future__ import annotations

from django.utils import timezone

from tests.factories import LotFactory
from traceability.models import GenealogyEdge, Hold, HoldLot, Lot, SerialNumber


def make_lots(site, *codes, **fields) -> dict[str, Lot]:
    return {code: LotFactory(site=site, code=code, **fields) for code in codes}


def link_all(lots: dict[str, Lot], pairs, quantity: float | None = 1.0, unit: str = "kg") -> None:
    """Edges written directly (bulk), so a test may also build what the services refuse, e.g. a cycle."""
    GenealogyEdge.objects.bulk_create(
        GenealogyEdge(parent=lots[parent], child=lots[child], quantity=quantity, unit=unit) for parent, child in pairs)


def hold_lots(site, *lots: Lot, disposition: str = HoldLot.Disposition.HELD, number: str = "H-0001") -> Hold:
    hold, _created = Hold.objects.get_or_create(
        site=site, number=number,
        defaults={"reason": "barrel zone 2 drift", "placed_at": timezone.now(), "placed_by": "test"})
    for lot in lots:
        HoldLot.objects.create(hold=hold, lot=lot, via=HoldLot.Via.DIRECT, disposition=disposition)
    return hold


def add_serials(lot: Lot, *serials: str) -> None:
    SerialNumber.objects.bulk_create(SerialNumber(site_id=lot.site_id, lot=lot, serial=serial) for serial in serials)
