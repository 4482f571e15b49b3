"""Bench-only settings: production settings (DEBUG off, from the environment) with the bench URL conf."""
from qms.settings import *  # noqa: F403

ROOT_URLCONF = "bench.verdicts_urls"
