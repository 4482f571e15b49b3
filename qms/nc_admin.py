"""Admin pages of the nonconformance models: read-only evidence (changes go through qms.services.nc and the
/nc/ pages, which check states, versions, signatures and separation of duties). Registered from qms.nc_receivers."""
from django.contrib import admin
from django.db.models import Q

from qms.admin import ReadOnlyAdmin
from qms.auth.scoping import allowed_site_ids
from qms.models import Attachment, DefectCode, Disposition, DispositionApproval, NcLot, Nonconformance


class NonconformanceAdmin(ReadOnlyAdmin):
    list_display = ("number", "title", "state", "severity", "source", "created_at")
    list_filter = ("state", "severity", "source")
    search_fields = ("number", "title")


class DefectCodeAdmin(ReadOnlyAdmin):
    list_display = ("code", "name_en", "name_zh", "site", "active")
    list_filter = ("active",)

    def get_queryset(self, request):  # shared codes (no site) are everyone's
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(Q(site__isnull=True) | Q(site_id__in=allowed_site_ids(request.user)))


class NcLotAdmin(ReadOnlyAdmin):
    site_lookup = "nc__site"
    list_display = ("nc", "lot", "quantity", "unit")


class DispositionAdmin(ReadOnlyAdmin):
    site_lookup = "nc__site"
    list_display = ("nc", "decision", "quantity", "state", "approvals_required", "proposed_at")


class DispositionApprovalAdmin(ReadOnlyAdmin):
    site_lookup = "disposition__nc__site"
    list_display = ("disposition", "user", "vote", "at")


class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ("original_name", "record_model", "record_pk", "content_type", "size", "uploaded_at")


def register() -> None:
    for model, model_admin in ((Nonconformance, NonconformanceAdmin), (DefectCode, DefectCodeAdmin),
                               (NcLot, NcLotAdmin), (Disposition, DispositionAdmin),
                               (DispositionApproval, DispositionApprovalAdmin), (Attachment, AttachmentAdmin)):
        if not admin.site.is_registered(model):
            admin.site.register(model, model_admin)
