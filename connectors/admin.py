"""Django admin for connectors. The configuration is also editable here (validated per kind by Connector.clean);
secrets are not shown — set them in the Connectors UI or the API. Status rows and write-back commands are
evidence: read-only."""
from django.contrib import admin

from connectors.models import Connector, ConnectorStatus, TagMapping, WriteBackCommand
from qms.admin import ReadOnlyAdmin, VersionedAdmin


class TagMappingInline(admin.TabularInline):
    model = TagMapping
    extra = 0
    fields = ("characteristic", "source_ref", "params", "enabled", "last_value_at", "last_quality", "stale_since")
    readonly_fields = ("last_value_at", "last_quality", "stale_since")
    autocomplete_fields = ("characteristic",)


@admin.register(Connector)
class ConnectorAdmin(VersionedAdmin):
    list_display = ("name", "site", "kind", "enabled", "shadow_mode", "runner_group", "updated_at")
    list_filter = ("kind", "enabled", "shadow_mode", "site")
    search_fields = ("name", "description")
    exclude = ("secrets",)
    inlines = [TagMappingInline]


@admin.register(ConnectorStatus)
class ConnectorStatusAdmin(ReadOnlyAdmin):
    site_lookup = "connector__site"
    list_display = ("connector", "state", "received", "stored", "rejected", "buffered", "reconnects", "heartbeat_at")
    list_filter = ("state",)


@admin.register(WriteBackCommand)
class WriteBackCommandAdmin(ReadOnlyAdmin):
    site_lookup = "connector__site"
    list_display = ("created_at", "connector", "target", "value", "status", "attempts", "requested_by")
    list_filter = ("status",)
    search_fields = ("target", "reason")
