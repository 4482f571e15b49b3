"""SPC pages: the characteristics overview (the quality engineer's morning page) and one chart page per
characteristic (plotly, drawn from the JSON chart endpoint, live over a websocket). Views stay thin: the services
in spc/services/ do the work."""
from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView, View

from qms.models import Characteristic
from qms.web.access import SitePageMixin
from qms.web.forms.common import add_service_errors
from qms.web.overview import Tile
from spc.forms import ChartConfigForm, LimitRevisionForm
from spc.labels import rule_description
from spc.models import ChartConfig, LimitRevision, Signal, SpcState
from spc.services import limits as limit_service
from spc.services.config import configure_chart, default_chart_type

RECENT = timedelta(hours=24)
SORT_KEYS = {
    "code": lambda row: row["characteristic"].code,
    "chart": lambda row: row["chart_type"] or "",
    "cpk": lambda row: (row["cpk"] is None, row["cpk"] if row["cpk"] is not None else 0.0),
    "last_signal": lambda row: (row["last_signal_at"] is None, -(row["last_signal_at"].timestamp())
                                if row["last_signal_at"] else 0.0),
    "signals": lambda row: -row["signals_24h"],
}


def spc_tiles(site, user) -> list[Tile]:
    if not user.has_perm("spc.view_signal"):
        return []
    count = Signal.objects.filter(site=site, created_at__gte=timezone.now() - RECENT).count()
    return [Tile(gettext_lazy("SPC signals, last 24 h"), count, reverse("spc-overview"), "bad" if count else "good",
                 gettext_lazy("run rules fired on live data"))]


class OverviewView(SitePageMixin, TemplateView):
    permission_required = "spc.view_chartconfig"
    template_name = "spc/overview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        since = timezone.now() - RECENT
        characteristics = (Characteristic.objects.filter(site=self.site).exclude(status=Characteristic.Status.RETIRED)
                           .select_related("equipment", "chart_config__live")
                           .annotate(signals_24h=Count("spc_signals", filter=Q(spc_signals__created_at__gte=since)))
                           .order_by("code"))
        rows = []
        for characteristic in characteristics:
            config = getattr(characteristic, "chart_config", None)
            state = getattr(config, "live", None) if config else None
            rows.append({
                "characteristic": characteristic,
                "config": config,
                "chart_type": config.get_chart_type_display() if config else None,
                "cpk": state.cpk if state else None,
                "ppk": state.ppk if state else None,
                "capability_n": state.capability_n if state else 0,
                "last_signal_at": state.last_signal_at if state else None,
                "last_signal_rule": state.last_signal_rule if state else "",
                "last_signal_text": rule_description(state.last_signal_rule) if state and state.last_signal_rule else "",
                "has_limits": bool(state and state.revision_id),
                "points": state.point_count if state else 0,
                "signals_24h": characteristic.signals_24h,
            })
        order = self.request.GET.get("o", "code")
        key = SORT_KEYS.get(order.lstrip("-"), SORT_KEYS["code"])
        rows.sort(key=key, reverse=order.startswith("-"))
        context["rows"] = rows
        return context


class ChartPageMixin(SitePageMixin):
    def get_characteristic(self) -> Characteristic:
        return self.get_object_in_sites(Characteristic.objects.select_related("site", "equipment"),
                                        pk=self.kwargs["pk"])


class ChartPageView(ChartPageMixin, TemplateView):
    permission_required = "spc.view_chartconfig"
    template_name = "spc/chart.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        characteristic = self.get_characteristic()
        config = ChartConfig.objects.filter(characteristic=characteristic).first()
        state = SpcState.objects.filter(config=config).select_related("revision").first() if config else None
        context.update({
            "characteristic": characteristic,
            "config": config,
            "state": state,
            "revisions": LimitRevision.objects.filter(config=config).order_by("-number") if config else [],
            "signals": (Signal.objects.filter(characteristic=characteristic).order_by("-ts", "-id")[:20]),
            "config_form": kwargs.get("config_form") or ChartConfigForm(initial=_config_initial(characteristic, config)),
            "limits_form": kwargs.get("limits_form") or LimitRevisionForm(initial=_baseline_initial()),
            "can_configure": self.request.user.has_perm("spc.change_chartconfig"),
            "can_revise": self.request.user.has_perm("spc.revise_limits"),
            "data_url": reverse("spc-chart-data", args=[characteristic.pk]),
            "capability_url": reverse("spc-capability", args=[characteristic.pk]),
            "ws_path": f"/ws/spc/characteristics/{characteristic.pk}/",
            "labels": chart_labels(),
        })
        return context


def chart_labels() -> dict:
    """The chart script's words, translated here (the script itself holds no text)."""
    return {
        "center": _("Centre line"), "ucl": _("UCL"), "lcl": _("LCL"), "zone1": _("±1σ"), "zone2": _("±2σ"),
        "usl": _("USL"), "lsl": _("LSL"), "nominal": _("Nominal"), "signals": _("Signals"),
        "revision": _("Limits rev. %(number)s"), "points": _("Points"), "late": _("arrived out of order"),
        "lot": _("Lot"), "live": _("Live"), "offline": _("Live updates paused — reconnecting"),
        "connecting": _("Connecting…"), "decimated": _("%(shown)s of %(total)s points shown (overview: lowest, "
                                                      "highest and every signalled point per bucket)."),
        "all_points": _("%(total)s points"), "no_points": _("No judged points in this range yet."),
        "frequency": _("Count"), "fitted": _("Fitted normal"), "within": _("Within"), "overall": _("Overall"),
        "index": _("Index"), "ci": _("%(level)s%% confidence interval"), "n": _("Values"),
        "expected_ppm": _("Expected ppm out of spec (overall σ)"), "observed_ppm": _("Observed ppm out of spec"),
        "normality": _("Anderson–Darling normality p-value"), "no_capability": _(
            "Capability needs a variables chart, a specification limit and at least two points in the range."),
        "no_signals": _("No signal so far."),
    }


def _config_initial(characteristic, config) -> dict:
    if config is None:
        return {"chart_type": default_chart_type(characteristic), "subgroup_size": characteristic.subgroup_size,
                "subgrouping": ChartConfig.Subgrouping.COUNT, "rules": ["WE1", "WE2", "WE3", "WE4"]}
    return {"chart_type": config.chart_type, "subgroup_size": config.subgroup_size, "subgrouping": config.subgrouping,
            "time_window_s": config.time_window_s, "sample_size": config.sample_size, "rules": config.rules}


def _baseline_initial() -> dict:
    now = timezone.localtime()
    return {"start": now - timedelta(days=7), "end": now}


class ConfigureView(ChartPageMixin, View):
    permission_required = ("spc.view_chartconfig", "spc.change_chartconfig")

    def post(self, request, pk):
        characteristic = self.get_characteristic()
        form = ChartConfigForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                configure_chart(characteristic, reason=data["reason"], chart_type=data["chart_type"],
                                subgroup_size=data["subgroup_size"], subgrouping=data["subgrouping"],
                                time_window_s=data["time_window_s"], sample_size=data["sample_size"],
                                rules=data["rules"] or None)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("Chart configuration saved."))
                return redirect("spc-chart", pk=characteristic.pk)
        return _rerender(self, request, config_form=form)


class ReviseLimitsView(ChartPageMixin, View):
    permission_required = ("spc.view_chartconfig", "spc.revise_limits")

    def post(self, request, pk):
        characteristic = self.get_characteristic()
        form = LimitRevisionForm(request.POST)
        config = ChartConfig.objects.filter(characteristic=characteristic).select_related("characteristic").first()
        if config is None:
            form.is_valid()
            form.add_error(None, _("Configure the chart first."))
        elif form.is_valid():
            data = form.cleaned_data
            try:
                if data["method"] == "baseline":
                    revision = limit_service.compute_limits_from_baseline(
                        config, start=data["start"], end=data["end"], reason=data["reason"],
                        exclude_out_of_control=data["exclude_out_of_control"])
                elif data["method"] == "spec":
                    revision = limit_service.limits_from_specification(config, reason=data["reason"])
                else:
                    revision = limit_service.limits_from_standard(config, center=data["center"],
                                                                  sigma=data["sigma"], reason=data["reason"])
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("Limit revision %(number)d is in force.") % {"number": revision.number})
                return redirect("spc-chart", pk=characteristic.pk)
        return _rerender(self, request, limits_form=form)


def _rerender(view, request, **forms):
    page = ChartPageView()
    page.setup(request, **view.kwargs)
    page.site = view.site
    context = page.get_context_data(**forms)
    return render(request, ChartPageView.template_name, context, status=400)
