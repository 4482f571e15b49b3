"""One poll of an intermediate table: claim pending rows, store them in the QMS, then acknowledge them in the
source — in that order, inside one source transaction that holds the rows' locks.

- Ack after store: if the QMS store fails, the source transaction rolls back and the rows stay pending.
- If the ack (source commit) fails after the QMS stored the rows, the next poll claims the same rows again; the
  store is idempotent (batch id from the row ids, and measurement uniqueness), so they are stored once.
- Late commits: a row committed after higher ids were acknowledged is still pending, so it is claimed next time.
No Django import: the caller hands in `store(batch_id, envelopes) -> outcome with stored/duplicates/rejected`.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.envelope import Envelope
from connectors.files.rows import RowError, RowMapping, map_row

from .source import TableLayout, begin, claim_pending, connect, finish, mark, rollback

logger = logging.getLogger(__name__)


@dataclass
class TablePollResult:
    claimed: int = 0
    acknowledged: int = 0
    marked_error: int = 0
    readings: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    errors: list[RowError] = field(default_factory=list)   # row = the source row's id here, not a line number


def batch_id_for(connector_key: str, ids: list) -> str:
    digest = hashlib.sha256(repr(sorted(map(str, ids))).encode()).hexdigest()[:16]
    return f"table:{connector_key}:{ids[0]}-{ids[-1]}:{digest}"


def rows_to_envelopes(connector_key: str, layout: TableLayout, rows: list[dict], mapping: RowMapping,
                      received_ts: datetime) -> tuple[list[Envelope], list, list[RowError]]:
    """→ (envelopes, ids of rows with nothing usable, errors)."""
    envelopes, unusable, errors = [], [], []
    for row in rows:
        row_id = row[layout.id_column]
        mapped = map_row(row_id, row, mapping)
        errors.extend(mapped.errors)
        if not mapped.values:
            unusable.append(row_id)
            continue
        for value in mapped.values:
            raw = row.get(value.column)
            envelopes.append(Envelope(
                connector=connector_key, source_ref=f"{layout.table}#{row_id}/{value.column}",
                characteristic=value.characteristic, value=value.value,
                raw_value=raw if isinstance(raw, int | float | str) else value.value,   # JSON-safe: Decimal → number
                quality="good", source_ts=mapped.ts, server_ts=None, received_ts=received_ts, lot=mapped.lot,
                equipment=mapped.equipment, extra={"row_id": str(row_id)},
            ))
    return envelopes, unusable, errors


def poll_table(*, connector_key: str, url: str, layout: TableLayout, mapping: RowMapping, store: Callable,
               password: str | None = None, batch_size: int = 500, max_batches: int = 20,
               on_claimed: Callable[[list[dict]], None] | None = None) -> TablePollResult:
    """Drain up to `max_batches` × `batch_size` pending rows. `on_claimed` is a test seam (runs after the claim,
    before the store)."""
    result = TablePollResult()
    connection, dialect = connect(url, password)
    columns = sorted(mapping.columns())
    try:
        for _ in range(max_batches):
            begin(connection, dialect)
            try:
                rows = claim_pending(connection, dialect, layout, columns, batch_size)
                if not rows:
                    rollback(connection, dialect)
                    break
                if on_claimed:
                    on_claimed(rows)
                ids = [row[layout.id_column] for row in rows]
                envelopes, unusable, errors = rows_to_envelopes(connector_key, layout, rows, mapping, datetime.now(UTC))
                outcome = store(batch_id_for(connector_key, ids), envelopes) if envelopes else None
                unusable_set = set(unusable)
                if layout.error_value is not None:
                    result.marked_error += mark(connection, dialect, layout, unusable, layout.error_value)
                    done = [i for i in ids if i not in unusable_set]
                else:
                    done = ids
                result.acknowledged += mark(connection, dialect, layout, done, layout.done_value)
                finish(connection, dialect)
            except BaseException:
                rollback(connection, dialect)
                raise
            result.batches += 1
            result.claimed += len(rows)
            result.readings += len(envelopes)
            result.errors.extend(errors)
            if outcome is not None and getattr(outcome, "replayed", False):
                result.duplicates += len(envelopes)     # stored by an earlier poll whose ack was lost
            elif outcome is not None:
                result.stored += outcome.stored
                result.duplicates += outcome.duplicates
                result.rejected += outcome.rejected
            if len(rows) < batch_size:
                break
    finally:
        connection.close()
    if result.errors:
        logger.warning("%s: %d problem(s) in %s, first: %s", connector_key, len(result.errors), layout.table,
                       result.errors[0])
    return result
