"""Layered layout of a trace graph for an SVG drawing, computed on the server (no JavaScript, works offline).

Pure computation, no Django: one column per signed depth (backward lots to the left of the traced lot, forward
lots to the right), lots in a column ordered by the mean row of their neighbours in the column nearer the traced
lot (the barycentre heuristic: few crossings for a typical genealogy), edges as cubic curves from the parent's right
side to the child's left side, with the quantity at the middle.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

NODE_WIDTH, NODE_HEIGHT = 168, 48
COLUMN_GAP, ROW_GAP, MARGIN = 88, 18, 16


@dataclass(frozen=True)
class LayoutNode:
    key: int
    layer: int
    label: str  # used only as a stable tie-break


@dataclass(frozen=True)
class PlacedNode:
    key: int
    x: int
    y: int
    width: int = NODE_WIDTH
    height: int = NODE_HEIGHT


@dataclass(frozen=True)
class PlacedEdge:
    parent: int
    child: int
    path: str  # SVG path data
    label_x: int
    label_y: int


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    nodes: dict[int, PlacedNode]
    edges: list[PlacedEdge]


def _column_order(nodes: list[LayoutNode], edges: list[tuple[int, int]]) -> dict[int, list[int]]:
    """layer → node keys top to bottom, each column sorted by its neighbours' rows in the column nearer layer 0."""
    by_layer: dict[int, list[LayoutNode]] = defaultdict(list)
    for node in nodes:
        by_layer[node.layer].append(node)
    neighbours: dict[int, set[int]] = defaultdict(set)
    for parent, child in edges:
        neighbours[parent].add(child)
        neighbours[child].add(parent)
    layer_of = {node.key: node.layer for node in nodes}
    row: dict[int, float] = {}
    order: dict[int, list[int]] = {}
    # Walk outwards from the traced lot: 0, 1, -1, 2, -2, … so each column sees its inner neighbour placed.
    for layer in sorted(by_layer, key=lambda value: (abs(value), value < 0)):
        inner = layer - 1 if layer > 0 else layer + 1

        def barycentre(node: LayoutNode, inner=inner) -> tuple:
            rows = [row[other] for other in neighbours[node.key] if layer_of.get(other) == inner and other in row]
            return (sum(rows) / len(rows) if rows else float("inf"), node.label)

        column = sorted(by_layer[layer], key=barycentre)
        order[layer] = [node.key for node in column]
        for index, node in enumerate(column):
            row[node.key] = index
    return order


def layout(nodes: list[LayoutNode], edges: list[tuple[int, int]]) -> Layout:
    if not nodes:
        return Layout(width=2 * MARGIN, height=2 * MARGIN, nodes={}, edges=[])
    order = _column_order(nodes, edges)
    first_layer = min(order)
    tallest = max(len(column) for column in order.values())
    column_height = tallest * NODE_HEIGHT + (tallest - 1) * ROW_GAP
    placed: dict[int, PlacedNode] = {}
    for layer, keys in order.items():
        height = len(keys) * NODE_HEIGHT + (len(keys) - 1) * ROW_GAP
        top = MARGIN + (column_height - height) // 2  # columns centred on each other
        x = MARGIN + (layer - first_layer) * (NODE_WIDTH + COLUMN_GAP)
        for index, key in enumerate(keys):
            placed[key] = PlacedNode(key=key, x=x, y=top + index * (NODE_HEIGHT + ROW_GAP))
    width = 2 * MARGIN + len(range(first_layer, max(order) + 1)) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    return Layout(width=width, height=2 * MARGIN + column_height, nodes=placed,
                  edges=[_edge(placed[parent], placed[child]) for parent, child in edges
                         if parent in placed and child in placed])


def _edge(parent: PlacedNode, child: PlacedNode) -> PlacedEdge:
    x1, y1 = parent.x + parent.width, parent.y + parent.height // 2
    x2, y2 = child.x, child.y + child.height // 2
    if x2 > x1:
        bend = (x2 - x1) // 2
        path = f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
        return PlacedEdge(parent.key, child.key, path, (x1 + x2) // 2, (y1 + y2) // 2)
    # Same column (a shortcut between lots at equal depth) or right to left (a cycle): loop around the right side.
    x1, x2 = parent.x + parent.width, child.x + child.width
    reach = max(x1, x2) + COLUMN_GAP // 2
    path = f"M{x1},{y1} C{reach},{y1} {reach},{y2} {x2},{y2}"
    return PlacedEdge(parent.key, child.key, path, reach - COLUMN_GAP // 8, (y1 + y2) // 2)
