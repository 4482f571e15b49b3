"""The production-shaped stack as child processes: MES simulator (OPC UA), connector runner, Celery worker (every
queue) and the ASGI server (daphne), all on one PostgreSQL database and one Redis. No Django import here: the e2e
tests (tests/e2e/conftest.py) and bench/alarm_latency.py both drive it.

Each process runs in its own process group with its output in a log file; `Stack.stop()` ends them in reverse
order (SIGTERM to the group, SIGKILL after a grace period) and `Stack.logs()` gives the tail of every log for a
failure report. Ports are ephemeral (asked from the kernel, retried if taken before the child binds them).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
QUEUES = "default,ingest,evaluate,writeback,periodic"     # every queue of settings.CELERY_TASK_ROUTES + beat
STOP_GRACE_S = {"simulator": 1.0}   # keeps no state; asyncua's orderly server stop takes seconds


class StackError(RuntimeError):
    """A child process did not come up (or died): the message ends with the tails of the logs."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class StackSettings:
    database_url: str                 # the database every process shares (pytest-django's test database in tests)
    redis_url: str                    # cache, channel layer, Celery broker
    var_dir: Path                     # outbox, logs
    production: bool = False          # DJANGO_DEBUG off (needs collected static for pages); tests run DEBUG on
    worker_concurrency: int = 2
    worker_queues: tuple[str, ...] = (QUEUES,)   # one worker per entry, e.g. ("ingest", "default,evaluate,...")
    noise: float = 0.25               # simulator noise: no normal value strays past nominal ±3 °C
    simulator_rate_hz: float = 1.0
    web_server: str = "daphne"        # or "uvicorn" (docker/entrypoint.sh's choice)
    extra_env: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if key not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST"}}
        env.update({
            "DJANGO_SETTINGS_MODULE": "qms.settings",   # the real settings: Celery in workers, not eager
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "QP_VAR_DIR": str(self.var_dir),
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": env.get("QP_E2E_LOG_LEVEL", "WARNING"),
        })
        env.pop("CELERY_BROKER_URL", None)
        if self.production:
            env.update({"DJANGO_DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "0",
                        "SECRET_KEY": env.get("SECRET_KEY") or os.urandom(48).hex(),
                        "STATIC_ROOT": str(self.var_dir / "static")})
        else:
            env["DJANGO_DEBUG"] = "1"
        env.update(self.extra_env)
        return env


class ManagedProcess:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> ManagedProcess:
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, grace_s: float = 8.0) -> None:
        """SIGTERM to the process group, SIGKILL after `grace_s`; then the group once more (Celery's pool children)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.process.wait(timeout=5)
        self.signal_group(signal.SIGKILL)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


class Stack:
    """Start with `start_*` in dependency order (simulator before the runner reads its connector), stop with stop()."""

    def __init__(self, settings: StackSettings):
        self.settings = settings
        self.env = settings.environment()
        self.processes: dict[str, ManagedProcess] = {}
        self.opcua_port: int | None = None
        self.web_port: int | None = None
        self.began = time.monotonic()
        self.timeline: list[tuple[str, float]] = []     # (what, seconds since the stack was created)
        settings.var_dir.mkdir(parents=True, exist_ok=True)

    # --- processes ------------------------------------------------------------------------------------------
    def _launch(self, name: str, argv: list[str]) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.env, self.settings.var_dir / f"{name}.log").start()
        self.processes[name] = process
        return process

    def _manage(self, *args: str) -> list[str]:
        return [sys.executable, str(REPO / "manage.py"), *args]

    @property
    def opcua_endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.opcua_port}/qualitypulse/"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def launch_simulator(self) -> None:
        self.opcua_port = free_port()
        self._launch("simulator", self._manage(
            "simulate_mes", "--faces", "opcua", "--opcua-port", str(self.opcua_port),
            "--noise", str(self.settings.noise), "--rate", str(self.settings.simulator_rate_hz)))

    def launch_web(self) -> None:
        self.web_port = free_port()
        if self.settings.web_server == "uvicorn":
            argv = [str(BIN / "uvicorn"), "qms.asgi:application", "--host", "127.0.0.1", "--port", str(self.web_port),
                    "--no-access-log"]
        else:
            argv = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.web_port), "qms.asgi:application"]
        self._launch("web", argv)

    def collect_static(self) -> None:
        """Production settings serve hashed static files: collect them into var_dir/static first."""
        result = subprocess.run(self._manage("collectstatic", "--noinput", "-v", "0"), cwd=REPO, env=self.env,
                                capture_output=True, text=True, timeout=300)
        if result.returncode:
            raise StackError(f"collectstatic failed:\n{result.stdout}\n{result.stderr}")

    def launch_worker(self) -> None:
        for index, queues in enumerate(self.settings.worker_queues):
            name = "worker" if index == 0 else f"worker{index + 1}"
            self._launch(name, [
                str(BIN / "celery"), "-A", "qms", "worker", "-Q", queues, "--concurrency",
                str(self.settings.worker_concurrency), "--loglevel", "INFO", "--purge", "--without-gossip",
                "--without-mingle", "--without-heartbeat", "-n", f"e2e-{os.getpid()}-{index}@%h",
            ])

    @property
    def workers(self) -> list[ManagedProcess]:
        return [process for name, process in self.processes.items() if name.startswith("worker")]

    def launch_runner(self) -> None:
        self._launch("runner", self._manage(
            "run_connectors", "--outbox", str(self.settings.var_dir / "outbox.sqlite3"), "--config-poll", "1"))

    def launch(self) -> None:
        """Launch every process at once (their start-up dominates); the runner finds its connectors by polling the
        configuration every second, so they may be configured after this."""
        self.launch_simulator()
        self.launch_worker()
        self.launch_web()
        self.launch_runner()

    def wait_ready(self, configure: Callable[[Stack], None], timeout_s: float = 90.0) -> None:
        """Call `configure(self)` once the simulator listens (e.g. point the connector at `opcua_endpoint`); return
        when the worker said ready and the web server answers its login page."""
        self.wait_until("simulator", lambda: port_open(self.opcua_port), timeout_s,
                        f"the simulator did not listen on {self.opcua_endpoint}")
        configure(self)
        self.note("configured")
        self.wait_until("worker", lambda: all(" ready." in w.log_text() for w in self.workers), timeout_s,
                        "the Celery worker did not log 'ready.'")
        self.wait_until("web", lambda: _http_status(f"{self.web_url}/accounts/login/") == 200, timeout_s,
                        f"the web server did not answer 200 on {self.web_url}/accounts/login/")

    def start(self, configure: Callable[[Stack], None], timeout_s: float = 90.0) -> None:
        self.launch()
        self.wait_ready(configure, timeout_s)

    # --- waiting and reporting ------------------------------------------------------------------------------
    def note(self, what: str) -> None:
        self.timeline.append((what, time.monotonic() - self.began))

    def wait_until(self, name: str, condition: Callable[[], bool], timeout_s: float, what: str,
                   interval_s: float = 0.1) -> None:
        """Poll `condition` until true; fail early (with the logs) if a process of the stack died meanwhile."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                self.note(f"{name} ready")
                return
            dead = [p.name for p in self.processes.values() if not p.alive]
            if dead:
                raise self.failure(f"{what}: process(es) {', '.join(dead)} exited")
            time.sleep(interval_s)
        raise self.failure(f"{what} within {timeout_s:.0f} s ({name})")

    def check_alive(self) -> None:
        dead = [p.name for p in self.processes.values() if not p.alive]
        if dead:
            raise self.failure(f"process(es) {', '.join(dead)} of the stack exited")

    def failure(self, message: str) -> StackError:
        return StackError(f"{message}\n\n{self.logs()}")

    def logs(self, lines: int = 60) -> str:
        parts = ["----- timeline (s since start) -----\n" + ", ".join(f"{what} {at:.1f}" for what, at in self.timeline)]
        for process in self.processes.values():
            state = "running" if process.alive else f"exited {process.process.returncode if process.process else '?'}"
            parts.append(f"----- {process.name} ({state}; {process.log_path}) -----\n{process.tail(lines)}")
        return "\n".join(parts)

    def stop(self) -> None:
        """The runner first (its last batch is confirmed while the worker still runs), then the others at once
        (each in its own thread): SIGTERM, grace, SIGKILL."""
        def stop(process):
            began = time.monotonic()
            process.stop(grace_s=STOP_GRACE_S.get(process.name, 5.0))
            self.note(f"{process.name} stopped in {time.monotonic() - began:.1f} s")

        if "runner" in self.processes:
            stop(self.processes["runner"])
        threads = [threading.Thread(target=stop, args=(process,), name=f"stop-{process.name}")
                   for name, process in self.processes.items() if name != "runner"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None
