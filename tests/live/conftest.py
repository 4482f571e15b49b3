import pytest

from tests.live.support import Plant


@pytest.fixture
def plant(transactional_db):
    return Plant()


@pytest.fixture
def floor(db):
    """The same plant for page tests (no live transaction needed)."""
    return Plant()
