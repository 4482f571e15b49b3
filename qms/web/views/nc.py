"""Nonconformance pages, mounted at /nc/ by qms/urls.py: list, detail (the story alarm → hold → NC, lots,
dispositions and MRB votes, attachments, history), create/edit, transitions, e-signed votes, the defect catalogue.

Thin: forms read the input, qms.services.nc decides; a refusal (NcError) shows its message and changes nothing.
"""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.generic import ListView, TemplateView, View

from qms.api.nc import attachment_response
from qms.auth.scoping import allowed_site_ids
from qms.models import Attachment, DefectCode, Disposition, Nonconformance
from qms.services import defect_codes as codes_service
from qms.services import nc as nc_service
from qms.services.attachments import attachments_of, is_image
from qms.services.nc_errors import NcError
from qms.web.access import SitePageMixin
from qms.web.forms.nc import (
    AttachmentForm,
    CancelForm,
    CloseForm,
    DefectCodeForm,
    NcEditForm,
    NcFilterForm,
    NcForm,
    ProposeForm,
    SignatureForm,
    VoteForm,
    lots_as_text,
)
from qms.web.history import version_history
from qms.web.signing import stale_means_unsigned

NC_FIELDS = ("title", "source", "severity", "product", "line", "equipment", "operation", "characteristic",
             "detection_point", "defect_codes", "description", "containment")


def show_form_errors(request, form) -> None:
    for field, problems in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        messages.error(request, f"{label}: {' '.join(problems)}" if label else " ".join(problems))


def put_on_form(form, error: NcError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


class NcListView(SitePageMixin, ListView):
    permission_required = "qms.view_nonconformance"
    template_name = "qms/nc/list.html"
    context_object_name = "ncs"
    paginate_by = 50

    def get_queryset(self):
        ncs = (Nonconformance.objects.filter(site=self.site)
               .select_related("product", "line", "equipment", "owner").prefetch_related("defect_codes")
               .annotate(lot_count=Count("lots", distinct=True)).order_by("-created_at", "-pk"))
        self.filter_form = NcFilterForm(self.request.GET or None, site=self.site)
        if self.filter_form.is_valid():
            data = self.filter_form.cleaned_data
            for name in ("state", "severity", "source", "line", "product"):
                if data[name]:
                    ncs = ncs.filter(**{name: data[name]})
            if data["defect_code"]:
                ncs = ncs.filter(defect_codes=data["defect_code"])
        return ncs

    def get_context_data(self, **kwargs):
        return super().get_context_data(filter_form=self.filter_form, **kwargs)


def story_context(nc: Nonconformance) -> dict:
    """What the story include (templates/qms/nc/story.html) needs: alarm → holds → NC → lots and their decisions.
    Reusable by other pages (reports)."""
    holds = list(nc.holds.order_by("pk"))
    from traceability.models import HoldLot

    held = (HoldLot.objects.filter(hold__in=holds, lot__in=nc.lots.values("lot")).select_related("lot", "hold")
            .order_by("lot__code"))
    return {"story_nc": nc, "story_alarm": nc.alarm, "story_holds": holds, "story_held_lots": list(held)}


class NcDetailView(SitePageMixin, TemplateView):
    permission_required = "qms.view_nonconformance"
    template_name = "qms/nc/detail.html"

    def get_context_data(self, **kwargs):
        nc = self.get_object_in_sites(
            Nonconformance.objects.select_related("site", "product", "line", "equipment", "operation",
                                                  "characteristic", "alarm", "created_by", "owner"), pk=kwargs["pk"])
        user = self.request.user
        lots = list(nc.lots.select_related("lot").order_by("lot__code"))
        dispositions = list(nc.dispositions.select_related("nc_lot__lot", "proposed_by")
                            .prefetch_related("approvals__user", "approvals__signature").order_by("proposed_at"))
        attachments = [(attachment, is_image(attachment)) for attachment in attachments_of(nc)]
        in_disposition = nc.state == Nonconformance.State.DISPOSITION
        return super().get_context_data(
            nc=nc, lots=lots, dispositions=dispositions, attachments=attachments,
            versions=version_history(nc), not_adding_up=nc_service.lots_not_adding_up(nc) if in_disposition else [],
            may_change=user.has_perm("qms.change_nonconformance"),
            may_propose=in_disposition and user.has_perm("qms.add_disposition"),
            may_vote=in_disposition and user.has_perm("qms.approve_disposition"),
            may_attach=user.has_perm("qms.add_attachment") and nc.state not in ("closed", "cancelled"),
            propose_form=ProposeForm(nc=nc), vote_form=VoteForm(), sign_form=SignatureForm(),
            cancel_form=CancelForm(), attachment_form=AttachmentForm(), **story_context(nc), **kwargs)


class NcCreateView(SitePageMixin, View):
    permission_required = "qms.add_nonconformance"
    template_name = "qms/nc/form.html"

    def get(self, request):
        return render(request, self.template_name, {"site": self.site, "form": NcForm(site=self.site)})

    def post(self, request):
        form = NcForm(request.POST, site=self.site)
        if form.is_valid():
            try:
                nc = nc_service.create_nc(self.site, user=request.user, **form.service_fields())
            except NcError as error:
                put_on_form(form, error)
            else:
                messages.success(request, _("%(number)s reported.") % {"number": nc.number})
                return redirect("nc-detail", pk=nc.pk)
        return render(request, self.template_name, {"site": self.site, "form": form}, status=400)


class NcEditView(SitePageMixin, View):
    permission_required = "qms.change_nonconformance"
    template_name = "qms/nc/form.html"

    def nc(self, pk):
        return self.get_object_in_sites(Nonconformance.objects.all(), pk=pk)

    def form(self, nc, data=None):
        initial = {name: getattr(nc, name) for name in NC_FIELDS if name != "defect_codes"}
        initial.update(defect_codes=list(nc.defect_codes.all()), lots=lots_as_text(nc), version=nc.version)
        return NcEditForm(data, initial=initial, site=nc.site,
                          lots_editable=nc.state in nc_service.LOTS_EDITABLE_STATES)

    def get(self, request, pk):
        nc = self.nc(pk)
        return render(request, self.template_name, {"site": self.site, "form": self.form(nc), "nc": nc})

    def post(self, request, pk):
        nc = self.nc(pk)
        form = self.form(nc, request.POST)
        if form.is_valid():
            changes = form.service_fields()
            version = changes.pop("version")
            try:
                nc_service.update_nc(nc.pk, user=request.user, changes=changes, expected_version=version)
            except NcError as error:
                put_on_form(form, error)
            else:
                messages.success(request, _("%(number)s saved.") % {"number": nc.number})
                return redirect("nc-detail", pk=nc.pk)
        return render(request, self.template_name, {"site": self.site, "form": form, "nc": nc}, status=400)


class NcActionView(SitePageMixin, View):
    """Base of the POST-only actions on one NC: run `act`, show a refusal as a message, back to the NC."""

    form_class: type[forms.Form] = forms.Form

    def post(self, request, pk, **kwargs):
        nc = self.get_object_in_sites(Nonconformance.objects.all(), pk=pk)
        form = self.make_form(nc)
        if not form.is_valid():
            show_form_errors(request, form)
        else:
            try:
                messages.success(request, self.act(nc, form.cleaned_data, **kwargs))
            except NcError as error:
                messages.error(request, error.message)
        return redirect("nc-detail", pk=nc.pk)

    def make_form(self, nc):
        return self.form_class(self.request.POST, self.request.FILES)

    def get(self, request, pk, **kwargs):
        return redirect("nc-detail", pk=pk)


def close_reviewed_nc(nc_id: int, *, user, password: str, meaning: str, version: int | None = None):
    """close_nc with the version the signer reviewed on the page."""
    with stale_means_unsigned():
        return nc_service.close_nc(nc_id, user=user, password=password, meaning=meaning, expected_version=version)


def vote_on_reviewed_nc(disposition_id: int, *, user, version: int | None = None, **vote):
    """approve_disposition with the NC version the voter reviewed on the page."""
    with stale_means_unsigned():
        return nc_service.approve_disposition(disposition_id, user=user, expected_version=version, **vote)


TRANSITIONS = {
    "open": (nc_service.open_nc, forms.Form, _("opened")),
    "start-disposition": (nc_service.start_disposition, forms.Form, _("in disposition")),
    "complete-disposition": (nc_service.complete_disposition, forms.Form, _("dispositioned")),
    "close": (close_reviewed_nc, CloseForm, _("closed, signed")),
    "cancel": (nc_service.cancel_nc, CancelForm, _("cancelled")),
}


class NcTransitionView(NcActionView):
    permission_required = "qms.change_nonconformance"

    def make_form(self, nc):
        name = self.kwargs["transition"]
        if name not in TRANSITIONS:
            raise Http404
        return TRANSITIONS[name][1](self.request.POST)

    def act(self, nc, data, transition):
        service, _form, done = TRANSITIONS[transition]
        service(nc.pk, user=self.request.user, **data)
        return f"{nc.number}: {done}"


class NcAttachView(NcActionView):
    permission_required = "qms.add_attachment"
    form_class = AttachmentForm

    def act(self, nc, data):
        attachment = nc_service.add_attachment(nc, user=self.request.user, uploaded_file=data["file"])
        return _("%(name)s attached.") % {"name": attachment.original_name}


class NcProposeView(NcActionView):
    permission_required = "qms.add_disposition"

    def make_form(self, nc):
        return ProposeForm(self.request.POST, nc=nc)

    def act(self, nc, data):
        disposition = nc_service.propose_disposition(nc.pk, user=self.request.user, nc_lot_id=data["nc_lot"],
                                                     decision=data["decision"], quantity=data["quantity"],
                                                     rationale=data["rationale"])
        return _("Proposed: %(disposition)s; the MRB needs %(n)d approval(s).") % {
            "disposition": disposition, "n": disposition.approvals_required}


class DispositionVoteView(SitePageMixin, View):
    permission_required = "qms.approve_disposition"

    def post(self, request, disposition_id):
        disposition = self.get_object_in_sites(Disposition.objects.select_related("nc"), site_lookup="nc__site",
                                               pk=disposition_id)
        form = VoteForm(request.POST)
        if not form.is_valid():
            show_form_errors(request, form)
        else:
            try:
                decided = vote_on_reviewed_nc(disposition.pk, user=request.user, **form.cleaned_data)
            except NcError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, _("Your vote is signed; the disposition is %(state)s.")
                                 % {"state": decided.get_state_display()})
        return redirect("nc-detail", pk=disposition.nc_id)


class AttachmentView(SitePageMixin, View):
    """The file, to people who may view attachments of its site; images inline, the rest as a download."""

    permission_required = "qms.view_attachment"

    def get(self, request, attachment_id):
        attachment = Attachment.objects.filter(pk=attachment_id, site_id__in=allowed_site_ids(request.user)).first()
        if attachment is None:
            raise Http404
        return attachment_response(attachment, inline=is_image(attachment))


class DefectCodeListView(SitePageMixin, View):
    permission_required = "qms.view_defectcode"
    template_name = "qms/nc/defect_codes.html"

    def render_page(self, form, status=200):
        codes = codes_service.codes_for_site(self.site, include_inactive=True).select_related("site")
        return render(self.request, self.template_name, {
            "site": self.site, "rows": codes_service.tree(list(codes)), "form": form,
            "may_add": self.request.user.has_perm("qms.add_defectcode"),
            "may_change": self.request.user.has_perm("qms.change_defectcode")}, status=status)

    def get(self, request):
        return self.render_page(DefectCodeForm(site=self.site))

    def post(self, request):
        if not request.user.has_perm("qms.add_defectcode"):
            raise Http404
        form = DefectCodeForm(request.POST, site=self.site)
        if form.is_valid():
            data = dict(form.cleaned_data)
            shared = data.pop("shared")
            try:
                code = codes_service.create_defect_code(None if shared else self.site, **data)
            except NcError as error:
                put_on_form(form, error)
            else:
                messages.success(request, _("Defect code %(code)s added.") % {"code": code.code})
                return redirect("defect-code-list")
        return self.render_page(form, status=400)


class DefectCodeActiveView(SitePageMixin, View):
    permission_required = "qms.change_defectcode"
    active = False

    def post(self, request, code_id):
        code = DefectCode.objects.filter(pk=code_id).first()
        if code is None or (code.site_id is not None and code.site_id not in allowed_site_ids(request.user)):
            raise Http404
        try:
            codes_service.set_defect_code_active(code.pk, active=self.active)
        except NcError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, (_("%(code)s reactivated.") if self.active else _("%(code)s deactivated."))
                             % {"code": code.code})
        return redirect("defect-code-list")
