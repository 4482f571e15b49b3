"""SPC engine benchmark (issue 3): batch analysis and live incremental evaluation. Not a test — figures only.

    .venv/bin/python bench/spc.py [--repeat 5]

(a) full analysis of 1,000,000 individual values (I-MR) with all eight Nelson rules — target < 2 s;
(b) incremental evaluation of 100,000 new points arriving one subgroup at a time (I-MR: one value per call;
    X̄-R: five values per call) against a history of 10,000 and of 1,000,000 points — target ≥ 20,000 points/s
    and the two rates within a ratio of 1.5 (cost per point independent of history).
Prints medians of the repetitions. Pure engine, no database.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from spc.engine import analyze
from spc.engine.live import LiveState
from spc.engine.rules import NELSON_RULES

NEW_POINTS = 100_000


def median_time(function, repeat: int) -> float:
    return median_times(function, repeat)[0]


def median_times(function, repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process: on a shared machine the CPU time shows what the
    code costs when other processes steal the cores."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def bench_batch(repeat: int) -> None:
    values = np.random.default_rng(1).normal(50.0, 2.0, 1_000_000).tolist()
    result = {}

    def run():
        result["analysis"] = analyze("imr", values=values, rules=list(NELSON_RULES), dispersion_rules=["N1"])

    seconds, cpu = median_times(run, repeat)
    signals = sum(len(chart.signals) for chart in result["analysis"].charts)
    to_dict = median_time(lambda: result["analysis"].to_dict(), repeat)
    print(f"(a) analyze 1,000,000 values, I-MR, Nelson 1-8: median {seconds:.3f} s wall, {cpu:.3f} s CPU "
          f"({1_000_000 / seconds:,.0f} points/s; {signals} signals); building the response dict +{to_dict:.3f} s")


def live_setup(chart: str, history_points: int, size: int):
    """A live state after `history_points` points, and 100,000 new points as one-subgroup arrivals."""
    rng = np.random.default_rng(2)
    if chart == "imr":
        baseline = analyze("imr", values=rng.normal(50, 2, 1000).tolist(), rules=list(NELSON_RULES),
                           dispersion_rules=["N1"])
        history = rng.normal(50, 2, history_points)
        arrivals = [[v] for v in rng.normal(50, 2, NEW_POINTS).tolist()]
    else:
        baseline = analyze("xbar_r", subgroups=rng.normal(50, 2, (200, size)).tolist(), rules=list(NELSON_RULES),
                           dispersion_rules=["N1"])
        history = rng.normal(50, 2, (history_points // size, size)).tolist()
        arrivals = [[g] for g in rng.normal(50, 2, (NEW_POINTS // size, size)).tolist()]
    return LiveState.from_history(baseline.limits, baseline.rules, history), arrivals


def replay(state, arrivals) -> tuple[float, float]:
    start, start_cpu = time.perf_counter(), time.process_time()
    for arrival in arrivals:
        _signals, state = state.evaluate(arrival)
    return time.perf_counter() - start, time.process_time() - start_cpu


def bench_live(repeat: int) -> None:
    for chart, size, label in (("imr", 1, "I-MR, 1 value per call"), ("xbar_r", 5, "X̄-R, 1 subgroup of 5 per call")):
        short, long = live_setup(chart, 10_000, size), live_setup(chart, 1_000_000, size)
        times = {"10k": [], "1M": []}
        for _ in range(repeat):  # interleaved, so a burst of load on the shared machine hits both alike
            times["10k"].append(replay(*short))
            times["1M"].append(replay(*long))
        wall = {k: NEW_POINTS / statistics.median(t[0] for t in v) for k, v in times.items()}
        cpu = {k: NEW_POINTS / statistics.median(t[1] for t in v) for k, v in times.items()}
        print(f"(b) live {label}: {NEW_POINTS:,} new points — history 10k: {wall['10k']:,.0f} points/s, "
              f"history 1M: {wall['1M']:,.0f} points/s, ratio {max(wall.values()) / min(wall.values()):.2f} "
              f"(per CPU second: {cpu['10k']:,.0f} vs {cpu['1M']:,.0f}, ratio "
              f"{max(cpu.values()) / min(cpu.values()):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"numpy {np.__version__}, {os.cpu_count()} CPUs, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    bench_batch(args.repeat)
    bench_live(args.repeat)


if __name__ == "__main__":
    main()
