"""Bench-only settings: production settings (DEBUG off, from the environment) with the bench URL confs."""
from qms.settings import *  # noqa: F403

ROOT_URLCONF = "bench.verdicts_urls"
VERDICT_LANE_URLCONF = "bench.verdicts_lane_urls"  # the ceiling view beside the verdicts, in the same lane
