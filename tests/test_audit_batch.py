"""Batched appends to the audit chain (`audit_batch`): one head lock and one bulk insert per batch, yet the same chain
as appending one by one — verifiable, unforked, rolled back with the caller, accepted by the append-only triggers."""
import threading
import types

import pytest
from django.db import IntegrityError, connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from qms.audit.canonical import canonical_json, jsonable
from qms.audit.chain import audit_batch, chain_head, record_audit, verify_chain
from qms.models import AuditChainHead, AuditEntry
from tests.audit_helpers import append_only_triggers  # noqa: F401  (a fixture)
from tests.factories import CharacteristicFactory


def _record(pk, **kwargs) -> AuditEntry:
    return record_audit(action="update", model="qms.Characteristic", object_pk=pk, object_repr=f"C{pk}",
                        changes={"usl": [pk, pk + 1]}, reason="batch test", **kwargs)


@pytest.mark.django_db
def test_a_batch_appends_its_entries_in_order_and_the_chain_verifies():
    _record(0)
    with audit_batch():
        for pk in range(1, 6):
            _record(pk)
    _record(6)
    assert verify_chain() == (7, [])
    assert list(AuditEntry.objects.order_by("seq").values_list("object_pk", flat=True)) == [str(n) for n in range(7)]
    assert chain_head()[0] == 7


@pytest.mark.django_db
def test_entries_wait_for_the_end_of_the_batch_and_are_then_completed():
    with audit_batch():
        entry = _record(1)
        assert entry.seq is None and not AuditEntry.objects.exists()
    assert entry.seq == 1 and AuditEntry.objects.get(seq=1).hash == entry.hash


@pytest.mark.django_db
def test_an_exception_in_a_batch_writes_nothing_and_leaves_the_head_unchanged():
    _record(0)
    head_before = chain_head()
    with pytest.raises(RuntimeError), audit_batch():
        _record(1)
        _record(2)
        raise RuntimeError("import failed half-way")
    assert chain_head() == head_before
    assert AuditEntry.objects.count() == 1
    assert verify_chain() == (1, [])


@pytest.mark.django_db
def test_a_rolled_back_batch_inside_a_caller_transaction_writes_nothing():
    _record(0)
    head_before = chain_head()
    with pytest.raises(RuntimeError), transaction.atomic():
        with audit_batch():
            _record(1)
        assert AuditEntry.objects.count() == 2  # appended at the end of the batch, inside the caller's transaction
        raise RuntimeError("the caller rolls back")
    assert chain_head() == head_before
    assert AuditEntry.objects.count() == 1


@pytest.mark.django_db
def test_entries_of_a_rolled_back_savepoint_inside_a_batch_are_withdrawn():
    with audit_batch():
        _record(1)
        try:
            with transaction.atomic():
                _record(2)
                raise IntegrityError("this part failed and was caught")
        except IntegrityError:
            pass
        _record(3)
    assert list(AuditEntry.objects.order_by("seq").values_list("object_pk", flat=True)) == ["1", "3"]
    assert verify_chain() == (2, [])


@pytest.mark.django_db
def test_a_nested_batch_joins_the_outer_one():
    with audit_batch():
        _record(1)
        with audit_batch():
            _record(2)
        assert not AuditEntry.objects.exists()
        _record(3)
    assert list(AuditEntry.objects.order_by("seq").values_list("object_pk", flat=True)) == ["1", "2", "3"]


@pytest.mark.django_db
def test_a_failed_nested_batch_withdraws_only_its_own_entries():
    with audit_batch():
        _record(1)
        with pytest.raises(RuntimeError), audit_batch():
            _record(2)
            raise RuntimeError("inner part failed")
    assert list(AuditEntry.objects.values_list("object_pk", flat=True)) == ["1"]


@pytest.mark.django_db
def test_an_empty_batch_does_not_touch_the_head():
    with audit_batch():
        pass
    assert not AuditChainHead.objects.exists() and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_history_records_saved_in_a_batch_are_mirrored_with_their_reason(site):
    with audit_batch():
        entry = CharacteristicFactory(site=site, code="IMM01.BATCH.TEMP")
        entry.usl = 300.0
        entry._change_reason = "limit widened"
        entry.save()
        assert not AuditEntry.objects.filter(model="qms.Characteristic").exists()
    create, update = AuditEntry.objects.filter(model="qms.Characteristic").order_by("seq")
    assert (create.action, create.object_pk, create.site_id) == ("create", str(entry.pk), site.pk)
    assert update.action == "update" and update.reason == "limit widened"
    assert update.changes["usl"][1] == 300.0
    assert verify_chain()[1] == []


@pytest.mark.django_db
def test_outside_a_batch_each_entry_is_written_at_once():
    entry = _record(1)
    assert entry.seq == 1 and AuditEntry.objects.filter(seq=1).exists()


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.usefixtures("append_only_triggers")
def test_the_append_only_triggers_accept_a_batch_moving_the_head_many_steps():
    _record(0)
    with audit_batch():
        for pk in range(1, 50):
            _record(pk)
    assert chain_head()[0] == 50
    assert verify_chain() == (50, [])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_and_single_appends_racing_never_fork_the_chain():
    rounds, batch_size = 6, 20
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def batch_writer():
        try:
            barrier.wait()
            for n in range(rounds):
                with transaction.atomic(), audit_batch():
                    for i in range(batch_size):
                        _record(1000 * n + i)
        except BaseException as exc:  # noqa: B036 — reported to the main thread
            errors.append(exc)
        finally:
            connection.close()

    def single_writer():
        try:
            barrier.wait()
            for i in range(rounds * 5):
                with transaction.atomic():
                    _record(-1 - i)
        except BaseException as exc:  # noqa: B036 — reported to the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=batch_writer), threading.Thread(target=single_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    total = rounds * batch_size + rounds * 5
    assert verify_chain() == (total, [])
    assert len(set(AuditEntry.objects.values_list("prev_hash", flat=True))) == total  # no two share a predecessor
    batched = list(AuditEntry.objects.filter(object_pk__regex=r"^\d+$").order_by("seq").values_list("seq", flat=True))
    runs = [batched[i:i + batch_size] for i in range(0, len(batched), batch_size)]
    assert all(run == list(range(run[0], run[0] + batch_size)) for run in runs)  # each batch is one unbroken run



# --- jsonable's fast path for exact str/dict/list gives what the general path gives ---------------------------------

_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.decimals(allow_nan=False)


def _general_path_twin(value):
    """The same value in types that skip jsonable's exact-type fast path (mapping proxy, tuple)."""
    if type(value) is dict:
        return types.MappingProxyType({key: _general_path_twin(item) for key, item in value.items()})
    if type(value) is list:
        return tuple(_general_path_twin(item) for item in value)
    return value


@given(st.recursive(_leaves, lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children,
                                                                                            max_size=4), max_leaves=20))
def test_jsonable_fast_path_matches_the_general_path(value):
    assert canonical_json(jsonable(value)) == canonical_json(jsonable(_general_path_twin(value)))
