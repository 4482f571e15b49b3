"""Fixtures of the big-batch tests: a batch of SITE_WIDE_FROM lots or more (the threshold patched to 3 in this folder)."""
import pytest

from tests.factories import LotFactory, SiteFactory
from traceability.seams import verdicts_changed
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


@pytest.fixture
def captured():
    """The VerdictChanges sent on verdicts_changed during the test."""
    captured_changes = []

    def listen(sender, site_id, changes: list, **kwargs):
        captured_changes.extend(changes)
    verdicts_changed.connect(listen, dispatch_uid="big-batch-captured")
    yield captured_changes
    verdicts_changed.disconnect(dispatch_uid="big-batch-captured")
