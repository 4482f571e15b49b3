#!/usr/bin/env python
"""MES verdict API under load: req/s and p50/p99 of single verdicts, batches of 50, and — in the same run — a bare
Django view reading one Redis key (the ceiling); prints the ratio verdict/ceiling.

    .venv/bin/python bench/verdicts.py [--database-url postgres://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6379/5] [--lots 5000] [--clients 8] [--seconds 5] [--rounds 3] [--workers 2]
        [--server granian|gunicorn|uvicorn[,...]] [--client wrk|python]

On a scratch database (qp_bench_verdicts, recreated; schema built from the models) it seeds a site with --lots lots
(every 10th held), a machine token with verdicts:read, rebuilds the verdict cache, then starts the production
server — by default granian with the flags of docker/entrypoint.sh's `mes` role (WSGI, --workers processes, one
Python thread each), which serves /api/v1/verdicts/ in production; gunicorn with docker/gunicorn.conf.py (the `web`
role) and uvicorn (the `ws` role) for comparison, several one after the other with --server a,b — DEBUG off, with
bench/verdicts_settings.py (real URLs + the bare view) and drives it, as the TLS proxy would (X-Forwarded-Proto:
https), with --clients concurrent keep-alive HTTP/1.1 connections: wrk (C, epoll, one thread; `apt-get install wrk`;
the default when installed) or a Python asyncio + uvloop client on raw sockets (--client python; it costs twice
wrk's CPU per request on the same 2 cores). A DRF rendition of the single-lot view runs alongside for comparison
(why the real one is a plain Django view). Scenarios alternate round by round; figures are medians over the rounds.
It also counts the PostgreSQL sessions each server opened (pg_stat_database): persistent connections mean a
handful; one per request means the server does not keep them. Per scenario it prints the server's CPU per request
(its process tree), the client's, and how many cores the rest of the machine used meanwhile — Redis, PostgreSQL,
the kernel and any other job: a run sharing the machine with another job shows it there.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
NAME = "qp_bench_verdicts"
CEILING = "bare view, lane (ceiling)"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def recreate(admin_url: str, name: str = NAME) -> None:
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def seed(lots: int) -> str:
    """Schema, lots, holds, token, cache; returns the raw token."""
    import django

    django.setup()
    from django.apps import apps
    from django.conf import settings
    from django.core.management import call_command

    settings.MIGRATION_MODULES = {config.label: None for config in apps.get_app_configs()}
    call_command("migrate", run_syncdb=True, verbosity=0)
    from django.db import transaction
    from django.utils import timezone

    from qms.auth.tokens import issue_token
    from qms.models import Site
    from traceability.models import Hold, HoldLot, Lot
    from traceability.verdicts.store import verdict_cache
    from traceability.verdicts.write_through import note_lots_changed

    site = Site.objects.create(code="BENCH", name="Bench plant")
    created = Lot.objects.bulk_create([Lot(site=site, code=f"L-{i:06d}") for i in range(lots)])
    with transaction.atomic():
        hold = Hold.objects.create(site=site, number="H-BENCH", reason="IMM02 barrel zone 2 +4 °C",
                                   placed_at=timezone.now(), placed_by="bench")
        held = created[::10]
        HoldLot.objects.bulk_create([HoldLot(hold=hold, lot=lot, via="window") for lot in held])
        note_lots_changed(site.pk, [lot.pk for lot in held])
    _token, raw = issue_token(name="MES-BENCH", site=site, scopes=["verdicts:read"])
    cache = verdict_cache()
    cache.auto_rebuild = False
    cache.rebuild(recent_lots=lots)
    cache.client.set("qp:bench:bare", b'{"lot":"L-000001","verdict":"release","reasons":[],"checked_at":"x"}')
    return raw


def start_server(env: dict, port: int, workers: int, kind: str) -> subprocess.Popen:
    if kind == "granian":  # the `mes` role's server, started as docker/entrypoint.sh starts it
        command = [str(ROOT / "docker/mes-server.sh")]
        env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "MES_WORKERS": str(workers), "LOG_LEVEL": "WARNING",
               "PATH": f"{ROOT / '.venv/bin'}:{env.get('PATH', '')}"}
    elif kind == "uvicorn":  # ASGI: what docker/entrypoint.sh runs for websockets (the `ws` role)
        command = [str(ROOT / ".venv/bin/uvicorn"), "qms.asgi:application", "--host", "127.0.0.1", "--port",
                   str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    else:  # WSGI: the docker `web` role's gunicorn with its own config (gthread, persistent connections)
        command = [str(ROOT / ".venv/bin/gunicorn"), "qms.wsgi:application", "-c", str(ROOT / "docker/gunicorn.conf.py"),
                   "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


async def one_client(port: int, requests, stop_at: float, latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            request = random.choice(requests)
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head.split(b"\r\n", 1)[0].decode() + " " + body[:200].decode(errors="replace"))
    finally:
        writer.close()


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its children that are still running (Linux)."""
    total, pending = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            pending += [int(child) for child in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def machine_busy_cpu() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and iowait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


WRK_SCRIPT = """
local requests = {%s}
local n = #requests
math.randomseed(os.time())
request = function() return requests[math.random(n)] end
done = function(summary, latency, _requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format("WRK %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), bad))
end
"""


def _lua_string(data: bytes) -> str:
    """A Lua string literal of raw bytes (long brackets would turn every CRLF into LF)."""
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03d}" for b in data) + '"'


def run_scenario_wrk(port: int, requests: list[bytes], clients: int, seconds: float, server_pid: int) -> dict:
    """The same scenario driven by wrk (C, epoll; one thread holding the keep-alive connections): a load generator
    costing a tenth of the Python one's CPU, so the server gets the cores. Latency percentiles are wrk's."""
    import resource
    import tempfile

    body = ",".join(_lua_string(request) for request in requests)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % body)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before, busy_before = process_tree_cpu(server_pid), machine_busy_cpu()
    try:
        output = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "-s", script.name,
                                 f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (children_after.ru_utime + children_after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    server_cpu = process_tree_cpu(server_pid) - server_before
    other_cpu = machine_busy_cpu() - busy_before - client_cpu - server_cpu
    line = next(line for line in output.splitlines() if line.startswith("WRK "))
    count, duration_us, p50_us, p99_us, bad = (int(value) for value in line.split()[1:])
    if bad or not count:
        raise SystemExit(f"{bad} failed requests (non-2xx or socket errors) under wrk, {count} answered:\n{output}")
    elapsed = duration_us / 1e6
    return {"rps": count / elapsed, "p50": p50_us / 1000, "p99": p99_us / 1000, "n": count,
            "server_us": 1e6 * server_cpu / count, "client_us": 1e6 * client_cpu / count,
            "other_cores": other_cpu / elapsed}


def run_scenario(port: int, requests: list[bytes], clients: int, seconds: float, server_pid: int) -> dict:
    async def main():
        latencies, errors = [], []
        stop_at = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(*(one_client(port, requests, stop_at, latencies, errors) for _ in range(clients)))
        return latencies, errors, time.perf_counter() - started

    import uvloop

    client_before, server_before, busy_before = time.process_time(), process_tree_cpu(server_pid), machine_busy_cpu()
    latencies, errors, elapsed = uvloop.run(main())
    client_cpu, server_cpu = time.process_time() - client_before, process_tree_cpu(server_pid) - server_before
    other_cpu = machine_busy_cpu() - busy_before - client_cpu - server_cpu
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, e.g. {errors[0]}")
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50": latencies[len(latencies) // 2] * 1000,
            "p99": latencies[int(len(latencies) * 0.99)] * 1000, "n": len(latencies),
            "client_us": client_cpu / len(latencies) * 1e6, "server_us": server_cpu / len(latencies) * 1e6,
            "other_cores": other_cpu / elapsed}


def get(path: str, token: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
            f"Authorization: Bearer {token}\r\n\r\n").encode()


def post(path: str, token: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="an administrative PostgreSQL URL; the bench uses its own scratch database")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--lots", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (2 cores here)")
    parser.add_argument("--port", type=int, default=8779)
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python",
                        help="load generator: wrk (C; default when installed: apt-get install wrk) or the Python "
                             "asyncio one (costs the server ~a tenth of the 2 cores)")
    parser.add_argument("--server", default="granian", metavar="KIND[,KIND]",
                        help="granian (the docker mes role, which serves MES verdicts in production; default), "
                             "gunicorn (gthread, the web role), uvicorn (ASGI, the ws role); several comma-separated "
                             "run one after the other and are compared")
    parser.add_argument("--only", default=None, metavar="NAMES",
                        help="development runs: the ceiling, the single verdict and these comma-separated scenarios")
    parser.add_argument("--no-fast-path", action="store_true",
                        help="serve every verdict through the lane (VERDICT_FAST_PATH=0): the fast path's gain")
    args = parser.parse_args()

    recreate(args.database_url)
    env = dict(os.environ, DATABASE_URL=with_database(args.database_url, NAME), REDIS_URL=args.redis_url,
               DJANGO_DEBUG="0", SECRET_KEY=secrets.token_urlsafe(60), ALLOWED_HOSTS="127.0.0.1",
               DJANGO_SETTINGS_MODULE="bench.verdicts_settings", LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT),
               API_MACHINE_RATE="100000000/min",  # DRF's throttle still counts (one INCR), never refuses
               VERDICT_FAST_PATH="0" if args.no_fast_path else "1")
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    token = seed(args.lots)
    codes = [f"L-{i:06d}" for i in range(args.lots)]
    import orjson

    scenarios = {
        CEILING: [get("/api/v1/verdicts/bench/bare/", token)],
        "bare view, full stack": [get("/bench/bare/", token)],
        "verdict, single lot": [get(f"/api/v1/verdicts/lots/{code}/", token) for code in codes[:2000]],
        "same through DRF": [get(f"/bench/drf/verdicts/lots/{code}/", token) for code in codes[:2000]],
        "verdict, batch of 50": [post("/api/v1/verdicts/query/", token,
                                      orjson.dumps({"lots": random.sample(codes, 50)})) for _ in range(200)],
    }
    if args.only:
        wanted = {CEILING, "verdict, single lot", *args.only.split(",")}
        scenarios = {name: requests for name, requests in scenarios.items() if name in wanted}
    servers = tuple(kind.strip() for kind in args.server.split(","))
    unknown = set(servers) - {"granian", "gunicorn", "uvicorn"}
    if unknown:
        parser.error(f"unknown --server {', '.join(sorted(unknown))}: granian, gunicorn or uvicorn")
    load_start = os.getloadavg()
    medians_by_server = {}
    for kind in servers:
        sessions_before = pg_sessions(args.database_url)
        results = measure(env, args, kind, scenarios_for(kind, scenarios))
        sessions = pg_sessions(args.database_url) - sessions_before
        requests = sum(run["n"] for runs in results.values() for run in runs)
        medians_by_server[kind] = report(kind, args, results, sessions, requests)
    if len(servers) >= 2:
        first, *others = servers
        for other in others:
            print(f"\nratio {first} / {other} (req/s):")
            for name in scenarios:
                if name not in medians_by_server[first] or name not in medians_by_server[other]:
                    continue
                ratio = medians_by_server[first][name]["rps"] / medians_by_server[other][name]["rps"]
                print(f"  {name:28} {ratio:5.2f}x")
    load = os.getloadavg()
    print(f"load average (1/5/15 min): start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}, "
          f"end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores)")


# What the proxy never sends to the `mes` role (it gets /api/v1/verdicts/ only): measured on the web role's servers.
OFF_THE_MES_PATH = ("bare view, full stack", "same through DRF")


def scenarios_for(kind: str, scenarios: dict) -> dict:
    """The mes role (granian) serves MES verdicts alone: its run is the verdict scenarios and the ceiling through the
    same lane, without the full-stack and DRF views, whose other traffic that server never carries."""
    if kind != "granian":
        return scenarios
    return {name: requests for name, requests in scenarios.items() if name not in OFF_THE_MES_PATH}


def pg_sessions(admin_url: str) -> int:
    """Sessions ever opened on the scratch database (PostgreSQL >= 14 counts them; flushed when a backend exits)."""
    time.sleep(1.0)
    connection = psycopg2.connect(admin_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT coalesce(sessions, 0) FROM pg_stat_database WHERE datname = %s", [NAME])
            row = cursor.fetchone()
    finally:
        connection.close()
    return int(row[0]) if row else 0


def measure(env: dict, args, kind: str, scenarios: dict) -> dict:
    server = start_server(env, args.port, args.workers, kind)
    try:
        drive = run_scenario_wrk if args.client == "wrk" else run_scenario
        for requests in scenarios.values():  # warm-up: imports, connections, token cache in every worker (the
            run_scenario(args.port, requests, args.clients, 1.0, server.pid)  # Python client waits for slow firsts)
        results = {name: [] for name in scenarios}
        for _round in range(args.rounds):
            for name, requests in scenarios.items():
                results[name].append(drive(args.port, requests, args.clients, args.seconds, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=20)
    return results


def report(kind: str, args, results: dict, sessions: int, requests: int) -> dict:
    print(f"\nverdict API, {args.clients} keep-alive clients ({args.client}), {kind} --workers {args.workers}, DEBUG off, "
          f"fast path {'off' if args.no_fast_path else 'on'}, "
          f"PostgreSQL + Redis, {args.lots} lots ({args.lots // 10} held); medians of {args.rounds} rounds "
          f"x {args.seconds:g} s; load average now {os.getloadavg()[0]:.2f}")
    print(f"{'scenario':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'server CPU µs/req':>18} {'client CPU µs/req':>18}"
          f" {'other cores':>12}")
    medians = {}
    for name, runs in results.items():
        medians[name] = {key: statistics.median(run[key] for run in runs)
                         for key in ("rps", "p50", "p99", "server_us", "client_us", "other_cores")}
        m = medians[name]
        print(f"{name:28} {m['rps']:9.0f} {m['p50']:8.2f} {m['p99']:8.2f} {m['server_us']:18.0f} {m['client_us']:18.0f}"
              f" {m['other_cores']:12.2f}")
    print("other cores: CPU the rest of the machine used meanwhile (Redis, PostgreSQL, the kernel, other jobs), in "
          "cores; well above ~0.3 means another job shared the machine")
    ceiling = medians[CEILING]["rps"]
    single = medians["verdict, single lot"]["rps"]
    print(f"ratio single verdict / bare ceiling: {single / ceiling:.0%}  (target >= 60 %; p99 target <= 10 ms)")
    if "same through DRF" in medians and "verdict, single lot" in medians:
        print(f"ratio DRF / lean single verdict: {medians['same through DRF']['rps'] / single:.0%}")
    if "verdict, batch of 50" in medians:
        print(f"batch of 50: {medians['verdict, batch of 50']['rps'] * 50:.0f} lot verdicts/s")
    print(f"PostgreSQL sessions opened by the server: {sessions} for {requests} measured requests (+ warm-up)")
    return medians

if __name__ == "__main__":
    main()
