from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from qms.models import AuditEntry
from qms.web.forms.common import DateInput
from qms.web.presentation import record_type_label


class AuditFilter(django_filters.FilterSet):
    model = django_filters.ChoiceFilter(label=_("Record type"), empty_label=_("All record types"))
    object_pk = django_filters.CharFilter(label=_("Record id"))
    actor = django_filters.CharFilter(label=_("Who"), lookup_expr="icontains")
    action = django_filters.ChoiceFilter(label=_("Action"), choices=AuditEntry.Action.choices,
                                         empty_label=_("All actions"))
    since = django_filters.DateFilter(label=_("From"), field_name="ts", lookup_expr="date__gte", widget=DateInput)
    until = django_filters.DateFilter(label=_("Until"), field_name="ts", lookup_expr="date__lte", widget=DateInput)
    reason = django_filters.CharFilter(label=_("Reason contains"), lookup_expr="icontains")

    class Meta:
        model = AuditEntry
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        labels = self.queryset.order_by().values_list("model", flat=True).distinct()
        choices = sorted(((label, record_type_label(label)) for label in labels), key=lambda c: c[1])
        self.filters["model"].extra["choices"] = choices
