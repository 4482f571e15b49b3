"""Give every characteristic of the demo site (or of --site) a control chart and initial limits (idempotent).

Limits come from the stored history when it holds at least --min-points points (phase I over the whole history,
out-of-control points excluded), else provisionally from nominal and specification. A characteristic that already
has limits is left alone.
"""
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max, Min

from qms.audit.context import audited_command
from qms.demo.plant import SITE_CODE as DEMO_SITE
from qms.models import Characteristic, Measurement, Site
from spc.models import LimitRevision
from spc.services.config import ensure_chart_config
from spc.services.limits import baseline_groups, compute_limits_from_baseline, limits_from_specification


class Command(BaseCommand):
    help = "Configure control charts and initial limits for the demo characteristics (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--site", default=None, help="Site code (default: the demo site, else every site).")
        parser.add_argument("--min-points", type=int, default=25,
                            help="Points of history needed to compute limits from data (default 25).")
        parser.add_argument("--reason", default="SPC demo set-up: initial control limits")

    @audited_command
    def handle(self, *args, site=None, min_points=25, reason="", **options):
        sites = Site.objects.all()
        if site:
            sites = sites.filter(code=site)
            if not sites.exists():
                raise CommandError(f"Unknown site {site!r}.")
        elif sites.filter(code=DEMO_SITE).exists():
            sites = sites.filter(code=DEMO_SITE)
        done = {"configured": 0, "from_history": 0, "from_spec": 0, "kept": 0, "skipped": 0}
        characteristics = Characteristic.objects.filter(site__in=sites).exclude(status=Characteristic.Status.RETIRED)
        for characteristic in characteristics.order_by("site__code", "code"):
            config = ensure_chart_config(characteristic)
            done["configured"] += 1
            if LimitRevision.objects.filter(config=config).exists():
                done["kept"] += 1
                continue
            done[self._limits(config, min_points, reason)] += 1
        self.stdout.write(self.style.SUCCESS(
            "Charts: {configured} configured; limits: {from_history} from history, {from_spec} from the "
            "specification, {kept} already set, {skipped} without data or specification.".format(**done)))

    def _limits(self, config, min_points: int, reason: str) -> str:
        span = Measurement.objects.filter(characteristic_id=config.characteristic_id).aggregate(
            start=Min("ts"), end=Max("ts"))
        if span["start"] is not None and span["start"] < span["end"]:
            if len(baseline_groups(config, span["start"], span["end"], limit=min_points)) >= min_points:
                try:
                    compute_limits_from_baseline(config, start=span["start"], end=span["end"], reason=reason,
                                                 exclude_out_of_control=True)
                    return "from_history"
                except ValidationError as error:
                    self.stderr.write(f"{config.characteristic.code}: {error.messages[0]}")
        try:
            limits_from_specification(config, reason=f"{reason} (provisional, from the specification)")
            return "from_spec"
        except ValidationError:
            return "skipped"
