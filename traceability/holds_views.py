"""Hold pages, mounted at /holds/ by qms/urls.py: list, detail with per-lot e-signed decisions, place a hold.

Thin: forms read the input, traceability.services.holds decides; a refused request (HoldError) shows its message
and changes nothing.
"""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import ListView, TemplateView, View

from qms.models import Equipment
from qms.web.access import SitePageMixin
from traceability import services
from traceability.models import Hold, HoldLot
from traceability.services.holds import DECISIONS, HoldError

LOTS_SHOWN = 500  # a window hold can hold tens of thousands of lots; the page shows the first ones, the API all


def register_navigation() -> None:
    from qms.web.navigation import NavItem, register

    register(NavItem(gettext_lazy("Holds"), "hold-list", "traceability.view_hold", 45))


DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class HoldFilterForm(forms.Form):
    state = forms.ChoiceField(label=gettext_lazy("State"), required=False,
                              choices=[("", gettext_lazy("any"))] + list(Hold.State.choices))
    equipment = forms.CharField(label=gettext_lazy("Equipment"), required=False)
    lot = forms.CharField(label=gettext_lazy("Lot"), required=False)


class PlaceHoldForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))
    lots = forms.CharField(label=gettext_lazy("Lots"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=gettext_lazy("Lot codes, one per line or separated by commas."))
    equipment = forms.ModelChoiceField(label=gettext_lazy("Equipment"), queryset=Equipment.objects.none(),
                                       required=False, to_field_name="code")
    window_start = forms.DateTimeField(label=gettext_lazy("Window start"), required=False, widget=DATETIME_WIDGET)
    window_end = forms.DateTimeField(label=gettext_lazy("Window end"), required=False, widget=DATETIME_WIDGET,
                                     help_text=gettext_lazy("Leave empty for an open window: lots starting on the "
                                                            "equipment join the hold until it is closed."))
    propagate_forward = forms.BooleanField(label=gettext_lazy("Also hold every lot made from them"), required=False)

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["equipment"].queryset = Equipment.objects.filter(site=site).order_by("code")

    def lot_codes(self) -> list[str]:
        raw = self.cleaned_data.get("lots") or ""
        return [code.strip() for code in raw.replace(",", "\n").splitlines() if code.strip()]


class SignatureForm(forms.Form):
    password = forms.CharField(label=gettext_lazy("Your password"), widget=forms.PasswordInput, required=False,
                               strip=False)
    meaning = forms.CharField(label=gettext_lazy("Meaning of the signature"), max_length=300, required=False,
                              help_text=gettext_lazy("e.g. released after re-inspection"))
    comment = forms.CharField(label=gettext_lazy("Comment"), max_length=500, required=False)


class DisposeForm(SignatureForm):
    disposition = forms.ChoiceField(label=gettext_lazy("Decision"),
                                    choices=[(value, HoldLot.Disposition(value).label) for value in DECISIONS])
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class CloseWindowForm(forms.Form):
    end = forms.DateTimeField(label=gettext_lazy("Window end"), widget=DATETIME_WIDGET)


def show_refusal(request, error: HoldError) -> None:
    messages.error(request, error.message)


class HoldListView(SitePageMixin, ListView):
    permission_required = "traceability.view_hold"
    template_name = "traceability/holds/list.html"
    context_object_name = "holds"
    paginate_by = 50

    def get_queryset(self):
        holds = (Hold.objects.filter(site=self.site).select_related("equipment", "alarm")
                 .annotate(lot_count=Count("lots"),
                           held_count=Count("lots", filter=Q(lots__disposition=HoldLot.Disposition.HELD)))
                 .order_by("-placed_at", "-pk"))
        self.filter_form = HoldFilterForm(self.request.GET or None)
        if self.filter_form.is_valid():
            data = self.filter_form.cleaned_data
            if data["state"]:
                holds = holds.filter(state=data["state"])
            if data["equipment"]:
                holds = holds.filter(equipment__code=data["equipment"].strip())
            if data["lot"]:
                holds = holds.filter(pk__in=HoldLot.objects.filter(lot__code=data["lot"].strip()).values("hold_id"))
        return holds

    def get_context_data(self, **kwargs):
        return super().get_context_data(filter_form=self.filter_form, **kwargs)


class HoldDetailView(SitePageMixin, TemplateView):
    permission_required = "traceability.view_hold"
    template_name = "traceability/holds/detail.html"

    def get_context_data(self, **kwargs):
        hold = self.get_object_in_sites(Hold.objects.select_related("site", "equipment", "alarm"), pk=kwargs["pk"])
        entries = hold.lots.select_related("lot", "signature").order_by("depth", "lot__code")
        counts = dict(hold.lots.values_list("disposition").annotate(n=Count("pk")).order_by())
        return super().get_context_data(
            hold=hold, entries=entries[:LOTS_SHOWN], lot_total=sum(counts.values()), counts=counts,
            lots_shown=LOTS_SHOWN, dispose_form=DisposeForm(), release_form=SignatureForm(),
            close_form=CloseWindowForm(), window_open=hold.window_start is not None and hold.window_end is None,
            may_decide=self.request.user.has_perm("traceability.release_hold"),
            may_change=self.request.user.has_perm("traceability.change_hold"),
            undecided={HoldLot.Disposition.HELD, HoldLot.Disposition.REWORK}, **kwargs)


class HoldCreateView(SitePageMixin, View):
    permission_required = "traceability.add_hold"
    template_name = "traceability/holds/new.html"

    def get(self, request):
        return render(request, self.template_name, {"site": self.site, "form": PlaceHoldForm(site=self.site)})

    def post(self, request):
        form = PlaceHoldForm(request.POST, site=self.site)
        if form.is_valid():
            data = form.cleaned_data
            try:
                hold = services.holds.place_hold(
                    self.site, reason=data["reason"], lots=form.lot_codes(), equipment=data["equipment"],
                    window_start=data["window_start"], window_end=data["window_end"],
                    propagate_forward=data["propagate_forward"])
            except HoldError as error:
                field = error.field if error.field in form.fields else None
                form.add_error(field, error.message)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Hold %(number)s placed.") % {"number": hold.number})
                return redirect("hold-detail", pk=hold.pk)
        return render(request, self.template_name, {"site": self.site, "form": form}, status=400)


class HoldActionView(SitePageMixin, View):
    """Base of the POST-only actions on one hold: run `act`, show a refusal as a message, back to the hold."""

    form_class: type[forms.Form]

    def post(self, request, pk, **kwargs):
        hold = self.get_object_in_sites(Hold.objects.all(), pk=pk)
        form = self.form_class(request.POST)
        if not form.is_valid():
            for field, problems in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                messages.error(request, f"{label}: {' '.join(problems)}" if label else " ".join(problems))
        else:
            try:
                messages.success(request, self.act(hold, form.cleaned_data, **kwargs))
            except HoldError as error:
                show_refusal(request, error)
        return redirect(reverse("hold-detail", kwargs={"pk": hold.pk}))

    def get(self, request, pk, **kwargs):
        return redirect("hold-detail", pk=pk)


class HoldLotDisposeView(HoldActionView):
    permission_required = "traceability.release_hold"
    form_class = DisposeForm

    def act(self, hold, data, entry_id):
        entry = hold.lots.select_related("lot").filter(pk=entry_id).first()
        if entry is None:
            raise HoldError("not_found", _("This lot is not held by %(hold)s.") % {"hold": hold.number})
        services.holds.dispose_hold_lot(entry.pk, disposition=data["disposition"], user=self.request.user,
                                        password=data["password"], meaning=data["meaning"],
                                        comment=data["comment"], version=data["version"])
        return _("Lot %(lot)s: %(decision)s, signed.") % {
            "lot": entry.lot.code, "decision": HoldLot.Disposition(data["disposition"]).label}


class HoldReleaseView(HoldActionView):
    permission_required = "traceability.release_hold"
    form_class = SignatureForm

    def act(self, hold, data):
        services.holds.release_hold(hold.pk, user=self.request.user, password=data["password"],
                                    meaning=data["meaning"], comment=data["comment"])
        return _("Hold %(number)s released, signed.") % {"number": hold.number}


class HoldCloseWindowView(HoldActionView):
    permission_required = "traceability.change_hold"
    form_class = CloseWindowForm

    def act(self, hold, data):
        services.holds.close_hold_window(hold.pk, end=data["end"])
        return _("The window of hold %(number)s is closed.") % {"number": hold.number}
