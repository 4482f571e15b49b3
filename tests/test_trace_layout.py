"""The layered layout of the trace drawing (pure, no database)."""
from hypothesis import given
from hypothesis import strategies as st

from traceability.trace_layout import NODE_HEIGHT, LayoutNode, layout


def test_columns_follow_the_signed_layer():
    placed = layout([LayoutNode(1, -1, "A"), LayoutNode(2, 0, "B"), LayoutNode(3, 1, "C")], [(1, 2), (2, 3)])

    assert placed.nodes[1].x < placed.nodes[2].x < placed.nodes[3].x


def test_children_follow_their_parents_order_to_avoid_crossings():
    # root → P, root → Q; P → P1, Q → Q1. Labels would sort Q1 above P1; the barycentre keeps P1 beside P.
    nodes = [LayoutNode(0, 0, "root"), LayoutNode(1, 1, "P"), LayoutNode(2, 1, "Q"),
             LayoutNode(3, 2, "Z-of-P"), LayoutNode(4, 2, "A-of-Q")]
    placed = layout(nodes, [(0, 1), (0, 2), (1, 3), (2, 4)])

    assert placed.nodes[3].y < placed.nodes[4].y


def test_edges_run_from_the_parents_right_side_to_the_childs_left_side():
    placed = layout([LayoutNode(1, 0, "A"), LayoutNode(2, 1, "B")], [(1, 2)])

    (edge,) = placed.edges
    start = placed.nodes[1]
    assert edge.path.startswith(f"M{start.x + start.width},{start.y + NODE_HEIGHT // 2} C")


def test_empty_graph_has_an_empty_drawing():
    assert layout([], []).nodes == {}


@given(st.lists(st.integers(min_value=-4, max_value=4), min_size=1, max_size=40))
def test_no_two_nodes_overlap_and_all_fit_the_canvas(layers):
    placed = layout([LayoutNode(key, layer, str(key)) for key, layer in enumerate(layers)], [])

    boxes = list(placed.nodes.values())
    for index, box in enumerate(boxes):
        assert 0 <= box.x and box.x + box.width <= placed.width
        assert 0 <= box.y and box.y + box.height <= placed.height
        for other in boxes[index + 1:]:
            assert (box.x + box.width <= other.x or other.x + other.width <= box.x
                    or box.y + box.height <= other.y or other.y + other.height <= box.y)
