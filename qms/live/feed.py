"""What a live alarm page is sent: alarm events after its cursor, read from the database (never from the nudge).

The AlarmEvent id is the cursor. PostgreSQL hands out sequence ids at insert, not at commit, so an event with a
lower id can become visible after a higher one was already delivered. A reader therefore re-reads an overlap below
its cursor — ids within OVERLAP_IDS of it, written (`created_at`, the database's clock; not `at`, which for a rule's
clear is the source timestamp) within LATE_COMMIT_S — and drops the ids it has already sent
(`FeedCursor.seen`). A transaction that stays open longer than LATE_COMMIT_S, or that commits after more than
OVERLAP_IDS later events of the site, can still be missed by the stream; the page's reload (or a `resync`) shows it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import DateTimeField, ExpressionWrapper, Max, Q
from django.db.models.functions import Now
from django.utils import timezone

from qms.models import AlarmEvent
from qms.services.alarm_text import localize_snapshot

OVERLAP_IDS = 1000
LATE_COMMIT_S = 30
BATCH = 500
CATCH_UP_LIMIT = 2000


def alarm_group(site_id: int) -> str:
    """The Channels group of a site's live alarm pages."""
    return f"alarms.site.{site_id}"


@dataclass
class FeedCursor:
    """Where one page is: the highest event id sent and the ids sent within the overlap below it."""

    site_id: int
    line_id: int | None
    cursor: int
    seen: set[int] = field(default_factory=set)

    def mark_sent(self, ids) -> None:
        self.seen.update(ids)
        if self.seen:
            self.cursor = max(self.cursor, max(self.seen))
        floor = self.cursor - OVERLAP_IDS
        self.seen = {i for i in self.seen if i > floor}


def scoped_events(site_id: int, line_id: int | None):
    events = AlarmEvent.objects.filter(site_id=site_id)
    return events.filter(line_id=line_id) if line_id is not None else events


def latest_event_id(site_id: int) -> int:
    """The site's highest event id (whatever the line: ids are site-wide), 0 when there is none."""
    return AlarmEvent.objects.filter(site_id=site_id).aggregate(top=Max("id"))["top"] or 0


def unsent_events(feed: FeedCursor, *, limit: int = BATCH, now=None) -> list[AlarmEvent]:
    """Events of the page's scope it has not been sent: everything above the cursor, plus recently written ones in
    the overlap below it (late commits). Oldest first, at most `limit`."""
    late_enough = Q(id__gt=feed.cursor) | Q(created_at__gte=_written_since(now))
    # The id range first, on its own: one range scan of the (site, id) index, the OR only filters within it.
    candidates = scoped_events(feed.site_id, feed.line_id).filter(id__gt=feed.cursor - OVERLAP_IDS).filter(late_enough)
    ids = [i for i in candidates.order_by("id").values_list("id", flat=True)[: limit + len(feed.seen)]
           if i not in feed.seen][:limit]
    if not ids:
        return []
    return list(AlarmEvent.objects.filter(id__in=ids).order_by("id"))


def _written_since(now=None):
    """The start of the late-commit overlap, by the database's clock (the one `created_at` is written with) unless
    the caller names `now`."""
    if now is not None:
        return now - timedelta(seconds=LATE_COMMIT_S)
    return ExpressionWrapper(Now() - timedelta(seconds=LATE_COMMIT_S), output_field=DateTimeField())


def pending_count(feed: FeedCursor) -> int:
    """How many events above the cursor a reconnecting page would have to replay (bounded by CATCH_UP_LIMIT + 1)."""
    ids = scoped_events(feed.site_id, feed.line_id).filter(id__gt=feed.cursor).values_list("id", flat=True)
    return len(ids[: CATCH_UP_LIMIT + 1])


def is_shelved(snapshot: dict, now=None) -> bool:
    """Shelved alarms are delivered (the list stays true) but the page does not sound for them."""
    if snapshot.get("shelved") is not None:
        return bool(snapshot["shelved"])
    until = snapshot.get("shelved_until")
    if not until:
        return False
    from django.utils.dateparse import parse_datetime

    parsed = parse_datetime(until) if isinstance(until, str) else until
    return parsed is not None and parsed > (now or timezone.now())


def event_message(event: AlarmEvent, now=None) -> dict:
    snapshot = localize_snapshot(dict(event.snapshot or {}))  # written in the writer's language; read in ours
    snapshot.setdefault("id", event.alarm_id)
    return {"id": event.id, "kind": event.kind, "at": event.at.isoformat(), "actor": event.actor,
            "comment": event.comment, "shelved": is_shelved(snapshot, now), "snapshot": snapshot}
