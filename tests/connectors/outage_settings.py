"""Settings for the processes of the outage test (runner, Celery worker, schema setup): production settings with
DEBUG-mode secrets, and the schema built from the models (the repository's migrations are regenerated at the end
of a round, as in `pytest --nomigrations`)."""
import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from qms.settings import *  # noqa: F403

MIGRATION_MODULES = {app: None for app in ("qms", "spc", "traceability", "connectors")}
