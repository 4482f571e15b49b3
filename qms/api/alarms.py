"""Alarms over REST (docs/alarms.md).

GET  /api/v1/alarms/                      list (filters site, line, equipment, state, severity, open, since), paged
GET  /api/v1/alarms/{id}/                 one alarm with its events
POST /api/v1/alarms/{id}/acknowledge/     {"comment"?}
POST /api/v1/alarms/{id}/clear/           {"comment"?}
POST /api/v1/alarms/{id}/close/           {"comment"?}
POST /api/v1/alarms/{id}/shelve/          {"reason", "until"}
POST /api/v1/alarms/{id}/unshelve/        {}
GET  /api/v1/alarms/events/?site=&after=  the event log after a cursor (integrators, catch-up)
GET  /api/v1/alarms/kpis/?site=&days=     response-time KPIs

Reading needs qms.view_alarm (or a machine token with the "alarms:read" scope); transitions need qms.change_alarm
and a person (tokens cannot acknowledge). Another site's alarm answers 404, exactly like one that does not exist.
"""
from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from qms.api.errors import ApiError
from qms.api.events import StrictFieldsMixin, query_timestamp
from qms.api.pagination import StandardPagination
from qms.auth.scoping import SiteScopedQuerysetMixin, allowed_site_ids
from qms.models import Alarm, AlarmEvent, Site
from qms.services import alarm_text
from qms.services import alarms as alarm_service
from qms.services.alarm_event_horizon import settled_event_horizon
from qms.services.alarm_kpis import MAX_DAYS, alarm_kpis
from qms.services.production_events import TimestampError, parse_timestamp

READ_SCOPE = "alarms:read"
EVENTS_PAGE_MAX = 1000


class AlarmEventSerializer(serializers.ModelSerializer):
    snapshot = serializers.SerializerMethodField()  # title/message in the request's language

    class Meta:
        model = AlarmEvent
        fields = ["id", "alarm", "kind", "at", "actor", "comment", "snapshot"]

    def get_snapshot(self, event) -> dict:
        return alarm_text.localize_snapshot(dict(event.snapshot or {}))


class AlarmSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    line = serializers.SlugRelatedField(slug_field="code", read_only=True)
    equipment = serializers.SlugRelatedField(slug_field="code", read_only=True)
    characteristic = serializers.SlugRelatedField(slug_field="code", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    closed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    shelved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    title = serializers.SerializerMethodField()  # in the request's language (the stored title is the English one)
    message = serializers.SerializerMethodField()
    time_to_acknowledge_s = serializers.SerializerMethodField()
    time_to_contain_s = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Alarm
        fields = ["id", "site", "line", "equipment", "characteristic", "rule", "source_key", "alarm_type", "severity",
                  "state", "title", "message", "evidence", "trigger_ts", "trigger_value", "raised_at",
                  "last_triggered_at", "occurrences", "acknowledged_at", "acknowledged_by", "ack_comment",
                  "contained_at", "cleared_at", "closed_at", "closed_by", "shelved_until", "shelved_reason",
                  "shelved_by", "escalation_level", "escalated_at", "version", "time_to_acknowledge_s",
                  "time_to_contain_s", "url"]

    def get_title(self, alarm) -> str:
        return alarm_text.alarm_title(alarm)

    def get_message(self, alarm) -> str:
        return alarm_text.alarm_message(alarm)

    def get_time_to_acknowledge_s(self, alarm) -> float | None:
        return _seconds(alarm.raised_at, alarm.acknowledged_at)

    def get_time_to_contain_s(self, alarm) -> float | None:
        return _seconds(alarm.trigger_ts, alarm.contained_at)

    def get_url(self, alarm) -> str:
        return f"/alarms/{alarm.pk}/"


class AlarmDetailSerializer(AlarmSerializer):
    events = AlarmEventSerializer(many=True, read_only=True)

    class Meta(AlarmSerializer.Meta):
        fields = [*AlarmSerializer.Meta.fields, "events"]


def _seconds(start, end):
    return None if start is None or end is None else (end - start).total_seconds()


class AlarmFilter(filters.FilterSet):
    line = filters.CharFilter(field_name="line__code", help_text=gettext_lazy("line code"))
    equipment = filters.CharFilter(field_name="equipment__code", help_text=gettext_lazy("equipment code"))
    state = filters.ChoiceFilter(choices=Alarm.State.choices)
    severity = filters.ChoiceFilter(choices=Alarm.Severity.choices)
    open = filters.BooleanFilter(method="filter_open", help_text=gettext_lazy("true: not closed; false: closed"))
    since = filters.CharFilter(method="filter_since", help_text=gettext_lazy("raised at or after this ISO 8601 time"))

    class Meta:
        model = Alarm
        fields = ["line", "equipment", "state", "severity", "open", "since"]

    def filter_open(self, queryset, name, value):
        return queryset.exclude(state=Alarm.State.CLOSED) if value else queryset.filter(state=Alarm.State.CLOSED)

    def filter_since(self, queryset, name, value):
        return queryset.filter(raised_at__gte=query_timestamp(name, value))


class _AlarmReadView(SiteScopedQuerysetMixin):
    queryset = Alarm.objects.select_related("site", "line", "equipment", "characteristic", "acknowledged_by",
                                            "closed_by", "shelved_by")
    token_scopes = {"GET": READ_SCOPE}
    user_perms = {"GET": "qms.view_alarm"}


@extend_schema(tags=["alarms"], summary=gettext_lazy("List alarms of your sites, newest first"))
class AlarmListView(_AlarmReadView, generics.ListAPIView):
    serializer_class = AlarmSerializer
    filterset_class = AlarmFilter
    pagination_class = StandardPagination


@extend_schema(tags=["alarms"], summary=gettext_lazy("One alarm with its events"))
class AlarmDetailView(_AlarmReadView, generics.RetrieveAPIView):
    serializer_class = AlarmDetailSerializer

    def get_queryset(self):
        return super().get_queryset().prefetch_related("events")


# --- transitions ---------------------------------------------------------------------------------------------------


class CommentSerializer(StrictFieldsMixin, serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class FutureTimestampField(serializers.DateTimeField):
    """ISO 8601 with a time zone; how far ahead it may lie is the service's rule (ALARM_SHELVE_MAX_HOURS)."""

    def to_internal_value(self, value):
        try:
            return parse_timestamp(value)
        except TimestampError as exc:
            raise serializers.ValidationError(str(exc), code=exc.code) from None


class ShelveSerializer(StrictFieldsMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    until = FutureTimestampField()


def raise_as_api_error(error: alarm_service.AlarmError):
    if error.code == "not_found":
        raise ApiError(error.message, code="not_found", status_code=status.HTTP_404_NOT_FOUND) from error
    if error.is_bad_input:
        details = {error.field: [error.message]} if error.field else None
        raise ApiError(error.message, code=error.code, status_code=status.HTTP_400_BAD_REQUEST,
                       details=details) from error
    raise ApiError(error.message, code=error.code, status_code=status.HTTP_409_CONFLICT) from error


_TRANSITION_ERRORS = {
    400: OpenApiResponse(description=gettext_lazy("Bad input, e.g. a missing shelving reason; the field is named.")),
    403: OpenApiResponse(description=gettext_lazy("Role lacks qms.change_alarm, or a machine token.")),
    404: OpenApiResponse(description=gettext_lazy("No such alarm in your sites.")),
    409: OpenApiResponse(description=gettext_lazy(
        "Illegal transition: already_acknowledged, already_cleared, alarm_closed, not_cleared, not_acknowledged, "
        "not_shelved.")),
}


class _AlarmTransitionView(APIView):
    """POST only, for people with qms.change_alarm; the alarm must lie in one of their sites."""

    token_scopes: dict = {}  # machine tokens read alarms; responding to one is a person's job
    user_perms = {"POST": "qms.change_alarm"}
    body_serializer = CommentSerializer

    def post(self, request, pk):
        if not Alarm.objects.filter(pk=pk, site_id__in=allowed_site_ids(request)).exists():
            raise ApiError(_("Alarm %(id)s does not exist.") % {"id": pk}, code="not_found",
                           status_code=status.HTTP_404_NOT_FOUND)
        body = self.body_serializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        try:
            alarm = self.transition(pk, request.user, body.validated_data)
        except alarm_service.AlarmError as error:
            raise_as_api_error(error)
        alarm = _AlarmReadView.queryset.get(pk=alarm.pk)
        return Response(AlarmSerializer(alarm).data)

    def transition(self, pk, user, data):
        raise NotImplementedError


def _transition_schema(summary: str, request=CommentSerializer, examples=()):
    return extend_schema(tags=["alarms"], summary=summary, request=request, examples=list(examples),
                         responses={200: AlarmSerializer, **_TRANSITION_ERRORS})


class AcknowledgeView(_AlarmTransitionView):
    @_transition_schema(gettext_lazy("Acknowledge an alarm (once)"),
                        examples=[OpenApiExample("comment", value={"comment": "Checking the heater band"})])
    def post(self, request, pk):
        return super().post(request, pk)

    def transition(self, pk, user, data):
        return alarm_service.acknowledge_alarm(pk, user=user, comment=data["comment"])


class ClearView(_AlarmTransitionView):
    @_transition_schema(gettext_lazy("Declare the condition back to normal"))
    def post(self, request, pk):
        return super().post(request, pk)

    def transition(self, pk, user, data):
        return alarm_service.clear_alarm(pk, user=user, reason=data["comment"])


class CloseView(_AlarmTransitionView):
    @_transition_schema(gettext_lazy("Close a cleared and acknowledged alarm"))
    def post(self, request, pk):
        return super().post(request, pk)

    def transition(self, pk, user, data):
        return alarm_service.close_alarm(pk, user=user, comment=data["comment"])


class ShelveView(_AlarmTransitionView):
    body_serializer = ShelveSerializer

    @_transition_schema(gettext_lazy("Shelve an alarm until a time (reason required, at most ALARM_SHELVE_MAX_HOURS)"),
                        request=ShelveSerializer,
                        examples=[OpenApiExample("shelve", value={"reason": "Sensor being replaced",
                                                                  "until": "2026-11-28T12:00:00+08:00"})])
    def post(self, request, pk):
        return super().post(request, pk)

    def transition(self, pk, user, data):
        return alarm_service.shelve_alarm(pk, user=user, reason=data["reason"], until=data["until"])


class UnshelveView(_AlarmTransitionView):
    @_transition_schema(gettext_lazy("End the shelving now"))
    def post(self, request, pk):
        return super().post(request, pk)

    def transition(self, pk, user, data):
        return alarm_service.unshelve_alarm(pk, user=user)


# --- event log and KPIs ----------------------------------------------------------------------------------------------


def _requested_site(request) -> Site | None:
    """The `site` query parameter within the requester's sites (404 otherwise); None when not given."""
    code = request.query_params.get("site")
    if not code:
        return None
    site = Site.objects.filter(code=code, pk__in=allowed_site_ids(request)).first()
    if site is None:
        raise ApiError(_("Unknown site or no access: %(site)s") % {"site": code}, code="not_found",
                       status_code=status.HTTP_404_NOT_FOUND)
    return site


def _int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ApiError(_("%(name)s must be a whole number from %(low)d to %(high)d.")
                       % {"name": name, "low": low, "high": high}, code="invalid_parameter",
                       details={name: [_("Expected %(low)d…%(high)d.") % {"low": low, "high": high}]})
    return value


_EVENTS_RESPONSE = inline_serializer("AlarmEventPage", fields={
    "events": AlarmEventSerializer(many=True),
    "next_after": serializers.IntegerField(help_text=gettext_lazy("pass as `after` to continue")),
    "has_more": serializers.BooleanField(help_text=gettext_lazy("ask again at once with `next_after`")),
    "settled": serializers.BooleanField(help_text=gettext_lazy(
        "false: events were still being written below the newest id; the page stops before them — ask again")),
})


class AlarmEventLogView(APIView):
    token_scopes = {"GET": READ_SCOPE}
    user_perms = {"GET": "qms.view_alarm"}

    @extend_schema(tags=["alarms"], summary=gettext_lazy(
        "Alarm events after a cursor (oldest first, never skipping a late commit)"),
                   parameters=[
                       OpenApiParameter("site", OpenApiTypes.STR, description=gettext_lazy("site code")),
                       OpenApiParameter("after", OpenApiTypes.INT, description=gettext_lazy(
                           "the last event id you have; 0 or absent = from the beginning")),
                       OpenApiParameter("limit", OpenApiTypes.INT, description=gettext_lazy("1…1000, default 500")),
                   ],
                   responses={200: _EVENTS_RESPONSE})
    def get(self, request):
        after = _int_param(request, "after", 0, 0, 2**63 - 1)
        limit = _int_param(request, "limit", 500, 1, EVENTS_PAGE_MAX)
        site = _requested_site(request)
        # Only ids below which nothing can still commit: a lower id committing late is never skipped.
        horizon = settled_event_horizon()
        if not horizon.settled:
            return Response({"events": [], "next_after": after, "has_more": True, "settled": False})
        events = AlarmEvent.objects.filter(pk__gt=after).order_by("pk")
        if horizon.up_to is not None:
            events = events.filter(pk__lte=horizon.up_to)
        events = events.filter(site=site) if site else events.filter(site_id__in=allowed_site_ids(request))
        page = list(events[:limit + 1])
        has_more = len(page) > limit
        page = page[:limit]
        return Response({"events": AlarmEventSerializer(page, many=True).data,
                         "next_after": page[-1].pk if page else after, "has_more": has_more, "settled": True})


class AlarmKpiView(APIView):
    token_scopes = {"GET": READ_SCOPE}
    user_perms = {"GET": "qms.view_alarm"}

    @extend_schema(tags=["alarms"], summary=gettext_lazy("Alarm response-time KPIs of a site"),
                   parameters=[OpenApiParameter("site", OpenApiTypes.STR, description=gettext_lazy(
                                   "site code; may be left out when you belong to one site")),
                               OpenApiParameter("days", OpenApiTypes.INT, description=gettext_lazy(
                                   "look-back in days, 1…366, default 7"))],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        days = _int_param(request, "days", 7, 1, MAX_DAYS)
        site = _requested_site(request)
        if site is None:
            allowed = allowed_site_ids(request)
            if len(allowed) != 1:
                raise ApiError(_("Name the site: you belong to several."), code="site_required",
                               details={"site": [_("required")]})
            site = Site.objects.get(pk=next(iter(allowed)))
        return Response(alarm_kpis(site, days=days))
