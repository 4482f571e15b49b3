"""Lots, runs and genealogy over REST. Views only translate: codes → objects (within the client's sites), service
call, representation. Rules live in traceability.services."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, Q
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from qms.api.errors import ApiError
from qms.api.events import body_site_code, query_timestamp
from qms.auth.scoping import SiteScopedQuerysetMixin, allowed_site_ids, resolve_write_site
from traceability import services
from traceability.api.serializers import (
    GenealogyEdgeSerializer,
    LotEndSerializer,
    LotRegistrationSerializer,
    LotRunEndSerializer,
    LotRunSerializer,
    LotRunStartSerializer,
    LotSerializer,
    NewGenealogyEdgeSerializer,
)
from traceability.models import GenealogyEdge, Lot, LotRun

INGEST = "ingest"


class TraceabilityApiMixin:
    """Conflicts with the recorded state answer 409 with every difference named."""

    def handle_exception(self, exc):
        if isinstance(exc, services.Conflict):
            exc = ApiError(exc.message, code="conflict", status_code=status.HTTP_409_CONFLICT, details=exc.differences)
        return super().handle_exception(exc)


def lots_with_genealogy():
    return Lot.objects.select_related("site", "product").prefetch_related(
        Prefetch("runs", queryset=LotRun.objects.select_related("equipment")),
        Prefetch("parent_edges", queryset=GenealogyEdge.objects.select_related("parent")),
        Prefetch("child_edges", queryset=GenealogyEdge.objects.select_related("child")),
    )


def scoped_lot(request, code: str, queryset=None) -> Lot:
    """The lot `code` among the requester's sites (?site=CODE disambiguates for users of several sites)."""
    lots = (queryset if queryset is not None else Lot.objects.select_related("site")).filter(
        code=code, site_id__in=allowed_site_ids(request)
    )
    site_code = request.query_params.get("site")
    if site_code:
        lots = lots.filter(site__code=site_code)
    found = list(lots[:2])
    if not found:
        raise Http404(_("Lot %(code)s not found in your sites.") % {"code": code})
    if len(found) > 1:
        raise ApiError(_("Lot %(code)s exists in several of your sites: add ?site=CODE.") % {"code": code},
                       code="ambiguous_lot", details={"sites": sorted(lot.site.code for lot in found)})
    return found[0]


def parse_window(name: str, value: str):
    """"t1,t2" (or "t1," for open-ended) → (start, end|None)."""
    start_raw, comma, end_raw = value.partition(",")
    if not comma or not start_raw.strip():
        raise serializers.ValidationError({name: [_("Expected two ISO 8601 timestamps: t1,t2 (t2 may be empty).")]})
    start = query_timestamp(name, start_raw)
    end = query_timestamp(name, end_raw) if end_raw.strip() else None
    if end is not None and end < start:
        raise serializers.ValidationError({name: [_("The window ends before it starts.")]})
    return start, end


def overlapping_runs(queryset, window: str | None, equipment_code: str | None):
    runs = LotRun.objects.all()
    if window:
        runs = services.runs_between(*parse_window("ran_between", window))
    if equipment_code:
        runs = runs.filter(equipment__code=equipment_code)
    return queryset.filter(pk__in=runs.values("lot_id"))


# --- lots ----------------------------------------------------------------------------------------------------------


class LotFilter(filters.FilterSet):
    code = filters.CharFilter(field_name="code")
    kind = filters.ChoiceFilter(choices=Lot.Kind.choices)
    product = filters.CharFilter(method="filter_product", help_text=gettext_lazy("PART or PART@REV"))
    equipment = filters.CharFilter(method="filter_nothing", help_text=gettext_lazy("lots with a run on this equipment"))
    ran_between = filters.CharFilter(
        method="filter_nothing",
        help_text=gettext_lazy("t1,t2: lots with a run overlapping the window (t2 empty: open-ended)"),
    )

    class Meta:
        model = Lot
        fields = ["code", "kind", "product", "equipment", "ran_between"]

    def filter_product(self, queryset, name, value):
        part_number, _sep, revision = value.partition("@")
        queryset = queryset.filter(product__part_number=part_number)
        return queryset.filter(product__revision=revision) if revision else queryset

    def filter_nothing(self, queryset, name, value):
        return queryset  # applied together in filter_queryset: equipment and window must hold for the same run

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        window, equipment_code = self.form.cleaned_data.get("ran_between"), self.form.cleaned_data.get("equipment")
        if window or equipment_code:
            queryset = overlapping_runs(queryset, window, equipment_code)
        return queryset


class LotListView(TraceabilityApiMixin, SiteScopedQuerysetMixin, generics.ListAPIView):
    """GET: lots of your sites (filters: code, kind, product, equipment, ran_between). POST: register a lot."""

    queryset = lots_with_genealogy().order_by("-created_at", "-pk")
    serializer_class = LotSerializer
    filterset_class = LotFilter
    token_scopes = {"GET": INGEST, "POST": INGEST}
    user_perms = {"GET": "traceability.view_lot", "POST": "traceability.add_lot"}

    @extend_schema(
        request=LotRegistrationSerializer,
        responses={201: LotSerializer, 200: OpenApiResponse(LotSerializer, description=gettext_lazy("already recorded")),
                   409: OpenApiResponse(description=gettext_lazy("conflicts with the recorded lot"))},
    )
    def post(self, request, *args, **kwargs):
        data = _validated(LotRegistrationSerializer, request)
        site = resolve_write_site(request, data.get("site"))
        parents = data.get("parents") or []
        parent_lots = services.lots_by_codes(site, [p["lot"] for p in parents], field="parents") if parents else {}
        registration = services.register_lot(
            site, data["code"],
            kind=data.get("kind"),
            product=services.product_by_reference(site, data["product"]) if data.get("product") else None,
            quantity=data.get("quantity"),
            unit=data.get("unit"),
            supplier=data.get("supplier"),
            equipment=services.equipment_by_code(site, data["equipment"]) if data.get("equipment") else None,
            started_at=data.get("started_at"),
            ended_at=data.get("ended_at"),
            parents=[services.ParentLink(parent_lots[p["lot"]], p.get("quantity"), p.get("unit")) for p in parents],
            close_previous=data["close_previous"],
            concurrent=data["concurrent"],
        )
        lot = lots_with_genealogy().get(pk=registration.lot.pk)
        return Response(
            LotSerializer(lot).data,
            status=status.HTTP_201_CREATED if registration.created else status.HTTP_200_OK,
            headers={"Location": f"/api/v1/lots/{lot.code}/"},
        )


class LotDetailView(TraceabilityApiMixin, generics.RetrieveAPIView):
    """One lot by code, with its runs and direct parents/children."""

    serializer_class = LotSerializer
    token_scopes = {"GET": INGEST}
    user_perms = {"GET": "traceability.view_lot"}
    queryset = Lot.objects.none()  # for the schema; get_object resolves by code within the requester's sites

    @extend_schema(parameters=[
        OpenApiParameter("site", str, description=gettext_lazy("site code, when the code is ambiguous")),
    ])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return scoped_lot(self.request, self.kwargs["code"], lots_with_genealogy())


def _validated(serializer_class, request) -> dict:
    if not isinstance(request.data, dict):
        raise ApiError(_("Send a JSON object."), code="invalid_body")
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- runs ----------------------------------------------------------------------------------------------------------


class LotRunsView(TraceabilityApiMixin, generics.ListAPIView):
    """GET: the lot's runs. POST: the lot starts (or ran) on a machine."""

    serializer_class = LotRunSerializer
    token_scopes = {"GET": INGEST, "POST": INGEST}
    user_perms = {"GET": "traceability.view_lotrun", "POST": "traceability.add_lotrun"}
    queryset = LotRun.objects.none()

    def get_queryset(self):
        lot = scoped_lot(self.request, self.kwargs["code"])
        return lot.runs.select_related("lot", "equipment").order_by("started_at")

    @extend_schema(request=LotRunStartSerializer, responses={201: LotRunSerializer, 200: LotRunSerializer})
    def post(self, request, code):
        data = _validated(LotRunStartSerializer, request)
        lot = scoped_lot(request, code)
        run, created = services.start_lot_run(
            lot, services.equipment_by_code(lot.site, data["equipment"]), data["started_at"],
            ended_at=data.get("ended_at"), close_previous=data["close_previous"], concurrent=data["concurrent"],
        )
        return Response(LotRunSerializer(run).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class LotRunDetailView(TraceabilityApiMixin, generics.RetrieveAPIView):
    """GET one run; PATCH {"ended_at"} closes it (the only change a run accepts)."""

    serializer_class = LotRunSerializer
    token_scopes = {"GET": INGEST, "PATCH": INGEST}
    user_perms = {"GET": "traceability.view_lotrun", "PATCH": "traceability.change_lotrun"}
    queryset = LotRun.objects.none()

    def get_object(self):
        lot = scoped_lot(self.request, self.kwargs["code"])
        run = lot.runs.select_related("lot", "equipment").filter(pk=self.kwargs["run_id"]).first()
        if run is None:
            raise Http404(_("Lot %(code)s has no run %(id)s.") % {"code": lot.code, "id": self.kwargs["run_id"]})
        return run

    @extend_schema(request=LotRunEndSerializer, responses={200: LotRunSerializer})
    def patch(self, request, *args, **kwargs):
        data = _validated(LotRunEndSerializer, request)
        run, _changed = services.end_lot_run(self.get_object(), data["ended_at"])
        return Response(LotRunSerializer(run).data)


class LotEndView(TraceabilityApiMixin, generics.GenericAPIView):
    """POST {"ended_at", "equipment"?}: close the lot's open run."""

    serializer_class = LotEndSerializer
    token_scopes = {"POST": INGEST}
    user_perms = {"POST": "traceability.change_lotrun"}
    queryset = LotRun.objects.none()

    @extend_schema(request=LotEndSerializer, responses={200: LotRunSerializer})
    def post(self, request, code):
        data = _validated(LotEndSerializer, request)
        lot = scoped_lot(request, code)
        equipment = services.equipment_by_code(lot.site, data["equipment"]) if data.get("equipment") else None
        run, _changed = services.end_lot(lot, data["ended_at"], equipment=equipment)
        return Response(LotRunSerializer(run).data)


class RunFilter(filters.FilterSet):
    equipment = filters.CharFilter(field_name="equipment__code")
    lot = filters.CharFilter(field_name="lot__code")
    open = filters.BooleanFilter(field_name="ended_at", lookup_expr="isnull", help_text=gettext_lazy("true: only running"))
    ran_between = filters.CharFilter(method="filter_window", help_text=gettext_lazy("t1,t2 (t2 empty: open-ended)"))

    class Meta:
        model = LotRun
        fields = ["equipment", "lot", "open", "ran_between"]

    def filter_window(self, queryset, name, value):
        start, end = parse_window(name, value)
        return queryset.filter(pk__in=services.runs_between(start, end).values("pk"))


class RunListView(TraceabilityApiMixin, SiteScopedQuerysetMixin, generics.ListAPIView):
    """Runs across lots: which lot ran (or runs now, ?open=true) on which machine."""

    queryset = LotRun.objects.select_related("lot", "equipment").order_by("-started_at", "-pk")
    site_lookup = "lot__site"
    serializer_class = LotRunSerializer
    filterset_class = RunFilter
    token_scopes = {"GET": INGEST}
    user_perms = {"GET": "traceability.view_lotrun"}


# --- genealogy -----------------------------------------------------------------------------------------------------


class GenealogyFilter(filters.FilterSet):
    lot = filters.CharFilter(method="filter_lot", help_text=gettext_lazy("edges where this lot is parent or child"))
    parent = filters.CharFilter(field_name="parent__code")
    child = filters.CharFilter(field_name="child__code")

    class Meta:
        model = GenealogyEdge
        fields = ["lot", "parent", "child"]

    def filter_lot(self, queryset, name, value):
        return queryset.filter(Q(parent__code=value) | Q(child__code=value))


class GenealogyView(TraceabilityApiMixin, SiteScopedQuerysetMixin, generics.ListAPIView):
    """GET: genealogy edges (?lot=CODE: the lot's direct parents and children). POST: link parent → child."""

    queryset = GenealogyEdge.objects.select_related("parent", "child").order_by("-created_at", "-pk")
    site_lookup = "child__site"
    serializer_class = GenealogyEdgeSerializer
    filterset_class = GenealogyFilter
    token_scopes = {"GET": INGEST, "POST": INGEST}
    user_perms = {"GET": "traceability.view_genealogyedge", "POST": "traceability.add_genealogyedge"}

    @extend_schema(request=NewGenealogyEdgeSerializer,
                   responses={201: GenealogyEdgeSerializer, 200: GenealogyEdgeSerializer})
    def post(self, request, *args, **kwargs):
        data = _validated(NewGenealogyEdgeSerializer, request)
        site = resolve_write_site(request, body_site_code(request))
        parent, child = _lots_named(site, parent=data["parent"], child=data["child"])
        edge, created = services.add_genealogy_edge(parent, child, data.get("quantity"), data.get("unit"))
        edge = GenealogyEdge.objects.select_related("parent", "child").get(pk=edge.pk)
        return Response(GenealogyEdgeSerializer(edge).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _lots_named(site, **codes: str) -> list[Lot]:
    """Resolve each named lot; one ValidationError naming every unknown one."""
    found, problems = [], {}
    for field_name, code in codes.items():
        try:
            found.append(services.lot_by_code(site, code, field=field_name))
        except DjangoValidationError as exc:
            problems.update(exc.message_dict)
    if problems:
        raise DjangoValidationError(problems)
    return found
