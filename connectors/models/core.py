"""Core connector models: see connectors/models/__init__.py."""
__all__: list[str] = []
