"""Connector API: /api/v1/connectors/ — CRUD (quality engineers, admins), status, OPC UA browse, write-back commands.

Secrets are write-only: responses list which secrets are set, never their values. Machine tokens have no access;
everything is for signed-in users of the connector's site (Prometheus reads /api/v1/metrics with a
metrics:read token, see metrics.py).
Views translate HTTP to connectors.configuration / connectors.services calls, which hold the rules.
"""
from __future__ import annotations

import asyncio

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from connectors import configuration
from connectors.models import Connector, ConnectorStatus, TagMapping, WriteBackCommand
from qms.api.errors import ApiError
from qms.api.plant import request_reason
from qms.auth.scoping import SiteScopedQuerysetMixin, resolve_write_site


class TagMappingSerializer(serializers.ModelSerializer):
    characteristic = serializers.CharField(source="characteristic.code")

    class Meta:
        model = TagMapping
        fields = ["id", "characteristic", "source_ref", "params", "enabled", "last_value_at", "last_quality",
                  "stale_since"]
        read_only_fields = ["id", "last_value_at", "last_quality", "stale_since"]


class ConnectorSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", read_only=True)
    tags = TagMappingSerializer(many=True, read_only=True)
    secrets_set = serializers.SerializerMethodField(
        help_text=gettext_lazy("Names of the secrets stored (values are never shown).")
    )

    class Meta:
        model = Connector
        fields = ["id", "site", "name", "kind", "description", "enabled", "shadow_mode", "runner_group", "config",
                  "secrets_set", "tags", "created_at", "updated_at"]
        read_only_fields = fields

    def get_secrets_set(self, connector) -> list[str]:
        return sorted(connector.secrets or {})


class ConnectorWriteSerializer(serializers.Serializer):
    """The request body of create/update (all optional on PATCH)."""

    site = serializers.CharField(required=False)
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Connector.Kind.choices)
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    shadow_mode = serializers.BooleanField(required=False)
    runner_group = serializers.CharField(required=False, allow_blank=True)
    config = serializers.DictField(required=False)
    secrets = serializers.DictField(required=False, help_text=gettext_lazy("Write-only; '' removes a secret."))
    tags = TagMappingSerializer(many=True, required=False)
    reason = serializers.CharField()


class ConnectorStatusSerializer(serializers.ModelSerializer):
    connector = serializers.CharField(source="connector.name")
    stale_tags = serializers.SerializerMethodField()

    class Meta:
        model = ConnectorStatus
        fields = ["connector", "state", "detail", "runner", "heartbeat_at", "last_value_at", "last_error",
                  "last_error_at", "received", "stored", "duplicates", "rejected", "bad_quality", "buffered",
                  "reconnects", "clock_skew_ms", "stale_tags"]

    def get_stale_tags(self, status_row) -> list[str]:
        return list(status_row.connector.tags.filter(stale_since__isnull=False)
                    .values_list("characteristic__code", flat=True))


class WriteBackCommandSerializer(serializers.ModelSerializer):
    class Meta:
        model = WriteBackCommand
        fields = ["id", "target", "value", "reason", "requested_by", "status", "attempts", "last_error",
                  "readback_value", "created_at", "sent_at", "confirmed_at"]


def _write_data(request) -> dict:
    if not isinstance(request.data, dict):
        raise ApiError(_("The body must be a JSON object."))
    data = {key: request.data[key] for key in (*configuration.CONNECTOR_FIELDS, "secrets", "tags")
            if key in request.data}
    return data


def _validation_to_api(exc: ValidationError) -> ApiError:
    details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return ApiError(_("The connector configuration is not valid."), code="invalid", details=details)


class ConnectorViewSet(SiteScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    queryset = Connector.objects.select_related("site").prefetch_related("tags__characteristic")
    serializer_class = ConnectorSerializer
    site_lookup = "site"
    token_scopes: dict = {}    # closed to machine tokens (there is no connectors scope)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @property
    def user_perms(self):
        return {
            "list": {"GET": "connectors.view_connector"},
            "retrieve": {"GET": "connectors.view_connector"},
            "status": {"GET": "connectors.view_connector"},
            "commands": {"GET": "connectors.view_writebackcommand"},
            "browse": {"GET": "connectors.change_connector"},
            "create": {"POST": "connectors.add_connector"},
            "partial_update": {"PATCH": "connectors.change_connector"},
            "destroy": {"DELETE": "connectors.delete_connector"},
        }.get(self.action, {})

    @extend_schema(request=ConnectorWriteSerializer, responses={201: ConnectorSerializer})
    def create(self, request, *args, **kwargs):
        site = resolve_write_site(request, request.data.get("site") if isinstance(request.data, dict) else None)
        try:
            connector = configuration.save_connector(site, _write_data(request), reason=request_reason(request))
        except ValidationError as exc:
            raise _validation_to_api(exc) from exc
        return Response(self.get_serializer(self._fresh(connector)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ConnectorWriteSerializer, responses={200: ConnectorSerializer})
    def partial_update(self, request, *args, **kwargs):
        connector = self.get_object()
        try:
            connector = configuration.save_connector(connector.site, _write_data(request), connector=connector,
                                                     reason=request_reason(request))
        except ValidationError as exc:
            raise _validation_to_api(exc) from exc
        return Response(self.get_serializer(self._fresh(connector)).data)

    @extend_schema(parameters=[OpenApiParameter("reason", OpenApiTypes.STR)], responses={204: None})
    def destroy(self, request, *args, **kwargs):
        try:
            configuration.delete_connector(self.get_object(), reason=request_reason(request))
        except ValidationError as exc:
            raise _validation_to_api(exc) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _fresh(self, connector):
        return self.get_queryset().get(pk=connector.pk)

    @extend_schema(responses={200: ConnectorStatusSerializer})
    @action(detail=True, methods=["get"])
    def status(self, request, pk=None):
        """Live state and counters (runner heartbeat, received/stored/rejected/buffered, reconnects, clock skew)."""
        connector = self.get_object()
        status_row, _created = ConnectorStatus.objects.get_or_create(connector=connector)
        return Response(ConnectorStatusSerializer(status_row).data)

    @extend_schema(responses={200: WriteBackCommandSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def commands(self, request, pk=None):
        """Write-back commands of this connector, newest first (shadow-mode commands included)."""
        commands = self.get_object().writeback_commands.all()
        page = self.paginate_queryset(commands)
        data = WriteBackCommandSerializer(page if page is not None else commands, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(parameters=[OpenApiParameter("node", OpenApiTypes.STR, description=gettext_lazy(
        "Node id; default Objects."))],
                   responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def browse(self, request, pk=None):
        """OPC UA only: the children of a node on the connector's server, with current values."""
        connector = self.get_object()
        if connector.kind != Connector.Kind.OPCUA:
            raise ApiError(_("Only OPC UA connectors can be browsed."), code="not_browsable")
        try:
            entries = browse_opcua(connector, request.query_params.get("node") or None)
        except Exception as exc:
            raise ApiError(_("Could not browse the server: %(error)s") % {"error": exc}, code="browse_failed",
                           status_code=502) from exc
        return Response({"node": request.query_params.get("node"), "children": entries})


def browse_opcua(connector: Connector, node_id: str | None) -> list[dict]:
    from connectors.opcua.session import browse

    async def run():
        async with asyncio.timeout(15):
            return await browse(connector.config, connector.secrets, node_id)

    return [entry.as_dict() for entry in asyncio.run(run())]
