"""Connector models: core.py (connectors, tag mappings, write-back commands, status) is owned by the runner/OPC UA
work; legacy.py (intermediate-table and file-import state) by the Modbus/MQTT/table/file work."""
from .core import *  # noqa: F403
from .legacy import *  # noqa: F403
