"""Equipment state changes and cycle times over REST, and the API pieces production-data endpoints share.

POST /api/v1/equipment-events/  {"events": [{"equipment", "ts", "state", "reason"?}, ...]}
POST /api/v1/cycle-times/       {"cycles": [{"equipment", "ts", "cycle_time_s", "lot"?, "shot_counter"?}, ...]}
GET  the same paths, filtered by equipment, since/until (and state / lot), paginated, newest first.
"""
from __future__ import annotations

import math
import re

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from qms.api.errors import ApiError
from qms.auth.permissions import request_token
from qms.auth.scoping import SiteScopedQuerysetMixin, resolve_write_site
from qms.models import CycleTimeRecord, EquipmentStateEvent
from qms.services.production_events import (
    TimestampError,
    accept_timestamp,
    parse_timestamp,
    record_cycle_times,
    record_equipment_states,
)

# --- shared by the production-data endpoints (lots, runs, genealogy, events) --------------------------------------


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an explicit time zone, within the plausible range; a naive timestamp is a 400, never a guess."""

    def to_internal_value(self, value):
        try:
            return accept_timestamp(value, timezone.now())
        except TimestampError as exc:
            raise serializers.ValidationError(str(exc), code=exc.code) from None


class FiniteFloatField(serializers.FloatField):
    """A JSON number (not a string, not a boolean) that is finite."""

    def to_internal_value(self, data):
        if isinstance(data, (bool, str)) or not isinstance(data, (int, float)):
            raise serializers.ValidationError(_("Expected a number, got %(value)r.") % {"value": data}, code="wrong_type")
        if not math.isfinite(data):
            raise serializers.ValidationError(_("The value must be finite."), code="non_finite")
        return super().to_internal_value(data)


class StrictFieldsMixin:
    """Refuse keys the serializer does not know: a misspelt "endedAt" must not be silently ignored."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {key: [_("Unknown field; expected one of: %(fields)s.") % {"fields": ", ".join(self.fields)}]
                     for key in unknown}
                )
        return super().to_internal_value(data)


def client_source(request) -> str:
    """The identity stored as `source` of production events, as for measurements: "token:<name>" for a machine
    token (names are unique per site), else the username. Idempotency is per (equipment, ts, source)."""
    token = request_token(request)
    return f"token:{token.name}" if token is not None else request.user.get_username()


# A "+08:00" offset in a query string arrives as " 08:00" when the client did not percent-encode the plus.
_UNENCODED_PLUS = re.compile(r"(T?\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


def query_timestamp(name: str, raw: str):
    value = _UNENCODED_PLUS.sub(r"\1+\2", raw.strip())
    try:
        return parse_timestamp(value)
    except TimestampError as exc:
        raise serializers.ValidationError({name: [str(exc)]}) from None


def body_site_code(request) -> str | None:
    data = request.data
    site = data.get("site") if isinstance(data, dict) else None
    if site is not None and not isinstance(site, str):
        raise serializers.ValidationError({"site": [_("Name the site by its code.")]})
    return site


def batch_items(request, key: str) -> list:
    """The list under `key` in the request body, with the envelope checked (shape, not empty, within the limit)."""
    data = request.data
    if not isinstance(data, dict) or key not in data:
        raise ApiError(_('Send a JSON object {"%(key)s": [...]}.') % {"key": key}, code="invalid_body")
    unknown = sorted(set(data) - {key, "site"})
    if unknown:
        raise ApiError(_("Unknown top-level field(s): %(fields)s.") % {"fields": ", ".join(unknown)},
                       code="invalid_body", details={"fields": unknown})
    items = data[key]
    if not isinstance(items, list):
        raise ApiError(_('"%(key)s" must be a list.') % {"key": key}, code="invalid_body")
    if not items:
        raise ApiError(_('"%(key)s" is empty.') % {"key": key}, code="empty_batch")
    limit = settings.INGEST_MAX_BATCH
    if len(items) > limit:
        raise ApiError(
            _("A batch holds at most %(limit)s items; this one has %(count)s. Split it.")
            % {"limit": limit, "count": len(items)},
            code="batch_too_large", status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            details={"limit": limit, "received": len(items)},
        )
    return items


def batch_response(outcome) -> Response:
    """200 with per-item results when anything was stored or already there; 422 when every item was rejected."""
    body = outcome.as_dict()
    code = status.HTTP_422_UNPROCESSABLE_ENTITY if outcome.rejected == len(outcome.results) else status.HTTP_200_OK
    return Response(body, status=code)


# --- equipment events and cycle times ------------------------------------------------------------------------------


class EquipmentStateEventSerializer(serializers.ModelSerializer):
    equipment = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = EquipmentStateEvent
        fields = ["id", "equipment", "ts", "state", "reason", "source", "received_at"]


class CycleTimeSerializer(serializers.ModelSerializer):
    equipment = serializers.SlugRelatedField(slug_field="code", read_only=True)
    lot = serializers.CharField(source="lot_code", read_only=True)

    class Meta:
        model = CycleTimeRecord
        fields = ["id", "equipment", "ts", "cycle_time_s", "lot", "shot_counter", "source", "received_at"]


class _TimeRangeFilter(filters.FilterSet):
    equipment = filters.CharFilter(field_name="equipment__code", help_text=gettext_lazy("equipment code"))
    since = filters.CharFilter(method="filter_since", help_text=gettext_lazy("ts ≥ this ISO 8601 timestamp"))
    until = filters.CharFilter(method="filter_until", help_text=gettext_lazy("ts < this ISO 8601 timestamp"))

    def filter_since(self, queryset, name, value):
        return queryset.filter(ts__gte=query_timestamp(name, value))

    def filter_until(self, queryset, name, value):
        return queryset.filter(ts__lt=query_timestamp(name, value))


class EquipmentStateEventFilter(_TimeRangeFilter):
    class Meta:
        model = EquipmentStateEvent
        fields = ["equipment", "state", "since", "until"]


class CycleTimeFilter(_TimeRangeFilter):
    lot = filters.CharFilter(field_name="lot_code")

    class Meta:
        model = CycleTimeRecord
        fields = ["equipment", "lot", "since", "until"]


_BATCH_RESULT = inline_serializer(
    "ProductionEventBatchResult",
    fields={
        "received": serializers.IntegerField(),
        "stored": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "rejected": serializers.IntegerField(),
        "duplicate_indices": serializers.ListField(child=serializers.IntegerField()),
        "errors": serializers.ListField(child=serializers.DictField()),
    },
)


class _ProductionEventView(SiteScopedQuerysetMixin, generics.ListAPIView):
    site_lookup = "equipment__site"
    token_scopes = {"GET": "ingest", "POST": "ingest"}
    batch_key = ""
    record = None

    def post(self, request, *args, **kwargs):
        items = batch_items(request, self.batch_key)
        site = resolve_write_site(request, body_site_code(request))
        outcome = type(self).record(site, items, source=client_source(request))
        return batch_response(outcome)


class EquipmentStateEventView(_ProductionEventView):
    """Equipment state changes (running, idle, setup, down, alarm, maintenance, offline)."""

    queryset = EquipmentStateEvent.objects.select_related("equipment")
    serializer_class = EquipmentStateEventSerializer
    filterset_class = EquipmentStateEventFilter
    user_perms = {"GET": "qms.view_equipmentstateevent", "POST": "qms.add_equipmentstateevent"}
    batch_key = "events"
    record = staticmethod(record_equipment_states)

    @extend_schema(
        request=inline_serializer("EquipmentStateEventBatch", fields={"events": serializers.ListField(
            child=serializers.DictField(), help_text=gettext_lazy('[{"equipment", "ts", "state", "reason"?}]'))}),
        responses={200: _BATCH_RESULT, 422: OpenApiResponse(_BATCH_RESULT, description=gettext_lazy("all rejected"))},
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class CycleTimeView(_ProductionEventView):
    """Machine cycle times, optionally with the lot and the shot counter."""

    queryset = CycleTimeRecord.objects.select_related("equipment")
    serializer_class = CycleTimeSerializer
    filterset_class = CycleTimeFilter
    user_perms = {"GET": "qms.view_cycletimerecord", "POST": "qms.add_cycletimerecord"}
    batch_key = "cycles"
    record = staticmethod(record_cycle_times)

    @extend_schema(
        request=inline_serializer("CycleTimeBatch", fields={"cycles": serializers.ListField(
            child=serializers.DictField(),
            help_text=gettext_lazy('[{"equipment", "ts", "cycle_time_s", "lot"?, "shot_counter"?}]'))}),
        responses={200: _BATCH_RESULT, 422: OpenApiResponse(_BATCH_RESULT, description=gettext_lazy("all rejected"))},
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
