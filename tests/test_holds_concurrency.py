"""Races on PostgreSQL's real row locks: two deciders on one lot, a hold placed while a run starts, two holds at once,
a genealogy edge recorded while a propagating hold is placed."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories_holds import PASSWORD, Plant, at
from tests.race_helpers import while_paused
from tests.test_lots_concurrency import race
from traceability import services
from traceability.models import Hold, HoldLot
from traceability.services.holds import HoldError, dispose_hold_lot, freeze_window, place_hold, release_hold

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def plant():
    return Plant()


def test_two_engineers_deciding_one_lot_at_once_one_wins(plant):
    plant.lot("A")
    hold = place_hold(plant.site, reason="suspect", lots=["A"])
    entry = HoldLot.objects.get(hold=hold)

    def decide(user, disposition):
        return lambda: dispose_hold_lot(entry.pk, disposition=disposition, user=user, password=PASSWORD,
                                        meaning="decided")

    outcomes = race(decide(plant.engineer, "release"), decide(plant.engineer2, "scrap"))

    refused = [o for o in outcomes if isinstance(o, HoldError)]
    assert len(refused) == 1 and refused[0].code == "already_decided"
    entry.refresh_from_db()
    winner = next(o for o in outcomes if isinstance(o, HoldLot))
    assert entry.disposition == winner.disposition and entry.version == 2


def test_a_lot_decision_and_a_hold_release_at_once_stay_consistent(plant):
    plant.lot("A")
    plant.lot("B")
    hold = place_hold(plant.site, reason="suspect", lots=["A", "B"])
    entry = HoldLot.objects.get(hold=hold, lot__code="A")

    outcomes = race(
        lambda: dispose_hold_lot(entry.pk, disposition="scrap", user=plant.engineer, password=PASSWORD, meaning="x"),
        lambda: release_hold(hold.pk, user=plant.engineer2, password=PASSWORD, meaning="y"),
    )

    hold.refresh_from_db()
    assert not any(isinstance(o, Exception) and not isinstance(o, HoldError) for o in outcomes)
    assert hold.state == Hold.State.RELEASED
    assert not hold.lots.filter(disposition="held").exists()


def test_a_run_starting_while_the_hold_is_placed_is_held(plant):
    now = timezone.now()
    lot = plant.lot("RACING")

    outcomes = race(lambda: freeze_window(plant.imm02, now - timedelta(minutes=5), reason="drift"),
                    lambda: services.start_lot_run(lot, plant.imm02, now))

    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    assert HoldLot.objects.filter(lot=lot).count() == 1


def test_two_holds_placed_at_once_get_distinct_numbers(plant):
    plant.lot("A")
    plant.lot("B")

    outcomes = race(lambda: place_hold(plant.site, reason="one", lots=["A"]),
                    lambda: place_hold(plant.site, reason="two", lots=["B"]))

    assert sorted(o.number for o in outcomes) == ["H-S1-000001", "H-S1-000002"]


def test_an_edge_recorded_while_a_propagating_freeze_traces_is_held(plant):
    """The freeze has traced and inserted but not committed when the edge is written: the edge's writer waits for the
    freeze's commit and then finds the hold (without the shared site lock it saw no hold, the freeze no edge)."""
    parent = plant.lot("PARENT", equipment=plant.imm02, start=1, end=2)
    child = plant.lot("CHILD")
    outcomes = while_paused("traceability.services.holds._materialise",
                            lambda: freeze_window(plant.imm02, at(0), at(3), reason="drift"),
                            lambda: services.add_genealogy_edge(parent, child, 1.0))
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    assert HoldLot.objects.filter(lot=child).exists()


def test_a_freeze_placed_while_an_edge_is_being_recorded_traces_it(plant):
    """The edge is written but not committed when the freeze starts: the freeze waits and then traces it."""
    parent = plant.lot("PARENT", equipment=plant.imm02, start=1, end=2)
    child = plant.lot("CHILD")
    outcomes = while_paused("traceability.services.hold_propagation.hold_new_child",
                            lambda: services.add_genealogy_edge(parent, child, 1.0),
                            lambda: freeze_window(plant.imm02, at(0), at(3), reason="drift"))
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    assert HoldLot.objects.filter(lot=child).exists()


def _while_a_decider_holds_the_hold(plant, entry, call) -> list:
    """`call` runs while an engineer's decision on `entry` has locked its hold and is about to sign (audit head)."""
    return while_paused("traceability.services.holds._locked_hold",
                        lambda: dispose_hold_lot(entry.pk, disposition="release", user=plant.engineer,
                                                 password=PASSWORD, meaning="re-inspected"), call)


def test_a_decision_on_an_open_window_hold_and_a_lot_starting_under_it_do_not_deadlock(plant):
    """The decider locks the hold, then signs (audit chain head); a run start locks the equipment and the holds its
    run joins before its first audited change — so the two queue up on the hold row instead of deadlocking."""
    plant.lot("A", equipment=plant.imm02, start=1, end=2)
    newcomer = plant.lot("B")
    hold = freeze_window(plant.imm02, at(0), None, reason="drift")
    entry = HoldLot.objects.get(hold=hold, lot__code="A")
    outcomes = _while_a_decider_holds_the_hold(plant, entry,
                                               lambda: services.start_lot_run(newcomer, plant.imm02, at(3)))
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    assert set(HoldLot.objects.filter(hold=hold).values_list("lot__code", "disposition")) == {
        ("A", "release"), ("B", "held")}


def test_a_decision_and_a_lot_registered_under_the_open_window_do_not_deadlock(plant):
    """register_lot (MES reporting a lot start) creates the lot — an audited change — before its run: it takes the
    run's hold locks first, as start_lot_run does."""
    plant.lot("A", equipment=plant.imm02, start=1, end=2)
    hold = freeze_window(plant.imm02, at(0), None, reason="drift")
    entry = HoldLot.objects.get(hold=hold, lot__code="A")
    outcomes = _while_a_decider_holds_the_hold(
        plant, entry, lambda: services.register_lot(plant.site, "B", equipment=plant.imm02, started_at=at(3)))
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    assert set(HoldLot.objects.filter(hold=hold).values_list("lot__code", "disposition")) == {
        ("A", "release"), ("B", "held")}


def test_a_decision_and_an_edge_from_a_held_lot_do_not_deadlock(plant):
    """add_genealogy_edge locks the parent's propagating holds before the edge's audit entry."""
    parent = plant.lot("A", equipment=plant.imm02, start=1, end=2)
    other = plant.lot("A2", equipment=plant.imm02, start=2, end=2.5)
    child = plant.lot("C")
    hold = freeze_window(plant.imm02, at(0), at(3), reason="drift")
    entry = HoldLot.objects.get(hold=hold, lot=other)
    outcomes = _while_a_decider_holds_the_hold(plant, entry,
                                               lambda: services.add_genealogy_edge(parent, child, 1.0))
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    assert HoldLot.objects.filter(hold=hold, lot=child).exists()
