"""The supervisor's alarm pages: the live list of a site (optionally one line) and one alarm's whole story.

Thin: every change goes through qms.services.alarms. The action views answer a form post with a redirect and a
message, and a `fetch` from the live page (Accept: application/json) with the alarm's snapshot or the service's
error code — the page's list itself is updated by the websocket event the change produces.
"""
from __future__ import annotations

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from qms.live import feed
from qms.live.forms import AcknowledgeForm, ClearForm, CloseForm, ShelveForm
from qms.models import Alarm, Line
from qms.services import alarms as alarm_services
from qms.services.alarm_text import alarm_message, alarm_title
from qms.web.access import SitePageMixin

SOUNDING_SEVERITIES = ("critical", "major")


def _alarms_with_relations():
    return Alarm.objects.select_related("site", "line", "equipment", "characteristic", "acknowledged_by", "rule")


def live_page_state(site, line) -> dict:
    """What the page is rendered with: the cursor first, then the open alarms — an event between the two reads is
    then both in the list and re-sent by the socket (merged by version), never in neither."""
    cursor = feed.latest_event_id(site.pk)
    alarms = _alarms_with_relations().filter(site=site).exclude(state=Alarm.State.CLOSED)
    if line is not None:
        alarms = alarms.filter(line=line)
    now = timezone.now()
    snapshots = []
    for alarm in alarms.order_by("-raised_at")[:500]:
        snapshot = alarm_services.alarm_snapshot(alarm)
        snapshot["shelved"] = feed.is_shelved(snapshot, now)
        # For the rows rendered before the script runs (or without it); the script labels from its own table.
        snapshot["severity_label"], snapshot["state_label"] = alarm.get_severity_display(), alarm.get_state_display()
        snapshots.append(snapshot)
    return {"cursor": cursor, "alarms": snapshots}


def awaits_acknowledgement(snapshot: dict) -> bool:
    """Counted on the page: not acknowledged yet, whether still active or already cleared (a cleared alarm cannot be
    closed before someone acknowledges it), not closed, not shelved. The page's script counts the same way."""
    return (snapshot["acknowledged_at"] is None and snapshot["state"] != Alarm.State.CLOSED
            and not snapshot.get("shelved"))


def live_page_labels() -> dict:
    """Every word the page's script shows, translated here (the script holds no user-facing text)."""
    return {
        "severity": dict(Alarm.Severity.choices), "state": dict(Alarm.State.choices),
        "live": _("Live"), "reconnecting": _("Reconnecting…"), "offline": _("Offline — reconnecting…"),
        "acknowledge": _("Acknowledge"), "shelved": _("shelved"), "empty": _("No open alarm."),
        "soundOff": _("Enable sound"), "soundOn": _("Sound on"), "title": _("Alarms"),
        "acknowledgedBy": _("by %(user)s"), "failed": _("Could not acknowledge: %(message)s"),
        "reloading": _("Too much was missed — reloading the list…"),
        "sessionExpired": _("your session has expired or you may no longer do this — sign in again and retry"),
        "unexpectedReply": _("the server did not answer as expected — reload the page and retry"),
    }


class AlarmLiveView(SitePageMixin, TemplateView):
    permission_required = "qms.view_alarm"
    template_name = "qms/alarms/live.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        lines = Line.objects.filter(area__site=self.site).order_by("code")
        line = lines.filter(code=self.request.GET.get("line", "")).first()
        state = live_page_state(self.site, line)
        query = urlencode({"site": self.site.code, **({"line": line.code} if line else {})})
        context.update(
            lines=lines, line=line, labels=live_page_labels(), initial=state["alarms"], cursor=state["cursor"],
            unacknowledged=sum(1 for a in state["alarms"] if awaits_acknowledgement(a)),
            can_respond=self.request.user.has_perm("qms.change_alarm"),
            live_config={"cursor": state["cursor"], "query": query, "sounding": SOUNDING_SEVERITIES,
                         "timeZone": self.site.timezone or "",
                         "canRespond": self.request.user.has_perm("qms.change_alarm")},
        )
        return context


def response_time(start, end) -> str | None:
    """How long a response took, to the second under an hour (an alarm acknowledged in 40 s must not read "0 minutes")."""
    if start is None or end is None:
        return None
    seconds = max(0, int((end - start).total_seconds()))
    if seconds < 3600:
        return _("%(m)d min %(s)02d s") % {"m": seconds // 60, "s": seconds % 60}
    return _("%(h)d h %(m)02d min") % {"h": seconds // 3600, "m": seconds % 3600 // 60}


def _hold_url(hold_id: int) -> str | None:
    try:
        return reverse("hold-detail", args=[hold_id])
    except NoReverseMatch:  # the holds pages are another module's; the detail page works without them
        return None


class AlarmDetailView(SitePageMixin, TemplateView):
    permission_required = "qms.view_alarm"
    template_name = "qms/alarms/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        alarm = self.get_object_in_sites(_alarms_with_relations(), pk=self.kwargs["pk"])
        # In the reader's language (the stored title is the English fallback); never saved from here.
        alarm.title, alarm.message = alarm_title(alarm), alarm_message(alarm)
        holds = [{"hold": hold, "url": _hold_url(hold.pk), "lots": hold.lots.count()}
                 for hold in alarm.holds.order_by("placed_at")]
        forms = kwargs.get("forms", {})
        context.update(
            alarm=alarm, events=alarm.events.order_by("id"), holds=holds,
            shelved=alarm_services.is_shelved(alarm), can_respond=self.request.user.has_perm("qms.change_alarm"),
            deviation=(alarm.trigger_value - alarm.characteristic.nominal
                       if alarm.trigger_value is not None and alarm.characteristic
                       and alarm.characteristic.nominal is not None else None),
            acknowledge_form=forms.get("acknowledge", AcknowledgeForm()),
            shelve_form=forms.get("shelve", ShelveForm()),
            clear_form=forms.get("clear", ClearForm()), close_form=forms.get("close", CloseForm()),
            evidence=sorted((key, value) for key, value in (alarm.evidence or {}).items() if key != "text"),
            time_to_acknowledge=response_time(alarm.raised_at, alarm.acknowledged_at),
            time_to_contain=response_time(alarm.trigger_ts, alarm.contained_at),
        )
        return context


class AlarmActionView(SitePageMixin, View):
    """POST only: validate the form, call one service, answer with a redirect (form) or JSON (fetch)."""

    permission_required = ("qms.view_alarm", "qms.change_alarm")
    form_class = AcknowledgeForm
    form_name = "acknowledge"
    done_message = ""

    def perform(self, alarm: Alarm, data: dict) -> Alarm:
        raise NotImplementedError

    def post(self, request, pk):
        alarm = self.get_object_in_sites(Alarm.objects.all(), pk=pk)
        form = self.form_class(request.POST)
        wants_json = "application/json" in request.headers.get("Accept", "")
        error = None
        if form.is_valid():
            try:
                alarm = self.perform(alarm, form.cleaned_data)
            except alarm_services.AlarmError as exc:
                error = exc
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        if wants_json:
            if not form.errors:
                return JsonResponse({"alarm": alarm_services.alarm_snapshot(alarm)})
            code = error.code if error else "invalid_input"
            status = 400 if error is None or error.is_bad_input else 409
            message = error.message if error else " ".join(str(m) for msgs in form.errors.values() for m in msgs)
            return JsonResponse({"error": {"code": code, "message": message, "details": form.errors}}, status=status)
        if form.errors:
            view = AlarmDetailView(request=request, kwargs={"pk": pk}, site=self.site)
            context = view.get_context_data(forms={self.form_name: form})
            return view.render_to_response(context, status=409 if error and not error.is_bad_input else 400)
        messages.success(request, self.done_message % {"id": alarm.pk})
        target = request.POST.get("next") or reverse("alarm-detail", args=[alarm.pk])
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            target = reverse("alarm-detail", args=[alarm.pk])
        return redirect(target)


class AcknowledgeView(AlarmActionView):
    form_class, form_name = AcknowledgeForm, "acknowledge"

    @property
    def done_message(self):
        return _("Alarm %(id)s acknowledged.")

    def perform(self, alarm, data):
        return alarm_services.acknowledge_alarm(alarm.pk, user=self.request.user, comment=data["comment"])


class ShelveView(AlarmActionView):
    form_class, form_name = ShelveForm, "shelve"

    @property
    def done_message(self):
        return _("Alarm %(id)s shelved.")

    def perform(self, alarm, data):
        return alarm_services.shelve_alarm(alarm.pk, user=self.request.user, reason=data["reason"],
                                           until=data["until"])


class UnshelveView(AlarmActionView):
    form_class, form_name = CloseForm, "unshelve"  # no field needed; the comment field is optional and unused

    @property
    def done_message(self):
        return _("Alarm %(id)s is no longer shelved.")

    def perform(self, alarm, data):
        return alarm_services.unshelve_alarm(alarm.pk, user=self.request.user)


class ClearView(AlarmActionView):
    form_class, form_name = ClearForm, "clear"

    @property
    def done_message(self):
        return _("Alarm %(id)s cleared.")

    def perform(self, alarm, data):
        return alarm_services.clear_alarm(alarm.pk, user=self.request.user, reason=data["reason"])


class CloseView(AlarmActionView):
    form_class, form_name = CloseForm, "close"

    @property
    def done_message(self):
        return _("Alarm %(id)s closed.")

    def perform(self, alarm, data):
        return alarm_services.close_alarm(alarm.pk, user=self.request.user, comment=data["comment"])
