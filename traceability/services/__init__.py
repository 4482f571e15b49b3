"""Traceability services: every change to lots, runs and genealogy goes through one of these functions.

Each write runs in a transaction and is versioned by django-simple-history, which mirrors into the audit chain
(attributed to qms.audit.context.current_actor()).
"""
from traceability.services.errors import Conflict
from traceability.services.genealogy import (
    DEFAULT_MAX_DEPTH,
    add_genealogy_edge,
    genealogy_path,
    trace_backward,
    trace_forward,
)
from traceability.services.lookup import equipment_by_code, lot_by_code, lots_by_codes, product_by_reference
from traceability.services.lots import LotRegistration, ParentLink, register_lot
from traceability.services.runs import (
    end_lot,
    end_lot_run,
    lots_on_equipment_between,
    runs_between,
    runs_on_equipment_between,
    start_lot_run,
)

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "Conflict",
    "LotRegistration",
    "ParentLink",
    "add_genealogy_edge",
    "end_lot",
    "end_lot_run",
    "equipment_by_code",
    "genealogy_path",
    "lot_by_code",
    "lots_by_codes",
    "lots_on_equipment_between",
    "product_by_reference",
    "register_lot",
    "runs_between",
    "runs_on_equipment_between",
    "start_lot_run",
    "trace_backward",
    "trace_forward",
]
