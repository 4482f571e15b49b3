"""The audit trail as CSV, with everything an external party needs to re-verify it.

Columns are stable English identifiers (a data-interchange format, not a screen). `payload` is the exact canonical
text that was hashed: `sha256(prev_hash + payload) == hash` re-verifies each row with any SHA-256 tool, and
consecutive sequence numbers must link (`prev_hash` = the previous row's `hash`). `verify_audit_chain --csv FILE`
does both. Human-readable columns that a spreadsheet would run as a formula (=, +, -, @) are prefixed with a quote;
`payload` and the hashes are never altered.
"""
from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet

from qms.audit.canonical import HASHED_FIELDS, canonical_json, entry_payload, format_ts

EXPORT_COLUMNS = (
    "seq", "ts", "actor", "actor_user_id", "actor_token_id", "action", "model", "object_pk", "object_repr",
    "site_id", "site", "changes", "reason", "prev_hash", "hash", "payload",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value):
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_audit_csv(queryset: QuerySet) -> Iterator[str]:
    """Yield the CSV line by line (a UTF-8 BOM first, so spreadsheet programs read Chinese names correctly),
    in chain order, streaming from the database."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(EXPORT_COLUMNS)
    rows = queryset.order_by("seq").values("prev_hash", "hash", "site__code", *HASHED_FIELDS)
    for row in rows.iterator(chunk_size=2000):
        yield writer.writerow([
            row["seq"], format_ts(row["ts"]), _cell(row["actor"]), row["actor_user_id"], row["actor_token_id"],
            row["action"], _cell(row["model"]), _cell(row["object_pk"]), _cell(row["object_repr"]), row["site_id"],
            _cell(row["site__code"]), _cell(canonical_json(row["changes"])), _cell(row["reason"]),
            row["prev_hash"], row["hash"], entry_payload(row),
        ])
