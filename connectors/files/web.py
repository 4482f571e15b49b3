"""Legacy-file import page of a file connector: upload → dry-run preview (rows, every problem) → import, and the
list of files imported. Thin: the rules live in connectors.files.service."""
from __future__ import annotations

import hashlib
import re

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.generic import View

from connectors.models import Connector, ImportedFile
from qms.audit.context import because
from qms.web.access import SitePageMixin

from .readers import MAX_FILE_BYTES, FileFormatError
from .service import import_file, preview_file

_SHA = re.compile(r"^[0-9a-f]{64}$")


def _pending_dir():
    path = settings.VAR_DIR / "imports-pending"
    path.mkdir(parents=True, exist_ok=True)
    return path


class ConnectorImportsPage(SitePageMixin, View):
    """GET: the upload form and the imported files. POST action=preview: read and map the file, store nothing, keep
    it aside by its hash; POST action=import with that hash: import the previewed file."""

    permission_required = "connectors.view_importedfile"
    template_name = "connectors/imports.html"

    def connector(self, pk) -> Connector:
        connector = self.get_object_in_sites(Connector.objects.select_related("site"), pk=pk)
        if connector.kind != Connector.Kind.FILE:
            raise Http404(_("This connector does not import files."))
        return connector

    def _render(self, request, connector, **context):
        files = ImportedFile.objects.filter(connector=connector).select_related("imported_by")[:50]
        return render(request, self.template_name, {"site": self.site, "connector": connector, "files": files,
                                                    "max_mb": MAX_FILE_BYTES // (1024 * 1024), **context})

    def get(self, request, pk):
        return self._render(request, self.connector(pk))

    def post(self, request, pk):
        connector = self.connector(pk)
        if not request.user.has_perm("connectors.add_importedfile"):
            messages.error(request, _("Your role does not allow importing files."))
            return redirect("connector-imports", pk=connector.pk)
        if request.POST.get("action") == "import":
            return self._import(request, connector)
        upload = request.FILES.get("file")
        if upload is None:
            return self._render(request, connector, error=_("Choose a file first."))
        if upload.size > MAX_FILE_BYTES:
            return self._render(request, connector, error=_("The file is too large."))
        data = upload.read()
        try:
            preview = preview_file(connector, upload.name, data, limit=20)
        except FileFormatError as exc:
            return self._render(request, connector, error=exc.text(_))
        sha = hashlib.sha256(data).hexdigest()
        (_pending_dir() / sha).write_bytes(data)
        return self._render(request, connector, preview=preview, pending_sha=sha, pending_name=upload.name)

    def _import(self, request, connector):
        sha, name = request.POST.get("sha256", ""), request.POST.get("filename", "upload")
        path = _pending_dir() / sha
        if not _SHA.match(sha) or not path.exists():
            messages.error(request, _("Preview the file again: it is no longer waiting for import."))
            return redirect("connector-imports", pk=connector.pk)
        with because(_("legacy file import from the connector page")):
            outcome = import_file(connector, name, path.read_bytes(), origin=ImportedFile.Origin.UPLOAD,
                                  user=request.user)
        path.unlink(missing_ok=True)
        record = outcome.record
        if outcome.already_imported:
            messages.info(request, _("This file was imported before; nothing was stored again."))
        elif record.status == ImportedFile.Status.FAILED:
            messages.error(request, record.message)
        else:
            messages.success(request, _("%(stored)s measurements stored, %(duplicates)s already present, "
                                        "%(errors)s row problems.") % {
                "stored": record.stored, "duplicates": record.duplicates, "errors": record.error_count})
        return redirect("connector-imports", pk=connector.pk)
