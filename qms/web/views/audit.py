"""Audit trail: browse, export, verify the hash chain. Auditors and admins (qms.view_auditentry)."""
from django.contrib import messages
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.generic import ListView, View

from qms.audit.chain import verify_chain
from qms.audit.export import export_audit_csv
from qms.audit.queries import visible_audit_entries
from qms.web.access import SitePageMixin
from qms.web.forms.audit import AuditFilter


class AuditFilterMixin(SitePageMixin):
    permission_required = "qms.view_auditentry"

    def filtered_entries(self):
        # This site's entries and the global ones (user accounts, roles): both belong to a site's review.
        entries = visible_audit_entries(self.request.user).filter(Q(site=self.site) | Q(site__isnull=True))
        entries = entries.order_by("-seq")
        self.filterset = AuditFilter(self.request.GET or None, queryset=entries)
        return self.filterset.qs


class AuditListView(AuditFilterMixin, ListView):
    template_name = "qms/audit/list.html"
    context_object_name = "entries"
    paginate_by = 50

    def get_queryset(self):
        return self.filtered_entries()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["filter"] = self.filterset
        context["verification"] = self.request.session.pop("qp_audit_verification", None)
        return context


class AuditExportView(AuditFilterMixin, View):
    """CSV of the filtered entries with hashes and the hashed payload, so the export can be re-verified elsewhere."""

    def get(self, request):
        response = StreamingHttpResponse(export_audit_csv(self.filtered_entries()), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="audit-{self.site.code}-{stamp}.csv"'
        return response


class VerifyChainView(AuditFilterMixin, View):
    """Walks the whole chain (every site: the hashes link across sites) and reports what it found."""

    def post(self, request):
        checked, problems = verify_chain()
        request.session["qp_audit_verification"] = {
            "checked": checked,
            "problems": [{"seq": p.seq, "problem": p.problem} for p in problems[:100]],
            "problem_count": len(problems),
        }
        if problems:
            messages.error(request, ngettext(
                "The audit chain is broken: %(count)d problem found.",
                "The audit chain is broken: %(count)d problems found.", len(problems)) % {"count": len(problems)})
        else:
            messages.success(request, ngettext(
                "The audit chain is intact: %(count)d entry checked.",
                "The audit chain is intact: %(count)d entries checked.", checked) % {"count": checked})
        return redirect("audit-list")

