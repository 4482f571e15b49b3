"""Attachments (photos, documents) of NCs and CAPAs: the type is judged from the bytes, not the client's word.

Allowed: JPEG, PNG, WebP images, PDF, CSV, plain text and Excel (.xlsx) — the extension must agree with the content.
The size limit is `settings.NC_ATTACHMENT_MAX_BYTES` (env QP_ATTACHMENT_MAX_BYTES, default 10 MB). Files are stored
under MEDIA_ROOT with a content-derived name and served only through permission-checked views.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import zipfile
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.audit.chain import record_audit
from qms.models import Attachment
from qms.services.nc_errors import NcError

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
FILES_DIR = "attachments"
# A file is written before its row can commit: one younger than this may still belong to a transaction in flight.
ORPHAN_GRACE = timedelta(hours=1)
NAME_MAX = Attachment._meta.get_field("original_name").max_length

# extension → the content type it must have
EXTENSIONS = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".pdf": "application/pdf", ".csv": "text/csv", ".txt": "text/plain",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
TEXT_ENCODINGS = ("utf-8", "gb18030")


def max_bytes() -> int:
    return int(getattr(settings, "NC_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def sniff(head: bytes, data_reader) -> str | None:
    """The content type the bytes show, or None. `data_reader()` returns the whole content (only read for the
    formats that need more than the first bytes)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(data_reader())
    return "text" if _is_text(data_reader()) else None


def _sniff_zip(data: bytes) -> str | None:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except zipfile.BadZipFile:
        return None
    if "[Content_Types].xml" in names and any(name.startswith("xl/") for name in names):
        return EXTENSIONS[".xlsx"]
    return None


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    for encoding in TEXT_ENCODINGS:
        try:
            data.decode(encoding)
            return True
        except UnicodeDecodeError:
            continue
    return False


def check_upload(name: str, data: bytes) -> str:
    """The content type of an acceptable upload; NcError naming the problem otherwise."""
    limit = max_bytes()
    if not data:
        raise NcError("attachment_empty", _("The file %(name)s is empty.") % {"name": name}, field="file")
    if len(data) > limit:
        raise NcError("attachment_too_large", _("The file %(name)s has %(size)d bytes; at most %(max)d are allowed.")
                      % {"name": name, "size": len(data), "max": limit}, field="file",
                      details={"size": len(data), "max_bytes": limit})
    extension = os.path.splitext(name)[1].lower()
    expected = EXTENSIONS.get(extension)
    allowed = ", ".join(sorted(EXTENSIONS))
    if expected is None:
        raise NcError("attachment_type", _("Files of type %(ext)s are not accepted; allowed: %(allowed)s.")
                      % {"ext": extension or _("(no extension)"), "allowed": allowed}, field="file",
                      details={"allowed": sorted(EXTENSIONS)})
    found = sniff(data[:16], lambda: data)
    if found == "text" and expected in ("text/csv", "text/plain"):
        return expected
    if found != expected:
        raise NcError("attachment_type", _("The content of %(name)s is not what its extension %(ext)s says; "
                                           "allowed: %(allowed)s.") % {"name": name, "ext": extension,
                                                                      "allowed": allowed},
                      field="file", details={"allowed": sorted(EXTENSIONS)})
    return expected


def add_attachment(record, *, user, uploaded_file, site_id: int | None = None) -> Attachment:
    """Attach an uploaded file (Django UploadedFile or any file-like with `.name`) to a saved record (an NC, a
    CAPA). Type and size checked, SHA-256 recorded, audited."""
    if user is None or getattr(user, "pk", None) is None:
        raise NcError("attachment_needs_person", _("Attachments are added by a signed-in person."))
    name = os.path.basename(str(getattr(uploaded_file, "name", "") or "")).strip()[:NAME_MAX] or "file"
    size = getattr(uploaded_file, "size", None)
    if size is not None and size > max_bytes():  # refuse before reading a huge upload into memory
        raise NcError("attachment_too_large", _("The file %(name)s has %(size)d bytes; at most %(max)d are allowed.")
                      % {"name": name, "size": size, "max": max_bytes()}, field="file",
                      details={"size": size, "max_bytes": max_bytes()})
    if hasattr(uploaded_file, "seek"):
        uploaded_file.seek(0)
    data = uploaded_file.read(max_bytes() + 1)
    content_type = check_upload(name, data)
    digest = hashlib.sha256(data).hexdigest()
    site_id = site_id if site_id is not None else record.site_id
    extension = os.path.splitext(name)[1].lower()
    attachment = Attachment(
        site_id=site_id, record_model=record._meta.label_lower, record_pk=str(record.pk), original_name=name,
        content_type=content_type, size=len(data), sha256=digest, uploaded_by=user,
    )
    try:
        with transaction.atomic():
            _check_record_accepts_attachments(record)
            # A content-derived file name: nothing of the client's name reaches the file system.
            attachment.file.save(f"{digest[:32]}{extension}", ContentFile(data), save=False)
            attachment.save()
            record_audit(action="attach", model=record._meta.label_lower, object_pk=record.pk,
                         object_repr=str(record)[:200], site_id=site_id,
                         changes={"attachment": [None, {"id": attachment.pk, "name": name, "sha256": digest,
                                                        "size": len(data), "content_type": content_type}]})
    except Exception:  # no row, no file — also when the commit itself fails (an enclosing transaction's later
        if attachment.file:  # rollback: sweep_orphan_files)
            attachment.file.delete(save=False)
        raise
    return attachment


def sweep_orphan_files(*, older_than: timedelta = ORPHAN_GRACE) -> list[str]:
    """Delete the stored files that no attachment names and that are older than `older_than`; returns their names.

    The file of an attachment is stored before its row commits (the row records the stored name). When the
    attachment's own work fails, add_attachment removes the file at once; when an enclosing transaction rolls back
    later, or the process dies in between, the file stays without a row — unreachable through the permission-checked
    views, but on disk. The beat task `qms.attachment_tasks.sweep_orphan_attachments` removes those."""
    storage = Attachment._meta.get_field("file").storage
    cutoff = timezone.now() - older_than
    stored = _stored_names(storage, FILES_DIR)
    if not stored:
        return []
    named = set()
    for start in range(0, len(stored), 5000):
        named.update(Attachment.objects.filter(file__in=stored[start:start + 5000]).values_list("file", flat=True))
    removed = []
    for name in stored:
        if name not in named and storage.get_modified_time(name) <= cutoff:
            storage.delete(name)
            removed.append(name)
    if removed:
        logger.info("removed %d attachment files without a record: %s", len(removed), ", ".join(removed[:20]))
    return removed


def _stored_names(storage, directory: str) -> list[str]:
    if not storage.exists(directory):
        return []
    directories, files = storage.listdir(directory)
    names = [f"{directory}/{name}" for name in files]
    for child in directories:
        names.extend(_stored_names(storage, f"{directory}/{child}"))
    return names


FINISHED_STATES = frozenset({"closed", "cancelled"})


def _check_record_accepts_attachments(record) -> None:
    """A closed or cancelled record (NC, CAPA) is finished: its evidence may not change any more. The row is locked
    so a close committing at the same moment cannot slip past the check."""
    state = type(record).objects.select_for_update().filter(pk=record.pk).values_list("state", flat=True).first() \
        if hasattr(record, "state") else None
    if state in FINISHED_STATES:
        raise NcError("record_closed", _("%(record)s is %(state)s; files can no longer be attached to it.")
                      % {"record": getattr(record, "number", record), "state": _(state)},
                      details={"state": state})


def attachments_of(record):
    return Attachment.objects.filter(record_model=record._meta.label_lower, record_pk=str(record.pk)) \
        .select_related("uploaded_by").order_by("uploaded_at", "pk")


def is_image(attachment: Attachment) -> bool:
    return attachment.content_type in IMAGE_TYPES
