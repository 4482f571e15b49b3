"""POST /api/v1/measurements/ (batch ingestion) and GET /api/v1/measurements/ (read-back, cursor-paginated).

The POST body is parsed with orjson and validated by qms.ingest — no DRF parser or per-item serializer on the hot
path; the serializers below only document the contract in the OpenAPI schema.
"""
from __future__ import annotations

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination

from qms.api.errors import ApiError
from qms.auth.permissions import request_token
from qms.auth.scoping import SiteScopedQuerysetMixin, resolve_write_site
from qms.ingest import QUALITY_CODES, BodyError, parse_batch_body
from qms.ingest.timestamps import parse_timestamp
from qms.models import Measurement
from qms.models.measurements import QUALITY_NAMES
from qms.services.ingest import MAX_IDEMPOTENCY_KEY_LENGTH, IdempotencyKeyConflict, ingest_measurements

IDEMPOTENCY_HEADER = "Idempotency-Key"


def request_source(request) -> str:
    """Who sent the data: "token:<name>" for a machine token (names are unique per site), else the username.
    Part of the (characteristic, ts, source) identity of a stored point."""
    token = request_token(request)
    return f"token:{token.name}" if token is not None else request.user.get_username()


def body_error_message(error: BodyError) -> str:
    messages = {
        "empty_body": _("The request body is empty: send {\"measurements\": [...]}."),
        "malformed_json": _("The body is not valid JSON: %(detail)s."),
        "body_not_an_object": _("The body must be a JSON object: {\"measurements\": [...]}."),
        "unknown_top_level_field": _("Unknown top-level field '%(field)s'; allowed are 'measurements' and 'site'."),
        "measurements_missing": _("The body has no 'measurements' list."),
        "measurements_not_a_list": _("'measurements' must be a list of items."),
        "site_not_a_string": _("'site' must be a site code (a string)."),
        "batch_too_large": _("The batch has %(count)s items; at most %(limit)s are accepted per request."),
        "body_too_large": _("The body exceeds %(limit)s bytes; split the batch."),
    }
    return messages[error.code] % error.params if error.params else messages[error.code]


def _read_body(request) -> bytes:
    limit = settings.INGEST_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BodyError("body_too_large", status=413, limit=limit)
    try:
        raw = request._request.body
    except RequestDataTooBig as exc:
        raise BodyError("body_too_large", status=413, limit=limit) from exc
    if len(raw) > limit:
        raise BodyError("body_too_large", status=413, limit=limit)
    return raw


def _idempotency_key(request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise ApiError(
            _("The Idempotency-Key header must be 1 to %(length)s printable ASCII characters.")
            % {"length": MAX_IDEMPOTENCY_KEY_LENGTH},
            code="invalid_idempotency_key", status_code=400,
        )
    return key


# --- schema-only serializers (the contract as documented in /api/schema/) ------------------------------------------
class MeasurementItemSerializer(serializers.Serializer):
    characteristic = serializers.CharField(help_text=gettext_lazy("Data-dictionary code, e.g. IMM01.BARREL_Z2.TEMP"))
    value = serializers.FloatField(
        help_text=gettext_lazy("A JSON number (true/false for yes/no characteristics); no strings")
    )
    ts = serializers.DateTimeField(help_text=gettext_lazy("ISO-8601 with a UTC offset, e.g. 2026-11-24T08:00:00.123Z"))
    lot = serializers.CharField(required=False, max_length=64)
    equipment = serializers.CharField(required=False, help_text=gettext_lazy("Defaults to the characteristic's equipment"))
    quality = serializers.ChoiceField(choices=list(QUALITY_CODES), required=False, default="good")


class IngestRequestSerializer(serializers.Serializer):
    measurements = MeasurementItemSerializer(many=True)
    site = serializers.CharField(
        required=False, help_text=gettext_lazy("Site code; only users belonging to several sites need it")
    )


class ItemErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class IngestResponseSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    received = serializers.IntegerField()
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    duplicate_indices = serializers.ListField(child=serializers.IntegerField())
    rounded_indices = serializers.ListField(child=serializers.IntegerField())
    errors = ItemErrorSerializer(many=True)


class MeasurementReadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    characteristic = serializers.CharField()
    ts = serializers.DateTimeField()
    value = serializers.FloatField()
    quality = serializers.CharField()
    lot = serializers.CharField()
    equipment = serializers.CharField(allow_null=True)
    source = serializers.CharField()
    batch = serializers.IntegerField(allow_null=True)
    received_at = serializers.DateTimeField()


# --- read-back ----------------------------------------------------------------------------------------------------
class MeasurementCursorPagination(CursorPagination):
    """Keyset pagination on (ts, id): stable while new points arrive, and no OFFSET scans on a large table.
    `?ordering=ts` reads oldest first (for incremental readers); the default is newest first."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 5000
    ordering = ("-ts", "-id")

    def get_ordering(self, request, queryset, view):
        wanted = request.query_params.get("ordering", "-ts")
        if wanted not in ("ts", "-ts"):
            raise ValidationError({"ordering": _("Use 'ts' (oldest first) or '-ts' (newest first).")})
        return ("ts", "id") if wanted == "ts" else ("-ts", "-id")


def _iso(value) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _time_param(request, name: str):
    raw = request.query_params.get(name)
    if raw is None:
        return None
    parsed, problem = parse_timestamp(raw)
    if problem is not None:
        raise ValidationError({name: _("Give an ISO-8601 time with a UTC offset, e.g. 2026-11-24T08:00:00Z.")})
    return parsed


MEASUREMENT_FILTERS = [
    OpenApiParameter("characteristic", str, description=gettext_lazy(
        "Data-dictionary code (repeat or comma-separate for several)")),
    OpenApiParameter("lot", str, description=gettext_lazy("Lot code")),
    OpenApiParameter("equipment", str, description=gettext_lazy("Equipment code")),
    OpenApiParameter("quality", str, enum=list(QUALITY_CODES)),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description=gettext_lazy("ts ≥ since (ISO-8601 with offset)")),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description=gettext_lazy("ts < until (ISO-8601 with offset)")),
    OpenApiParameter("site", str, description=gettext_lazy("Site code (users belonging to several sites)")),
    OpenApiParameter("ordering", str, enum=["ts", "-ts"], description=gettext_lazy("Default -ts (newest first)")),
]


class MeasurementView(SiteScopedQuerysetMixin, generics.ListAPIView):
    """Measurements of the caller's site(s). Tokens need the `ingest` scope to write and to read back."""

    queryset = Measurement.objects.all()
    site_lookup = "characteristic__site"
    pagination_class = MeasurementCursorPagination
    filter_backends: list = []
    token_scopes = {"GET": "ingest", "POST": "ingest"}
    user_perms = {"GET": "qms.view_measurement", "POST": "qms.add_measurement"}
    serializer_class = MeasurementReadSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        codes = [code for raw in params.getlist("characteristic") for code in raw.split(",") if code]
        if codes:
            queryset = queryset.filter(characteristic__code__in=codes)
        if params.get("lot"):
            queryset = queryset.filter(lot_code=params["lot"])
        if params.get("equipment"):
            queryset = queryset.filter(equipment__code=params["equipment"])
        if params.get("quality"):
            if params["quality"] not in QUALITY_CODES:
                raise ValidationError({"quality": _("Use good, uncertain or bad.")})
            queryset = queryset.filter(quality=QUALITY_CODES[params["quality"]])
        since, until = _time_param(self.request, "since"), _time_param(self.request, "until")
        if since is not None:
            queryset = queryset.filter(ts__gte=since)
        if until is not None:
            queryset = queryset.filter(ts__lt=until)
        return queryset.values(
            "id", "characteristic__code", "ts", "value", "quality", "lot_code", "equipment__code", "source",
            "batch_id", "received_at",
        )

    @extend_schema(parameters=MEASUREMENT_FILTERS, responses=MeasurementReadSerializer(many=True))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        results = [
            {
                "id": row["id"],
                "characteristic": row["characteristic__code"],
                "ts": _iso(row["ts"]),
                "value": row["value"],
                "quality": QUALITY_NAMES.get(row["quality"], str(row["quality"])),
                "lot": row["lot_code"],
                "equipment": row["equipment__code"],
                "source": row["source"],
                "batch": row["batch_id"],
                "received_at": _iso(row["received_at"]),
            }
            for row in page
        ]
        return self.get_paginated_response(results)

    @extend_schema(
        request=IngestRequestSerializer,
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER,
                                     description=gettext_lazy("Retry-safe key: a repeat replays the first response"))],
        responses={200: IngestResponseSerializer, 422: IngestResponseSerializer},
    )
    def post(self, request, *args, **kwargs):
        try:
            body = parse_batch_body(_read_body(request), max_items=settings.INGEST_MAX_BATCH)
        except BodyError as error:
            raise ApiError(body_error_message(error), code=error.code, status_code=error.status,
                           details=error.params or None) from error
        site = resolve_write_site(request, body.site_code)
        try:
            result = ingest_measurements(
                site=site, items=body.items, source=request_source(request),
                idempotency_key=_idempotency_key(request),
            )
        except IdempotencyKeyConflict as conflict:
            raise ApiError(
                _("The Idempotency-Key was already used for a different request body (batch %(batch)s); "
                  "use a new key for a new batch.") % {"batch": conflict.batch.pk},
                code="idempotency_key_reused", status_code=422, details={"batch": conflict.batch.pk},
            ) from conflict
        # Sorted keys: the stored response (a jsonb document, whose key order PostgreSQL does not keep) replays
        # byte for byte.
        response = HttpResponse(
            orjson.dumps(result.body, option=orjson.OPT_SORT_KEYS), status=result.status_code,
            content_type="application/json",
        )
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response
