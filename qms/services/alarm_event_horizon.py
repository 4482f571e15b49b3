"""The settled horizon of the alarm event log: the highest AlarmEvent id below which no event can still appear.

Why: PostgreSQL hands out sequence ids at INSERT, not at COMMIT. A transaction that took id 10 may commit after one
that took id 11; a reader paging with `after=<last id>` that saw 11 first would skip 10 for ever.

How (PostgreSQL): read the id sequence's last value H (every id ≤ H is handed out by now), then look which other
transactions hold the RowExclusiveLock on the event table — a writer takes it before its INSERT draws an id and keeps
it until it commits or rolls back. So every writer that may hold an id ≤ H and has not finished is in that list. Wait
(briefly) until they are gone: then every event with id ≤ H is committed or never will be, and a reader handing out
only ids ≤ H never skips one. Two statements in that order (sequence, then locks) — a writer starting between them
draws an id above H. The id sequence must not cache values per session (CACHE 1, Django's default for BigAutoField).

Other databases serialise their writers (SQLite), so ids commit in order there: no horizon is needed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from qms.models import AlarmEvent

DEFAULT_SETTLE_WAIT_S = 2.0
POLL_S = 0.02


@dataclass(frozen=True)
class Horizon:
    """`up_to`: hand out ids ≤ this (None: no bound needed). `settled`: False when writers holding ids ≤ the
    sequence value were still open after the wait — then nothing above the caller's cursor is safe yet."""

    up_to: int | None
    settled: bool


def settle_wait_s() -> float:
    return float(getattr(settings, "ALARM_EVENTS_SETTLE_WAIT_S", DEFAULT_SETTLE_WAIT_S))


def settled_event_horizon(*, wait_s: float | None = None) -> Horizon:
    """The id up to which the event log is complete; waits up to `wait_s` (default ALARM_EVENTS_SETTLE_WAIT_S) for
    writers still open. Call it outside a transaction or in READ COMMITTED: the caller's next query must see the
    writers' commits."""
    if connection.vendor != "postgresql":
        return Horizon(up_to=None, settled=True)
    wait_s = settle_wait_s() if wait_s is None else wait_s
    table = AlarmEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT last_value, is_called FROM {sequence}")  # name from the catalogue, quoted there
        last_value, is_called = cursor.fetchone()
        handed_out = last_value if is_called else last_value - 1
        writers = _open_writers(cursor, table, None)
        deadline = time.monotonic() + wait_s
        while writers and time.monotonic() < deadline:
            time.sleep(POLL_S)
            writers = _open_writers(cursor, table, writers)
    return Horizon(up_to=handed_out, settled=not writers)


def _open_writers(cursor, table: str, among: list[str] | None) -> list[str]:
    """Virtual transaction ids of the other sessions holding a write lock on the event table (of `among`, if given)."""
    sql = """
        SELECT DISTINCT virtualtransaction FROM pg_locks
        WHERE locktype = 'relation' AND relation = %s::regclass AND mode = 'RowExclusiveLock' AND granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND pid <> pg_backend_pid()
    """
    params: list = [table]
    if among is not None:
        sql += " AND virtualtransaction = ANY(%s)"
        params.append(among)
    cursor.execute(sql, params)
    return [row[0] for row in cursor.fetchall()]
