"""Fixtures of the big-batch tests: a batch of SITE_WIDE_FROM lots or more (the threshold patched to 3 in this folder)."""
import pytest

from tests.factories import LotFactory, SiteFactory
from traceability.verdicts import cache as cache_module

CODES = ["L-1", "L-2", "L-3", "L-4"]


@pytest.fixture(autouse=True)
def site_wide_from_three(monkeypatch):
    monkeypatch.setattr(cache_module, "SITE_WIDE_FROM", 3)


@pytest.fixture
def site(db):
    return SiteFactory(code="S1")


@pytest.fixture
def lots(site):
    return [LotFactory(site=site, code=code) for code in CODES]
