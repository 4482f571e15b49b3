#!/usr/bin/env python
"""Connector benchmark (issue 4, part a): OPC UA subscription of N tags changing at H Hz from the simulator into
stored measurements. Speed is measured here, never in unit tests.

    python bench/connectors.py opcua --database-url postgres://postgres@127.0.0.1:5432/postgres \
        [--tags 1000 --hz 10 --seconds 30 --warmup 5] [--groups N] [--celery REDIS_URL]

`--groups N`: the tags split over N connectors in runner groups, each group's runner in its own process (this one
and N-1 `opcua-shard` children, as `run_connectors --group` would run them); figures pooled over all of them.

What it does, on its own scratch database (default qp_bench_connectors, dropped and recreated):
- a simulator process serves an OPC UA server with N bench tags (Objects/Bench/TagNNNN), all rewritten H times a
  second with a fresh SourceTimestamp (the simulator's `--bench-tags`);
- this process runs the real connector runner: the OPC UA adapter subscribes to the N nodes (publishing interval
  100 ms, sampling 0 = every change), readings go through the durable outbox (SQLite, fsync'd) and are stored in
  PostgreSQL through the foundation's ingestion service (in-process, as in the embedded default);
- every batch's commit time is recorded; lag = commit time − SourceTimestamp, per reading;
- SPC's live evaluation (a measurements_stored receiver) is disconnected: in production it runs on the `evaluate`
  Celery queue, not in the ingest path, and bench/spc.py measures it.
Reported after the warm-up: readings produced by the simulator, stored, sustained stored/s, lag p50/p99/max, and
the CPU used by each process (runner, simulator, worker, and the PostgreSQL backends serving the bench database)
as a share of one core and per value received, with the load average.
Targets (DESIGN.md): ≥ 10,000 values/s sustained, p99 lag < 500 ms.

    python bench/connectors.py stages [--tags 1000 --rounds 30]

CPU per value of each stage of the runner's hot path, without a server or a database (so the machine's load
matters less): decoding a PublishResponse of N data changes (asyncua's decoder, with and without our VariantType
table), turning it into envelopes (asyncua's per-item events vs the adapter's whole-notification pass), the outbox
commit, and cutting + confirming the batch. Medians of --rounds.

    python bench/connectors.py server --tags 1000 --hz 10 [--seconds 20]

What the simulator's asyncua server alone can publish on this machine: the simulator and a null client (a
subscription whose notifications are only counted, decoded by asyncua) — the ceiling any runner can reach here.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def prepare_database(base_url: str, name: str) -> str:
    import psycopg2

    admin = psycopg2.connect(base_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return base_url.rsplit("/", 1)[0] + "/" + name


def setup_django(database_url: str, var_dir: str, redis_url: str | None, *, create: bool = True) -> None:
    os.environ["DATABASE_URL"] = database_url
    if redis_url:
        os.environ["REDIS_URL"] = redis_url     # production topology: ingest in a Celery worker process
    else:
        os.environ.pop("REDIS_URL", None)      # in-process ingest (embedded default)
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ["QP_VAR_DIR"] = var_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "qms.settings"
    import django
    from django.conf import settings

    django.setup()
    # The lead regenerates migrations at the end of the issue round: build the schema from the models directly.
    settings.MIGRATION_MODULES = {app: None for app in ("qms", "spc", "traceability", "connectors")}
    from django.core.management import call_command

    # SPC's live evaluation (measurements_stored) runs on its own Celery queue in production and is benchmarked by
    # bench/spc.py; in-process it would sit inside this measurement, so it is switched off here.
    from qms.seams import measurements_stored

    measurements_stored.receivers = []
    measurements_stored.sender_receivers_cache.clear()
    if create:
        call_command("migrate", "auth", verbosity=0)          # the unmigrated apps' tables refer to auth_user
        call_command("migrate", run_syncdb=True, verbosity=0)
    # DJANGO_DEBUG is only on so settings load without production secrets; measure as production runs (DEBUG off):
    # Django's debug cursor records every query.
    settings.DEBUG = False


def seed(tags: int, endpoint: str, groups: int = 1):
    from connectors.models import Connector, TagMapping
    from qms.models import Area, Characteristic, Equipment, Line, Site, WorkCenter

    site = Site.objects.create(code="B1", name="bench")
    area = Area.objects.create(site=site, code="A")
    line = Line.objects.create(area=area, code="L")
    work_center = WorkCenter.objects.create(line=line, code="W")
    machine = Equipment.objects.create(site=site, work_center=work_center, code="BENCH")
    characteristics = Characteristic.objects.bulk_create([
        Characteristic(site=site, code=f"BENCH.TAG{i:04d}.VALUE", name_en=f"bench {i}", unit="u", precision=3,
                       physical_min=0, physical_max=1000, equipment=machine)
        for i in range(tags)
    ])
    for group in range(groups):   # --groups: the tags split over one connector per runner group (one process each)
        connector = Connector.objects.create(
            site=site, name="bench-opcua" if groups == 1 else f"bench-opcua-{group}", kind="opcua",
            runner_group=group_name(group, groups), config={
                "endpoint": endpoint, "publishing_interval_ms": 100, "sampling_interval_ms": 0, "queue_size": 20,
                "watchdog_s": 5.0, "request_timeout_s": 10.0})
        TagMapping.objects.bulk_create([
            TagMapping(connector=connector, characteristic=c, source_ref=f"ns=2;s=Bench/Tag{i:04d}")
            for i, c in enumerate(characteristics) if i % groups == group
        ])


def group_name(group: int, groups: int) -> str:
    return "" if groups == 1 else f"bench{group}"


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc), children excluded."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_backends_cpu_s(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `database` (found by its process title)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if title.startswith("postgres:") and f" {database} " in title:
                found[int(entry.name)] = process_cpu_s(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


async def run_opcua(args, simulator_pid: int | None = None, worker_pid: int | None = None, group: str = "") -> dict:
    from datetime import UTC, datetime

    from connectors import runner as runner_module
    from connectors.outbox import Outbox
    from connectors.runner import Runner, RunnerSettings
    from connectors.services import DjangoRunnerBackend

    lags: list[float] = []
    stored_at: list[tuple[float, int]] = []
    measuring = {"on": False}
    gc_time = _GcTimer()
    # QP_BENCH_PROFILE=<file>: the store lane's CPU (thread time) profiled by cProfile during the window.
    profile = None
    if os.environ.get("QP_BENCH_PROFILE"):
        import cProfile

        profile = cProfile.Profile(time.thread_time)

    class TimedBackend(DjangoRunnerBackend):
        def deliver(self, batch):
            began = time.monotonic()
            if profile is not None and measuring["on"]:
                profile.enable()
                confirmed = super().deliver(batch)
                profile.disable()
            else:
                confirmed = super().deliver(batch)
            if os.environ.get("QP_BENCH_TRACE"):
                print(f"deliver {len(batch.envelopes)} in {time.monotonic() - began:.2f} s -> {confirmed}", flush=True)
            committed = datetime.now(UTC)
            if confirmed and measuring["on"]:
                for envelope in batch.envelopes:
                    source = envelope.get("source_ts")
                    if source:
                        lags.append((committed - datetime.fromisoformat(source)).total_seconds())
                stored_at.append((time.monotonic(), len(batch.envelopes)))
            return confirmed

    runner = Runner(Outbox(Path(args.var_dir) / f"bench-outbox{group}.sqlite3"), TimedBackend(group),
                    RunnerSettings(batch_size=5000, flush_interval_s=0.02, config_poll_s=60))
    if hasattr(runner_module, "tune_gc_for_throughput") and not os.environ.get("QP_BENCH_DEFAULT_GC"):
        runner_module.tune_gc_for_throughput()       # as `run_connectors` does
    task = asyncio.create_task(runner.run())
    await _all_runners_started(args, group)
    await asyncio.sleep(args.warmup)
    pids = {"runner": os.getpid(), "simulator": simulator_pid, "worker": worker_pid}
    cpu_before = {name: process_cpu_s(pid) for name, pid in pids.items() if pid}
    database_before = database_backends_cpu_s(args.database)
    received_before = sum(h.received for h in runner.healths.values())
    load_before = os.getloadavg()[0]
    measuring["on"] = True
    gc_time.reset()
    started = time.monotonic()
    await asyncio.sleep(args.seconds)
    measuring["on"] = False
    elapsed = time.monotonic() - started
    cpu = {name: process_cpu_s(pid) - cpu_before[name] for name, pid in pids.items() if pid}
    database_after = database_backends_cpu_s(args.database)
    cpu["postgres"] = sum(used - database_before.get(pid, 0.0) for pid, used in database_after.items())
    received_window = sum(h.received for h in runner.healths.values()) - received_before
    load_after = os.getloadavg()[0]
    health = next(iter(runner.healths.values()), None)
    if profile is not None:
        profile.dump_stats(f"{os.environ['QP_BENCH_PROFILE']}{group}")
    runner.request_stop()
    await task
    stored = sum(n for _t, n in stored_at)
    return {
        "stored_in_window": stored, "window_s": round(elapsed, 2), "stored_per_s": round(stored / elapsed),
        "lag_p50_ms": round(percentile(lags, 0.50) * 1000, 1), "lag_p99_ms": round(percentile(lags, 0.99) * 1000, 1),
        "lag_max_ms": round(max(lags) * 1000, 1) if lags else None,
        "received_per_s": round(received_window / elapsed),
        "received_total": health.received if health else None, "reconnects": health.reconnects if health else None,
        **{f"cpu_{name}_pct": round(100 * used / elapsed) for name, used in cpu.items()},
        **{f"{name}_cpu_us_per_value": round(1e6 * used / max(1, received_window)) for name, used in cpu.items()},
        "load_1min_start_end": (round(load_before, 1), round(load_after, 1)),
        "runner_gc_pct": round(100 * gc_time.seconds / elapsed, 1),
        "_lags": lags, "_stored": stored, "_received": received_window, "_elapsed": elapsed,
        "_cpu": {name: used for name, used in cpu.items() if name == "runner"}, "_gc": gc_time.seconds,
    }


async def _all_runners_started(args, group: str) -> None:
    """With --groups, every runner process measures the same window: each marks itself started, then all wait for
    the last one (the shard processes start several seconds after this one; their start-up — imports, 333
    subscriptions, the initial values — would otherwise fall into this process's window and inflate the lag tail)."""
    if args.groups <= 1:
        return
    barrier = Path(args.var_dir)
    (barrier / f"started-{group or 'main'}").touch()
    while len(list(barrier.glob("started-*"))) < args.groups:
        await asyncio.sleep(0.05)


class _GcTimer:
    """Wall time spent in Python's cyclic garbage collector (all generations) since the last reset."""

    def __init__(self):
        import gc

        self.seconds = 0.0
        self._began = None
        gc.callbacks.append(self._callback)

    def reset(self) -> None:
        self.seconds = 0.0

    def _callback(self, phase, _info) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        elif self._began is not None:
            self.seconds += time.perf_counter() - self._began
            self._began = None


def run_shard(args) -> None:
    """`opcua-shard`: one more runner process of a --groups run (the scratch database exists already); writes its
    raw figures as JSON to --out for the main process to merge."""
    import json

    setup_django(f"{args.database_url.rsplit('/', 1)[0]}/{args.database}", args.var_dir, None, create=False)
    result = asyncio.run(run_opcua(args, group=args.group))
    Path(args.out).write_text(json.dumps({key: result[key] for key in ("_lags", "_stored", "_received", "_cpu", "_gc")}))


def merge_shards(main: dict, shards: list[dict]) -> dict:
    """Figures of all runner processes together: stored and received add up, lags are pooled, runner CPU summed."""
    lags = main["_lags"] + [lag for shard in shards for lag in shard["_lags"]]
    elapsed = main["_elapsed"]
    stored = main["_stored"] + sum(shard["_stored"] for shard in shards)
    received = main["_received"] + sum(shard["_received"] for shard in shards)
    runner_cpu = main["_cpu"]["runner"] + sum(shard["_cpu"]["runner"] for shard in shards)
    merged = dict(main)
    for name in ("simulator", "worker", "postgres"):   # per value of all processes' values, not the main one's
        key = f"{name}_cpu_us_per_value"
        if key in merged:
            merged[key] = round(merged[key] * main["_received"] / max(1, received))
    merged.update({
        "stored_in_window": stored, "stored_per_s": round(stored / elapsed), "received_per_s": round(received / elapsed),
        "lag_p50_ms": round(percentile(lags, 0.50) * 1000, 1), "lag_p99_ms": round(percentile(lags, 0.99) * 1000, 1),
        "lag_max_ms": round(max(lags) * 1000, 1) if lags else None,
        "cpu_runner_pct": f"{round(100 * runner_cpu / elapsed)} ({len(shards) + 1} processes)",
        "runner_cpu_us_per_value": round(1e6 * runner_cpu / max(1, received)),
        "runner_gc_pct": round(100 * (main["_gc"] + sum(shard["_gc"] for shard in shards)) / elapsed, 1),
    })
    return merged


def _publish_response(tags: int) -> bytes:
    from datetime import UTC, datetime

    from asyncua import ua
    from asyncua.ua.ua_binary import struct_to_binary

    now = datetime.now(UTC)
    notification = ua.DataChangeNotification(MonitoredItems=[
        ua.MonitoredItemNotification(ClientHandle=i + 1, Value=ua.DataValue(
            ua.Variant(100.0 + i / 7, ua.VariantType.Double), SourceTimestamp=now, ServerTimestamp=now))
        for i in range(tags)])
    message = ua.NotificationMessage(SequenceNumber=1, PublishTime=now, NotificationData=[notification])
    return struct_to_binary(ua.PublishResponse(Parameters=ua.PublishResult(SubscriptionId=1,
                                                                           NotificationMessage=message)))


async def wait_for_bench_nodes(port: int, tags: int, timeout: float = 300.0) -> None:
    """The simulator opens its port before it has added every bench node; under load that takes long, and a
    subscription made earlier is refused for the missing nodes (the bench would then offer fewer values)."""
    from asyncua import Client

    deadline = time.monotonic() + timeout
    while True:
        try:
            async with Client(f"opc.tcp://127.0.0.1:{port}/qualitypulse/", timeout=10) as client:
                await client.get_node(f"ns=2;s=Bench/Tag{tags - 1:04d}").read_value()
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1.0)


def run_stages(args) -> dict:
    """CPU µs per value of each stage; works on older trees too (falls back to the per-item path)."""
    import statistics
    import tempfile
    from types import SimpleNamespace

    from asyncua import ua
    from asyncua.common.subscription import Subscription
    from asyncua.common.utils import Buffer
    from asyncua.ua.ua_binary import struct_from_binary

    from connectors.opcua import adapter as opcua_adapter
    from connectors.outbox import Outbox
    from connectors.spec import ConnectorSpec, TagSpec

    n = args.tags
    data = _publish_response(n)
    tags = tuple(TagSpec(source_ref=f"ns=2;s=Bench/Tag{i:04d}", characteristic=f"C{i}") for i in range(n))
    spec = ConnectorSpec(id=1, site="B1", name="bench", kind="opcua", config={"endpoint": "opc.tcp://x"}, tags=tags)

    def timed(fn) -> float:
        samples = []
        for _ in range(args.rounds):
            began = time.process_time()
            fn()
            samples.append((time.process_time() - began) * 1e6 / n)
        return round(statistics.median(samples), 2)

    result = {}
    speedups = getattr(opcua_adapter, "speedups", None)
    if speedups is not None:
        from asyncua.ua import ua_binary

        codec = getattr(speedups, "datachange_codec", None)
        ua.datatype_to_varianttype = speedups._ORIGINAL
        if codec is not None:
            ua_binary.from_binary = codec._ORIGINAL_FROM_BINARY
        result["decode_asyncua_us"] = timed(lambda: struct_from_binary(ua.PublishResponse, Buffer(data)))
        speedups.install()
    result["decode_us"] = timed(lambda: struct_from_binary(ua.PublishResponse, Buffer(data)))
    notification = struct_from_binary(ua.PublishResponse, Buffer(data)).Parameters.NotificationMessage \
        .NotificationData[0]

    adapter = opcua_adapter.OpcUaAdapter(spec, sink=None)
    items = {i + 1: SimpleNamespace(node=SimpleNamespace(nodeid=ua.NodeId.from_string(t.source_ref)))
             for i, t in enumerate(tags)}
    fake = SimpleNamespace(_monitored_items=items, _replaying=False, logger=None)

    def per_item_events():
        for event in Subscription._explode_datachange(fake, notification):
            adapter._deliver_inline(event)
        adapter.buffer.clear()

    result["envelopes_per_item_events_us"] = timed(per_item_events)
    if hasattr(adapter, "_take_datachange"):
        adapter.subscription = fake

        def whole_notification():
            adapter._take_datachange(notification)
            adapter.buffer.clear()

        result["envelopes_whole_notification_us"] = timed(whole_notification)
    per_item_events()
    adapter._take_datachange(notification) if hasattr(adapter, "_take_datachange") else per_item_events()
    envelopes = list(adapter.buffer) or [adapter.envelope(t, 1.0, quality="good") for t in tags]
    envelopes = [e if e.connector == spec.key else e for e in envelopes]
    with tempfile.TemporaryDirectory() as workdir:
        outbox = Outbox(Path(workdir) / "o.sqlite3")
        try:
            outbox.append(envelopes[:1], numbered=False)
            append = lambda: outbox.append(envelopes, numbered=False)  # noqa: E731
        except TypeError:
            append = lambda: outbox.append(envelopes)  # noqa: E731
        result["outbox_append_us"] = timed(append)

        def cut_and_confirm():
            append()
            batch = outbox.next_batch(spec.key, 10 * n)
            outbox.confirm(batch.batch_id)

        result["outbox_append_cut_confirm_us"] = timed(cut_and_confirm)
    result["sum_new_path_us"] = round(result["decode_us"] + result.get(
        "envelopes_whole_notification_us", result["envelopes_per_item_events_us"])
        + result["outbox_append_cut_confirm_us"], 2)
    return result


async def run_server_capacity(args, port: int) -> dict:
    """A null client: asyncua decodes every PublishResponse; the notifications are only counted."""
    from asyncua import Client, ua

    counted = {"n": 0}

    class Counter:
        def datachange_notification(self, node, value, data):
            counted["n"] += 1

    client = Client(f"opc.tcp://127.0.0.1:{port}/qualitypulse/", timeout=10)
    await client.connect()
    params = ua.CreateSubscriptionParameters(RequestedPublishingInterval=100, RequestedLifetimeCount=10000,
                                             RequestedMaxKeepAliveCount=100, MaxNotificationsPerPublish=0,
                                             PublishingEnabled=True, Priority=0)
    subscription = await client.create_subscription(params, Counter())
    subscription._deliver = lambda event: counted.__setitem__("n", counted["n"] + 1)   # no task per value
    nodes = [client.get_node(f"ns=2;s=Bench/Tag{i:04d}") for i in range(args.tags)]
    handles = await subscription.subscribe_data_change(nodes, queuesize=20, sampling_interval=0)
    refused = [h for h in handles if isinstance(h, ua.StatusCode)]
    if refused:
        raise RuntimeError(f"{len(refused)} of {len(nodes)} monitored items refused: {refused[0]}")
    await asyncio.sleep(args.warmup)
    before, began = counted["n"], time.monotonic()
    await asyncio.sleep(args.seconds)
    elapsed = time.monotonic() - began
    received = counted["n"] - before
    with contextlib.suppress(Exception):
        await client.disconnect()
    return {"server_delivered_per_s": round(received / elapsed), "delivered": received}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["opcua", "stages", "server", "opcua-shard"])
    parser.add_argument("--groups", type=int, default=1,
                        help="split the tags over this many connectors in runner groups, one runner process each "
                             "(`run_connectors --group`): the runner's work on both cores")
    parser.add_argument("--group", default="", help=argparse.SUPPRESS)   # opcua-shard: the group it runs
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)     # opcua-shard: where its figures go
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="qp_bench_connectors")
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--port", type=int, default=48555)
    parser.add_argument("--var-dir", default="/tmp/qp-bench-connectors")
    parser.add_argument("--celery", metavar="REDIS_URL", default=None,
                        help="ingest in a Celery worker (queue ingest) on this Redis instead of in-process")
    args = parser.parse_args()
    if args.what == "stages":
        load = os.getloadavg()[0]
        for key, value in run_stages(args).items():
            print(f"  {key:34s} {value}")
        print(f"  load average (1 min) {load:.1f} → {os.getloadavg()[0]:.1f}")
        return
    if args.what == "server":
        run_server_only(args)
        return
    if args.what == "opcua-shard":
        run_shard(args)
        return
    Path(args.var_dir).mkdir(parents=True, exist_ok=True)
    for old in Path(args.var_dir).glob("bench-outbox*.sqlite3*"):
        old.unlink()

    database_url = prepare_database(args.database_url, args.database)
    setup_django(database_url, args.var_dir, args.celery)
    endpoint = f"opc.tcp://127.0.0.1:{args.port}/qualitypulse/"
    seed(args.tags, endpoint, args.groups)

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "qms.settings"}
    simulator = subprocess.Popen(
        [sys.executable, "manage.py", "simulate_mes", "--opcua-port", str(args.port), "--rate", str(args.hz),
         "--bench-tags", str(args.tags), "--duration", str(args.warmup + args.seconds + 600)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    worker = None
    if args.celery:
        subprocess.run([sys.executable, "-m", "celery", "-A", "qms", "purge", "-f", "-Q", "ingest"], cwd=ROOT, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "qms", "worker", "-Q", "ingest", "-c", "1", "-P", "solo",
             "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import socket

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", args.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        asyncio.run(wait_for_bench_nodes(args.port, args.tags))
        for old in Path(args.var_dir).glob("started-*"):
            old.unlink()
        shard_files = [Path(args.var_dir) / f"shard{group}.json" for group in range(1, args.groups)]
        for path in shard_files:
            path.unlink(missing_ok=True)
        shards = [subprocess.Popen(
            [sys.executable, __file__, "opcua-shard", "--group", group_name(group, args.groups), "--out", str(path),
             "--database-url", args.database_url, "--database", args.database, "--var-dir", args.var_dir,
             "--seconds", str(args.seconds), "--warmup", str(args.warmup), "--groups", str(args.groups)],
            cwd=ROOT, env=env)
            for group, path in zip(range(1, args.groups), shard_files, strict=True)]
        result = asyncio.run(run_opcua(args, simulator.pid, worker.pid if worker else None,
                                       group=group_name(0, args.groups)))
        for shard in shards:
            shard.wait(timeout=120)
        if shards:
            import json

            result = merge_shards(result, [json.loads(path.read_text()) for path in shard_files])
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    offered = args.tags * args.hz
    print(f"OPC UA {args.tags} tags × {args.hz:g} Hz = {offered:,.0f} values/s offered; ingest "
          f"{'in a Celery worker' if args.celery else 'in-process'}")
    if args.groups > 1:
        print(f"  runner processes  {args.groups} (runner groups of {args.tags // args.groups} tags each)")
    for key, value in result.items():
        if not key.startswith("_"):
            print(f"  {key:18s} {value}")
    print(f"  load average      {os.getloadavg()}")


def run_server_only(args) -> None:
    import socket

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "qms.settings", "DJANGO_DEBUG": "1"}
    env.pop("REDIS_URL", None)
    simulator = subprocess.Popen(
        [sys.executable, "manage.py", "simulate_mes", "--opcua-port", str(args.port), "--rate", str(args.hz),
         "--bench-tags", str(args.tags), "--duration", str(args.warmup + args.seconds + 600)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", args.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        asyncio.run(wait_for_bench_nodes(args.port, args.tags))
        load = os.getloadavg()[0]
        cpu_sim, cpu_self, began = process_cpu_s(simulator.pid), time.process_time(), time.monotonic()
        result = asyncio.run(run_server_capacity(args, args.port))
        elapsed = time.monotonic() - began
        simulator_cpu = process_cpu_s(simulator.pid) - cpu_sim
        result["cpu_simulator_pct"] = round(100 * simulator_cpu / elapsed)
        result["simulator_cpu_us_per_value"] = round(1e6 * simulator_cpu / max(1, result["delivered"]))
        result["simulator_ceiling_per_core"] = round(result["delivered"] / max(simulator_cpu, 1e-9))
        result["cpu_null_client_pct"] = round(100 * (time.process_time() - cpu_self) / elapsed)
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)
    offered = args.tags * args.hz
    print(f"simulator alone → null client: {args.tags} tags × {args.hz:g} Hz = {offered:,.0f} values/s offered")
    for key, value in result.items():
        if value is not None:
            print(f"  {key:24s} {value}")
    print(f"  delivered / offered      {result['server_delivered_per_s'] / offered:.2f}")
    print(f"  load average (1 min)     {load:.1f} → {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
