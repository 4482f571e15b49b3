"""Django admin for lots, production runs and genealogy; every change is versioned (and so audited)."""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from qms.admin import SiteScopedAdminMixin
from traceability.models import GenealogyEdge, Lot, LotRun


class LotRunInline(admin.TabularInline):
    model = LotRun
    extra = 0
    fields = ("equipment", "started_at", "ended_at")


@admin.register(Lot)
class LotAdmin(SiteScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ("code", "kind", "product", "quantity", "unit", "supplier", "site", "created_at")
    list_filter = ("site", "kind")
    search_fields = ("code", "supplier")
    list_select_related = ("site", "product")
    inlines = [LotRunInline]


@admin.register(LotRun)
class LotRunAdmin(SiteScopedAdminMixin, SimpleHistoryAdmin):
    site_lookup = "lot__site"
    list_display = ("lot", "equipment", "started_at", "ended_at")
    list_filter = ("lot__site", ("ended_at", admin.EmptyFieldListFilter))
    search_fields = ("lot__code", "equipment__code")
    list_select_related = ("lot", "equipment")
    date_hierarchy = "started_at"


@admin.register(GenealogyEdge)
class GenealogyEdgeAdmin(SiteScopedAdminMixin, SimpleHistoryAdmin):
    site_lookup = "child__site"
    list_display = ("parent", "child", "quantity", "unit", "created_at")
    list_filter = ("child__site",)
    search_fields = ("parent__code", "child__code")
    list_select_related = ("parent", "child")
