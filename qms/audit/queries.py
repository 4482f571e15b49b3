"""Which audit entries a requester may see, and the filters auditors use (shared by the API and the web UI)."""
from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from qms.auth.scoping import allowed_site_ids
from qms.models import AuditEntry


def visible_audit_entries(request_or_user) -> QuerySet:
    """Entries of the requester's sites plus the global ones (site NULL: user accounts, roles, system changes).

    Global entries are shown to auditors of every site: they record who was given which role, and roles decide
    what may be done to every site's records, so no site's review is complete without them.
    """
    site_ids = allowed_site_ids(request_or_user)
    return AuditEntry.objects.filter(Q(site_id__in=site_ids) | Q(site__isnull=True))


class AuditEntryFilter(django_filters.FilterSet):
    """?model=qms.Characteristic (or just characteristic) &object_pk= &actor= &action= &site= &since= &until="""

    model = django_filters.CharFilter(method="filter_model", label=_("record type"))
    object_pk = django_filters.CharFilter(field_name="object_pk", label=_("record id"))
    actor = django_filters.CharFilter(field_name="actor", lookup_expr="iexact", label=_("who"))
    action = django_filters.ChoiceFilter(field_name="action", choices=AuditEntry.Action.choices, label=_("action"))
    site = django_filters.CharFilter(field_name="site__code", label=_("site"))
    since = django_filters.IsoDateTimeFilter(field_name="ts", lookup_expr="gte", label=_("since"))
    until = django_filters.IsoDateTimeFilter(field_name="ts", lookup_expr="lte", label=_("until"))

    class Meta:
        model = AuditEntry
        fields: list[str] = []

    def filter_model(self, queryset, name, value):
        value = value.strip()
        if "." in value:
            return queryset.filter(model__iexact=value)
        return queryset.filter(model__iendswith=f".{value}")
