"""`manage.py run_connectors` — the long-lived connector runner (OPC UA, Modbus, MQTT sessions)."""
import asyncio
import logging
import signal

from django.core.management.base import BaseCommand

from connectors.bootstrap import build_runner
from connectors.runner import RunnerSettings, tune_gc_for_throughput


class Command(BaseCommand):
    help = "Run the connector runner: one supervised session per enabled connector, durable outbox, ingest flushing."

    def add_arguments(self, parser):
        parser.add_argument("--group", default="", help="host only connectors of this runner group")
        parser.add_argument("--outbox", default=None, help="path of the outbox SQLite file")
        parser.add_argument("--config-poll", type=float, default=2.0, help="seconds between configuration checks")
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, **options):
        logging.getLogger("connectors").setLevel(logging.INFO)
        runner = build_runner(
            options["group"], outbox=options["outbox"],
            runner_settings=RunnerSettings(config_poll_s=options["config_poll"], batch_size=options["batch_size"]),
        )
        tune_gc_for_throughput()
        asyncio.run(self._run(runner))

    async def _run(self, runner):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runner.request_stop)
        self.stdout.write(f"connector runner {runner.name} started (outbox {runner.outbox.outbox.path})")
        await runner.run()
