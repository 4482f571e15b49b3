"""Administration API: machine tokens (admins) and the audit trail (auditors). Thin views over the services.

Machine tokens can use none of these endpoints: a token never manages tokens nor reads the trail.
"""
from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from qms.api.errors import ApiError
from qms.audit.export import export_audit_csv
from qms.audit.queries import AuditEntryFilter, visible_audit_entries
from qms.auth.scoping import SiteScopedQuerysetMixin, resolve_write_site
from qms.auth.tokens import VALID_SCOPES, issue_token, revoke_token
from qms.models import ApiToken, AuditEntry

# --- machine tokens ---------------------------------------------------------------------------------------------


class ApiTokenSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    revoked_by = serializers.CharField(source="revoked_by.username", read_only=True, default=None)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "site", "scopes", "prefix", "is_active", "created_at", "created_by", "last_used_at",
                  "expires_at", "revoked_at", "revoked_by", "revoke_reason"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    site = serializers.CharField(required=False, help_text=gettext_lazy("Site code; optional with one site."))
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=VALID_SCOPES), allow_empty=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class IssuedTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text=gettext_lazy("The raw token: shown in this response only."))

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text=gettext_lazy("Why the token is revoked (audit trail)."))


class ApiTokenViewSet(SiteScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      viewsets.GenericViewSet):
    """Machine tokens of your sites. Issuing returns the raw token once; it is stored only as a hash."""

    queryset = ApiToken.objects.select_related("site", "created_by", "revoked_by").order_by("site__code", "name", "id")
    serializer_class = ApiTokenSerializer
    token_scopes: dict = {}  # closed to machine tokens
    filterset_fields = ["name"]

    @property
    def user_perms(self):
        if self.action == "revoke":
            return {"POST": "qms.change_apitoken"}
        return {"GET": "qms.view_apitoken", "HEAD": "qms.view_apitoken", "POST": "qms.add_apitoken"}

    def get_serializer_class(self):
        if self.action == "create":
            return ApiTokenCreateSerializer
        if self.action == "revoke":
            return RevokeSerializer
        return ApiTokenSerializer

    def create(self, request):
        incoming = ApiTokenCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        site = resolve_write_site(request, data.get("site"))
        token, raw = issue_token(name=data["name"], site=site, scopes=data["scopes"], created_by=request.user,
                                 expires_at=data.get("expires_at"))
        token.token = raw
        body = IssuedTokenSerializer(token).data
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"  # the raw token must not linger in any cache
        return response

    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = self.get_object()
        incoming = RevokeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        token = revoke_token(token.pk, user=request.user, reason=incoming.validated_data["reason"])
        return Response(ApiTokenSerializer(token).data)


# --- audit trail ------------------------------------------------------------------------------------------------


class AuditEntrySerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", read_only=True, default=None)

    class Meta:
        model = AuditEntry
        fields = ["seq", "ts", "actor", "actor_user", "actor_token", "action", "model", "object_pk", "object_repr",
                  "site", "changes", "reason", "prev_hash", "hash"]
        read_only_fields = fields


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail of your sites plus global entries, newest first.

    Filters: model (e.g. qms.Characteristic or characteristic), object_pk, actor, action, site, since, until (ISO 8601).
    """

    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilter
    token_scopes: dict = {}
    user_perms = {"GET": "qms.view_auditentry", "HEAD": "qms.view_auditentry"}
    lookup_field = "seq"
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return visible_audit_entries(self.request).select_related("site").order_by("-seq")


class AuditExportView(APIView):
    """GET /api/v1/audit/export/?as=csv&<the list's filters> — streaming CSV in chain order, with the hashes and the
    canonical payload of every entry so an external party can re-verify it (see docs/security.md)."""

    token_scopes: dict = {}
    user_perms = {"GET": "qms.view_auditentry"}
    formats = ("csv",)

    @extend_schema(
        parameters=[OpenApiParameter("as", OpenApiTypes.STR, enum=["csv"], description=gettext_lazy(
            "Export format (csv)."))],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        wanted = request.query_params.get("as", "csv")
        if wanted not in self.formats:
            raise ApiError(_("Unsupported export format %(format)s; use as=csv.") % {"format": wanted},
                           code="unsupported_format", details={"as": list(self.formats)})
        filterset = AuditEntryFilter(request.query_params, queryset=visible_audit_entries(request))
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        response = StreamingHttpResponse(export_audit_csv(filterset.qs), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response
