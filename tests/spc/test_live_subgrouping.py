"""Subgroup formation (spc.services.subgrouping): live deliveries, however chunked and with the open subgroup
stored as JSON between them, form exactly the subgroups a baseline forms from the same values in one go."""
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from spc.services.subgrouping import SubgroupFormer, Value

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def values_from(steps, lots):
    ts, out = START, []
    for i, (step, lot) in enumerate(zip(steps, lots, strict=False)):
        ts += timedelta(seconds=step)
        out.append(Value(i + 1, ts, 230.0 + (i % 7) / 10, lot))
    return out


def chunked(values, cuts):
    points = sorted({c % (len(values) + 1) for c in cuts} | {0, len(values)})
    return [values[a:b] for a, b in zip(points, points[1:], strict=False)]


modes = st.sampled_from([("count", 5, None), ("count", 2, None), ("time", 25, 30), ("lot", 4, None)])
steps = st.lists(st.integers(min_value=0, max_value=40), min_size=0, max_size=80)
lots = st.lists(st.sampled_from(["L-1", "L-2", ""]), min_size=80, max_size=80)


@given(modes, steps, lots, st.lists(st.integers(min_value=0, max_value=100), max_size=10))
def test_chunked_deliveries_form_the_same_subgroups_as_one_pass(mode, step_list, lot_list, cuts):
    kind, size, window = mode
    values = values_from(step_list, lot_list)
    whole = SubgroupFormer(kind, size, window)
    expected = [g.ids for g in whole.feed(values)]
    pending, got = [], []
    for chunk in chunked(values, cuts):
        former = SubgroupFormer(kind, size, window, pending)
        got += [g.ids for g in former.feed(chunk)]
        pending = former.pending_json()  # what the state row keeps between deliveries
    assert got == expected
    assert [p[0] for p in pending] == [v.id for v in whole.pending]


@given(modes, steps, lots)
def test_every_value_lands_in_one_subgroup_or_stays_open_or_is_counted_dropped(mode, step_list, lot_list):
    kind, size, window = mode
    values = values_from(step_list, lot_list)
    former = SubgroupFormer(kind, size, window)
    groups = former.feed(values)
    used = [i for g in groups for i in g.ids]
    assert len(used) + len(former.pending) + former.dropped == len(values)
    assert len(set(used)) == len(used)
    assert all(2 <= len(g.members) <= (size if kind != "time" else 25) for g in groups)


def test_count_subgroups_close_at_the_size():
    values = values_from([1] * 12, ["L"] * 12)
    former = SubgroupFormer("count", 5, None)
    assert [g.ids for g in former.feed(values)] == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    assert [v.id for v in former.pending] == [11, 12]


def test_time_windows_close_when_a_later_window_starts():
    values = values_from([0, 10, 10, 40, 5, 60], [""] * 6)  # 08:00:00, :10, :20 | :60→01:00, :05 | 02:05
    former = SubgroupFormer("time", 25, 60)
    assert [g.ids for g in former.feed(values)] == [[1, 2, 3], [4, 5]]
    assert [v.id for v in former.pending] == [6]


def test_a_lot_with_a_single_value_is_dropped_not_charted():
    values = values_from([1] * 4, ["A", "B", "B", "C"])
    former = SubgroupFormer("lot", 5, None)
    assert [g.ids for g in former.feed(values)] == [[2, 3]]
    assert former.dropped == 1 and [v.id for v in former.pending] == [4]
