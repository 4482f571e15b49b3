"""Writing validated measurements in bulk: stored once per (characteristic, ts, source), whatever races.

PostgreSQL: COPY into a temporary staging table, then one INSERT … SELECT … ON CONFLICT DO NOTHING; RETURNING
(joined back to the staging rows) says which items were new. SQLite: multi-row INSERT … ON CONFLICT DO NOTHING
RETURNING in chunks. Either way the caller's transaction holds the rows; the `measurements_stored` seam is sent
only after it commits.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db import connection, transaction

from qms.ingest import Accepted
from qms.models import Measurement
from qms.seams import StoredPoint, measurements_stored

logger = logging.getLogger(__name__)

_SQLITE_CHUNK = 500   # 9 parameters a row stays far below SQLite's variable limit
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COLUMNS = "characteristic_id, ts, value, quality, lot_code, equipment_id, source, batch_id, received_at"


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    points: list[StoredPoint]       # newly stored, ordered by (characteristic_id, ts)
    duplicate_indices: list[int]    # accepted items whose (characteristic, ts, source) was already stored


def store_accepted(site_id: int, rows: list[Accepted], *, source: str, batch_id: int | None,
                   received_at: datetime) -> StoreOutcome:
    """Insert the rows (unique by (characteristic_id, ts) among themselves) inside the current transaction and
    schedule `measurements_stored` for after commit. Rows already stored for this source are reported back."""
    if not rows:
        return StoreOutcome([], [])
    writer = _insert_postgres if connection.vendor == "postgresql" else _insert_sqlite
    with transaction.atomic():
        ids_by_index = writer(rows, source=source, batch_id=batch_id, received_at=received_at)
    points = [
        StoredPoint(ids_by_index[row.index], row.characteristic_id, row.ts, row.value, row.quality, row.lot_code,
                    row.equipment_id)
        for row in rows if row.index in ids_by_index
    ]
    points.sort(key=lambda point: (point.characteristic_id, point.ts))
    duplicates = [row.index for row in rows if row.index not in ids_by_index]
    if points:
        transaction.on_commit(partial(announce_stored, site_id, points))
    return StoreOutcome(points, duplicates)


def announce_stored(site_id: int, points: list[StoredPoint]) -> None:
    """Hand new points downstream. A failing consumer is logged, never turned into a failed ingest: the points
    are committed and the client must not be told otherwise (it would retry, harmlessly but pointlessly)."""
    for receiver, outcome in measurements_stored.send_robust(sender=Measurement, site_id=site_id, points=points):
        if isinstance(outcome, Exception):
            logger.error("measurements_stored receiver %r failed for %d points", receiver, len(points),
                         exc_info=outcome)


def _copy_text(rows: list[Accepted]) -> str:
    lines = []
    append = lines.append
    for row in rows:
        lot = row.lot_code.translate(_COPY_ESCAPES) if row.lot_code else ""
        equipment = "\\N" if row.equipment_id is None else row.equipment_id
        append(f"{row.index}\t{row.characteristic_id}\t{row.ts.isoformat()}\t{row.value!r}\t{row.quality}\t"
               f"{lot}\t{equipment}\n")
    return "".join(lines)


def _insert_postgres(rows, *, source, batch_id, received_at) -> dict[int, int]:
    table = connection.ops.quote_name(Measurement._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE qp_ingest_stage (idx integer, characteristic_id bigint, ts timestamptz, "
            "value double precision, quality smallint, lot_code text, equipment_id bigint) ON COMMIT DROP"
        )
        cursor.copy_expert("COPY qp_ingest_stage FROM STDIN", io.StringIO(_copy_text(rows)))
        # ORDER BY: concurrent batches take row locks in the same order, so overlapping batches wait, not deadlock.
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
