#!/usr/bin/env python
"""Ingestion benchmark: measurements/s through the HTTP API versus a raw COPY of the same rows.

    python bench/ingest.py --database-url postgres://postgres@127.0.0.1:5432/postgres \
        [--redis-url redis://127.0.0.1:6379/15] [--n 200000 --batch 5000 --clients 2 --workers 3 --repeat 3]

What it does, all on its own scratch database (default qp_bench, dropped and recreated; --keep leaves it):
  1. migrates it (from the models while they are ahead of the migrations) and seeds a site, 2 machines,
     20 characteristics and an `ingest` token;
  2. starts gunicorn (production settings: DJANGO_DEBUG=0, a generated SECRET_KEY, ALLOWED_HOSTS=127.0.0.1,
     SECURE_SSL_REDIRECT=0) on a free loopback port;
  3. per repetition: empties the measurement tables, POSTs the n measurements in batches (each with an
     Idempotency-Key, as a careful MES sends them) from several client threads, and checks every one was stored;
     then COPYs the very same rows into a scratch table created LIKE qms_measurement INCLUDING ALL (same indexes);
  4. prints measurements/s for both and the ratio, median of the repetitions.

Downstream consumers of new points (SPC live evaluation) are Celery tasks. With --redis-url (production-like) the
web process only enqueues them; no worker runs, and that Redis database is FLUSHED before and after — give the
bench a scratch one. Without it (the embedded default) Celery runs tasks in-process, so every batch is also
evaluated by SPC inside the request: that figure is ingestion + SPC, not ingestion alone.

--consumers detached disconnects every receiver of qms.seams.measurements_stored in the server, which isolates the
cost of ingestion itself from what consumers do in the request (building StoredPoints and enqueueing).

Request bodies and COPY text are built before the clock starts: the client's JSON encoding is not the server's
cost. Both timings include the commit.
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import queue
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg2

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CHARACTERISTICS_PER_MACHINE = 10
MACHINES = ("IMM01", "IMM02")
SOURCE = "token:bench-mes"

SEED = r"""
import json, django
django.setup()
from qms.auth.tokens import issue_token
from qms.models import Area, Characteristic, Equipment, Line, Site, WorkCenter
site = Site.objects.create(code="BENCH", name="Benchmark plant")
line = Line.objects.create(area=Area.objects.create(site=site, code="MOULDING"), code="L1")
work_center = WorkCenter.objects.create(line=line, code="WC1")
out = {"characteristics": [], "equipment": {}}
for machine in %(machines)r:
    equipment = Equipment.objects.create(site=site, work_center=work_center, code=machine)
    out["equipment"][machine] = equipment.pk
    for n in range(%(per_machine)d):
        c = Characteristic.objects.create(
            site=site, code=f"{machine}.ZONE{n}.TEMP", name_en=f"Zone {n} temperature", unit="°C", precision=2,
            physical_min=0, physical_max=1000, nominal=230, lsl=220, usl=240, equipment=equipment)
        out["characteristics"].append([c.code, c.pk, equipment.pk, machine])
token, raw = issue_token(name="bench-mes", site=site, scopes=["ingest"])
out["token"] = raw
print("SEED" + json.dumps(out))
"""


# Used only while the models are ahead of the committed migrations (between a model change and the regeneration of
# the migrations): the schema is then built straight from the models, as the test suite's --nomigrations does.
SCHEMA_FROM_MODELS = r"""
import django
django.setup()
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
settings.MIGRATION_MODULES = {config.label: None for config in apps.get_app_configs()}
call_command("migrate", run_syncdb=True, verbosity=0)
"""


def build_schema(env: dict) -> None:
    pending = subprocess.run([PYTHON, "manage.py", "makemigrations", "--check", "--dry-run"], cwd=REPO, env=env,
                             capture_output=True, text=True)
    if pending.returncode == 0:
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True)
        return
    log("  the models are ahead of the migrations: building the schema from the models instead")
    subprocess.run([PYTHON, "-c", SCHEMA_FROM_MODELS], cwd=REPO, env=env, check=True)


def log(message: str) -> None:
    print(message, flush=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def recreate_database(admin_url: str, name: str) -> None:
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def drop_database(admin_url: str, name: str) -> None:
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


def flush_redis(redis_url: str | None) -> None:
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()


def server_environment(database_url: str, var_dir: str, redis_url: str | None) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="qms.settings",
        DJANGO_DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
        API_MACHINE_RATE="1000000/min",   # the throttle is for misbehaving clients, not for the benchmark
        LOG_LEVEL="WARNING",
        QP_VAR_DIR=var_dir,
        STATIC_ROOT=var_dir,   # exists (WhiteNoise warns otherwise); the API serves no static files
        PYTHONPATH=str(REPO),
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_request(port: int, method: str, path: str, token: str, body: bytes | None = None,
                 headers: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        all_headers = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1"}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def bench_application():
    """The WSGI app gunicorn serves (`ingest:bench_application()`): the project's, optionally without consumers."""
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    if os.environ.get("QP_BENCH_CONSUMERS") == "detached":
        from qms.seams import measurements_stored

        with measurements_stored.lock:
            measurements_stored.receivers.clear()
            measurements_stored.sender_receivers_cache.clear()
    return application


def start_server(env: dict, port: int, workers: int) -> subprocess.Popen:
    command = [
        str(Path(PYTHON).with_name("gunicorn")), "ingest:bench_application()", "--pythonpath", str(REPO / "bench"),
        "--chdir", str(REPO), "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "sync", "--timeout", "300", "--log-level", "warning",
    ]
    return subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)


def wait_until_ready(port: int, token: str, server: subprocess.Popen, deadline_s: float = 90) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            status, body = http_request(port, "GET", "/api/v1/measurements/?page_size=1", token)
            if status == 200:
                return
            raise SystemExit(f"the server answered {status}: {body[:300]!r}")
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not come up")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def generate_rows(n: int, characteristics: list) -> list[tuple]:
    """(code, characteristic_id, equipment_id, machine, ts, value, lot) — one point per characteristic per 100 ms."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    count = len(characteristics)
    rows = []
    for i in range(n):
        code, characteristic_id, equipment_id, machine = characteristics[i % count]
        ts = base + timedelta(milliseconds=100 * (i // count))
        value = float(f"{200 + (i * 7919 % 6000) / 100:.2f}")
        rows.append((code, characteristic_id, equipment_id, machine, ts, value, f"L-{i // 20000:04d}"))
    return rows


def request_bodies(rows: list[tuple], batch: int) -> list[bytes]:
    bodies = []
    for start in range(0, len(rows), batch):
        items = [
            {"characteristic": code, "value": value, "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
             "lot": lot, "equipment": machine, "quality": "good"}
            for code, _cid, _eid, machine, ts, value, lot in rows[start:start + batch]
        ]
        bodies.append(orjson.dumps({"measurements": items}))
    return bodies


def copy_text(rows: list[tuple], received_at: datetime) -> str:
    received = received_at.isoformat()
    return "".join(
        f"{cid}\t{ts.isoformat()}\t{value!r}\t0\t{lot}\t{eid}\t{SOURCE}\t\\N\t{received}\n"
        for _code, cid, eid, _machine, ts, value, lot in rows
    )


def empty_measurement_tables(database_url: str) -> None:
    connection = psycopg2.connect(database_url)
    with connection, connection.cursor() as cursor:
        cursor.execute("TRUNCATE qms_measurement, qms_deadletter, qms_ingestbatch RESTART IDENTITY")
    with connection.cursor() as cursor:
        connection.autocommit = True
        cursor.execute("VACUUM ANALYZE qms_measurement")
    connection.close()


# --- CPU accounting (Linux /proc): on a shared, noisy machine the CPU a run costs is steadier than its wall time ---
def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def children_of(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    children.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return children


def backend_pids(database_url: str) -> list[int]:
    connection = psycopg2.connect(database_url)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        pids = [pid for (pid,) in cursor.fetchall()]
    connection.close()
    return pids


class CpuMeter:
    """CPU seconds spent by the web workers and by the database backends serving them, between start and stop."""

    def __init__(self, server: subprocess.Popen, database_url: str):
        self.server, self.database_url = server, database_url

    def snapshot(self) -> tuple[dict, dict]:
        web = {pid: cpu_seconds(pid) for pid in children_of(self.server.pid)}
        database = {pid: cpu_seconds(pid) for pid in backend_pids(self.database_url)}
        return web, database

    def start(self) -> None:
        self.before = self.snapshot()

    def stop(self) -> tuple[float, float]:
        after = self.snapshot()
        return tuple(sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())
                     for before, now in zip(self.before, after, strict=True))


def run_api(port: int, token: str, bodies: list[bytes], clients: int, repetition: int) -> tuple[float, int]:
    """POST every body from `clients` threads; return (seconds, measurements stored)."""
    work: queue.Queue = queue.Queue()
    for number, body in enumerate(bodies):
        work.put((number, body))
    stored, failures, lock = [0], [], threading.Lock()

    def client():
        while True:
            try:
                number, body = work.get_nowait()
            except queue.Empty:
                return
            status, answer = http_request(port, "POST", "/api/v1/measurements/", token, body,
                                          {"Idempotency-Key": f"bench-{repetition}-{number}"})
            with lock:
                if status != 200:
                    failures.append((status, answer[:500]))
                else:
                    result = orjson.loads(answer)
                    stored[0] += result["stored"]
                    if result["rejected"]:
                        failures.append((status, answer[:500]))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, first: {failures[0]}")
    return elapsed, stored[0]


def run_copy(database_url: str, text: str) -> tuple[float, float]:
    """COPY the rows into a fresh table shaped like qms_measurement; return (seconds, backend CPU seconds)."""
    connection = psycopg2.connect(database_url)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute("CREATE TABLE bench_copy (LIKE qms_measurement INCLUDING ALL)")
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    connection.commit()
    cpu_before = cpu_seconds(backend)
    columns = "characteristic_id, ts, value, quality, lot_code, equipment_id, source, batch_id, received_at"
    buffer = io.StringIO(text)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY bench_copy ({columns}) FROM STDIN", buffer)
    connection.commit()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(backend) - cpu_before
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_copy")
    connection.commit()
    connection.close()
    return elapsed, cpu


def count_rows(database_url: str) -> int:
    connection = psycopg2.connect(database_url)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM qms_measurement")
        (count,) = cursor.fetchone()
    connection.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
                        help="any database on the PostgreSQL server to use (the scratch database is created beside it)")
    parser.add_argument("--redis-url", default=None,
                        help="scratch Redis database for Celery (flushed!); without it tasks run in-process")
    parser.add_argument("--consumers", choices=["attached", "detached"], default="attached",
                        help="detached: no measurements_stored receivers in the server (ingestion alone)")
    parser.add_argument("--bench-db", default="qp_bench", help="name of the scratch database (dropped and recreated)")
    parser.add_argument("--n", type=int, default=200_000, help="measurements per repetition")
    parser.add_argument("--batch", type=int, default=5000, help="measurements per request (1,000–10,000)")
    parser.add_argument("--clients", type=int, default=2, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (the median is reported)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the benchmark needs PostgreSQL: --database-url postgres://...")

    database_url = with_database(args.database_url, args.bench_db)
    log(f"scratch database {args.bench_db}: recreating and migrating")
    recreate_database(args.database_url, args.bench_db)
    server = None
    with tempfile.TemporaryDirectory(prefix="qp-bench-") as var_dir:
        env = server_environment(database_url, var_dir, args.redis_url)
        env["QP_BENCH_CONSUMERS"] = args.consumers
        flush_redis(args.redis_url)
        if args.consumers == "detached":
            log("consumers of measurements_stored: detached (ingestion alone)")
        else:
            log("consumers attached; Celery: " + (
                "tasks enqueued to Redis, no worker (production-like)" if args.redis_url else
                "no Redis, tasks run in-process: SPC evaluates every batch inside the request"))
        try:
            build_schema(env)
            seeded = subprocess.run(
                [PYTHON, "-c", SEED % {"machines": MACHINES, "per_machine": CHARACTERISTICS_PER_MACHINE}],
                cwd=REPO, env=env, capture_output=True, text=True,
            )
            if seeded.returncode != 0:
                raise SystemExit(f"seeding failed:\n{seeded.stderr[-3000:]}")
            seed = json.loads(next(line[4:] for line in seeded.stdout.splitlines() if line.startswith("SEED")))
            token = seed["token"]

            port = free_port()
            log(f"gunicorn: {args.workers} sync workers on 127.0.0.1:{port} (DJANGO_DEBUG=0)")
            server = start_server(env, port, args.workers)
            wait_until_ready(port, token, server)

            rows = generate_rows(args.n, seed["characteristics"])
            bodies = request_bodies(rows, args.batch)
            text = copy_text(rows, datetime.now(UTC))
            log(f"{args.n} measurements, {len(bodies)} requests of ≤{args.batch}, {args.clients} clients, "
                f"{args.repeat} repetitions; {os.cpu_count()} CPUs")

            api_rates, copy_rates, web_cpu, database_cpu, copy_cpu = [], [], [], [], []
            meter = CpuMeter(server, database_url)
            for repetition in range(1, args.repeat + 1):
                empty_measurement_tables(database_url)
                meter.start()
                api_seconds, stored = run_api(port, token, bodies, args.clients, repetition)
                web_seconds, database_seconds = meter.stop()
                if stored != args.n or count_rows(database_url) != args.n:
                    raise SystemExit(f"expected {args.n} stored measurements, the API reported {stored}")
                copy_seconds, copy_cpu_seconds = run_copy(database_url, text)
                api_rates.append(args.n / api_seconds)
                copy_rates.append(args.n / copy_seconds)
                web_cpu.append(web_seconds / args.n * 1e6)
                database_cpu.append(database_seconds / args.n * 1e6)
                copy_cpu.append(copy_cpu_seconds / args.n * 1e6)
                log(f"  run {repetition}: API {api_rates[-1]:>9,.0f}/s ({api_seconds:.2f} s)   "
                    f"COPY {copy_rates[-1]:>9,.0f}/s ({copy_seconds:.2f} s)   ratio {api_rates[-1] / copy_rates[-1]:.2f}"
                    f"   CPU µs/measurement: web {web_cpu[-1]:.1f} + database {database_cpu[-1]:.1f}, "
                    f"COPY {copy_cpu[-1]:.1f}")
        finally:
            if server is not None:
                stop_server(server)
            if not args.keep:
                drop_database(args.database_url, args.bench_db)
            flush_redis(args.redis_url)

    api, raw = statistics.median(api_rates), statistics.median(copy_rates)
    cpu = {"web": statistics.median(web_cpu), "database": statistics.median(database_cpu),
           "copy": statistics.median(copy_cpu)}
    ratios = statistics.median(a / c for a, c in zip(api_rates, copy_rates, strict=True))
    log(f"median: API {api:,.0f} measurements/s · raw COPY {raw:,.0f} rows/s · ratio {api / raw:.2f} "
        f"(median of the per-run ratios {ratios:.2f}) (targets: ≥ 20,000/s, ≥ 0.20)")
    log(f"median CPU per measurement: API {cpu['web'] + cpu['database']:.1f} µs (web {cpu['web']:.1f}, "
        f"database {cpu['database']:.1f}) · raw COPY {cpu['copy']:.1f} µs")
    if args.json:
        print(json.dumps({"n": args.n, "batch": args.batch, "redis": bool(args.redis_url), "consumers": args.consumers,
                          "clients": args.clients,
                          "workers": args.workers, "repeat": args.repeat, "api_per_s": round(api), "copy_per_s": round(raw),
                          "ratio": round(api / raw, 3), "median_run_ratio": round(ratios, 3),
                          "api_runs": [round(r) for r in api_rates],
                          "copy_runs": [round(r) for r in copy_rates],
                          "cpu_us": {key: round(value, 2) for key, value in cpu.items()}}))


if __name__ == "__main__":
    main()
