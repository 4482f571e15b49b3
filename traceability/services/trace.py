"""The trace graph of a lot: what went into it (backward), where it went (forward), or both.

The reachable lots come from the recursive, cycle-safe `trace_backward` / `trace_forward` (one SQL statement each);
everything drawn on top — lot details, the edges between the reached lots, runs, serial counts, open holds — costs a
fixed number of further queries whatever the size of the graph (the lot ids travel as one array parameter, never as
thousands of bind variables).

A trace stops at `max_depth` edges from the traced lot and at `node_limit` lots: beyond the limit the lots nearest
to the traced lot are kept (by depth, then id) and the graph says `truncated`, so a page or a CSV never silently
shows part of a genealogy as if it were all of it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Count, Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from traceability.models import GenealogyEdge, HoldLot, Lot, LotRun, SerialNumber
from traceability.services.genealogy import DEFAULT_MAX_DEPTH, trace_backward, trace_forward

BACKWARD, FORWARD, BOTH = "backward", "forward", "both"
DIRECTIONS = (BACKWARD, FORWARD, BOTH)
ROOT = "root"
MAX_DEPTH_LIMIT = 200
DEFAULT_NODE_LIMIT = 5000
# A lot still counts as held while one of its hold entries is undecided or not finally decided.
HELD_DISPOSITIONS = (HoldLot.Disposition.HELD, HoldLot.Disposition.REWORK, HoldLot.Disposition.NC)


@dataclass(slots=True)
class TraceRun:
    equipment: str
    started_at: datetime
    ended_at: datetime | None


@dataclass(slots=True)
class TraceNode:
    lot_id: int
    code: str
    kind: str
    product: tuple[str, str] | None  # (part number, revision)
    quantity: float | None
    unit: str
    depth: int  # edges from the nearest traced lot (0 = a traced lot)
    side: str  # root | backward | forward
    runs: list[TraceRun] = field(default_factory=list)
    serial_count: int = 0
    holds: list[str] = field(default_factory=list)  # numbers of the holds this lot is still held under

    @property
    def held(self) -> bool:
        return bool(self.holds)

    @property
    def product_label(self) -> str:
        return "@".join(part for part in self.product if part) if self.product else ""

    @property
    def layer(self) -> int:
        """Signed column for drawing: backward lots to the left (negative), forward lots to the right."""
        return -self.depth if self.side == BACKWARD else self.depth


@dataclass(slots=True)  # not frozen: 100,000 of them are built per big trace, slots keep that cheap
class TraceEdge:
    parent_id: int
    child_id: int
    parent: str
    child: str
    quantity: float | None
    unit: str
    side: str  # backward | forward: which walk reached this edge
    depth: int  # depth of the edge's far end from the traced lot (1 = direct parent/child)


@dataclass
class TraceGraph:
    roots: list[str]
    direction: str
    max_depth: int
    node_limit: int | None
    nodes: list[TraceNode]
    edges: list[TraceEdge]
    truncated: bool  # more lots were reachable than node_limit
    reached_max_depth: bool  # some lot lies at max_depth: the genealogy may go on beyond it

    def node(self, lot_id: int) -> TraceNode | None:
        return next((node for node in self.nodes if node.lot_id == lot_id), None)


class TraceError(ValueError):
    """Bad trace parameters; `field` names the offending one."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


def check_trace_parameters(direction: str, max_depth: int, node_limit: int | None) -> None:
    if direction not in DIRECTIONS:
        raise TraceError("direction", _("The direction must be one of: %(choices)s.") % {"choices": ", ".join(DIRECTIONS)})
    if not 0 <= max_depth <= MAX_DEPTH_LIMIT:
        raise TraceError("max_depth", _("max_depth must lie between 0 and %(n)s.") % {"n": MAX_DEPTH_LIMIT})
    if node_limit is not None and node_limit < 1:
        raise TraceError("node_limit", _("The node limit must be at least 1."))


def ids_subquery(ids: Sequence[int]) -> RawSQL:
    """`pk__in=ids_subquery(ids)`: any number of ids as ONE parameter (PostgreSQL array / SQLite JSON)."""
    ids = [int(pk) for pk in ids]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", [ids])
    import json

    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(ids)])


def _reached(roots: list[int], direction: str, max_depth: int) -> tuple[dict[int, int], dict[int, int]]:
    backward = trace_backward(roots, max_depth=max_depth) if direction in (BACKWARD, BOTH) else {}
    forward = trace_forward(roots, max_depth=max_depth) if direction in (FORWARD, BOTH) else {}
    return backward, forward


def _placed(root_ids: set[int], backward: dict[int, int], forward: dict[int, int]) -> dict[int, tuple[int, str]]:
    """lot id → (depth, side). A lot reached both ways (only on a cycle written behind the services' back) is placed
    where it is nearer; ties go backward."""
    placed: dict[int, tuple[int, str]] = {}
    for side, depths in ((FORWARD, forward), (BACKWARD, backward)):
        for lot_id, depth in depths.items():
            if lot_id in root_ids:
                placed[lot_id] = (0, ROOT)
            elif lot_id not in placed or depth <= placed[lot_id][0]:
                placed[lot_id] = (depth, side)
    return placed


def _limit(placed: dict[int, tuple[int, str]], node_limit: int | None) -> tuple[dict[int, tuple[int, str]], bool]:
    if node_limit is None or len(placed) <= node_limit:
        return placed, False
    nearest = sorted(placed.items(), key=lambda item: (item[1][0], item[0]))[:node_limit]
    return dict(nearest), True


def trace_graph(roots: Sequence[Lot], *, direction: str = BOTH, max_depth: int = DEFAULT_MAX_DEPTH,
                node_limit: int | None = DEFAULT_NODE_LIMIT) -> TraceGraph:
    """The genealogy graph around `roots` (usually one lot): nodes with details, edges with quantities.

    Backward edges are those walked from a lot to its parents (both ends reached backward), forward edges those
    walked to children; an edge that merely links a backward lot to a forward lot is not part of either trace.
    """
    check_trace_parameters(direction, max_depth, node_limit)
    root_ids = {lot.pk for lot in roots}
    backward, forward = _reached(sorted(root_ids), direction, max_depth)
    reached_max_depth = any(depth >= max_depth for depth in (*backward.values(), *forward.values())) and max_depth > 0
    placed, truncated = _limit(_placed(root_ids, backward, forward), node_limit)
    ids = list(placed)
    nodes = _nodes(placed, ids)
    kept_backward = [pk for pk in ids if pk in backward]
    kept_forward = [pk for pk in ids if pk in forward]
    edges = _edges(kept_backward, kept_forward, placed, {node.lot_id: node.code for node in nodes})
    return TraceGraph(
        roots=[lot.code for lot in roots], direction=direction, max_depth=max_depth, node_limit=node_limit,
        nodes=nodes, edges=edges, truncated=truncated, reached_max_depth=reached_max_depth,
    )


def _nodes(placed: dict[int, tuple[int, str]], ids: list[int]) -> list[TraceNode]:
    if not ids:
        return []
    by_id: dict[int, TraceNode] = {}
    lots = Lot.objects.filter(pk__in=ids_subquery(ids)).values_list(
        "pk", "code", "kind", "product__part_number", "product__revision", "quantity", "unit")
    for pk, code, kind, part_number, revision, quantity, unit in lots:
        depth, side = placed[pk]
        by_id[pk] = TraceNode(lot_id=pk, code=code, kind=kind,
                              product=(part_number, revision) if part_number else None,
                              quantity=quantity, unit=unit or "", depth=depth, side=side)
    runs = (LotRun.objects.filter(lot_id__in=ids_subquery(ids)).order_by("lot_id", "started_at", "pk")
            .values_list("lot_id", "equipment__code", "started_at", "ended_at"))
    for lot_id, equipment, started_at, ended_at in runs:
        by_id[lot_id].runs.append(TraceRun(equipment, started_at, ended_at))
    serials = (SerialNumber.objects.filter(lot_id__in=ids_subquery(ids)).order_by()
               .values("lot_id").annotate(n=Count("pk")).values_list("lot_id", "n"))
    for lot_id, count in serials:
        by_id[lot_id].serial_count = count
    holds = (HoldLot.objects.filter(lot_id__in=ids_subquery(ids), disposition__in=HELD_DISPOSITIONS)
             .order_by("lot_id", "hold__number").values_list("lot_id", "hold__number"))
    for lot_id, number in holds:
        if number not in by_id[lot_id].holds:
            by_id[lot_id].holds.append(number)
    return sorted(by_id.values(), key=lambda node: (node.layer, node.code))


def _edges(backward_ids: list[int], forward_ids: list[int], placed: dict[int, tuple[int, str]],
           codes: dict[int, str]) -> list[TraceEdge]:
    walked = Q(pk__in=[])
    if backward_ids:
        walked |= Q(child_id__in=ids_subquery(backward_ids), parent_id__in=ids_subquery(backward_ids))
    if forward_ids:
        walked |= Q(parent_id__in=ids_subquery(forward_ids), child_id__in=ids_subquery(forward_ids))
    forward_set = set(forward_ids)
    edges = []
    rows = GenealogyEdge.objects.filter(walked).values_list("parent_id", "child_id", "quantity", "unit")
    for parent_id, child_id, quantity, unit in rows:
        is_forward = parent_id in forward_set and child_id in forward_set
        # Depth of the walk step: one beyond the end the walk came from (the parent going forward, the child going
        # backward), so a shortcut edge M → X next to M → P → X counts as a step from X, not from P.
        near = parent_id if is_forward else child_id
        edges.append(TraceEdge(parent_id=parent_id, child_id=child_id, parent=codes[parent_id], child=codes[child_id],
                               quantity=quantity, unit=unit or "", side=FORWARD if is_forward else BACKWARD,
                               depth=placed[near][0] + 1))
    edges.sort(key=lambda edge: (edge.side != BACKWARD, edge.depth, edge.parent, edge.child))
    return edges
