"""manage.py import_file --connector S1/legacy-export FILE [FILE ...] [--dry-run]

Imports legacy CSV/JSON/DBF files through a file connector's column mapping. Re-importing a file already imported
stores nothing. --dry-run prints the preview (format, encoding, sample rows, every row problem) and stores nothing.
"""
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from connectors.files.readers import FileFormatError
from connectors.files.service import import_file, preview_file
from connectors.models import Connector, ImportedFile
from qms.audit.context import acting_as, command_actor


class Command(BaseCommand):
    help = "Import legacy measurement files (CSV, JSON, dBase/FoxPro .dbf) through a file connector."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--connector", required=True, help="SITE/NAME of a connector of kind 'file'")
        parser.add_argument("--dry-run", action="store_true", help="preview only; store nothing")

    def handle(self, *args, files, connector, dry_run, **options):
        site_code, _, name = connector.partition("/")
        try:
            target = Connector.objects.get(site__code=site_code, name=name, kind=Connector.Kind.FILE)
        except Connector.DoesNotExist:
            raise CommandError(f"no file connector {connector!r} (expected SITE/NAME)") from None
        failed = 0
        for path in files:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            data = path.read_bytes()
            if dry_run:
                try:
                    self.stdout.write(json.dumps(preview_file(target, path.name, data), ensure_ascii=False, indent=2))
                except FileFormatError as exc:
                    failed += 1
                    self.stderr.write(f"{path}: {exc}")
                continue
            with acting_as(command_actor("import_file"), f"import_file command: {path.name}"):
                outcome = import_file(target, path.name, data, origin=ImportedFile.Origin.COMMAND)
            record = outcome.record
            if outcome.already_imported:
                self.stdout.write(f"{path}: already imported on {record.created_at:%Y-%m-%d %H:%M} — nothing stored")
            elif record.status == ImportedFile.Status.FAILED:
                failed += 1
                self.stderr.write(f"{path}: {record.message}")
            else:
                self.stdout.write(f"{path}: {record.rows} rows, {record.stored} stored, {record.duplicates} duplicates, "
                                  f"{record.rejected} rejected, {record.error_count} row errors")
                for error in record.row_errors[:20]:
                    self.stdout.write(f"  row {error['row']}, {error['column']}: {error['reason']}")
        if failed:
            raise CommandError(f"{failed} file(s) could not be read")
