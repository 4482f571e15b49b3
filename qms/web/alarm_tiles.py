"""The overview tile of the alarms: active / unacknowledged / median time to acknowledge over the last 7 days."""
from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from qms.services.alarm_kpis import overview_figures
from qms.web.overview import Tile


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return _("%(n)d s") % {"n": round(seconds)}
    if seconds < 7200:
        return _("%(n)d min") % {"n": round(seconds / 60)}
    return _("%(n).1f h") % {"n": seconds / 3600}


def _alarm_page_url() -> str | None:
    try:
        return reverse("alarm-live")  # the live alarm page (owned by qms.live), when installed
    except NoReverseMatch:
        return None


def alarm_tiles(site, user) -> list[Tile]:
    if not user.has_perm("qms.view_alarm"):
        return []
    figures = overview_figures(site)
    active, unacknowledged = figures["active"], figures["unacknowledged"]
    tone = "bad" if unacknowledged else ("warn" if active else "good")
    hint = _("%(unack)d unacknowledged · median time to acknowledge (7 days): %(median)s") % {
        "unack": unacknowledged, "median": format_duration(figures["median_ack_s"])}
    return [Tile(_("Active alarms"), active, _alarm_page_url(), tone, hint)]


def connect() -> None:
    from qms.web.overview import register_tiles

    register_tiles(alarm_tiles)
