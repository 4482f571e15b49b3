"""seed_spc_demo: every demo characteristic gets a chart and initial limits, from history when there is enough of
it, else from the specification; a second run changes nothing."""
import pytest
from django.core.management import call_command

from qms.models import Characteristic
from spc.models import ChartConfig, LimitRevision
from tests.spc.live_support import eager_evaluation, post_values  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_evaluation")]


def test_seed_gives_charts_and_limits_and_is_idempotent(site, characteristic, mes_client):
    Characteristic.objects.create(site=site, code="IMM01.PART.WEIGHT", name_en="Part weight", precision=2,
                                  nominal=48.5, lsl=48.2, usl=48.8, subgroup_size=5)
    Characteristic.objects.create(site=site, code="IMM01.SHOT.COUNT", name_en="Shots", data_type="int")
    post_values(mes_client, characteristic.code, [230.0 + 0.3 * ((i * 7) % 5 - 2) for i in range(40)])

    call_command("seed_spc_demo", site="S1")

    by_code = {c.characteristic.code: c for c in ChartConfig.objects.select_related("characteristic")}
    assert {code: c.chart_type for code, c in by_code.items()} == {
        characteristic.code: "imr", "IMM01.PART.WEIGHT": "xbar_r", "IMM01.SHOT.COUNT": "c"}
    temperature = LimitRevision.objects.get(config__characteristic=characteristic)
    assert temperature.method == "baseline" and temperature.baseline_count == 40
    weight = LimitRevision.objects.get(config__characteristic__code="IMM01.PART.WEIGHT")
    assert weight.method == "spec" and weight.limits["center"] == 48.5
    assert weight.limits["sigma"] == pytest.approx(0.6 / (6 * 1.33))
    assert not LimitRevision.objects.filter(config__characteristic__code="IMM01.SHOT.COUNT").exists()

    call_command("seed_spc_demo", site="S1")
    assert LimitRevision.objects.count() == 2 and ChartConfig.objects.count() == 3


def test_a_typo_entry_with_a_chart_but_no_data_can_still_be_deleted(site):
    from qms.services.dictionary import delete_characteristic
    from spc.services.config import ensure_chart_config
    from spc.services.limits import limits_from_specification

    typo = Characteristic.objects.create(site=site, code="IMM01.TYPO.TEMP", name_en="typo", lsl=1.0, usl=2.0,
                                         status="draft")
    limits_from_specification(ensure_chart_config(typo), reason="demo")
    delete_characteristic(typo.pk, reason="typo")
    assert not Characteristic.objects.filter(pk=typo.pk).exists()
    assert not ChartConfig.objects.exists() and not LimitRevision.objects.exists()


def test_an_entry_with_judged_data_cannot_be_deleted(characteristic, mes_client, django_capture_on_commit_callbacks):
    from qms.services.dictionary import delete_characteristic
    from qms.services.plant import InUseError
    from tests.spc.live_support import chart_with_limits

    chart_with_limits(characteristic)
    with django_capture_on_commit_callbacks(execute=True):
        post_values(mes_client, characteristic.code, [230.0, 230.1])
    with pytest.raises(InUseError):
        delete_characteristic(characteristic.pk, reason="no")
