"""Write-back commands: signed webhook, OPC UA write confirmed by read-back (real simulator server), shadow mode,
retries ending in failure, idempotency."""
import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from connectors.models import WriteBackCommand
from connectors.writeback import SIGNATURE_HEADER, TIMESTAMP_HEADER, queue_writeback, verify_signature
from tests.factories import ConnectorFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cret-for-tests"


class Mes(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Mes.received.append((self.headers, body))
        self.send_response(Mes.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"value": json.loads(body)["value"]}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def mes():
    Mes.received, Mes.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), Mes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hold"
    server.shutdown()


def webhook(site, url, **fields):
    return ConnectorFactory(site=site, name="mes-hook", kind="webhook", config={"url": url, "timeout_s": 2},
                            secrets={"hmac_secret": SECRET}, **fields)


def test_a_webhook_command_is_signed_sent_and_confirmed(site, mes, django_capture_on_commit_callbacks):
    connector = webhook(site, mes)
    with django_capture_on_commit_callbacks(execute=True):
        command = queue_writeback(connector, "LOT/L-0001", "hold", reason="SPC signal on IMM02 zone 2")
    command.refresh_from_db()
    assert command.status == "confirmed" and command.readback_value == "hold"
    [(headers, body)] = Mes.received
    assert verify_signature(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify_signature("wrong", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert json.loads(body)["target"] == "LOT/L-0001"


def test_shadow_mode_records_the_command_but_sends_nothing(site, mes, django_capture_on_commit_callbacks):
    connector = webhook(site, mes, shadow_mode=True)
    with django_capture_on_commit_callbacks(execute=True):
        command = queue_writeback(connector, "LOT/L-0001", "hold", reason="parallel run")
    command.refresh_from_db()
    assert command.status == "shadow"
    assert Mes.received == []


def test_an_unreachable_mes_is_retried_then_failed(site, django_capture_on_commit_callbacks):
    connector = webhook(site, "http://127.0.0.1:9/hold")
    with django_capture_on_commit_callbacks(execute=True):
        command = queue_writeback(connector, "LOT/L-0001", "hold", reason="test")
    command.refresh_from_db()
    assert command.status == "failed"
    assert command.attempts == 5
    assert "unreachable" in command.last_error


def test_asking_twice_with_the_same_key_gives_one_command(site, mes, django_capture_on_commit_callbacks):
    connector = webhook(site, mes)
    with django_capture_on_commit_callbacks(execute=True):
        first = queue_writeback(connector, "LOT/L-1", "hold", reason="r", idempotency_key="alarm-7")
        second = queue_writeback(connector, "LOT/L-1", "hold", reason="r", idempotency_key="alarm-7")
    assert first.pk == second.pk
    assert WriteBackCommand.objects.count() == 1 and len(Mes.received) == 1


def test_a_reason_is_required(site, mes):
    with pytest.raises(ValueError):
        queue_writeback(webhook(site, mes), "LOT/L-1", "hold", reason=" ")


def test_opcua_write_of_production_released_is_confirmed_by_read_back(site, django_capture_on_commit_callbacks):
    from connectors.simulator.faces import SimulatorOptions
    from connectors.simulator.opcua_server import OpcUaFace
    from connectors.simulator.plant import SimulatedPlant
    from tests.connectors.protocol_helpers import free_port

    loop = asyncio.new_event_loop()
    face = OpcUaFace(SimulatedPlant(machines=("IMM01",)), SimulatorOptions(opcua_port=free_port()))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(face.start(), loop).result(60)
    try:
        connector = ConnectorFactory(site=site, name="imm01", config={"endpoint": face.endpoint})
        node = "ns=2;s=IMM01/Production/ProductionReleasedByMES"
        with django_capture_on_commit_callbacks(execute=True):
            command = queue_writeback(connector, node, False, reason="hold lot after SPC signal")
        command.refresh_from_db()
        released = asyncio.run_coroutine_threadsafe(face.read_released("IMM01"), loop).result(10)
    finally:
        asyncio.run_coroutine_threadsafe(face.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
    assert command.status == "confirmed", command.last_error
    assert released is False
