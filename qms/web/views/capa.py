"""8D CAPA pages: the list, opening a CAPA, the 8D workspace (one section per step, each with its own form) and the
"my tasks" page. Every POST calls one service function; a refusal re-renders the workspace with the message next
to the field at fault (status 400/403/409), success redirects back to the step's section."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Case, IntegerField, Q, When
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import ListView

from qms.capa_rules import FIVE_W_TWO_H, PREVENTION_KINDS
from qms.models import Action, Capa, CapaStep, Characteristic, RootCause
from qms.services import capa as capa_service
from qms.services.approval_notices import pending_approvals_context
from qms.services.attachments import add_attachment, attachments_of, is_image
from qms.services.capa import CapaError
from qms.services.capa_errors import problem_message
from qms.services.nc_errors import NcError
from qms.web.access import SitePageMixin
from qms.web.capa_history import capa_history
from qms.web.effectiveness_text import defect_rate_text, reason_messages
from qms.web.signing import stale_means_unsigned

FIVE_W_TWO_H_LABELS = {
    "what": gettext_lazy("What is the problem?"), "where": gettext_lazy("Where was it seen?"),
    "when": gettext_lazy("When did it happen?"), "who": gettext_lazy("Who found it / who is affected?"),
    "why": gettext_lazy("Why is it a problem?"), "how": gettext_lazy("How was it found?"),
    "how_many": gettext_lazy("How many / how much?"),
}


# Where the page scrolls back to after an operation without a step (the section's id).
SECTION_OF_OPERATION = {"plan": "effectiveness", "attach": "attachments", "cancel": "close"}


class CapaListView(SitePageMixin, ListView):
    permission_required = "qms.view_capa"
    template_name = "qms/capa/list.html"
    paginate_by = 50

    def get_queryset(self):
        queryset = Capa.objects.filter(site=self.site).select_related("champion")
        state = self.request.GET.get("state", "open")
        if state in Capa.State.values:
            queryset = queryset.filter(state=state)
        text = self.request.GET.get("q", "").strip()
        if text:
            queryset = queryset.filter(Q(number__icontains=text) | Q(title__icontains=text))
        return queryset.order_by("-created_at")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(states=Capa.State.choices, state=self.request.GET.get("state", "open"),
                       q=self.request.GET.get("q", ""))
        return context


class CapaCreateView(SitePageMixin, View):
    permission_required = "qms.add_capa"

    def get(self, request):
        return self.page(request, {}, None)

    def page(self, request, posted, error, status=200):
        return render(request, "qms/capa/new.html", {"site": self.site, "posted": posted, "error": error,
                                                     "people": _people(self.site),
                                                     "prefill_ncs": request.GET.get("nc", "")}, status=status)

    def post(self, request):
        posted = request.POST
        ncs = [n.strip() for n in posted.get("nonconformances", "").replace(",", " ").split() if n.strip()]
        try:
            capa = capa_service.open_capa(self.site, title=posted.get("title", ""), user=request.user,
                                          nonconformances=ncs, champion=posted.get("champion") or None)
        except CapaError as error:
            return self.page(request, posted, error, status=error.http_status)
        return HttpResponseRedirect(reverse("capa-detail", args=[capa.pk]))


def _people(site):
    return get_user_model().objects.filter(is_active=True, site_memberships__site=site).order_by("username")


class CapaDetailView(SitePageMixin, View):
    """The 8D workspace. POST /capas/<pk>/<operation>/[<step>/] runs one service call."""

    permission_required = "qms.view_capa"

    def get(self, request, pk):
        return self.page(request, pk)

    def page(self, request, pk, error: CapaError | None = None, section: str = "", posted=None, status=200):
        capa = self.get_object_in_sites(Capa.objects.select_related("site", "champion", "product", "line",
                                                                    "closed_signature__user"), pk=pk)
        steps = list(capa.steps.select_related("submitted_by", "approved_signature__user").order_by("step"))
        causes = list(capa.root_causes.order_by("category", "pk"))
        actions = list(capa.actions.select_related("owner", "root_cause", "equipment").order_by("due_date", "pk"))
        for row in steps:
            row.problems = [problem_message(p) for p in capa_service.step_problems(capa, row.step)] \
                if row.state == CapaStep.State.OPEN else []
            row.slug = row.step.lower()
            row.actions = [a for a in actions if a.capa_step == row.step]
            if posted and section == row.step and "version" in posted:
                row.content = step_content(row.step, posted)  # show what was typed next to the error
        fishbone = [(value, label, [c for c in causes if c.category == value]) for value, label in
                    RootCause.Category.choices]
        field_error = {"section": section, "field": getattr(error, "field", None),
                       "message": getattr(error, "message", ""),
                       "problems": (error.details or {}).get("problems", []) if error else []}
        user = request.user
        return render(request, "qms/capa/detail.html", {
            "site": self.site, "capa": capa, "steps": steps, "signatures": _signatures(capa, steps),
            "effectiveness_reasons": reason_messages(capa.effectiveness_data),
            "defect_rate": defect_rate_text(capa.effectiveness_data),
            "attachments": [(a, is_image(a)) for a in attachments_of(capa)],
            "may_attach": capa.state == Capa.State.OPEN and user.has_perm("qms.add_attachment"),
            "causes": causes, "actions": actions,
            "fishbone": fishbone, "categories": RootCause.Category.choices, "error": field_error if error else None,
            "posted": posted or {}, "people": _people(capa.site), "five_w_two_h": FIVE_W_TWO_H_LABELS.items(),
            "prevention_kinds": _prevention_kinds(), "action_kinds": Action.Kind.choices,
            "characteristics": Characteristic.objects.filter(site=capa.site).order_by("code"),
            "chosen_characteristics": set(capa.characteristics.values_list("pk", flat=True)),
            "root_causes": [c for c in causes if c.is_root_cause],
            "history": capa_history(capa, limit=60), "today": timezone.localdate(),
        }, status=status)

    def post(self, request, pk, operation, step=""):
        handler = getattr(self, f"do_{operation}", None)
        if handler is None:
            return self.page(request, pk, CapaError("invalid", _("Unknown operation.")), status=400)
        capa = self.get_object_in_sites(Capa.objects.all(), pk=pk)
        try:
            handler(request, capa, step.upper())
        except CapaError as error:
            return self.page(request, pk, error, section=step.upper() or operation, posted=request.POST,
                             status=error.http_status)
        anchor = f"#step-{step.upper()}" if step else f"#{SECTION_OF_OPERATION.get(operation, operation)}"
        return HttpResponseRedirect(reverse("capa-detail", args=[pk]) + anchor)

    # --- operations (one service call each) ---

    def do_save(self, request, capa, step):
        capa_service.save_step(capa.pk, step, user=request.user, content=step_content(step, request.POST),
                               expected_version=request.POST.get("version"))

    def do_submit(self, request, capa, step):
        """"Save and submit": the button belongs to the step's content form, so what was typed is saved first (only
        when it differs from what is stored) — nobody loses a filled form by submitting without saving."""
        if "version" in request.POST:
            row = capa.steps.filter(step=step).first()
            content = step_content(step, request.POST)
            if row is not None and not _same_content(row.content, content):
                capa_service.save_step(capa.pk, step, user=request.user, content=content,
                                       expected_version=request.POST.get("version"))
        capa_service.submit_step(capa.pk, step, user=request.user)

    def do_approve(self, request, capa, step):
        with stale_means_unsigned():
            capa_service.approve_step(capa.pk, step, user=request.user, password=request.POST.get("password", ""),
                                      meaning=request.POST.get("meaning", ""),
                                      expected_version=request.POST.get("version"))

    def do_reopen(self, request, capa, step):
        capa_service.reopen_step(capa.pk, step, user=request.user, reason=request.POST.get("reason", ""))

    def do_cause(self, request, capa, step):
        values = {"category": request.POST.get("category", ""), "cause": request.POST.get("cause", ""),
                  "whys": [w for w in request.POST.getlist("why")],
                  "is_root_cause": request.POST.get("is_root_cause") == "on",
                  "verified": request.POST.get("verified") == "on"}
        cause_id = request.POST.get("cause_id")
        if cause_id:
            if not RootCause.objects.filter(pk=cause_id, capa=capa).exists():
                raise CapaError("not_found", _("That cause does not exist."))
            capa_service.update_root_cause(int(cause_id), user=request.user, changes=values)
        else:
            capa_service.add_root_cause(capa.pk, user=request.user, **values)

    def do_action(self, request, capa, step):
        posted = request.POST
        capa_service.create_action(
            capa.site, user=request.user, title=posted.get("title", ""), owner=posted.get("owner", ""),
            due_date=posted.get("due_date", ""), kind=posted.get("kind", Action.Kind.CORRECTIVE), capa=capa,
            capa_step=step, description=posted.get("description", ""), verification=posted.get("verification", ""),
            root_cause=posted.get("root_cause") or None, equipment=posted.get("equipment") or None,
            mes_instruction=posted.get("mes_instruction") == "on")

    def do_complete(self, request, capa, step):
        action_id = request.POST.get("action_id")
        if not capa.actions.filter(pk=action_id).exists():
            raise CapaError("not_found", _("That action does not exist."))
        capa_service.complete_action(int(action_id), user=request.user, note=request.POST.get("note", ""))

    def do_plan(self, request, capa, step):
        posted = request.POST
        capa_service.update_capa(capa.pk, user=request.user, expected_version=posted.get("version"), changes={
            "characteristics": posted.getlist("characteristics"),
            "baseline_start": posted.get("baseline_start") or None, "baseline_end": posted.get("baseline_end") or None,
            "effective_from": posted.get("effective_from") or None})

    def do_effectiveness(self, request, capa, step):
        capa_service.check_effectiveness(capa.pk, user=request.user)

    def do_close(self, request, capa, step):
        with stale_means_unsigned():
            capa_service.close_capa(capa.pk, user=request.user, password=request.POST.get("password", ""),
                                    meaning=request.POST.get("meaning", ""), expected_version=request.POST.get("version"))

    def do_cancel(self, request, capa, step):
        capa_service.cancel_capa(capa.pk, user=request.user, reason=request.POST.get("reason", ""))

    def do_attach(self, request, capa, step):
        """A photo or file for the CAPA: the NC attachments' checks (type from the bytes, size limit, SHA-256)."""
        if not request.user.has_perm("qms.add_attachment"):
            raise CapaError("not_permitted", _("Your role may not attach files."))
        if capa.state != Capa.State.OPEN:
            raise CapaError("capa_not_open", _("%(number)s is %(state)s; nothing can be attached any more.")
                            % {"number": capa.number, "state": capa.get_state_display()})
        uploaded = request.FILES.get("file")
        if uploaded is None:
            raise CapaError("required", _("Choose a file to attach."), field="file")
        try:
            add_attachment(capa, user=request.user, uploaded_file=uploaded)
        except NcError as error:
            raise CapaError(error.code, error.message, field=error.field or "file", details=error.details) from None


def _same_content(stored: dict, posted: dict) -> bool:
    """Whether a posted step form says what is stored (blank rows and surrounding spaces do not count)."""
    def meaningful(value):
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, list):
            rows = [meaningful(row) for row in value]
            return [row for row in rows if row not in ("", {}, [], None)]
        if isinstance(value, dict):
            return {k: v for k, v in ((k, meaningful(v)) for k, v in value.items()) if v not in ("", {}, [], None)}
        return value
    return meaningful(stored or {}) == meaningful(posted)


def _signatures(capa, steps) -> list[dict]:
    """The signatures that stand: each approved step's and the closing one (earlier ones of reopened steps stay in
    the audit trail and on the 8D report)."""
    rows = [{"key": row.step, "label": row.get_step_display(), "signature": row.approved_signature}
            for row in steps if row.approved_signature is not None]
    if capa.closed_signature is not None:
        rows.append({"key": "close", "label": _("Closure of the 8D"), "signature": capa.closed_signature})
    return rows


def _prevention_kinds():
    labels = {"dictionary_limits": _("changed limits in the data dictionary"), "control_plan": _("control plan"),
              "document": _("document / work instruction"), "lesson_learned": _("lesson learned")}
    return [(kind, labels[kind]) for kind in PREVENTION_KINDS]


def step_content(step: str, posted) -> dict:
    """The step form's fields as the service's content (repeatable rows come as parallel lists)."""
    # The form always offers one empty row to fill; an untouched row (a select keeps its first choice) is no row.
    if step == "D1":
        members = [{"user": u, "role": r} for u, r in zip(posted.getlist("member_user"),
                                                          posted.getlist("member_role"), strict=False)
                   if u.strip() or r.strip()]
        return {"champion": posted.get("champion", ""), "members": members, "notes": posted.get("notes", "")}
    if step == "D7":
        items = [{"kind": k, "reference": r, "description": d} for k, r, d in zip(
            posted.getlist("item_kind"), posted.getlist("item_reference"), posted.getlist("item_description"),
            strict=False) if r.strip() or d.strip()]
        return {"items": items, "notes": posted.get("notes", "")}
    names = {"D0": ("symptom", "emergency_response"), "D2": FIVE_W_TWO_H, "D8": ("recognition", "notes")}.get(
        step, ("notes",))
    return {name: posted.get(name, "") for name in names}


class TaskListView(SitePageMixin, ListView):
    """My tasks: my open actions of this site, overdue first, each completable with a note."""

    permission_required = "qms.view_action"
    template_name = "qms/capa/tasks.html"

    def get_queryset(self):
        today = timezone.localdate()
        return Action.objects.filter(site=self.site, owner=self.request.user, state=Action.State.OPEN) \
            .select_related("capa", "nc", "equipment") \
            .annotate(late=Case(When(due_date__lt=today, then=0), default=1, output_field=IntegerField())) \
            .order_by("late", "due_date", "pk")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["today"] = timezone.localdate()
        context["error"] = getattr(self, "error", None)
        context.update(pending_approvals_context(self.request, self.site))  # votes/approvals waiting (fix6)
        return context

    def post(self, request, pk):
        try:
            capa_service.complete_action(pk, user=request.user, note=request.POST.get("note", ""))
        except CapaError as error:
            self.error = {"action": pk, "message": error.message}
            self.object_list = self.get_queryset()
            response = self.render_to_response(self.get_context_data())
            response.status_code = error.http_status
            return response
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            return HttpResponseRedirect(target)
        return HttpResponseRedirect(reverse("task-list"))
