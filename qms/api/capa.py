"""8D CAPA, actions and MES instructions over REST (docs/capa.md).

GET  /api/v1/capas/?state=&q=                     list of your sites' CAPAs
POST /api/v1/capas/                               {"site"?, "title", "nonconformances"?, "champion"?}
GET  /api/v1/capas/{id}/                          detail: steps, root causes, actions, NCs, effectiveness
PATCH /api/v1/capas/{id}/                         {"version", title/product/line/characteristics/periods/NCs}
PUT  /api/v1/capas/{id}/steps/{D4}/               {"content", "version"}
POST /api/v1/capas/{id}/steps/{D4}/submit/        {}
POST /api/v1/capas/{id}/steps/{D4}/approve/       {"password", "meaning", "version"?: the step's version seen}
POST /api/v1/capas/{id}/steps/{D4}/reopen/        {"reason"}
POST /api/v1/capas/{id}/root-causes/              {"category", "cause", "whys", "is_root_cause", "verified"}
PATCH/DELETE /api/v1/root-causes/{id}/
POST /api/v1/capas/{id}/effectiveness/            check now
POST /api/v1/capas/{id}/close/                    {"password", "meaning"}
POST /api/v1/capas/{id}/cancel/                   {"reason"}
GET  /api/v1/actions/?mine=true&overdue=true      POST /api/v1/actions/   POST /api/v1/actions/{id}/complete/
GET  /api/v1/instructions/?equipment=IMM02        open MES instructions (token scope "instructions:read")

Errors: CapaError → {"error": {"code", "message", "details"}} with 400/403/404/409 (docs/capa.md, "Error codes").
"""
from __future__ import annotations

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from qms.api.errors import ApiError
from qms.api.pagination import StandardPagination
from qms.auth.scoping import SiteScopedQuerysetMixin, allowed_site_ids, current_site
from qms.models import Action, Capa, RootCause, Site
from qms.services import capa as capa_service
from qms.services.actions import instruction_payload
from qms.services.capa import CapaError

INSTRUCTIONS_SCOPE = "instructions:read"


def api_error(exc: CapaError) -> ApiError:
    details = dict(exc.details)
    if exc.field:
        details["field"] = exc.field
    return ApiError(exc.message, code=exc.code, status_code=exc.http_status, details=details or None)


def run(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except CapaError as exc:
        raise api_error(exc) from None


class ActionSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    completed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    equipment = serializers.SlugRelatedField(slug_field="code", read_only=True)
    operation = serializers.SlugRelatedField(slug_field="code", read_only=True)
    nc = serializers.SlugRelatedField(slug_field="number", read_only=True)
    capa = serializers.SlugRelatedField(slug_field="number", read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Action
        fields = ["id", "title", "description", "kind", "state", "nc", "capa", "capa_step", "root_cause", "owner",
                  "due_date", "overdue", "verification", "completed_at", "completed_by", "completion_note",
                  "equipment", "operation", "mes_instruction", "escalated_at", "created_at", "version"]

    def get_overdue(self, action) -> bool:
        return action.state == Action.State.OPEN and action.due_date < timezone.localdate()


class RootCauseSerializer(serializers.ModelSerializer):
    class Meta:
        model = RootCause
        fields = ["id", "category", "cause", "whys", "is_root_cause", "verified"]


class CapaSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    champion = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Capa
        fields = ["id", "site", "number", "title", "state", "champion", "effectiveness", "effectiveness_checked_at",
                  "created_by", "created_at", "closed_at", "version", "url"]

    def get_url(self, capa) -> str:
        return f"/capas/{capa.pk}/"


class CapaDetailSerializer(CapaSerializer):
    team = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    nonconformances = serializers.SlugRelatedField(slug_field="number", many=True, read_only=True)
    characteristics = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    product = serializers.SlugRelatedField(slug_field="part_number", read_only=True)
    line = serializers.SlugRelatedField(slug_field="code", read_only=True)
    steps = serializers.SerializerMethodField()
    root_causes = RootCauseSerializer(many=True, read_only=True)
    actions = ActionSerializer(many=True, read_only=True)

    class Meta(CapaSerializer.Meta):
        fields = [*CapaSerializer.Meta.fields, "team", "nonconformances", "characteristics", "product", "line",
                  "baseline_start", "baseline_end", "effective_from", "effectiveness_data", "cancel_reason", "steps",
                  "root_causes", "actions"]

    def get_steps(self, capa) -> list[dict]:
        return [{"step": row.step, "label": row.get_step_display(), "state": row.state, "content": row.content,
                 "version": row.version,
                 "submitted_by": row.submitted_by.get_username() if row.submitted_by_id else None,
                 "submitted_at": row.submitted_at,
                 "approved_by": row.approved_signature.signer_name if row.approved_signature_id else None,
                 "approved_at": row.approved_at,
                 "approval_meaning": row.approved_signature.meaning if row.approved_signature_id else None,
                 "reopen_reason": row.reopen_reason}
                for row in capa.steps.select_related("submitted_by", "approved_signature").order_by("step")]


def _capas(request):
    return Capa.objects.filter(site_id__in=allowed_site_ids(request)).select_related("site", "champion",
                                                                                      "created_by")


def _site_for(request, code) -> Site:
    if code:
        site = Site.objects.filter(code=code, pk__in=allowed_site_ids(request)).first()
        if site is None:
            raise ApiError(_("Site %(site)s does not exist.") % {"site": code}, code="not_found", status_code=404)
        return site
    site = current_site(request)
    if site is None:
        raise ApiError(_("Name the site."), code="site_required", details={"field": "site"})
    return site


def _data(request, *names, required=()) -> dict:
    if not isinstance(request.data, dict):
        raise ApiError(_("Send a JSON object."), code="invalid")
    unknown = sorted(set(request.data) - set(names) - set(required))
    if unknown:
        raise ApiError(_("Unknown fields: %(fields)s.") % {"fields": ", ".join(unknown)}, code="unknown_fields",
                       details={"field": unknown[0]})
    missing = [name for name in required if name not in request.data]
    if missing:
        raise ApiError(_("Missing fields: %(fields)s.") % {"fields": ", ".join(missing)}, code="required",
                       details={"field": missing[0]})
    return dict(request.data)


@extend_schema(tags=["capa"], summary=gettext_lazy("List CAPAs of your sites / open one"))
class CapaListView(SiteScopedQuerysetMixin, generics.ListAPIView):
    serializer_class = CapaSerializer
    pagination_class = StandardPagination
    queryset = Capa.objects.select_related("site", "champion", "created_by")
    user_perms = {"GET": "qms.view_capa", "POST": "qms.add_capa"}

    def get_queryset(self):
        queryset = super().get_queryset()
        state = self.request.query_params.get("state")
        if state:
            queryset = queryset.filter(state=state)
        text = self.request.query_params.get("q")
        if text:
            queryset = queryset.filter(Q(number__icontains=text) | Q(title__icontains=text))
        return queryset

    def post(self, request):
        data = _data(request, "site", "nonconformances", "champion", required=("title",))
        capa = run(capa_service.open_capa, _site_for(request, data.get("site")), title=data["title"],
                   user=request.user, nonconformances=data.get("nonconformances") or (),
                   champion=data.get("champion"))
        return Response(CapaDetailSerializer(capa).data, status=status.HTTP_201_CREATED)


class _CapaView(APIView):
    serializer_class = None  # set below: every CAPA endpoint answers with the CAPA's detail
    user_perms = {"GET": "qms.view_capa", "POST": "qms.change_capa", "PUT": "qms.change_capastep",
                  "PATCH": "qms.change_capa", "DELETE": "qms.change_rootcause"}

    def capa(self, pk) -> Capa:
        capa = _capas(self.request).filter(pk=pk).first()
        if capa is None:
            raise ApiError(_("CAPA %(id)s does not exist.") % {"id": pk}, code="not_found", status_code=404)
        return capa

    def detail(self, pk, code=status.HTTP_200_OK) -> Response:
        return Response(CapaDetailSerializer(self.capa(pk)).data, status=code)


@extend_schema(tags=["capa"], summary=gettext_lazy("One CAPA with steps, root causes, actions, NCs and effectiveness"))
class CapaDetailView(_CapaView):
    def get(self, request, pk):
        return self.detail(pk)

    def patch(self, request, pk):
        data = _data(request, *capa_service.UPDATABLE, required=("version",))
        version = data.pop("version")
        run(capa_service.update_capa, self.capa(pk).pk, user=request.user, changes=data, expected_version=version)
        return self.detail(pk)


@extend_schema(tags=["capa"], summary=gettext_lazy("Save an open 8D step's content (optimistic version)"))
class StepView(_CapaView):
    def put(self, request, pk, step):
        data = _data(request, required=("content", "version"))
        run(capa_service.save_step, self.capa(pk).pk, step, user=request.user, content=data["content"],
            expected_version=data["version"])
        return self.detail(pk)


@extend_schema(tags=["capa"], summary=gettext_lazy("Submit an 8D step for approval"))
class SubmitStepView(_CapaView):
    user_perms = {"POST": "qms.change_capastep"}

    def post(self, request, pk, step):
        _data(request)
        run(capa_service.submit_step, self.capa(pk).pk, step, user=request.user)
        return self.detail(pk)


@extend_schema(tags=["capa"], summary=gettext_lazy("Approve a submitted 8D step (e-signature; not your own submission)"))
class ApproveStepView(_CapaView):
    user_perms = {"POST": "qms.approve_capastep"}

    def post(self, request, pk, step):
        data = _data(request, "version", required=("password", "meaning"))
        run(capa_service.approve_step, self.capa(pk).pk, step, user=request.user, password=data["password"],
            meaning=data["meaning"], expected_version=data.get("version"))
        return self.detail(pk)


@extend_schema(tags=["capa"], summary=gettext_lazy("Reopen an 8D step (reason required; dependent later steps reopen too)"))
class ReopenStepView(_CapaView):
    user_perms = {"POST": "qms.change_capastep"}

    def post(self, request, pk, step):
        data = _data(request, required=("reason",))
        run(capa_service.reopen_step, self.capa(pk).pk, step, user=request.user, reason=data["reason"])
        return self.detail(pk)


@extend_schema(tags=["capa"], summary=gettext_lazy("Add a cause (5M1E) with its why chain"))
class RootCauseListView(_CapaView):
    user_perms = {"POST": "qms.add_rootcause"}

    def post(self, request, pk):
        data = _data(request, "whys", "is_root_cause", "verified", required=("category", "cause"))
        run(capa_service.add_root_cause, self.capa(pk).pk, user=request.user, **data)
        return self.detail(pk, status.HTTP_201_CREATED)


@extend_schema(tags=["capa"], summary=gettext_lazy("Change or remove a cause"))
class RootCauseDetailView(_CapaView):
    user_perms = {"PATCH": "qms.change_rootcause", "DELETE": "qms.change_rootcause"}

    def cause(self, pk) -> RootCause:
        cause = RootCause.objects.filter(pk=pk, capa__site_id__in=allowed_site_ids(self.request)).first()
        if cause is None:
            raise ApiError(_("Cause %(id)s does not exist.") % {"id": pk}, code="not_found", status_code=404)
        return cause

    def patch(self, request, pk):
        cause = self.cause(pk)
        data = _data(request, "category", "cause", "whys", "is_root_cause", "verified")
        run(capa_service.update_root_cause, cause.pk, user=request.user, changes=data)
        return self.detail(cause.capa_id)

    def delete(self, request, pk):
        cause = self.cause(pk)
        run(capa_service.delete_root_cause, cause.pk, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["capa"], summary=gettext_lazy("Check effectiveness now (Cpk and defect rate before/after)"))
class EffectivenessView(_CapaView):
    def post(self, request, pk):
        _data(request)
        run(capa_service.check_effectiveness, self.capa(pk).pk, user=request.user)
        return self.detail(pk)


@extend_schema(tags=["capa"], summary=gettext_lazy("Close the CAPA (e-signature; all steps approved, effective)"))
class CloseView(_CapaView):
    user_perms = {"POST": "qms.approve_capastep"}

    def post(self, request, pk):
        data = _data(request, "version", required=("password", "meaning"))
        run(capa_service.close_capa, self.capa(pk).pk, user=request.user, password=data["password"],
            meaning=data["meaning"], expected_version=data.get("version"))
        return self.detail(pk)


@extend_schema(tags=["capa"], summary=gettext_lazy("Cancel the CAPA (reason required)"))
class CancelView(_CapaView):
    def post(self, request, pk):
        data = _data(request, required=("reason",))
        run(capa_service.cancel_capa, self.capa(pk).pk, user=request.user, reason=data["reason"])
        return self.detail(pk)


_CapaView.serializer_class = CapaDetailSerializer


# --- actions -------------------------------------------------------------------------------------------------------


@extend_schema(tags=["actions"], summary=gettext_lazy("Actions of your sites (mine=true: yours; overdue=true) / create one"))
class ActionListView(SiteScopedQuerysetMixin, generics.ListAPIView):
    serializer_class = ActionSerializer
    pagination_class = StandardPagination
    queryset = Action.objects.select_related("owner", "completed_by", "equipment", "operation", "nc", "capa")
    user_perms = {"GET": "qms.view_action", "POST": "qms.add_action"}

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        if params.get("mine") in ("1", "true"):
            queryset = queryset.filter(owner=self.request.user)
        if params.get("overdue") in ("1", "true"):
            queryset = queryset.filter(state=Action.State.OPEN, due_date__lt=timezone.localdate())
        if params.get("state"):
            queryset = queryset.filter(state=params["state"])
        return queryset.order_by("due_date", "id")

    def post(self, request):
        fields = ("site", "description", "kind", "nc", "capa", "capa_step", "verification", "root_cause",
                  "equipment", "operation", "mes_instruction")
        data = _data(request, *fields, required=("title", "owner", "due_date"))
        site = _site_for(request, data.pop("site", None))
        capa = data.pop("capa", None)
        if capa not in (None, ""):
            found = _capas(request).filter(Q(number=capa) if isinstance(capa, str) and not capa.isdigit()
                                           else Q(pk=int(capa))).first()
            if found is None:
                raise ApiError(_("CAPA %(id)s does not exist.") % {"id": capa}, code="not_found", status_code=404)
            capa = found
        action = run(capa_service.create_action, site, user=request.user, capa=capa, **data)
        return Response(ActionSerializer(action).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["actions"], summary=gettext_lazy("Complete an action with a note (owner or quality engineer)"))
class CompleteActionView(APIView):
    serializer_class = ActionSerializer
    user_perms = {"POST": "qms.change_action"}

    def post(self, request, pk):
        data = _data(request, "version", required=("note",))
        action = run(capa_service.complete_action, pk, user=request.user, note=data["note"],
                     expected_version=data.get("version"))
        return Response(ActionSerializer(action).data)


@extend_schema(tags=["actions"], summary=gettext_lazy("Cancel an action (reason required)"))
class CancelActionView(APIView):
    serializer_class = ActionSerializer
    user_perms = {"POST": "qms.add_action"}

    def post(self, request, pk):
        data = _data(request, required=("reason",))
        action = run(capa_service.cancel_action, pk, user=request.user, reason=data["reason"])
        return Response(ActionSerializer(action).data)


@extend_schema(tags=["actions"], summary=gettext_lazy("Open MES instructions of an equipment or operation (for MES)"),
               responses=OpenApiTypes.OBJECT)
class InstructionListView(APIView):
    token_scopes = {"GET": INSTRUCTIONS_SCOPE}
    user_perms = {"GET": "qms.view_action"}

    def get(self, request):
        equipment, operation = request.query_params.get("equipment"), request.query_params.get("operation")
        if not equipment and not operation:
            raise ApiError(_("Name the equipment or the operation."), code="required",
                           details={"field": "equipment"})
        queryset = Action.objects.filter(site_id__in=allowed_site_ids(request), mes_instruction=True,
                                         state=Action.State.OPEN) \
            .select_related("site", "equipment", "operation", "nc", "capa").order_by("due_date", "id")
        if equipment:
            queryset = queryset.filter(equipment__code=equipment)
        if operation:
            queryset = queryset.filter(operation__code=operation)
        return Response({"results": [instruction_payload(action) for action in queryset[:500]]})
