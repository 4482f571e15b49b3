"""`manage.py run_demo [ADDR:PORT]` — the embedded default in one command: the web server, the connector runner
(with in-process ingest and periodic jobs) and the MES simulator, so a newcomer sees live data at once.

The runner and the simulator share one asyncio loop in a background thread; the web server runs in the main
thread without the auto-reloader (a reloader would start a second runner). `runserver` stays as it was.
"""
import asyncio
import logging
import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand

from connectors.bootstrap import build_runner
from connectors.management.commands.simulate_mes import add_simulator_arguments, build_simulator
from qms.demo import plant as demo
from qms.models import Site

log = logging.getLogger("connectors.demo")


class Command(BaseCommand):
    help = "Serve the app with the connector runner and the built-in MES simulator (embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-simulator", action="store_true", help="do not start the MES simulator")
        parser.add_argument("--no-runner", action="store_true", help="do not start the connector runner")
        add_simulator_arguments(parser)

    def handle(self, *args, **options):
        logging.getLogger("connectors").setLevel(logging.INFO)
        simulator = None if options["no_simulator"] else build_simulator(options)
        if simulator is not None:
            self._ensure_demo_connector(simulator)
        runner = None if options["no_runner"] else build_runner()
        loop = asyncio.new_event_loop()
        background = threading.Thread(target=self._background, args=(loop, simulator, runner), daemon=True,
                                      name="connectors")
        background.start()
        try:
            call_command("runserver", options["addrport"], use_reloader=False)
        finally:
            for part in (simulator, runner):
                if part is not None:
                    loop.call_soon_threadsafe(part.request_stop)
            background.join(timeout=15)

    def _ensure_demo_connector(self, simulator) -> None:
        from connectors.demo import ensure_simulator_connector

        site = Site.objects.filter(code=demo.SITE_CODE).first()
        if site is None:
            self.stdout.write(self.style.WARNING("No demo site: run `manage.py seed_demo` to see simulator data."))
            return
        endpoint = f"opc.tcp://{simulator.options.host}:{simulator.options.opcua_port}/qualitypulse/"
        connector = ensure_simulator_connector(site, endpoint)
        self.stdout.write(f"Demo connector {connector.name} reads the MES simulator at {endpoint}")

    @staticmethod
    def _background(loop, simulator, runner) -> None:
        asyncio.set_event_loop(loop)

        async def main():
            parts = []
            if simulator is not None:
                parts.append(asyncio.create_task(simulator.run()))
                for _ in range(600):          # let the simulator's server come up before the runner dials it
                    if simulator.ticks or parts[0].done():
                        break
                    await asyncio.sleep(0.1)
            if runner is not None:
                parts.append(asyncio.create_task(runner.run()))
            results = await asyncio.gather(*parts, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    log.error("connectors background part stopped: %r", result)

        loop.run_until_complete(main())
        loop.close()
