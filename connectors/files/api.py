"""Legacy-file import API: upload a file to a file connector (dry-run preview or import) and list what was imported.

POST /api/v1/connectors/{id}/imports/          multipart: file=<the file>, dry_run=true|false
GET  /api/v1/connectors/{id}/imports/          imported files of the connector, newest first
GET  /api/v1/imports/{id}/                     one imported file with its row errors
"""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.config import ConfigError
from connectors.models import Connector, ImportedFile
from qms.api.errors import ApiError
from qms.auth.permissions import ANY_TOKEN
from qms.auth.scoping import allowed_site_ids

from .readers import MAX_FILE_BYTES, FileFormatError
from .rows import MappingError
from .service import import_file, preview_file


class ImportedFileSerializer(serializers.ModelSerializer):
    connector = serializers.CharField(source="connector.name", read_only=True)
    imported_by = serializers.CharField(source="imported_by.username", read_only=True, default=None)

    class Meta:
        model = ImportedFile
        fields = ["id", "connector", "filename", "sha256", "size", "file_format", "encoding", "origin", "status",
                  "rows", "readings", "stored", "duplicates", "rejected", "error_count", "row_errors", "message",
                  "imported_by", "created_at", "finished_at"]
        read_only_fields = fields


def _file_connector(request, connector_id: int) -> Connector:
    connector = get_object_or_404(Connector.objects.select_related("site"), pk=connector_id,
                                  site_id__in=allowed_site_ids(request))
    if connector.kind != Connector.Kind.FILE:
        raise ApiError(_("This connector does not import files."), code="not_a_file_connector", status_code=400)
    return connector


def _misconfigured(exc: ConfigError | MappingError) -> ApiError:
    return ApiError(_("The connector's configuration is not valid: %(problem)s") % {"problem": exc.text(_)},
                    code="connector_misconfigured", status_code=400)


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


UPLOAD_REQUEST = inline_serializer("LegacyFileUpload", {
    "file": serializers.FileField(help_text=gettext_lazy("CSV, JSON or dBase/FoxPro .dbf")),
    "dry_run": serializers.BooleanField(required=False, default=False,
                                        help_text=gettext_lazy("true: preview only (rows, problems), store nothing")),
})


class ConnectorImportsView(APIView):
    parser_classes = [MultiPartParser]
    serializer_class = ImportedFileSerializer
    token_scopes = {"GET": ANY_TOKEN, "POST": "ingest"}
    user_perms = {"POST": "connectors.add_importedfile", "GET": "connectors.view_importedfile"}

    @extend_schema(responses=ImportedFileSerializer(many=True), summary=gettext_lazy(
        "Files imported through a file connector"))
    def get(self, request, connector_id: int):
        connector = _file_connector(request, connector_id)
        files = ImportedFile.objects.filter(connector=connector).select_related("connector", "imported_by")[:200]
        return Response(ImportedFileSerializer(files, many=True).data)

    @extend_schema(
        request={"multipart/form-data": UPLOAD_REQUEST},
        responses={201: ImportedFileSerializer, 200: OpenApiResponse(OpenApiTypes.OBJECT, description=gettext_lazy(
            "dry run: the preview (format, encoding, columns, sample rows, every row problem); "
            "or an import of a file imported before (already_imported: true)"))},
        summary=gettext_lazy("Import (or preview) a legacy file through a file connector's column mapping"),
    )
    def post(self, request, connector_id: int):
        connector = _file_connector(request, connector_id)
        upload = request.FILES.get("file")
        if upload is None:
            raise ApiError(_("Send the file in the multipart field 'file'."), code="file_missing", status_code=400)
        if upload.size > MAX_FILE_BYTES:
            raise ApiError(_("The file is too large."), code="file_too_large", status_code=413,
                           details={"max_bytes": MAX_FILE_BYTES})
        data = upload.read()
        try:
            if _truthy(request.data.get("dry_run", "false")):
                try:
                    return Response(preview_file(connector, upload.name, data))
                except FileFormatError as exc:
                    raise ApiError(exc.text(_), code="unreadable_file", status_code=400) from None
            user = request.user if getattr(request.user, "pk", None) and not hasattr(request.user, "token") else None
            outcome = import_file(connector, upload.name, data, origin=ImportedFile.Origin.UPLOAD, user=user)
        except (ConfigError, MappingError) as exc:
            raise _misconfigured(exc) from None
        body = {**ImportedFileSerializer(outcome.record).data, "already_imported": outcome.already_imported}
        if outcome.record.status == ImportedFile.Status.FAILED:
            raise ApiError(outcome.record.message, code="unreadable_file", status_code=400, details=body)
        return Response(body, status=status.HTTP_200_OK if outcome.already_imported else status.HTTP_201_CREATED)


class ImportedFileDetailView(generics.RetrieveAPIView):
    serializer_class = ImportedFileSerializer
    token_scopes = {"GET": ANY_TOKEN}
    user_perms = {"GET": "connectors.view_importedfile"}

    def get_queryset(self):
        return ImportedFile.objects.select_related("connector", "imported_by").filter(
            connector__site_id__in=allowed_site_ids(self.request))
