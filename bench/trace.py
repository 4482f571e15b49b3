"""Trace benchmark: the forward trace graph of --roots lots over --edges genealogy edges (nodes with runs, serial
counts and holds, plus the walked edges), against the bare recursive trace measured side by side as the baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qp_trace .venv/bin/python bench/trace.py \
        [--roots 10000] [--edges 100000] [--repeat 7]

Creates a scratch database `<name>_bench` (schema from the models, as the tests build it) and drops it at the end.
Data, written with set-based SQL: --roots moulded lots with one run each; three genealogy layers below them
(assemblies, sub-assemblies, packs; two parents per child, chosen by a fixed hash), --edges edges in all; one serial
per pack. Each repetition runs, interleaved so machine load hits all alike:
- baseline: trace_forward(roots) — the one recursive SQL statement, {lot_id: depth} only;
- trace_graph(roots, forward, no node limit) — what the API builds: lot details, runs, serial counts, holds, edges;
- the same graph written as CSV (the export);
- trace_graph of ONE lot, both directions, default limits (what the trace page and GET .../trace/ do).
Prints medians, the ratio graph / bare trace and the load average. Not a test — figures only.
"""
import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from qms.models import Area, Equipment, Line, Site, WorkCenter  # noqa: E402
from traceability.api.trace import trace_csv  # noqa: E402
from traceability.models import GenealogyEdge, Lot, LotRun, SerialNumber  # noqa: E402
from traceability.services.genealogy import trace_forward  # noqa: E402
from traceability.services.trace import BOTH, FORWARD, trace_graph  # noqa: E402

START = datetime(2026, 11, 1, tzinfo=UTC)


def create_scratch_database() -> str:
    test_settings = settings.DATABASES["default"].setdefault("TEST", {})
    test_settings["NAME"] = settings.DATABASES["default"]["NAME"] + "_bench"
    test_settings["MIGRATE"] = False
    return connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)


def build_genealogy(roots: int, edges: int) -> list[int]:
    """Returns the root lot ids."""
    site = Site.objects.create(code="S1", name="Bench plant")
    line = Line.objects.create(area=Area.objects.create(site=site, code="A"), code="L")
    machine = Equipment.objects.create(site=site, code="IMM02", work_center=WorkCenter.objects.create(line=line, code="W"))
    lot, run, edge, serial = (Lot._meta.db_table, LotRun._meta.db_table, GenealogyEdge._meta.db_table,
                              SerialNumber._meta.db_table)
    per_layer_edges = [edges * 2 // 5, edges * 2 // 5, edges - 2 * (edges * 2 // 5)]
    layer_sizes = [roots] + [n // 2 for n in per_layer_edges]
    with connection.cursor() as cursor:
        for layer, size in enumerate(layer_sizes):
            cursor.execute(
                f"INSERT INTO {lot} (site_id, code, kind, unit, supplier, quantity, created_at) "
                f"SELECT %s, 'B{layer}-' || g, 'production', 'pcs', '', 100, now() FROM generate_series(1, %s) g",
                [site.pk, size],
            )
        cursor.execute(f"SELECT min(id) FROM {lot}")
        starts = [cursor.fetchone()[0]]
        for size in layer_sizes:
            starts.append(starts[-1] + size)
        cursor.execute(
            f"INSERT INTO {run} (lot_id, equipment_id, started_at, ended_at, concurrent) "
            f"SELECT id, %s, %s + (id - %s) * interval '1 minute', %s + (id - %s + 1) * interval '1 minute', false "
            f"FROM {lot} WHERE id < %s",
            [machine.pk, START, starts[0], START, starts[0], starts[1]],
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
        cursor.execute(
            f"INSERT INTO {serial} (site_id, lot_id, serial, created_at) "
            f"SELECT %s, id, 'SN-' || id, now() FROM {lot} WHERE id >= %s", [site.pk, starts[3]])
        cursor.execute(f"ANALYZE {lot}; ANALYZE {run}; ANALYZE {edge}; ANALYZE {serial}")
    return list(range(starts[0], starts[1]))


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roots", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/trace.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    name = create_scratch_database()
    try:
        root_ids = build_genealogy(args.roots, args.edges)
        roots = list(Lot.objects.filter(pk__in=root_ids))
        one_lot = Lot.objects.get(pk=root_ids[len(root_ids) // 2])
        print(f"scratch database {name}: {Lot.objects.count():,} lots, {GenealogyEdge.objects.count():,} edges, "
              f"{SerialNumber.objects.count():,} serials; {len(roots):,} roots")
        results = {"bare": [], "graph": [], "csv": [], "one": []}
        sizes = {}
        for _ in range(args.repeat):
            results["bare"].append(timed(lambda: sizes.__setitem__("bare", len(trace_forward(root_ids)))))
            graph_holder = {}

            def build(holder=graph_holder):
                holder["graph"] = trace_graph(roots, direction=FORWARD, node_limit=None)

            results["graph"].append(timed(build))
            graph = graph_holder["graph"]
            sizes["nodes"], sizes["edges"] = len(graph.nodes), len(graph.edges)
            results["csv"].append(timed(lambda graph=graph: sizes.__setitem__("csv", len(trace_csv(graph)))))
            results["one"].append(timed(lambda: sizes.__setitem__(
                "one", len(trace_graph([one_lot], direction=BOTH).nodes))))
        median = {key: statistics.median(values) * 1000 for key, values in results.items()}
        load = os.getloadavg()
        print(f"forward trace from {len(roots):,} roots: {sizes['nodes']:,} lots, {sizes['edges']:,} walked edges "
              f"(bare trace: {sizes['bare']:,} lots)")
        for key, label in (("bare", "baseline trace_forward (ids+depths)"), ("graph", "trace_graph (full graph)"),
                           ("csv", "CSV export of that graph"), ("one", f"trace_graph of one lot ({sizes['one']} lots)")):
            runs = ", ".join(f"{t * 1000:.0f}" for t in results[key])
            print(f"{label:<40} median {median[key]:8.1f} ms  (runs: {runs})")
        print(f"ratio trace_graph / bare trace: {median['graph'] / median['bare']:.2f}")
        print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores shared)")
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main()
