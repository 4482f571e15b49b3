"""Writing validated measurements in bulk: stored once per (characteristic, ts, source), whatever races.

PostgreSQL, two paths inside the caller's transaction:
- optimistic: a batch none of whose points exists yet (the usual case) is COPYed straight into the table, in a
  savepoint — the speed of a raw COPY. The unique index refuses any point already stored (a client's retry, an
  overlapping batch, committed or still in flight); the savepoint is rolled back and the batch takes
- the staged path: COPY into a temporary table, then one INSERT … SELECT … ON CONFLICT DO NOTHING, whose RETURNING
  (joined back to the staging rows) says which items were new.
Rows go in sorted by (characteristic, ts) on both paths, so concurrent batches take their index locks in the same
order and wait for each other instead of deadlocking.
SQLite: multi-row INSERT … ON CONFLICT DO NOTHING RETURNING in chunks.
The `measurements_stored` seam is sent only after the caller's transaction commits.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from operator import itemgetter

from django.db import IntegrityError, OperationalError, connection, transaction

from qms.ingest import Accepted
from qms.models import Measurement
from qms.seams import StoredPoint, measurements_stored

logger = logging.getLogger(__name__)

_SQLITE_CHUNK = 500   # 9 parameters a row stays far below SQLite's variable limit
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_NULL = "\\N"
_COLUMNS = "characteristic_id, ts, value, quality, lot_code, equipment_id, source, batch_id, received_at"
_LOCK_ORDER = itemgetter(1, 2)   # (characteristic_id, ts) of an Accepted row
_DEADLOCK = "40P01"


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    ids_by_index: dict[int, int]    # batch index → id of the newly stored measurement
    duplicate_indices: list[int]    # accepted items whose (characteristic, ts, source) was already stored

    @property
    def stored(self) -> int:
        return len(self.ids_by_index)


def store_accepted(site_id: int, rows: list[Accepted], *, source: str, batch_id: int | None,
                   received_at: datetime) -> StoreOutcome:
    """Insert the rows (unique by (characteristic_id, ts) among themselves) inside the current transaction and
    schedule `measurements_stored` for after commit. Rows already stored for this source are reported back."""
    if not rows:
        return StoreOutcome({}, [])
    # One order for the lock order of the inserts and for the seam's points.
    rows = sorted(rows, key=_LOCK_ORDER)
    writer = _insert_postgres if connection.vendor == "postgresql" else _insert_sqlite
    with transaction.atomic():
        ids_by_index = writer(rows, source=source, batch_id=batch_id, received_at=received_at)
    duplicates = [] if len(ids_by_index) == len(rows) else sorted(
        row.index for row in rows if row.index not in ids_by_index)
    # StoredPoint objects cost about as much as validating the item: build them only when someone listens.
    if ids_by_index and measurements_stored.has_listeners(Measurement):
        get_id = ids_by_index.get
        make = StoredPoint._make
        points = [
            make((measurement_id, characteristic_id, ts, value, quality, lot_code, equipment_id))
            for index, characteristic_id, ts, value, quality, lot_code, equipment_id in rows
            if (measurement_id := get_id(index)) is not None
        ]
        transaction.on_commit(partial(announce_stored, site_id, points, batch_id))
    return StoreOutcome(ids_by_index, duplicates)


def announce_stored(site_id: int, points: list[StoredPoint], batch_id: int | None = None) -> None:
    """Hand new points downstream. A failing consumer is logged, never turned into a failed ingest: the points
    are committed and the client must not be told otherwise (it would retry, harmlessly but pointlessly).

    `batch_id` (the IngestBatch, None for a dead-letter replay) rides along so that a consumer which defers its
    work to a task can hand over that id instead of serialising every point in the request."""
    responses = measurements_stored.send_robust(sender=Measurement, site_id=site_id, points=points, batch_id=batch_id)
    for receiver, outcome in responses:
        if isinstance(outcome, Exception):
            logger.error("measurements_stored receiver %r failed for %d points", receiver, len(points),
                         exc_info=outcome)


def _copy_text(rows: list[Accepted], *, with_index: bool, suffix: str = "") -> str:
    """Rows in COPY text format, optionally led by the batch index and followed by constant columns. Lot codes
    repeat, so their escaping is computed once per distinct code."""
    escaped_lots: dict[str, str] = {}
    lines = []
    append = lines.append
    for index, characteristic_id, ts, value, quality, lot, equipment_id in rows:
        if lot:
            escaped = escaped_lots.get(lot)
            if escaped is None:
                escaped = escaped_lots[lot] = lot.translate(_COPY_ESCAPES)
            lot = escaped
        lead = f"{index}\t" if with_index else ""
        append(f"{lead}{characteristic_id}\t{ts.isoformat()}\t{value!r}\t{quality}\t{lot}\t"
               f"{_COPY_NULL if equipment_id is None else equipment_id}{suffix}\n")
    return "".join(lines)


def _insert_postgres(rows, *, source, batch_id, received_at) -> dict[int, int]:
    """`rows` sorted by (characteristic_id, ts)."""
    if batch_id is not None:
        ids_by_index = _copy_into_table(rows, source=source, batch_id=batch_id, received_at=received_at)
        if ids_by_index is not None:
            return ids_by_index
    return _insert_staged(rows, source=source, batch_id=batch_id, received_at=received_at)


def _copy_into_table(rows, *, source, batch_id, received_at) -> dict[int, int] | None:
    """COPY the rows straight into the measurement table; None when some point was already stored."""
    table = connection.ops.quote_name(Measurement._meta.db_table)
    suffix = f"\t{source.translate(_COPY_ESCAPES)}\t{batch_id}\t{received_at.isoformat()}"
    text = _copy_text(rows, with_index=False, suffix=suffix)
    try:
        with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
            cursor.copy_expert(f"COPY {table} ({_COLUMNS}) FROM STDIN", io.StringIO(text))
    except IntegrityError:
        return None
    except OperationalError as error:
        if getattr(error.__cause__, "pgcode", None) == _DEADLOCK:
            return None
        raise
    # The identity default hands out increasing ids in COPY order, and the batch id is this transaction's own:
    # the batch's ids in ascending order line up with the rows.
    with connection.cursor() as cursor:
        # One array value: a third of the client-side cost of 5,000 one-column rows.
        cursor.execute(f"SELECT array_agg(id ORDER BY id) FROM {table} WHERE batch_id = %s", [batch_id])
        ids = cursor.fetchone()[0] or []
    return {row.index: measurement_id for row, measurement_id in zip(rows, ids, strict=True)}


def _insert_staged(rows, *, source, batch_id, received_at) -> dict[int, int]:
    table = connection.ops.quote_name(Measurement._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE qp_ingest_stage (idx integer, characteristic_id bigint, ts timestamptz, "
            "value double precision, quality smallint, lot_code text, equipment_id bigint) ON COMMIT DROP"
        )
        cursor.copy_expert("COPY qp_ingest_stage FROM STDIN", io.StringIO(_copy_text(rows, with_index=True)))
        cursor.execute(
            f"WITH inserted AS ("
            f" INSERT INTO {table} ({_COLUMNS})"
            f" SELECT characteristic_id, ts, value, quality, lot_code, equipment_id, %s, %s, %s"
            f" FROM qp_ingest_stage ORDER BY characteristic_id, ts"
            f" ON CONFLICT (characteristic_id, ts, source) DO NOTHING"
            f" RETURNING id, characteristic_id, ts)"
            f" SELECT stage.idx, inserted.id FROM inserted"
            f" JOIN qp_ingest_stage stage USING (characteristic_id, ts)",
            [source, batch_id, received_at],
        )
        ids_by_index = dict(cursor.fetchall())
        # Dropped now, not only at commit: a second store in the same transaction (a replay) creates it again.
        cursor.execute("DROP TABLE qp_ingest_stage")
    return ids_by_index


def _insert_sqlite(rows, *, source, batch_id, received_at) -> dict[int, int]:
    table = connection.ops.quote_name(Measurement._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(received_at)
    ids_by_index: dict[int, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _SQLITE_CHUNK):
            chunk = rows[start:start + _SQLITE_CHUNK]
            index_by_key = {}
            params: list = []
            for row in chunk:
                ts = adapt(row.ts)
                index_by_key[(row.characteristic_id, ts)] = row.index
                params += [row.characteristic_id, ts, row.value, row.quality, row.lot_code, row.equipment_id,
                           source, batch_id, received]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} ({_COLUMNS}) VALUES {values}"
                f" ON CONFLICT (characteristic_id, ts, source) DO NOTHING RETURNING id, characteristic_id, ts",
                params,
            )
            for measurement_id, characteristic_id, ts in cursor.fetchall():
                key = ts if isinstance(ts, str) else str(ts.replace(tzinfo=None))
                ids_by_index[index_by_key[(characteristic_id, key)]] = measurement_id
    return ids_by_index
