"""Freeze benchmark: `freeze_window` over a window of 10,000 lots with forward propagation over 100,000 genealogy
edges, end to end (validation, equipment lock, hold number, recursive trace, HoldLot insert, audit, verdict hook,
commit), against a lower bound measured side by side: the bare recursive trace plus the bare INSERT of the same rows,
committed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qp_holds .venv/bin/python bench/freeze.py \
        [--window-lots 10000] [--edges 100000] [--repeat 7]

Creates a scratch database `<name>_bench` (schema from the models, as the tests build it) and drops it at the end.
Data, written with set-based SQL: one site, machine IMM02 with --window-lots back-to-back one-minute runs inside the
window and as many before it (history the index must skip); the genealogy is three layers below the moulded lots
(assemblies, sub-assemblies, packs; two parents per child, chosen by a fixed hash), --edges edges in all.
The verdict write-through hook (note_lots_changed, owned by the verdict cache) is replaced by a no-op for the main
figure and timed as installed in --hook-repeat further runs; for a batch this big it marks the site's cached
verdicts stale and leaves the LotVerdict bookkeeping (the push to MES) to a task after the commit, timed apart.
Each repetition runs the lower bound and freeze_window alternately (interleaved, so machine load hits both alike),
then deletes what it wrote and vacuums the tables (untimed), so each starts from the same state. Prints the
medians, the ratio, the number of held lots and the load average.
Target (issue 5): freeze_window < 1 s. Not a test — figures only.
"""
import argparse
import importlib
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from qms.models import Area, Equipment, Line, Site, WorkCenter  # noqa: E402
from traceability.models import GenealogyEdge, Hold, HoldLot, Lot, LotRun  # noqa: E402
from traceability.services.genealogy import trace_forward  # noqa: E402
from traceability.services.holds import Disposition, freeze_window  # noqa: E402
from traceability.services.runs import lots_on_equipment_between  # noqa: E402
from traceability.verdicts.write_through import publish_pending_verdicts  # noqa: E402

WINDOW_START = datetime(2026, 11, 1, tzinfo=UTC)


def create_scratch_database() -> str:
    """Schema from the models (fast), plus what migration traceability 0003 does beyond them on PostgreSQL (the
    delete guards and the uncompressed storage of pending publications), so the freeze writes what it writes in a
    plant."""
    test_settings = settings.DATABASES["default"].setdefault("TEST", {})
    test_settings["NAME"] = settings.DATABASES["default"]["NAME"] + "_bench"
    test_settings["MIGRATE"] = False
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    migration = importlib.import_module(
        "traceability.migrations.0003_holdlot_without_fk_constraints_pending_publication")
    with connection.schema_editor() as schema_editor:
        migration.add_guards(None, schema_editor)
        migration.store_packed_ids_uncompressed(None, schema_editor)
    return name


def build_plant(window_lots: int, edges: int) -> tuple[Equipment, datetime]:
    """The machine, its runs and the genealogy; returns (machine, window end)."""
    site = Site.objects.create(code="S1", name="Bench plant")
    line = Line.objects.create(area=Area.objects.create(site=site, code="A"), code="L")
    machine = Equipment.objects.create(site=site, code="IMM02", work_center=WorkCenter.objects.create(line=line, code="W"))
    lot, run, edge = Lot._meta.db_table, LotRun._meta.db_table, GenealogyEdge._meta.db_table
    # Layers: 0 = moulded (the first half ran before the window), 1..3 below; each child has two parents.
    per_layer_edges = [edges * 2 // 5, edges * 2 // 5, edges - 2 * (edges * 2 // 5)]
    layer_sizes = [2 * window_lots] + [n // 2 for n in per_layer_edges]
    with connection.cursor() as cursor:
        for layer, size in enumerate(layer_sizes):
            cursor.execute(
                f"INSERT INTO {lot} (site_id, code, kind, unit, supplier, created_at) "
                f"SELECT %s, 'B{layer}-' || g, %s, 'pcs', '', now() FROM generate_series(1, %s) g",
                [site.pk, "production", size],
            )
        cursor.execute(f"SELECT min(id) FROM {lot}")
        first_id = cursor.fetchone()[0]
        starts = [first_id]
        for size in layer_sizes:
            starts.append(starts[-1] + size)
        # Runs: one minute each, back to back; the window covers the second half of layer 0.
        cursor.execute(
            f"INSERT INTO {run} (lot_id, equipment_id, started_at, ended_at, concurrent) "
            f"SELECT id, %s, %s + (id - %s) * interval '1 minute', %s + (id - %s + 1) * interval '1 minute', false "
            f"FROM {lot} WHERE id < %s",
            [machine.pk, WINDOW_START - timedelta(minutes=window_lots), first_id,
             WINDOW_START - timedelta(minutes=window_lots), first_id, starts[1]],
        )
        for layer in range(1, len(layer_sizes)):
            parent_start, parent_size, child_start = starts[layer - 1], layer_sizes[layer - 1], starts[layer]
            for k, multiplier in enumerate((7919, 104729)):
                cursor.execute(
                    f"INSERT INTO {edge} (parent_id, child_id, quantity, unit, created_at) "
                    f"SELECT %s + ((c - %s) * %s + %s) %% %s, c, 1.0, 'pcs', now() "
                    f"FROM generate_series(%s, %s) c ON CONFLICT DO NOTHING",
                    [parent_start, child_start, multiplier, k * 17, parent_size, child_start,
                     child_start + layer_sizes[layer] - 1],
                )
        cursor.execute(f"ANALYZE {lot}; ANALYZE {run}; ANALYZE {edge}")
    return machine, WINDOW_START + timedelta(minutes=window_lots)


def bare_insert(hold: Hold, lot_ids: list[int], vias: list[str], levels: list[int]) -> None:
    """The HoldLot rows in one statement from three arrays (how freeze_window inserted them before it fed the
    INSERT straight from the trace)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {HoldLot._meta.db_table} (hold_id, lot_id, via, depth, disposition, disposed_by, comment, "
            f"version) SELECT %s, u.lot_id, u.via, u.depth, %s, '', '', 1 "
            f"FROM unnest(%s::bigint[], %s::varchar[], %s::smallint[]) AS u(lot_id, via, depth) "
            f"ON CONFLICT (hold_id, lot_id) DO NOTHING RETURNING lot_id",
            [hold.pk, Disposition.HELD, lot_ids, vias, levels])
        cursor.fetchall()


def vacuum(*tables: str) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM {table}")


def publish_all(publication_ids: list[int]) -> None:
    for publication_id in publication_ids:
        publish_pending_verdicts(publication_id)


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window-lots", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--hook-repeat", type=int, default=1,
                        help="runs with the verdict write-through hook as installed (0: skip); it writes the verdict "
                             "of every held lot, so it is measured apart")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/freeze.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    name = create_scratch_database()
    try:
        machine, window_end = build_plant(args.window_lots, args.edges)
        print(f"scratch database {name}: {Lot.objects.count():,} lots, {LotRun.objects.count():,} runs, "
              f"{GenealogyEdge.objects.count():,} genealogy edges")
        bound_hold = Hold.objects.create(site=machine.site, number="BOUND", reason="lower bound", placed_at=WINDOW_START,
                                         placed_by="bench")

        def lower_bound():
            with transaction.atomic():
                depths = trace_forward(lots_on_equipment_between(machine, WINDOW_START, window_end))
                ids = list(depths)
                bare_insert(bound_hold, ids, ["window"] * len(ids), [depths[i] for i in ids])

        def freeze():
            freeze_window(machine, WINDOW_START, window_end, reason="bench: barrel zone 2 +4 °C")

        def drop_frozen() -> int:
            """Delete what the freeze wrote and vacuum it away, so every repetition starts from the same table: a
            plant's HoldLot table only grows, it never carries 54,000 dead rows per freeze (without the vacuum the
            repetitions got ~70 % slower one after the other)."""
            count = HoldLot.objects.exclude(hold=bound_hold).count()
            HoldLot.objects.exclude(hold=bound_hold).delete()
            Hold.objects.exclude(pk=bound_hold.pk).delete()
            vacuum(HoldLot._meta.db_table, Hold._meta.db_table)
            return count

        bounds, freezes, hooked, held = [], [], [], 0
        for _ in range(args.repeat):
            bounds.append(timed(lower_bound))
            HoldLot.objects.filter(hold=bound_hold).delete()
            vacuum(HoldLot._meta.db_table)
            with mock.patch("traceability.services.holds.note_lots_changed", lambda site_id, lot_ids: None):
                freezes.append(timed(freeze))
            held = drop_frozen()
        publications = []
        for _ in range(args.hook_repeat):
            # The hook's LotVerdict bookkeeping for a batch this big runs after the commit, in a write-back worker
            # (publish_pending_verdicts); here it is dispatched to a list, then timed on its own.
            dispatched: list[int] = []
            with mock.patch.object(publish_pending_verdicts, "apply_async",
                                   lambda args, queue, into=dispatched: into.append(args[0])):
                hooked.append(timed(freeze))
            publications.append(timed(partial(publish_all, dispatched)))
            drop_frozen()
        load = os.getloadavg()
        bound, freeze_median = statistics.median(bounds), statistics.median(freezes)
        print(f"held lots per freeze: {held:,} ({args.window_lots:,} in the window, the rest made from them)")
        print(f"lower bound (bare trace + bare insert):          median {bound * 1000:6.0f} ms  "
              f"(runs: {', '.join(f'{t * 1000:.0f}' for t in bounds)})")
        print(f"freeze_window, verdict hook a no-op:             median {freeze_median * 1000:6.0f} ms  "
              f"(runs: {', '.join(f'{t * 1000:.0f}' for t in freezes)})")
        if hooked:
            print(f"freeze_window with the installed verdict hook:   median {statistics.median(hooked) * 1000:6.0f} ms"
                  f"  (runs: {', '.join(f'{t * 1000:.0f}' for t in hooked)})")
            print(f"  its verdict publication after the commit:     median {statistics.median(publications) * 1000:6.0f}"
                  f" ms  (runs: {', '.join(f'{t * 1000:.0f}' for t in publications)}; the first creates the "
                  f"LotVerdict rows; in production a write-back worker runs it)")
        worst = max(freeze_median, statistics.median(hooked)) if hooked else freeze_median
        print(f"ratio freeze (hook no-op) / lower bound: {freeze_median / bound:.2f}   target < 1000 ms: "
              f"{'met' if worst < 1 else 'MISSED'}")
        print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores shared)")
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main()
