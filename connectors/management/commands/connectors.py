"""`manage.py connectors import FILE [--dry-run] [--reason …]` / `manage.py connectors export [--site S1] [--format yaml]`

The document format is described in connectors/configuration.py and docs/connectors.md. Secrets are exported
masked; importing a masked secret keeps the stored one.
"""
import json
import sys

import yaml
from django.core.management.base import BaseCommand, CommandError

from connectors.configuration import export_connectors, import_connectors
from qms.audit.context import Actor, acting_as
from qms.models import Site


class Command(BaseCommand):
    help = "Import or export connector configurations (YAML or JSON)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        importer = sub.add_parser("import", help="create/update connectors from a YAML or JSON file")
        importer.add_argument("file")
        importer.add_argument("--dry-run", action="store_true", help="validate and report only")
        importer.add_argument("--reason", default="", help="why (recorded in the audit trail)")
        exporter = sub.add_parser("export", help="print the connectors as YAML or JSON")
        exporter.add_argument("--site", action="append", help="site code (repeatable); default all")
        exporter.add_argument("--format", choices=("yaml", "json"), default="yaml")
        exporter.add_argument("--output", default="-")

    def handle(self, *args, **options):
        if options["action"] == "import":
            self._import(options)
        else:
            self._export(options)

    def _import(self, options):
        try:
            with open(options["file"], encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        try:
            document = json.loads(text) if options["file"].endswith(".json") else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise CommandError(f"{options['file']} is not valid YAML/JSON: {exc}") from exc
        reason = options["reason"] or f"connectors import {options['file']}"
        with acting_as(Actor(label="command:connectors import"), reason=reason):
            report = import_connectors(document, allowed_sites=Site.objects.all(), dry_run=options["dry_run"],
                                       reason=reason)
        for name in report.created:
            self.stdout.write(f"{'would create' if report.dry_run else 'created'} {name}")
        for name in report.updated:
            self.stdout.write(f"{'would update' if report.dry_run else 'updated'} {name}")
        if not report.ok:
            for where, problem in report.problems.items():
                self.stderr.write(f"{where}: {problem}")
            raise CommandError("nothing was imported: fix the problems above")
        if report.dry_run:
            self.stdout.write("dry run: nothing written")

    def _export(self, options):
        sites = Site.objects.filter(code__in=options["site"]) if options["site"] else Site.objects.all()
        document = export_connectors(sites)
        if options["format"] == "json":
            text = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
        else:
            text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
        if options["output"] == "-":
            sys.stdout.write(text)
        else:
            with open(options["output"], "w", encoding="utf-8") as handle:
                handle.write(text)
