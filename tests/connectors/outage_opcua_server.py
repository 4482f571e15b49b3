"""An OPC UA server that produces a known set of values, for the outage test (a process of its own).

    python -m tests.connectors.outage_opcua_server PORT TAGS TICKS

Tags ns=2;s=Outage/TagNN. Production starts once a client has subscribed (values written before would never be
seen by anyone: a subscription starts with the current value). Then every 100 ms (absolute deadlines; a late
tick is still written, never skipped) tick i
writes to every tag the value 100 + i/1000 with SourceTimestamp T0 + i × 100 ms, for i in 0…TICKS-1 — so the
values that must end up stored are known exactly: TAGS × TICKS, at those timestamps (plus each tag's initial value,
which the subscription reports first, with a time before T0). Prints "serving T0" when production starts and
"produced TICKS" when done, then keeps serving until terminated.
"""
import asyncio
import sys
from datetime import UTC, datetime, timedelta

from asyncua import Server, ua

from connectors.opcua import guards


async def main(port: int, tags: int, ticks: int) -> None:
    guards.install_server_guard()
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/outage/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace("urn:qualitypulse:outage-test")
    folder = await server.nodes.objects.add_folder(ua.NodeId("Outage", ns), "Outage")
    nodes = [await folder.add_variable(ua.NodeId(f"Outage/Tag{n:02d}", ns), f"Tag{n:02d}", 0.0)
             for n in range(tags)]
    async with server:
        subscriptions = server.iserver.subscription_service.subscriptions
        while not any(sub.monitored_item_srv._monitored_items for sub in subscriptions.values()):
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        print("serving", t0.isoformat(), flush=True)
        loop = asyncio.get_running_loop()
        start = loop.time() + (t0 - datetime.now(UTC)).total_seconds()
        for tick in range(ticks):
            await asyncio.sleep(max(0.0, start + tick * 0.1 - loop.time()))
            source_ts = t0 + timedelta(milliseconds=100 * tick)
            for node in nodes:
                await server.write_attribute_value(node.nodeid, ua.DataValue(
                    ua.Variant(100 + tick / 1000, ua.VariantType.Double), SourceTimestamp=source_ts,
                    ServerTimestamp=datetime.now(UTC)))
        print("produced", ticks, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
