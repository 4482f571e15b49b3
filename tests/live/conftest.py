import pytest

from tests.live.support import Plant


@pytest.fixture
def plant(transactional_db):
    return Plant()
