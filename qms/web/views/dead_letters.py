"""Dead letters — measurement items the ingestion rejected: list, inspect, correct and replay, discard with a note."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.generic import ListView, View

from qms.models import DeadLetter
from qms.services.dead_letters import discard_dead_letter, replay_dead_letter
from qms.web.access import SitePageMixin
from qms.web.forms.common import add_service_errors
from qms.web.forms.dead_letters import BulkActionForm, DeadLetterFilter, DiscardForm, ReplayForm


class DeadLetterListView(SitePageMixin, ListView):
    permission_required = "qms.view_deadletter"
    template_name = "qms/dead_letters/list.html"
    context_object_name = "letters"
    paginate_by = 50

    def get_queryset(self):
        letters = DeadLetter.objects.filter(site=self.site).select_related("batch", "resolved_by")
        self.filterset = DeadLetterFilter(self.request.GET, queryset=letters.order_by("-created_at", "index"))
        return self.filterset.qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["filter"] = self.filterset
        context["bulk_actions"] = BulkActionForm.ACTIONS
        return context


class DeadLetterMixin(SitePageMixin):
    def get_letter(self, pk) -> DeadLetter:
        return self.get_object_in_sites(DeadLetter.objects.select_related("site", "batch", "resolved_by"), pk=pk)

    def render_detail(self, letter, *, replay_form=None, discard_form=None, status=200):
        return render(self.request, "qms/dead_letters/detail.html", {
            "site": self.site, "letter": letter,
            "replay_form": replay_form or ReplayForm(letter=letter),
            "discard_form": discard_form or DiscardForm(),
        }, status=status)


class DeadLetterDetailView(DeadLetterMixin, View):
    permission_required = "qms.view_deadletter"

    def get(self, request, pk):
        return self.render_detail(self.get_letter(pk))


def replay_message(result: dict) -> str:
    if result["outcome"] == "stored":
        text = _("Replayed: stored as measurement #%(id)s with value %(value)s.") % {
            "id": result["measurement_id"], "value": result["value"]}
        if result.get("rounded"):
            text += " " + _("The value was rounded to the dictionary precision.")
        return text
    return _("Replayed: the point was already stored, nothing new was written. The dead letter is closed.")


class DeadLetterReplayView(DeadLetterMixin, View):
    permission_required = "qms.change_deadletter"

    def post(self, request, pk):
        letter = self.get_letter(pk)
        form = ReplayForm(request.POST, letter=letter)
        if form.is_valid():
            try:
                result = replay_dead_letter(letter.pk, user=request.user, corrected_payload=form.corrected_payload())
            except DeadLetter.DoesNotExist:
                raise Http404 from None
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, replay_message(result))
                return redirect("dead-letter-list")
        return self.render_detail(letter, replay_form=form, status=400)


class DeadLetterDiscardView(DeadLetterMixin, View):
    permission_required = "qms.change_deadletter"

    def post(self, request, pk):
        letter = self.get_letter(pk)
        form = DiscardForm(request.POST)
        if form.is_valid():
            try:
                discard_dead_letter(letter.pk, user=request.user, note=form.cleaned_data["note"])
            except DeadLetter.DoesNotExist:
                raise Http404 from None
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Dead letter #%(id)s discarded.") % {"id": letter.pk})
                return redirect("dead-letter-list")
        return self.render_detail(letter, discard_form=form, status=400)


class DeadLetterBulkView(SitePageMixin, View):
    """Replay or discard several open letters at once (e.g. after adding a missing dictionary entry).

    Each letter goes through the same service call as on its own page, in its own transaction: one that is still
    invalid stays open and is reported, the others are resolved.
    """

    permission_required = "qms.change_deadletter"

    def post(self, request):
        form = BulkActionForm(request.POST, site=self.site)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect("dead-letter-list")
        done, failed = 0, []
        for letter in form.cleaned_data["letters"]:
            try:
                if form.cleaned_data["action"] == "replay":
                    replay_dead_letter(letter.pk, user=request.user)
                else:
                    discard_dead_letter(letter.pk, user=request.user, note=form.cleaned_data["note"])
            except (ValidationError, DeadLetter.DoesNotExist) as exc:
                failed.append((letter.pk, "; ".join(getattr(exc, "messages", [str(exc)]))))
            else:
                done += 1
        if done:
            messages.success(request, ngettext("%(count)d dead letter resolved.", "%(count)d dead letters resolved.",
                                               done) % {"count": done})
        for pk, problem in failed[:20]:
            messages.error(request, _("Dead letter #%(id)s stays open: %(problem)s") % {"id": pk, "problem": problem})
        return redirect("dead-letter-list")
