"""Data-dictionary import benchmark: preview, apply (creates) and apply (updates), bulk path vs the former per-row path.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qp_bulk .venv/bin/python bench/dictionary_import.py \
        [--rows 10000] [--old-rows 1000] [--repeat 3]

Creates a scratch database `<name>_bench` (schema from the models, like the tests, plus the audit trail's
append-only triggers) and drops it at the end. Each repetition uses a fresh site:
  preview       preview_import of a CSV of --rows new entries;
  apply-create  apply_import of that CSV;
  apply-update  apply_import of the exported dictionary with one limit (usl) changed on every row.
The former path (one save, history record and chain append per row: `row_by_row=True`) runs the same steps with
--old-rows rows, since at ~18 ms a row a 10,000-row run takes minutes. Prints medians of the repetitions (wall time,
and this process's CPU time, which shows the cost when other processes steal the cores) and verifies the chain.
Not a test — figures only.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from qms.audit.chain import verify_chain  # noqa: E402
from qms.audit.sql import install_append_only_triggers  # noqa: E402
from qms.models import AuditEntry, Characteristic, Site  # noqa: E402
from qms.services.dictionary_io import _apply, export_dictionary, preview_import  # noqa: E402


def create_scratch_database() -> str:
    test_settings = settings.DATABASES["default"].setdefault("TEST", {})
    test_settings["NAME"] = settings.DATABASES["default"]["NAME"] + "_bench"
    test_settings["MIGRATE"] = False
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    install_append_only_triggers(connection)
    return name


def new_entries_csv(rows: int) -> str:
    lines = ["code,name_en,name_zh,unit,physical_min,physical_max,nominal,lsl,usl,criticality,status"]
    for i in range(rows):
        lines.append(f"IMM{i // 100:03d}.POINT_{i % 100:02d}.TEMP,Zone {i} temperature,{i}区温度,°C,0,400,230,"
                     f"225,235,{'ctq' if i % 7 == 0 else 'standard'},released")
    return "\r\n".join(lines) + "\r\n"


def one_limit_changed(exported: str) -> str:
    """The export with usl 235 → 236 on every row (the version column stays: the optimistic check runs too)."""
    lines = exported.removeprefix("\ufeff").split("\r\n")
    header = lines[0].split(",")
    usl = header.index("usl")
    changed = [lines[0]]
    for line in lines[1:]:
        if line:
            cells = line.split(",")
            cells[usl] = "236"
            line = ",".join(cells)
        changed.append(line)
    return "\r\n".join(changed)


def timed(function):
    start, start_cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - start, time.process_time() - start_cpu


def run_once(site_code: str, rows: int, *, row_by_row: bool) -> dict[str, tuple[float, float]]:
    site = Site.objects.create(code=site_code, name=f"Bench {site_code}")
    content = new_entries_csv(rows)
    figures = {}
    preview, *figures["preview"] = timed(lambda: preview_import(site, content, "csv"))
    assert preview.ok and preview.counts["create"] == rows, preview.problems[:3]
    applied, *figures["apply-create"] = timed(lambda: _apply(site, content, "csv", reason="bench", row_by_row=row_by_row))
    assert applied.applied, applied.problems[:3]
    update = one_limit_changed(export_dictionary(site, "csv"))
    applied, *figures["apply-update"] = timed(lambda: _apply(site, update, "csv", reason="ECN bench",
                                                             row_by_row=row_by_row))
    assert applied.applied and applied.counts["update"] == rows, applied.problems[:3]
    assert Characteristic.objects.filter(site=site, usl=236, version=2).count() == rows
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--old-rows", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    name = create_scratch_database()
    try:
        print(f"database {name} ({connection.vendor}), load average {os.getloadavg()[0]:.1f}, {args.repeat} repetitions")
        for label, rows, row_by_row in (("before (per row)", args.old_rows, True), ("after (bulk)", args.rows, False)):
            runs = [run_once(f"B{'R' if row_by_row else 'K'}{n}", rows, row_by_row=row_by_row) for n in range(args.repeat)]
            for step in ("preview", "apply-create", "apply-update"):
                wall = statistics.median(run[step][0] for run in runs)
                cpu = statistics.median(run[step][1] for run in runs)
                print(f"{label:17} {step:13} {rows:>6,} rows: median {wall:7.2f} s wall ({rows / wall:8,.0f} rows/s), "
                      f"{cpu:6.2f} s CPU")
        checked, problems = verify_chain()
        print(f"audit chain: {checked:,} entries checked, {len(problems)} problems; "
              f"{AuditEntry.objects.filter(action='import').count()} import summaries; "
              f"load average now {os.getloadavg()[0]:.1f}")
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main()
