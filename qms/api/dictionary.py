"""Data dictionary API: /api/v1/characteristics/ — CRUD, retire, history, export and import.

Any token of the site may read (reading the dictionary needs no extra scope); writing needs a user with
qms.add/change/delete_characteristic or a token with the "dictionary:write" scope. Views only translate HTTP to the
service calls in qms.services.dictionary / dictionary_io, which hold every rule.
"""
from __future__ import annotations

from django.http import HttpResponse, RawPostDataException
from django.http.request import RequestDataTooBig
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from qms.api.errors import ApiError, error_body
from qms.api.plant import raise_in_use, request_reason
from qms.auth.permissions import ANY_TOKEN
from qms.auth.scoping import SiteScopedQuerysetMixin, resolve_write_site
from qms.models import Characteristic, Equipment, Operation
from qms.services import dictionary as dictionary_services
from qms.services import dictionary_io
from qms.services.plant import InUseError

WRITE_SCOPE = "dictionary:write"
# Keys of the read representation a client may send back unchanged; they are not editable.
READ_ONLY_KEYS = ("id", "site", "name", "updated_at", "version", "reason")


class CharacteristicSerializer(serializers.ModelSerializer):
    """One data-dictionary entry. `name` is in the request's language (Accept-Language: zh-hans → name_zh if set)."""

    site = serializers.CharField(source="site.code", read_only=True)
    name = serializers.CharField(read_only=True)
    equipment = serializers.CharField(
        source="equipment.code", allow_null=True, required=False, help_text=gettext_lazy("Equipment code (same site).")
    )
    operation = serializers.CharField(
        source="operation.reference", allow_null=True, required=False,
        help_text=gettext_lazy("Routing step as part number/revision/operation code (same site)."),
    )

    class Meta:
        model = Characteristic
        fields = [
            "id", "site", "code", "name", "name_en", "name_zh", "unit", "data_type", "precision", "precision_policy",
            "physical_min", "physical_max", "nominal", "lsl", "usl", "update_period_s", "subgroup_size",
            "criticality", "equipment", "operation", "status", "version", "updated_at",
        ]
        read_only_fields = ["id", "site", "name", "version", "updated_at"]


class CharacteristicWriteSerializer(CharacteristicSerializer):
    """The request body of create/update (documentation: the services validate and report per field)."""

    site = serializers.CharField(required=False, help_text=gettext_lazy("Site code (create only); defaults to your site."))
    version = serializers.IntegerField(
        required=False, help_text=gettext_lazy("Update only: the version you edited; a newer stored version answers 409.")
    )
    reason = serializers.CharField(
        required=False, allow_blank=True,
        help_text=gettext_lazy("Why — required when a released entry's judgement fields change.")
    )

    class Meta(CharacteristicSerializer.Meta):
        fields = [*CharacteristicSerializer.Meta.fields, "reason"]
        read_only_fields = ["id", "name", "updated_at"]


class CharacteristicFilter(filters.FilterSet):
    code = filters.CharFilter(field_name="code", help_text=gettext_lazy("Exact code."))
    code__startswith = filters.CharFilter(field_name="code", lookup_expr="startswith")
    code__in = filters.BaseInFilter(field_name="code", help_text=gettext_lazy("Comma-separated codes."))
    equipment = filters.CharFilter(field_name="equipment__code", help_text=gettext_lazy("Equipment code."))
    criticality = filters.ChoiceFilter(choices=Characteristic.Criticality.choices)
    status = filters.ChoiceFilter(choices=Characteristic.Status.choices)
    data_type = filters.ChoiceFilter(choices=Characteristic.DataType.choices)
    operation = filters.NumberFilter(field_name="operation_id", help_text=gettext_lazy("Operation id."))

    class Meta:
        model = Characteristic
        fields = []


class FirstRendererNegotiation(DefaultContentNegotiation):
    """Export picks its format from ?as= (or ?format=) itself; errors always render as JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _editable_data(request) -> dict:
    if not isinstance(request.data, dict):
        raise ApiError(_("The body must be a JSON object of characteristic fields."), code="invalid_body")
    return {key: value for key, value in request.data.items() if key not in READ_ONLY_KEYS}


def _expected_version(request) -> int | None:
    raw = request.data.get("version") if isinstance(request.data, dict) else None
    if raw is None:
        raw = request.headers.get("If-Match", "").strip().strip('"').removeprefix("W/").strip('"') or None
    if raw is None:
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ApiError(_("“version” must be the whole number of the version you edited."),
                       code="invalid", details={"version": [str(raw)]}) from None


def _truthy(value, default: bool) -> bool:
    if value is None or value == "":
        return default
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class CharacteristicVersionSerializer(serializers.Serializer):
    """One version of an entry (schema of the history endpoint)."""

    history_id = serializers.IntegerField()
    version = serializers.IntegerField()
    date = serializers.DateTimeField()
    type = serializers.ChoiceField(choices=["created", "changed", "deleted"])
    user = serializers.CharField(help_text=gettext_lazy("User name, token:<name>, or system."))
    reason = serializers.CharField()
    changes = serializers.DictField(help_text=gettext_lazy("field → [before, after]"))


class CharacteristicViewSet(SiteScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            viewsets.GenericViewSet):
    queryset = Characteristic.objects.select_related("site", "equipment", "operation__product")
    serializer_class = CharacteristicSerializer
    filterset_class = CharacteristicFilter
    site_lookup = "site"
    token_scopes = {"GET": ANY_TOKEN, "POST": WRITE_SCOPE, "PATCH": WRITE_SCOPE, "DELETE": WRITE_SCOPE}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @property
    def user_perms(self):
        change, add, delete = "qms.change_characteristic", "qms.add_characteristic", "qms.delete_characteristic"
        return {
            "create": {"POST": add},
            "partial_update": {"PATCH": change},
            "retire": {"POST": change},
            "destroy": {"DELETE": delete},
            "import_file": {"POST": [add, change]},
        }.get(self.action, {})

    @extend_schema(request=CharacteristicWriteSerializer, responses={201: CharacteristicSerializer})
    def create(self, request, *args, **kwargs):
        site_code = request.data.get("site") if isinstance(request.data, dict) else None
        site = resolve_write_site(request, site_code)
        entry = dictionary_services.create_characteristic(site, _editable_data(request), reason=request_reason(request))
        return Response(self.get_serializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CharacteristicWriteSerializer, responses={200: CharacteristicSerializer})
    def partial_update(self, request, *args, **kwargs):
        entry = self.get_object()
        site_code = request.data.get("site") if isinstance(request.data, dict) else None
        if site_code not in (None, entry.site.code):
            raise ApiError(_("A characteristic cannot move to another site; create it there instead."),
                           details={"site": [str(site_code)]})
        try:
            entry = dictionary_services.update_characteristic(
                entry.pk, _editable_data(request), reason=request_reason(request),
                expected_version=_expected_version(request),
            )
        except dictionary_services.VersionConflict as exc:
            raise ApiError(exc.message_dict["version"][0], code="version_conflict", status_code=409,
                           details=exc.message_dict) from exc
        return Response(self.get_serializer(entry).data)

    @extend_schema(parameters=[OpenApiParameter("reason", OpenApiTypes.STR)],
                   responses={204: None, 409: OpenApiResponse(description=gettext_lazy(
                       "Has measurements: retire instead."))})
    def destroy(self, request, *args, **kwargs):
        entry = self.get_object()
        try:
            dictionary_services.delete_characteristic(entry.pk, reason=request_reason(request))
        except InUseError as exc:
            raise_in_use(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=inline_serializer("RetireRequest", fields={"reason": serializers.CharField()}),
                   responses={200: CharacteristicSerializer})
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        entry = dictionary_services.retire_characteristic(self.get_object().pk, reason=request_reason(request))
        return Response(self.get_serializer(entry).data)

    @extend_schema(responses={200: CharacteristicVersionSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """Every version, newest first: who, when, what changed (before → after) and why."""
        entry = self.get_object()
        versions = version_history(entry)
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(page) if page is not None else Response(versions)

    @extend_schema(
        parameters=[
            OpenApiParameter("as", OpenApiTypes.STR, enum=["csv", "json"], description=gettext_lazy(
                "File format (default csv).")),
            OpenApiParameter("site", OpenApiTypes.STR, description=gettext_lazy("Site code; defaults to your site.")),
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/json"): OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"], url_path="export", content_negotiation_class=FirstRendererNegotiation,
            renderer_classes=[JSONRenderer], filterset_class=None, pagination_class=None)
    def export(self, request):
        """The whole dictionary of a site as a file. `?as=csv|json`; `?format=` works too (not a DRF renderer)."""
        fmt = (request.query_params.get("as") or request.query_params.get("format") or "csv").lower()
        if fmt not in dictionary_io.FORMATS:
            raise ApiError(_("Unknown export format “%(format)s”; use csv or json.") % {"format": fmt},
                           details={"as": list(dictionary_io.FORMATS)})
        site = resolve_write_site(request, request.query_params.get("site"))
        text = dictionary_io.export_dictionary(site, fmt)
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json; charset=utf-8"
        response = HttpResponse(text.encode("utf-8"), content_type=content_type)
        filename = f"dictionary-{site.code}-{timezone.now():%Y%m%d}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(
        request={"multipart/form-data": inline_serializer("DictionaryImportUpload", fields={
            "file": serializers.FileField(), "as": serializers.ChoiceField(choices=["csv", "json"], required=False),
            "dry_run": serializers.BooleanField(default=True), "reason": serializers.CharField(required=False),
            "site": serializers.CharField(required=False),
        }), "text/csv": OpenApiTypes.STR, "application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("dry_run", OpenApiTypes.BOOL, description=gettext_lazy("Default true: preview only.")),
            OpenApiParameter("as", OpenApiTypes.STR, enum=["csv", "json"]),
            OpenApiParameter("reason", OpenApiTypes.STR), OpenApiParameter("site", OpenApiTypes.STR),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser],
            filterset_class=None)
    def import_file(self, request):
        """Preview (dry_run=true, the default) or apply (dry_run=false + reason) a CSV/JSON dictionary file.

        Send the file as multipart field `file` (options as form fields) or as the raw body (options in the query).
        Answers the preview: every row's planned action and every problem; 400 when there are problems.
        """
        content, filename, options = self._upload(request)
        site = resolve_write_site(request, options.get("site"))
        fmt = _import_format(options.get("as") or options.get("format"), filename, request.content_type, content)
        if _truthy(options.get("dry_run"), default=True):
            preview = dictionary_io.preview_import(site, content, fmt)
        else:
            preview = dictionary_io.apply_import(site, content, fmt, reason=str(options.get("reason") or ""))
        body = preview.to_dict()
        if preview.ok:
            return Response(body)
        summary = _("%(count)d problem(s) in the file; nothing was written.") % {"count": len(preview.problems)}
        return Response({**error_body("import_problems", summary), **body}, status=status.HTTP_400_BAD_REQUEST)

    def _upload(self, request) -> tuple[bytes, str, dict]:
        limit = dictionary_io.MAX_IMPORT_BYTES
        if request.content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            upload = request.FILES.get("file")
            if upload is None:
                raise ApiError(_("Send the file as the multipart field “file” (or as the raw request body)."),
                               code="file_missing")
            options = {key: request.data.get(key) for key in ("as", "format", "dry_run", "reason", "site")}
            return upload.read(limit + 1), upload.name or "", options
        try:
            content = request.body
        except RequestDataTooBig:
            content = b"\0" * (limit + 1)  # reported by the preview as over the size limit
        except RawPostDataException as exc:  # pragma: no cover - body already consumed by a parser
            raise ApiError(str(exc)) from exc
        return content, "", dict(request.query_params.items())


def _import_format(named, filename: str, content_type: str, content: bytes) -> str:
    """The file format: as named by the client, else from the file name, the content type, or the first byte."""
    if named:
        return str(named).strip().lower()
    lowered = filename.lower()
    for fmt in dictionary_io.FORMATS:
        if lowered.endswith("." + fmt) or content_type.startswith(("text/" + fmt, "application/" + fmt)):
            return fmt
    return "json" if content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[") else "csv"


_HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


def version_history(entry: Characteristic) -> list[dict]:
    """The entry's simple-history records as versions, newest first, each with its changes against the one before."""
    records = list(entry.history.select_related("history_user").order_by("history_date", "history_id"))
    equipment_codes = dict(Equipment.objects.filter(
        pk__in={r.equipment_id for r in records if r.equipment_id}).values_list("pk", "code"))
    operations = {op.pk: op.reference for op in Operation.objects.filter(
        pk__in={r.operation_id for r in records if r.operation_id}).select_related("product")}
    fields = [*dictionary_services.EDITABLE_FIELDS]

    def shown(record, name):
        if name == "equipment":
            return equipment_codes.get(record.equipment_id, record.equipment_id)
        if name == "operation":
            return operations.get(record.operation_id, record.operation_id)
        return getattr(record, name)

    versions = []
    previous = None
    for record in records:
        after = {name: shown(record, name) for name in fields}
        if previous is None:
            changes = {name: [None, value] for name, value in after.items() if value not in (None, "")}
        else:
            changes = {name: [previous[name], value] for name, value in after.items() if previous[name] != value}
        user = record.history_user.get_username() if record.history_user_id and record.history_user else ""
        versions.append({
            "history_id": record.history_id,
            "version": record.version,
            "date": record.history_date.isoformat(),
            "type": _HISTORY_TYPES.get(record.history_type, record.history_type),
            "user": user or record.history_actor or "system",
            "reason": record.history_change_reason or "",
            "changes": changes,
        })
        previous = after
    versions.reverse()
    return versions
