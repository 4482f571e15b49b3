"""Trace (backward/forward genealogy, JSON or CSV) and serial numbers over REST. Site scoping as for lots: a lot is
found by code among the requester's sites (?site=CODE disambiguates)."""
from __future__ import annotations

import csv
import io

from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from qms.api.errors import ApiError
from qms.auth.scoping import allowed_site_ids
from traceability.api.views import INGEST, TraceabilityApiMixin, scoped_lot
from traceability.services.genealogy import DEFAULT_MAX_DEPTH
from traceability.services.lookup import iso
from traceability.services.serials import SERIAL_BATCH_LIMIT, TooManySerials, lots_of_serial, record_serials
from traceability.services.trace import BOTH, DIRECTIONS, TraceError, TraceGraph, TraceNode, trace_graph

CSV_COLUMNS = [
    "side", "depth", "parent_lot", "parent_kind", "parent_product", "child_lot", "child_kind", "child_product",
    "edge_quantity", "edge_unit", "parent_quantity", "parent_unit", "child_quantity", "child_unit",
    "parent_runs", "child_runs", "parent_held", "child_held",
]


class TraceCsvRenderer(BaseRenderer):
    """Lets ?format=csv through content negotiation; the view writes the CSV itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else b""


def trace_parameters(request) -> dict:
    direction = request.query_params.get("direction", BOTH)
    raw_depth = request.query_params.get("max_depth", str(DEFAULT_MAX_DEPTH))
    try:
        max_depth = int(raw_depth)
    except ValueError:
        raise ApiError(_("max_depth must be a whole number."), code="validation_error",
                       details={"max_depth": [raw_depth]}) from None
    return {"direction": direction, "max_depth": max_depth}


def runs_text(node: TraceNode) -> str:
    """"IMM01 2026-11-28T06:00:00Z/2026-11-28T08:00:00Z; IMM02 …/" (an open run has an empty end)."""
    return "; ".join(f"{run.equipment} {iso(run.started_at)}/{iso(run.ended_at) if run.ended_at else ''}"
                     for run in node.runs)


def _number(value) -> str:
    return "" if value is None else str(value)


def trace_csv(graph: TraceGraph) -> bytes:
    """One row per edge, UTF-8 with a BOM (Excel opens it with the right encoding), columns CSV_COLUMNS."""
    nodes = {node.lot_id: node for node in graph.nodes}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for edge in graph.edges:
        parent, child = nodes[edge.parent_id], nodes[edge.child_id]
        writer.writerow([
            edge.side, edge.depth, parent.code, parent.kind, parent.product_label, child.code, child.kind,
            child.product_label, _number(edge.quantity), edge.unit, _number(parent.quantity), parent.unit,
            _number(child.quantity), child.unit, runs_text(parent), runs_text(child),
            "yes" if parent.held else "no", "yes" if child.held else "no",
        ])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def node_json(node: TraceNode) -> dict:
    return {
        "lot": node.code,
        "kind": node.kind,
        "product": {"part_number": node.product[0], "revision": node.product[1]} if node.product else None,
        "quantity": node.quantity,
        "unit": node.unit,
        "side": node.side,
        "depth": node.depth,
        "runs": [{"equipment": run.equipment, "started_at": iso(run.started_at),
                  "ended_at": iso(run.ended_at) if run.ended_at else None} for run in node.runs],
        "serial_count": node.serial_count,
        "held": node.held,
        "holds": node.holds,
    }


def graph_json(graph: TraceGraph) -> dict:
    return {
        "lot": graph.roots[0],
        "direction": graph.direction,
        "max_depth": graph.max_depth,
        "node_limit": graph.node_limit,
        "truncated": graph.truncated,
        "reached_max_depth": graph.reached_max_depth,
        "nodes": [node_json(node) for node in graph.nodes],
        "edges": [{"parent": edge.parent, "child": edge.child, "quantity": edge.quantity, "unit": edge.unit,
                   "side": edge.side, "depth": edge.depth} for edge in graph.edges],
    }


class LotTraceView(TraceabilityApiMixin, APIView):
    """The lot's genealogy: what went into it (backward), where it went (forward), or both; JSON or ?format=csv."""

    renderer_classes = [JSONRenderer, TraceCsvRenderer]
    token_scopes = {"GET": INGEST}
    user_perms = {"GET": ("traceability.view_lot", "traceability.view_genealogyedge")}

    def handle_exception(self, exc):
        # Errors answer in the JSON error body even when a CSV was asked for.
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return super().handle_exception(exc)

    @extend_schema(
        parameters=[
            OpenApiParameter("direction", str, enum=list(DIRECTIONS), description=gettext_lazy("default: both")),
            OpenApiParameter("max_depth", int, description=gettext_lazy("edges from the lot, 0–200, default 50")),
            OpenApiParameter("format", str, enum=["json", "csv"],
                             description=gettext_lazy("csv: one row per edge, UTF-8 with BOM")),
            OpenApiParameter("site", str, description=gettext_lazy("site code, when the code is ambiguous")),
        ],
        responses={200: OpenApiResponse(description=gettext_lazy("the trace graph (nodes, edges, truncated)"))},
    )
    def get(self, request, code):
        lot = scoped_lot(request, code)
        try:
            graph = trace_graph([lot], **trace_parameters(request))
        except TraceError as exc:
            raise ApiError(exc.message, code="validation_error", details={exc.field: [exc.message]}) from None
        if request.accepted_renderer.format == "csv":
            response = HttpResponse(trace_csv(graph), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="trace-{lot.code}-{graph.direction}.csv"'
            return response
        return Response(graph_json(graph))


# --- serial numbers ------------------------------------------------------------------------------------------------


class SerialBatchSerializer(serializers.Serializer):
    serials = serializers.ListField(child=serializers.CharField(), help_text=format_lazy(
        "{} {}", gettext_lazy("at most this many per request:"), SERIAL_BATCH_LIMIT))


class LotSerialListSerializer(serializers.Serializer):
    lot = serializers.CharField()
    site = serializers.CharField()
    count = serializers.IntegerField()
    serials = serializers.ListField(child=serializers.CharField())


class SerialRecordingSerializer(serializers.Serializer):
    lot = serializers.CharField()
    site = serializers.CharField()
    created = serializers.ListField(child=serializers.CharField())
    existing = serializers.ListField(child=serializers.CharField())


class SerialLotSerializer(serializers.Serializer):
    serial = serializers.CharField()
    lot = serializers.CharField()
    site = serializers.CharField()
    created_at = serializers.DateTimeField()
    trace = serializers.URLField()


class SerialLookupSerializer(serializers.Serializer):
    serial = serializers.CharField()
    lots = SerialLotSerializer(many=True)


def serial_json(entry) -> dict:
    return {"serial": entry.serial, "lot": entry.lot.code, "site": entry.lot.site.code,
            "created_at": iso(entry.created_at)}


class LotSerialsView(TraceabilityApiMixin, APIView):
    """GET: the lot's serial numbers. POST {"serials": [...]}: record them (idempotent, all or nothing)."""

    token_scopes = {"GET": INGEST, "POST": INGEST}
    user_perms = {"GET": "traceability.view_serialnumber", "POST": "traceability.add_serialnumber"}

    @extend_schema(responses={200: LotSerialListSerializer})
    def get(self, request, code):
        lot = scoped_lot(request, code)
        serials = list(lot.serials.order_by("serial").values_list("serial", flat=True))
        return Response({"lot": lot.code, "site": lot.site.code, "count": len(serials), "serials": serials})

    @extend_schema(request=SerialBatchSerializer, responses={
        201: OpenApiResponse(SerialRecordingSerializer, description=gettext_lazy("serials recorded")),
        200: OpenApiResponse(SerialRecordingSerializer, description=gettext_lazy("all already recorded on this lot")),
        409: OpenApiResponse(description=gettext_lazy("a serial belongs to another lot of the site")),
        413: OpenApiResponse(description=gettext_lazy("too many serials in one request")),
    })
    def post(self, request, code):
        if not isinstance(request.data, dict) or "serials" not in request.data:
            raise ApiError(_('Send a JSON object {"serials": [...]}.'), code="invalid_body")
        lot = scoped_lot(request, code)
        try:
            recording = record_serials(lot, request.data["serials"])
        except TooManySerials as exc:
            raise ApiError(exc.message, code="batch_too_large", status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                           details={"count": exc.count, "limit": exc.limit}) from None
        return Response(
            {"lot": lot.code, "site": lot.site.code, "created": recording.created, "existing": recording.existing},
            status=status.HTTP_201_CREATED if recording.created else status.HTTP_200_OK,
        )


class SerialDetailView(TraceabilityApiMixin, APIView):
    """Which lot a serial number belongs to, in each of your sites, with a link to its trace."""

    token_scopes = {"GET": INGEST}
    user_perms = {"GET": ("traceability.view_serialnumber", "traceability.view_lot")}

    @extend_schema(responses={200: SerialLookupSerializer})
    def get(self, request, serial):
        site_ids = allowed_site_ids(request)
        site_code = request.query_params.get("site")
        entries = [entry for entry in lots_of_serial(serial, site_ids)
                   if not site_code or entry.lot.site.code == site_code]
        if not entries:
            raise Http404(_("Serial number %(serial)s not found in your sites.") % {"serial": serial})
        lots = []
        for entry in entries:
            # ?site= always: the same lot code may exist in another of the requester's sites.
            trace_url = f'{reverse("api-lot-trace", kwargs={"code": entry.lot.code})}?site={entry.lot.site.code}'
            lots.append({**serial_json(entry), "trace": request.build_absolute_uri(trace_url)})
        return Response({"serial": serial, "lots": lots})
