"""PostgreSQL triggers that make the audit trail append-only below the ORM (raw SQL, QuerySet.update/delete).

- qms_auditentry: any UPDATE or DELETE raises.
- qms_auditchainhead: the head may only move forward (its seq grows) and may not be deleted.

TRUNCATE is deliberately not blocked: `manage.py flush` and test teardown rely on it, and whoever may TRUNCATE may
also disable triggers. Such wholesale removal is caught by verifying against an anchor recorded outside the database
(`verify_audit_chain --expect SEQ:HASH`). Used by migration 0002_audit_append_only and by tests (which run without
migrations).
"""
from __future__ import annotations

INSTALL = [
    """
    CREATE OR REPLACE FUNCTION qms_audit_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'qms_auditentry is append-only: % of entry #% refused', TG_OP, OLD.seq
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql;
    """,
    "DROP TRIGGER IF EXISTS qms_auditentry_append_only ON qms_auditentry;",
    """
    CREATE TRIGGER qms_auditentry_append_only
        BEFORE UPDATE OR DELETE ON qms_auditentry
        FOR EACH ROW EXECUTE FUNCTION qms_audit_refuse_change();
    """,
    """
    CREATE OR REPLACE FUNCTION qms_audit_head_forward_only() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'qms_auditchainhead cannot be deleted' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.last_seq <= OLD.last_seq THEN
            RAISE EXCEPTION 'qms_auditchainhead may only move forward (#% -> #%)', OLD.last_seq, NEW.last_seq
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    "DROP TRIGGER IF EXISTS qms_auditchainhead_forward_only ON qms_auditchainhead;",
    """
    CREATE TRIGGER qms_auditchainhead_forward_only
        BEFORE UPDATE OR DELETE ON qms_auditchainhead
        FOR EACH ROW EXECUTE FUNCTION qms_audit_head_forward_only();
    """,
]

UNINSTALL = [
    "DROP TRIGGER IF EXISTS qms_auditentry_append_only ON qms_auditentry;",
    "DROP TRIGGER IF EXISTS qms_auditchainhead_forward_only ON qms_auditchainhead;",
    "DROP FUNCTION IF EXISTS qms_audit_refuse_change();",
    "DROP FUNCTION IF EXISTS qms_audit_head_forward_only();",
]


def _execute(connection, statements: list[str]) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite (the embedded default) relies on the model-level guard only
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def install_append_only_triggers(connection) -> None:
    _execute(connection, INSTALL)


def uninstall_append_only_triggers(connection) -> None:
    _execute(connection, UNINSTALL)
