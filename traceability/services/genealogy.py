"""Genealogy: which lots went into which (edges parent → child), and the recursive traces over them.

The traces are single recursive SQL queries (WITH RECURSIVE, portable between PostgreSQL and SQLite) so tracing
10,000 seed lots costs one round trip, not one per lot or per level. They are cycle-safe twice over: the services
refuse to create a cycle, and the walk itself stops at `max_depth` even if a cycle was written behind our back.
"""
from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils.translation import gettext as _

from qms.models import Site
from traceability.models import GenealogyEdge, Lot
from traceability.services.errors import Conflict

logger = logging.getLogger(__name__)

DEFAULT_MAX_DEPTH = 50
FORWARD, BACKWARD = "forward", "backward"


def _same_quantity(stored: float | None, sent: float | None) -> bool:
    return stored == sent or (stored is not None and sent is not None and abs(stored - sent) <= 1e-9 * max(1, abs(stored)))


def edge_differences(edge: GenealogyEdge, quantity: float | None, unit: str | None) -> dict:
    """What `quantity`/`unit` contradict on an existing edge (values not sent, or not yet stored, never conflict)."""
    differences = {}
    if quantity is not None and edge.quantity is not None and not _same_quantity(edge.quantity, quantity):
        differences["quantity"] = {"stored": edge.quantity, "sent": quantity}
    if unit and edge.unit and unit != edge.unit:
        differences["unit"] = {"stored": edge.unit, "sent": unit}
    return differences


@transaction.atomic
def add_genealogy_edge(parent: Lot, child: Lot, quantity: float | None = None,
                       unit: str | None = None) -> tuple[GenealogyEdge, bool]:
    """Record that `quantity` (in `unit`, default: the parent lot's unit) of `parent` went into `child`.

    Idempotent: the same edge again returns the stored one with created=False (filling in a quantity/unit that was
    not known before). Raises Conflict when the stored edge says otherwise, ValidationError for a self-link, lots of
    different sites, a negative or non-finite quantity, or an edge that would close a cycle (the message names it).
    """
    if parent.pk == child.pk:
        raise ValidationError({"cycle": _("A lot cannot be its own parent (%(lot)s).") % {"lot": parent.code}})
    if parent.site_id != child.site_id:
        raise ValidationError({"child": _("Lots %(parent)s and %(child)s belong to different sites.")
                               % {"parent": parent.code, "child": child.code}})
    if quantity is not None and (not math.isfinite(quantity) or quantity < 0):
        raise ValidationError({"quantity": _("The quantity must be a finite number ≥ 0.")})
    from traceability.services.hold_propagation import propagating_holds_of  # holds imports this module
    from traceability.services.holds import lock_holds

    lock_site_genealogy(parent.site_id)
    lock_holds(propagating_holds_of(parent))  # before the edge's audit entry locks the chain head
    edge = GenealogyEdge.objects.select_for_update().filter(parent=parent, child=child).first()
    if edge is not None:
        differences = edge_differences(edge, quantity, unit)
        if differences:
            raise Conflict(
                _("The genealogy edge %(parent)s → %(child)s is already recorded with other values.")
                % {"parent": parent.code, "child": child.code},
                differences,
            )
        changed = []
        if quantity is not None and edge.quantity is None:
            edge.quantity = quantity
            changed.append("quantity")
        if unit and not edge.unit:
            edge.unit = unit
            changed.append("unit")
        if changed:
            edge.save(update_fields=changed)
        return edge, False
    cycle = genealogy_path(child.pk, parent.pk)
    if cycle is not None:
        codes = dict(Lot.objects.filter(pk__in=cycle).values_list("pk", "code"))
        path = " → ".join(codes[pk] for pk in [parent.pk, *cycle])
        raise ValidationError({"cycle": _("Linking %(parent)s → %(child)s would close a cycle in the genealogy: %(path)s.")
                               % {"parent": parent.code, "child": child.code, "path": path}})
    edge = GenealogyEdge.objects.create(
        parent=parent, child=child, quantity=quantity, unit=unit if unit else (parent.unit if quantity is not None else "")
    )
    from traceability.services.hold_propagation import hold_new_child  # holds imports this module

    hold_new_child(parent, child)  # made from a held lot after the freeze: held too
    return edge, True


def lock_site_genealogy(site_id: int) -> None:
    """Until the transaction ends, no other genealogy writer of the site — nor a propagating hold being placed on it —
    runs: two concurrent edges A→B and B→A would each pass the cycle check, and an edge recorded while a freeze traces
    would be seen by neither (the freeze's trace misses the uncommitted edge, the edge's `hold_new_child` misses the
    uncommitted hold). FOR NO KEY UPDATE: it does not block the key-share locks of rows referencing the site."""
    Site.objects.select_for_update(no_key=True).filter(pk=site_id).values_list("pk", flat=True).first()


def _reachable(start_id: int, target_id: int) -> bool:
    """Is `target_id` a descendant of `start_id`? UNION on the lot id alone visits each lot once, cycles or not."""
    lot, edge = Lot._meta.db_table, GenealogyEdge._meta.db_table
    sql = f"""
        WITH RECURSIVE reach(lot_id) AS (
            SELECT id FROM {lot} WHERE id = %s
            UNION
            SELECT e.child_id FROM reach r JOIN {edge} e ON e.parent_id = r.lot_id
        )
        SELECT 1 FROM reach WHERE lot_id = %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [start_id, target_id])
        return cursor.fetchone() is not None


def genealogy_path(from_id: int, to_id: int) -> list[int] | None:
    """A shortest forward path of lot ids from `from_id` to `to_id` (both included), or None when there is none."""
    if from_id == to_id:
        return [from_id]
    if not _reachable(from_id, to_id):
        return None
    # Rare path (we are about to refuse an edge): breadth-first, one query per level, to name the cycle.
    previous: dict[int, int] = {from_id: from_id}
    frontier = [from_id]
    while frontier and to_id not in previous:
        next_frontier = []
        for parent_id, child_id in GenealogyEdge.objects.filter(parent_id__in=frontier).values_list("parent_id", "child_id"):
            if child_id not in previous:
                previous[child_id] = parent_id
                next_frontier.append(child_id)
        frontier = next_frontier
    if to_id not in previous:
        return None
    path = [to_id]
    while path[-1] != from_id:
        path.append(previous[path[-1]])
    return path[::-1]


def _seed_clause(lot_ids) -> tuple[str, list]:
    """SQL selecting (id, 0) for the seed lots: a QuerySet becomes a subquery, a list one array/JSON parameter
    (so 50,000 seeds do not turn into 50,000 bind variables)."""
    lot = Lot._meta.db_table
    if isinstance(lot_ids, QuerySet):
        if lot_ids.model is Lot:
            seeds = lot_ids.order_by().annotate(seed_id=F("pk")).values("seed_id")
            sql, params = seeds.query.sql_with_params()
            return f"SELECT seed.seed_id, 0 FROM ({sql}) seed", list(params)
        # Any other queryset must yield one column of lot ids, e.g. LotRun.objects.filter(...).values("lot_id").
        sql, params = lot_ids.order_by().query.sql_with_params()
        return f"SELECT id, 0 FROM {lot} WHERE id IN ({sql})", list(params)
    ids = sorted({int(pk) for pk in lot_ids})
    if connection.vendor == "postgresql":
        return f"SELECT id, 0 FROM {lot} WHERE id = ANY(%s)", [ids]
    return f"SELECT id, 0 FROM {lot} WHERE id IN (SELECT value FROM json_each(%s))", [json.dumps(ids)]


def trace_sql(lot_ids, direction: str, max_depth: int) -> tuple[str, list]:
    """(WITH clause, params) defining `traced(lot_id, depth)`: the trace as a CTE, for a statement that uses the
    traced lots in place (e.g. INSERT … SELECT FROM traced) instead of fetching them. Run it with `no_jit(cursor)`."""
    if max_depth < 0:
        raise ValueError("max_depth must be >= 0")
    from_column, to_column = ("parent_id", "child_id") if direction == FORWARD else ("child_id", "parent_id")
    anchor, params = _seed_clause(lot_ids)
    edge = GenealogyEdge._meta.db_table
    # UNION (not UNION ALL) drops (lot, depth) pairs already found; the depth bound ends the walk even on a cycle.
    sql = f"""
        WITH RECURSIVE walk(lot_id, depth) AS (
            {anchor}
            UNION
            SELECT e.{to_column}, w.depth + 1
            FROM walk w JOIN {edge} e ON e.{from_column} = w.lot_id
            WHERE w.depth < %s
        ),
        traced(lot_id, depth) AS (SELECT lot_id, MIN(depth) FROM walk GROUP BY lot_id)
    """
    return sql, [*params, max_depth]


def no_jit(cursor) -> None:
    """The planner cannot estimate a recursive walk and guesses ~1M rows, which triggers JIT compilation costing
    ~80 ms on a 100k-edge genealogy. Off for the (enclosing) transaction only."""
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL jit = off")


def warn_if_max_depth(depths: Iterable[int], direction: str, max_depth: int) -> None:
    if max(depths, default=0) >= max_depth > 0:
        logger.warning("genealogy %s trace reached max_depth=%s: the genealogy is deeper or contains a cycle",
                       direction, max_depth)


def _trace(lot_ids, direction: str, max_depth: int) -> dict[int, int]:
    with_clause, params = trace_sql(lot_ids, direction, max_depth)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        no_jit(cursor)
        cursor.execute(f"{with_clause} SELECT lot_id, depth FROM traced", params)
        depths = dict(cursor.fetchall())
    warn_if_max_depth(depths.values(), direction, max_depth)
    return depths


def trace_forward(lot_ids: Iterable[int] | QuerySet, *, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[int, int]:
    """Every lot made from the seed lots (children, grandchildren, …): {lot_id: depth}, seeds included at depth 0.

    `lot_ids` is an iterable of lot ids or a QuerySet (of Lot, or yielding lot ids, e.g.
    `lots_on_equipment_between(...)`), which is inlined as a subquery: one SQL statement in all.
    Depth is the shortest number of genealogy edges from any seed.
    """
    return _trace(lot_ids, FORWARD, max_depth)


def trace_backward(lot_ids: Iterable[int] | QuerySet, *, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[int, int]:
    """Every lot that went into the seed lots (parents, grandparents, …): {lot_id: depth}, seeds at depth 0."""
    return _trace(lot_ids, BACKWARD, max_depth)
