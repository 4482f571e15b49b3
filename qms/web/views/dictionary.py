"""Data dictionary pages: list, detail with version history, create/edit/retire/delete, import with preview, export."""
from __future__ import annotations

import secrets

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import DetailView, ListView, View

from qms.models import Characteristic
from qms.services import dictionary as dictionary_service
from qms.services import dictionary_io
from qms.services.plant import InUseError
from qms.web.access import SitePageMixin
from qms.web.forms.common import add_service_errors
from qms.web.forms.dictionary import (
    CharacteristicFilter,
    CharacteristicForm,
    DeleteForm,
    ImportConfirmForm,
    ImportUploadForm,
    RetireForm,
)
from qms.web.history import version_history


class CharacteristicListView(SitePageMixin, ListView):
    permission_required = "qms.view_characteristic"
    template_name = "qms/dictionary/list.html"
    context_object_name = "characteristics"
    paginate_by = 100

    def get_queryset(self):
        queryset = Characteristic.objects.filter(site=self.site).select_related("equipment").order_by("code")
        self.filterset = CharacteristicFilter(self.request.GET or None, queryset=queryset, site=self.site)
        return self.filterset.qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["filter"] = self.filterset
        return context


class CharacteristicMixin(SitePageMixin):
    def get_characteristic(self, pk) -> Characteristic:
        return self.get_object_in_sites(
            Characteristic.objects.select_related("site", "equipment", "operation__product"), pk=pk
        )


class CharacteristicDetailView(CharacteristicMixin, DetailView):
    permission_required = "qms.view_characteristic"
    template_name = "qms/dictionary/detail.html"
    context_object_name = "characteristic"

    def get_object(self, queryset=None):
        return self.get_characteristic(self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["versions"] = version_history(self.object)
        context["retire_form"] = RetireForm()
        return context


class CharacteristicCreateView(SitePageMixin, View):
    permission_required = "qms.add_characteristic"
    template_name = "qms/dictionary/form.html"

    def get(self, request):
        form = CharacteristicForm(site=self.site, initial={"status": Characteristic.Status.DRAFT})
        return render(request, self.template_name, {"site": self.site, "form": form})

    def post(self, request):
        form = CharacteristicForm(request.POST, site=self.site)
        if form.is_valid():
            try:
                characteristic = dictionary_service.create_characteristic(self.site, form.service_data())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("%(code)s added to the data dictionary.") % {"code": characteristic.code})
                return redirect("dictionary-detail", pk=characteristic.pk)
        return render(request, self.template_name, {"site": self.site, "form": form}, status=400)


class CharacteristicUpdateView(CharacteristicMixin, View):
    permission_required = "qms.change_characteristic"
    template_name = "qms/dictionary/form.html"

    def get(self, request, pk):
        characteristic = self.get_characteristic(pk)
        form = CharacteristicForm(site=characteristic.site, instance=characteristic)
        return render(request, self.template_name, self._context(characteristic, form))

    def post(self, request, pk):
        characteristic = self.get_characteristic(pk)
        form = CharacteristicForm(request.POST, site=characteristic.site, instance=characteristic)
        if form.is_valid():
            try:
                dictionary_service.update_characteristic(
                    characteristic.pk, form.service_data(), reason=form.cleaned_data.get("reason", ""),
                    expected_version=form.cleaned_data["version"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("%(code)s saved.") % {"code": characteristic.code})
                return redirect("dictionary-detail", pk=characteristic.pk)
        return render(request, self.template_name, self._context(characteristic, form), status=400)

    def _context(self, characteristic, form):
        return {"site": self.site, "form": form, "characteristic": characteristic}


class CharacteristicRetireView(CharacteristicMixin, View):
    """Retire (take out of use, keep everything) or, for an entry without data, delete with a reason."""

    permission_required = "qms.change_characteristic"
    template_name = "qms/dictionary/retire.html"

    def get(self, request, pk):
        characteristic = self.get_characteristic(pk)
        context = self._context(characteristic, RetireForm(), DeleteForm(prefix="delete"))
        return render(request, self.template_name, context)

    def post(self, request, pk):
        characteristic = self.get_characteristic(pk)
        if "delete" in request.POST:
            return self._delete(request, characteristic)
        form = RetireForm(request.POST)
        if form.is_valid():
            try:
                dictionary_service.retire_characteristic(characteristic.pk, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("%(code)s retired: new readings of it are refused.") % {
                    "code": characteristic.code})
                return redirect("dictionary-detail", pk=characteristic.pk)
        context = self._context(characteristic, form, DeleteForm(prefix="delete"))
        return render(request, self.template_name, context, status=400)

    def _delete(self, request, characteristic):
        if not request.user.has_perm("qms.delete_characteristic"):
            raise PermissionDenied
        form = DeleteForm(request.POST, prefix="delete")
        if form.is_valid():
            try:
                dictionary_service.delete_characteristic(characteristic.pk, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            except InUseError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("%(code)s deleted.") % {"code": characteristic.code})
                return redirect("dictionary-list")
        return render(request, self.template_name, self._context(characteristic, RetireForm(), form), status=400)

    def _context(self, characteristic, retire_form, delete_form):
        return {"site": self.site, "characteristic": characteristic, "form": retire_form, "delete_form": delete_form}


class DictionaryExportView(SitePageMixin, View):
    permission_required = "qms.view_characteristic"
    CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}

    def get(self, request):
        fmt = request.GET.get("format", "csv")
        if fmt not in self.CONTENT_TYPES:
            raise Http404
        content = dictionary_io.export_dictionary(self.site, fmt)  # CSV comes with the BOM Excel needs
        response = HttpResponse(content, content_type=self.CONTENT_TYPES[fmt])
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="dictionary-{self.site.code}-{stamp}.{fmt}"'
        return response


# --- import: upload → preview (dry run) → confirm with reason → apply ---------------------------------------------
# The uploaded text waits in the session between preview and confirmation, so what is applied is exactly what was
# previewed; it is checked again when applied (the dictionary may have changed in between).
PENDING_IMPORTS = "qp_pending_imports"
MAX_PENDING_IMPORTS = 3


def _pending(request) -> dict:
    return request.session.get(PENDING_IMPORTS, {})


class ImportUploadView(SitePageMixin, View):
    permission_required = ("qms.add_characteristic", "qms.change_characteristic")
    template_name = "qms/dictionary/import.html"

    def get(self, request):
        return render(request, self.template_name, {"site": self.site, "form": ImportUploadForm()})

    def post(self, request):
        form = ImportUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.template_name, {"site": self.site, "form": form}, status=400)
        raw, fmt = form.cleaned_data["content"], form.cleaned_data["fmt"]
        try:
            content = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Not importable as it is: the service's preview says which encoding it looks like and how to re-save it.
            preview = dictionary_io.preview_import(self.site, raw, fmt)
            return render(request, ImportPreviewView.template_name, {
                "site": self.site, "preview": preview, "pending": {"filename": form.cleaned_data["file"].name},
                "labels": ACTION_LABELS}, status=400)
        pending = _pending(request)
        while len(pending) >= MAX_PENDING_IMPORTS:
            pending.pop(next(iter(pending)))
        import_id = secrets.token_urlsafe(12)
        pending[import_id] = {
            "site_id": self.site.pk, "fmt": fmt, "content": content,
            "filename": form.cleaned_data["file"].name, "uploaded_at": timezone.now().isoformat(),
        }
        request.session[PENDING_IMPORTS] = pending
        return redirect("dictionary-import-preview", import_id=import_id)


class ImportPreviewView(SitePageMixin, View):
    permission_required = ("qms.add_characteristic", "qms.change_characteristic")
    template_name = "qms/dictionary/import_preview.html"

    def get_pending(self, import_id) -> dict:
        pending = _pending(self.request).get(import_id)
        if pending is None or pending["site_id"] != self.site.pk:
            raise Http404
        return pending

    def get(self, request, import_id):
        pending = self.get_pending(import_id)
        preview = dictionary_io.preview_import(self.site, pending["content"], pending["fmt"])
        return render(request, self.template_name, self._context(import_id, pending, preview, ImportConfirmForm()))

    def post(self, request, import_id):
        pending = self.get_pending(import_id)
        form = ImportConfirmForm(request.POST)
        if form.is_valid():
            try:
                result = dictionary_io.apply_import(
                    self.site, pending["content"], pending["fmt"], reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
                result = dictionary_io.preview_import(self.site, pending["content"], pending["fmt"])
            else:
                if result.applied:
                    sessions = _pending(request)
                    sessions.pop(import_id, None)
                    request.session[PENDING_IMPORTS] = sessions
                    messages.success(request, _("Import applied: %(summary)s.") % {"summary": summary_text(result)})
                    return redirect(reverse("dictionary-list"))
                form.add_error(None, _("Nothing was written: the file has problems (listed below)."))
        else:
            result = dictionary_io.preview_import(self.site, pending["content"], pending["fmt"])
        return render(request, self.template_name, self._context(import_id, pending, result, form), status=400)

    def _context(self, import_id, pending, preview, form):
        return {"site": self.site, "import_id": import_id, "pending": pending, "preview": preview, "form": form,
                "labels": ACTION_LABELS}


ACTION_LABELS = {
    "create": gettext_lazy("new"), "update": gettext_lazy("changed"), "unchanged": gettext_lazy("unchanged"),
    "invalid": gettext_lazy("invalid"),
}


def summary_text(preview) -> str:
    counts = preview.counts
    return ", ".join(f"{ACTION_LABELS[action]} {counts[action]}" for action in ACTION_LABELS if counts[action])
