"""`manage.py simulate_mes` — the injection-moulding line as real protocol servers on loopback."""
import asyncio
import logging
import signal
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from connectors.simulator.faces import FACES, Simulator, SimulatorOptions
from connectors.simulator.plant import PROTOCOL_SCENARIOS, SCENARIOS, ScenarioOptions, SimulatedPlant


def parse_when(text: str | None) -> datetime | None:
    """'+90' (seconds from now) or an ISO-8601 time with offset."""
    if not text:
        return None
    if text.startswith("+"):
        return datetime.now(UTC) + timedelta(seconds=float(text[1:]))
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise CommandError("times need an offset, e.g. 2026-11-24T08:00:00+08:00")
    return when


def add_simulator_arguments(parser) -> None:
    parser.add_argument("--scenario", default="normal", choices=SCENARIOS)
    parser.add_argument("--faces", default="opcua", help=f"comma-separated: {', '.join(FACES)}")
    parser.add_argument("--opcua-port", type=int, default=4840)
    parser.add_argument("--modbus-port", type=int, default=5020)
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument("--rate", type=float, default=1.0, help="ticks per second of continuous tags")
    parser.add_argument("--cycle", type=float, default=32.0, help="moulding cycle time in seconds")
    parser.add_argument("--drift-at", default=None, help="drift scenario start: '+SECONDS' or ISO time")
    parser.add_argument("--backfill-at", default=None, help="backfill-burst time: '+SECONDS' or ISO time")
    parser.add_argument("--skew", type=float, default=120.0, help="clock-skew scenario: seconds ahead")
    parser.add_argument("--noise", type=float, default=1.0,
                        help="scale of the process noise (1.0: Cp ≈ 1; 0.5: no value strays past nominal ±3 °C)")
    parser.add_argument("--bench-tags", type=int, default=0, help="extra fast-changing OPC UA tags (benchmark)")


def build_simulator(options) -> Simulator:
    scenario = ScenarioOptions(
        name=options["scenario"], drift_at=parse_when(options["drift_at"]),
        backfill_at=parse_when(options["backfill_at"]), skew_s=options["skew"],
    )
    faces = tuple(face.strip() for face in options["faces"].split(",") if face.strip())
    unknown = sorted(set(faces) - set(FACES))
    if unknown:
        raise CommandError(f"unknown face(s): {', '.join(unknown)}")
    playing_face = PROTOCOL_SCENARIOS.get(scenario.name)
    if playing_face is not None and playing_face not in faces:
        raise CommandError(f"scenario {scenario.name} is played by the {playing_face} face: add it to --faces "
                           f"(e.g. --faces {','.join((*faces, playing_face))})")
    sim_options = SimulatorOptions(
        opcua_port=options["opcua_port"], modbus_port=options["modbus_port"], mqtt_port=options["mqtt_port"],
        rate_hz=options["rate"], bench_tags=options["bench_tags"], faces=faces,
    )
    if not 0 <= options["noise"] <= 10:
        raise CommandError("--noise must be between 0 and 10")
    plant = SimulatedPlant(scenario=scenario, cycle_s=options["cycle"], noise=options["noise"])
    return Simulator(plant, sim_options)


class Command(BaseCommand):
    help = "Run the MES simulator (IMM01–IMM03) as OPC UA / Modbus / MQTT servers on loopback."

    def add_arguments(self, parser):
        add_simulator_arguments(parser)
        parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")

    def handle(self, *args, **options):
        logging.getLogger("connectors").setLevel(logging.INFO)
        simulator = build_simulator(options)
        asyncio.run(self._run(simulator, options["duration"]))

    async def _run(self, simulator: Simulator, duration: float | None):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, simulator.request_stop)
        if duration:
            loop.call_later(duration, simulator.request_stop)
        self.stdout.write(
            f"MES simulator: scenario {simulator.plant.scenario.name}, faces {', '.join(simulator.options.faces)}, "
            f"OPC UA at opc.tcp://{simulator.options.host}:{simulator.options.opcua_port}/qualitypulse/"
        )
        await simulator.run()
