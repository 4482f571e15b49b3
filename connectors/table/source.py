"""The external "intermediate table" (中间表) a legacy MES writes into: connecting by URL and claiming/acknowledging
rows by id + status column. DB-API only, no Django: the source is not the QMS database.

Why id + status and never a timestamp watermark: a row inserted by a transaction that commits late has an id (and a
timestamp) lower than rows already seen; a watermark skips it forever. A status column does not: every row stays
"pending" until acknowledged, whatever order the commits came in. The id orders the work and names the batch.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from connectors.translatable import TranslatableError, gettext_noop

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class SourceError(TranslatableError):
    """The source table cannot be reached or is not shaped as configured (a catalogue message: translatable.py)."""


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    placeholder: str
    quote: str
    skip_locked: bool     # FOR UPDATE SKIP LOCKED: concurrent pollers never take the same row


POSTGRES = Dialect("postgresql", "%s", '"', True)
MYSQL = Dialect("mysql", "%s", "`", True)       # MySQL ≥ 8.0 and MariaDB ≥ 10.6
MYSQL_OLD = Dialect("mysql", "%s", "`", False)  # older servers: plain FOR UPDATE (a second poller waits, still once)
SQLITE = Dialect("sqlite", "?", '"', False)     # one writer at a time: BEGIN IMMEDIATE serialises pollers instead


def mysql_has_skip_locked(version: str) -> bool:
    """'8.0.36' → True, '5.7.44' → False, '5.5.5-10.11.19-MariaDB-…' → True (MariaDB ≥ 10.6), '10.5.2-MariaDB' → False."""
    text = version.removeprefix("5.5.5-")      # MariaDB's replication-compatibility prefix
    numbers = []
    for part in text.split("-")[0].split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        numbers.append(int(digits) if digits else 0)
    major, minor = (numbers + [0, 0])[:2]
    if "mariadb" in version.lower():
        return (major, minor) >= (10, 6)
    return major >= 8


def quoted(dialect: Dialect, identifier: str) -> str:
    if not _IDENTIFIER.match(identifier or ""):
        raise SourceError(gettext_noop("not a plain column/table name: '%(name)s'"), name=identifier)
    return ".".join(f"{dialect.quote}{part}{dialect.quote}" for part in identifier.split("."))


def connect(url: str, password: str | None = None):
    """Open a DB-API connection (autocommit off) for a URL: postgresql://, mysql:// (or mariadb://), sqlite:///path."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    try:
        if scheme in ("postgresql", "postgres"):
            import psycopg2

            connection = psycopg2.connect(
                host=parts.hostname or "127.0.0.1", port=parts.port or 5432, dbname=parts.path.lstrip("/"),
                user=unquote(parts.username or "postgres"), password=password or unquote(parts.password or ""),
                connect_timeout=10,
            )
            return connection, POSTGRES
        if scheme in ("mysql", "mariadb"):
            import pymysql

            connection = pymysql.connect(
                host=parts.hostname or "127.0.0.1", port=parts.port or 3306, database=parts.path.lstrip("/"),
                user=unquote(parts.username or "root"), password=password or unquote(parts.password or ""),
                connect_timeout=10, read_timeout=60, write_timeout=60, autocommit=False, charset="utf8mb4",
            )
            return connection, (MYSQL if mysql_has_skip_locked(connection.get_server_info()) else MYSQL_OLD)
        if scheme == "sqlite":
            path = url.split("sqlite:///", 1)[1] if url.startswith("sqlite:///") else ""
            if not path:
                raise SourceError(gettext_noop(
                    "sqlite URL must look like sqlite:///relative/path.db or sqlite:////absolute/path.db"))
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves.
            return sqlite3.connect(path, timeout=30, isolation_level=None), SQLITE
    except SourceError:
        raise
    except Exception as exc:   # driver-specific connection errors: report them as what they are
        raise SourceError(gettext_noop("cannot connect to %(url)s: %(error)s"),
                          url=f"{parts.scheme}://{parts.hostname or ''}{parts.path}", error=exc) from exc
    raise SourceError(gettext_noop("unsupported database URL scheme '%(scheme)s' (postgresql, mysql, mariadb, sqlite)"),
                      scheme=parts.scheme)


@dataclass(frozen=True, slots=True)
class TableLayout:
    table: str
    id_column: str = "id"
    status_column: str = "qms_status"
    pending_value: object = 0
    done_value: object = 1
    error_value: object = None           # rows the QMS cannot use; None: marked done like the others


def begin(connection, dialect: Dialect) -> None:
    if dialect is SQLITE:
        connection.execute("BEGIN IMMEDIATE")


def claim_pending(connection, dialect: Dialect, layout: TableLayout, columns: list[str], limit: int) -> list[dict]:
    """Lock and return up to `limit` pending rows, lowest id first. Rows another poller holds are skipped, not waited
    for. Call inside a transaction (`begin`); it ends with `finish` or a rollback."""
    wanted = list(dict.fromkeys([layout.id_column, *columns]))
    select = ", ".join(quoted(dialect, c) for c in wanted)
    sql = (f"SELECT {select} FROM {quoted(dialect, layout.table)} "
           f"WHERE {quoted(dialect, layout.status_column)} = {dialect.placeholder} "
           f"ORDER BY {quoted(dialect, layout.id_column)} LIMIT {int(limit)}")
    if dialect.skip_locked:
        sql += " FOR UPDATE SKIP LOCKED"
    elif dialect is not SQLITE:
        sql += " FOR UPDATE"
    cursor = connection.cursor()
    try:
        cursor.execute(sql, (layout.pending_value,))
        rows = cursor.fetchall()
    except Exception as exc:
        raise SourceError(gettext_noop("cannot read %(table)s: %(error)s"), table=layout.table, error=exc) from exc
    finally:
        cursor.close()
    return [dict(zip(wanted, row, strict=True)) for row in rows]


def mark(connection, dialect: Dialect, layout: TableLayout, ids: list, value) -> int:
    if not ids:
        return 0
    marks = ", ".join([dialect.placeholder] * len(ids))
    sql = (f"UPDATE {quoted(dialect, layout.table)} SET {quoted(dialect, layout.status_column)} = {dialect.placeholder} "
           f"WHERE {quoted(dialect, layout.id_column)} IN ({marks}) "
           f"AND {quoted(dialect, layout.status_column)} = {dialect.placeholder}")
    cursor = connection.cursor()
    try:
        cursor.execute(sql, (value, *ids, layout.pending_value))
        return cursor.rowcount
    finally:
        cursor.close()


def finish(connection, dialect: Dialect) -> None:
    if dialect is SQLITE:
        connection.execute("COMMIT")
    else:
        connection.commit()


def rollback(connection, dialect: Dialect) -> None:
    try:
        if dialect is SQLITE:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        else:
            connection.rollback()
    except Exception:   # the connection may be gone: the source rolls back by itself then
        pass
