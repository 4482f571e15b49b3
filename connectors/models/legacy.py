"""Intermediate-table and legacy-file import state: see connectors/models/__init__.py."""
__all__: list[str] = []
