"""API tokens of the current site: list, issue (the raw token is shown once), revoke. Admins (qms.add_apitoken)."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.generic import ListView, View

from qms.auth import tokens as token_service
from qms.models import ApiToken
from qms.web.access import SitePageMixin
from qms.web.forms.common import add_service_errors
from qms.web.forms.tokens import TokenCreateForm, TokenRevokeForm


class TokenListView(SitePageMixin, ListView):
    permission_required = "qms.add_apitoken"
    template_name = "qms/tokens/list.html"
    context_object_name = "tokens"

    def get_queryset(self):
        return site_tokens(self.site)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["form"] = TokenCreateForm()
        return context


class TokenCreateView(SitePageMixin, View):
    permission_required = "qms.add_apitoken"

    def get(self, request):
        return redirect("token-list")

    def post(self, request):
        form = TokenCreateForm(request.POST)
        if form.is_valid():
            try:
                token, raw = token_service.issue_token(
                    name=form.cleaned_data["name"], site=self.site, scopes=form.cleaned_data["scopes"],
                    created_by=request.user, expires_at=form.cleaned_data["expires_at"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                # Rendered, not redirected: the raw token must never be stored, not even in the session.
                response = render(request, "qms/tokens/created.html", {"site": self.site, "token": token, "raw": raw})
                response["Cache-Control"] = "no-store"
                return response
        tokens = site_tokens(self.site)
        return render(request, "qms/tokens/list.html", {"site": self.site, "tokens": tokens, "form": form}, status=400)


def site_tokens(site):
    """Live tokens first, then the revoked ones (kept: the audit trail and last-used times refer to them)."""
    return ApiToken.objects.filter(site=site).select_related("created_by", "revoked_by").order_by(
        F("revoked_at").asc(nulls_first=True), "name"
    )


class TokenRevokeView(SitePageMixin, View):
    permission_required = "qms.change_apitoken"

    def get_token(self, pk):
        return self.get_object_in_sites(ApiToken.objects.select_related("site"), pk=pk)

    def get(self, request, pk):
        token = self.get_token(pk)
        return render(request, "qms/tokens/revoke.html", {"site": self.site, "token": token, "form": TokenRevokeForm()})

    def post(self, request, pk):
        token = self.get_token(pk)
        form = TokenRevokeForm(request.POST)
        if form.is_valid():
            try:
                token_service.revoke_token(token.pk, user=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Token %(name)s revoked: it no longer opens the API.") % {"name": token.name})
                return redirect("token-list")
        return render(request, "qms/tokens/revoke.html", {"site": self.site, "token": token, "form": form}, status=400)
