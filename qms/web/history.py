"""A versioned record's history (django-simple-history) as people read it: version, who, when, why, what changed."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from qms.web.presentation import display

KINDS = {"+": _("created"), "~": _("changed"), "-": _("deleted")}
# Bookkeeping columns that change on every save and say nothing to the reader.
NOT_SHOWN = {"updated_at", "version"}


@dataclass
class FieldChange:
    label: str
    before: str
    after: str


@dataclass
class Version:
    number: int | None
    when: object
    who: str
    kind: str
    reason: str
    changes: list[FieldChange] = field(default_factory=list)


def _who(record) -> str:
    actor = getattr(record, "history_actor", "")
    if actor:
        return actor
    return record.history_user.get_username() if record.history_user_id else str(_("system"))


def _value(model, name: str, value, formatters) -> str:
    if name in formatters:
        return formatters[name](value)
    model_field = model._meta.get_field(name)
    if model_field.is_relation and value is not None:
        related = model_field.related_model.objects.filter(pk=value).first()
        return str(related) if related is not None else f"#{value}"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    return display(value)


def version_history(instance, limit: int = 50, formatters: dict[str, Callable[[object], str]] | None = None
                    ) -> list[Version]:
    """Newest first. The oldest shown version is diffed against its predecessor even when that is beyond `limit`.
    `formatters` show chosen fields their own way (structured JSON, say) instead of the generic display."""
    formatters = formatters or {}
    model = type(instance)
    records = list(instance.history.select_related("history_user").order_by("-history_date", "-history_id")[:limit + 1])
    versions = []
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if previous is not None and record.history_type != "-":
            delta = record.diff_against(previous, excluded_fields=NOT_SHOWN)
            for change in sorted(delta.changes, key=lambda c: c.field):
                changes.append(FieldChange(
                    label=str(model._meta.get_field(change.field).verbose_name),
                    before=_value(model, change.field, change.old, formatters),
                    after=_value(model, change.field, change.new, formatters),
                ))
        versions.append(Version(
            number=getattr(record, "version", None), when=record.history_date, who=_who(record),
            kind=str(KINDS.get(record.history_type, record.history_type)), reason=record.history_change_reason or "",
            changes=changes,
        ))
    return versions
