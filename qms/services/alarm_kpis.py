"""Alarm response-time KPIs of a site over the last N days (the statistics themselves: qms.alarm_kpis)."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from qms.alarm_kpis import AlarmTimes, median, seconds_between, summarise
from qms.models import Alarm

MAX_DAYS = 366


def site_zone(site) -> ZoneInfo:
    try:
        return ZoneInfo(site.timezone)
    except (KeyError, ValueError):  # an unknown zone name must not break a dashboard: fall back to UTC days
        return ZoneInfo("UTC")


def alarm_kpis(site, *, days: int = 7, now: datetime | None = None) -> dict:
    """Counts by severity and median/p90 times to acknowledge, contain and clear, for alarms raised in the last
    `days` days, overall and per day (days in the site's time zone)."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    rows = (Alarm.objects.filter(site=site, raised_at__gte=since)
            .values_list("raised_at", "severity", "trigger_ts", "acknowledged_at", "contained_at", "cleared_at"))
    zone = site_zone(site)
    summary = summarise((AlarmTimes(*row) for row in rows), day_of=lambda moment: moment.astimezone(zone).date())
    return {"site": site.code, "days": days, "since": since.isoformat(), "until": now.isoformat(), **summary}


def overview_figures(site, *, now: datetime | None = None) -> dict:
    """The overview tile: open alarms, unacknowledged ones, and the median time to acknowledge over 7 days."""
    now = now or timezone.now()
    open_alarms = Alarm.objects.filter(site=site).exclude(state=Alarm.State.CLOSED)
    acknowledged = (Alarm.objects.filter(site=site, raised_at__gte=now - timedelta(days=7),
                                         acknowledged_at__isnull=False)
                    .values_list("raised_at", "acknowledged_at"))
    return {
        "active": open_alarms.exclude(state=Alarm.State.CLEARED).count(),
        "unacknowledged": open_alarms.filter(acknowledged_at__isnull=True).count(),
        "median_ack_s": median([seconds_between(raised, acked) for raised, acked in acknowledged]),
    }
