"""Admin pages of the improvement records — CAPAs (8D), their steps, root causes and actions: read-only evidence.
They change only through qms.services.capa / qms.services.actions and the /capas/ pages (step order, e-signed
approvals, separation of duties, versions, audit). Imported by qms.admin; a registration made elsewhere first wins."""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from qms.admin import ReadOnlyAdmin
from qms.models import Action, Capa, CapaStep, RootCause


class CapaAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ("number", "title", "site", "state", "effectiveness", "champion", "created_at", "closed_at")
    list_filter = ("site", "state", "effectiveness")
    search_fields = ("number", "title")
    list_select_related = ("site", "champion")
    date_hierarchy = "created_at"


class CapaStepAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    site_lookup = "capa__site"
    list_display = ("capa", "step", "state", "submitted_by", "submitted_at", "approved_signature", "approved_at")
    list_filter = ("state", "step", "capa__site")
    search_fields = ("capa__number", "capa__title")
    list_select_related = ("capa", "submitted_by", "approved_signature")


class RootCauseAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    site_lookup = "capa__site"
    list_display = ("capa", "category", "cause", "is_root_cause", "verified")
    list_filter = ("category", "is_root_cause", "verified", "capa__site")
    search_fields = ("cause", "capa__number")
    list_select_related = ("capa",)


class ActionAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ("title", "site", "kind", "state", "owner", "due_date", "nc", "capa", "mes_instruction",
                    "completed_at")
    list_filter = ("site", "state", "kind", "mes_instruction")
    search_fields = ("title", "description", "owner__username")
    list_select_related = ("site", "owner", "nc", "capa")
    date_hierarchy = "due_date"


for _model, _model_admin in ((Capa, CapaAdmin), (CapaStep, CapaStepAdmin), (RootCause, RootCauseAdmin),
                             (Action, ActionAdmin)):
    if not admin.site.is_registered(_model):
        admin.site.register(_model, _model_admin)
