"""Nonconformances, dispositions, attachments and the defect catalogue over REST.

Views only translate (ids → records within the requester's sites, service call, representation); the rules live in
qms.services.nc / defect_codes / attachments. An NcError becomes {"error": {"code", "message", "details"}} with the
status of STATUS_OF (400 otherwise, naming the field in details). People only: machine tokens get 403.
"""
from __future__ import annotations

from django.db.models import Q
from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from qms.api.errors import ApiError
from qms.api.pagination import StandardPagination
from qms.auth.scoping import allowed_site_ids, resolve_write_site
from qms.models import Attachment, DefectCode, Disposition, DispositionApproval, Nonconformance
from qms.services import defect_codes as codes_service
from qms.services import nc as nc_service
from qms.services.attachments import attachments_of
from qms.services.nc_errors import NcError
from qms.web.history import version_history

STATUS_OF = {
    "not_found": status.HTTP_404_NOT_FOUND,
    "not_permitted": status.HTTP_403_FORBIDDEN,
    "separation_of_duties": status.HTTP_403_FORBIDDEN,
    "signature_password": status.HTTP_403_FORBIDDEN,
    "signature_user": status.HTTP_403_FORBIDDEN,
    "stale": status.HTTP_409_CONFLICT,
    "illegal_transition": status.HTTP_409_CONFLICT,
    "lots_locked": status.HTTP_409_CONFLICT,
    "no_lots": status.HTTP_409_CONFLICT,
    "lot_quantity_missing": status.HTTP_409_CONFLICT,
    "disposition_required": status.HTTP_409_CONFLICT,
    "quantities_do_not_add_up": status.HTTP_409_CONFLICT,
    "has_approved_dispositions": status.HTTP_409_CONFLICT,
    "disposition_decided": status.HTTP_409_CONFLICT,
    "already_voted": status.HTTP_409_CONFLICT,
    # An approved disposition decides the lot's held entries (traceability.services.holds.decide_lots_by_disposition):
    # a held entry decided meanwhile is a conflict; the others are invariant breaches of that hand-over (the vote's
    # signature is the authority, so no permission question arises) — refused as conflicts, nothing changed.
    "hold_already_decided": status.HTTP_409_CONFLICT,
    "hold_not_permitted": status.HTTP_409_CONFLICT,
    "hold_disposition_not_approved": status.HTTP_409_CONFLICT,
    "hold_not_in_disposition": status.HTTP_409_CONFLICT,
    "hold_invalid_disposition": status.HTTP_409_CONFLICT,
    "code_taken": status.HTTP_409_CONFLICT,
    "severity_locked": status.HTTP_409_CONFLICT,
    "open_actions": status.HTTP_409_CONFLICT,
    "record_closed": status.HTTP_409_CONFLICT,
    "signature_locked": status.HTTP_429_TOO_MANY_REQUESTS,
    "has_active_children": status.HTTP_409_CONFLICT,
    "parent_inactive": status.HTTP_409_CONFLICT,
    "attachment_too_large": status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
}


def api_error(error: NcError) -> ApiError:
    status_code = STATUS_OF.get(error.code, status.HTTP_400_BAD_REQUEST)
    details = dict(error.details)
    if error.field and status_code in (status.HTTP_400_BAD_REQUEST, status.HTTP_403_FORBIDDEN,
                                       status.HTTP_413_REQUEST_ENTITY_TOO_LARGE):
        details.setdefault(error.field, [error.message])
    return ApiError(error.message, code=error.code, status_code=status_code, details=details or None)


class NcApiView(APIView):
    token_scopes: dict = {}  # NCs are a person's work: machine tokens are refused (403 token_not_allowed)

    def handle_exception(self, exc):
        if isinstance(exc, NcError):
            exc = api_error(exc)
        return super().handle_exception(exc)


def iso(value):
    return value.isoformat() if value else None


def user_name(user):
    return user.get_username() if user is not None else None


def scoped_ncs(request):
    return Nonconformance.objects.filter(site_id__in=allowed_site_ids(request)).select_related(
        "site", "product", "line", "equipment", "operation", "characteristic", "alarm", "created_by", "owner")


def scoped_nc(request, nc_id: int) -> Nonconformance:
    nc = scoped_ncs(request).filter(pk=nc_id).first()
    if nc is None:
        raise Http404(_("Nonconformance %(id)s not found in your sites.") % {"id": nc_id})
    return nc


def validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def code_body(code: DefectCode) -> dict:
    return {"id": code.pk, "code": code.code, "name_en": code.name_en, "name_zh": code.name_zh,
            "parent": code.parent.code if code.parent_id else None, "site": code.site.code if code.site_id else None,
            "unit_cost": str(code.unit_cost) if code.unit_cost is not None else None, "active": code.active}


def nc_body(nc: Nonconformance) -> dict:
    return {
        "id": nc.pk, "number": nc.number, "site": nc.site.code, "title": nc.title, "state": nc.state,
        "source": nc.source, "severity": nc.severity,
        "product": nc.product.part_number if nc.product_id else None,
        "line": nc.line.code if nc.line_id else None,
        "equipment": nc.equipment.code if nc.equipment_id else None,
        "operation": nc.operation.code if nc.operation_id else None,
        "characteristic": nc.characteristic.code if nc.characteristic_id else None,
        "detection_point": nc.detection_point, "quantity_affected": nc.quantity_affected,
        "alarm": nc.alarm_id, "created_by": user_name(nc.created_by), "owner": user_name(nc.owner),
        "created_at": iso(nc.created_at), "closed_at": iso(nc.closed_at), "version": nc.version,
    }


def approval_body(approval: DispositionApproval) -> dict:
    return {"user": approval.user.get_username(), "vote": approval.vote, "comment": approval.comment,
            "at": iso(approval.at), "signature": {"id": approval.signature_id, "meaning": approval.signature.meaning,
                                                  "signer": approval.signature.signer_name}}


def disposition_body(disposition: Disposition) -> dict:
    return {
        "id": disposition.pk, "lot": disposition.nc_lot.lot.code if disposition.nc_lot_id else None,
        "decision": disposition.decision, "quantity": disposition.quantity, "rationale": disposition.rationale,
        "state": disposition.state, "approvals_required": disposition.approvals_required,
        "proposed_by": disposition.proposed_by.get_username(), "proposed_at": iso(disposition.proposed_at),
        "decided_at": iso(disposition.decided_at), "version": disposition.version,
        "approvals": [approval_body(a) for a in disposition.approvals.select_related("user", "signature")],
    }


def attachment_body(attachment: Attachment) -> dict:
    return {"id": attachment.pk, "name": attachment.original_name, "content_type": attachment.content_type,
            "size": attachment.size, "sha256": attachment.sha256,
            "uploaded_by": attachment.uploaded_by.get_username(), "uploaded_at": iso(attachment.uploaded_at),
            "download": f"/api/v1/attachments/{attachment.pk}/download/"}


def nc_detail(nc: Nonconformance) -> dict:
    lots = nc.lots.select_related("lot").order_by("lot__code")
    dispositions = nc.dispositions.select_related("nc_lot__lot", "proposed_by").order_by("proposed_at", "pk")
    return {
        **nc_body(nc), "description": nc.description, "containment": nc.containment, "evidence": nc.evidence,
        "defect_codes": [code_body(code) for code in nc.defect_codes.select_related("parent", "site")],
        "lots": [{"id": entry.pk, "lot": entry.lot.code, "quantity": entry.quantity, "unit": entry.unit,
                  "lot_quantity": entry.lot.quantity} for entry in lots],
        "holds": [{"id": hold.pk, "number": hold.number, "state": hold.state} for hold in nc.holds.order_by("pk")],
        "dispositions": [disposition_body(d) for d in dispositions],
        "attachments": [attachment_body(a) for a in attachments_of(nc)],
        "lots_not_adding_up": nc_service.lots_not_adding_up(nc) if nc.state == nc.State.DISPOSITION else [],
        "history": [{"version": v.number, "at": iso(v.when), "by": v.who, "kind": v.kind, "reason": v.reason,
                     "changes": [{"field": c.label, "before": c.before, "after": c.after} for c in v.changes]}
                    for v in version_history(nc)],
    }


# --- serializers ---------------------------------------------------------------------------------------------------


class LotQuantitySerializer(serializers.Serializer):
    lot = serializers.CharField()
    quantity = serializers.FloatField(min_value=0)


class NcFieldsSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True)
    source = serializers.CharField(required=False)
    severity = serializers.CharField(required=False)
    product = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    line = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    equipment = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    operation = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    characteristic = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    detection_point = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    containment = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    quantity_affected = serializers.FloatField(required=False, allow_null=True)
    defect_codes = serializers.ListField(child=serializers.CharField(), required=False)
    lots = LotQuantitySerializer(many=True, required=False)


class NcCreateSerializer(NcFieldsSerializer):
    site = serializers.CharField(required=False)
    title = serializers.CharField(allow_blank=True)
    source = serializers.CharField()
    severity = serializers.CharField(required=False, default=Nonconformance.Severity.MAJOR)
    draft = serializers.BooleanField(required=False, default=False)


class NcUpdateSerializer(NcFieldsSerializer):
    version = serializers.IntegerField()
    owner = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class SignatureSerializer(serializers.Serializer):
    password = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    meaning = serializers.CharField(required=False, allow_blank=True, default="")


class CloseSerializer(SignatureSerializer):
    # The version the signer saw: a different current version → 409 stale (nobody signs unseen content).
    version = serializers.IntegerField(required=False, source="expected_version")


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ProposeSerializer(serializers.Serializer):
    lot = serializers.CharField()
    decision = serializers.ChoiceField(choices=Disposition.Decision.values)
    quantity = serializers.FloatField()
    rationale = serializers.CharField(required=False, allow_blank=True, default="")


class VoteSerializer(SignatureSerializer):
    vote = serializers.ChoiceField(choices=DispositionApproval.Vote.values)
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    # The NC version the voter reviewed: a different current version → 409 stale (nobody signs unseen content).
    version = serializers.IntegerField(required=False, source="expected_version")


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class DefectCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    name_en = serializers.CharField(allow_blank=True)
    name_zh = serializers.CharField(allow_blank=True)
    parent = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)
    unit_cost = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True,
                                         default=None)
    shared = serializers.BooleanField(required=False, default=False,
                                      help_text=gettext_lazy("true: a code every site uses (needs no site)"))
    site = serializers.CharField(required=False)


class DefectCodeUpdateSerializer(serializers.Serializer):
    name_en = serializers.CharField(required=False)
    name_zh = serializers.CharField(required=False)
    parent = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    unit_cost = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True)


# --- NCs -------------------------------------------------------------------------------------------------------


NC_FILTERS = [
    OpenApiParameter("state", str, enum=Nonconformance.State.values),
    OpenApiParameter("severity", str, enum=Nonconformance.Severity.values),
    OpenApiParameter("source", str, enum=Nonconformance.Source.values),
    OpenApiParameter("line", str), OpenApiParameter("product", str, description=gettext_lazy("part number")),
    OpenApiParameter("defect_code", str), OpenApiParameter("since", str, description=gettext_lazy(
        "created at or after (ISO)")),
    OpenApiParameter("site", str),
]


def filter_ncs(ncs, params):
    """Apply the list filters; an unknown choice or a bad time → 400 naming the parameter."""
    for name, choices in (("state", Nonconformance.State), ("severity", Nonconformance.Severity),
                          ("source", Nonconformance.Source)):
        value = params.get(name)
        if value:
            if value not in choices.values:
                raise ApiError(_("Unknown %(field)s %(value)r; one of: %(choices)s.")
                               % {"field": name, "value": value, "choices": ", ".join(choices.values)},
                               code="validation_error", details={name: [_("Unknown value.")]})
            ncs = ncs.filter(**{name: value})
    if params.get("line"):
        ncs = ncs.filter(line__code=params["line"])
    if params.get("product"):
        ncs = ncs.filter(product__part_number=params["product"])
    if params.get("defect_code"):
        ncs = ncs.filter(defect_codes__code=params["defect_code"].upper()).distinct()
    if params.get("site"):
        ncs = ncs.filter(site__code=params["site"])
    if params.get("since"):
        since = parse_datetime(params["since"]) or parse_date(params["since"])
        if since is None:
            raise ApiError(_("'since' must be an ISO date or time."), code="validation_error",
                           details={"since": [_("Not an ISO date or time.")]})
        if not hasattr(since, "hour"):
            return ncs.filter(created_at__date__gte=since)
        if timezone.is_naive(since):
            since = timezone.make_aware(since)
        ncs = ncs.filter(created_at__gte=since)
    return ncs


def lot_pairs(lots) -> list[tuple[str, float]]:
    return [(row["lot"], row["quantity"]) for row in lots]


class NcListView(NcApiView):
    """GET: NCs of your sites (filters). POST: report an NC (open, or draft with "draft": true)."""

    user_perms = {"GET": "qms.view_nonconformance", "POST": "qms.add_nonconformance"}

    @extend_schema(operation_id="ncs_list", parameters=NC_FILTERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        ncs = filter_ncs(scoped_ncs(request), request.query_params).order_by("-created_at", "-pk")
        paginator = StandardPagination()
        page = paginator.paginate_queryset(ncs, request, view=self)
        return paginator.get_paginated_response([nc_body(nc) for nc in page])

    @extend_schema(operation_id="ncs_create", request=NcCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = validated(NcCreateSerializer, request)
        site = resolve_write_site(request, data.pop("site", None))
        lots = lot_pairs(data.pop("lots", []))
        nc = nc_service.create_nc(site, user=request.user, lots=lots, **data)
        return Response(nc_detail(scoped_nc(request, nc.pk)), status=status.HTTP_201_CREATED)


class NcDetailView(NcApiView):
    """GET: the NC with lots, dispositions and votes, attachments, alarm, holds and history.
    PATCH {version, fields…}: edit; a stale version → 409 stale."""

    user_perms = {"GET": "qms.view_nonconformance", "PATCH": "qms.change_nonconformance"}

    @extend_schema(operation_id="nc_retrieve", responses=OpenApiTypes.OBJECT)
    def get(self, request, nc_id: int):
        return Response(nc_detail(scoped_nc(request, nc_id)))

    @extend_schema(operation_id="nc_update", request=NcUpdateSerializer, responses=OpenApiTypes.OBJECT)
    def patch(self, request, nc_id: int):
        scoped_nc(request, nc_id)
        data = validated(NcUpdateSerializer, request)
        version = data.pop("version")
        if "lots" in data:
            data["lots"] = lot_pairs(data["lots"])
        nc_service.update_nc(nc_id, user=request.user, changes=data, expected_version=version)
        return Response(nc_detail(scoped_nc(request, nc_id)))


TRANSITIONS = {
    "open": (nc_service.open_nc, None),
    "start-disposition": (nc_service.start_disposition, None),
    "complete-disposition": (nc_service.complete_disposition, None),
    "close": (nc_service.close_nc, CloseSerializer),
    "cancel": (nc_service.cancel_nc, CancelSerializer),
}


class NcTransitionView(NcApiView):
    """POST /ncs/{id}/{open|start-disposition|complete-disposition|close|cancel}/ — close takes {password,
    meaning, version} (e-signed; version optional, stale → 409), cancel takes {reason}."""

    user_perms = {"POST": "qms.change_nonconformance"}

    @extend_schema(operation_id="nc_transition", request=SignatureSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, nc_id: int, transition: str):
        if transition not in TRANSITIONS:
            raise Http404(_("No transition %(name)s.") % {"name": transition})
        scoped_nc(request, nc_id)
        service, serializer = TRANSITIONS[transition]
        data = validated(serializer, request) if serializer else {}
        service(nc_id, user=request.user, **data)
        return Response(nc_detail(scoped_nc(request, nc_id)))


class NcAttachmentView(NcApiView):
    """POST multipart {file}: attach a photo or document (type and size checked)."""

    parser_classes = [MultiPartParser, FormParser]
    user_perms = {"POST": "qms.add_attachment"}

    @extend_schema(operation_id="nc_attachment_create", request={"multipart/form-data": AttachmentUploadSerializer},
                   responses={201: OpenApiTypes.OBJECT})
    def post(self, request, nc_id: int):
        nc = scoped_nc(request, nc_id)
        data = validated(AttachmentUploadSerializer, request)
        attachment = nc_service.add_attachment(nc, user=request.user, uploaded_file=data["file"])
        return Response(attachment_body(attachment), status=status.HTTP_201_CREATED)


class AttachmentDownloadView(NcApiView):
    """GET: the file, to people who may view attachments of its site (never served as public static)."""

    user_perms = {"GET": "qms.view_attachment"}

    @extend_schema(operation_id="attachment_download", responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, attachment_id: int):
        attachment = Attachment.objects.filter(pk=attachment_id, site_id__in=allowed_site_ids(request)).first()
        if attachment is None:
            raise Http404(_("Attachment %(id)s not found in your sites.") % {"id": attachment_id})
        return attachment_response(attachment)


def attachment_response(attachment: Attachment, *, inline: bool = False) -> FileResponse:
    response = FileResponse(attachment.file.open("rb"), as_attachment=not inline,
                            filename=attachment.original_name, content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


class DispositionProposeView(NcApiView):
    """POST {lot, decision, quantity, rationale}: propose a disposition of a quantity of one NC lot."""

    parser_classes = [JSONParser, FormParser]
    user_perms = {"POST": "qms.add_disposition"}

    @extend_schema(operation_id="nc_disposition_propose", request=ProposeSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, nc_id: int):
        nc = scoped_nc(request, nc_id)
        data = validated(ProposeSerializer, request)
        entry = nc.lots.filter(lot__code=data["lot"]).first()
        if entry is None:
            raise ApiError(_("Lot %(lot)s is not part of %(number)s.") % {"lot": data["lot"], "number": nc.number},
                           code="lot_not_in_nc", details={"lot": [_("Not a lot of this NC.")]})
        disposition = nc_service.propose_disposition(nc_id, user=request.user, nc_lot_id=entry.pk,
                                                     decision=data["decision"], quantity=data["quantity"],
                                                     rationale=data["rationale"])
        return Response(disposition_body(disposition), status=status.HTTP_201_CREATED)


class DispositionVoteView(NcApiView):
    """POST {vote: approve|reject, password, meaning, comment}: an MRB member's e-signed vote."""

    user_perms = {"POST": "qms.approve_disposition"}

    @extend_schema(operation_id="disposition_approve", request=VoteSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, disposition_id: int):
        disposition = Disposition.objects.filter(pk=disposition_id, nc__site_id__in=allowed_site_ids(request)).first()
        if disposition is None:
            raise Http404(_("Disposition %(id)s not found in your sites.") % {"id": disposition_id})
        data = validated(VoteSerializer, request)
        nc_service.approve_disposition(disposition_id, user=request.user, **data)
        disposition = Disposition.objects.select_related("nc_lot__lot", "proposed_by").get(pk=disposition_id)
        return Response(disposition_body(disposition))


# --- defect codes --------------------------------------------------------------------------------------------------


class DefectCodeListView(NcApiView):
    """GET: the codes your sites use (their own and shared), as a flat list in tree order with `depth`;
    ?active=false includes deactivated ones. POST: a site code (or "shared": true)."""

    user_perms = {"GET": "qms.view_defectcode", "POST": "qms.add_defectcode"}

    @extend_schema(operation_id="defect_codes_list", responses=OpenApiTypes.OBJECT,
                   parameters=[OpenApiParameter("include_inactive", bool), OpenApiParameter("site", str)])
    def get(self, request):
        allowed = allowed_site_ids(request)
        codes = DefectCode.objects.filter(Q(site__isnull=True) | Q(site_id__in=allowed)).select_related(
            "parent", "site")
        if request.query_params.get("site"):
            codes = codes.filter(Q(site__isnull=True) | Q(site__code=request.query_params["site"]))
        if request.query_params.get("include_inactive", "").lower() not in ("1", "true", "yes"):
            codes = codes.filter(active=True)
        return Response({"results": [{**code_body(code), "depth": depth}
                                     for code, depth in codes_service.tree(list(codes))]})

    @extend_schema(operation_id="defect_codes_create", request=DefectCodeSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = validated(DefectCodeSerializer, request)
        site = None if data.pop("shared") else resolve_write_site(request, data.pop("site", None))
        data.pop("site", None)
        code = codes_service.create_defect_code(site, **data)
        return Response(code_body(code), status=status.HTTP_201_CREATED)


def scoped_code(request, code_id: int) -> DefectCode:
    code = DefectCode.objects.filter(Q(site__isnull=True) | Q(site_id__in=allowed_site_ids(request)),
                                     pk=code_id).first()
    if code is None:
        raise Http404(_("Defect code %(id)s not found.") % {"id": code_id})
    return code


class DefectCodeDetailView(NcApiView):
    user_perms = {"GET": "qms.view_defectcode", "PATCH": "qms.change_defectcode"}

    @extend_schema(operation_id="defect_code_retrieve", responses=OpenApiTypes.OBJECT)
    def get(self, request, code_id: int):
        return Response(code_body(scoped_code(request, code_id)))

    @extend_schema(operation_id="defect_code_update", request=DefectCodeUpdateSerializer, responses=OpenApiTypes.OBJECT)
    def patch(self, request, code_id: int):
        scoped_code(request, code_id)
        data = validated(DefectCodeUpdateSerializer, request)
        return Response(code_body(codes_service.update_defect_code(code_id, changes=data)))


class DefectCodeActiveView(NcApiView):
    """POST /defect-codes/{id}/deactivate/ or /activate/ — codes are never deleted (NCs name them)."""

    user_perms = {"POST": "qms.change_defectcode"}
    active = False

    def set_active(self, request, code_id: int) -> Response:
        scoped_code(request, code_id)
        return Response(code_body(codes_service.set_defect_code_active(code_id, active=self.active)))


class DefectCodeDeactivateView(DefectCodeActiveView):
    active = False

    @extend_schema(operation_id="defect_code_deactivate", request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, code_id: int):
        return self.set_active(request, code_id)


class DefectCodeActivateView(DefectCodeActiveView):
    active = True

    @extend_schema(operation_id="defect_code_activate", request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, code_id: int):
        return self.set_active(request, code_id)
