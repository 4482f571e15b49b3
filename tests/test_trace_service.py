"""The trace graph service: reachable lots with details, the walked edges, depth and node limits."""
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import EquipmentFactory, LotRunFactory, ProductFactory
from tests.factories_trace import add_serials, hold_lots, link_all, make_lots
from traceability.models import HoldLot
from traceability.services.trace import BACKWARD, BOTH, FORWARD, TraceError, trace_graph


def codes(graph) -> dict[str, tuple[str, int]]:
    return {node.code: (node.side, node.depth) for node in graph.nodes}


def edge_pairs(graph) -> set[tuple[str, str]]:
    return {(edge.parent, edge.child) for edge in graph.edges}


@pytest.fixture
def diamond(site):
    """M → A, M → B, A → P, B → P, P → Q (material M, intermediate A/B, product P, pack Q)."""
    lots = make_lots(site, "M", "A", "B", "P", "Q")
    link_all(lots, [("M", "A"), ("M", "B"), ("A", "P"), ("B", "P"), ("P", "Q")])
    return lots


def test_backward_trace_of_a_diamond_reaches_every_ancestor_once(diamond):
    graph = trace_graph([diamond["Q"]], direction=BACKWARD)

    assert codes(graph) == {"Q": ("root", 0), "P": ("backward", 1), "A": ("backward", 2), "B": ("backward", 2),
                            "M": ("backward", 3)}
    assert edge_pairs(graph) == {("M", "A"), ("M", "B"), ("A", "P"), ("B", "P"), ("P", "Q")}
    assert not graph.truncated


def test_forward_trace_of_a_diamond(diamond):
    graph = trace_graph([diamond["M"]], direction=FORWARD)

    assert codes(graph) == {"M": ("root", 0), "A": ("forward", 1), "B": ("forward", 1), "P": ("forward", 2),
                            "Q": ("forward", 3)}
    assert {(e.parent, e.child): e.depth for e in graph.edges} == {
        ("M", "A"): 1, ("M", "B"): 1, ("A", "P"): 2, ("B", "P"): 2, ("P", "Q"): 3}


def test_both_directions_place_ancestors_and_descendants_on_their_sides(diamond):
    graph = trace_graph([diamond["A"]], direction=BOTH)

    assert codes(graph) == {"M": ("backward", 1), "A": ("root", 0), "P": ("forward", 1), "Q": ("forward", 2)}
    # B is a sibling, not an ancestor or descendant of A: neither B nor its edges belong to A's trace.
    assert edge_pairs(graph) == {("M", "A"), ("A", "P"), ("P", "Q")}
    assert [node.layer for node in graph.nodes] == [-1, 0, 1, 2]


def test_edges_carry_quantity_and_unit(site):
    lots = make_lots(site, "RESIN", "P1")
    link_all(lots, [("RESIN", "P1")], quantity=12.5, unit="kg")

    (edge,) = trace_graph([lots["P1"]], direction=BACKWARD).edges

    assert (edge.parent, edge.child, edge.quantity, edge.unit, edge.side, edge.depth) == (
        "RESIN", "P1", 12.5, "kg", BACKWARD, 1)


def test_a_cycle_written_behind_the_services_back_ends(site):
    lots = make_lots(site, "X", "Y", "Z")
    link_all(lots, [("X", "Y"), ("Y", "Z"), ("Z", "X")])

    graph = trace_graph([lots["X"]], direction=BOTH, max_depth=10)

    assert set(codes(graph)) == {"X", "Y", "Z"}
    assert edge_pairs(graph) == {("X", "Y"), ("Y", "Z"), ("Z", "X")}


def test_deep_chain_is_traced_to_the_end(site):
    names = [f"C{i:03d}" for i in range(150)]
    lots = make_lots(site, *names)
    link_all(lots, zip(names, names[1:], strict=False))

    graph = trace_graph([lots["C000"]], direction=FORWARD, max_depth=200)

    assert len(graph.nodes) == 150 and graph.node(lots["C149"].pk).depth == 149
    assert len(graph.edges) == 149 and not graph.reached_max_depth


def test_max_depth_stops_the_walk_and_says_so(site):
    names = [f"C{i}" for i in range(10)]
    lots = make_lots(site, *names)
    link_all(lots, zip(names, names[1:], strict=False))

    graph = trace_graph([lots["C0"]], direction=FORWARD, max_depth=3)

    assert set(codes(graph)) == {"C0", "C1", "C2", "C3"}
    assert edge_pairs(graph) == {("C0", "C1"), ("C1", "C2"), ("C2", "C3")}
    assert graph.reached_max_depth


def test_node_limit_keeps_the_nearest_lots_and_flags_truncation(site):
    lots = make_lots(site, "ROOT", *[f"K{i}" for i in range(6)], *[f"G{i}" for i in range(6)])
    link_all(lots, [("ROOT", f"K{i}") for i in range(6)] + [(f"K{i}", f"G{i}") for i in range(6)])

    graph = trace_graph([lots["ROOT"]], direction=FORWARD, node_limit=7)

    assert graph.truncated and len(graph.nodes) == 7
    assert {node.depth for node in graph.nodes} == {0, 1}  # all children kept before any grandchild
    assert all(edge.parent == "ROOT" for edge in graph.edges) and len(graph.edges) == 6


def test_nodes_carry_lot_details_runs_serials_and_open_holds(site):
    product = ProductFactory(site=site, part_number="HSG-100", revision="B")
    lots = make_lots(site, "RES", "P1")
    lots["P1"].product, lots["P1"].quantity, lots["P1"].unit = product, 500, "pcs"
    lots["P1"].save()
    link_all(lots, [("RES", "P1")])
    imm = EquipmentFactory(code="IMM02", work_center__line__area__site=site, site=site)
    started = datetime(2026, 11, 28, 6, tzinfo=UTC)
    LotRunFactory(lot=lots["P1"], equipment=imm, started_at=started, ended_at=None)
    add_serials(lots["P1"], "SN-1", "SN-2")
    hold_lots(site, lots["P1"], number="H-7")
    hold_lots(site, lots["RES"], disposition=HoldLot.Disposition.RELEASE, number="H-8")

    graph = trace_graph([lots["P1"]], direction=BACKWARD)
    product_lot, resin = graph.node(lots["P1"].pk), graph.node(lots["RES"].pk)

    assert (product_lot.product, product_lot.quantity, product_lot.unit) == (("HSG-100", "B"), 500, "pcs")
    assert [(run.equipment, run.started_at, run.ended_at) for run in product_lot.runs] == [("IMM02", started, None)]
    assert product_lot.serial_count == 2 and product_lot.holds == ["H-7"] and product_lot.held
    assert not resin.held  # released entries do not count


def test_rework_and_nc_entries_still_count_as_held(site):
    lots = make_lots(site, "R1", "N1")
    hold_lots(site, lots["R1"], disposition=HoldLot.Disposition.REWORK, number="H-1")
    hold_lots(site, lots["N1"], disposition=HoldLot.Disposition.NC, number="H-2")

    assert trace_graph([lots["R1"]]).nodes[0].held
    assert trace_graph([lots["N1"]]).nodes[0].held


def test_the_number_of_queries_does_not_grow_with_the_graph(site):
    def queries_for(width):
        lots = make_lots(site, f"R{width}", *[f"W{width}-{i}" for i in range(width)])
        link_all(lots, [(f"R{width}", f"W{width}-{i}") for i in range(width)])
        for i in range(width):
            add_serials(lots[f"W{width}-{i}"], f"S{width}-{i}")
        with CaptureQueriesContext(connection) as captured:
            trace_graph([lots[f"R{width}"]], direction=BOTH)
        return len(captured)

    assert queries_for(3) == queries_for(60)


def test_other_sites_genealogy_is_never_reached(site, other_site):
    mine = make_lots(site, "MINE")
    theirs = make_lots(other_site, "THEIRS", "THEIRS-2")
    link_all(theirs, [("THEIRS", "THEIRS-2")])

    assert codes(trace_graph([mine["MINE"]])) == {"MINE": ("root", 0)}


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"direction": "sideways"}, "direction"),
    ({"max_depth": -1}, "max_depth"),
    ({"max_depth": 201}, "max_depth"),
    ({"node_limit": 0}, "node_limit"),
])
def test_bad_parameters_are_refused_by_name(site, kwargs, field):
    lot = make_lots(site, "L1")["L1"]

    with pytest.raises(TraceError) as caught:
        trace_graph([lot], **kwargs)

    assert caught.value.field == field
