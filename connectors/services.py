"""Connector domain services (Django side): configuration for the runner, storing reading batches through the
foundation's ingestion service, status, the staleness watchdog.

Functions others call:
    load_specs(group="") -> list[ConnectorSpec]
    config_version(group="") -> str
    store_readings(batch_id, envelopes, *, connector_id=None, connector=None) -> ReadingsOutcome  (the ingest task's body)
    batch_confirmed(connector, batch_id) -> bool
    check_staleness(now=None) -> list[StaleTag]                                        (the watchdog's body)
"""
from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import Count, F, Max, Q, Value
from django.db.models.functions import Coalesce, Greatest

from connectors.models import Connector, ConnectorStatus, TagMapping
from connectors.outbox import Batch
from connectors.seams import StaleTag, data_resumed, data_stale
from connectors.spec import ConnectorSpec, TagSpec
from qms.bulk_sql import AnyOf
from qms.models import IngestBatch
from qms.services.ingest import ingest_measurements

log = logging.getLogger("connectors.services")

STALE_FACTOR = 3.0


# --- configuration for the runner ------------------------------------------------------------------------------
def _connectors(group: str):
    return Connector.objects.filter(enabled=True, runner_group=group)


def config_version(group: str = "") -> str:
    connectors = Connector.objects.filter(runner_group=group).aggregate(
        n=Count("id"), at=Max("updated_at"), on=Count("id", filter=Q(enabled=True))
    )
    tags = TagMapping.objects.filter(connector__runner_group=group).aggregate(n=Count("id"), at=Max("updated_at"))
    return f"{connectors['n']}:{connectors['on']}:{connectors['at']}|{tags['n']}:{tags['at']}"


def spec_for(connector: Connector) -> ConnectorSpec:
    tags = tuple(
        TagSpec(
            source_ref=tag.source_ref, characteristic=tag.characteristic.code, params=tag.params or {},
            equipment=tag.characteristic.equipment.code if tag.characteristic.equipment_id else None,
            update_period_s=tag.characteristic.update_period_s,
            physical_min=tag.characteristic.physical_min, physical_max=tag.characteristic.physical_max,
        )
        for tag in connector.tags.all()
        if tag.enabled
    )
    return ConnectorSpec(
        id=connector.pk, site=connector.site.code, name=connector.name, kind=connector.kind,
        config=connector.config or {}, secrets=connector.secrets or {}, tags=tags, shadow_mode=connector.shadow_mode,
    )


def load_specs(group: str = "") -> list[ConnectorSpec]:
    connectors = _connectors(group).select_related("site").prefetch_related(
        "tags__characteristic__equipment"
    )
    return [spec_for(connector) for connector in connectors]


def connector_by_key(key: str) -> Connector:
    site_code, _, name = key.partition("/")
    return Connector.objects.select_related("site").get(site__code=site_code, name=name)


# --- storing readings ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReadingsOutcome:
    batch_id: str
    readings: int
    stored: int
    duplicates: int
    rejected: int
    not_stored_bad: int     # bad-quality readings without a value: counted and tracked, never stored as numbers
    replayed: bool          # the batch had been ingested before (a resend): nothing counted twice


def _reading_ts(envelope: dict) -> str:
    return envelope.get("source_ts") or envelope.get("server_ts") or envelope["received_ts"]


def envelope_item(envelope: dict) -> dict:
    """A reading envelope as an item of the foundation's measurement batch."""
    item = {
        "characteristic": envelope["characteristic"],
        "value": envelope["value"],
        "ts": _reading_ts(envelope),
        "quality": envelope.get("quality") or "good",
    }
    if envelope.get("lot"):
        item["lot"] = envelope["lot"]
    if envelope.get("equipment"):
        item["equipment"] = envelope["equipment"]
    return item


def store_readings(batch_id: str, envelopes: list[dict], *, connector_id: int | None = None,
                   connector: Connector | None = None) -> ReadingsOutcome:
    """Store one outbox batch through the foundation's ingestion service (idempotent on `batch_id`), then update
    tag freshness and the connector's counters. Safe to call again with the same batch: stored once.
    The connector is `connector` (with its site loaded; the runner keeps it between batches), else looked up by
    `connector_id`, else by the key in the first envelope.
    One transaction: if the database goes away between the ingest and the counters, a retry is a replay and would
    never count the batch (found by tests/connectors/test_opcua_outage.py)."""
    with transaction.atomic():
        return _store_readings(batch_id, envelopes, connector_id, connector)


def _store_readings(batch_id: str, envelopes: list[dict], connector_id: int | None,
                    connector: Connector | None) -> ReadingsOutcome:
    if connector is None:
        connector = (
            Connector.objects.select_related("site").get(pk=connector_id)
            if connector_id is not None else connector_by_key(envelopes[0]["connector"])
        )
    storable = [e for e in envelopes if e.get("value") is not None]
    valueless = len(envelopes) - len(storable)
    result = ingest_measurements(
        site=connector.site, items=[envelope_item(e) for e in storable], source=connector.source_label,
        idempotency_key=batch_id,
    )
    outcome = ReadingsOutcome(
        batch_id=batch_id, readings=len(envelopes), stored=result.body.get("stored", 0),
        duplicates=result.body.get("duplicates", 0), rejected=result.body.get("rejected", 0),
        not_stored_bad=valueless, replayed=result.replayed,
    )
    if not outcome.replayed:
        _note_fresh_tags(connector, envelopes)
        _count_stored(connector, outcome, max((_reading_ts(e) for e in envelopes), default=None))
    return outcome


def _count_stored(connector: Connector, outcome: ReadingsOutcome, latest: str | None) -> None:
    """Add the batch to the connector's counters and move its last value time forward (never back): one UPDATE,
    and the status row is created only the first time."""
    changes = {"stored": F("stored") + outcome.stored, "duplicates": F("duplicates") + outcome.duplicates,
               "rejected": F("rejected") + outcome.rejected}
    if latest:
        latest_ts = Value(datetime.fromisoformat(latest))
        changes["last_value_at"] = Greatest(Coalesce("last_value_at", latest_ts), latest_ts)
    if not ConnectorStatus.objects.filter(connector=connector).update(**changes):
        ConnectorStatus.objects.get_or_create(connector=connector)
        ConnectorStatus.objects.filter(connector=connector).update(**changes)


FRESHNESS_RESOLUTION = timedelta(seconds=1)


def _note_fresh_tags(connector: Connector, envelopes: list[dict]) -> None:
    """Record when each tag was last heard of (for the staleness watchdog): one query to read, one bulk update.
    A tag's time is only rewritten when it moved by at least FRESHNESS_RESOLUTION — staleness is judged in
    multiples of update periods, and 10 Hz tags must not cost 10 row updates a second each. The read takes plain
    tuples, not model instances: building 1,000 TagMappings with their characteristics was most of a batch's fixed
    cost on the store lane (bench/connectors.py opcua)."""
    latest: dict[str, tuple[str, str]] = {}
    for envelope in envelopes:
        ts = envelope.get("received_ts")   # freshness is about the link: when did we last hear from the tag
        code = envelope["characteristic"]
        if code not in latest or ts > latest[code][0]:
            latest[code] = (ts, envelope.get("quality") or "good")
    if not latest:
        return
    stale_ids: list[int] = []
    changed: list[tuple[int, datetime, str]] = []
    with transaction.atomic():
        rows = TagMapping.objects.filter(
            AnyOf(F("characteristic__code"), latest), _may_change(latest), connector=connector,
        ).order_by().values_list("pk", "characteristic__code", "last_value_at", "last_quality", "stale_since")
        for pk, code, last_value_at, last_quality, stale_since in rows:
            ts_text, quality = latest[code]
            ts = datetime.fromisoformat(ts_text)
            recent = last_value_at is not None and ts - last_value_at < FRESHNESS_RESOLUTION
            if stale_since is None and (recent or (last_value_at and last_value_at >= ts)) and last_quality == quality:
                continue
            if stale_since is not None:
                stale_ids.append(pk)
            changed.append((pk, max(ts, last_value_at) if last_value_at else ts, quality))
        # Tags coming back from stale are rare: their StaleTag (with the last value time before this batch) is built
        # from full rows, read before the update.
        resumed = [_stale_tag(connector, tag, tag.stale_since)
                   for tag in TagMapping.objects.select_related("characteristic").filter(pk__in=stale_ids)] \
            if stale_ids else []
        if changed:
            _write_freshness(changed)
        if resumed:
            site_id = connector.site_id
            transaction.on_commit(lambda: data_resumed.send(sender=TagMapping, site_id=site_id, tags=resumed))


def _may_change(latest: dict[str, tuple[str, str]]) -> Q:
    """The tag rows `_note_fresh_tags` may have to change for these (time, quality) per code — a looser condition
    than its own rule, which still decides row by row. Most batches come less than FRESHNESS_RESOLUTION after the
    last write and change nothing: then no row is read (reading every tag of the batch was ~0.8 ms of a 333-value
    batch's ~5 ms on the store lane). A row changes when it is stale, has no time yet, would move its time (then
    last_value_at <= ts - resolution <= newest - resolution) or changes quality (only bounded here when the whole
    batch has one quality)."""
    newest = max(datetime.fromisoformat(ts_text) for ts_text, _quality in latest.values())
    qualities = {quality for _ts, quality in latest.values()}
    if len(qualities) > 1:
        return Q()
    return (Q(stale_since__isnull=False) | Q(last_value_at__isnull=True)
            | Q(last_value_at__lte=newest - FRESHNESS_RESOLUTION) | ~Q(last_quality=qualities.pop()))


def _write_freshness(changes: list[tuple[int, datetime, str]]) -> None:
    """(tag id, last value time, quality) for each tag, in one statement (the ORM's bulk_update builds CASE
    expressions: seconds for 1,000 tags)."""
    table = connection.ops.quote_name(TagMapping._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ids, times, qualities = (list(column) for column in zip(*changes, strict=True))
            cursor.execute(
                f"UPDATE {table} AS t SET last_value_at = v.ts, last_quality = v.quality, stale_since = NULL "
                f"FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::timestamptz[]) AS ts, "
                f"unnest(%s::text[]) AS quality) AS v WHERE t.id = v.id",
                [ids, times, qualities],
            )
        else:
            adapt = connection.ops.adapt_datetimefield_value
            cursor.executemany(
                f"UPDATE {table} SET last_value_at = %s, last_quality = %s, stale_since = NULL WHERE id = %s",
                [(adapt(ts), quality, pk) for pk, ts, quality in changes],
            )


def batch_confirmed(connector: Connector, batch_id: str) -> bool:
    """Has the ingest committed this outbox batch? (The foundation records it under client = source.)"""
    return IngestBatch.objects.filter(client=connector.source_label, idempotency_key=batch_id).exists()


# --- status ----------------------------------------------------------------------------------------------------
def save_runner_status(snapshots: dict[int, dict], buffered: dict[str, int], runner: str) -> None:
    now = datetime.now(UTC)
    connectors = Connector.objects.select_related("site").filter(pk__in=list(snapshots))
    for connector in connectors:
        snapshot = snapshots[connector.pk]
        ConnectorStatus.objects.get_or_create(connector=connector)
        fields = {
            "state": snapshot["state"], "detail": snapshot["detail"][:500], "runner": runner[:120],
            "received": snapshot["received"], "bad_quality": snapshot["bad_quality"],
            "reconnects": snapshot["reconnects"], "clock_skew_ms": snapshot["clock_skew_ms"],
            "buffered": buffered.get(f"{connector.site.code}/{connector.name}", 0), "heartbeat_at": now,
        }
        if snapshot.get("last_error"):
            fields["last_error"] = snapshot["last_error"]
            fields["last_error_at"] = snapshot["last_error_at"]
        ConnectorStatus.objects.filter(connector=connector).update(**fields)


# --- staleness -------------------------------------------------------------------------------------------------
def _stale_tag(connector: Connector, tag: TagMapping, since: datetime) -> StaleTag:
    return StaleTag(
        connector_id=connector.pk, connector=connector.name, tag_id=tag.pk, source_ref=tag.source_ref,
        characteristic_id=tag.characteristic_id, characteristic=tag.characteristic.code,
        equipment_id=tag.characteristic.equipment_id, last_value_at=tag.last_value_at,
        expected_period_s=tag.characteristic.update_period_s or 0.0, stale_since=since,
    )


def check_staleness(now: datetime | None = None) -> list[StaleTag]:
    """Mark tags with no update within 3 × their characteristic's update period as stale and send `data_stale`
    once per newly stale tag (grouped by site). A tag that never reported counts from its last configuration change."""
    now = now or datetime.now(UTC)
    newly: dict[int, list[StaleTag]] = defaultdict(list)
    candidates = TagMapping.objects.select_related("connector", "characteristic").filter(
        enabled=True, connector__enabled=True, stale_since__isnull=True,
        characteristic__update_period_s__gt=0,
    )
    with transaction.atomic():
        for tag in candidates:
            period = tag.characteristic.update_period_s
            reference = tag.last_value_at or max(tag.updated_at, tag.connector.updated_at)
            if now - reference <= timedelta(seconds=STALE_FACTOR * period):
                continue
            updated = TagMapping.objects.filter(pk=tag.pk, stale_since__isnull=True).update(stale_since=now)
            if updated:
                newly[tag.connector.site_id].append(_stale_tag(tag.connector, tag, now))
        for site_id, tags in newly.items():
            transaction.on_commit(functools.partial(data_stale.send, sender=TagMapping, site_id=site_id, tags=tags))
    return [tag for tags in newly.values() for tag in tags]


# --- the runner's database side -------------------------------------------------------------------------------
def _fresh_connection(fn):
    """The runner calls these from worker threads: drop broken/expired connections before and after errors, so a
    database outage heals by itself once PostgreSQL is back."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        except Exception:
            connection.close()
            raise

    return wrapper


class DjangoRunnerBackend:
    """RunnerBackend on the database. `deliver` stores in-process when Celery runs eagerly (embedded default),
    else sends the ingest task and reports the batch confirmed once the database has it (resending, with the same
    idempotent batch id, if no confirmation arrives within `resend_after_s`)."""

    def __init__(self, group: str = "", *, resend_after_s: float = 30.0, confirm_wait_s: float = 10.0):
        # One thread for all database work of the runner: one connection, closed by close().
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runner-db")
        self.group = group
        self.resend_after_s = resend_after_s
        self.confirm_wait_s = confirm_wait_s
        self._sent_at: dict[str, float] = {}
        # Connectors by key, kept between batches (a lookup per batch was ~12 % of a runner's CPU at 10,000
        # values/s); forgotten whenever the runner reloads the specs, which it does exactly when the group's
        # configuration version changed (rename, site move, re-creation).
        self._connectors: dict[str, Connector] = {}

    @_fresh_connection
    def config_version(self) -> str:
        return config_version(self.group)

    def _connector(self, key: str) -> Connector:
        connector = self._connectors.get(key)
        if connector is None:
            connector = self._connectors[key] = connector_by_key(key)
        return connector

    @_fresh_connection
    def load_specs(self) -> list[ConnectorSpec]:
        self._connectors.clear()
        return load_specs(self.group)

    @_fresh_connection
    def deliver(self, batch: Batch) -> bool:
        connector = self._connector(batch.connector)
        if settings.CELERY_TASK_ALWAYS_EAGER:
            store_readings(batch.batch_id, batch.envelopes, connector=connector)
            return True
        if batch_confirmed(connector, batch.batch_id):
            self._sent_at.pop(batch.batch_id, None)
            return True
        sent = self._sent_at.get(batch.batch_id)
        if sent is None or time.monotonic() - sent > self.resend_after_s:
            from connectors.tasks import ingest_readings

            ingest_readings.apply_async(args=(batch.batch_id, batch.envelopes), kwargs={"connector_id": connector.pk})
            self._sent_at[batch.batch_id] = time.monotonic()
        deadline = time.monotonic() + self.confirm_wait_s
        while time.monotonic() < deadline:
            time.sleep(0.02)
            if batch_confirmed(connector, batch.batch_id):
                self._sent_at.pop(batch.batch_id, None)
                return True
        return False

    @_fresh_connection
    def save_status(self, snapshots: dict[int, dict], buffered: dict[str, int], runner: str) -> None:
        save_runner_status(snapshots, buffered, runner)

    def close(self) -> None:
        connections.close_all()


def run_periodic_jobs() -> None:
    """What Celery beat schedules in production, run by the runner itself in the embedded default: the staleness
    watchdog, the intermediate-table polls, the file-drop polls, SPC's closing of elapsed time windows and the alarms'
    escalation and shelving expiry. Each job runs even when one before it failed (a broken job must not stop the
    staleness watchdog or the other polls)."""
    from connectors.files.service import poll_all_file_drops
    from connectors.table.service import poll_all_tables
    from qms.alarm_tasks import escalate_overdue, unshelve_expired
    from spc.tasks import close_time_windows

    jobs = (check_staleness, poll_all_tables, poll_all_file_drops, close_time_windows, escalate_overdue,
            unshelve_expired)
    for job in jobs:
        try:
            job()
        except Exception:
            log.exception("periodic job %s failed", job.__name__)
