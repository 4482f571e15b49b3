"""The 8D report of a CAPA: /capas/<id>/report/ (a printable page: A4, one section per step, signatures with name,
meaning and time, no navigation) and /capas/<id>/report.pdf (the same page rendered by WeasyPrint, when installed).

Read-only; the CAPA must lie in one of the viewer's sites (404 otherwise)."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from qms.models import Capa, CapaStep, ESignature
from qms.web.access import SitePageMixin
from qms.web.effectiveness_text import reason_messages

# Labels for the content keys the CAPA forms store (qms.services.capa TEXT_FIELDS / LIST_FIELDS); an unknown key is
# shown with its name made readable, so a field added later still prints.
CONTENT_LABELS = {
    "symptom": gettext_lazy("Symptom"), "emergency_response": gettext_lazy("Emergency response"),
    "champion": gettext_lazy("Champion"), "notes": gettext_lazy("Notes"), "members": gettext_lazy("Team members"),
    "what": gettext_lazy("What"), "where": gettext_lazy("Where"), "when": gettext_lazy("When"),
    "who": gettext_lazy("Who"), "why": gettext_lazy("Why"), "how": gettext_lazy("How"),
    "how_many": gettext_lazy("How many"), "items": gettext_lazy("Prevention items"),
    "recognition": gettext_lazy("Recognition"), "user": gettext_lazy("Person"), "role": gettext_lazy("Role"),
    "kind": gettext_lazy("Kind"), "reference": gettext_lazy("Reference"), "description": gettext_lazy("Description"),
}


def content_label(key: str) -> str:
    return str(CONTENT_LABELS.get(key, key.replace("_", " ").capitalize()))


@dataclass
class ContentTable:
    label: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class StepSection:
    step: CapaStep
    texts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[ContentTable] = field(default_factory=list)
    signatures: list[ESignature] = field(default_factory=list)
    actions: list = field(default_factory=list)


def split_content(content: dict) -> tuple[list[tuple[str, str]], list[ContentTable]]:
    """Scalars as (label, text); lists of dicts as tables; plain lists as one text per line."""
    texts, tables = [], []
    for key, value in (content or {}).items():
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            columns = list(dict.fromkeys(column for item in value for column in item))
            tables.append(ContentTable(content_label(key), [content_label(c) for c in columns],
                                       [[_text(item.get(c)) for c in columns] for item in value]))
        elif value not in (None, "", [], {}):
            texts.append((content_label(key), "\n".join(map(_text, value)) if isinstance(value, list) else _text(value)))
    return texts, tables


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def report_context(capa: Capa) -> dict:
    steps = list(capa.steps.select_related("submitted_by").order_by("step"))
    signatures = ESignature.objects.filter(
        record_model__in=[CapaStep._meta.label_lower, Capa._meta.label_lower],
        record_pk__in=[str(step.pk) for step in steps] + [str(capa.pk)],
    ).select_related("user").order_by("signed_at", "id")
    by_step: dict[str, list[ESignature]] = {}
    capa_signatures = []
    step_by_pk = {str(step.pk): step.step for step in steps}
    for signature in signatures:
        if signature.record_model == CapaStep._meta.label_lower:
            by_step.setdefault(step_by_pk[signature.record_pk], []).append(signature)
        else:
            capa_signatures.append(signature)
    actions = list(capa.actions.select_related("owner", "completed_by").order_by("capa_step", "due_date", "id"))
    sections = []
    for step in steps:
        texts, tables = split_content(step.content)
        sections.append(StepSection(step=step, texts=texts, tables=tables, signatures=by_step.get(step.step, []),
                                    actions=[a for a in actions if a.capa_step == step.step]))
    return {
        "capa": capa, "sections": sections, "capa_signatures": capa_signatures,
        "unassigned_actions": [a for a in actions if a.capa_step not in {s.step for s in steps}],
        "root_causes": list(capa.root_causes.all()), "ncs": list(capa.nonconformances.order_by("number")),
        "team": list(capa.team.order_by("username")), "characteristics": list(capa.characteristics.order_by("code")),
        "effectiveness": capa.effectiveness_data or {}, "printed_at": timezone.now(),
        "effectiveness_reasons": reason_messages(capa.effectiveness_data),
    }


def pdf_available() -> bool:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):  # OSError: the Python package is there but Pango is not
        return False
    return True


class CapaReportView(SitePageMixin, TemplateView):
    template_name = "qms/capa_report/report.html"
    permission_required = "qms.view_capa"

    def get_capa(self) -> Capa:
        return self.get_object_in_sites(Capa.objects.select_related("site", "champion", "created_by"),
                                        pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(report_context(self.get_capa()))
        context["pdf_available"] = pdf_available()
        return context


class CapaReportPdfView(CapaReportView):
    def get(self, request, *args, **kwargs):
        if not pdf_available():
            return HttpResponse(_("PDF export is not installed on this server (WeasyPrint); use the browser's "
                                  "\"Print → Save as PDF\" on the report page."), status=501,
                                content_type="text/plain; charset=utf-8")
        import weasyprint

        context = self.get_context_data(**kwargs)
        context["for_pdf"] = True
        html = render_to_string(self.template_name, context, request=request)
        pdf = weasyprint.HTML(string=html).write_pdf()  # styles are inline: nothing to fetch
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{context["capa"].number}-8D.pdf"'
        return response
