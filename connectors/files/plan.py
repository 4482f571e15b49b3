"""A legacy file read and mapped, before anything is stored: the dry-run preview and the import both start here.
Pure (no Django)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from connectors.envelope import Envelope
from connectors.translatable import gettext_noop

from .readers import read_file
from .rows import MappedRow, RowError, RowMapping, map_row

MAX_ERRORS_KEPT = 1000


@dataclass
class FilePlan:
    filename: str
    sha256: str
    size: int
    file_format: str
    encoding: str
    header: list[str]
    missing_columns: list[str]
    rows: list[MappedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    @property
    def readings(self) -> int:
        return sum(len(r.values) for r in self.rows)

    def envelopes(self, connector_key: str, received_ts: datetime) -> list[Envelope]:
        return [
            Envelope(
                connector=connector_key, source_ref=f"{self.filename}#{row.row}/{value.column}",
                characteristic=value.characteristic, value=value.value, raw_value=value.value, quality="good",
                source_ts=row.ts, server_ts=None, received_ts=received_ts, lot=row.lot, equipment=row.equipment,
                extra={"file_sha256": self.sha256, "row": row.row},
            )
            for row in self.rows for value in row.values
        ]

    def preview(self, limit: int = 20, translate=None) -> dict:
        """What a person checks before importing: format and encoding found, columns, the first mapped rows, and
        every problem with row number, column and reason (in the language of `translate`)."""
        return {
            "filename": self.filename, "sha256": self.sha256, "format": self.file_format, "encoding": self.encoding,
            "columns": self.header, "missing_columns": self.missing_columns, "rows": len(self.rows),
            "readings": self.readings, "error_count": self.error_count,
            "errors": [e.to_json(translate) for e in self.errors],
            "sample": [
                {"row": r.row, "ts": r.ts.isoformat() if r.ts else None, "lot": r.lot, "equipment": r.equipment,
                 "values": {v.characteristic: v.value for v in r.values}}
                for r in self.rows[:limit]
            ],
        }


def plan_file(data: bytes, filename: str, mapping: RowMapping, *, file_format: str | None = None,
              encoding: str | None = None, delimiter: str | None = None, records_path: str | None = None) -> FilePlan:
    """Read and map a whole file. Raises FileFormatError when the file cannot be read at all; row problems are
    collected, not raised. A mapping naming columns the file lacks yields no rows, only that problem."""
    read = read_file(data, filename, file_format=file_format, encoding=encoding, delimiter=delimiter,
                     records_path=records_path)
    plan = FilePlan(filename=filename, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                    file_format=read.file_format, encoding=read.encoding, header=read.header,
                    missing_columns=mapping.missing_columns(read.header))
    if plan.missing_columns:
        plan.errors = [RowError(0, column, gettext_noop("column not in the file")) for column in plan.missing_columns]
        plan.error_count = len(plan.errors)
        return plan
    for number, record in enumerate(read.records, start=1):
        mapped = map_row(number, record, mapping)
        plan.rows.append(mapped)
        plan.error_count += len(mapped.errors)
        if len(plan.errors) < MAX_ERRORS_KEPT:
            plan.errors.extend(mapped.errors[:MAX_ERRORS_KEPT - len(plan.errors)])
    return plan
