"""Holds over REST: list/place, detail with the first held lots (all of them paged at /holds/{id}/lots/), e-signed
decisions, release, closing the window.

Views only translate (codes → objects within the requester's sites, service call, representation); the rules live in
traceability.services.holds. A HoldError becomes {"error": {"code", "message", "details"}} with the status below.
Machine tokens with the `holds:write` scope may read and place holds and close windows, never sign: an e-signature
needs a person (403 signature_needs_person).
"""
from __future__ import annotations

from django.db.models import Count, Q
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from qms.api.errors import ApiError
from qms.api.pagination import StandardPagination
from qms.auth.permissions import ANY_TOKEN, request_token
from qms.auth.scoping import allowed_site_ids, resolve_write_site
from traceability import services
from traceability.models import Hold, HoldLot
from traceability.services.holds import HoldError
from traceability.services.lookup import iso

HOLDS_WRITE = "holds:write"
# The detail embeds this many lots; a hold may have tens of thousands (a propagated freeze), read them paged.
EMBEDDED_LOTS = 100

STATUS_OF = {
    "not_found": status.HTTP_404_NOT_FOUND,
    "not_permitted": status.HTTP_403_FORBIDDEN,
    "signature_password": status.HTTP_403_FORBIDDEN,
    "signature_user": status.HTTP_403_FORBIDDEN,
    "signature_needs_person": status.HTTP_403_FORBIDDEN,
    "already_decided": status.HTTP_409_CONFLICT,
    "already_released": status.HTTP_409_CONFLICT,
    "rework_pending": status.HTTP_409_CONFLICT,
    "window_closed": status.HTTP_409_CONFLICT,
    "no_window": status.HTTP_409_CONFLICT,
    "signature_locked": status.HTTP_429_TOO_MANY_REQUESTS,  # too many wrong passwords (docs/security.md §5a)
}


def api_error(error: HoldError) -> ApiError:
    status_code = STATUS_OF.get(error.code, status.HTTP_400_BAD_REQUEST)
    details = dict(error.details)
    if status_code == status.HTTP_400_BAD_REQUEST and error.field:
        details.setdefault(error.field, [error.message])
    return ApiError(error.message, code=error.code, status_code=status_code, details=details or None)


class HoldApiMixin:
    def handle_exception(self, exc):
        if isinstance(exc, HoldError):
            exc = api_error(exc)
        return super().handle_exception(exc)


def scoped_holds(request):
    return Hold.objects.filter(site_id__in=allowed_site_ids(request)).select_related("site", "equipment")


def scoped_hold(request, hold_id: int) -> Hold:
    hold = scoped_holds(request).filter(pk=hold_id).first()
    if hold is None:
        raise Http404(_("Hold %(id)s not found in your sites.") % {"id": hold_id})
    return hold


def with_counts(holds):
    return holds.annotate(lot_count=Count("lots"),
                          held_count=Count("lots", filter=Q(lots__disposition=HoldLot.Disposition.HELD)))


def hold_body(hold: Hold) -> dict:
    return {
        "id": hold.pk,
        "number": hold.number,
        "site": hold.site.code,
        "state": hold.state,
        "reason": hold.reason,
        "source": hold.source,
        "alarm": hold.alarm_id,
        "equipment": hold.equipment.code if hold.equipment_id else None,
        "window_start": iso(hold.window_start) if hold.window_start else None,
        "window_end": iso(hold.window_end) if hold.window_end else None,
        "window_open": hold.window_start is not None and hold.window_end is None,
        "propagate_forward": hold.propagate_forward,
        "placed_at": iso(hold.placed_at),
        "placed_by": hold.placed_by,
        "released_at": iso(hold.released_at) if hold.released_at else None,
        "lot_count": getattr(hold, "lot_count", None),
        "held_count": getattr(hold, "held_count", None),
        "version": hold.version,
    }


def hold_lot_body(entry: HoldLot) -> dict:
    return {
        "lot": entry.lot.code,
        "via": entry.via,
        "depth": entry.depth,
        "disposition": entry.disposition,
        "decided_by": entry.disposed_by or None,
        "decided_at": iso(entry.disposed_at) if entry.disposed_at else None,
        "signature_meaning": entry.signature.meaning if entry.signature_id else None,
        "comment": entry.comment,
        "version": entry.version,
    }


def hold_detail(hold_id: int, request) -> dict:
    """The hold with its first EMBEDDED_LOTS lots (nearest first); all of them page by page at `lots_url`."""
    hold = with_counts(scoped_holds(request)).get(pk=hold_id)
    entries = list(hold.lots.select_related("lot", "signature").order_by("depth", "lot__code")[:EMBEDDED_LOTS])
    return {**hold_body(hold), "lots": [hold_lot_body(entry) for entry in entries],
            "lots_truncated": hold.lot_count > len(entries),
            "lots_url": reverse("api-hold-lots", args=[hold.pk])}


def validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class HoldCreateSerializer(serializers.Serializer):
    site = serializers.CharField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=True)
    lots = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    equipment = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)
    window_start = serializers.DateTimeField(required=False, allow_null=True, default=None)
    window_end = serializers.DateTimeField(required=False, allow_null=True, default=None)
    propagate_forward = serializers.BooleanField(required=False, default=False)


class SignedDecisionSerializer(serializers.Serializer):
    password = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    meaning = serializers.CharField(required=False, allow_blank=True, default="")
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class DisposeSerializer(SignedDecisionSerializer):
    disposition = serializers.ChoiceField(choices=[c for c in HoldLot.Disposition.values if c != "held"])
    version = serializers.IntegerField(required=False, allow_null=True, default=None)


class CloseWindowSerializer(serializers.Serializer):
    end = serializers.DateTimeField()


def refuse_machine_signature(request) -> None:
    if request_token(request) is not None:
        raise ApiError(_("An e-signature needs a signed-in person with the release permission; machine tokens "
                         "cannot sign decisions on held lots."), code="signature_needs_person",
                       status_code=status.HTTP_403_FORBIDDEN)


class HoldListView(HoldApiMixin, APIView):
    """GET: holds of your sites (filters state, equipment, lot). POST: place a hold."""

    token_scopes = {"GET": HOLDS_WRITE, "POST": HOLDS_WRITE}
    user_perms = {"GET": "traceability.view_hold", "POST": "traceability.add_hold"}

    @extend_schema(operation_id="holds_list", responses=OpenApiTypes.OBJECT, parameters=[
        OpenApiParameter("state", str, enum=Hold.State.values), OpenApiParameter("equipment", str),
        OpenApiParameter("lot", str, description=gettext_lazy(
            "holds that hold this lot code")), OpenApiParameter("site", str)])
    def get(self, request):
        holds = with_counts(scoped_holds(request)).order_by("-placed_at", "-pk")
        params = request.query_params
        if params.get("state"):
            if params["state"] not in Hold.State.values:
                raise ApiError(_("Unknown state %(state)r; one of: %(states)s.")
                               % {"state": params["state"], "states": ", ".join(Hold.State.values)},
                               code="validation_error", details={"state": [_("Unknown state.")]})
            holds = holds.filter(state=params["state"])
        if params.get("equipment"):
            holds = holds.filter(equipment__code=params["equipment"])
        if params.get("lot"):
            holds = holds.filter(pk__in=HoldLot.objects.filter(lot__code=params["lot"]).values("hold_id"))
        if params.get("site"):
            holds = holds.filter(site__code=params["site"])
        paginator = StandardPagination()
        page = paginator.paginate_queryset(holds, request, view=self)
        return paginator.get_paginated_response([hold_body(hold) for hold in page])

    @extend_schema(operation_id="holds_create", request=HoldCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = validated(HoldCreateSerializer, request)
        site = resolve_write_site(request, data.get("site"))
        equipment = services.equipment_by_code(site, data["equipment"]) if data.get("equipment") else None
        hold = services.holds.place_hold(
            site, reason=data["reason"], lots=data["lots"], equipment=equipment, window_start=data["window_start"],
            window_end=data["window_end"], propagate_forward=data["propagate_forward"],
        )
        return Response(hold_detail(hold.pk, request), status=status.HTTP_201_CREATED)


class HoldDetailView(HoldApiMixin, APIView):
    token_scopes = {"GET": HOLDS_WRITE}
    user_perms = {"GET": "traceability.view_hold"}

    @extend_schema(operation_id="hold_retrieve", responses=OpenApiTypes.OBJECT)
    def get(self, request, hold_id: int):
        scoped_hold(request, hold_id)
        return Response(hold_detail(hold_id, request))


class HoldLotsPagination(CursorPagination):
    """Keyset pages over the hold's lots in the order they joined it: stable while lots join (an open window), no
    OFFSET scans on a hold of 50,000 lots."""

    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000
    ordering = ("id",)


class HoldLotsView(HoldApiMixin, APIView):
    """GET: every lot of the hold, cursor-paginated (`next` / `previous` links); filter `disposition`."""

    token_scopes = {"GET": HOLDS_WRITE}
    user_perms = {"GET": "traceability.view_hold"}

    @extend_schema(operation_id="hold_lots", responses=OpenApiTypes.OBJECT, parameters=[
        OpenApiParameter("disposition", str, enum=HoldLot.Disposition.values),
        OpenApiParameter("cursor", str), OpenApiParameter("page_size", int, description=gettext_lazy(
            "1…5000, default 500"))])
    def get(self, request, hold_id: int):
        hold = scoped_hold(request, hold_id)
        entries = hold.lots.select_related("lot", "signature")
        disposition = request.query_params.get("disposition")
        if disposition:
            if disposition not in HoldLot.Disposition.values:
                raise ApiError(_("Unknown disposition %(value)r; one of: %(choices)s.")
                               % {"value": disposition, "choices": ", ".join(HoldLot.Disposition.values)},
                               code="validation_error", details={"disposition": [_("Unknown disposition.")]})
            entries = entries.filter(disposition=disposition)
        paginator = HoldLotsPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response([hold_lot_body(entry) for entry in page])


class HoldLotDisposeView(HoldApiMixin, APIView):
    """POST {disposition, password, meaning, comment[, version]}: decide on one held lot, e-signed."""

    token_scopes = {"POST": ANY_TOKEN}  # answered with a clear 403: tokens never sign
    user_perms = {"POST": "traceability.release_hold"}

    @extend_schema(operation_id="hold_lot_dispose", request=DisposeSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, hold_id: int, lot_code: str):
        refuse_machine_signature(request)
        hold = scoped_hold(request, hold_id)
        entry = hold.lots.filter(lot__code=lot_code).first()
        if entry is None:
            raise Http404(_("Lot %(lot)s is not held by %(hold)s.") % {"lot": lot_code, "hold": hold.number})
        data = validated(DisposeSerializer, request)
        services.holds.dispose_hold_lot(
            entry.pk, disposition=data["disposition"], user=request.user, password=data["password"],
            meaning=data["meaning"], comment=data["comment"], version=data["version"])
        return Response(hold_detail(hold_id, request))


class HoldReleaseView(HoldApiMixin, APIView):
    """POST {password, meaning, comment}: release every still-held lot with one signature."""

    token_scopes = {"POST": ANY_TOKEN}
    user_perms = {"POST": "traceability.release_hold"}

    @extend_schema(operation_id="hold_release", request=SignedDecisionSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, hold_id: int):
        refuse_machine_signature(request)
        scoped_hold(request, hold_id)
        data = validated(SignedDecisionSerializer, request)
        services.holds.release_hold(hold_id, user=request.user, password=data["password"], meaning=data["meaning"],
                                    comment=data["comment"])
        return Response(hold_detail(hold_id, request))


class HoldCloseWindowView(HoldApiMixin, APIView):
    """POST {end}: the window's end (e.g. the alarm cleared then); lots starting later are not held."""

    token_scopes = {"POST": HOLDS_WRITE}
    user_perms = {"POST": "traceability.change_hold"}

    @extend_schema(operation_id="hold_close_window", request=CloseWindowSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, hold_id: int):
        scoped_hold(request, hold_id)
        data = validated(CloseWindowSerializer, request)
        services.holds.close_hold_window(hold_id, end=data["end"])
        return Response(hold_detail(hold_id, request))
