"""Django side of legacy-file import: dry-run preview, idempotent import, and the file-drop directory poll.

Idempotency: a file is known by its content hash per connector (ImportedFile). Re-importing a file that was fully
imported stores nothing and says so. A file whose import was interrupted is imported again; its chunks carry
deterministic batch ids (connector, file hash, mapping, chunk) and measurements are unique per (characteristic,
time, source), so every row is stored once whichever attempt got it in.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext

from connectors.models import Connector, ImportedFile
from qms.audit.chain import record_audit

from .config import mapping_from_spec, read_options, validate_config
from .plan import FilePlan, plan_file
from .readers import FileFormatError

logger = logging.getLogger(__name__)
CHUNK = 1000


@dataclass(frozen=True)
class ImportOutcome:
    record: ImportedFile
    already_imported: bool = False


def _plan(connector: Connector, filename: str, data: bytes) -> FilePlan:
    from connectors import services

    config = validate_config(connector.config)
    spec = services.spec_for(connector)
    return plan_file(data, filename, mapping_from_spec(config, spec.tags), **read_options(config))


def preview_file(connector: Connector, filename: str, data: bytes, limit: int = 20) -> dict:
    """Dry run: read and map the file, store nothing. Raises FileFormatError when it cannot be read at all.
    Row problems are in the active language."""
    preview = _plan(connector, filename, data).preview(limit, translate=gettext)
    preview["already_imported"] = ImportedFile.objects.filter(
        connector=connector, sha256=preview["sha256"], status__in=(ImportedFile.Status.DONE,
                                                                    ImportedFile.Status.DONE_WITH_ERRORS)).exists()
    return preview


def _mapping_digest(connector: Connector) -> str:
    return hashlib.sha256(json.dumps(connector.config, sort_keys=True, default=str).encode()).hexdigest()[:8]


def import_file(connector: Connector, filename: str, data: bytes, *, origin: str = ImportedFile.Origin.UPLOAD,
                user=None) -> ImportOutcome:
    from connectors import services

    sha = hashlib.sha256(data).hexdigest()
    filename = Path(filename).name[:255]
    with transaction.atomic():
        record, created = ImportedFile.objects.select_for_update().get_or_create(
            connector=connector, sha256=sha,
            defaults={"filename": filename, "size": len(data), "origin": origin, "imported_by": user},
        )
        if not created and record.status in (ImportedFile.Status.DONE, ImportedFile.Status.DONE_WITH_ERRORS):
            return ImportOutcome(record, already_imported=True)
    try:
        plan = _plan(connector, filename, data)
    except FileFormatError as exc:
        _finish(record, status=ImportedFile.Status.FAILED, message=exc.text(gettext), user=user)
        return ImportOutcome(record)
    record.file_format, record.encoding, record.rows = plan.file_format, plan.encoding, len(plan.rows)
    envelopes = plan.envelopes(services.spec_for(connector).key, datetime.now(UTC))
    record.readings, record.stored, record.duplicates, record.rejected = len(envelopes), 0, 0, 0
    digest = _mapping_digest(connector)
    for index in range(0, len(envelopes), CHUNK):
        chunk = envelopes[index:index + CHUNK]
        outcome = services.store_readings(f"file:{connector.pk}:{sha[:24]}:{digest}:{index // CHUNK}",
                                          [e.to_json() for e in chunk], connector_id=connector.pk)
        if outcome.replayed:        # this chunk went in during an earlier, interrupted attempt: nothing new now
            record.duplicates += len(chunk)
            continue
        record.stored += outcome.stored
        record.duplicates += outcome.duplicates
        record.rejected += outcome.rejected
    record.row_errors = [e.to_json(gettext) for e in plan.errors]
    record.error_count = plan.error_count
    problems = plan.error_count or record.rejected
    _finish(record, status=ImportedFile.Status.DONE_WITH_ERRORS if problems else ImportedFile.Status.DONE,
            message="", user=user)
    return ImportOutcome(record)


def _finish(record: ImportedFile, *, status: str, message: str, user) -> None:
    record.status, record.message, record.finished_at = status, message, datetime.now(UTC)
    with transaction.atomic():
        record.save()
        record_audit(
            action="import_file", model="connectors.importedfile", object_pk=record.pk, object_repr=record.filename,
            site_id=record.connector.site_id,
            changes={"status": [None, status], "sha256": [None, record.sha256], "stored": [None, record.stored],
                     "rejected": [None, record.rejected], "row_errors": [None, record.error_count]},
            reason=message or f"legacy file import ({record.origin})",
        )


# --- file-drop directory ---------------------------------------------------------------------------------------
def _settled(path: Path, settle_s: float) -> bool:
    """Skip files still being written: untouched for `settle_s` seconds."""
    return time.time() - path.stat().st_mtime >= settle_s


def _move(path: Path, folder: str) -> None:
    target_dir = path.parent / folder
    target_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    shutil.move(str(path), str(target_dir / f"{stamp}-{path.name}"))


def poll_drop_directory(connector: Connector) -> list[ImportOutcome]:
    """Import every settled file in the connector's drop directory, then move it to done/ or failed/. A crash between
    import and move re-imports the file next time, which the content hash turns into a no-op."""
    config = validate_config(connector.config)
    directory = config.get("drop_directory")
    if not directory:
        return []
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"drop directory {folder} does not exist")
    outcomes = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if not any(fnmatch.fnmatch(path.name.lower(), pattern.lower()) for pattern in config["patterns"]):
            continue
        if not _settled(path, config["settle_s"]):
            continue
        outcome = import_file(connector, path.name, path.read_bytes(), origin=ImportedFile.Origin.DROP)
        outcomes.append(outcome)
        _move(path, "failed" if outcome.record.status == ImportedFile.Status.FAILED else "done")
    return outcomes


def poll_all_file_drops() -> dict[str, int]:
    summary = {}
    for connector in Connector.objects.select_related("site").filter(kind=Connector.Kind.FILE, enabled=True):
        key = f"{connector.site.code}/{connector.name}"
        try:
            summary[key] = len(poll_drop_directory(connector))
        except Exception:
            logger.exception("%s: file-drop poll failed", key)
            summary[key] = -1
    return summary
