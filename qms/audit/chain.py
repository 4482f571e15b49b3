"""Appending to and verifying the hash-chained audit trail.

Each entry's hash covers its content and the previous entry's hash (recipe in qms.audit.canonical), so editing,
deleting or reordering any entry breaks every hash after it. Appends lock the single AuditChainHead row, so
concurrent writers serialise: two transactions can never both extend the same head (no fork).

The head lock is held until the caller's transaction commits. Services that lock business rows with
select_for_update should take those locks *before* their first audited change, so the head is always the last lock
taken and two writers cannot deadlock on it.

Bulk writers wrap their work in `with audit_batch():`. Inside it `record_audit` (and so every simple-history record
mirrored by qms.audit.receivers) only collects its entry; when the block ends — still inside the caller's
transaction — the head is locked once, the hashes are computed in recording order, the entries are inserted with one
bulk INSERT per 1,000 and the head moves forward once. The chain is the same as if each entry had been appended on
its own, at the moment the batch ends; a 10,000-row import then costs a few queries for its audit trail instead of
40,000. An exception leaving the block, or a savepoint inside it rolled back, withdraws the entries it recorded.
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from qms.audit.canonical import GENESIS_HASH, HASHED_FIELDS, entry_hash, entry_payload, jsonable
from qms.audit.context import ACTOR_LABEL_MAX, Actor, current_actor, current_reason
from qms.bulk_sql import insert_rows
from qms.models import AuditChainHead, AuditEntry

__all__ = ["GENESIS_HASH", "ChainProblem", "audit_batch", "chain_head", "record_audit", "verify_chain"]

_MODEL_MAX = AuditEntry._meta.get_field("model").max_length
_PK_MAX = AuditEntry._meta.get_field("object_pk").max_length
_REPR_MAX = AuditEntry._meta.get_field("object_repr").max_length
_STORED_FIELDS = HASHED_FIELDS  # the hash covers every stored column except the hashes themselves
_INSERT_BATCH_SIZE = 1000


class _NotRolledBack:
    """Registered with on_commit per entry: Django drops it when a savepoint around the entry rolls back."""

    __slots__ = ()

    def __call__(self):
        pass


@dataclass
class _PendingBatch:
    entries: list[tuple[AuditEntry, _NotRolledBack]] = field(default_factory=list)

    def add(self, entry: AuditEntry) -> None:
        marker = _NotRolledBack()
        # Entries recorded inside a savepoint that is later rolled back must vanish with it, exactly as an
        # immediately written entry would. Django forgets on_commit callbacks of rolled-back savepoints, so the
        # marker still being registered at the end of the batch means the entry's changes are still there.
        transaction.on_commit(marker)
        self.entries.append((entry, marker))

    def surviving(self) -> list[AuditEntry]:
        connection = transaction.get_connection()
        registered = {id(callback) for _savepoints, callback, *_rest in connection.run_on_commit}
        return [entry for entry, marker in self.entries if id(marker) in registered]


_pending_batch: contextvars.ContextVar[_PendingBatch | None] = contextvars.ContextVar("qp_audit_batch", default=None)


@contextlib.contextmanager
def audit_batch():
    """Collect the audit entries recorded inside the block and append them to the chain at its end, in one go.

    Runs the block in a transaction (a savepoint when the caller has one) and appends before it commits, so the
    changes and their entries commit or roll back together. A nested `audit_batch` joins the outer one. While a
    batch is open, `record_audit` returns the entry unsaved (no `seq` or hash yet); it is filled in at the end.
    """
    if _pending_batch.get() is not None:
        with transaction.atomic():
            yield
        return
    batch = _PendingBatch()
    token = _pending_batch.set(batch)
    try:
        with transaction.atomic():
            yield
            _pending_batch.reset(token)
            token = None
            _append_entries(batch.surviving())
    finally:
        if token is not None:
            _pending_batch.reset(token)


def record_audit(*, action: str, model: str, object_pk, object_repr: str = "", site_id: int | None = None,
                 changes: dict | None = None, reason: str | None = None, actor: Actor | None = None) -> AuditEntry:
    """Append one entry to the chain. Call inside the transaction that makes the change (it commits or rolls back
    with it). `changes` maps field → [before, after]; any value type is accepted and normalised for hashing."""
    actor = actor or current_actor()
    reason = current_reason() if reason is None else reason
    fields = {
        "actor": actor.label[:ACTOR_LABEL_MAX],
        "actor_user_id": actor.user_id,
        "actor_token_id": actor.token_id,
        "action": action,
        "model": model[:_MODEL_MAX],
        "object_pk": str(object_pk)[:_PK_MAX],
        "object_repr": jsonable(str(object_repr))[:_REPR_MAX],
        "site_id": site_id,
        "changes": jsonable(changes or {}),
        "reason": jsonable(reason or ""),
    }
    batch = _pending_batch.get()
    if batch is not None:
        entry = AuditEntry(**fields)
        batch.add(entry)
        return entry
    with transaction.atomic():
        head = _locked_head()
        seq = head.last_seq + 1
        ts = timezone.now()
        digest = entry_hash(head.last_hash, entry_payload({**fields, "seq": seq, "ts": ts}))
        entry = AuditEntry.objects.create(seq=seq, ts=ts, prev_hash=head.last_hash, hash=digest, **fields)
        AuditChainHead.objects.filter(id=1).update(last_hash=digest, last_seq=seq)
    return entry


def _locked_head() -> AuditChainHead:
    head, _created = AuditChainHead.objects.select_for_update().get_or_create(
        id=1, defaults={"last_hash": GENESIS_HASH, "last_seq": 0}
    )
    return head


def _append_entries(entries: list[AuditEntry]) -> None:
    """Chain `entries` in order after the head: one lock, one bulk insert per 1,000, one forward move of the head.

    The entries of a batch share one timestamp — the moment they joined the chain, as for a single append.
    """
    if not entries:
        return
    with transaction.atomic():
        head = _locked_head()
        seq, prev_hash, ts = head.last_seq, head.last_hash, timezone.now()
        for entry in entries:
            seq += 1
            entry.seq, entry.ts, entry.prev_hash = seq, ts, prev_hash
            entry.hash = prev_hash = entry_hash(
                prev_hash, entry_payload({name: getattr(entry, name) for name in _STORED_FIELDS})
            )
        insert_rows(entries, batch_size=_INSERT_BATCH_SIZE)
        AuditChainHead.objects.filter(id=1).update(last_hash=prev_hash, last_seq=seq)


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str

    def __str__(self):
        return f"#{self.seq}: {self.problem}"


def chain_head() -> tuple[int, str]:
    """(sequence number, hash) of the newest entry — record it outside the database to anchor the chain."""
    head = AuditChainHead.objects.filter(id=1).first()
    return (head.last_seq, head.last_hash) if head is not None else (0, GENESIS_HASH)


def verify_chain(batch_size: int = 5000, *, anchors: dict[int, str] | None = None) -> tuple[int, list[ChainProblem]]:
    """Walk the whole chain in order; return (entries checked, problems found).

    `anchors` maps sequence numbers to hashes recorded elsewhere earlier (e.g. printed by a previous verification):
    they catch a rewrite of the whole tail, including the head row, which the chain alone cannot.
    """
    anchors = dict(anchors or {})
    problems: list[ChainProblem] = []
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    queryset = AuditEntry.objects.order_by("seq").values("prev_hash", "hash", *_STORED_FIELDS)
    for row in queryset.iterator(chunk_size=batch_size):
        checked += 1
        seq = row["seq"]
        if seq != expected_seq:
            missing = f"entry #{expected_seq} is" if seq == expected_seq + 1 else f"entries #{expected_seq}–#{seq - 1} are"
            problems.append(ChainProblem(seq, f"{missing} missing"))
        if row["prev_hash"] != prev_hash:
            problems.append(ChainProblem(seq, "link to the previous entry is broken (prev_hash differs)"))
        if entry_hash(row["prev_hash"], entry_payload(row)) != row["hash"]:
            problems.append(ChainProblem(seq, "content does not match its hash (entry was altered)"))
        if seq in anchors and anchors.pop(seq) != row["hash"]:
            problems.append(ChainProblem(seq, "hash differs from the anchor recorded earlier (chain was rewritten)"))
        prev_hash = row["hash"]
        expected_seq = seq + 1
    for seq in sorted(anchors):
        problems.append(ChainProblem(seq, "anchored entry is gone (chain was truncated)"))
    head_seq, head_hash = chain_head()
    last_seq = expected_seq - 1
    if head_seq > last_seq:
        problems.append(
            ChainProblem(head_seq, f"the newest entries #{last_seq + 1}–#{head_seq} were removed (chain head is ahead)")
        )
    elif head_seq < last_seq:
        problems.append(ChainProblem(last_seq, f"entries after the chain head #{head_seq} were appended outside the chain"))
    elif checked and head_hash != prev_hash:
        problems.append(ChainProblem(head_seq, "the chain head's hash differs from the newest entry's"))
    return checked, problems
