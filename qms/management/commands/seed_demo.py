"""Seed the demo plant (idempotent): site, line, three machines, data dictionary, product, users, an MES token."""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from qms.audit.context import Actor, acting_as
from qms.auth.tokens import issue_token
from qms.demo import plant as demo
from qms.demo.defect_codes import install_default_defect_codes
from qms.demo.history import seed_history
from qms.demo.improvement import seed_improvement_demo
from qms.demo.rules import install_seed_rules
from qms.models import ApiToken, Area, Characteristic, Equipment, Line, Operation, Product, Site, SiteMembership, WorkCenter

DEMO_TOKEN_NAME = "DEMO-MES"


class Command(BaseCommand):
    help = "Create or update the demo plant, its data dictionary, demo users for each role and a demo MES token."

    def add_arguments(self, parser):
        parser.add_argument("--history-hours", type=int, default=8,
                            help="hours of demo lots and measurements to create when the site has none (0: none)")

    def handle(self, *args, **options):
        with acting_as(Actor(label="command:seed_demo"), reason="demo plant seed"):
            with transaction.atomic():
                site = self._plant()
                created_chars = self._dictionary(site)
                users = self._users(site)
                raw_token = self._token(site)
                rules = install_seed_rules(site)
                install_default_defect_codes()
            history = seed_history(site, hours=options["history_hours"]) if options["history_hours"] > 0 else None
            seed_improvement_demo(site, hours=options["history_hours"], stdout=self.stdout)  # NC + CAPA in D2
        self._report(site, created_chars, users, raw_token)
        self.stdout.write(f"Reaction rules: {', '.join(rule.name for rule in rules)} (hold commands: connector "
                          f"mes-hold, shadow mode).")
        if history and not history["skipped"]:
            self.stdout.write(f"Demo history: {history['lots']} lots, {history['measurements']} measurements.")
        # After the history: charts get limits from it right away (from the specification where there is too little).
        call_command("seed_spc_demo", site=site.code, stdout=self.stdout, stderr=self.stderr)

    def _plant(self) -> Site:
        site, _ = Site.objects.get_or_create(code=demo.SITE_CODE, defaults={"name": demo.SITE_NAME})
        area, _ = Area.objects.get_or_create(site=site, code=demo.AREA_CODE, defaults={"name": "Moulding hall"})
        line, _ = Line.objects.get_or_create(area=area, code=demo.LINE_CODE, defaults={"name": "Injection moulding 1"})
        work_center, _ = WorkCenter.objects.get_or_create(
            line=line, code=demo.WORK_CENTER_CODE, defaults={"name": "Presses"}
        )
        for code in demo.MACHINES:
            Equipment.objects.get_or_create(
                site=site, code=code,
                defaults={"work_center": work_center, "name": f"Injection moulding machine {code}",
                          "kind": "injection moulding machine"},
            )
        part_number, revision, name = demo.PRODUCT
        product, _ = Product.objects.get_or_create(
            site=site, part_number=part_number, revision=revision, defaults={"name": name}
        )
        Operation.objects.get_or_create(
            product=product, code="MOLD", defaults={"sequence": 10, "name": "Injection moulding", "work_center": work_center}
        )
        Operation.objects.get_or_create(
            product=product, code="INSPECT", defaults={"sequence": 20, "name": "Final inspection"}
        )
        return site

    def _dictionary(self, site: Site) -> int:
        created = 0
        for machine in Equipment.objects.filter(site=site, code__in=demo.MACHINES):
            for spec in demo.CHARACTERISTICS:
                _obj, was_created = Characteristic.objects.get_or_create(
                    site=site,
                    code=f"{machine.code}.{spec.suffix}",
                    defaults={
                        "name_en": f"{machine.code} {spec.name_en}",
                        "name_zh": f"{machine.code} {spec.name_zh}",
                        "unit": spec.unit,
                        "precision": spec.precision,
                        "nominal": spec.nominal,
                        "lsl": round(spec.nominal - spec.tolerance, spec.precision),
                        "usl": round(spec.nominal + spec.tolerance, spec.precision),
                        "physical_min": spec.physical[0],
                        "physical_max": spec.physical[1],
                        "update_period_s": spec.update_period_s,
                        "subgroup_size": spec.subgroup_size,
                        "criticality": spec.criticality,
                        "equipment": machine,
                        "status": Characteristic.Status.RELEASED,
                    },
                )
                created += was_created
        return created

    def _users(self, site: Site) -> list[tuple[str, str, str | None]]:
        User = get_user_model()
        report = []
        for username, role, password in demo.USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.is_staff = role == "admin"
                user.save()
            user.groups.add(Group.objects.get(name=role))
            SiteMembership.objects.get_or_create(user=user, site=site)
            report.append((username, role, password if created else None))
        return report

    def _token(self, site: Site) -> str | None:
        if ApiToken.objects.filter(site=site, name=DEMO_TOKEN_NAME).exists():
            return None
        _token, raw = issue_token(name=DEMO_TOKEN_NAME, site=site, scopes=["ingest", "verdicts:read"])
        return raw

    def _report(self, site, created_chars, users, raw_token):
        out = self.stdout
        out.write(self.style.SUCCESS(
            f"Demo plant {site.code} ({site.name}) ready; {created_chars} characteristics created."
        ))
        out.write("Demo users (role: username / password):")
        for username, role, password in users:
            shown = password if password else "(existing user — password unchanged)"
            out.write(f"  {role:17s} {username} / {shown}")
        if raw_token:
            out.write(f"Demo MES token ({DEMO_TOKEN_NAME}, scopes ingest, verdicts:read) — shown once: {raw_token}")
        else:
            out.write(f"Demo MES token {DEMO_TOKEN_NAME} exists already (create another with create_api_token).")
