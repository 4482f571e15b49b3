"""OPC UA with Basic256Sha256 (Sign & Encrypt), certificates on both sides and a user name/password, against a real
asyncua server that offers no unsecured endpoint."""
import asyncio
import socket
import time

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from connectors.health import ConnectorHealth
from connectors.opcua.adapter import OpcUaAdapter
from connectors.simulator.faces import SimulatorOptions
from connectors.simulator.opcua_server import OpcUaFace, SecurityOptions, node_id_string
from connectors.simulator.plant import Sample, SimulatedPlant
from connectors.spec import ConnectorSpec, TagSpec
from tests.connectors.protocol_helpers import ListSink, free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def certificate(directory, name, use):
    from asyncua.crypto.cert_gen import setup_self_signed_certificate

    key, cert = directory / f"{name}-key.pem", directory / f"{name}-cert.der"
    await setup_self_signed_certificate(key, cert, f"urn:qualitypulse:{name}", socket.gethostname(), [use],
                                        {"commonName": name})
    return str(cert), str(key)


async def run_adapter(endpoint, client_cert, client_key, password, seconds_to_connect=20):
    spec = ConnectorSpec(id=1, site="S1", name="secure", kind="opcua", config={
        "endpoint": endpoint, "security_policy": "Basic256Sha256", "security_mode": "SignAndEncrypt",
        "certificate": client_cert, "private_key": client_key, "username": "qe", "publishing_interval_ms": 50,
        "watchdog_s": 1.0, "request_timeout_s": 3.0,
    }, secrets={"password": password}, tags=(
        TagSpec(source_ref=node_id_string("IMM01", "TemperatureZones/Barrel/Zone2/ActualValue"),
                characteristic="IMM01.BARREL_Z2.TEMP"),))
    sink, health = ListSink(), ConnectorHealth()
    task = asyncio.create_task(OpcUaAdapter(spec, sink, health).run())
    deadline = time.monotonic() + seconds_to_connect
    while health.state != "connected" and time.monotonic() < deadline and not health.last_error:
        await asyncio.sleep(0.05)
    return task, sink, health


async def test_encrypted_session_with_certificates_and_password(tmp_path):
    server_cert, server_key = await certificate(tmp_path, "server", ExtendedKeyUsageOID.SERVER_AUTH)
    client_cert, client_key = await certificate(tmp_path, "client", ExtendedKeyUsageOID.CLIENT_AUTH)
    face = OpcUaFace(SimulatedPlant(machines=("IMM01",)), SimulatorOptions(opcua_port=free_port()),
                     security=SecurityOptions(certificate=server_cert, private_key=server_key,
                                              users={"qe": "right-password"}, allow_none=False))
    await face.start()
    try:
        task, sink, health = await run_adapter(face.endpoint, client_cert, client_key, "right-password")
        try:
            assert health.state == "connected", health.last_error
            from datetime import UTC, datetime

            now = datetime.now(UTC)
            await face.publish([Sample("IMM01", "BARREL_Z2.TEMP", 213.5, True, now)], now)
            deadline = time.monotonic() + 10
            while 213.5 not in [e.value for e in sink.envelopes] and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert 213.5 in [e.value for e in sink.envelopes]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        task, sink, health = await run_adapter(face.endpoint, client_cert, client_key, "wrong-password",
                                               seconds_to_connect=10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert health.state != "connected"
        assert health.last_error
    finally:
        await face.stop()
