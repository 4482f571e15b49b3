"""A connector runner in its own process for the crash tests (run by tests/connectors/test_runner_*.py).

    python -m tests.connectors.runner_process OUTBOX CONNECTOR_KEY COUNT [--kill-after-deliveries N]

Produces COUNT readings (one per millisecond of a fixed day, so each has its own timestamp) through a real Runner
with the database backend, the outbox at OUTBOX. With --kill-after-deliveries N the process SIGKILLs itself right
after the N-th batch was committed by the ingest and before the outbox is told — the worst moment to die.
Readings already in the outbox are not produced again (the producer resumes from the outbox's last sequence).
"""
import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from connectors.adapters import Adapter  # noqa: E402
from connectors.outbox import Outbox  # noqa: E402
from connectors.runner import Runner, RunnerSettings  # noqa: E402
from connectors.services import DjangoRunnerBackend, load_specs  # noqa: E402

DAY = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


class Producer(Adapter):
    async def run(self):
        tag = self.spec.tags[0]
        start = self.spec.config["resume_from"]
        total = self.spec.config["count"]
        self.health.connected()
        for first in range(start, total, 50):
            chunk = range(first, min(first + 50, total))
            await self.emit([self.envelope(tag, 200.0 + (i % 100) / 10, quality="good",
                                           source_ts=DAY + timedelta(milliseconds=i)) for i in chunk])
            await asyncio.sleep(0.005)
        await asyncio.Event().wait()


class KillingBackend(DjangoRunnerBackend):
    def __init__(self, kill_after: int | None):
        super().__init__()
        self.kill_after = kill_after
        self.deliveries = 0

    def deliver(self, batch):
        confirmed = super().deliver(batch)
        self.deliveries += 1
        if self.kill_after is not None and self.deliveries >= self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return confirmed


async def main(outbox_path: str, key: str, count: int, kill_after: int | None) -> None:
    outbox = Outbox(outbox_path)
    resume_from = outbox.last_seq(key)
    backend = KillingBackend(kill_after)
    specs = await asyncio.to_thread(load_specs)

    def with_counts(spec):
        from dataclasses import replace

        return replace(spec, config={**spec.config, "count": count, "resume_from": resume_from})

    backend.load_specs = lambda: [with_counts(spec) for spec in specs]
    runner = Runner(outbox, backend, RunnerSettings(batch_size=100, flush_interval_s=0.01, status_interval_s=0.5,
                                                    config_poll_s=60),
                    adapter_factory=lambda spec, sink, health: Producer(spec, sink, health))
    task = asyncio.create_task(runner.run())
    while outbox.pending_count() or outbox.last_seq(key) < count:
        await asyncio.sleep(0.05)
    runner.request_stop()
    await task
    print("drained", flush=True)


if __name__ == "__main__":
    kill = int(sys.argv[sys.argv.index("--kill-after-deliveries") + 1]) if "--kill-after-deliveries" in sys.argv else None
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), kill))
