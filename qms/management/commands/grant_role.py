"""Give a user a role and sites: `manage.py grant_role --user u --role supervisor --sites S1,S2` (audited).

`--revoke` takes the role away instead; `--remove-sites S2` ends site memberships. Both are recorded in the audit
trail by the access-control receivers, attributed to this command and the OS account that ran it.
"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from qms.audit.context import audited_command
from qms.auth.roles import ROLES
from qms.management.command_helpers import get_sites
from qms.models import SiteMembership


class Command(BaseCommand):
    help = "Grant (or revoke) a role and site memberships to a user."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username.")
        parser.add_argument("--role", choices=ROLES, help="Role to grant (or revoke with --revoke).")
        parser.add_argument("--sites", default="", help="Comma-separated site codes the user may see.")
        parser.add_argument("--remove-sites", default="", help="Comma-separated site codes to take away.")
        parser.add_argument("--revoke", action="store_true", help="Take the role away instead of granting it.")
        parser.add_argument("--reason", default="", help="Why (recorded in the audit trail).")

    @audited_command
    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"Unknown user {options['user']!r}.")
        if not (options["role"] or options["sites"] or options["remove_sites"]):
            raise CommandError("Nothing to do: give --role, --sites or --remove-sites.")
        if options["role"] and options["role"] not in ROLES:
            raise CommandError(f"Unknown role {options['role']!r}; roles are {', '.join(ROLES)}.")
        if options["revoke"] and not options["role"]:
            raise CommandError("--revoke needs --role.")
        add_sites = get_sites(options["sites"]) if options["sites"] else []
        remove_sites = get_sites(options["remove_sites"]) if options["remove_sites"] else []
        with transaction.atomic():
            if options["role"]:
                group = Group.objects.filter(name=options["role"]).first()
                if group is None:
                    raise CommandError(f"Role group {options['role']!r} is missing: run `manage.py migrate` first.")
                if options["revoke"]:
                    user.groups.remove(group)
                else:
                    user.groups.add(group)
            for site in add_sites:
                SiteMembership.objects.get_or_create(user=user, site=site)
            for membership in SiteMembership.objects.filter(user=user, site__in=remove_sites):
                membership.delete()
        roles = ", ".join(user.groups.order_by("name").values_list("name", flat=True)) or "none"
        sites = ", ".join(
            SiteMembership.objects.filter(user=user).order_by("site__code").values_list("site__code", flat=True)
        ) or "none"
        self.stdout.write(f"{user.get_username()}: roles {roles}; sites {sites}.")
        if not add_sites and not SiteMembership.objects.filter(user=user).exists() and not user.is_superuser:
            self.stderr.write("Note: the user belongs to no site yet and will see nothing until given --sites.")
