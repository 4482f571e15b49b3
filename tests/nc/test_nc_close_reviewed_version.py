"""The NC close form and the MRB vote form send the NC version the signer reviewed: a change after the page was
loaded refuses the signature as stale, with a message that nothing was signed."""
import re

import pytest

from qms.models import Disposition, DispositionApproval, ESignature, Nonconformance
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


def _proposed(plant):
    plant.product_lot("L-1", quantity=100)
    nc = plant.in_disposition(lots=[("L-1", 100)], severity="minor")
    disposition = nc_service.propose_disposition(nc.pk, user=plant.engineer, nc_lot_id=nc.lots.get().pk,
                                                 decision="use_as_is", quantity=100)
    return nc, disposition


def test_an_nc_changed_after_the_voter_loaded_the_page_takes_no_vote(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    plant = NcPlant()
    nc, disposition = _proposed(plant)
    client.force_login(plant.engineer2)
    page = client.get(f"/nc/{nc.pk}/").content.decode()
    vote_form = re.search(rf"<form[^>]*action=\"/nc/dispositions/{disposition.pk}/vote/\".*?</form>", page,
                          re.S).group(0)
    seen = re.search(r'name="version" value="(\d+)"', vote_form).group(1)
    nc_service.update_nc(nc.pk, user=plant.engineer, changes={"description": "cavity 3 too"},
                         expected_version=int(seen))
    response = client.post(f"/nc/dispositions/{disposition.pk}/vote/", {
        "vote": "approve", "password": PASSWORD, "meaning": "ok", "version": seen}, follow=True)
    assert "Nothing was signed" in response.content.decode()
    assert Disposition.objects.get().state == "proposed" and not DispositionApproval.objects.exists()
    assert not ESignature.objects.filter(user=plant.engineer2).exists()


def test_a_vote_on_the_current_version_counts(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    plant = NcPlant()
    nc, disposition = _proposed(plant)
    nc_service.approve_disposition(disposition.pk, user=plant.engineer2, password=PASSWORD, meaning="ok",
                                   vote="approve", expected_version=Nonconformance.objects.get(pk=nc.pk).version)
    assert Disposition.objects.get().state == "approved" and ESignature.objects.filter(user=plant.engineer2).exists()
