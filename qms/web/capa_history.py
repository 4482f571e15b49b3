"""A CAPA's whole history for its page: the record itself, its nine steps, its causes (deleted ones too) and its
actions, merged newest first (docs/capa.md, "History"). Built on `qms.web.history.version_history`; each entry
says which part of the CAPA changed."""
from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from qms.models import Action, Capa, CapaStep, RootCause
from qms.web.effectiveness_text import effectiveness_summary
from qms.web.history import Version, version_history


@dataclass
class CapaHistoryEntry:
    part: str  # what changed: "CAPA", "D4 Root cause", "Cause: heater relay", "Action: replace relay"
    anchor: str  # where on the page it lives ("", "step-D4", "cause-12", "action-7")
    version: Version

    @property
    def when(self):
        return self.version.when


# The effectiveness figures are stored as JSON; the history shows them as a sentence.
CAPA_FORMATTERS = {"effectiveness_data": effectiveness_summary}


def _entries(instance, part: str, anchor: str, limit: int, formatters=None) -> list[CapaHistoryEntry]:
    return [CapaHistoryEntry(part=part, anchor=anchor, version=version)
            for version in version_history(instance, limit=limit, formatters=formatters)]


def capa_history(capa: Capa, limit: int = 60) -> list[CapaHistoryEntry]:
    """Newest first, at most `limit` entries in all."""
    entries = _entries(capa, _("CAPA"), "", limit, CAPA_FORMATTERS)
    for row in CapaStep.objects.filter(capa=capa).order_by("step"):
        entries += _entries(row, f"{row.step} {row.get_step_display()}", f"step-{row.step}", limit)
    cause_ids = set(RootCause.history.filter(capa_id=capa.pk).values_list("id", flat=True))
    existing = {cause.pk: cause for cause in RootCause.objects.filter(pk__in=cause_ids)}
    for cause_id in sorted(cause_ids):
        # A removed cause has no row any more; its history does (the stub only carries the primary key).
        cause = existing.get(cause_id) or RootCause(pk=cause_id, capa=capa)
        label = cause.cause or RootCause.history.filter(id=cause_id).order_by("-history_id") \
            .values_list("cause", flat=True).first() or f"#{cause_id}"
        entries += _entries(cause, _("Cause: %(cause)s") % {"cause": label}, f"cause-{cause_id}", limit)
    for action in Action.objects.filter(capa=capa).order_by("pk"):
        entries += _entries(action, _("Action: %(title)s") % {"title": action.title}, f"action-{action.pk}", limit)
    entries.sort(key=lambda entry: entry.when, reverse=True)
    return entries[:limit]
