"""Django admin for the QMS models.

Versioned models use SimpleHistoryAdmin (their history page lists every version). Records that are evidence —
measurements, ingest batches, dead letters, production events, the audit trail — are read-only here: they are
written by the ingestion and audit services only, and corrected through the UI's own workflows. API tokens are
issued and revoked in the UI (the raw token must be shown once, and revocation needs a reason).
Staff who are not superusers see only the records of their own sites.
"""
from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from qms.auth.scoping import allowed_site_ids
from qms.models import (
    ApiToken,
    Area,
    AuditChainHead,
    AuditEntry,
    Characteristic,
    CycleTimeRecord,
    DeadLetter,
    Equipment,
    EquipmentStateEvent,
    IngestBatch,
    Line,
    Measurement,
    Operation,
    Product,
    Site,
    SiteMembership,
    WorkCenter,
)
from qms.services import dictionary as dictionary_service

admin.site.site_header = _("QualityPulse administration")
admin.site.site_title = _("QualityPulse administration")
admin.site.index_title = _("Master data and records")


class SiteScopedAdminMixin:
    """Limit the change list and every lookup to the user's sites along `site_lookup` (superusers see all)."""

    site_lookup = "site"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.site_lookup}__in": allowed_site_ids(request.user)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Site and not request.user.is_superuser:
            kwargs["queryset"] = Site.objects.filter(pk__in=allowed_site_ids(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    """Viewable evidence: no add, change or delete from the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class VersionedAdmin(SiteScopedAdminMixin, SimpleHistoryAdmin):
    pass


# ---- Plant model -------------------------------------------------------------------------------------------------
@admin.register(Site)
class SiteAdmin(VersionedAdmin):
    site_lookup = "pk"
    list_display = ("code", "name", "timezone")
    search_fields = ("code", "name")


@admin.register(Area)
class AreaAdmin(VersionedAdmin):
    list_display = ("code", "name", "site")
    list_filter = ("site",)
    search_fields = ("code", "name")


@admin.register(Line)
class LineAdmin(VersionedAdmin):
    site_lookup = "area__site"
    list_display = ("code", "name", "area")
    list_filter = ("area__site",)
    search_fields = ("code", "name")


@admin.register(WorkCenter)
class WorkCenterAdmin(VersionedAdmin):
    site_lookup = "line__area__site"
    list_display = ("code", "name", "line")
    list_filter = ("line__area__site",)
    search_fields = ("code", "name")


@admin.register(Equipment)
class EquipmentAdmin(VersionedAdmin):
    list_display = ("code", "name", "kind", "work_center", "site")
    list_filter = ("site", "kind")
    search_fields = ("code", "name")
    list_select_related = ("site", "work_center")


class OperationInline(admin.TabularInline):
    model = Operation
    extra = 0


@admin.register(Product)
class ProductAdmin(VersionedAdmin):
    list_display = ("part_number", "revision", "name", "site")
    list_filter = ("site",)
    search_fields = ("part_number", "name")
    inlines = [OperationInline]


@admin.register(Operation)
class OperationAdmin(VersionedAdmin):
    site_lookup = "product__site"
    list_display = ("product", "sequence", "code", "name", "work_center")
    list_filter = ("product__site",)
    search_fields = ("code", "name", "product__part_number")


# ---- Data dictionary ---------------------------------------------------------------------------------------------
class CharacteristicAdminForm(forms.ModelForm):
    """The admin's form for dictionary entries, checked and saved by the dictionary service like every other path."""

    change_reason = forms.CharField(
        label=_("Reason for the change"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when a released entry changes in a way that alters how data is judged."),
    )

    class Meta:
        model = Characteristic
        fields = ("site", *dictionary_service.EDITABLE_FIELDS)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        site = self.instance.site if self.instance.pk else cleaned.get("site")
        change = dictionary_service.validate_change(
            site, self.service_data(), instance=self.instance if self.instance.pk else None
        )
        for field, messages in change.errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        if change.ok and change.reason_required and not (cleaned.get("change_reason") or "").strip():
            self.add_error("change_reason", _("Give a reason: this changes how a released entry judges data."))
        return cleaned

    def service_data(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in dictionary_service.EDITABLE_FIELDS}


@admin.register(Characteristic)
class CharacteristicAdmin(VersionedAdmin):
    form = CharacteristicAdminForm
    list_display = ("code", "name_en", "name_zh", "unit", "lsl", "nominal", "usl", "criticality", "status", "version")
    list_filter = ("site", "status", "criticality", "data_type")
    search_fields = ("code", "name_en", "name_zh")
    list_select_related = ("site",)

    def get_readonly_fields(self, request, obj=None):
        return ("site", "version", "updated_at") if obj is not None else ("version", "updated_at")

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data.get("change_reason", "")
        if change:
            saved = dictionary_service.update_characteristic(obj.pk, form.service_data(), reason=reason)
        else:
            saved = dictionary_service.create_characteristic(form.cleaned_data["site"], form.service_data(), reason=reason)
        obj.pk, obj.version = saved.pk, saved.version


# ---- Users and machine clients -----------------------------------------------------------------------------------
@admin.register(SiteMembership)
class SiteMembershipAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    list_display = ("user", "site")
    list_filter = ("site",)
    search_fields = ("user__username",)
    autocomplete_fields = ("user",)


class SiteMembershipInline(admin.TabularInline):
    model = SiteMembership
    extra = 0
    verbose_name = _("site")
    verbose_name_plural = _("sites this user belongs to")


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class QualityPulseUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, SiteMembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("name", "site", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("site", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix")
    exclude = ("token_hash",)


# ---- Measurements and what the ingestion rejected ----------------------------------------------------------------
@admin.register(Measurement)
class MeasurementAdmin(ReadOnlyAdmin):
    site_lookup = "characteristic__site"
    list_display = ("characteristic", "ts", "value", "quality", "lot_code", "equipment", "source")
    list_filter = ("quality", "characteristic__site")
    search_fields = ("characteristic__code", "lot_code")
    list_select_related = ("characteristic", "equipment")
    date_hierarchy = "ts"
    show_full_result_count = False  # counting millions of rows on every page view is not worth it


@admin.register(IngestBatch)
class IngestBatchAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "site", "client", "item_count", "stored_count", "duplicate_count", "rejected_count",
                    "status_code")
    list_filter = ("site", "status_code")
    search_fields = ("client", "idempotency_key")
    exclude = ("response",)


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "site", "code", "field", "message", "status", "resolved_by")
    list_filter = ("site", "status", "code")
    search_fields = ("message", "source")


@admin.register(EquipmentStateEvent)
class EquipmentStateEventAdmin(ReadOnlyAdmin):
    site_lookup = "equipment__site"
    list_display = ("equipment", "ts", "state", "reason", "source")
    list_filter = ("state", "equipment__site")
    date_hierarchy = "ts"


@admin.register(CycleTimeRecord)
class CycleTimeRecordAdmin(ReadOnlyAdmin):
    site_lookup = "equipment__site"
    list_display = ("equipment", "ts", "cycle_time_s", "lot_code", "shot_counter", "source")
    list_filter = ("equipment__site",)
    date_hierarchy = "ts"
    show_full_result_count = False


# ---- Audit trail: append-only --------------------------------------------------------------------------------------
@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("seq", "ts", "actor", "action", "model", "object_pk", "object_repr", "reason")
    list_filter = ("action", "model", "site")
    search_fields = ("object_repr", "object_pk", "actor", "reason")
    date_hierarchy = "ts"


@admin.register(AuditChainHead)
class AuditChainHeadAdmin(admin.ModelAdmin):
    list_display = ("id", "last_seq", "last_hash")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# ---- Alarms: changed only through qms.services.alarms (row-locked, audited), so read-only here ----------------------
from qms.models import Alarm, AlarmEvent, Notification  # noqa: E402  (kept beside their admins)


class AlarmEventInline(admin.TabularInline):
    model = AlarmEvent
    fields = ("id", "kind", "at", "actor", "comment")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alarm)
class AlarmAdmin(ReadOnlyAdmin):
    list_display = ("id", "site", "severity", "state", "title", "raised_at", "occurrences", "acknowledged_by",
                    "escalation_level")
    list_filter = ("site", "state", "severity", "alarm_type")
    search_fields = ("title", "source_key")
    date_hierarchy = "raised_at"
    inlines = [AlarmEventInline]


@admin.register(AlarmEvent)
class AlarmEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "alarm", "kind", "at", "actor", "comment")
    list_filter = ("kind", "site")
    date_hierarchy = "at"
    show_full_result_count = False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "site", "kind", "title", "created_at", "read_at", "emailed_at")
    list_filter = ("kind", "site")
    date_hierarchy = "created_at"


# ---- Reaction rules and e-signatures -------------------------------------------------------------------------------
from qms.models import ESignature, ReactionRule  # noqa: E402  (kept beside their admins)


@admin.register(ReactionRule)
class ReactionRuleAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    """Read-only: rules are validated (thresholds, scope), versioned, audited and their evaluation cache refreshed by
    qms.services.reaction_rules — edited on the rules pages or through the API, never around them."""

    list_display = ("name", "site", "enabled", "trigger", "threshold", "severity", "freeze", "open_nc_draft",
                    "hold_command", "version", "updated_at")
    list_filter = ("site", "enabled", "trigger", "severity", "freeze")
    search_fields = ("name", "description", "characteristic_pattern")


@admin.register(ESignature)
class ESignatureAdmin(ReadOnlyAdmin):
    """Signatures are created only by qms.services.esignature.sign (which re-checks the password) and never change."""

    list_display = ("signed_at", "signer_name", "user", "meaning", "record_model", "record_pk", "site")
    list_filter = ("site", "record_model")
    search_fields = ("signer_name", "meaning", "record_pk", "content_hash")
    list_select_related = ("user", "site")
    date_hierarchy = "signed_at"


from qms import admin_improvement  # noqa: E402,F401  (CAPA, 8D steps, root causes, actions: read-only)
