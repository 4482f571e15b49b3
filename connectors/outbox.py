"""The durable local outbox: readings are committed here (SQLite, WAL, synchronous=FULL) before the source is
acknowledged, and deleted only after the ingest of their batch is confirmed. No Django import.

Guarantees:
- `append` returns only after the fsync'd commit; each reading gets the next per-connector sequence number.
- `next_batch(connector)` returns the connector's oldest open batch again (same id, same readings) until it is
  confirmed; `next_batch(connector, after_seq=n)` returns the open batch after sequence n, or cuts the next one —
  so a runner may keep several batches of one connector in flight, each with a fixed id, and confirms them in
  order. A resend after a crash carries the same idempotent batch id, so the ingest stores it once.
- A batch is a range of sequence numbers (the `batches` table): cutting one writes one row, not one per reading;
  the readings after the last open batch's range are the unbatched ones. Confirming deletes the range.
- Batch ids are `<outbox epoch>:<connector>:<first seq>-<last seq>`; the epoch is a random id made when the file is
  created, so a deleted/recreated outbox can never reuse an id for different readings.

Thread-safety: one connection, guarded by a lock; callers in asyncio go through `AsyncOutbox` (one worker thread).
"""
from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import orjson

from connectors.envelope import Envelope

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (connector TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS readings (
    connector TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    batch_id TEXT,          -- unused since batches are sequence ranges (kept: files written before still open)
    PRIMARY KEY (connector, seq)
) WITHOUT ROWID;
DROP INDEX IF EXISTS readings_batch;
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    connector TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True, slots=True)
class Batch:
    batch_id: str
    connector: str
    first_seq: int
    last_seq: int
    envelopes: list[dict]   # Envelope.to_json() dicts, in sequence order
    attempts: int

    def __len__(self) -> int:
        return len(self.envelopes)


class Outbox:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves so each call is one transaction.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # fsync the WAL on every commit: survives power loss/SIGKILL
        self._db.executescript(SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()
        if row is None:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', ?)", (uuid.uuid4().hex[:12],))
            row = self._db.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()
        self.epoch = row[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writing ------------------------------------------------------------------------------------------------
    def append(self, envelopes: list[Envelope], *, numbered: bool = True) -> list[Envelope]:
        """Commit the envelopes durably; returns them with their sequence numbers (an empty list with
        `numbered=False`: the hot path, which does not need the copies)."""
        if not envelopes:
            return []
        out: list[Envelope] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                next_seq: dict[str, int] = {}
                rows = []
                for envelope in envelopes:
                    connector = envelope.connector
                    if connector not in next_seq:
                        found = self._db.execute(
                            "SELECT last_seq FROM sequences WHERE connector=?", (connector,)
                        ).fetchone()
                        next_seq[connector] = (found[0] if found else 0) + 1
                    seq = next_seq[connector]
                    next_seq[connector] = seq + 1
                    rows.append((connector, seq, _payload(envelope, seq)))
                    if numbered:
                        out.append(replace(envelope, seq=seq))
                self._db.executemany("INSERT INTO readings (connector, seq, payload) VALUES (?, ?, ?)", rows)
                self._db.executemany(
                    "INSERT INTO sequences (connector, last_seq) VALUES (?, ?) "
                    "ON CONFLICT(connector) DO UPDATE SET last_seq=excluded.last_seq",
                    [(connector, seq - 1) for connector, seq in next_seq.items()],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return out

    # --- flushing -----------------------------------------------------------------------------------------------
    def next_batch(self, connector: str, max_items: int = 5000, after_seq: int = 0) -> Batch | None:
        """The connector's oldest open batch after sequence `after_seq`, or a new one cut from the oldest unbatched
        readings; None when there is nothing after `after_seq`."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                batch = self._open_batch(connector, after_seq)
                if batch is None:
                    batch = self._cut_batch(connector, max_items)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return batch

    def _open_batch(self, connector: str, after_seq: int) -> Batch | None:
        row = self._db.execute(
            "SELECT batch_id, first_seq, last_seq, attempts FROM batches WHERE connector=? AND first_seq > ? "
            "ORDER BY first_seq LIMIT 1",
            (connector, after_seq),
        ).fetchone()
        if row is None:
            return None
        batch_id, first_seq, last_seq, attempts = row
        payloads = self._db.execute(
            "SELECT payload FROM readings WHERE connector=? AND seq BETWEEN ? AND ? ORDER BY seq",
            (connector, first_seq, last_seq),
        ).fetchall()
        return Batch(batch_id, connector, first_seq, last_seq, [orjson.loads(p) for (p,) in payloads], attempts)

    def _cut_batch(self, connector: str, max_items: int) -> Batch | None:
        batched_up_to = self._db.execute(
            "SELECT coalesce(max(last_seq), 0) FROM batches WHERE connector=?", (connector,)
        ).fetchone()[0]
        rows = self._db.execute(
            "SELECT seq, payload FROM readings WHERE connector=? AND seq > ? ORDER BY seq LIMIT ?",
            (connector, batched_up_to, max_items),
        ).fetchall()
        if not rows:
            return None
        first_seq, last_seq = rows[0][0], rows[-1][0]
        batch_id = f"{self.epoch}:{connector}:{first_seq}-{last_seq}"
        self._db.execute(
            "INSERT INTO batches (batch_id, connector, first_seq, last_seq, created_at) VALUES (?, ?, ?, ?, ?)",
            (batch_id, connector, first_seq, last_seq, datetime.now(UTC).isoformat()),
        )
        return Batch(batch_id, connector, first_seq, last_seq, [orjson.loads(p) for _seq, p in rows], 0)

    def confirm(self, batch_id: str) -> int:
        """The ingest stored (or knowingly rejected) the batch: delete it. Returns how many readings were removed."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                found = self._db.execute(
                    "SELECT connector, first_seq, last_seq FROM batches WHERE batch_id=?", (batch_id,)
                ).fetchone()
                removed = 0
                if found is not None:
                    removed = self._db.execute(
                        "DELETE FROM readings WHERE connector=? AND seq BETWEEN ? AND ?", found
                    ).rowcount
                    self._db.execute("DELETE FROM batches WHERE batch_id=?", (batch_id,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return removed

    def record_failure(self, batch_id: str, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE batches SET attempts = attempts + 1, last_error = ? WHERE batch_id = ?", (error[:2000], batch_id)
            )

    # --- inspection ---------------------------------------------------------------------------------------------
    def connectors_with_pending(self) -> list[str]:
        with self._lock:
            # Via the small sequences table + an index probe, not a DISTINCT scan over every buffered reading.
            return [row[0] for row in self._db.execute(
                "SELECT s.connector FROM sequences s WHERE EXISTS "
                "(SELECT 1 FROM readings r WHERE r.connector = s.connector) ORDER BY s.connector")]

    def pending_count(self, connector: str | None = None) -> int:
        with self._lock:
            if connector is None:
                return self._db.execute("SELECT count(*) FROM readings").fetchone()[0]
            return self._db.execute("SELECT count(*) FROM readings WHERE connector=?", (connector,)).fetchone()[0]

    def pending_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT connector, count(*) FROM readings GROUP BY connector").fetchall())

    def last_seq(self, connector: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT last_seq FROM sequences WHERE connector=?", (connector,)).fetchone()
            return row[0] if row else 0


def _payload(envelope: Envelope, seq: int) -> str:
    """The stored JSON: `Envelope.to_json()` with the sequence number, written by orjson (~10x json's speed);
    json for what orjson refuses (e.g. integers beyond 64 bits)."""
    payload = envelope.to_payload()
    payload["seq"] = seq
    try:
        return orjson.dumps(payload, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps({**envelope.to_json(), "seq": seq}, default=str)


class AsyncOutbox:
    """The outbox for asyncio code: every call runs on one dedicated thread so the event loop never blocks on fsync.
    It is also the runner's `ReadingSink`: `put` returns once the envelopes are committed."""

    def __init__(self, outbox: Outbox):
        self.outbox = outbox
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self.appended = 0

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def put(self, envelopes: list[Envelope], *, numbered: bool = True) -> list[Envelope]:
        result = await self._run(functools.partial(self.outbox.append, envelopes, numbered=numbered))
        self.appended += len(envelopes)
        return result

    async def next_batch(self, connector: str, max_items: int = 5000, after_seq: int = 0) -> Batch | None:
        return await self._run(self.outbox.next_batch, connector, max_items, after_seq)

    async def confirm(self, batch_id: str) -> int:
        return await self._run(self.outbox.confirm, batch_id)

    async def record_failure(self, batch_id: str, error: str) -> None:
        await self._run(self.outbox.record_failure, batch_id, error)

    async def connectors_with_pending(self) -> list[str]:
        return await self._run(self.outbox.connectors_with_pending)

    async def pending_counts(self) -> dict[str, int]:
        return await self._run(self.outbox.pending_counts)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.outbox.close()
