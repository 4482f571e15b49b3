"""Property test: the trace graph's lots and edges are exactly what a plain-Python breadth-first search reaches, on
random genealogies including cycles (written behind the services' back) and diamonds."""
from collections import deque

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import LotFactory
from traceability.models import GenealogyEdge
from traceability.services.trace import BACKWARD, BOTH, FORWARD, trace_graph

LOTS = 12
DB_PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Rollback(Exception):
    pass


def bfs(edges: set[tuple[int, int]], root: int, max_depth: int, forward: bool) -> dict[int, int]:
    """Shortest distance from root along edges (parent → child when forward), up to max_depth."""
    step: dict[int, list[int]] = {}
    for parent, child in edges:
        near, far = (parent, child) if forward else (child, parent)
        step.setdefault(near, []).append(far)
    depth, queue = {root: 0}, deque([root])
    while queue:
        lot = queue.popleft()
        if depth[lot] == max_depth:
            continue
        for other in step.get(lot, []):
            if other not in depth:
                depth[other] = depth[lot] + 1
                queue.append(other)
    return depth


def expected(edges, root, direction, max_depth) -> tuple[set[int], set[tuple[int, int]]]:
    backward = bfs(edges, root, max_depth, forward=False) if direction in (BACKWARD, BOTH) else {}
    forward = bfs(edges, root, max_depth, forward=True) if direction in (FORWARD, BOTH) else {}
    walked = {(p, c) for p, c in edges if p in backward and c in backward}
    walked |= {(p, c) for p, c in edges if p in forward and c in forward}
    return set(backward) | set(forward) | {root}, walked


edge_strategy = st.sets(
    st.tuples(st.integers(0, LOTS - 1), st.integers(0, LOTS - 1)).filter(lambda pair: pair[0] != pair[1]),
    max_size=30,
)


@pytest.mark.django_db
@DB_PROPERTY
@given(edges=edge_strategy, root=st.integers(0, LOTS - 1), direction=st.sampled_from([BACKWARD, FORWARD, BOTH]),
       max_depth=st.integers(0, 6))
def test_trace_graph_is_exactly_the_reachable_genealogy(site, edges, root, direction, max_depth):
    try:
        with transaction.atomic():
            lots = [LotFactory(site=site, code=f"R{index}") for index in range(LOTS)]
            GenealogyEdge.objects.bulk_create(GenealogyEdge(parent=lots[p], child=lots[c]) for p, c in edges)

            graph = trace_graph([lots[root]], direction=direction, max_depth=max_depth, node_limit=None)

            index_of = {lot.pk: index for index, lot in enumerate(lots)}
            nodes, walked = expected(edges, root, direction, max_depth)
            assert {index_of[node.lot_id] for node in graph.nodes} == nodes
            assert {(index_of[e.parent_id], index_of[e.child_id]) for e in graph.edges} == walked
            assert not graph.truncated
            raise Rollback
    except Rollback:
        pass


@pytest.mark.django_db
@DB_PROPERTY
@given(edges=edge_strategy, limit=st.integers(1, LOTS))
def test_node_limit_keeps_the_nearest_lots(site, edges, limit):
    try:
        with transaction.atomic():
            lots = [LotFactory(site=site, code=f"R{index}") for index in range(LOTS)]
            GenealogyEdge.objects.bulk_create(GenealogyEdge(parent=lots[p], child=lots[c]) for p, c in edges)

            graph = trace_graph([lots[0]], direction=FORWARD, node_limit=limit)

            reachable = bfs(edges, 0, 50, forward=True)
            assert len(graph.nodes) == min(limit, len(reachable))
            assert graph.truncated == (len(reachable) > limit)
            kept_depths = sorted(node.depth for node in graph.nodes)
            assert kept_depths == sorted(reachable.values())[:limit]
            raise Rollback
    except Rollback:
        pass
