"""Hold services: scope (explicit lots, window overlap, forward propagation), open windows, numbering, validation."""
from datetime import timedelta

import pytest
from django.utils import timezone

from qms.models import AuditEntry
from tests.factories_holds import Plant, at, link
from traceability import services
from traceability.models import Hold, HoldLot
from traceability.seams import hold_changed
from traceability.services.holds import HoldError, close_alarm_windows, close_hold_window, freeze_window, place_hold

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return Plant()


def held(hold) -> dict[str, tuple[str, int]]:
    return {entry.lot.code: (entry.via, entry.depth) for entry in hold.lots.select_related("lot")}


# --- window overlap ------------------------------------------------------------------------------------------------


def test_window_holds_lots_overlapping_it_and_not_the_others(plant):
    plant.lot("BEFORE", equipment=plant.imm02, start=6, end=7.5)
    plant.lot("ACROSS-START", equipment=plant.imm02, start=7.5, end=8.5)
    plant.lot("INSIDE", equipment=plant.imm02, start=8.5, end=9)
    plant.lot("ACROSS-END", equipment=plant.imm02, start=9.5, end=11)
    plant.lot("AFTER", equipment=plant.imm02, start=10.5, end=12)
    plant.lot("OTHER-MACHINE", equipment=plant.imm01, start=8.5, end=9)

    hold = freeze_window(plant.imm02, at(8), at(10), reason="barrel zone 2 +4 °C")

    assert set(held(hold)) == {"ACROSS-START", "INSIDE", "ACROSS-END"}


def test_a_run_touching_the_window_at_one_instant_is_held(plant):
    plant.lot("ENDS-AT-START", equipment=plant.imm02, start=6, end=8)
    plant.lot("STARTS-AT-END", equipment=plant.imm02, start=10, end=11)

    hold = freeze_window(plant.imm02, at(8), at(10), reason="drift")

    assert set(held(hold)) == {"ENDS-AT-START", "STARTS-AT-END"}


def test_a_run_still_open_when_the_window_starts_is_held(plant):
    plant.lot("RUNNING", equipment=plant.imm02, start=6)

    hold = freeze_window(plant.imm02, at(8), at(10), reason="drift")

    assert held(hold) == {"RUNNING": ("window", 0)}


def test_window_lots_are_marked_window_and_named_lots_direct(plant):
    plant.lot("W", equipment=plant.imm02, start=8, end=9)
    plant.lot("NAMED")

    hold = place_hold(plant.site, reason="suspect", lots=["NAMED"], equipment=plant.imm02,
                      window_start=at(7), window_end=at(10))

    assert held(hold) == {"W": ("window", 0), "NAMED": ("direct", 0)}


# --- propagation ---------------------------------------------------------------------------------------------------


def test_forward_propagation_holds_everything_made_from_window_lots_with_depth(plant):
    moulded = plant.lot("MOULDED", equipment=plant.imm02, start=8, end=9)
    assembled, packed = plant.lot("ASSEMBLED"), plant.lot("PACKED")
    untouched = plant.lot("UNRELATED")
    link(moulded, assembled)
    link(assembled, packed)
    link(untouched, packed)

    hold = freeze_window(plant.imm02, at(8), at(10), reason="drift")

    assert held(hold) == {"MOULDED": ("window", 0), "ASSEMBLED": ("genealogy", 1), "PACKED": ("genealogy", 2)}


def test_without_propagation_only_the_window_lots_are_held(plant):
    moulded = plant.lot("MOULDED", equipment=plant.imm02, start=8, end=9)
    link(moulded, plant.lot("ASSEMBLED"))

    hold = freeze_window(plant.imm02, at(8), at(10), reason="drift", propagate_forward=False)

    assert set(held(hold)) == {"MOULDED"}


def test_propagation_through_a_cycle_ends_and_holds_each_lot_once(plant):
    a = plant.lot("A", equipment=plant.imm02, start=8, end=9)
    b, c = plant.lot("B"), plant.lot("C")
    link(a, b)
    link(b, c)
    link(c, a)  # written behind the services' back: they refuse cycles

    hold = freeze_window(plant.imm02, at(8), at(10), reason="drift")

    assert held(hold) == {"A": ("window", 0), "B": ("genealogy", 1), "C": ("genealogy", 2)}
    assert HoldLot.objects.filter(hold=hold).count() == 3


def test_a_lot_reached_by_two_paths_takes_the_shortest_depth(plant):
    a = plant.lot("A", equipment=plant.imm02, start=8, end=9)
    b, c = plant.lot("B"), plant.lot("C")
    link(a, b)
    link(b, c)
    link(a, c)

    hold = freeze_window(plant.imm02, at(8), at(10), reason="drift")

    assert held(hold)["C"] == ("genealogy", 1)


def test_explicit_lots_propagate_forward_when_asked(plant):
    material = plant.lot("RESIN-7")
    link(material, plant.lot("MOULDED"))

    hold = place_hold(plant.site, reason="supplier complaint", lots=["RESIN-7"], propagate_forward=True)

    assert held(hold) == {"RESIN-7": ("direct", 0), "MOULDED": ("genealogy", 1)}


# --- open windows --------------------------------------------------------------------------------------------------


def test_a_lot_starting_while_the_window_is_open_joins_the_hold(plant):
    hold = freeze_window(plant.imm02, timezone.now() - timedelta(minutes=10), reason="drift")
    lot = plant.lot("LATE")

    services.start_lot_run(lot, plant.imm02, timezone.now())

    assert held(hold) == {"LATE": ("window", 0)}


def test_a_lot_starting_on_another_machine_does_not_join(plant):
    hold = freeze_window(plant.imm02, timezone.now() - timedelta(minutes=10), reason="drift")

    services.start_lot_run(plant.lot("ELSEWHERE"), plant.imm01, timezone.now())

    assert held(hold) == {}


def test_after_the_window_closes_a_later_lot_is_not_held(plant):
    now = timezone.now()
    hold = freeze_window(plant.imm02, now - timedelta(minutes=10), reason="drift")
    close_hold_window(hold.pk, end=now - timedelta(minutes=5))

    services.start_lot_run(plant.lot("AFTER"), plant.imm02, now)

    hold.refresh_from_db()
    assert hold.window_end == now - timedelta(minutes=5)
    assert held(hold) == {}


def test_a_joining_lot_brings_what_was_made_from_it(plant):
    hold = freeze_window(plant.imm02, timezone.now() - timedelta(minutes=10), reason="drift")
    lot = plant.lot("LATE")
    link(lot, plant.lot("LATE-ASSY"))

    services.start_lot_run(lot, plant.imm02, timezone.now())

    assert held(hold) == {"LATE": ("window", 0), "LATE-ASSY": ("genealogy", 1)}


def test_a_released_hold_takes_no_new_lots(plant):
    hold = freeze_window(plant.imm02, timezone.now() - timedelta(minutes=10), reason="drift")
    services.holds.release_hold(hold.pk, user=plant.engineer, password="pw-Quality-2026", meaning="machine fixed")

    services.start_lot_run(plant.lot("LATE"), plant.imm02, timezone.now())

    assert held(hold) == {}


def test_closing_the_window_again_at_the_same_end_is_a_retry(plant):
    hold = freeze_window(plant.imm02, at(8), reason="drift")
    close_hold_window(hold.pk, end=at(9))

    again = close_hold_window(hold.pk, end=at(9))

    assert again.window_end == at(9) and again.version == 2


def test_closing_a_closed_window_at_another_end_is_refused(plant):
    hold = freeze_window(plant.imm02, at(8), at(9), reason="drift")

    with pytest.raises(HoldError) as error:
        close_hold_window(hold.pk, end=at(10))

    assert error.value.code == "window_closed"


def test_closing_a_window_before_its_start_is_refused(plant):
    hold = freeze_window(plant.imm02, at(8), reason="drift")

    with pytest.raises(HoldError) as error:
        close_hold_window(hold.pk, end=at(7))

    assert error.value.code == "window_end_before_start" and "08:00" in error.value.message


def test_close_alarm_windows_closes_the_open_windows_of_that_alarm_only(plant):
    from tests.factories_holds import alarm_for

    alarm, other = alarm_for(plant, "a"), alarm_for(plant, "b")
    mine = freeze_window(plant.imm02, at(8), reason="drift", alarm=alarm)
    theirs = freeze_window(plant.imm01, at(8), reason="drift", alarm=other)

    closed = close_alarm_windows(alarm.pk, end=at(9))

    theirs.refresh_from_db()
    assert [hold.pk for hold in closed] == [mine.pk] and closed[0].window_end == at(9)
    assert theirs.window_end is None and mine.source == Hold.Source.ALARM


# --- numbering, audit, seams ---------------------------------------------------------------------------------------


def test_holds_are_numbered_per_site(plant):
    first = place_hold(plant.site, reason="one", lots=[plant.lot("A").code])
    second = place_hold(plant.site, reason="two", lots=[plant.lot("B").code])
    foreign = place_hold(plant.other_site, reason="three", lots=[plant.lot("C", site=plant.other_site).code])

    assert (first.number, second.number, foreign.number) == ("H-S1-000001", "H-S1-000002", "H-S2-000001")


def test_placing_a_hold_is_audited_with_its_reason(plant):
    plant.lot("W", equipment=plant.imm02, start=8, end=9)

    hold = freeze_window(plant.imm02, at(8), at(10), reason="barrel zone 2 +4 °C")

    entry = AuditEntry.objects.get(action="place_hold", object_pk=str(hold.pk))
    assert entry.reason == "barrel zone 2 +4 °C" and entry.changes["lots"] == [None, 1]
    assert AuditEntry.objects.filter(model="traceability.Hold", action="create", object_pk=str(hold.pk)).exists()


def test_hold_changed_is_sent_after_commit(plant, django_capture_on_commit_callbacks):
    events = []
    receiver = lambda sender, **kwargs: events.append((kwargs["hold_id"], kwargs["event"]))  # noqa: E731
    hold_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            hold = place_hold(plant.site, reason="r", lots=[plant.lot("A").code])
            assert events == []
    finally:
        hold_changed.disconnect(receiver)

    assert events == [(hold.pk, "placed")]


def test_verdict_cache_is_told_which_lots_changed(plant, monkeypatch):
    noted = []
    monkeypatch.setattr("traceability.services.holds.note_lots_changed",
                        lambda site_id, lot_ids: noted.append((site_id, sorted(lot_ids))))
    lot = plant.lot("A")

    place_hold(plant.site, reason="r", lots=["A"])

    assert noted == [(plant.site.pk, [lot.pk])]


# --- validation ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "code", "field"), [
    ({"lots": ["NOPE", "ALSO-NOPE"]}, "unknown_lot", "lots"),
    ({}, "empty_scope", "lots"),
    ({"equipment": "imm02", "window_start": at(10), "window_end": at(9)}, "window_end_before_start", "window_end"),
    ({"equipment": "foreign_machine", "window_start": at(8)}, "equipment_other_site", "equipment"),
    ({"equipment": "imm02"}, "window_start_required", "window_start"),
    ({"window_start": at(8)}, "window_without_equipment", "equipment"),
    ({"equipment": "imm02", "window_start": "future"}, "window_in_future", "window_start"),
    ({"equipment": "imm02", "window_start": "naive"}, "window_naive", "window_start"),
])
def test_bad_scope_is_refused_naming_the_problem(plant, kwargs, code, field):
    kwargs = dict(kwargs)
    if "equipment" in kwargs:
        kwargs["equipment"] = getattr(plant, kwargs["equipment"])
    if kwargs.get("window_start") == "future":
        kwargs["window_start"] = timezone.now() + timedelta(hours=1)
    elif kwargs.get("window_start") == "naive":
        kwargs["window_start"] = at(8).replace(tzinfo=None)

    with pytest.raises(HoldError) as error:
        place_hold(plant.site, reason="r", **kwargs)

    assert (error.value.code, error.value.field) == (code, field)
    assert Hold.objects.count() == 0


def test_unknown_lots_are_named(plant):
    plant.lot("REAL")

    with pytest.raises(HoldError) as error:
        place_hold(plant.site, reason="r", lots=["REAL", "GHOST-1", "GHOST-2"])

    assert "GHOST-1, GHOST-2" in error.value.message and error.value.details == {"lots": ["GHOST-1", "GHOST-2"]}


def test_a_lot_of_another_site_is_unknown_here(plant):
    plant.lot("THEIRS", site=plant.other_site)

    with pytest.raises(HoldError) as error:
        place_hold(plant.site, reason="r", lots=["THEIRS"])

    assert error.value.code == "unknown_lot"


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_hold_needs_a_reason(plant, reason):
    plant.lot("A")

    with pytest.raises(HoldError) as error:
        place_hold(plant.site, reason=reason, lots=["A"])

    assert (error.value.code, error.value.field) == ("reason_required", "reason")
