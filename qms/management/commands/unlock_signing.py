"""Let a user sign again after repeated wrong signature passwords: `manage.py unlock_signing engineer --reason ...`.

The unlock is an audit entry (action "sign_unlock"); the failures before it stop counting (docs/security.md).
"""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from qms.audit.context import audited_command
from qms.services.esignature import SignatureError, signing_locked_until, unlock_signing


class Command(BaseCommand):
    help = "Unlock electronic signing for a user locked after repeated wrong signature passwords."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reason", required=True, help="Why the lock is lifted (recorded in the audit trail).")

    @audited_command
    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        was_locked = signing_locked_until(user) is not None
        try:
            unlock_signing(user, by=None, reason=options["reason"])
        except SignatureError as exc:
            raise CommandError(exc.message) from exc
        state = "was locked; unlocked" if was_locked else "was not locked; failures so far no longer count"
        self.stdout.write(f"{user.get_username()}: {state}.")
