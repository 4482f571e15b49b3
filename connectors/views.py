"""Connector pages: status overview, detail (tags, write-back commands), create/edit, tag mappings, OPC UA browse and
pick nodes. Thin: rules live in connectors.configuration."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import View

from connectors import configuration
from connectors.api import browse_opcua
from connectors.forms import ConnectorForm, MapNodeForm, TagsForm, tags_as_text
from connectors.models import Connector, ConnectorStatus
from qms.models import Characteristic
from qms.web.access import SitePageMixin
from qms.web.forms.common import add_service_errors

STATE_TONES = {"connected": "good", "degraded": "warn", "connecting": "warn", "down": "bad", "stopped": ""}


def _decorate(connector: Connector, now) -> Connector:
    status = getattr(connector, "status", None)
    connector.status_row = status
    connector.tone = STATE_TONES.get(status.state if status else "stopped", "")
    connector.value_age_s = (now - status.last_value_at).total_seconds() if status and status.last_value_at else None
    connector.runner_silent = bool(status and status.heartbeat_at and (now - status.heartbeat_at).total_seconds() > 30)
    return connector


class ConnectorListView(SitePageMixin, View):
    permission_required = "connectors.view_connector"

    def get(self, request):
        now = timezone.now()
        connectors = [
            _decorate(c, now) for c in
            Connector.objects.filter(site=self.site).select_related("status").order_by("name")
        ]
        for connector in connectors:
            connector.stale_count = connector.tags.filter(stale_since__isnull=False).count()
        return render(request, "connectors/list.html", {"site": self.site, "connectors": connectors})


class _ConnectorPage(SitePageMixin, View):
    def connector(self, pk) -> Connector:
        return self.get_object_in_sites(Connector.objects.select_related("site"), pk=pk)


class ConnectorDetailView(_ConnectorPage):
    permission_required = "connectors.view_connector"

    def get(self, request, pk):
        connector = _decorate(self.connector(pk), timezone.now())
        ConnectorStatus.objects.get_or_create(connector=connector)
        connector.status_row = ConnectorStatus.objects.get(connector=connector)
        tags = connector.tags.select_related("characteristic").order_by("characteristic__code")
        commands = connector.writeback_commands.all()[:50]
        return render(request, "connectors/detail.html", {
            "site": self.site, "connector": connector, "tags": tags, "commands": commands,
        })


class ConnectorEditView(_ConnectorPage):
    permission_required = ("connectors.change_connector",)

    def _initial(self, connector):
        import json

        return {"name": connector.name, "kind": connector.kind, "description": connector.description,
                "enabled": connector.enabled, "shadow_mode": connector.shadow_mode,
                "runner_group": connector.runner_group, "config": json.dumps(connector.config, indent=2)}

    def get(self, request, pk=None):
        connector = self.connector(pk) if pk else None
        form = ConnectorForm(initial=self._initial(connector) if connector else {"enabled": True},
                             editing=connector is not None)
        return render(request, "connectors/form.html", {"site": self.site, "connector": connector, "form": form})

    def post(self, request, pk=None):
        connector = self.connector(pk) if pk else None
        form = ConnectorForm(request.POST, initial=self._initial(connector) if connector else None,
                             editing=connector is not None)
        if form.is_valid():
            try:
                saved = configuration.save_connector(self.site if connector is None else connector.site,
                                                     form.service_data(), connector=connector,
                                                     reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Connector %(name)s saved; the runner picks the change up within seconds.")
                                 % {"name": saved.name})
                return redirect("connector-detail", pk=saved.pk)
        return render(request, "connectors/form.html", {"site": self.site, "connector": connector, "form": form},
                      status=400)


class ConnectorCreateView(ConnectorEditView):
    permission_required = ("connectors.add_connector",)


class ConnectorTagsView(_ConnectorPage):
    permission_required = ("connectors.change_connector",)

    def get(self, request, pk):
        connector = self.connector(pk)
        form = TagsForm(initial={"tags": tags_as_text(connector)})
        return render(request, "connectors/tags.html", {"site": self.site, "connector": connector, "form": form})

    def post(self, request, pk):
        connector = self.connector(pk)
        form = TagsForm(request.POST)
        if form.is_valid():
            try:
                configuration.save_connector(connector.site, {"tags": form.cleaned_data["tags"]}, connector=connector,
                                             reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Tag mappings saved."))
                return redirect("connector-detail", pk=connector.pk)
        return render(request, "connectors/tags.html", {"site": self.site, "connector": connector, "form": form},
                      status=400)


class ConnectorBrowseView(_ConnectorPage):
    """OPC UA: walk the server's address space and map variables onto dictionary characteristics."""

    permission_required = ("connectors.change_connector",)

    def _render(self, request, connector, node, form=None, status=200):
        entries, error = [], None
        try:
            entries = browse_opcua(connector, node)
        except Exception as exc:   # the server is a machine on the shop floor: show why, never a 500
            error = f"{type(exc).__name__}: {exc}"
        mapped = dict(connector.tags.values_list("source_ref", "characteristic__code"))
        for entry in entries:
            entry["mapped_to"] = mapped.get(entry["node_id"])
        characteristics = Characteristic.objects.filter(site=connector.site).exclude(
            status=Characteristic.Status.RETIRED).order_by("code").values_list("code", flat=True)
        return render(request, "connectors/browse.html", {
            "site": self.site, "connector": connector, "node": node, "entries": entries, "error": error,
            "characteristics": list(characteristics), "form": form or MapNodeForm(),
        }, status=status)

    def get(self, request, pk):
        connector = self.connector(pk)
        if connector.kind != Connector.Kind.OPCUA:
            messages.error(request, _("Only OPC UA connectors can be browsed."))
            return redirect("connector-detail", pk=connector.pk)
        return self._render(request, connector, request.GET.get("node") or None)

    def post(self, request, pk):
        connector = self.connector(pk)
        node = request.GET.get("node") or None
        form = MapNodeForm(request.POST)
        if form.is_valid():
            tags = [{"characteristic": t.characteristic.code, "source_ref": t.source_ref, "params": t.params,
                     "enabled": t.enabled}
                    for t in connector.tags.select_related("characteristic")
                    if t.characteristic.code != form.cleaned_data["characteristic"]]
            tags.append({"characteristic": form.cleaned_data["characteristic"], "source_ref": form.cleaned_data["node_id"]})
            try:
                configuration.save_connector(connector.site, {"tags": tags}, connector=connector,
                                             reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                add_service_errors(form, exc)
                return self._render(request, connector, node, form, status=400)
            messages.success(request, _("%(node)s now feeds %(code)s.") % {
                "node": form.cleaned_data["node_id"], "code": form.cleaned_data["characteristic"]})
            return redirect(f"{request.path}?node={node}" if node else request.path)
        return self._render(request, connector, node, form, status=400)
