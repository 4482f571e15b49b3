"""Connector benchmarks (issue 4, parts b and c). Speed is measured here, never in unit tests.

  python bench/connectors_protocols.py mqtt   [--rate 10000] [--seconds 30]
  python bench/connectors_protocols.py modbus [--registers 200] [--hz 10] [--seconds 30]

(b) MQTT: a publisher process sends QoS 1 JSON messages at --rate for --seconds to a private mosquitto; the MQTT
    adapter (persistent session, manual ack after the write) stores every reading in the durable outbox (SQLite,
    synchronous=FULL). Pass = count stored == count published, no duplicates, and the rate sustained.
(c) Modbus: a pymodbus server process holds --registers holding registers; the poller reads them at --hz.
    Reported: poll-cycle start jitter (actual − scheduled start) p50/p99/max and the cycle duration. Target p99 < 20 ms.
Runs only against loopback, bounded in time; starts and stops its own peers.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- (b) MQTT --------------------------------------------------------------------------------------------------
def _publisher(port: int, topic_root: str, rate: int, seconds: float, ready, done_count) -> None:
    """Publishes through mosquitto_pub -l (the C client, one message per stdin line, QoS 1), two topics, paced in
    10 ms slices: the publisher must not be the bottleneck of a benchmark of the subscriber."""
    import subprocess

    publishers = [
        subprocess.Popen(["mosquitto_pub", "-p", str(port), "-q", "1", "-V", "mqttv5", "-l", "-t",
                          f"{topic_root}/m{n}/cycle"], stdin=subprocess.PIPE)
        for n in range(2)
    ]
    ready.wait()
    start = time.monotonic()
    sent = 0
    total = int(rate * seconds)
    base = 1_764_288_000_000   # ms epoch; every message a distinct timestamp
    while sent < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        lines = [[], []]
        for number in range(sent, due):
            lines[number % 2].append(b'{"id": %d, "ts": %d, "v": %d.%d}\n' % (number, base + number, number % 1000, 5))
        for publisher, chunk in zip(publishers, lines, strict=True):
            if chunk:
                publisher.stdin.write(b"".join(chunk))
                publisher.stdin.flush()
        sent = due
        time.sleep(0.01)
    for publisher in publishers:
        publisher.stdin.close()
        publisher.wait(timeout=120)
    done_count.value = sent


async def _mqtt(rate: int, seconds: float) -> dict:
    from connectors.mqtt.adapter import MqttAdapter
    from connectors.outbox import AsyncOutbox, Outbox
    from connectors.spec import ConnectorSpec, TagSpec
    from tests.connectors.protocol_helpers import PrivateMosquitto

    workdir = Path(tempfile.mkdtemp(prefix="qp-bench-mqtt-"))
    broker = PrivateMosquitto(workdir, extra_config="max_inflight_messages 2000\nmax_queued_bytes 0\n").start()
    outbox = AsyncOutbox(Outbox(workdir / "outbox.sqlite3"))
    spec = ConnectorSpec(id=1, site="BENCH", name="mqtt", kind="mqtt", config={
        "host": "127.0.0.1", "port": broker.port, "client_id": "bench-subscriber", "id_path": "id", "max_batch": 2000,
    }, tags=(TagSpec(source_ref="bench/+/cycle", characteristic="BENCH.V", params={"value_path": "v"}),))
    adapter = MqttAdapter(spec, outbox)
    task = asyncio.create_task(adapter.run())
    try:
        while adapter.health.state != "connected":
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        ready, published = multiprocessing.Event(), multiprocessing.Value("q", 0)
        publisher = multiprocessing.Process(target=_publisher, args=(broker.port, "bench", rate, seconds, ready,
                                                                     published))
        publisher.start()
        ready.set()
        start = time.monotonic()
        cpu_start = time.process_time()
        publisher.join(timeout=seconds * 4 + 60)
        publish_seconds = time.monotonic() - start
        last_progress, last_count = time.monotonic(), -1
        while outbox.appended < published.value and time.monotonic() - last_progress < 30:   # stalled 30 s: give up
            if outbox.appended != last_count:
                last_progress, last_count = time.monotonic(), outbox.appended
            await asyncio.sleep(0.05)
        drain_seconds = time.monotonic() - start
        cpu_seconds = time.process_time() - cpu_start   # this process: paho thread, adapter, outbox thread
        stored = outbox.outbox.last_seq(spec.key)
        distinct = outbox.outbox._db.execute(
            "SELECT COUNT(DISTINCT json_extract(payload, '$.source_ts')) FROM readings").fetchone()[0]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        outbox.close()
        broker.stop()
    return {
        "published": published.value, "stored": stored, "distinct_stored": distinct,
        "duplicates_dropped": adapter.duplicates, "rejected": adapter.rejected,
        "reconnects": adapter.health.reconnects,
        "lost": published.value - distinct, "publish_s": round(publish_seconds, 2),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "all_stored_after_s": round(drain_seconds, 2),
        "rate_stored_per_s": round(stored / drain_seconds) if drain_seconds else None,
        "cpu_s": round(cpu_seconds, 1), "stored_per_cpu_s": round(stored / cpu_seconds) if cpu_seconds else None,
    }


# --- (c) Modbus ------------------------------------------------------------------------------------------------
def _modbus_server(port: int, registers: int, ready) -> None:
    from connectors.simulator.modbus_server import RegisterBank, start_modbus_server

    async def serve():
        bank = RegisterBank(unit_ids=(1,), size=max(registers, 16))
        bank.write_raw(1, "holding", 0, [i % 65535 for i in range(registers)])
        await start_modbus_server(bank, port=port)
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(serve())


class _NullSink:
    def __init__(self):
        self.count = 0

    async def put(self, envelopes):
        self.count += len(envelopes)


async def _modbus(registers: int, hz: float, seconds: float) -> dict:
    from connectors.modbus.plan import ModbusPoint
    from connectors.modbus.poller import ModbusPoller
    from tests.connectors.protocol_helpers import free_port

    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_modbus_server, args=(port, registers, ready), daemon=True)
    server.start()
    ready.wait(10)
    sink = _NullSink()
    points = [ModbusPoint(characteristic=f"BENCH.R{i}", address=i) for i in range(registers)]
    poller = ModbusPoller(connector="BENCH/modbus", host="127.0.0.1", port=port, points=points, sink=sink,
                          interval_s=1 / hz, timeout_s=1.0)
    durations = []
    original = poller.poll_once

    async def timed():
        started = time.monotonic()
        result = await original()
        durations.append(time.monotonic() - started)
        return result

    poller.poll_once = timed
    stop = asyncio.Event()
    cpu_start = time.process_time()
    task = asyncio.create_task(poller.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    cpu_seconds = time.process_time() - cpu_start
    server.terminate()
    lateness_ms = [x * 1000 for x in list(poller.stats.lateness_s)[1:]]
    return {
        "load_average_1m": round(os.getloadavg()[0], 1), "registers": registers, "hz": hz,
        "cycles": poller.stats.cycles, "requests_per_cycle": len(poller.blocks),
        "readings": sink.count, "bad": poller.stats.bad_readings, "skipped_cycles": poller.stats.skipped_cycles,
        "jitter_p50_ms": round(statistics.median(lateness_ms), 2), "jitter_p99_ms": round(percentile(lateness_ms, .99), 2),
        "jitter_max_ms": round(max(lateness_ms), 2),
        "cycle_p50_ms": round(statistics.median(durations) * 1000, 2),
        "cycle_p99_ms": round(percentile(durations, .99) * 1000, 2),
        "cpu_ms_per_cycle": round(cpu_seconds * 1000 / max(poller.stats.cycles, 1), 2),
    }


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["mqtt", "modbus"])
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--registers", type=int, default=200)
    parser.add_argument("--hz", type=float, default=10)
    args = parser.parse_args()
    if args.which == "mqtt":
        result = asyncio.run(_mqtt(args.rate, args.seconds))
    else:
        result = asyncio.run(_modbus(args.registers, args.hz, args.seconds))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
