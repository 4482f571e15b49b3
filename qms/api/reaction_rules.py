"""/api/v1/reaction-rules/ — list, create, detail, update (with version), history.

Signed-in users only (machine tokens are refused: configuring reactions is an engineer's act): reading needs
qms.view_reactionrule, creating qms.add_reactionrule, changing qms.change_reactionrule. Scope objects are named by
code (characteristics, equipment, lines), groups by name, the write-back connector by name. Every rule lives in
qms.services.reaction_rules; errors are 400 `validation_error` with details per field, 409 `version_conflict`.
"""
from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from qms.api.errors import ApiError
from qms.api.plant import request_reason
from qms.auth.scoping import SiteScopedQuerysetMixin, resolve_write_site
from qms.models import ReactionRule
from qms.services import reaction_rules as service
from qms.web.history import version_history

READ_ONLY_KEYS = ("id", "site", "version", "reason", "created_at", "updated_at")


class ReactionRuleSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", read_only=True)
    characteristics = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    equipment = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    lines = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    notify_groups = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    escalation_groups = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    writeback_connector = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = ReactionRule
        fields = ["id", "site", *service.EDITABLE_FIELDS, "version", "created_at", "updated_at"]
        read_only_fields = fields


class ReactionRuleWriteSerializer(serializers.Serializer):
    """Request body (documentation: the service validates and reports per field). Omitted fields keep their value."""

    site = serializers.CharField(required=False, help_text=gettext_lazy("Site code (create only); defaults to your site."))
    name = serializers.CharField(required=False)
    trigger = serializers.ChoiceField(choices=ReactionRule.Trigger.choices, required=False)
    threshold = serializers.FloatField(required=False, allow_null=True)
    spc_rules = serializers.ListField(child=serializers.CharField(), required=False)
    equipment_states = serializers.ListField(child=serializers.CharField(), required=False)
    characteristics = serializers.ListField(child=serializers.CharField(), required=False,
                                            help_text=gettext_lazy("Characteristic codes of the site."))
    characteristic_pattern = serializers.CharField(required=False, allow_blank=True)
    equipment = serializers.ListField(
        child=serializers.CharField(), required=False, help_text=gettext_lazy("Equipment codes.")
    )
    lines = serializers.ListField(child=serializers.CharField(), required=False, help_text=gettext_lazy("Line codes."))
    notify_groups = serializers.ListField(
        child=serializers.CharField(), required=False, help_text=gettext_lazy("Group names.")
    )
    writeback_connector = serializers.CharField(required=False, allow_null=True, help_text=gettext_lazy("Connector name."))
    version = serializers.IntegerField(
        required=False, help_text=gettext_lazy("Update: the version you edited (409 if stale).")
    )
    reason = serializers.CharField(required=False, allow_blank=True,
                                   help_text=gettext_lazy("Why — required when an enabled rule changes."))


def _editable(request) -> dict:
    if not isinstance(request.data, dict):
        raise ApiError(_("The body must be a JSON object of rule fields."), code="invalid_body")
    return {key: value for key, value in request.data.items() if key not in READ_ONLY_KEYS}


def _expected_version(request) -> int | None:
    raw = request.data.get("version") if isinstance(request.data, dict) else None
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ApiError(_("“version” must be the whole number of the version you edited."),
                       details={"version": [str(raw)]})
    return raw


class ReactionRuleViewSet(SiteScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):
    queryset = ReactionRule.objects.select_related("site", "writeback_connector").prefetch_related(
        "characteristics", "equipment", "lines", "notify_groups", "escalation_groups")
    serializer_class = ReactionRuleSerializer
    site_lookup = "site"
    token_scopes: dict = {}  # users only
    http_method_names = ["get", "post", "patch", "head", "options"]

    @property
    def user_perms(self):
        view = "qms.view_reactionrule"
        change = "qms.change_reactionrule"
        return {
            "list": {"GET": view}, "retrieve": {"GET": view}, "history": {"GET": view},
            "create": {"POST": "qms.add_reactionrule"},
            "partial_update": {"PATCH": change}, "enable": {"POST": change}, "disable": {"POST": change},
        }.get(self.action, {"GET": view})

    @extend_schema(request=ReactionRuleWriteSerializer, responses={201: ReactionRuleSerializer})
    def create(self, request, *args, **kwargs):
        site_code = request.data.get("site") if isinstance(request.data, dict) else None
        site = resolve_write_site(request, site_code)
        rule = service.create_rule(site, _editable(request), reason=request_reason(request))
        return Response(self.get_serializer(self._fresh(rule.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReactionRuleWriteSerializer, responses={200: ReactionRuleSerializer})
    def partial_update(self, request, *args, **kwargs):
        rule = self.get_object()
        site_code = request.data.get("site") if isinstance(request.data, dict) else None
        if site_code not in (None, rule.site.code):
            raise ApiError(_("A rule cannot move to another site; create it there instead."),
                           details={"site": [str(site_code)]})
        return self._apply(lambda: service.update_rule(rule.pk, _editable(request), reason=request_reason(request),
                                                        expected_version=_expected_version(request)))

    @extend_schema(request=ReactionRuleWriteSerializer, responses={200: ReactionRuleSerializer})
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        rule = self.get_object()
        return self._apply(lambda: service.enable_rule(rule.pk, reason=request_reason(request),
                                                        expected_version=_expected_version(request)))

    @extend_schema(request=ReactionRuleWriteSerializer, responses={200: ReactionRuleSerializer})
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        rule = self.get_object()
        return self._apply(lambda: service.disable_rule(rule.pk, reason=request_reason(request),
                                                         expected_version=_expected_version(request)))

    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """Every version, newest first: who, when, what changed and why."""
        rule = self.get_object()
        return Response([
            {"version": v.number, "date": v.when, "type": str(v.kind), "user": v.who, "reason": v.reason,
             "changes": {c.label: [c.before, c.after] for c in v.changes}}
            for v in version_history(rule)
        ])

    def _apply(self, call):
        try:
            rule = call()
        except service.RuleVersionConflict as exc:
            raise ApiError(exc.message_dict["version"][0], code="version_conflict", status_code=409,
                           details=exc.message_dict) from exc
        return Response(self.get_serializer(self._fresh(rule.pk)).data)

    def _fresh(self, pk):
        return self.queryset.get(pk=pk)
