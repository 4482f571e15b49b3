"""Issue a machine token: `manage.py create_api_token --name MES-1 --scopes ingest,verdicts:read --site S1`.

The token goes to stdout alone (so `TOKEN=$(manage.py create_api_token ...)` works); the notes go to stderr.
"""
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from qms.audit.context import audited_command
from qms.auth.tokens import VALID_SCOPES, issue_token
from qms.management.command_helpers import get_site, validation_message


class Command(BaseCommand):
    help = "Issue an API token for a machine client (MES). The token is printed once and never stored."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Name of the client, unique among a site's live tokens.")
        parser.add_argument(
            "--scopes", required=True,
            help=f"Comma-separated scopes: {', '.join(VALID_SCOPES)} (empty: read the data dictionary only).",
        )
        parser.add_argument("--site", required=True, help="Site code the token acts for (it sees nothing else).")
        parser.add_argument("--expires-in-days", type=int, default=None, help="Expire the token after N days.")
        parser.add_argument("--reason", default="", help="Why the token is issued (recorded in the audit trail).")

    @audited_command
    def handle(self, *args, **options):
        site = get_site(options["site"])
        expires_at = None
        if options["expires_in_days"] is not None:
            if options["expires_in_days"] <= 0:
                raise CommandError("--expires-in-days must be a positive number of days.")
            expires_at = timezone.now() + timedelta(days=options["expires_in_days"])
        try:
            token, raw = issue_token(name=options["name"], site=site, scopes=options["scopes"], expires_at=expires_at)
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        scopes = ", ".join(token.scopes) or "(none: data dictionary read only)"
        self.stderr.write(f"API token {token.name} for site {site.code}, scopes: {scopes}"
                          + (f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""))
        self.stdout.write(raw)
        self.stderr.write("Store it now in the client's configuration: it will not be shown again.")
