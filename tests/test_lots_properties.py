"""Property tests: the SQL behind windows and traces agrees with plain-Python references on random data."""
from collections import deque
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qms.api.events import query_timestamp
from tests.factories import LotFactory
from traceability import services
from traceability.models import GenealogyEdge, LotRun

BASE = datetime(2026, 11, 1, tzinfo=UTC)
NOW = BASE + timedelta(minutes=30)
DB_PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def minutes(m: int) -> datetime:
    return BASE + timedelta(minutes=m)


class Rollback(Exception):
    pass


def in_rollback(body):
    """Run `body` in a transaction that is rolled back: each hypothesis example starts from the fixture's data."""
    try:
        with transaction.atomic():
            body()
            raise Rollback
    except Rollback:
        pass


# --- the time window -----------------------------------------------------------------------------------------------

# Small ranges on purpose: coinciding instants (run end == window start, …) must come up often.
run_strategy = st.tuples(st.integers(0, 40), st.one_of(st.none(), st.integers(0, 10)))


def overlaps_reference(start: int, duration: int | None, lo: int, hi: int | None) -> bool:
    """Both window ends inclusive; an open run runs from its start until NOW."""
    end = start + duration if duration is not None else None
    if hi is not None and start > hi:
        return False
    if end is None:
        return minutes(lo) <= NOW
    return end >= lo


@pytest.mark.django_db
@DB_PROPERTY
@given(runs=st.lists(run_strategy, max_size=12), lo=st.integers(0, 50), span=st.one_of(st.none(), st.integers(0, 15)))
def test_window_matches_reference(site, equipment, runs, lo, span):
    hi = lo + span if span is not None else None

    def body():
        lots = [LotFactory(site=site, code=f"W{i}") for i in range(len(runs))]
        # Written directly: the window must be right on any data, also overlaps the services would refuse.
        LotRun.objects.bulk_create(
            LotRun(lot=lot, equipment=equipment, started_at=minutes(start),
                   ended_at=minutes(start + duration) if duration is not None else None)
            for lot, (start, duration) in zip(lots, runs, strict=True)
        )
        found = set(services.lots_on_equipment_between(
            equipment, minutes(lo), minutes(hi) if hi is not None else None, now=NOW
        ).values_list("code", flat=True))
        expected = {f"W{i}" for i, (start, duration) in enumerate(runs) if overlaps_reference(start, duration, lo, hi)}
        assert found == expected

    in_rollback(body)


# --- traces --------------------------------------------------------------------------------------------------------

edges_strategy = st.sets(st.tuples(st.integers(0, 9), st.integers(0, 9)).filter(lambda e: e[0] != e[1]), max_size=25)


def bfs_reference(edges, seeds, forward=True) -> dict[int, int]:
    adjacency: dict[int, list[int]] = {}
    for parent, child in edges:
        source, target = (parent, child) if forward else (child, parent)
        adjacency.setdefault(source, []).append(target)
    depth = {seed: 0 for seed in seeds}
    queue = deque(seeds)
    while queue:
        node = queue.popleft()
        for nxt in adjacency.get(node, []):
            if nxt not in depth:
                depth[nxt] = depth[node] + 1
                queue.append(nxt)
    return depth


@pytest.mark.django_db
@DB_PROPERTY
@given(edges=edges_strategy, seeds=st.sets(st.integers(0, 9), min_size=1, max_size=3), forward=st.booleans())
def test_trace_matches_breadth_first_search_even_with_cycles(site, edges, seeds, forward):
    def body():
        lots = [LotFactory(site=site, code=f"G{i}") for i in range(10)]
        GenealogyEdge.objects.bulk_create(GenealogyEdge(parent=lots[p], child=lots[c]) for p, c in edges)
        trace = services.trace_forward if forward else services.trace_backward
        found = trace([lots[s].pk for s in seeds], max_depth=20)
        index = {lot.pk: i for i, lot in enumerate(lots)}
        assert {index[pk]: depth for pk, depth in found.items()} == bfs_reference(edges, seeds, forward)

    in_rollback(body)


@pytest.mark.django_db
@DB_PROPERTY
@given(attempts=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=20))
def test_service_accepts_an_edge_exactly_when_it_keeps_the_genealogy_acyclic(site, attempts):
    def body():
        lots = [LotFactory(site=site, code=f"E{i}") for i in range(7)]
        accepted: set[tuple[int, int]] = set()
        for parent, child in attempts:
            would_cycle = parent == child or parent in bfs_reference(accepted, [child])
            try:
                services.add_genealogy_edge(lots[parent], lots[child])
                refused = False
            except ValidationError:
                refused = True
            assert refused == would_cycle
            if not refused:
                accepted.add((parent, child))

    in_rollback(body)


# --- query-string timestamps ---------------------------------------------------------------------------------------


@given(
    moment=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1)),
    offset_minutes=st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15),
)
def test_query_timestamp_survives_an_unencoded_plus(moment, offset_minutes):
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    sent = aware.isoformat()

    assert query_timestamp("since", sent.replace("+", " ")) == aware
