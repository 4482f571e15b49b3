"""The NC close form sends the version the signer reviewed: a change after the page was loaded refuses the
signature as stale, with a message that nothing was signed."""
import re

import pytest

from qms.models import ESignature, Nonconformance
from qms.services import nc as nc_service
from tests.factories_nc import PASSWORD, NcPlant

pytestmark = pytest.mark.django_db


def test_an_nc_changed_after_the_closer_loaded_the_page_is_not_signed(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    plant = NcPlant()
    nc = plant.nc(severity="minor")
    client.force_login(plant.engineer)
    page = client.get(f"/nc/{nc.pk}/").content.decode()
    close_form = re.search(r"<form[^>]*action=\"/nc/\d+/close/\".*?</form>", page, re.S).group(0)
    seen = re.search(r'name="version" value="(\d+)"', close_form).group(1)
    nc_service.update_nc(nc.pk, user=plant.engineer2, changes={"description": "more short shots found"},
                         expected_version=nc.version)
    response = client.post(f"/nc/{nc.pk}/close/", {"password": PASSWORD, "meaning": "closed", "version": seen},
                           follow=True)
    assert "Nothing was signed" in response.content.decode()
    assert Nonconformance.objects.get(pk=nc.pk).state == "open"
    assert not ESignature.objects.filter(user=plant.engineer).exists()
