"""Prometheus metrics of the connector layer in the text exposition format: GET /api/v1/metrics

Who may read: a machine token with the `metrics:read` scope (a Prometheus scraper: `authorization: {type: Bearer,
credentials: <token>}`) sees its own site's connectors; a signed-in user with connectors.view_connector sees the
sites they belong to. Anonymous requests get the API's usual 401/403 — like every /api/v1/ endpoint.
"""
from __future__ import annotations

from django.db.models import Count
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.models import Connector, ConnectorStatus, TagMapping, WriteBackCommand
from qms.auth.scoping import allowed_site_ids

COUNTERS = ("received", "stored", "duplicates", "rejected", "bad_quality", "reconnects")
STATES = [value for value, _label in ConnectorStatus.State.choices]


def _label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(site_ids, now=None) -> str:
    now = now or timezone.now()
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    connectors = list(Connector.objects.filter(site__in=site_ids).select_related("site", "status")
                      .order_by("site__code", "name"))
    stale = dict(TagMapping.objects.filter(stale_since__isnull=False, connector__site__in=site_ids).values("connector")
                 .annotate(n=Count("id")).values_list("connector", "n"))
    labels = {c.pk: f'site="{_label(c.site.code)}",connector="{_label(c.name)}",kind="{c.kind}"' for c in connectors}

    def status_of(connector):
        return getattr(connector, "status", None)

    family("qualitypulse_connector_up", "gauge", "1 when the connector's session is connected.")
    for c in connectors:
        row = status_of(c)
        lines.append(f"qualitypulse_connector_up{{{labels[c.pk]}}} {int(bool(row and row.state == 'connected'))}")
    family("qualitypulse_connector_state", "gauge", "Current state of the connector (one series per state).")
    for c in connectors:
        state = status_of(c).state if status_of(c) else "stopped"
        for candidate in STATES:
            lines.append(f'qualitypulse_connector_state{{{labels[c.pk]},state="{candidate}"}} {int(candidate == state)}')
    for counter in COUNTERS:
        family(f"qualitypulse_connector_{counter}_total", "counter", f"Readings/events counted as {counter}.")
        for c in connectors:
            value = getattr(status_of(c), counter, 0) if status_of(c) else 0
            lines.append(f"qualitypulse_connector_{counter}_total{{{labels[c.pk]}}} {value}")
    family("qualitypulse_connector_buffered", "gauge", "Readings waiting in the runner's durable outbox.")
    for c in connectors:
        lines.append(f"qualitypulse_connector_buffered{{{labels[c.pk]}}} {status_of(c).buffered if status_of(c) else 0}")
    family("qualitypulse_connector_clock_skew_milliseconds", "gauge", "Source clock minus our clock (smoothed).")
    for c in connectors:
        skew = status_of(c).clock_skew_ms if status_of(c) else None
        if skew is not None:
            lines.append(f"qualitypulse_connector_clock_skew_milliseconds{{{labels[c.pk]}}} {skew}")
    family("qualitypulse_connector_last_value_age_seconds", "gauge", "Seconds since the newest stored value.")
    for c in connectors:
        row = status_of(c)
        if row and row.last_value_at:
            lines.append(f"qualitypulse_connector_last_value_age_seconds{{{labels[c.pk]}}} "
                         f"{(now - row.last_value_at).total_seconds():.3f}")
    family("qualitypulse_connector_heartbeat_age_seconds", "gauge", "Seconds since the runner last reported.")
    for c in connectors:
        row = status_of(c)
        if row and row.heartbeat_at:
            lines.append(f"qualitypulse_connector_heartbeat_age_seconds{{{labels[c.pk]}}} "
                         f"{(now - row.heartbeat_at).total_seconds():.3f}")
    family("qualitypulse_connector_stale_tags", "gauge", "Tags without an update within 3 × their update period.")
    for c in connectors:
        lines.append(f"qualitypulse_connector_stale_tags{{{labels[c.pk]}}} {stale.get(c.pk, 0)}")
    family("qualitypulse_writeback_commands", "gauge", "Write-back commands by status.")
    for row in WriteBackCommand.objects.filter(connector__site__in=site_ids).values("connector", "status") \
            .annotate(n=Count("id")).order_by():
        if row["connector"] in labels:
            lines.append(f'qualitypulse_writeback_commands{{{labels[row["connector"]]},status="{row["status"]}"}} '
                         f'{row["n"]}')
    return "\n".join(lines) + "\n"


class PrometheusTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "prometheus"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode("utf-8") if isinstance(data, str) else JSONRenderer().render(data)


class MetricsView(APIView):
    token_scopes = {"GET": "metrics:read"}
    user_perms = {"GET": "connectors.view_connector"}
    renderer_classes = [PrometheusTextRenderer, JSONRenderer]

    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request):
        """Connector metrics of the sites the caller may see, in the Prometheus text format (version 0.0.4)."""
        text = render_metrics(allowed_site_ids(request))
        return Response(text, content_type="text/plain; version=0.0.4; charset=utf-8")
