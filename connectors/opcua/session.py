"""Making an asyncua client from a connector's config (security, user, timeouts), browsing, reading back and
writing single values (write-back). No Django import."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

from asyncua import Client, ua
from asyncua.crypto import security_policies

from connectors.opcua.values import jsonable, quality_of

_MODES = {"Sign": ua.MessageSecurityMode.Sign, "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt}


async def make_client(config: dict, secrets: dict | None = None, *, auto_reconnect: bool = True) -> Client:
    client = Client(
        config["endpoint"], timeout=float(config.get("request_timeout_s", 4.0)),
        watchdog_intervall=float(config.get("watchdog_s", 2.0)), auto_reconnect=auto_reconnect,
        reconnect_max_delay=float(config.get("reconnect_max_delay_s", 10.0)),
    )
    client.session_timeout = int(config.get("session_timeout_ms", 60_000))
    client.name = client.description = "QualityPulse connector"
    client.application_uri = "urn:qualitypulse:connector"
    username = config.get("username")
    if username:
        client.set_user(username)
        client.set_password((secrets or {}).get("password", ""))
    if config.get("security_policy", "None") == "Basic256Sha256":
        await client.set_security(
            security_policies.SecurityPolicyBasic256Sha256,
            certificate=config["certificate"], private_key=config["private_key"],
            server_certificate=config.get("server_certificate"),
            mode=_MODES[config.get("security_mode", "SignAndEncrypt")],
        )
    return client


@contextlib.asynccontextmanager
async def connected(config: dict, secrets: dict | None = None):
    """A short-lived session (browse, write-back): no auto-reconnect, always closed."""
    client = await make_client(config, secrets, auto_reconnect=False)
    await client.connect()
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await client.disconnect()


@dataclass(frozen=True)
class BrowseEntry:
    node_id: str
    browse_name: str
    display_name: str
    node_class: str
    data_type: str | None
    value: object
    quality: str | None
    has_children: bool

    def as_dict(self) -> dict:
        return {
            "node_id": self.node_id, "browse_name": self.browse_name, "display_name": self.display_name,
            "node_class": self.node_class, "data_type": self.data_type, "value": self.value, "quality": self.quality,
            "has_children": self.has_children,
        }


async def browse(config: dict, secrets: dict | None = None, node_id: str | None = None, *,
                 limit: int = 500) -> list[BrowseEntry]:
    """The children of `node_id` (default: the Objects folder), with the current value of variables."""
    async with connected(config, secrets) as client:
        parent = client.get_node(node_id) if node_id else client.nodes.objects
        entries = []
        for child in (await parent.get_children())[:limit]:
            node_class = await child.read_node_class()
            browse_name = await child.read_browse_name()
            display_name = await child.read_display_name()
            data_type = value = quality = None
            if node_class == ua.NodeClass.Variable:
                with contextlib.suppress(Exception):
                    data_value = await child.read_data_value(raise_on_bad_status=False)
                    value = jsonable(data_value.Value.Value if data_value.Value is not None else None)
                    quality = quality_of(data_value.StatusCode.value if data_value.StatusCode else 0)
                with contextlib.suppress(Exception):
                    data_type = (await client.get_node(await child.read_data_type()).read_browse_name()).Name
            has_children = bool(await child.get_children()) if node_class == ua.NodeClass.Object else False
            entries.append(BrowseEntry(
                node_id=child.nodeid.to_string(), browse_name=f"{browse_name.NamespaceIndex}:{browse_name.Name}",
                display_name=display_name.Text or browse_name.Name, node_class=node_class.name,
                data_type=data_type, value=value, quality=quality, has_children=has_children,
            ))
        return entries


async def write_and_read_back(config: dict, secrets: dict | None, node_id: str, value: object) -> object:
    """Write `value` with the node's own data type, then read it back (the write-back confirmation)."""
    async with connected(config, secrets) as client:
        node = client.get_node(node_id)
        variant_type = await node.read_data_type_as_variant_type()
        await node.write_value(ua.DataValue(ua.Variant(value, variant_type)))
        return jsonable(await node.read_value())
