"""Appending to and verifying the hash-chained audit trail.

Each entry's hash covers its content and the previous entry's hash, so editing, deleting or reordering any entry
breaks every hash after it. Appends lock the single AuditChainHead row, so concurrent writers serialise.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from qms.audit.context import Actor, current_actor, current_reason
from qms.models import AuditChainHead, AuditEntry

GENESIS_HASH = "0" * 64


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_digest(prev_hash: str, *, seq: int, ts, actor: str, action: str, model: str, object_pk: str,
                 object_repr: str, site_id, changes, reason: str) -> str:
    payload = _canonical(
        {
            "seq": seq,
            "ts": ts.isoformat(),
            "actor": actor,
            "action": action,
            "model": model,
            "object_pk": str(object_pk),
            "object_repr": object_repr,
            "site": site_id,
            "changes": changes,
            "reason": reason,
        }
    )
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def record_audit(*, action: str, model: str, object_pk, object_repr: str = "", site_id: int | None = None,
                 changes: dict | None = None, reason: str | None = None, actor: Actor | None = None) -> AuditEntry:
    """Append one entry to the chain. Call inside the transaction that makes the change."""
    actor = actor or current_actor()
    reason = current_reason() if reason is None else reason
    changes = json.loads(_canonical(changes or {}))
    with transaction.atomic():
        head, _created = AuditChainHead.objects.select_for_update().get_or_create(
            id=1, defaults={"last_hash": GENESIS_HASH, "last_seq": 0}
        )
        seq = head.last_seq + 1
        ts = timezone.now()
        digest = entry_digest(
            head.last_hash, seq=seq, ts=ts, actor=actor.label, action=action, model=model,
            object_pk=str(object_pk), object_repr=object_repr[:200], site_id=site_id, changes=changes, reason=reason,
        )
        entry = AuditEntry.objects.create(
            seq=seq, ts=ts, actor_user_id=actor.user_id, actor_token_id=actor.token_id, actor=actor.label,
            action=action, model=model, object_pk=str(object_pk), object_repr=object_repr[:200], site_id=site_id,
            changes=changes, reason=reason, prev_hash=head.last_hash, hash=digest,
        )
        AuditChainHead.objects.filter(id=1).update(last_hash=digest, last_seq=seq)
    return entry


@dataclass
class ChainProblem:
    seq: int
    problem: str


def verify_chain(batch_size: int = 5000) -> tuple[int, list[ChainProblem]]:
    """Walk the whole chain in order; return (entries checked, problems found)."""
    problems: list[ChainProblem] = []
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    queryset = AuditEntry.objects.order_by("seq").values(
        "seq", "ts", "actor", "action", "model", "object_pk", "object_repr", "site_id", "changes", "reason",
        "prev_hash", "hash",
    )
    for row in queryset.iterator(chunk_size=batch_size):
        checked += 1
        if row["seq"] != expected_seq:
            problems.append(ChainProblem(row["seq"], f"entries missing before #{row['seq']} (expected #{expected_seq})"))
        if row["prev_hash"] != prev_hash:
            problems.append(ChainProblem(row["seq"], "link to the previous entry is broken"))
        digest = entry_digest(
            row["prev_hash"], seq=row["seq"], ts=row["ts"], actor=row["actor"], action=row["action"],
            model=row["model"], object_pk=row["object_pk"], object_repr=row["object_repr"], site_id=row["site_id"],
            changes=row["changes"], reason=row["reason"],
        )
        if digest != row["hash"]:
            problems.append(ChainProblem(row["seq"], "content does not match its hash (entry was altered)"))
        prev_hash = row["hash"]
        expected_seq = row["seq"] + 1
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None and head.last_seq != expected_seq - 1:
        problems.append(ChainProblem(head.last_seq, "the newest entries were removed (chain head is ahead)"))
    return checked, problems
