"""The morning overview of one site: read-only queries behind the landing page's tiles and lists.

Later issues (alarms, SPC) add their own tiles with `register_tiles(provider)`; a provider takes (site, user) and
returns a list of Tile.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qms.models import AuditEntry, Characteristic, DeadLetter, Measurement
from traceability.models import LotRun

RECENT_WINDOW = timedelta(hours=24)
# A characteristic counts as silent once no value arrived for this many of its expected update periods.
SILENT_AFTER_PERIODS = 3


@dataclass(frozen=True)
class Tile:
    label: str
    value: int | str
    url: str | None = None
    tone: str = "neutral"  # neutral | good | warn | bad
    hint: str = ""


TileProvider = Callable[..., list[Tile]]
_PROVIDERS: list[TileProvider] = []


def register_tiles(provider: TileProvider) -> TileProvider:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def tiles_for(site, user) -> list[Tile]:
    tiles: list[Tile] = []
    for provider in _PROVIDERS:
        tiles.extend(provider(site, user))
    return tiles


def running_lot_runs(site, now=None):
    """Lots on a machine right now: started, not yet ended."""
    now = now or timezone.now()
    return LotRun.objects.filter(lot__site=site, ended_at__isnull=True, started_at__lte=now)


def silent_characteristics(site, now=None, limit: int = 10) -> tuple[list[Characteristic], int]:
    """Released characteristics with an expected update period whose newest value is overdue (or never came)."""
    now = now or timezone.now()
    newest = Measurement.objects.filter(characteristic=OuterRef("pk")).order_by("-ts").values("ts")[:1]
    candidates = (
        Characteristic.objects.filter(site=site, status=Characteristic.Status.RELEASED, update_period_s__isnull=False)
        .annotate(last_ts=Subquery(newest))
        .order_by("code")
    )
    silent = []
    for characteristic in candidates:
        allowed_gap = timedelta(seconds=characteristic.update_period_s * SILENT_AFTER_PERIODS)
        if characteristic.last_ts is None or now - characteristic.last_ts > allowed_gap:
            silent.append(characteristic)
    return silent[:limit], len(silent)


def recent_audit_entries(site, limit: int = 8):
    return list(AuditEntry.objects.filter(site=site).order_by("-seq")[:limit])


def recent_dictionary_changes(site, limit: int = 8):
    return list(
        Characteristic.history.filter(site_id=site.pk).select_related("history_user").order_by("-history_date")[:limit]
    )


@register_tiles
def foundation_tiles(site, user) -> list[Tile]:
    now = timezone.now()
    since = now - RECENT_WINDOW
    tiles = []
    if user.has_perm("qms.view_characteristic"):
        active = Characteristic.objects.filter(site=site).exclude(status=Characteristic.Status.RETIRED)
        released = active.filter(status=Characteristic.Status.RELEASED).count()
        drafts = active.filter(status=Characteristic.Status.DRAFT).count()
        tiles.append(Tile(
            _("Characteristics"), released, reverse("dictionary-list"), "neutral",
            _("released; %(drafts)d in draft") % {"drafts": drafts},
        ))
    if user.has_perm("qms.view_measurement"):
        count = Measurement.objects.filter(characteristic__site=site, ts__gte=since, ts__lte=now).count()
        tiles.append(Tile(_("Measurements, last 24 h"), count, None, "good" if count else "warn"))
    if user.has_perm("qms.view_deadletter"):
        open_letters = DeadLetter.objects.filter(site=site, status=DeadLetter.Status.OPEN).count()
        rejected_today = DeadLetter.objects.filter(site=site, created_at__gte=since).count()
        tiles.append(Tile(
            _("Open dead letters"), open_letters, reverse("dead-letter-list"), "bad" if open_letters else "good",
            _("%(count)d rejected in the last 24 h") % {"count": rejected_today},
        ))
    if user.has_perm("traceability.view_lotrun"):
        tiles.append(Tile(_("Lots running now"), running_lot_runs(site, now).count(), None, "neutral"))
    return tiles
