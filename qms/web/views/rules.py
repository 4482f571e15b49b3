"""Reaction-rule pages: list, detail with version history, create, edit, enable/disable."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.generic import DetailView, ListView, View

from qms.models import ReactionRule
from qms.services import reaction_rules as service
from qms.web.access import SitePageMixin
from qms.web.forms.common import add_service_errors
from qms.web.forms.rules import ReactionRuleForm, ToggleForm
from qms.web.history import version_history


class RuleListView(SitePageMixin, ListView):
    permission_required = "qms.view_reactionrule"
    template_name = "qms/rules/list.html"
    context_object_name = "rules"
    paginate_by = 100

    def get_queryset(self):
        return (ReactionRule.objects.filter(site=self.site).select_related("writeback_connector")
                .prefetch_related("characteristics", "equipment", "lines").order_by("name"))


class RuleMixin(SitePageMixin):
    def get_rule(self, pk) -> ReactionRule:
        return self.get_object_in_sites(ReactionRule.objects.select_related("site", "writeback_connector"), pk=pk)


class RuleDetailView(RuleMixin, DetailView):
    permission_required = "qms.view_reactionrule"
    template_name = "qms/rules/detail.html"
    context_object_name = "rule"

    def get_object(self, queryset=None):
        return self.get_rule(self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["versions"] = version_history(self.object)
        context["toggle_form"] = ToggleForm(initial={"version": self.object.version})
        return context


class RuleHistoryView(RuleMixin, View):
    permission_required = "qms.view_reactionrule"

    def get(self, request, pk):
        rule = self.get_rule(pk)
        return render(request, "qms/rules/history_page.html",
                      {"site": self.site, "rule": rule, "versions": version_history(rule, limit=200)})


class RuleCreateView(SitePageMixin, View):
    permission_required = "qms.add_reactionrule"
    template_name = "qms/rules/form.html"

    def get(self, request):
        return render(request, self.template_name, {"site": self.site, "form": ReactionRuleForm(site=self.site)})

    def post(self, request):
        form = ReactionRuleForm(request.POST, site=self.site)
        if form.is_valid():
            try:
                rule = service.create_rule(self.site, form.service_data())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Reaction rule “%(name)s” created.") % {"name": rule.name})
                return redirect("rule-detail", pk=rule.pk)
        return render(request, self.template_name, {"site": self.site, "form": form}, status=400)


class RuleUpdateView(RuleMixin, View):
    permission_required = "qms.change_reactionrule"
    template_name = "qms/rules/form.html"

    def get(self, request, pk):
        rule = self.get_rule(pk)
        form = ReactionRuleForm(site=rule.site, instance=rule)
        return render(request, self.template_name, {"site": self.site, "form": form, "rule": rule})

    def post(self, request, pk):
        rule = self.get_rule(pk)
        form = ReactionRuleForm(request.POST, site=rule.site, instance=rule)
        if form.is_valid():
            try:
                service.update_rule(rule.pk, form.service_data(), reason=form.cleaned_data.get("reason", ""),
                                    expected_version=form.cleaned_data.get("version"))
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Reaction rule “%(name)s” saved.") % {"name": rule.name})
                return redirect("rule-detail", pk=rule.pk)
        return render(request, self.template_name, {"site": self.site, "form": form, "rule": rule}, status=400)


class RuleToggleView(RuleMixin, View):
    """POST: enable a disabled rule, or disable an enabled one (with a reason)."""

    permission_required = "qms.change_reactionrule"

    def post(self, request, pk):
        rule = self.get_rule(pk)
        form = ToggleForm(request.POST)
        if form.is_valid():
            try:
                if rule.enabled:
                    service.disable_rule(rule.pk, reason=form.cleaned_data["reason"],
                                         expected_version=form.cleaned_data.get("version"))
                    messages.success(request, _("Reaction rule “%(name)s” disabled.") % {"name": rule.name})
                else:
                    service.enable_rule(rule.pk, reason=form.cleaned_data["reason"],
                                        expected_version=form.cleaned_data.get("version"))
                    messages.success(request, _("Reaction rule “%(name)s” enabled.") % {"name": rule.name})
                return redirect("rule-detail", pk=rule.pk)
            except ValidationError as exc:
                add_service_errors(form, exc)
        context = {"site": self.site, "rule": rule, "versions": version_history(rule), "toggle_form": form}
        return render(request, "qms/rules/detail.html", context, status=400)
