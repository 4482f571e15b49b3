"""Data-dictionary files: export as CSV or JSON, import with a dry-run preview, apply all-or-nothing.

CSV is written UTF-8 *with* a byte-order mark and CRLF line ends: that is what Excel on a Chinese Windows needs to
show 中文 names instead of mojibake (without the BOM it assumes the ANSI code page, GBK). Text cells starting with
= + - @ (or a quote) get a leading apostrophe so Excel does not run them as formulas; import strips it again.

Import reads the same files back. `preview_import` validates every row and reports every problem — row number, code,
field, message — and the planned action per row (create / update with the field diff / unchanged) without writing.
`apply_import` re-validates under row locks and writes everything in one transaction only when there is no problem.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.audit.chain import audit_batch, record_audit
from qms.models import Characteristic, Site
from qms.services.dictionary import (
    EDITABLE_FIELDS,
    SiteReferences,
    ValidatedChange,
    save_change,
    save_changes,
    validate_change,
)

FORMATS = ("csv", "json")
COLUMNS = (*EDITABLE_FIELDS, "version")
TEXT_COLUMNS = ("code", "name_en", "name_zh", "unit")
REQUIRED_COLUMNS = ("code",)
# Read-only fields of the API's JSON: accepted (and ignored) so a saved API response can be imported as it is.
IGNORED_COLUMNS = ("id", "name", "site", "updated_at")
MAX_IMPORT_BYTES = getattr(settings, "DICTIONARY_IMPORT_MAX_BYTES", 5 * 1024 * 1024)
MAX_IMPORT_ROWS = getattr(settings, "DICTIONARY_IMPORT_MAX_ROWS", 10_000)
JSON_FORMAT_NAME = "qualitypulse.data-dictionary"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_CJK = re.compile(r"[\u3400-\u9fff]")


# --- result types -------------------------------------------------------------------------------------------------

@dataclass
class Problem:
    row: int | None  # CSV: the spreadsheet row (header = 1); JSON: the item number (from 1); None: the whole file
    code: str
    field: str
    message: str


@dataclass
class RowResult:
    row: int
    code: str
    action: str  # "create" | "update" | "unchanged" | "invalid"
    changes: dict[str, list] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    reason_required: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ImportPreview:
    format: str
    rows: list[RowResult] = field(default_factory=list)
    file_problems: list[Problem] = field(default_factory=list)
    applied: bool = False

    @property
    def problems(self) -> list[Problem]:
        """Every problem: the file's own, then each row's in file order."""
        return self.file_problems + [problem for row in self.rows for problem in row.problems]

    @property
    def ok(self) -> bool:
        return not self.file_problems and all(row.ok for row in self.rows)

    @property
    def reason_required(self) -> bool:
        return any(row.reason_required for row in self.rows)

    @property
    def counts(self) -> dict[str, int]:
        counts = {"rows": len(self.rows), "create": 0, "update": 0, "unchanged": 0, "invalid": 0,
                  "problems": len(self.problems)}
        for row in self.rows:
            counts[row.action] += 1
        return counts

    def to_dict(self) -> dict:
        return {
            "format": self.format,
            "ok": self.ok,
            "applied": self.applied,
            "reason_required": self.reason_required,
            "counts": self.counts,
            "problems": [asdict(problem) for problem in self.problems],
            "rows": [
                {"row": row.row, "code": row.code, "action": row.action, "ok": row.ok, "changes": row.changes,
                 "reason_required": row.reason_required, "problems": [asdict(p) for p in row.problems]}
                for row in self.rows
            ],
        }


# --- export -------------------------------------------------------------------------------------------------------

def _site_entries(site: Site):
    return (
        Characteristic.objects.filter(site=site)
        .select_related("equipment", "operation__product")
        .order_by("code")
    )


def entry_values(entry: Characteristic) -> dict:
    """One entry as a file row: equipment by code, operation as "part number/revision/operation code"."""
    values = {name: getattr(entry, name) for name in COLUMNS}
    values["equipment"] = entry.equipment.code if entry.equipment_id else None
    values["operation"] = entry.operation.reference if entry.operation_id else None
    return values


def _format_number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)  # shortest text that reads back as exactly the same float


def _escape_formula(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def _unescape_formula(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def export_dictionary(site: Site, fmt: str) -> str:
    """The site's whole dictionary as CSV (with BOM, for Excel) or JSON text."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    entries = [entry_values(entry) for entry in _site_entries(site)]
    if fmt == "json":
        document = {
            "format": JSON_FORMAT_NAME, "format_version": 1, "site": site.code,
            "exported_at": timezone.now().isoformat(), "characteristics": entries,
        }
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for values in entries:
        writer.writerow([
            _escape_formula(values[name] or "") if name in TEXT_COLUMNS
            else _format_number(values[name]) if isinstance(values[name], int | float)
            else ("" if values[name] is None else str(values[name]))
            for name in COLUMNS
        ])
    return buffer.getvalue()


# --- reading files ------------------------------------------------------------------------------------------------

class FileRejected(Exception):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


def decode(content: bytes | str) -> str:
    """UTF-8 text (BOM optional). Other encodings are refused with a message saying which one it looks like."""
    if isinstance(content, str):
        return content.removeprefix("\ufeff")
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRejected("file", _("The file is UTF-16 encoded. Save it as “CSV UTF-8” (or JSON in UTF-8)."))
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start
    try:
        legacy = content.decode("gb18030")
    except UnicodeDecodeError:
        legacy = ""
    if _CJK.search(legacy):
        raise FileRejected("file", _(
            "The file is not UTF-8: it looks like GBK/GB18030 (Chinese Windows “ANSI”). In Excel use "
            "“Save as → CSV UTF-8 (comma delimited)”, or re-save it as UTF-8 in your editor."))
    raise FileRejected("file", _("The file is not UTF-8 text (invalid byte at position %(offset)d).") % {
        "offset": offset})


def _read_csv(text: str) -> tuple[list[str], list[tuple[int, dict]], list[Problem]]:
    problems: list[Problem] = []
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=lambda d: sum(h.strip().lower() in COLUMNS for h in first_line.split(d)))
    try:
        table = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise FileRejected("file", _("The CSV cannot be read: %(error)s") % {"error": exc}) from None
    header = [name.strip().lower() for name in table[0]]
    records: list[tuple[int, dict]] = []
    code_index = header.index("code") if "code" in header else 0
    for number, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank lines Excel leaves at the end
        if len(records) >= MAX_IMPORT_ROWS:
            raise FileRejected("file", _("The file has more than %(limit)d rows; split it.") % {
                "limit": MAX_IMPORT_ROWS})
        if len(cells) != len(header):
            code = cells[code_index].strip() if len(cells) > code_index else ""
            problems.append(Problem(number, code, "", _(
                "The row has %(cells)d cells but the header has %(columns)d columns."
            ) % {"cells": len(cells), "columns": len(header)}))
            continue
        row = {}
        for name, cell in zip(header, cells, strict=True):
            if not name:
                continue
            row[name] = _unescape_formula(cell.strip()) if name in TEXT_COLUMNS else cell
        records.append((number, row))
    return header, records, problems


def _read_json(text: str) -> tuple[list[str], list[tuple[int, dict]], list[Problem]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileRejected("file", _("Not valid JSON: %(error)s (line %(line)d, column %(column)d).") % {
            "error": exc.msg, "line": exc.lineno, "column": exc.colno}) from None
    items = document.get("characteristics") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise FileRejected("file", _(
            "Expected a list of characteristics, or an object with a “characteristics” list."))
    if len(items) > MAX_IMPORT_ROWS:
        raise FileRejected("file", _("The file has more than %(limit)d rows; split it.") % {"limit": MAX_IMPORT_ROWS})
    problems: list[Problem] = []
    records: list[tuple[int, dict]] = []
    header: set[str] = set()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            problems.append(Problem(number, "", "", _("Each characteristic must be a JSON object.")))
            continue
        row = {}
        for key, value in item.items():
            name = str(key).strip().lower()
            if isinstance(value, dict | list):
                problems.append(Problem(number, str(item.get("code", "")), name, _("Must be a number, text or null.")))
                continue
            row[name] = value
        header.update(row)
        records.append((number, row))
    return sorted(header), records, problems


def _check_columns(header: list[str], fmt: str) -> list[Problem]:
    problems = []
    named = [name for name in header if name]
    for name in sorted({name for name in named if named.count(name) > 1}):
        problems.append(Problem(None, "", name, _("The column “%(column)s” appears more than once.") % {"column": name}))
    for name in named:
        if name not in COLUMNS and name not in IGNORED_COLUMNS:
            problems.append(Problem(None, "", name, _("Unknown column “%(column)s”; known columns: %(known)s.") % {
                "column": name, "known": ", ".join(COLUMNS)}))
    if fmt == "csv":
        for name in REQUIRED_COLUMNS:
            if name not in named:
                problems.append(Problem(None, "", name, _("The required column “%(column)s” is missing.") % {
                    "column": name}))
    return problems


def _parse(content: bytes | str, fmt: str) -> tuple[list[tuple[int, dict]], list[Problem]]:
    if fmt not in FORMATS:
        raise FileRejected("format", _("Unknown format “%(format)s”; use csv or json.") % {"format": fmt})
    size = len(content.encode("utf-8")) if isinstance(content, str) else len(content)
    if size > MAX_IMPORT_BYTES:
        raise FileRejected("file", _("The file is larger than the limit of %(limit)s bytes; split it.") % {
            "limit": MAX_IMPORT_BYTES})
    text = decode(content)
    if not text.strip():
        raise FileRejected("file", _("The file is empty."))
    header, records, problems = (_read_csv if fmt == "csv" else _read_json)(text)
    problems = _check_columns(header, fmt) + problems
    if not records and not problems:
        problems.append(Problem(None, "", "file", _("The file has no characteristics (only a header).")))
    return records, problems


# --- planning -----------------------------------------------------------------------------------------------------

@dataclass
class _PlannedRow:
    result: RowResult
    change: ValidatedChange | None = None


def _plan(site: Site, records: list[tuple[int, dict]], existing: dict[str, Characteristic]) -> list[_PlannedRow]:
    refs = SiteReferences(site)
    first_row_of: dict[str, int] = {}
    planned: list[_PlannedRow] = []
    for number, raw in records:
        values = {name: value for name, value in raw.items() if name in EDITABLE_FIELDS}
        code = str(values.get("code") or "").strip()
        result = RowResult(row=number, code=code, action="invalid")
        planned.append(_PlannedRow(result))
        if not code:
            result.problems.append(Problem(number, "", "code", _("The code is missing.")))
            continue
        if code in first_row_of:
            result.problems.append(Problem(number, code, "code", _("“%(code)s” already appears in row %(row)d.") % {
                "code": code, "row": first_row_of[code]}))
            continue
        first_row_of[code] = number
        current = existing.get(code)
        change = validate_change(
            site, values, instance=current, refs=refs,
            code_taken=lambda candidate, own=current: candidate in existing and existing[candidate] is not own,
        )
        for name, messages in change.errors.items():
            for message in messages:
                result.problems.append(Problem(number, code, name, message))
        if current is not None:
            result.problems.extend(_version_problem(number, code, raw.get("version"), current))
        if result.problems:
            continue
        planned[-1].change = change
        result.changes = change.changes
        result.reason_required = change.reason_required
        result.action = "create" if change.is_new else ("update" if change.changes else "unchanged")
    return planned


def _version_problem(number: int, code: str, raw, current: Characteristic) -> list[Problem]:
    """A `version` cell is the version the file was exported from: refuse to overwrite a newer entry."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return []
    try:
        version = int(float(str(raw).strip()))
    except ValueError:
        return [Problem(number, code, "version", _("“%(value)s” is not a version number.") % {"value": raw})]
    if version == current.version:
        return []
    return [Problem(number, code, "version", _(
        "%(code)s changed since the file was made: the file has version %(file)d, the dictionary is at version "
        "%(current)d. Export again and redo the edit (or clear the version cell to overwrite)."
    ) % {"code": code, "file": version, "current": current.version})]


def _preview(site: Site, content, fmt: str, *, lock: bool) -> tuple[ImportPreview, list[_PlannedRow]]:
    preview = ImportPreview(format=fmt)
    try:
        records, preview.file_problems = _parse(content, fmt)
    except FileRejected as exc:
        preview.file_problems = [Problem(None, "", exc.field, exc.message)]
        return preview, []
    codes = {str(raw.get("code") or "").strip() for _number, raw in records}
    entries = _site_entries(site).filter(code__in=codes)
    if lock:
        entries = entries.select_for_update(of=("self",))
    existing = {entry.code: entry for entry in entries}
    planned = _plan(site, records, existing)
    preview.rows = [row.result for row in planned]
    return preview, planned


def preview_import(site: Site, content: bytes | str, fmt: str) -> ImportPreview:
    """Dry run: parse and validate every row, list every problem and each row's planned action. Writes nothing."""
    preview, _planned = _preview(site, content, fmt, lock=False)
    return preview


def apply_import(site: Site, content: bytes | str, fmt: str, *, reason: str) -> ImportPreview:
    """Validate again (rows locked) and write every row in one transaction — or nothing if any problem remains.

    Each created or updated entry gets its own version and history record carrying `reason`; the import itself is
    one more audit entry (file checksum and counts). The reason is mandatory when released entries change.
    The rows are written with multi-row statements and their audit entries appended as one batch (`save_changes`).
    """
    return _apply(site, content, fmt, reason=reason, row_by_row=False)


def _apply(site: Site, content: bytes | str, fmt: str, *, reason: str, row_by_row: bool) -> ImportPreview:
    """`row_by_row=True` is the former write path (one save, history record and chain append per row), kept only
    so bench/dictionary_import.py can compare both on the same machine."""
    reason = (reason or "").strip()
    preview = ImportPreview(format=fmt)
    try:
        with transaction.atomic():
            preview, planned = _preview(site, content, fmt, lock=True)
            if preview.ok and preview.reason_required and not reason:
                preview.file_problems.append(Problem(None, "", "reason", _(
                    "A reason is required: the file changes released characteristics.")))
            if not preview.ok:
                return preview
            changes = [row.change for row in planned if row.result.action in ("create", "update")]
            raw = content.encode("utf-8") if isinstance(content, str) else content
            summary = {"format": fmt, "sha256": hashlib.sha256(raw).hexdigest(), "counts": preview.counts}
            with contextlib.nullcontext() if row_by_row else audit_batch():
                if row_by_row:
                    for change in changes:
                        save_change(change, reason=reason, savepoint=False)
                else:
                    save_changes(changes, reason=reason)
                record_audit(
                    action="import", model="qms.Characteristic", object_pk="", object_repr=f"{site.code} dictionary",
                    site_id=site.pk, reason=reason, changes=summary,
                )
            preview.applied = True
    except (IntegrityError, ValidationError):
        # Someone created one of the codes between our check and our insert: nothing of this import was kept.
        preview.applied = False
        preview.file_problems.append(Problem(None, "", "file", _(
            "The dictionary changed while importing; nothing was written. Preview and import again.")))
    return preview
