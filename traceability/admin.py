"""Django admin for lots, production runs and genealogy (every change versioned, and so audited); holds, serial numbers
and verdicts are read-only here: they change only through traceability.services (row locks, e-signatures, audit and
the verdict write-through that keeps MES's answers consistent)."""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from qms.admin import ReadOnlyAdmin, SiteScopedAdminMixin
from traceability.models import GenealogyEdge, Hold, HoldLot, Lot, LotRun, SerialNumber
from traceability.verdicts.models import LotVerdict, PendingVerdictPublication, VerdictCacheState


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


@admin.register(SerialNumber)
class SerialNumberAdmin(ReadOnlyAdmin):
    list_display = ("serial", "lot", "site", "created_at")
    list_filter = ("site",)
    search_fields = ("serial", "lot__code")
    list_select_related = ("lot", "site")
    show_full_result_count = False


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    """No held-lot inline: a window freeze holds thousands of lots — the held-lot list pages and filters them."""

    list_display = ("number", "site", "state", "source", "reason", "equipment", "window_start", "window_end",
                    "propagate_forward", "placed_at", "placed_by", "released_at")
    list_filter = ("site", "state", "source")
    search_fields = ("number", "reason", "placed_by")
    list_select_related = ("site", "equipment")
    date_hierarchy = "placed_at"


@admin.register(HoldLot)
class HoldLotAdmin(ReadOnlyAdmin):
    site_lookup = "hold__site"
    list_display = ("hold", "lot", "via", "depth", "disposition", "disposed_at", "disposed_by", "signature")
    list_filter = ("disposition", "via", "hold__site")
    search_fields = ("lot__code", "hold__number", "disposed_by")
    list_select_related = ("hold", "lot", "signature")
    raw_id_fields = ("hold", "lot", "signature")
    show_full_result_count = False


@admin.register(LotVerdict)
class LotVerdictAdmin(ReadOnlyAdmin):
    list_display = ("lot", "site", "verdict", "change", "changed_at")
    list_filter = ("site", "verdict")
    search_fields = ("lot__code",)
    list_select_related = ("lot", "site")
    raw_id_fields = ("lot",)
    show_full_result_count = False


@admin.register(PendingVerdictPublication)
class PendingVerdictPublicationAdmin(ReadOnlyAdmin):
    """Big hold changes whose verdict push to MES has not run yet; normally empty within seconds of a commit."""

    list_display = ("pk", "site", "lot_count", "created_at")
    list_filter = ("site",)
    exclude = ("packed_lot_ids",)
    show_full_result_count = False


@admin.register(VerdictCacheState)
class VerdictCacheStateAdmin(admin.ModelAdmin):
    """One row, written by the verdict cache rebuild and by writers that could not reach Redis."""

    list_display = ("id", "epoch", "rebuilt_at", "invalidated_at")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
