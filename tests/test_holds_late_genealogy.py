"""Forward propagation after the freeze: a lot made from a held lot is held too, whenever its genealogy is
recorded (edge or register_lot with parents) — with its own descendants, at the parent's depth + 1."""
import pytest

from qms.models import AuditEntry
from tests.factories_holds import PASSWORD, Plant, at, link
from traceability.models import Hold, HoldLot
from traceability.services.genealogy import add_genealogy_edge
from traceability.services.holds import freeze_window, release_hold
from traceability.services.lots import ParentLink, register_lot
from traceability.verdicts.compute import compute_verdicts_for_codes

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return Plant()


def held(hold) -> dict[str, tuple[str, int]]:
    return {entry.lot.code: (entry.via, entry.depth) for entry in hold.lots.select_related("lot")}


def verdict(plant, code) -> str:
    return compute_verdicts_for_codes(plant.site.pk, [code])[code].verdict


def frozen(plant, *, propagate=True):
    plant.lot("MOULDED", equipment=plant.imm02, start=8, end=9)
    return freeze_window(plant.imm02, at(7), at(10), reason="barrel zone 2 +4 °C", propagate_forward=propagate)


def test_a_lot_made_from_a_held_lot_after_the_freeze_is_held(plant):
    hold = frozen(plant)
    assembled = plant.lot("ASSEMBLED")

    add_genealogy_edge(plant.site.lots.get(code="MOULDED"), assembled)

    assert held(hold)["ASSEMBLED"] == (HoldLot.Via.GENEALOGY, 1)
    assert verdict(plant, "ASSEMBLED") == "hold"
    assert AuditEntry.objects.filter(action="lots_added", object_pk=str(hold.pk)).exists()


def test_register_lot_with_a_held_parent_is_held(plant):
    hold = frozen(plant)
    moulded = plant.site.lots.get(code="MOULDED")

    register_lot(plant.site, "PACKED", kind="material", parents=[ParentLink(lot=moulded, quantity=1.0)])

    assert held(hold)["PACKED"] == (HoldLot.Via.GENEALOGY, 1)


def test_the_childs_own_descendants_join_at_their_depth(plant):
    hold = frozen(plant)
    child, grandchild = plant.lot("CHILD"), plant.lot("GRANDCHILD")
    link(child, grandchild)

    add_genealogy_edge(plant.site.lots.get(code="MOULDED"), child)

    assert held(hold)["CHILD"] == (HoldLot.Via.GENEALOGY, 1)
    assert held(hold)["GRANDCHILD"] == (HoldLot.Via.GENEALOGY, 2)
    assert verdict(plant, "GRANDCHILD") == "hold"


def test_a_chain_built_after_the_freeze_is_held_to_the_end(plant):
    hold = frozen(plant)
    child, grandchild = plant.lot("CHILD"), plant.lot("GRANDCHILD")

    add_genealogy_edge(plant.site.lots.get(code="MOULDED"), child)
    add_genealogy_edge(child, grandchild)

    assert held(hold)["GRANDCHILD"] == (HoldLot.Via.GENEALOGY, 2)


def test_a_released_parent_passes_nothing_on(plant):
    hold = frozen(plant)
    release_hold(hold.pk, user=plant.engineer, password=PASSWORD, meaning="released after re-inspection")
    child = plant.lot("CHILD")

    add_genealogy_edge(plant.site.lots.get(code="MOULDED"), child)

    assert "CHILD" not in held(hold) and verdict(plant, "CHILD") == "release"


def test_a_hold_without_propagation_takes_no_children(plant):
    hold = frozen(plant, propagate=False)
    child = plant.lot("CHILD")

    add_genealogy_edge(plant.site.lots.get(code="MOULDED"), child)

    assert "CHILD" not in held(hold)
    assert Hold.objects.get(pk=hold.pk).version == hold.version
