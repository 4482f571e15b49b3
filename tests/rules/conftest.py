import pytest

from qms.services import rule_cache


@pytest.fixture(autouse=True)
def fresh_rule_cache():
    """Each test compiles its own rules (the per-process cache outlives a test's database rows)."""
    rule_cache.reset()
    yield
    rule_cache.reset()
