"""Changing connector configuration: one function per change, validated per kind, in a transaction, versioned with
a reason (django-simple-history → audit chain). Used by the API, the UI and `manage.py connectors import`.

    save_connector(site, data, *, connector=None, reason) -> Connector      create or update, tags included
    delete_connector(connector, *, reason)
    export_connectors(sites) -> dict                                         the document `import` reads
    import_connectors(document, *, allowed_sites, dry_run, reason) -> ImportReport

Document (YAML or JSON):
    connectors:
      - site: S1
        name: sim-opcua
        kind: opcua
        enabled: true
        shadow_mode: false
        description: ""
        runner_group: ""
        config: {endpoint: "opc.tcp://127.0.0.1:4840/qualitypulse/"}
        secrets: {password: "..."}        # optional; never exported
        tags:
          - {characteristic: IMM01.BARREL_Z1.TEMP, source_ref: "ns=2;s=IMM01/...", params: {}, enabled: true}
Tags listed replace the connector's tags (a tag not listed is removed) when `tags` is given.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from connectors.config import ConfigError, validate_connector_config, validate_tag_params
from connectors.models import Connector, TagMapping
from qms.audit.context import because
from qms.models import Characteristic, Site

CONNECTOR_FIELDS = ("name", "kind", "description", "enabled", "shadow_mode", "config", "runner_group")
SECRET_MASK = "********"


def _require_reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise ValidationError({"reason": _("Say why the connector configuration changes.")})
    return reason.strip()


def _clean_tags(site: Site, kind: str, tags: list) -> list[dict]:
    if not isinstance(tags, list):
        raise ValidationError({"tags": _("Must be a list.")})
    codes = [t.get("characteristic") for t in tags if isinstance(t, dict)]
    characteristics = {c.code: c for c in Characteristic.objects.filter(site=site, code__in=codes)}
    cleaned, errors, seen = [], {}, set()
    for index, tag in enumerate(tags):
        if not isinstance(tag, dict):
            errors[f"tags[{index}]"] = _("Must be an object.")
            continue
        code = tag.get("characteristic")
        if code not in characteristics:
            errors[f"tags[{index}].characteristic"] = _("Unknown characteristic “%(code)s” at this site.") % {
                "code": code}
            continue
        if code in seen:
            errors[f"tags[{index}].characteristic"] = _("“%(code)s” is mapped twice.") % {"code": code}
            continue
        seen.add(code)
        try:
            params = validate_tag_params(kind, str(tag.get("source_ref") or ""), tag.get("params") or {})
        except ConfigError as exc:
            errors[f"tags[{index}]"] = exc.text(_)
            continue
        cleaned.append({"characteristic": characteristics[code], "source_ref": str(tag["source_ref"]).strip(),
                        "params": params, "enabled": bool(tag.get("enabled", True))})
    if errors:
        raise ValidationError(errors)
    return cleaned


def save_connector(site: Site, data: dict, *, connector: Connector | None = None, reason: str) -> Connector:
    """Create (connector=None) or update a connector and, if `data["tags"]` is given, replace its tags."""
    reason = _require_reason(reason)
    kind = data.get("kind", connector.kind if connector else None)
    if kind not in Connector.Kind.values:
        raise ValidationError({"kind": _("Unknown connector kind “%(kind)s”.") % {"kind": kind}})
    if connector is not None and kind != connector.kind:
        raise ValidationError({"kind": _("The kind of a connector cannot change; create a new connector.")})
    config = data.get("config", connector.config if connector else {})
    try:
        config = validate_connector_config(kind, config or {})
    except ConfigError as exc:
        raise ValidationError({"config": exc.text(_)}) from exc
    tags = _clean_tags(site, kind, data["tags"]) if "tags" in data else None
    name = str(data.get("name", connector.name if connector else "") or "").strip()
    if not name:
        raise ValidationError({"name": _("A connector needs a name.")})
    clash = Connector.objects.filter(site=site, name=name)
    if connector is not None:
        clash = clash.exclude(pk=connector.pk)
    if clash.exists():
        raise ValidationError({"name": _("Site %(site)s already has a connector named “%(name)s”.") % {
            "site": site.code, "name": name}})
    with transaction.atomic(), because(reason):
        if connector is None:
            connector = Connector(site=site, kind=kind)
        else:
            connector = Connector.objects.select_for_update().get(pk=connector.pk)
        connector.name = name
        connector.config = config
        for key in ("description", "enabled", "shadow_mode", "runner_group"):
            if key in data:
                setattr(connector, key, data[key] if key != "description" else str(data[key] or ""))
        secrets = data.get("secrets")
        if isinstance(secrets, dict):
            # A masked value means "unchanged" (forms and exports show secrets masked).
            merged = dict(connector.secrets or {})
            for key, value in secrets.items():
                if value in (None, ""):
                    merged.pop(key, None)
                elif value != SECRET_MASK:
                    merged[key] = str(value)
            connector.secrets = merged
        connector._change_reason = reason[:100]
        connector.save()
        if tags is not None:
            _replace_tags(connector, tags, reason)
    return connector


def _replace_tags(connector: Connector, tags: list[dict], reason: str) -> None:
    existing = {tag.characteristic_id: tag for tag in connector.tags.all()}
    wanted = {tag["characteristic"].pk for tag in tags}
    for characteristic_id, tag in existing.items():
        if characteristic_id not in wanted:
            tag._change_reason = reason[:100]
            tag.delete()
    for data in tags:
        tag = existing.get(data["characteristic"].pk) or TagMapping(connector=connector,
                                                                    characteristic=data["characteristic"])
        changed = tag.pk is None or (tag.source_ref, tag.params, tag.enabled) != (
            data["source_ref"], data["params"], data["enabled"])
        if changed:
            tag.source_ref, tag.params, tag.enabled = data["source_ref"], data["params"], data["enabled"]
            tag._change_reason = reason[:100]
            tag.save()


def delete_connector(connector: Connector, *, reason: str) -> None:
    reason = _require_reason(reason)
    with transaction.atomic(), because(reason):
        if connector.writeback_commands.exists():
            raise ValidationError({"connector": _("The connector has write-back commands on record: disable it "
                                                  "instead of deleting it.")})
        connector._change_reason = reason[:100]
        connector.delete()


# --- import / export -------------------------------------------------------------------------------------------
def connector_document(connector: Connector) -> dict:
    return {
        "site": connector.site.code, "name": connector.name, "kind": connector.kind,
        "description": connector.description, "enabled": connector.enabled, "shadow_mode": connector.shadow_mode,
        "runner_group": connector.runner_group, "config": connector.config,
        "secrets": dict.fromkeys(sorted(connector.secrets or {}), SECRET_MASK),
        "tags": [
            {"characteristic": tag.characteristic.code, "source_ref": tag.source_ref, "params": tag.params,
             "enabled": tag.enabled}
            for tag in connector.tags.select_related("characteristic").order_by("characteristic__code")
        ],
    }


def export_connectors(sites) -> dict:
    connectors = Connector.objects.filter(site__in=sites).select_related("site").order_by("site__code", "name")
    return {"connectors": [connector_document(c) for c in connectors]}


@dataclass
class ImportReport:
    dry_run: bool
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    problems: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"dry_run": self.dry_run, "created": self.created, "updated": self.updated, "problems": self.problems}


class _DryRun(Exception):
    pass


def import_connectors(document: dict, *, allowed_sites, dry_run: bool = True, reason: str = "") -> ImportReport:
    """Create or update every connector of the document; all or nothing. A dry run validates everything and
    reports what would happen without writing."""
    report = ImportReport(dry_run=dry_run)
    items = document.get("connectors") if isinstance(document, dict) else None
    if not isinstance(items, list):
        report.problems["connectors"] = _("The document needs a list under “connectors”.")
        return report
    sites = {site.code: site for site in allowed_sites}
    try:
        with transaction.atomic():
            for index, item in enumerate(items):
                where = f"connectors[{index}]"
                if not isinstance(item, dict):
                    report.problems[where] = _("Must be an object.")
                    continue
                site = sites.get(item.get("site"))
                if site is None:
                    report.problems[where] = _("Unknown site or no access: %(site)s") % {"site": item.get("site")}
                    continue
                existing = Connector.objects.filter(site=site, name=item.get("name")).first()
                data = {key: item[key] for key in (*CONNECTOR_FIELDS, "tags", "secrets") if key in item}
                try:
                    with transaction.atomic():
                        save_connector(site, data, connector=existing, reason=reason or "connector import")
                except ValidationError as exc:
                    report.problems[f"{where} ({item.get('name')})"] = exc.message_dict
                    continue
                (report.updated if existing else report.created).append(f"{site.code}/{item.get('name')}")
            if dry_run or report.problems:
                raise _DryRun
    except _DryRun:
        pass
    return report
