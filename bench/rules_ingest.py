#!/usr/bin/env python
"""Cost of the reaction-rule receiver on the ingest hot path: bench/ingest.py with and without it, same run.

    python bench/rules_ingest.py --database-url postgres://postgres@127.0.0.1:5432/postgres \
        [--redis-url redis://127.0.0.1:6379/15] [--n 100000 --batch 5000 --repeat 3 --rounds 1]

1. In-process (no server): `qms.rules.evaluate_points` on a 5,000-point batch where every point's characteristic has
   a rule — the pure evaluation cost per point, median of 20 batches.
2. bench/ingest.py end to end (gunicorn + PostgreSQL, see its --help), its seed extended by ONE deviation rule
   covering every bench characteristic (pattern *.TEMP, threshold ±100: wide enough that the bench's values never
   trip it, so the figure is the price every healthy point pays — evaluation, not alarm handling). Runs alternate
   between the receiver detached and attached (`--rounds` pairs); each prints measurements/s and web CPU µs per
   measurement; the medians and the attached/detached ratios are printed at the end. The other receivers (SPC)
   stay attached in both, as in production. With --redis-url (recommended; the Django cache is then Redis, as in
   production) that Redis database is FLUSHED.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import ingest  # noqa: E402  (bench/ingest.py)

MODE_VARIABLE = "QP_BENCH_REACTION_RULES"
RULE_SEED = r"""
from qms.services.reaction_rules import create_rule
create_rule(site, {"name": "bench ±100", "trigger": "deviation", "threshold": 100.0, "characteristic_pattern": "*.TEMP",
                   "severity": "major"})
"""


def bench_application():
    """gunicorn's app: bench/ingest.py's, minus the reaction-rule receiver when the mode says so."""
    application = ingest.bench_application()
    if os.environ.get(MODE_VARIABLE) == "detached":
        from qms.models import Measurement
        from qms.seams import measurements_stored

        measurements_stored.disconnect(sender=Measurement, dispatch_uid="reaction-rules-measurements")
    return application


def start_server(env: dict, port: int, workers: int) -> subprocess.Popen:
    command = [
        str(Path(ingest.PYTHON).with_name("gunicorn")), "rules_ingest:bench_application()", "--pythonpath", str(BENCH),
        "--chdir", str(ingest.REPO), "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "sync", "--timeout", "300", "--log-level", "warning",
    ]
    return subprocess.Popen(command, cwd=ingest.REPO, env=env, start_new_session=True)


def micro(batch: int = 5000, runs: int = 20) -> float:
    """µs per point of evaluate_points with a rule on every characteristic (20 characteristics)."""
    from qms.rules import Limits, Point, RuleSpec, compile_check

    rule = RuleSpec(id=1, site_id=1, trigger="deviation", severity="major", threshold=100.0)
    checks = {cid: (compile_check(rule, cid, 1, Limits(nominal=230.0, lsl=220.0, usl=240.0)),) for cid in range(20)}
    base = datetime(2026, 1, 1, tzinfo=UTC)
    points = [Point(i, i % 20, base + timedelta(milliseconds=100 * (i // 20)), 200 + (i * 7919 % 6000) / 100, 0,
                    "L", 1) for i in range(batch)]
    from qms.rules import evaluate_points

    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        evaluate_points(points, checks, ())
        timings.append((time.perf_counter() - started) / batch * 1e6)
    return statistics.median(timings)


def one_run(mode: str, args) -> dict:
    os.environ[MODE_VARIABLE] = mode
    argv = [sys.argv[0], "--database-url", args.database_url, "--n", str(args.n), "--batch", str(args.batch),
            "--repeat", str(args.repeat), "--workers", str(args.workers), "--clients", str(args.clients),
            "--bench-db", args.bench_db, "--json"]
    if args.redis_url:
        argv += ["--redis-url", args.redis_url]
    captured = io.StringIO()
    saved = sys.argv
    sys.argv = argv
    try:
        with contextlib.redirect_stdout(captured):
            ingest.main()
    finally:
        sys.argv = saved
    lines = captured.getvalue().splitlines()
    for line in lines:
        if line.startswith("  run "):
            print(f"  [{mode}] {line.strip()}", flush=True)
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL",
                                                                 "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis-url", default=None, help="scratch Redis database (FLUSHED)")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per server run")
    parser.add_argument("--rounds", type=int, default=1, help="detached/attached pairs, alternating")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--bench-db", default="qp_bench_rules", help="scratch database (dropped and recreated)")
    parser.add_argument("--skip-micro", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qms.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")

    if not args.skip_micro:
        print(f"evaluate_points, rule on every point: {micro():.3f} µs per point (median of 20 batches of 5,000)")
    ingest.SEED = ingest.SEED.replace('print("SEED"', RULE_SEED + 'print("SEED"')
    ingest.start_server = start_server
    results: dict[str, list[dict]] = {"detached": [], "attached": []}
    for _round in range(args.rounds):
        for mode in ("detached", "attached"):
            print(f"reaction-rule receiver {mode}: bench/ingest.py n={args.n} batch={args.batch}", flush=True)
            results[mode].append(one_run(mode, args))
    rate = {mode: statistics.median(r for run in runs for r in run["api_runs"]) for mode, runs in results.items()}
    cpu = {mode: statistics.median(run["cpu_us"]["web"] for run in runs) for mode, runs in results.items()}
    load = os.getloadavg()
    print(f"median API rate: without the receiver {rate['detached']:,.0f}/s · with {rate['attached']:,.0f}/s · "
          f"ratio {rate['attached'] / rate['detached']:.3f}")
    print(f"median web CPU per measurement: without {cpu['detached']:.2f} µs · with {cpu['attached']:.2f} µs · "
          f"difference {cpu['attached'] - cpu['detached']:+.2f} µs")
    print(f"load average (1/5/15 min) at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
