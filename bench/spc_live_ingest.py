#!/usr/bin/env python
"""Live SPC through ingestion: values/s of ingest + live evaluation at a history of 10k vs 1M, and the chart data
endpoint's service time over 100,000 points.

    python bench/spc_live_ingest.py --database-url postgres://postgres@127.0.0.1:5432/postgres \
        [--small 10000 --large 1000000 --batch 100 --batches 200 --repeat 3]

On its own scratch database (qp_bench_spc_live, dropped and recreated; --keep leaves it), in this process, with
Celery in-process (the embedded default: every batch is evaluated inside ingest_measurements' after-commit):
  1. builds the schema from the models, seeds a site and two I-MR characteristics with frozen limits;
  2. gives one a history of --small and the other of --large values: measurements and judged chart points COPYed
     in, the live state continued from that history (spc.engine.live.LiveState.from_history);
  3. per repetition, alternating the two: ingests --batches batches of --batch new values (through
     qms.services.ingest.ingest_measurements: validation, store, seam, evaluation, chart points, state row) and
     prints values/s for each history and their ratio (flat = cost independent of history);
  4. times spc.services.chart_data.chart_payload over the newest 100,000 points (decimated to 5,000).
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
NAME = "qp_bench_spc_live"
START = datetime(2025, 1, 1, tzinfo=UTC)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def recreate(admin_url: str, drop_only: bool = False) -> None:
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        if not drop_only:
            cursor.execute(f'CREATE DATABASE "{NAME}"')
    connection.close()


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "qms.settings"
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.apps import apps
    from django.conf import settings
    from django.core.management import call_command

    settings.MIGRATION_MODULES = {config.label: None for config in apps.get_app_configs()}
    call_command("migrate", run_syncdb=True, verbosity=0)


def values_for(count: int, offset: int = 0) -> list[float]:
    return [round(230.0 + 0.3 * (((i + offset) * 7919) % 11 - 5) / 5, 1) for i in range(count)]


def seed_history(characteristic, revision, count: int) -> None:
    """COPY `count` measurements and their judged chart points, then continue the live state from them."""
    import numpy as np
    from django.db import connection

    from spc.engine.limits import Limits
    from spc.engine.live import LiveState
    from spc.models import SpcState
    from spc.services.live import rules_by_chart

    values = values_for(count)
    received = datetime.now(UTC).isoformat()
    chunk = 200_000
    with connection.cursor() as cursor:
        for first in range(0, count, chunk):
            measurements, points = io.StringIO(), io.StringIO()
            for i in range(first, min(count, first + chunk)):
                ts = (START + timedelta(seconds=i)).isoformat()
                measurements.write(f"{characteristic.pk}\t{ts}\t{values[i]!r}\t0\t\t\\N\tbench\t\\N\t{received}\n")
            cursor.copy_expert("COPY qms_measurement (characteristic_id, ts, value, quality, lot_code, equipment_id, "
                               "source, batch_id, received_at) FROM STDIN", io.StringIO(measurements.getvalue()))
            cursor.execute("SELECT id FROM qms_measurement WHERE characteristic_id = %s AND ts >= %s ORDER BY ts "
                           "LIMIT %s", [characteristic.pk, START + timedelta(seconds=first), chunk])
            ids = [row[0] for row in cursor.fetchall()]
            for offset, measurement_id in enumerate(ids):
                i = first + offset
                ts = (START + timedelta(seconds=i)).isoformat()
                mr = "\\N" if i == 0 else repr(abs(values[i] - values[i - 1]))
                points.write(f"{characteristic.pk}\t{revision.pk}\t{i}\t{ts}\t{ts}\t{values[i]!r}\t{mr}\t1\t"
                             f"[{measurement_id}]\t\tf\t{received}\n")
            cursor.copy_expert('COPY spc_chartpoint (characteristic_id, revision_id, "index", ts, first_ts, value, '
                               "value2, size, measurement_ids, lot_code, late, created_at) FROM STDIN",
                               io.StringIO(points.getvalue()))
        cursor.execute("ANALYZE qms_measurement; ANALYZE spc_chartpoint")
    state = SpcState.objects.select_related("config").get(config__characteristic=characteristic)
    engine = LiveState.from_history(Limits.from_dict(revision.limits), rules_by_chart(state.config),
                                    np.asarray(values, dtype=np.float64))
    state.engine_state = engine.to_dict()
    state.point_count = count
    state.last_ts = START + timedelta(seconds=count - 1)
    state.save()


def ingest_run(site, characteristic, start_second: int, batch: int, batches: int) -> float:
    from qms.services.ingest import ingest_measurements

    bodies = []
    for b in range(batches):
        first = start_second + b * batch
        values = values_for(batch, first)
        bodies.append([{"characteristic": characteristic.code, "value": v,
                        "ts": (START + timedelta(seconds=first + i)).isoformat()} for i, v in enumerate(values)])
    began = time.perf_counter()
    for items in bodies:
        result = ingest_measurements(site=site, items=items, source="token:bench")
        assert result.body["stored"] == len(items), result.body
    return batch * batches / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="admin URL of the PostgreSQL server")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    recreate(args.database_url)
    try:
        setup_django(with_database(args.database_url, NAME))
        from qms.audit.context import because
        from qms.models import Characteristic, Site
        from spc.services.chart_data import chart_payload
        from spc.services.config import configure_chart
        from spc.services.limits import limits_from_standard

        site = Site.objects.create(code="B1", name="bench")
        histories = {}
        for label, size in (("small", args.small), ("large", args.large)):
            characteristic = Characteristic.objects.create(
                site=site, code=f"BENCH.{label.upper()}.TEMP", name_en=label, precision=1, physical_min=0,
                physical_max=400, nominal=230, lsl=225, usl=235)
            with because("bench"):
                config = configure_chart(characteristic, chart_type="imr", reason="bench")
                revision = limits_from_standard(config, center=230.0, sigma=0.3, reason="bench")
            began = time.perf_counter()
            seed_history(characteristic, revision, size)
            print(f"history {label}: {size:,} values seeded in {time.perf_counter() - began:.1f} s", flush=True)
            histories[label] = (characteristic, size)

        rates = {"small": [], "large": []}
        cursor = {label: size for label, (_c, size) in histories.items()}
        for _ in range(args.repeat):
            for label in ("small", "large"):
                characteristic, _size = histories[label]
                rates[label].append(ingest_run(site, characteristic, cursor[label], args.batch, args.batches))
                cursor[label] += args.batch * args.batches
        small, large = statistics.median(rates["small"]), statistics.median(rates["large"])
        print(f"ingest + live SPC, batches of {args.batch}: history {args.small:,}: {small:,.0f} values/s; "
              f"history {args.large:,}: {large:,.0f} values/s; ratio {small / large:.2f}", flush=True)

        characteristic, _size = histories["large"]
        from spc.models import ChartConfig

        config = ChartConfig.objects.select_related("characteristic").get(characteristic=characteristic)
        since = START + timedelta(seconds=cursor["large"] - 100_000)
        timings = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            payload = chart_payload(config, since=since, max_points=5000)
            timings.append(time.perf_counter() - began)
        print(f"chart data over {payload['total_points']:,} points → {payload['returned_points']:,} drawn: "
              f"{statistics.median(timings) * 1000:.0f} ms (median of {args.repeat})", flush=True)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            recreate(args.database_url, drop_only=True)


if __name__ == "__main__":
    main()
