"""The hash-chained audit trail: values round-trip, tampering is detected, appends never fork, the trail is
append-only below the ORM, and `verify_audit_chain` reports what it finds."""
import datetime as dt
import decimal
import threading
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qms.audit.chain import chain_head, record_audit, verify_chain
from qms.models import AuditChainHead, AuditEntry
from tests.audit_helpers import append_only_triggers, as_dba  # noqa: F401  (append_only_triggers: a fixture)


def _append(count: int, **kwargs) -> list[AuditEntry]:
    return [
        record_audit(action="update", model="qms.Characteristic", object_pk=i, object_repr=f"C{i}",
                     changes={"usl": [i, i + 1]}, **kwargs)
        for i in range(count)
    ]


def _problems() -> list[str]:
    return [f"#{p.seq}: {p.problem}" for p in verify_chain()[1]]


# --- values round-trip: what verify re-reads hashes like what was recorded ------------------------------------------

@pytest.mark.django_db
def test_intact_chain_verifies():
    _append(5)
    assert verify_chain() == (5, [])


@pytest.mark.django_db
def test_awkward_values_verify_after_reread():
    record_audit(
        action="update", model="qms.Characteristic", object_pk=uuid.UUID(int=7), object_repr="温度 Z2",
        changes={
            "float": [0.1 + 0.2, 1e-7], "negative_zero": [-0.0, 0.0], "nan": [float("nan"), float("inf")],
            "decimal": [decimal.Decimal("1.50"), decimal.Decimal("-0.000")],
            "when": [dt.datetime(2026, 11, 24, 8, 0, 0, 123456, tzinfo=dt.UTC), dt.date(2026, 11, 24)],
            "uuid": [uuid.UUID(int=1), None], "nul": ["a\x00b", ""], "big": [2**70, -(2**63)],
            "set": [{3, 1, 2}, frozenset()], "bytes": [b"\x00\xff", None], "duration": [dt.timedelta(seconds=1.5), None],
        },
        reason="naïve → 原因",
    )
    assert verify_chain() == (1, [])


@pytest.mark.django_db
def test_stored_changes_keep_full_precision():
    entry = record_audit(action="update", model="m", object_pk=1,
                         changes={"ts": [None, dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)],
                                  "value": [None, decimal.Decimal("231.25")]})
    stored = AuditEntry.objects.get(pk=entry.pk).changes
    assert stored == {"ts": [None, "2026-01-02T03:04:05.678901Z"], "value": [None, "231.25"]}


json_leaves = (
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats(allow_nan=True)
    | st.text(max_size=20) | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.datetimes(timezones=st.just(dt.UTC)) | st.uuids()
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.text(max_size=10), json_values, max_size=5), reason=st.text(max_size=30))
def test_any_changes_hash_identically_after_reread(changes, reason):
    """Property: whatever a receiver hands over, the entry re-read from the database verifies."""
    entry = record_audit(action="update", model="m", object_pk="x", changes=changes, reason=reason)
    from qms.audit.canonical import entry_hash, entry_payload

    row = AuditEntry.objects.filter(pk=entry.pk).values().get()
    assert entry_hash(row["prev_hash"], entry_payload(row)) == row["hash"]


# --- tamper detection (a DBA with the triggers switched off) ---------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.usefixtures("append_only_triggers")
def test_altered_content_is_detected():
    _append(4)
    with as_dba() as cursor:
        cursor.execute("UPDATE qms_auditentry SET reason = 'nothing to see' WHERE seq = 2")
    assert _problems() == ["#2: content does not match its hash (entry was altered)"]


@pytest.mark.django_db
@pytest.mark.usefixtures("append_only_triggers")
def test_altered_changes_json_is_detected():
    _append(3)
    with as_dba() as cursor:
        cursor.execute("""UPDATE qms_auditentry SET changes = '{"usl": [0, 99]}' WHERE seq = 1""")
    assert "#1: content does not match its hash (entry was altered)" in _problems()


@pytest.mark.django_db
@pytest.mark.usefixtures("append_only_triggers")
def test_altered_actor_attribution_is_detected(django_user_model):
    user = django_user_model.objects.create(username="mallory")
    _append(2)
    with as_dba() as cursor:
        cursor.execute("UPDATE qms_auditentry SET actor_user_id = %s WHERE seq = %s", [user.pk, chain_head()[0]])
    assert _problems() == [f"#{chain_head()[0]}: content does not match its hash (entry was altered)"]


@pytest.mark.django_db
@pytest.mark.usefixtures("append_only_triggers")
def test_deleted_entry_is_detected():
    _append(5)
    with as_dba() as cursor:
        cursor.execute("DELETE FROM qms_auditentry WHERE seq = 3")
    assert _problems() == [
        "#4: entry #3 is missing",
        "#4: link to the previous entry is broken (prev_hash differs)",
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("append_only_triggers")
def test_deleted_newest_entries_are_detected():
    _append(5)
    with as_dba() as cursor:
        cursor.execute("DELETE FROM qms_auditentry WHERE seq >= 4")
    assert _problems() == ["#5: the newest entries #4–#5 were removed (chain head is ahead)"]


@pytest.mark.django_db
@pytest.mark.usefixtures("append_only_triggers")
def test_reordered_entries_are_detected():
    _append(4)
    with as_dba() as cursor:
        # Swap the content of #2 and #3 (hashes stay with their rows): the links no longer follow.
        cursor.execute("UPDATE qms_auditentry SET seq = -2 WHERE seq = 2")
        cursor.execute("UPDATE qms_auditentry SET seq = 2 WHERE seq = 3")
        cursor.execute("UPDATE qms_auditentry SET seq = 3 WHERE seq = -2")
    problems = _problems()
    assert "#2: link to the previous entry is broken (prev_hash differs)" in problems
    assert "#3: link to the previous entry is broken (prev_hash differs)" in problems


@pytest.mark.django_db
@pytest.mark.usefixtures("append_only_triggers")
def test_edited_prev_hash_is_detected():
    entries = _append(3)
    with as_dba() as cursor:
        cursor.execute("UPDATE qms_auditentry SET prev_hash = %s WHERE seq = 3", [entries[0].hash])
    assert _problems() == [
        "#3: link to the previous entry is broken (prev_hash differs)",
        "#3: content does not match its hash (entry was altered)",
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("append_only_triggers")
def test_rewritten_tail_with_rewound_head_needs_an_anchor():
    _append(5)
    anchor_seq, anchor_hash = chain_head()
    with as_dba() as cursor:
        cursor.execute("DELETE FROM qms_auditentry WHERE seq >= 4")
        cursor.execute("UPDATE qms_auditchainhead SET last_seq = 3, last_hash = (SELECT hash FROM qms_auditentry "
                       "WHERE seq = 3)")
    assert verify_chain()[1] == []  # the chain alone cannot see a consistent truncation …
    _checked, problems = verify_chain(anchors={anchor_seq: anchor_hash})
    assert [p.problem for p in problems] == ["anchored entry is gone (chain was truncated)"]  # … an anchor can


# --- append-only below the ORM (PostgreSQL triggers) ------------------------------------------------------------------

def test_model_refuses_update_and_delete(db):
    entry = _append(1)[0]
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


@pytest.mark.postgres
@pytest.mark.parametrize("statement", ["UPDATE qms_auditentry SET reason = 'x'", "DELETE FROM qms_auditentry"])
@pytest.mark.usefixtures("append_only_triggers")
def test_trigger_refuses_raw_update_and_delete(statement):
    _append(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert verify_chain() == (2, [])


@pytest.mark.postgres
@pytest.mark.usefixtures("append_only_triggers")
def test_trigger_refuses_queryset_update():
    _append(1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.all().update(reason="rewritten")


@pytest.mark.postgres
@pytest.mark.usefixtures("append_only_triggers")
def test_trigger_keeps_the_chain_head_moving_forward():
    _append(3)
    with pytest.raises(DatabaseError, match="forward"), transaction.atomic():
        AuditChainHead.objects.update(last_seq=1)
    with pytest.raises(DatabaseError, match="cannot be deleted"), transaction.atomic():
        AuditChainHead.objects.all().delete()
    _append(1)  # appending still works with the triggers on
    assert verify_chain() == (4, [])


@pytest.mark.postgres
def test_migration_installs_the_same_triggers(db):
    from importlib import import_module

    migration = import_module("qms.migrations.0002_audit_append_only")
    migration.install(None, type("SchemaEditor", (), {"connection": connection})())
    _append(1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.all().delete()
    migration.uninstall(None, type("SchemaEditor", (), {"connection": connection})())
    with transaction.atomic():
        AuditEntry.objects.all().delete()  # raw delete works again once the triggers are gone
        transaction.set_rollback(True)


# --- concurrency: two transactions appending at once never fork the chain ------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_do_not_fork_the_chain():
    threads_count, per_thread = 4, 15
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def writer(n: int):
        try:
            barrier.wait()
            for i in range(per_thread):
                with transaction.atomic():
                    record_audit(action="update", model="m", object_pk=f"{n}-{i}", changes={"i": [None, i]})
        except BaseException as exc:  # noqa: B036 — reported to the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    total = threads_count * per_thread
    assert verify_chain() == (total, [])
    prev_hashes = list(AuditEntry.objects.values_list("prev_hash", flat=True))
    assert len(set(prev_hashes)) == total  # each entry extends a different predecessor: no fork
    assert sorted(AuditEntry.objects.values_list("seq", flat=True)) == list(range(1, total + 1))


# --- the command -----------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_verify_command_reports_an_intact_chain(capsys):
    _append(3)
    call_command("verify_audit_chain")
    out = capsys.readouterr().out
    seq, digest = chain_head()
    assert "Checked 3 audit entries." in out
    assert f"--expect {seq}:{digest}" in out


@pytest.mark.django_db
@pytest.mark.usefixtures("append_only_triggers")
def test_verify_command_fails_on_tampering_and_names_the_entry(capsys):
    _append(3)
    with as_dba() as cursor:
        cursor.execute("UPDATE qms_auditentry SET object_repr = 'forged' WHERE seq = 2")
    with pytest.raises(CommandError, match="FAILED: 1 problem"):
        call_command("verify_audit_chain")
    assert "#2: content does not match its hash" in capsys.readouterr().out


@pytest.mark.django_db
@pytest.mark.usefixtures("append_only_triggers")
def test_verify_command_exits_non_zero():
    _append(2)
    with as_dba() as cursor:
        cursor.execute("DELETE FROM qms_auditentry WHERE seq = 1")
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit_chain")
    assert failure.value.returncode != 0  # manage.py exits with this status


@pytest.mark.django_db
@pytest.mark.usefixtures("append_only_triggers")
def test_verify_command_checks_anchors():
    _append(2)
    seq, _digest = chain_head()
    with pytest.raises(CommandError, match="FAILED"):
        call_command("verify_audit_chain", expect=[f"{seq}:{'f' * 64}"])


@pytest.mark.django_db
def test_verify_command_rejects_a_malformed_anchor():
    with pytest.raises(CommandError, match="SEQ:HASH"):
        call_command("verify_audit_chain", expect=["12:nothex"])
