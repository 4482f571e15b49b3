"""Trace pages: /trace/ finds a lot by code or serial number, /trace/lots/<code>/ shows the lot, its runs, serials,
holds and its genealogy drawn as SVG (laid out on the server by traceability.trace_layout). Views stay thin: the
graph comes from traceability.services.trace."""
from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from qms.auth.scoping import allowed_site_ids
from qms.web.access import SitePageMixin
from traceability.models import HoldLot, Lot
from traceability.services.serials import lots_of_serial
from traceability.services.trace import BACKWARD, BOTH, DIRECTIONS, FORWARD, trace_graph
from traceability.trace_layout import LayoutNode, layout

# A drawing of more lots than this is unreadable: the page says so and offers the CSV (which has no limit but the
# API's node limit).
PAGE_NODE_LIMIT = 300
SERIALS_SHOWN = 200
DIRECTION_LABELS = {BACKWARD: gettext_lazy("Backward (what went in)"), FORWARD: gettext_lazy("Forward (where it went)"),
                    BOTH: gettext_lazy("Both")}
LOT_PERMISSIONS = ("traceability.view_lot", "traceability.view_genealogyedge")


def register_navigation() -> None:
    from qms.web.navigation import NavItem, register

    register(NavItem(gettext_lazy("Trace"), "trace-search", "traceability.view_lot", 40))


def lot_page_url(code: str, site_code: str | None = None, direction: str | None = None) -> str:
    query = {key: value for key, value in (("site", site_code), ("direction", direction)) if value}
    url = reverse("trace-lot", kwargs={"code": code})
    return f"{url}?{urlencode(query)}" if query else url


class TraceSearchView(SitePageMixin, TemplateView):
    """Search by lot code or serial number; one match opens the lot's trace page directly."""

    permission_required = LOT_PERMISSIONS
    template_name = "traceability/trace/search.html"

    def get(self, request, *args, **kwargs):
        query = request.GET.get("q", "").strip()
        if not query:
            return super().get(request, *args, **kwargs)
        matches = self._matches(query)
        if len(matches) == 1:
            lot, _via = matches[0]
            return redirect(lot_page_url(lot.code, lot.site.code))
        if not matches:
            messages.warning(request, _("No lot or serial number %(query)s in your sites.") % {"query": query})
        return self.render_to_response(self.get_context_data(query=query, matches=matches))

    def _matches(self, query: str) -> list[tuple[Lot, str]]:
        """(lot, "lot" | "serial") for the lots of the user's sites named by `query`, the current site first."""
        sites = allowed_site_ids(self.request.user)
        found = [(lot, "lot") for lot in Lot.objects.filter(code=query, site_id__in=sites).select_related("site")]
        found += [(entry.lot, "serial") for entry in lots_of_serial(query, sites)]
        return sorted(found, key=lambda match: (match[0].site_id != self.site.pk, match[0].site.code))


class TraceLotView(SitePageMixin, TemplateView):
    permission_required = LOT_PERMISSIONS
    template_name = "traceability/trace/lot.html"

    def get_lot(self) -> Lot:
        """The lot by code in the user's sites: ?site=CODE, else the current site's, else the only one."""
        lots = Lot.objects.filter(code=self.kwargs["code"], site_id__in=allowed_site_ids(self.request.user))
        site_code = self.request.GET.get("site")
        if site_code:
            lots = lots.filter(site__code=site_code)
        candidates = list(lots.select_related("site", "product")[:50])
        preferred = [lot for lot in candidates if lot.site_id == self.site.pk] or candidates
        if not preferred:
            raise Http404(_("Lot %(code)s not found in your sites.") % {"code": self.kwargs["code"]})
        return preferred[0]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        lot = self.get_lot()
        direction = self.request.GET.get("direction", BOTH)
        if direction not in DIRECTIONS:
            direction = BOTH
        graph = trace_graph([lot], direction=direction, node_limit=PAGE_NODE_LIMIT)
        serials = list(lot.serials.order_by("serial").values_list("serial", flat=True)[:SERIALS_SHOWN + 1])
        context.update({
            "lot": lot,
            "direction": direction,
            "directions": [{"value": value, "label": DIRECTION_LABELS[value],
                            "url": lot_page_url(lot.code, lot.site.code, value)} for value in DIRECTIONS],
            "graph": graph,
            "drawing": drawing(graph, lot, direction),
            "root": graph.node(lot.pk),
            "runs": lot.runs.select_related("equipment").order_by("started_at"),
            "serial_count": lot.serials.count(),
            "serials": serials[:SERIALS_SHOWN],
            "serials_shown": SERIALS_SHOWN,
            "hold_entries": HoldLot.objects.filter(lot=lot).select_related("hold").order_by("-hold__placed_at"),
            "held_dispositions": ("held", "rework", "nc"),
            "csv_url": "{}?{}".format(reverse("api-lot-trace", kwargs={"code": lot.code}),
                                      urlencode({"format": "csv", "direction": direction, "site": lot.site.code})),
            "page_node_limit": PAGE_NODE_LIMIT,
        })
        return context


def drawing(graph, lot: Lot, direction: str) -> dict:
    """What the SVG template draws: node boxes with their lot, edge curves with their quantity label."""
    placed = layout([LayoutNode(node.lot_id, node.layer, node.code) for node in graph.nodes],
                    [(edge.parent_id, edge.child_id) for edge in graph.edges])
    nodes = [{"node": node, "box": placed.nodes[node.lot_id], "current": node.lot_id == lot.pk,
              "url": lot_page_url(node.code, lot.site.code, direction)} for node in graph.nodes]
    edges = []
    for edge, curve in zip(graph.edges, placed.edges, strict=True):
        label = "" if edge.quantity is None else f"{edge.quantity:g} {edge.unit}".strip()
        edges.append({"edge": edge, "curve": curve, "label": label})
    return {"width": placed.width, "height": placed.height, "nodes": nodes, "edges": edges}
