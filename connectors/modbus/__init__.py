"""Modbus TCP connector: codec (pure decoding), plan (read planning, unit health), poller (the session)."""
