"""Verify the hash-chained audit trail: `manage.py verify_audit_chain [--expect SEQ:HASH ...] [--csv export.csv]`.

Prints how many entries were checked and every problem (sequence number and what is wrong); exits non-zero when
anything was tampered with. The chain head it prints can be recorded outside the database and passed back later
with --expect, which also catches a rewrite of the newest entries together with the chain head.
"""
import csv
import re

from django.core.management.base import BaseCommand, CommandError

from qms.audit.canonical import verify_exported_rows
from qms.audit.chain import ChainProblem, chain_head, verify_chain

_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


class Command(BaseCommand):
    help = "Check that no audit entry was altered, removed or reordered; exit non-zero on tampering."

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect", action="append", default=[], metavar="SEQ:HASH",
            help="An anchor printed by an earlier verification; repeatable.",
        )
        parser.add_argument("--csv", metavar="FILE", help="Verify an audit export (CSV) instead of the database.")

    def handle(self, *args, **options):
        if options["csv"]:
            checked, problems = self._verify_csv(options["csv"])
        else:
            checked, problems = verify_chain(anchors=self._anchors(options["expect"]))
        self.stdout.write(f"Checked {checked} audit entries.")
        for problem in problems:
            self.stdout.write(f"  #{problem.seq}: {problem.problem}")
        if problems:
            raise CommandError(f"Audit trail verification FAILED: {len(problems)} problem(s) found.")
        if not options["csv"]:
            seq, digest = chain_head()
            self.stdout.write(f"Chain head: #{seq} {digest}")
            self.stdout.write(f"Record it elsewhere and check later with: --expect {seq}:{digest}")
        self.stdout.write(self.style.SUCCESS("Audit trail intact."))

    def _anchors(self, values: list[str]) -> dict[int, str]:
        anchors = {}
        for value in values:
            match = _ANCHOR.match(value.strip())
            if not match:
                raise CommandError(f"--expect {value!r}: expected SEQ:HASH (a number, a colon, 64 hex digits).")
            anchors[int(match.group(1))] = match.group(2)
        return anchors

    def _verify_csv(self, path: str):
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        missing = {"seq", "prev_hash", "hash", "payload"} - set(rows[0].keys() if rows else ())
        if rows and missing:
            raise CommandError(f"{path} is not an audit export: columns {', '.join(sorted(missing))} are missing.")
        problems = [ChainProblem(seq, text) for seq, text in verify_exported_rows(rows)]
        return len(rows), problems
