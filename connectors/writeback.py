"""Write-back (QMS → MES): hold/release/verdict commands to an OPC UA node, a Modbus coil/register, an MQTT topic or
a signed HTTP webhook.

    queue_writeback(connector, target, value, *, reason, idempotency_key=None) -> WriteBackCommand

is what the alarm/hold work calls. The command is stored (pending, or `shadow` when the connector runs in shadow
mode: computed, logged and shown, never sent) and, after the transaction commits, executed by the Celery task
`connectors.tasks.execute_writeback` (queue "writeback"; in-process in the embedded default):
pending → sent → confirmed (the value read back equals the value written) | failed (after `MAX_ATTEMPTS`, with
exponential backoff between attempts). Every status change is versioned (django-simple-history → audit chain).

Writers per kind are found by dotted path (`WRITERS`); each is
    async def write(spec: ConnectorSpec, target: str, value) -> object   # returns the value read back
and raises on failure. Modbus and MQTT writers live with their adapters.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from connectors.models import Connector, WriteBackCommand
from connectors.seams import writeback_changed
from connectors.spec import ConnectorSpec
from qms.audit.context import current_actor

MAX_ATTEMPTS = 5
WRITERS: dict[str, str] = {
    "opcua": "connectors.writeback.write_opcua",
    "webhook": "connectors.writeback.write_webhook",
    "modbus": "connectors.modbus.writeback.write",
    "mqtt": "connectors.mqtt.writeback.write",
}
SIGNATURE_HEADER = "X-QualityPulse-Signature"
TIMESTAMP_HEADER = "X-QualityPulse-Timestamp"


class WriteBackError(Exception):
    """The write did not happen or could not be confirmed; the message says why."""


# --- the service ---------------------------------------------------------------------------------------------
def queue_writeback(connector: Connector, target: str, value, *, reason: str, idempotency_key: str | None = None,
                    requested_by: str | None = None) -> WriteBackCommand:
    """Record a write-back command and have it executed after commit (unless the connector is in shadow mode).
    With an idempotency key, asking twice returns the first command."""
    if not reason or not reason.strip():
        raise ValueError("a write-back command needs a reason")
    if idempotency_key:
        existing = WriteBackCommand.objects.filter(connector=connector, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    shadow = connector.shadow_mode
    with transaction.atomic():
        command = WriteBackCommand(
            connector=connector, target=target, value=value, reason=reason[:500],
            requested_by=(requested_by or current_actor().label)[:150], idempotency_key=idempotency_key,
            status=WriteBackCommand.Status.SHADOW if shadow else WriteBackCommand.Status.PENDING,
        )
        command._change_reason = reason[:100]
        command.save()
        command_id = command.pk
        if shadow:
            transaction.on_commit(lambda: writeback_changed.send(sender=WriteBackCommand, command_id=command_id,
                                                                 status="shadow"))
        else:
            transaction.on_commit(lambda: _enqueue(command_id))
    return command


def _enqueue(command_id: int) -> None:
    from connectors.tasks import execute_writeback

    execute_writeback.delay(command_id)


def _set_status(command: WriteBackCommand, status: str, why: str, **fields) -> None:
    command.status = status
    for name, value in fields.items():
        setattr(command, name, value)
    command._change_reason = why[:100]
    command.save()
    command_id = command.pk
    transaction.on_commit(lambda: writeback_changed.send(sender=WriteBackCommand, command_id=command_id, status=status))


def attempt_writeback(command_id: int) -> tuple[str, float | None]:
    """One attempt. Returns (status, retry_in_seconds or None). Safe to run twice: a confirmed, failed or shadow
    command is left alone, and two workers cannot attempt the same command at once (row lock)."""
    with transaction.atomic():
        command = WriteBackCommand.objects.select_for_update().select_related("connector__site").get(pk=command_id)
        if command.status not in (WriteBackCommand.Status.PENDING, WriteBackCommand.Status.SENT):
            return command.status, None
        connector = command.connector
        if connector.shadow_mode:
            _set_status(command, WriteBackCommand.Status.SHADOW, "connector switched to shadow mode")
            return command.status, None
        command.attempts += 1
        try:
            readback = run_writer(connector, command.target, command.value)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            if command.attempts >= MAX_ATTEMPTS:
                _set_status(command, WriteBackCommand.Status.FAILED, "write-back failed", last_error=error)
                return command.status, None
            command.last_error = error
            command._change_reason = "write-back attempt failed; will retry"
            command.save()
            return command.status, float(min(2 ** command.attempts, 60))
        now = timezone.now()
        if _same(readback, command.value):
            _set_status(command, WriteBackCommand.Status.CONFIRMED, "write-back confirmed by read-back",
                        sent_at=command.sent_at or now, confirmed_at=now, readback_value=readback, last_error="")
            return command.status, None
        error = f"read back {readback!r}, expected {command.value!r}"
        if command.attempts >= MAX_ATTEMPTS:
            _set_status(command, WriteBackCommand.Status.FAILED, "write-back not confirmed", sent_at=now,
                        readback_value=readback, last_error=error)
            return command.status, None
        _set_status(command, WriteBackCommand.Status.SENT, "written, read-back differs; will retry", sent_at=now,
                    readback_value=readback, last_error=error)
        return command.status, float(min(2 ** command.attempts, 60))


def _same(readback, value) -> bool:
    if isinstance(value, bool) or isinstance(readback, bool):
        return bool(readback) == bool(value) and type(readback) in (bool, int) and type(value) in (bool, int)
    if isinstance(value, int | float) and isinstance(readback, int | float):
        return abs(float(readback) - float(value)) <= 1e-9 * max(1.0, abs(float(value)))
    return readback == value


def run_writer(connector: Connector, target: str, value):
    from connectors.services import spec_for

    path = WRITERS.get(connector.kind)
    if path is None:
        raise WriteBackError(f"connectors of kind {connector.kind} cannot write back")
    module_name, _, function = path.rpartition(".")
    try:
        writer = getattr(importlib.import_module(module_name), function)
    except (ModuleNotFoundError, AttributeError) as exc:
        raise WriteBackError(f"no write-back writer for {connector.kind} connectors is installed ({path})") from exc
    spec = spec_for(connector)
    return asyncio.run(writer(spec, target, value))


# --- writers -------------------------------------------------------------------------------------------------
async def write_opcua(spec: ConnectorSpec, target: str, value):
    from connectors.opcua.session import write_and_read_back

    return await write_and_read_back(spec.config, spec.secrets, target, value)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>" (the timestamp stops replays of an old request)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str, *, max_age_s: float = 300) -> bool:
    """For MES implementers (and our tests): check a webhook's signature and freshness."""
    try:
        fresh = abs(time.time() - float(timestamp)) <= max_age_s
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


async def write_webhook(spec: ConnectorSpec, target: str, value):
    """POST {"target", "value", "connector", "sent_at"} as JSON, signed; a 2xx answer echoing the value confirms.
    With `readback_url` configured, the value is confirmed by GETting it back instead."""
    config = spec.config
    secret = (spec.secrets or {}).get("hmac_secret")
    if not secret:
        raise WriteBackError("webhook connector has no secrets.hmac_secret")
    body = json.dumps({"connector": spec.name, "site": spec.site, "target": target, "value": value,
                       "sent_at": datetime.now(UTC).isoformat()}, sort_keys=True).encode()
    timestamp = f"{time.time():.3f}"
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
               config.get("header", SIGNATURE_HEADER): sign(secret, timestamp, body)}
    answer = await asyncio.to_thread(_http, "POST", config["url"], body, headers, config.get("timeout_s", 5.0))
    if config.get("readback_url"):
        answer = await asyncio.to_thread(_http, "GET", config["readback_url"] + f"?target={target}", None, {},
                                         config.get("timeout_s", 5.0))
    if not isinstance(answer, dict) or "value" not in answer:
        raise WriteBackError("the webhook answered without the value (nothing to confirm)")
    return answer["value"]


def _http(method: str, url: str, body: bytes | None, headers: dict, timeout: float):
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        raise WriteBackError(f"webhook answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WriteBackError(f"webhook unreachable: {exc}") from exc
    try:
        return json.loads(payload or b"{}")
    except ValueError as exc:
        raise WriteBackError("webhook answered something that is not JSON") from exc
