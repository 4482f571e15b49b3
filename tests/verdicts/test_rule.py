"""The verdict rule on its own (no database): precedence reject > hold > pending > release."""
from hypothesis import given
from hypothesis import strategies as st

from traceability.verdicts.rule import HOLD, PENDING, REJECT, RELEASE, Entry, decide


def entry(disposition, *, released=False, hold_id=1, since="2026-11-20T08:00:00+00:00"):
    return Entry(hold_id, f"H-{hold_id}", "drift", since, disposition, released)


def test_no_entries_release():
    assert decide([]) == (RELEASE, [])


def test_every_entry_released_is_release():
    assert decide([entry("release"), entry("release", hold_id=2)])[0] == RELEASE


def test_held_is_hold():
    assert decide([entry("held")])[0] == HOLD


def test_rework_is_hold():
    assert decide([entry("rework")])[0] == HOLD


def test_held_on_a_released_hold_does_not_hold():
    assert decide([entry("held", released=True)])[0] == RELEASE


def test_nc_is_pending():
    assert decide([entry("nc"), entry("release", hold_id=2)])[0] == PENDING


def test_scrap_beats_everything():
    assert decide([entry("held"), entry("nc", hold_id=2), entry("scrap", hold_id=3)])[0] == REJECT


def test_hold_beats_pending():
    assert decide([entry("nc"), entry("held", hold_id=2)])[0] == HOLD


def test_reasons_are_the_deciding_entries_oldest_first():
    late, early = entry("held", hold_id=2, since="2026-11-20T09:00"), entry("held", hold_id=3, since="2026-11-20T07:00")
    verdict, reasons = decide([entry("nc"), late, early])
    assert verdict == HOLD and [r.hold_id for r in reasons] == [3, 2]


dispositions = st.sampled_from(["held", "release", "rework", "scrap", "nc"])
entries = st.lists(st.builds(entry, dispositions, released=st.booleans(), hold_id=st.integers(1, 9)), max_size=8)


@given(entries)
def test_precedence_property(lot_entries):
    verdict, reasons = decide(lot_entries)
    has = {e.disposition for e in lot_entries}
    open_ = any(e.disposition in ("held", "rework") and not e.hold_released for e in lot_entries)
    expected = REJECT if "scrap" in has else HOLD if open_ else PENDING if "nc" in has else RELEASE
    assert verdict == expected
    assert bool(reasons) == (verdict != RELEASE)


@given(entries)
def test_order_of_entries_does_not_matter(lot_entries):
    assert decide(lot_entries)[0] == decide(list(reversed(lot_entries)))[0]
