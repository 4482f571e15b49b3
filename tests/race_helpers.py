"""Two transactions made to meet at a chosen point: one paused inside (`pause_after`), the other started meanwhile
(`in_thread`) — the deterministic form of a race, for lock-order tests on PostgreSQL's real row locks.
`while_paused` is the whole race."""
from __future__ import annotations

import importlib
import threading
import time
from unittest import mock

from django.db import connection


def pause_after(target: str, reached: threading.Event, seconds: float = 0.8):
    """Patch `target` (a module attribute) so the calling transaction signals `reached` after it ran, then stays
    open `seconds` longer."""
    module_name, name = target.rsplit(".", 1)
    original = getattr(importlib.import_module(module_name), name)

    def paused(*args, **kwargs):
        result = original(*args, **kwargs)
        reached.set()
        time.sleep(seconds)
        return result
    return mock.patch(target, paused)


def in_thread(call, outcomes: list) -> threading.Thread:
    """Run `call` in a thread of its own (its own database connection); what it returns or raises joins `outcomes`."""
    def run():
        try:
            outcomes.append(call())
        except Exception as exc:  # the outcome under test may be an exception
            outcomes.append(exc)
        finally:
            connection.close()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def while_paused(target: str, first, second) -> list:
    """Run `first` in a thread until `target` (a module attribute it calls) has returned, pause it there with its
    transaction open, and run `second` in another thread meanwhile. Returns what both returned or raised, in the order
    they finished."""
    outcomes, reached = [], threading.Event()
    with pause_after(target, reached):
        one = in_thread(first, outcomes)
        assert reached.wait(20), f"{target} was not reached"
        two = in_thread(second, outcomes)
        one.join(60)
        two.join(60)
    return outcomes
