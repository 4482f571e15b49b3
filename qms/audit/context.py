"""Who is acting right now: set by the web middleware, the API authentication and management commands.

Kept in a contextvar so service code and history receivers can attribute a change without threading the request
through every call (works for threads and asyncio tasks alike).
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    label: str
    user_id: int | None = None
    token_id: int | None = None


SYSTEM = Actor(label="system")

_current_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("qp_actor", default=SYSTEM)
_current_reason: contextvars.ContextVar[str] = contextvars.ContextVar("qp_reason", default="")


def current_actor() -> Actor:
    return _current_actor.get()


def current_reason() -> str:
    return _current_reason.get()


def set_actor(actor: Actor) -> contextvars.Token:
    return _current_actor.set(actor)


def reset_actor(token: contextvars.Token) -> None:
    _current_actor.reset(token)


def actor_for_user(user) -> Actor:
    if user is None or not getattr(user, "is_authenticated", False):
        return SYSTEM
    return Actor(label=user.get_username(), user_id=user.pk)


def actor_for_token(token) -> Actor:
    return Actor(label=f"token:{token.name}", token_id=token.pk)


@contextlib.contextmanager
def acting_as(actor: Actor, reason: str = ""):
    """Attribute every audited change inside the block to `actor`, with `reason` as the why."""
    actor_token = _current_actor.set(actor)
    reason_token = _current_reason.set(reason)
    try:
        yield actor
    finally:
        _current_reason.reset(reason_token)
        _current_actor.reset(actor_token)


@contextlib.contextmanager
def because(reason: str):
    """Attach a reason to every audited change inside the block."""
    token = _current_reason.set(reason)
    try:
        yield
    finally:
        _current_reason.reset(token)
