"""Helpers for tests that need the audit trail's PostgreSQL triggers or that simulate a DBA tampering with it.

Tests run with --nomigrations, so migration 0002's triggers are installed here from the same SQL (qms/audit/sql.py).
"""
import contextlib

import pytest
from django.db import connection

from qms.audit.sql import install_append_only_triggers, uninstall_append_only_triggers

_TABLES = ("qms_auditentry", "qms_auditchainhead")


def _flush_deferred_constraint_checks():
    # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED; PostgreSQL refuses ALTER TABLE on a table with
    # pending constraint events in the same transaction, so run them now.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.fixture
def append_only_triggers(db):
    install_append_only_triggers(connection)
    yield
    _flush_deferred_constraint_checks()
    uninstall_append_only_triggers(connection)


@contextlib.contextmanager
def as_dba():
    """Raw SQL with the append-only triggers switched off, as someone with table-owner rights could do."""
    _flush_deferred_constraint_checks()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in _TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                _flush_deferred_constraint_checks()
                for table in _TABLES:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
