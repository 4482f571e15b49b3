#!/usr/bin/env python
"""Server-side CPU per verdict request, in-process (no HTTP, no load generator): the development metric behind
bench/verdicts.py. Calls the WSGI application (qms.wsgi, bench URL conf) with a prepared gunicorn-like environ in a
loop and prints CPU µs per request (best of --repeat runs: the least disturbed by other jobs on the machine) for the
bare view through the full middleware stack and through the verdict lane (the ceiling), a single verdict and a
batch of 50 — each as production serves it (qms.wsgi: the fast path, traceability/verdicts/fast_path.py) and through
the lane alone (what the fast path hands on) — and how many requests the fast path answered. Redis' own CPU is not
counted.

    .venv/bin/python bench/verdicts_cpu.py [--database-url ...] [--redis-url redis://127.0.0.1:6379/5]
        [--requests 5000] [--profile "verdict, single lot"] [--no-seed]

It seeds its own scratch database the way bench/verdicts.py does (qp_bench_verdicts_cpu, recreated; the Redis
database of --redis-url is flushed) unless --no-seed.
--profile NAME prints a cProfile of that scenario (top 40 by --sort).
"""
from __future__ import annotations

import argparse
import io
import os
import random
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.verdicts import NAME, recreate, seed, with_database  # noqa: E402

DATABASE = f"{NAME}_cpu"
TOKEN_FILE = Path("/tmp") / f"{DATABASE}_token"


def environ(method: str, path: str, token: str, body: bytes = b"") -> dict:
    return {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1", "HTTP_X_FORWARDED_PROTO": "https", "HTTP_AUTHORIZATION": f"Bearer {token}",
        "CONTENT_TYPE": "application/json" if body else "", "CONTENT_LENGTH": str(len(body)) if body else "",
        "wsgi.url_scheme": "https", "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "_body": body,
    }


def call(application, template: dict) -> list | object:
    env = dict(template)
    env["wsgi.input"] = io.BytesIO(env.pop("_body"))
    status = []

    def start_response(code, headers, exc_info=None):
        status.append((code, headers))

    result = application(env, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    if not status[0][0].startswith("200"):
        raise SystemExit(f"{template['PATH_INFO']}: {status[0][0]} {body[:200]!r}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--lots", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per scenario; the least CPU is reported")
    parser.add_argument("--profile", default=None, help="scenario name to profile")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key (cumulative, tottime)")
    parser.add_argument("--token", default=None, help="with --no-seed: the token of the previous seed")
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument("--full-stack", action="store_true", help="bypass the verdict lane (qms.wsgi.full_stack)")
    args = parser.parse_args()

    os.environ.update(DATABASE_URL=with_database(args.database_url, DATABASE), REDIS_URL=args.redis_url,
                      DJANGO_DEBUG="0", SECRET_KEY=secrets.token_urlsafe(60), ALLOWED_HOSTS="127.0.0.1",
                      DJANGO_SETTINGS_MODULE="bench.verdicts_settings", LOG_LEVEL="WARNING")
    if args.no_seed:
        token = args.token or TOKEN_FILE.read_text()
    else:
        import redis

        recreate(args.database_url, DATABASE)
        redis.Redis.from_url(args.redis_url).flushdb()
        token = seed(args.lots)
        TOKEN_FILE.write_text(token)
    import orjson

    from qms.wsgi import application, full_stack
    from traceability.verdicts.lane import VerdictLaneHandler

    lane = VerdictLaneHandler()
    codes = [f"L-{i:06d}" for i in range(args.lots)]
    single = [environ("GET", f"/api/v1/verdicts/lots/{code}/", token) for code in codes[:2000]]
    batches = [environ("POST", "/api/v1/verdicts/query/", token, orjson.dumps({"lots": random.sample(codes, 50)}))
               for _ in range(200)]
    scenarios = {  # name: (WSGI application, requests)
        "bare view, full stack": (application, [environ("GET", "/bench/bare/", token)]),
        "bare view, lane (ceiling)": (application, [environ("GET", "/api/v1/verdicts/bench/bare/", token)]),
        "verdict, single lot": (application, single),
        "verdict, single lot, lane": (lane, single),
        "verdict, batch of 50": (application, batches),
        "verdict, batch of 50, lane": (lane, batches),
    }
    if args.full_stack:
        scenarios = {name: (full_stack, templates) for name, (_app, templates) in scenarios.items()
                     if name != "bare view, lane (ceiling)" and not name.endswith(", lane")}
    for app, templates in scenarios.values():  # warm-up: imports, connections, token cache, Redis
        for template in templates[:200]:
            call(app, template)
    for name, (app, templates) in scenarios.items():
        runs = [run_cpu(app, templates, args.requests) for _ in range(args.repeat)]
        cpu, fast = min(runs)
        print(f"{name:28} {cpu / args.requests * 1e6:8.0f} µs CPU per request (best of {args.repeat}; this process)"
              + (f"  fast path answered {fast / args.requests:.1%}" if fast else ""))
    for name, (app, templates) in scenarios.items():
        if args.profile == name:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            run_cpu(app, templates, args.requests)
            profiler.disable()
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(40)


def run_cpu(application, templates: list[dict], requests: int) -> tuple[float, int]:
    """(CPU seconds, requests the fast path answered: its answer is a plain list, the lane's an HttpResponse)."""
    fast = 0
    started = time.process_time()
    for i in range(requests):
        fast += type(call(application, templates[i % len(templates)])) is list
    return time.process_time() - started, fast


if __name__ == "__main__":
    main()
