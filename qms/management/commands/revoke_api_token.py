"""Revoke a machine token: `manage.py revoke_api_token --name MES-1 --site S1 [--reason ...]` (audited)."""
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from qms.audit.context import audited_command
from qms.auth.tokens import revoke_token
from qms.management.command_helpers import get_site, validation_message
from qms.models import ApiToken

DEFAULT_REASON = "Revoked with manage.py revoke_api_token"


class Command(BaseCommand):
    help = "Revoke a site's live API token by name; its next request is refused with 401."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--site", required=True)
        parser.add_argument("--reason", default=DEFAULT_REASON, help="Why (recorded in the audit trail).")

    @audited_command
    def handle(self, *args, **options):
        site = get_site(options["site"])
        token = ApiToken.objects.filter(site=site, name=options["name"], revoked_at__isnull=True).first()
        if token is None:
            raise CommandError(f"Site {site.code} has no live API token named {options['name']!r}.")
        try:
            token = revoke_token(token.pk, user=None, reason=options["reason"])
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        self.stdout.write(f"Revoked API token {token.name} of site {site.code} at {token.revoked_at:%Y-%m-%d %H:%M:%S} UTC.")
