"""Rebuild the Redis verdict cache: new epoch (after writers in flight commit), then prefill held and recent lots."""
from django.core.management.base import BaseCommand, CommandError

from traceability.verdicts.store import verdict_cache


class Command(BaseCommand):
    help = "Rebuild the MES verdict cache in Redis (new epoch, prefill held and recent lots)."

    def add_arguments(self, parser):
        parser.add_argument("--recent", type=int, default=50_000,
                            help="Also prefill this many most recent lots (default 50000).")
        parser.add_argument("--no-prewarm", action="store_true", help="Only set a new epoch; fill on demand.")

    def handle(self, *args, recent, no_prewarm, **options):
        cache = verdict_cache()
        if cache is None:
            raise CommandError("REDIS_URL is not set: verdicts are read from the database, there is no cache.")
        epoch, filled = cache.rebuild(prewarm=not no_prewarm, recent_lots=recent)
        self.stdout.write(f"verdict cache rebuilt: epoch {epoch}, {filled} lot(s) prefilled")
