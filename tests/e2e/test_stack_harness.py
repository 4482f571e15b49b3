"""The e2e harness's process handling on its own (no services): a stopped process takes its whole group with it, a
process deaf to SIGTERM is killed after the grace period, and a process that dies while the harness waits fails the
wait at once with its log in the message."""
import os
import sys
import time

import pytest

from tests.e2e.stack import ManagedProcess, Stack, StackError, StackSettings


def shell(tmp_path, name, script) -> ManagedProcess:
    return ManagedProcess(name, ["/bin/sh", "-c", script], dict(os.environ), tmp_path / f"{name}.log").start()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_file(path, timeout_s=10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.02)
    raise AssertionError(f"{path} was not written")


def test_stop_ends_the_whole_process_group(tmp_path):
    pid_file = tmp_path / "child.pid"
    process = shell(tmp_path, "parent", f"sleep 60 & echo $! > {pid_file}; wait")
    child = int(wait_for_file(pid_file))
    process.stop(grace_s=5)
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not process.alive and not alive(child)


def test_a_process_deaf_to_sigterm_is_killed_after_the_grace(tmp_path):
    ready = tmp_path / "ready"
    process = shell(tmp_path, "deaf", f"trap '' TERM; echo up > {ready}; while true; do sleep 0.1; done")
    wait_for_file(ready)
    began = time.monotonic()
    process.stop(grace_s=0.5)
    assert not process.alive
    assert 0.4 < time.monotonic() - began < 5


def test_a_process_dying_during_a_wait_fails_it_at_once_with_its_log(tmp_path):
    stack = Stack(StackSettings(database_url="postgres://unused/x", redis_url="redis://unused/0", var_dir=tmp_path))
    stack.processes["worker"] = ManagedProcess(
        "worker", [sys.executable, "-c", "print('no broker at redis://unused'); raise SystemExit(3)"],
        dict(os.environ), tmp_path / "worker.log").start()
    began = time.monotonic()
    with pytest.raises(StackError) as failure:
        stack.wait_until("worker", lambda: False, 60, "the Celery worker did not log 'ready.'")
    assert time.monotonic() - began < 30
    message = str(failure.value)
    assert "process(es) worker exited" in message
    assert "worker (exited 3" in message and "no broker at redis://unused" in message
