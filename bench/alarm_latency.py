#!/usr/bin/env python
"""Offending value → supervisor's screen: latency from the SOURCE timestamp of an out-of-tolerance value (set by the
MES simulator) to the alarm message received by a websocket client on the live alarm feed, over N excursions.

    python bench/alarm_latency.py --database-url postgres://postgres@127.0.0.1:5432/postgres \\
        [--redis-url redis://127.0.0.1:6379/7 --excursions 200 --publishing-interval-ms 50 --worker-concurrency 2 \\
         --web-server daphne|uvicorn --keep]

On a scratch database (qp_bench_alarm, dropped and recreated; --keep leaves it) with PRODUCTION settings
(DJANGO_DEBUG off, collected static, PostgreSQL, Redis) it starts the real stack as child processes — MES simulator
(OPC UA), connector runner, Celery worker on every queue, ASGI server — seeds the demo plant with seed_demo (the
seed's reaction rule on every machine: barrel zone beyond nominal ±3 °C → critical alarm, freeze, NC draft, hold
command), signs the supervisor in and opens the live alarm websocket. Then, per excursion, rotating over the 18
barrel zones of IMM01–IMM03:
  1. the simulator's OPC UA control (Objects/Simulator/SetOffset) shifts the zone +4 °C and returns the offending
     value's source timestamp;
  2. the websocket client records when the "raised" event of that zone's alarm arrives (same host clock);
  3. the zone returns to normal (offset 0), the alarm clears, the bench acknowledges and closes it (so the next
     excursion of that zone raises a NEW alarm, one event each).
Printed: p50/p95/p99/max of source → websocket, the stages (source → stored [Measurement.received_at] → alarm
raised_at → websocket receipt), and the baseline measured side by side in the same run: source → receipt by a bare
OPC UA client subscribed to the same tags with the same publishing interval (the protocol's own floor).
Targets (issue 5): p95 ≤ 250 ms, p99 ≤ 500 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.e2e.clients import AlarmFeed  # noqa: E402
from tests.e2e.stack import Stack, StackSettings  # noqa: E402

NAME = "qp_bench_alarm"
MACHINES = ("IMM01", "IMM02", "IMM03")
ZONES = tuple(f"BARREL_Z{zone}.TEMP" for zone in range(1, 7))
EXCURSION_C = 4.0


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def recreate(admin_url: str, drop_only: bool = False) -> None:
    import psycopg2

    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        if not drop_only:
            cursor.execute(f'CREATE DATABASE "{NAME}"')
    connection.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def setup_django(env: dict[str, str]) -> None:
    """This process uses the children's environment (same SECRET_KEY: the session it creates is theirs too)."""
    os.environ.update(env)
    import django

    django.setup()
    from django.apps import apps
    from django.conf import settings
    from django.core.management import call_command

    settings.MIGRATION_MODULES = {config.label: None for config in apps.get_app_configs()}
    call_command("migrate", run_syncdb=True, verbosity=0)


def seed() -> None:
    import io

    from django.core.management import call_command

    call_command("seed_demo", history_hours=0, stdout=io.StringIO())


def configure_connector(stack: Stack, publishing_interval_ms: int) -> None:
    from connectors.demo import ensure_simulator_connector
    from qms.audit.context import Actor, acting_as
    from qms.models import Site

    connector = ensure_simulator_connector(Site.objects.get(code="S1"), stack.opcua_endpoint)
    with acting_as(Actor(label="bench:alarm_latency"), reason="subscription for the latency benchmark"):
        connector.config = {**connector.config, "publishing_interval_ms": publishing_interval_ms,
                            "sampling_interval_ms": 0}
        connector.save()


def supervisor_session() -> tuple[object, str]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.get(username="supervisor")
    client = Client()
    client.force_login(user)
    return user, client.cookies["sessionid"].value


def wait_for_pipeline(stack: Stack, timeout_s: float = 120) -> None:
    from django.utils import timezone

    from connectors.models import ConnectorStatus
    from qms.models import Measurement

    began = timezone.now()
    stack.wait_until("runner", lambda: ConnectorStatus.objects.filter(state="connected").exists(), timeout_s,
                     "the runner did not connect to the simulator")
    stack.wait_until("pipeline", lambda: Measurement.objects.filter(received_at__gte=began).exists(), timeout_s,
                     "no value was stored through the worker")


def close_alarm_when_cleared(alarm_id: int, user, timeout_s: float = 15.0) -> bool:
    """Wait until the rule cleared the alarm (value back to normal), then acknowledge and close it as the
    supervisor: the zone's next excursion raises a new alarm."""
    from django.db import close_old_connections

    from qms.audit.context import acting_as, actor_for_user
    from qms.models import Alarm
    from qms.services.alarms import acknowledge_alarm, close_alarm

    close_old_connections()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alarm = Alarm.objects.get(pk=alarm_id)
        if alarm.state == Alarm.State.CLEARED or (alarm.cleared_at and alarm.state != Alarm.State.CLOSED):
            with acting_as(actor_for_user(user), reason="benchmark: excursion over"):
                if alarm.acknowledged_at is None:
                    acknowledge_alarm(alarm_id, user=user, comment="bench")
                close_alarm(alarm_id, user=user, comment="bench")
            return True
        time.sleep(0.05)
    return False


def stages(alarm_id: int, code: str, source_ts: datetime) -> tuple[float, float, float | None] | None:
    """(source → stored, stored → raised, raised → contained) for the offending value, from the database. Contained
    is stamped by the rule's actions (freeze window, hold command, notifications) just before their commit."""
    from qms.models import Alarm, Measurement

    stored = (Measurement.objects.filter(characteristic__code=code, ts=source_ts)
              .values_list("received_at", flat=True).first())
    alarm = Alarm.objects.filter(pk=alarm_id).values("raised_at", "contained_at").first()
    if stored is None or alarm is None:
        return None
    contained = alarm["contained_at"]
    return ((stored - source_ts).total_seconds(), (alarm["raised_at"] - stored).total_seconds(),
            (contained - alarm["raised_at"]).total_seconds() if contained else None)


class FloorClient:
    """A bare OPC UA client subscribed to the same tags with the same publishing interval: when does a plain
    subscriber receive the offending value? (The protocol's floor under everything the QMS adds.)"""

    def __init__(self, endpoint: str, publishing_interval_ms: int):
        from asyncua import Client

        self.client = Client(endpoint)
        self.interval = publishing_interval_ms
        self.received: dict[tuple[str, datetime], float] = {}
        self.codes: dict[object, str] = {}

    def datachange_notification(self, node, value, data):
        at = time.time()
        source_ts = data.monitored_item.Value.SourceTimestamp
        if source_ts is not None:
            from datetime import UTC

            key = (self.codes.get(node.nodeid), source_ts.replace(tzinfo=UTC) if source_ts.tzinfo is None else source_ts)
            self.received.setdefault(key, at)

    async def __aenter__(self):
        from asyncua import ua

        from connectors.simulator.opcua_server import tag_node_ids

        await self.client.connect()
        nodes = []
        for code, node_id in tag_node_ids(MACHINES).items():
            if code.split(".", 1)[1] in ZONES:
                node = self.client.get_node(node_id)
                self.codes[node.nodeid] = code
                nodes.append(node)
        params = ua.CreateSubscriptionParameters(RequestedPublishingInterval=self.interval, RequestedLifetimeCount=600,
                                                 RequestedMaxKeepAliveCount=60, PublishingEnabled=True)
        self.subscription = await self.client.create_subscription(params, self)
        await self.subscription.subscribe_data_change(nodes, sampling_interval=0)
        return self

    async def __aexit__(self, *exc):
        await self.client.disconnect()


async def run_excursions(stack: Stack, feed: AlarmFeed, user, args) -> list[dict]:
    from asgiref.sync import sync_to_async

    from connectors.simulator.control import SimulatorControl

    results = []
    zones = [(machine, zone) for zone in ZONES for machine in MACHINES]
    async with SimulatorControl(stack.opcua_endpoint) as control, \
            FloorClient(stack.opcua_endpoint, args.publishing_interval_ms) as floor:
        await asyncio.sleep(1.0)
        for index in range(args.excursions):
            machine, zone = zones[index % len(zones)]
            code = f"{machine}.{zone}"

            def raised(event, code=code):
                snapshot = event.get("snapshot") or {}
                return event.get("kind") == "raised" and snapshot.get("characteristic") == code

            source_ts = await control.set_offset(machine, zone, EXCURSION_C)
            try:
                received_at, event = await asyncio.to_thread(feed.wait_for, raised, args.timeout,
                                                              f"alarm of {code}", include_seen=False)
            except AssertionError as error:
                print(f"  excursion {index}: {error}", file=sys.stderr)
                await control.set_offset(machine, zone, 0.0)
                results.append({"code": code, "missed": True})
                continue
            await control.set_offset(machine, zone, 0.0)
            alarm_id = event["snapshot"]["id"]
            closed = await sync_to_async(close_alarm_when_cleared, thread_sensitive=False)(alarm_id, user)
            split = await sync_to_async(stages, thread_sensitive=False)(alarm_id, code, source_ts)
            results.append({
                "code": code, "missed": False, "total": received_at - source_ts.timestamp(),
                "stored": split[0] if split else None, "raised": split[1] if split else None,
                "contained": split[2] if split else None,
                "floor": (floor.received.get((code, source_ts)) or float("nan")) - source_ts.timestamp(),
                "pushed": received_at - source_ts.timestamp() - split[0] - split[1] if split else None,
                "closed": closed,
            })
            if (index + 1) % 20 == 0:
                print(f"  {index + 1}/{args.excursions} excursions", file=sys.stderr, flush=True)
            await asyncio.sleep(args.gap)
    return results


def report(results: list[dict], args, load_before, load_after) -> None:
    done = [r for r in results if not r["missed"]]
    missed = len(results) - len(done)
    print(f"\nalarm latency: {len(done)} excursions measured, {missed} missed (no 'raised' within {args.timeout:.0f} s)")
    workers = "a worker for ingest + one for the other queues" if args.ingest_worker else "one worker on every queue"
    print(f"stack: production settings, {args.web_server}, {workers}, concurrency {args.worker_concurrency} each, "
          f"OPC UA publishing interval {args.publishing_interval_ms} ms (sampling 0), simulator noise 0.25")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} (2 cores, shared)")
    if not done:
        return

    def row(label, values):
        values = [v for v in values if v is not None and v == v]
        if not values:
            print(f"  {label:38s}      (no data)")
            return
        print(f"  {label:38s} {ms(statistics.median(values))} {ms(percentile(values, 0.95))} "
              f"{ms(percentile(values, 0.99))} {ms(max(values))}   n={len(values)}")

    print(f"  {'ms':38s} {'p50':>7s} {'p95':>7s} {'p99':>7s} {'max':>7s}")
    row("source ts → websocket (TOTAL)", [r["total"] for r in done])
    row("  source ts → stored (received_at)", [r["stored"] for r in done])
    row("  stored → alarm raised_at", [r["raised"] for r in done])
    row("  raised_at → websocket receipt", [r["pushed"] for r in done])
    row("    of which raised_at → contained_at", [r["contained"] for r in done])
    row("baseline: source ts → bare OPC UA client", [r["floor"] for r in done])
    totals = [r["total"] for r in done]
    floors = [r["floor"] for r in done if r["floor"] == r["floor"]]
    if floors:
        print(f"  ratio TOTAL / bare OPC UA floor (p50): {statistics.median(totals) / statistics.median(floors):.2f}x")
    p95, p99 = percentile(totals, 0.95), percentile(totals, 0.99)
    print(f"  targets: p95 ≤ 250 ms → {'met' if p95 <= 0.25 else 'NOT met'} ({p95 * 1000:.0f} ms); "
          f"p99 ≤ 500 ms → {'met' if p99 <= 0.5 else 'NOT met'} ({p99 * 1000:.0f} ms)")
    unclosed = sum(1 for r in done if not r["closed"])
    if unclosed:
        print(f"  note: {unclosed} alarm(s) did not clear within 15 s after the return to normal")


def worker_queues(args) -> tuple[str, ...]:
    from tests.e2e.stack import QUEUES

    if not args.ingest_worker:
        return (QUEUES,)
    return ("ingest", ",".join(q for q in QUEUES.split(",") if q != "ingest"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
                        help="a PostgreSQL server URL; the scratch database qp_bench_alarm is created on it")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/7"))
    parser.add_argument("--excursions", type=int, default=200)
    parser.add_argument("--publishing-interval-ms", type=int, default=50)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--web-server", choices=("daphne", "uvicorn"), default="daphne")
    parser.add_argument("--ingest-worker", action="store_true",
                        help="a worker of its own for the ingest queue (CELERY_QUEUES split as a deployment may)")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between one excursion's close and the next")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each alarm")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and the logs")
    args = parser.parse_args()

    admin_url = args.database_url
    recreate(admin_url)
    var_dir = Path(tempfile.mkdtemp(prefix="qp-bench-alarm-"))
    os.environ.setdefault("SECRET_KEY", os.urandom(48).hex())
    stack = Stack(StackSettings(database_url=with_database(admin_url, NAME), redis_url=args.redis_url,
                                var_dir=var_dir, production=True, worker_concurrency=args.worker_concurrency,
                                web_server=args.web_server, worker_queues=worker_queues(args)))
    setup_django(stack.env)
    seed()
    stack.collect_static()
    print(f"stack logs in {var_dir}", file=sys.stderr)
    try:
        stack.start(lambda s: configure_connector(s, args.publishing_interval_ms))
        wait_for_pipeline(stack)
        user, cookie = supervisor_session()
        load_before = os.getloadavg()
        with AlarmFeed(stack.web_url, "S1", cookie) as feed:
            results = asyncio.run(run_excursions(stack, feed, user, args))
        load_after = os.getloadavg()
        stack.check_alive()
    except Exception:
        print(stack.logs(), file=sys.stderr)
        raise
    finally:
        stack.stop()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            recreate(admin_url, drop_only=True)
    report(results, args, load_before, load_after)


if __name__ == "__main__":
    main()
