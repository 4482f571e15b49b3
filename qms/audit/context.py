"""Who is acting right now: set by the web middleware, the API authentication and management commands.

Kept in contextvars so service code and history receivers can attribute a change without threading the request
through every call (works for threads and asyncio tasks alike).

Precedence when a change is recorded:
1. an actor set explicitly (`acting_as(...)`, `set_actor(...)`) — commands, Celery tasks, services acting for someone;
2. otherwise the user of the request being served (bound by the middleware and read lazily, so a user or machine
   token authenticated later by DRF is the one attributed, not the anonymous user the middleware first saw);
3. otherwise `SYSTEM`.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import getpass
from dataclasses import dataclass

ACTOR_LABEL_MAX = 150


@dataclass(frozen=True)
class Actor:
    label: str
    user_id: int | None = None
    token_id: int | None = None


SYSTEM = Actor(label="system")

_explicit_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("qp_actor", default=None)
_current_request: contextvars.ContextVar[object | None] = contextvars.ContextVar("qp_request", default=None)
_current_reason: contextvars.ContextVar[str] = contextvars.ContextVar("qp_reason", default="")


def actor_for_user(user) -> Actor:
    """The actor for a Django user, a machine client (token) or nobody."""
    if user is None or not getattr(user, "is_authenticated", False):
        return SYSTEM
    token = getattr(user, "token", None)
    if token is not None and getattr(user, "pk", None) is None:
        return actor_for_token(token)
    return Actor(label=user.get_username()[:ACTOR_LABEL_MAX], user_id=user.pk)


def actor_for_token(token) -> Actor:
    return Actor(label=f"token:{token.name}"[:ACTOR_LABEL_MAX], token_id=token.pk)


def command_actor(command_name: str) -> Actor:
    """`command:<name>@<os user>`: a management command acts as itself, named with the OS account that ran it."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers; the command name still identifies it
        os_user = "unknown"
    return Actor(label=f"command:{command_name}@{os_user}"[:ACTOR_LABEL_MAX])


def current_actor() -> Actor:
    explicit = _explicit_actor.get()
    if explicit is not None:
        return explicit
    request = _current_request.get()
    if request is not None:
        return actor_for_user(getattr(request, "user", None))
    return SYSTEM


def current_reason() -> str:
    return _current_reason.get()


def set_actor(actor: Actor) -> contextvars.Token:
    return _explicit_actor.set(actor)


def reset_actor(token: contextvars.Token) -> None:
    _explicit_actor.reset(token)


def bind_request(request) -> contextvars.Token:
    """Attribute changes made while serving `request` to whoever `request.user` is when the change is recorded."""
    return _current_request.set(request)


def unbind_request(token: contextvars.Token) -> None:
    _current_request.reset(token)


@contextlib.contextmanager
def acting_as(actor: Actor, reason: str = ""):
    """Attribute every audited change inside the block to `actor`, with `reason` as the why."""
    actor_token = _explicit_actor.set(actor)
    reason_token = _current_reason.set(reason)
    try:
        yield actor
    finally:
        _current_reason.reset(reason_token)
        _explicit_actor.reset(actor_token)


@contextlib.contextmanager
def because(reason: str):
    """Attach a reason to every audited change inside the block."""
    token = _current_reason.set(reason)
    try:
        yield
    finally:
        _current_reason.reset(token)


def audited_command(handle):
    """Decorator for a management command's `handle`: every change it makes is attributed to `command:<name>@<user>`.

    The command's `--reason` option, when it has one, becomes the reason of every entry.
    """

    @functools.wraps(handle)
    def wrapper(self, *args, **options):
        name = type(self).__module__.rsplit(".", 1)[-1]
        with acting_as(command_actor(name), reason=options.get("reason") or ""):
            return handle(self, *args, **options)

    return wrapper
