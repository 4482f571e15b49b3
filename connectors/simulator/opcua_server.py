"""The simulator's OPC UA face: an asyncua server with EUROMAP 77-like nodes per machine. No Django import.

Address space (namespace `urn:qualitypulse:simulator`, string node ids `<machine>/<path>`):

    Objects/Machines/IMM01
        TemperatureZones/Barrel/Zone1..6/{ActualValue, NominalValue}
        TemperatureZones/Mould/Zone1/{ActualValue, NominalValue}
        InjectionUnit/{PeakPressure, Cushion, InjectionTime}
        Cycle/{CycleTime, ShotCounter}
        Quality/PartWeight
        Production/{CurrentLot, ProductionReleasedByMES (writable)}
    Objects/Bench/Tag0000..      (only with bench_tags > 0)
    Objects/Simulator/SetOffset(machine: String, tag: String, offset: Double) -> DateTime
        the excursion control: shifts one tag (dictionary suffix, e.g. "BARREL_Z2.TEMP") by `offset` from now on
        (0: back to normal), publishes the offending value at once and returns its source timestamp

Each shot also fires one `CycleParametersEventType` event from the machine object (EUROMAP 77 style: one record per
shot with ShotCounter, LotId, CycleTime, Cushion, PeakPressure, InjectionTime, PartWeight).

Scenarios handled here: server-restart (stop for `down_s` every `restart_every_s`), half-open (a TCP proxy in
front stops forwarding for `down_s` every `restart_every_s`, sockets stay open), bad-quality (BadSensorFailure
with no value), clock-skew (source timestamps ahead), backfill-burst (old source timestamps).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from asyncua import Server, ua

from connectors.opcua import guards
from connectors.simulator import opcua_speedups
from connectors.simulator.faces import SimulatorOptions
from connectors.simulator.plant import NOMINAL_PATHS, SPECS, TAG_PATHS, Sample, Shot, SimulatedPlant
from connectors.simulator.tcp_proxy import TcpProxy

# asyncua logs every publish response at INFO (formatting whole results): far too costly at 10k values/s.
logging.getLogger("asyncua").setLevel(logging.WARNING)
log = logging.getLogger("connectors.simulator.opcua")

guards.install_server_guard()
NAMESPACE = "urn:qualitypulse:simulator"
EVENT_TYPE = "CycleParametersEventType"
EVENT_FIELDS = (
    ("ShotCounter", ua.VariantType.UInt32), ("LotId", ua.VariantType.String),
    ("CycleTime", ua.VariantType.Double), ("Cushion", ua.VariantType.Double),
    ("PeakPressure", ua.VariantType.Double), ("InjectionTime", ua.VariantType.Double),
    ("PartWeight", ua.VariantType.Double),
)
SHOT_EVENT_FIELDS = {"CYCLE.TIME": "CycleTime", "SCREW.CUSHION": "Cushion", "INJECTION.PRESSURE": "PeakPressure",
                     "INJECTION.TIME": "InjectionTime", "PART.WEIGHT": "PartWeight"}


def node_id_string(machine: str, path: str, namespace_index: int = 2) -> str:
    return f"ns={namespace_index};s={machine}/{path}"


def tag_node_ids(machines, namespace_index: int = 2) -> dict[str, str]:
    """Characteristic code → node id string, for configuring a connector against the simulator."""
    return {
        f"{machine}.{suffix}": node_id_string(machine, path, namespace_index)
        for machine in machines for suffix, path in TAG_PATHS.items()
    }


@dataclass
class SecurityOptions:
    certificate: str | None = None      # PEM/DER paths; with both set, Basic256Sha256 endpoints are offered
    private_key: str | None = None
    users: dict[str, str] | None = None  # username → password; anonymous refused when set
    allow_none: bool = True              # also offer the unsecured endpoint


class _PasswordUsers:
    def __init__(self, users: dict[str, str]):
        self.users = users

    def get_user(self, iserver, username=None, password=None, certificate=None):
        from asyncua.crypto.permission_rules import User, UserRole

        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


class OpcUaFace:
    name = "opcua"

    def __init__(self, plant: SimulatedPlant, options: SimulatorOptions, *, port: int | None = None,
                 security: SecurityOptions | None = None):
        self.plant = plant
        self.options = options
        self.public_port = port or options.opcua_port
        self.security = security or SecurityOptions(**options.extra.get("opcua_security", {}))
        self.scenario = plant.scenario
        self.proxy: TcpProxy | None = None
        self.server_port = self.public_port
        if self.scenario.name == "half-open":
            self.proxy = TcpProxy(options.host, self.public_port, options.host, 0)
        self.server: Server | None = None
        self.ns = 2
        self.nodes: dict[tuple[str, str], ua.NodeId] = {}
        self.bench_nodes: list[ua.NodeId] = []
        self._bench_attributes: list = []     # the bench nodes' Value attributes in the address space
        self.event_generators: dict[str, object] = {}
        self.released: dict[str, bool] = {}
        self._down_until = 0.0
        self._next_outage = 0.0
        self._is_down = False
        self.restarts = 0

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.options.host}:{self.public_port}/qualitypulse/"

    # --- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        opcua_speedups.install()
        if self.proxy is not None:
            self.server_port = _free_port(self.options.host)
            self.proxy.target_port = self.server_port
            await self.proxy.start()
        await self._start_server()
        loop = asyncio.get_running_loop()
        self._next_outage = loop.time() + self.scenario.restart_every_s

    async def _start_server(self) -> None:
        user_manager = _PasswordUsers(self.security.users) if self.security.users else None
        server = Server(user_manager=user_manager) if user_manager else Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://{self.options.host}:{self.server_port}/qualitypulse/")
        server.set_server_name("QualityPulse MES simulator")
        policies = []
        if self.security.certificate and self.security.private_key:
            await server.load_certificate(self.security.certificate)
            await server.load_private_key(self.security.private_key)
            policies += [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt, ua.SecurityPolicyType.Basic256Sha256_Sign]
        if self.security.allow_none or not policies:
            policies.append(ua.SecurityPolicyType.NoSecurity)
        server.set_security_policy(policies)
        if self.security.users:
            server.set_identity_tokens([ua.UserNameIdentityToken])
        self.ns = await server.register_namespace(NAMESPACE)
        await self._build_address_space(server)
        await server.start()
        self.server = server
        log.info("OPC UA simulator serving %s", self.endpoint)

    async def stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.stop()
            self.server = None
        if self.proxy is not None:
            await self.proxy.stop()

    async def restart(self, down_s: float = 0.0) -> None:
        """A server restart as clients see it: every connection is closed, every session and subscription is gone,
        the port refuses connections for `down_s`, then a server with the same address space answers again.
        (The address space is kept rather than rebuilt: building asyncua's standard nodes takes seconds.)"""
        await self.go_down()
        if down_s:
            await asyncio.sleep(down_s)
        await self.come_up()

    async def go_down(self) -> None:
        server = self.server
        if server is None or server.bserver is None:
            return
        await server.bserver.stop()
        for session in list(server.iserver._external_sessions.values()):
            with contextlib.suppress(Exception):
                await session.close_session(delete_subs=True)
        self._is_down = True

    async def come_up(self) -> None:
        if self.server is not None and self._is_down:
            await self.server.bserver.start()
            self._is_down = False
            self.restarts += 1

    async def stop_server_only(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.stop()
            self.server = None

    # --- address space --------------------------------------------------------------------------------------
    async def _build_address_space(self, server: Server) -> None:
        ns = self.ns
        self.nodes.clear()
        self.bench_nodes.clear()
        event_type = await server.create_custom_event_type(ns, EVENT_TYPE, ua.ObjectIds.BaseEventType,
                                                           list(EVENT_FIELDS))
        machines = await server.nodes.objects.add_folder(ua.NodeId("Machines", ns), "Machines")
        for machine in self.plant.machines:
            machine_node = await machines.add_object(ua.NodeId(machine, ns), machine)
            folders: dict[str, object] = {"": machine_node}

            async def folder_for(path: str, machine=machine, folders=folders, machine_node=machine_node):
                parent_path = path.rpartition("/")[0]
                if parent_path in folders:
                    return folders[parent_path]
                parent = await folder_for(parent_path)
                node = await parent.add_folder(ua.NodeId(f"{machine}/{parent_path}", ns), parent_path.rpartition("/")[2])
                folders[parent_path] = node
                return node

            for suffix, path in TAG_PATHS.items():
                parent = await folder_for(path)
                spec = SPECS[suffix]
                node = await parent.add_variable(ua.NodeId(f"{machine}/{path}", ns), path.rpartition("/")[2],
                                                 ua.Variant(spec.nominal, ua.VariantType.Double))
                self.nodes[(machine, suffix)] = node.nodeid
            for suffix, path in NOMINAL_PATHS.items():
                parent = await folder_for(path)
                await parent.add_variable(ua.NodeId(f"{machine}/{path}", ns), path.rpartition("/")[2],
                                          ua.Variant(SPECS[suffix].nominal, ua.VariantType.Double))
            extra = {
                "InjectionUnit/InjectionTime": ua.Variant(1.8, ua.VariantType.Double),
                "Cycle/ShotCounter": ua.Variant(self.plant.shot_counters[machine], ua.VariantType.UInt32),
                "Production/CurrentLot": ua.Variant(self.plant.lots[machine], ua.VariantType.String),
            }
            for path, variant in extra.items():
                parent = await folder_for(path)
                node = await parent.add_variable(ua.NodeId(f"{machine}/{path}", ns), path.rpartition("/")[2], variant)
                self.nodes[(machine, path)] = node.nodeid
            parent = await folder_for("Production/ProductionReleasedByMES")
            released = await parent.add_variable(
                ua.NodeId(f"{machine}/Production/ProductionReleasedByMES", ns), "ProductionReleasedByMES",
                ua.Variant(self.released.get(machine, True), ua.VariantType.Boolean),
            )
            await released.set_writable()
            self.nodes[(machine, "Production/ProductionReleasedByMES")] = released.nodeid
            await machine_node.set_event_notifier([ua.EventNotifier.SubscribeToEvents])
            self.event_generators[machine] = await server.get_event_generator(event_type, machine_node)
        control = await server.nodes.objects.add_object(ua.NodeId("Simulator", ns), "Simulator")
        await control.add_method(
            ua.NodeId("Simulator/SetOffset", ns), ua.QualifiedName("SetOffset", ns), self._set_offset,
            [ua.VariantType.String, ua.VariantType.String, ua.VariantType.Double], [ua.VariantType.DateTime],
        )
        if self.options.bench_tags:
            bench = await server.nodes.objects.add_folder(ua.NodeId("Bench", ns), "Bench")
            for index in range(self.options.bench_tags):
                node = await bench.add_variable(ua.NodeId(f"Bench/Tag{index:04d}", ns), f"Tag{index:04d}",
                                                ua.Variant(0.0, ua.VariantType.Double))
                self.bench_nodes.append(node.nodeid)
            nodes = server.iserver.aspace
            self._bench_attributes = [nodes[node_id].attributes[ua.AttributeIds.Value] for node_id in self.bench_nodes]

    # --- publishing -----------------------------------------------------------------------------------------
    async def _write(self, node_id: ua.NodeId, value, variant_type, source_ts: datetime, good: bool = True) -> None:
        if good:
            data_value = ua.DataValue(ua.Variant(value, variant_type), SourceTimestamp=source_ts,
                                      ServerTimestamp=datetime.now(UTC))
        else:
            data_value = ua.DataValue(ua.Variant(None), StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure),
                                      SourceTimestamp=source_ts, ServerTimestamp=datetime.now(UTC))
        await self.server.write_attribute_value(node_id, data_value)

    async def _scenario_outage(self) -> bool:
        """server-restart / half-open scenarios. True while the face is down (nothing to publish)."""
        if self.scenario.name not in ("server-restart", "half-open"):
            return False
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._down_until and now >= self._down_until:
            self._down_until = 0.0
            self._next_outage = now + self.scenario.restart_every_s
            if self.scenario.name == "server-restart":
                await self.come_up()
            else:
                self.proxy.resume()
            return False
        if self._down_until:
            return self.scenario.name == "server-restart"
        if now >= self._next_outage:
            self._down_until = now + self.scenario.down_s
            if self.scenario.name == "server-restart":
                await self.go_down()
                return True
            self.proxy.pause()
        return False

    async def publish(self, samples: list[Sample], now: datetime) -> None:
        if await self._scenario_outage() or self.server is None or self._is_down:
            return
        for sample in samples:
            await self._write(self.nodes[(sample.machine, sample.suffix)], sample.value, ua.VariantType.Double,
                              sample.source_ts, sample.good)
        if self._bench_attributes:
            await self._publish_bench(now)

    async def _publish_bench(self, now: datetime) -> None:
        """All bench tags in one pass over their Value attributes: what `write_attribute_value` does per node (store
        the DataValue, call the monitored items' data-change callbacks) without its per-node lookups and type check
        (these nodes are ours and always Double), and with one ServerTimestamp per tick."""
        source_ts = self.plant.source_time(now)
        server_ts = datetime.now(UTC)
        double = ua.VariantType.Double
        values = self.plant.waves(now, len(self._bench_attributes))
        for attribute, value in zip(self._bench_attributes, values, strict=True):
            data_value = ua.DataValue(ua.Variant(value, double), SourceTimestamp=source_ts, ServerTimestamp=server_ts)
            attribute.value = data_value
            attribute.value_callback = None
            for handle, callback in list(attribute.datachange_callbacks.items()):
                try:
                    await callback(handle, data_value)
                except Exception:
                    log.exception("data-change callback of a bench node failed")

    async def publish_backfill(self, samples: list[Sample]) -> None:
        if self.server is None:
            return
        for sample in samples:
            await self._write(self.nodes[(sample.machine, sample.suffix)], sample.value, ua.VariantType.Double,
                              sample.source_ts, sample.good)

    async def publish_shot(self, shot: Shot) -> None:
        if self.server is None:
            return
        machine = shot.machine
        for suffix, value in shot.values.items():
            key = (machine, suffix) if (machine, suffix) in self.nodes else (machine, "InjectionUnit/InjectionTime")
            await self._write(self.nodes[key], value, ua.VariantType.Double, shot.source_ts)
        await self._write(self.nodes[(machine, "Cycle/ShotCounter")], shot.counter, ua.VariantType.UInt32,
                          shot.source_ts)
        await self._write(self.nodes[(machine, "Production/CurrentLot")], shot.lot, ua.VariantType.String,
                          shot.source_ts)
        generator = self.event_generators[machine]
        event = generator.event
        event.ShotCounter = shot.counter
        event.LotId = shot.lot
        for suffix, field_name in SHOT_EVENT_FIELDS.items():
            setattr(event, field_name, shot.values[suffix])
        event.Message = ua.LocalizedText(f"{machine} shot {shot.counter}")
        await generator.trigger(time_attr=shot.source_ts)

    async def _set_offset(self, _parent, machine, suffix, offset):
        """The SetOffset method: arguments arrive as Variants; bad ones answer BadInvalidArgument."""
        try:
            sample = self.plant.set_offset(machine.Value, suffix.Value, float(offset.Value))
        except (TypeError, ValueError) as error:
            log.warning("SetOffset refused: %s", error)
            return ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
        if self.server is not None and not self._is_down:
            await self._write(self.nodes[(sample.machine, sample.suffix)], sample.value, ua.VariantType.Double,
                              sample.source_ts)
        log.info("excursion %s.%s offset %+g at %s (value %s)", sample.machine, sample.suffix, offset.Value,
                 sample.source_ts.isoformat(), sample.value)
        return [ua.Variant(sample.source_ts, ua.VariantType.DateTime)]

    async def read_released(self, machine: str) -> bool:
        node = self.server.get_node(self.nodes[(machine, "Production/ProductionReleasedByMES")])
        return bool(await node.read_value())


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def build_face(plant: SimulatedPlant, options: SimulatorOptions) -> OpcUaFace:
    return OpcUaFace(plant, options)
