"""The whole-story page /story/<kind>/<id>/ (kind alarm|hold|nc|capa) and the pieces the `{% story_chain %}` tag
reuses on the records' own detail pages: stages with each record's link, its version history and (for those who may
read it) its audit trail."""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from qms.auth.scoping import allowed_site_ids
from qms.services.story import KINDS, Story, StoryNotFound, collect_story
from qms.web.access import SitePageMixin
from qms.web.history import version_history

# The record pages, by kind; the first name that resolves wins (the NC/CAPA pages are owned by their modules).
DETAIL_URL_NAMES = {"alarm": ("alarm-detail",), "hold": ("hold-detail",), "nc": ("nc-detail",),
                    "capa": ("capa-detail",)}
STAGE_TITLES = {"alarm": gettext_lazy("Alarm"), "hold": gettext_lazy("Hold"), "nc": gettext_lazy("Nonconformance"),
                "capa": gettext_lazy("CAPA (8D)")}
HISTORY_SHOWN = 20


def detail_url(kind: str, pk: int) -> str | None:
    for name in DETAIL_URL_NAMES[kind]:
        try:
            return reverse(name, args=[pk])
        except NoReverseMatch:
            continue
    return None


def audit_url(record) -> str:
    return f"{reverse('audit-list')}?{urlencode({'model': record._meta.label_lower, 'object_pk': record.pk})}"


@dataclass
class StoryRecord:
    kind: str
    record: object
    url: str | None
    story_url: str
    audit_url: str | None
    is_start: bool
    history: list = field(default_factory=list)


@dataclass
class Stage:
    kind: str
    title: str
    records: list[StoryRecord]


def stages(story: Story, user) -> list[Stage]:
    may_audit = user.has_perm("qms.view_auditentry")
    by_kind = {"alarm": story.alarms, "hold": story.holds, "nc": story.ncs, "capa": story.capas}
    result = []
    for kind in KINDS:
        records = []
        for record in by_kind[kind]:
            history = version_history(record, limit=HISTORY_SHOWN) if hasattr(record, "history") else []
            records.append(StoryRecord(
                kind=kind, record=record, url=detail_url(kind, record.pk),
                story_url=reverse("story", args=[kind, record.pk]),
                audit_url=audit_url(record) if may_audit else None,
                is_start=(kind == story.start_kind and record.pk == story.start_id), history=history,
            ))
        result.append(Stage(kind=kind, title=str(STAGE_TITLES[kind]), records=records))
    return result


def story_context(kind: str, pk: int, user) -> dict:
    """What templates/qms/story/_chain.html needs. Raises Http404 outside the user's sites."""
    try:
        story = collect_story(kind, pk, allowed_site_ids(user))
    except StoryNotFound:
        raise Http404 from None
    return {"story": story, "stages": stages(story, user)}


class StoryView(SitePageMixin, TemplateView):
    template_name = "qms/story/page.html"
    permission_required = ("qms.view_nonconformance", "qms.view_alarm")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(story_context(self.kwargs["kind"], self.kwargs["pk"], self.request.user))
        context["start_title"] = STAGE_TITLES[self.kwargs["kind"]]
        return context
