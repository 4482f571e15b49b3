"""Intermediate-table polling on real PostgreSQL, MariaDB and SQLite source tables: id + status column, ack after
store, late commits picked up exactly once, SKIP LOCKED between concurrent pollers, row problems reported."""
import os
import sqlite3
import uuid
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from connectors.files.rows import RowMapping
from connectors.table.poll import poll_table
from connectors.table.source import TableLayout
from tests.connectors.protocol_helpers import port_open, require_service

MAPPING = RowMapping.from_config({
    "ts_column": "measured_at", "timezone": "Asia/Shanghai", "lot_column": "lot_no",
    "characteristic_column": "item_code", "value_column": "item_value", "codes": {"T2": "IMM01.BARREL_Z2.TEMP"},
})


def pg_server():
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x"))
    return parts.hostname or "127.0.0.1", parts.port or 5432, parts.username or "postgres"


class Source:
    """A real source table in one of the three databases; `connect()` gives an independent connection."""

    def __init__(self, kind, tmp_path):
        self.kind, self.table = kind, f"qp_src_{uuid.uuid4().hex[:10]}"
        if kind == "postgresql":
            host, port, user = pg_server()
            require_service(port_open(host, port), "PostgreSQL")
            self.url = f"postgresql://{user}@{host}:{port}/postgres"
            ddl = (f"CREATE TABLE {self.table} (id SERIAL PRIMARY KEY, measured_at VARCHAR(40), lot_no VARCHAR(64), "
                   "item_code VARCHAR(32), item_value VARCHAR(32), qms_status INT NOT NULL DEFAULT 0)")
        elif kind == "mysql":
            require_service(port_open("127.0.0.1", 3306), "MariaDB/MySQL")
            self.url = "mysql://root@127.0.0.1:3306/test"
            ddl = (f"CREATE TABLE {self.table} (id INT AUTO_INCREMENT PRIMARY KEY, measured_at VARCHAR(40), "
                   "lot_no VARCHAR(64), item_code VARCHAR(32), item_value VARCHAR(32), "
                   "qms_status INT NOT NULL DEFAULT 0) ENGINE=InnoDB")
        else:
            self.url = f"sqlite:///{tmp_path / 'mes.db'}"
            ddl = (f"CREATE TABLE {self.table} (id INTEGER PRIMARY KEY AUTOINCREMENT, measured_at TEXT, lot_no TEXT, "
                   "item_code TEXT, item_value TEXT, qms_status INTEGER NOT NULL DEFAULT 0)")
        self.placeholder = "?" if kind == "sqlite" else "%s"
        self.execute(ddl)

    def connect(self):
        if self.kind == "postgresql":
            import psycopg2

            host, port, user = pg_server()
            return psycopg2.connect(host=host, port=port, user=user, dbname="postgres")
        if self.kind == "mysql":
            import pymysql

            return pymysql.connect(host="127.0.0.1", user="root", password="", database="test", autocommit=False)
        return sqlite3.connect(self.url.removeprefix("sqlite:///"))

    def execute(self, sql, params=()):
        connection = self.connect()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, params)
            rows = cursor.fetchall() if cursor.description else None
            connection.commit()
            return rows
        finally:
            connection.close()

    def insert_sql(self):
        p = self.placeholder
        return (f"INSERT INTO {self.table} (measured_at, lot_no, item_code, item_value) VALUES ({p}, {p}, {p}, {p})")

    def insert(self, *rows):
        for row in rows:
            self.execute(self.insert_sql(), row)

    def statuses(self):
        return dict(self.execute(f"SELECT id, qms_status FROM {self.table} ORDER BY id"))

    def drop(self):
        self.execute(f"DROP TABLE {self.table}")


@pytest.fixture(params=["postgresql", "mysql", "sqlite"])
def source(request, tmp_path):
    src = Source(request.param, tmp_path)
    yield src
    src.drop()


@pytest.fixture(params=["postgresql", "mysql"])
def locking_source(request, tmp_path):
    src = Source(request.param, tmp_path)
    yield src
    src.drop()


class FakeStore:
    """The QMS store's contract: idempotent per batch id and unique per (characteristic, ts)."""

    def __init__(self, fail_after_store=0):
        self.points, self.batches, self.fail_after_store = {}, set(), fail_after_store

    def __call__(self, batch_id, envelopes):
        self.batches.add(batch_id)
        stored = duplicates = 0
        for e in envelopes:
            key = (e.characteristic, e.source_ts)
            if key in self.points:
                duplicates += 1
            else:
                self.points[key] = (e.value, e.lot)
                stored += 1
        if self.fail_after_store:
            self.fail_after_store -= 1
            raise ConnectionError("source connection lost before the ack")
        return SimpleNamespace(stored=stored, duplicates=duplicates, rejected=0)


def poll(src, store, **options):
    layout = TableLayout(table=src.table, error_value=options.pop("error_value", None))
    return poll_table(connector_key="S1/mes-table", url=src.url, layout=layout, mapping=MAPPING, store=store, **options)


def row(second, value="231.5", item="T2"):
    return (f"2026-11-28 08:00:{second:02d}", "L1", item, value)


def test_pending_rows_are_stored_then_acknowledged(source):
    source.insert(row(1), row(2, "232.0"))
    store = FakeStore()
    result = poll(source, store)
    assert (result.claimed, result.stored, result.acknowledged) == (2, 2, 2)
    assert sorted(v for v, _lot in store.points.values()) == [231.5, 232.0]
    assert set(source.statuses().values()) == {1}
    assert poll(source, store).claimed == 0


def test_rows_stay_pending_when_the_store_fails(source):
    source.insert(row(1))

    def broken_store(batch_id, envelopes):
        raise ConnectionError("QMS database down")

    with pytest.raises(ConnectionError):
        poll(source, broken_store)
    assert set(source.statuses().values()) == {0}
    store = FakeStore()
    assert poll(source, store).stored == 1


def test_a_lost_ack_repeats_the_poll_and_the_rows_are_stored_once(source):
    source.insert(row(1), row(2))
    store = FakeStore(fail_after_store=1)
    with pytest.raises(ConnectionError):
        poll(source, store)
    assert set(source.statuses().values()) == {0}
    result = poll(source, store)
    assert (result.claimed, result.stored, result.duplicates) == (2, 0, 2)
    assert len(store.points) == 2
    assert set(source.statuses().values()) == {1}


def test_large_backlogs_are_drained_in_batches(source):
    source.insert(*[row(n % 60, str(200 + n)) for n in range(7)])
    store = FakeStore()
    result = poll(source, store, batch_size=3)
    assert (result.batches, result.claimed) == (3, 7)


def test_row_problems_name_the_row_and_column_and_the_row_is_marked(source):
    source.insert(row(1, "n/a"), row(2), ("yesterday", "L1", "T2", "1.0"))
    store = FakeStore()
    result = poll(source, store, error_value=9)
    ids = sorted(source.statuses())
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (ids[0], "item_value", "not a number: 'n/a'"),
        (ids[2], "measured_at", "not a timestamp: 'yesterday'"),
    ]
    assert source.statuses() == {ids[0]: 9, ids[1]: 1, ids[2]: 9}


def test_a_row_committed_late_with_a_lower_id_is_still_picked_up_exactly_once(locking_source):
    src = locking_source
    slow = src.connect()                      # transaction 1: takes the lower id, commits last
    cursor = slow.cursor()
    cursor.execute(src.insert_sql(), row(1, "230.0"))
    src.insert(row(2, "231.0"))               # transaction 2: higher id, committed at once
    store = FakeStore()
    first = poll(src, store)
    assert first.claimed == 1
    slow.commit()
    slow.close()
    second = poll(src, store)
    assert second.claimed == 1
    assert sorted(v for v, _lot in store.points.values()) == [230.0, 231.0]
    ids = sorted(src.statuses())
    assert ids[0] < ids[1] and set(src.statuses().values()) == {1}
    assert poll(src, store).claimed == 0


def test_concurrent_pollers_skip_each_others_locked_rows(locking_source):
    src = locking_source
    src.insert(*[row(n, str(230 + n)) for n in range(4)])
    store = FakeStore()
    inner = {}

    def second_poller(claimed_rows):
        inner["claimed"] = [r["id"] for r in claimed_rows]
        inner["result"] = poll(src, store, batch_size=2, max_batches=1)

    outer = poll(src, store, batch_size=2, max_batches=1, on_claimed=second_poller)
    assert outer.claimed == inner["result"].claimed == 2
    assert len(store.points) == 4
    assert set(src.statuses().values()) == {1}


@pytest.mark.parametrize("version,expected", [
    ("8.0.36", True), ("5.7.44-log", False), ("5.5.5-10.11.19-MariaDB-0+deb12u1", True),
    ("10.5.2-MariaDB", False), ("11.4.2-MariaDB", True),
])
def test_skip_locked_is_used_where_the_server_has_it(version, expected):
    from connectors.table.source import mysql_has_skip_locked

    assert mysql_has_skip_locked(version) is expected
