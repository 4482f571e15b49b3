"""A PostgreSQL and a Redis of a test's own, on free loopback ports, that the test may stop and start at will
without touching the machine's shared services (other suites use those). Used by test_opcua_outage.py."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.connectors.protocol_helpers import free_port


def postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def binaries_available() -> bool:
    return postgres_bin_dir() is not None and shutil.which("redis-server") is not None


def _wait_for_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start on port {port}")


def _as_postgres_user(args: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root (CI runs as root): run them as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


class PrivatePostgres:
    def __init__(self, workdir: Path):
        self.bin = postgres_bin_dir()
        self.data = workdir / "pgdata"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/qp_outage"

    def init(self) -> PrivatePostgres:
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.data.parent, "postgres")
            shutil.chown(self.data, "postgres")
        subprocess.run(_as_postgres_user([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                                          "-A", "trust", "--no-sync", "-E", "UTF8"]),
                       check=True, capture_output=True)
        # fsync stays on: the test is about durability. Unix socket in the data directory (not /var/run).
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.data}'\nmax_connections = 40\n")
        self.start()
        subprocess.run(_as_postgres_user([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                                          "-U", "postgres", "qp_outage"]), check=True, capture_output=True)
        return self

    def start(self) -> None:
        subprocess.run(_as_postgres_user([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                                          str(self.data / "server.log"), "-w", "start"]),
                       check=True, capture_output=True)
        _wait_for_port(self.port, 30, "private PostgreSQL")

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, as when the database server goes away."""
        subprocess.run(_as_postgres_user([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                                          "stop"]), check=False, capture_output=True)

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


class PrivateRedis:
    """With an append-only file fsync'd on every write, as a production broker should run: queued tasks survive
    the restart (without it the runner still resends unconfirmed batches, after `resend_after_s`)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir / "redis"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, 10, "private Redis")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
