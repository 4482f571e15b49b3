"""The demo has two quality engineers: 8D approvals and MRB votes need someone other than the author."""
import pytest
from django.contrib.auth import get_user_model

from tests.test_seed_demo import run_seed


@pytest.mark.django_db
def test_seed_demo_creates_a_second_quality_engineer_and_prints_the_password():
    output = run_seed()
    assert "engineer2 / engineer2-demo-2026" in output
    engineer2 = get_user_model().objects.get(username="engineer2")
    assert engineer2.check_password("engineer2-demo-2026")
    assert engineer2.has_perm("qms.approve_capastep") and engineer2.has_perm("qms.approve_disposition")
