"""POST /api/v1/spc/analyze/ and /api/v1/spc/gauge-rr/: contract, access, errors, schema."""
import json

import pytest
from rest_framework.test import APIClient

from spc.api import EXAMPLE_REQUEST, EXAMPLE_RESPONSE
from tests.factories import make_token
from tests.spc.datasets import ORANGE_JUICE, PISTON_RINGS, aiag_array

URL = "/api/v1/spc/analyze/"
pytestmark = pytest.mark.django_db


def post(client, body, url=URL):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def error(response):
    return response.json()["error"]


def test_xbar_r_answers_per_contract(engineer_client):
    response = post(engineer_client, {"chart": "xbar_r", "subgroups": PISTON_RINGS, "params": {"baseline": 25},
                                      "rules": ["WE1"]})
    assert response.status_code == 200
    body = response.json()
    assert [c["name"] for c in body["charts"]] == ["xbar", "r"]
    xbar = body["charts"][0]
    for key in ("points", "center", "ucl", "lcl"):
        assert len(xbar[key]) == 40
    assert round(xbar["ucl"][0], 3) == 74.014
    assert [s["index"] for s in xbar["signals"]] == [36, 37, 38]
    assert xbar["signals"][0] == {"index": 36, "rule": "WE1", "points": [36]}
    assert body["sigma_within"] == pytest.approx(0.009785, abs=1e-6)
    assert body["limits"]["chart"] == "xbar_r" and body["baseline"] == {"count": 25, "excluded": []}
    assert body["capability"] is None


def test_the_schema_example_is_what_the_engine_answers(engineer_client):
    body = post(engineer_client, EXAMPLE_REQUEST).json()
    for got, documented in zip(body["charts"], EXAMPLE_RESPONSE["charts"], strict=True):
        for key in ("points", "center", "ucl", "lcl"):
            assert got[key] == pytest.approx(documented[key], abs=5e-5)
    assert body["sigma_within"] == pytest.approx(EXAMPLE_RESPONSE["sigma_within"], abs=5e-7)
    assert body["capability"]["within"]["Cpk"] == pytest.approx(EXAMPLE_RESPONSE["capability"]["within"]["Cpk"],
                                                                  abs=5e-5)


def test_mr_chart_has_no_first_point(engineer_client):
    body = post(engineer_client, {"chart": "imr", "values": [1.0, 2.0, 1.5, 1.7]}).json()
    mr = body["charts"][1]
    assert mr["name"] == "mr" and mr["points"][0] is None and mr["points"][1] == pytest.approx(1.0)


def test_attribute_chart_with_capability(engineer_client):
    body = post(engineer_client, {"chart": "p", "counts": ORANGE_JUICE, "sizes": [50] * 30}).json()
    assert round(body["charts"][0]["center"][0], 4) == 0.2313
    assert body["capability"]["route"] == "binomial"


def test_cusum_and_ewma_charts(engineer_client):
    body = post(engineer_client, {"chart": "cusum", "values": [10, 11, 12, 13, 14, 15],
                                  "params": {"target": 10, "sigma": 1}}).json()
    assert [c["name"] for c in body["charts"]] == ["cusum_pos", "cusum_neg"]
    assert body["charts"][0]["signals"][0]["rule"] == "CUSUM"
    body = post(engineer_client, {"chart": "ewma", "values": [10, 10.5, 11, 12],
                                  "params": {"lambda": 0.5, "target": 10, "sigma": 0.5}}).json()
    assert body["charts"][0]["name"] == "ewma" and body["rules"] == {"ewma": ["EWMA"]}


def test_any_machine_token_may_analyse(mes_client, site):
    assert post(mes_client, {"chart": "c", "counts": [3, 4, 5]}).status_code == 200
    _token, raw = make_token(site, scopes=("verdicts:read",), name="reader")
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert post(reader, {"chart": "c", "counts": [3, 4, 5]}).status_code == 200


def test_anonymous_is_refused(api_client):
    assert post(api_client, {"chart": "c", "counts": [3, 4, 5]}).status_code in (401, 403)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"chart": "xbar_r", "subgroups": [[1, 2, 3], [4]]}, "subgroup_size_out_of_range", "subgroups"),
        ({"chart": "xbar_s", "subgroups": [[1.0] * 26]}, "subgroup_size_out_of_range", "subgroups"),
        ({"chart": "xbar_s", "subgroups": [[1, 2, 3], [4, 5]], "params": {"subgroup_size": 3}}, "ragged_subgroups",
         "subgroups"),
        ({"chart": "p", "counts": [5, 9], "sizes": [10, 8]}, "size_below_count", "sizes"),
        ({"chart": "np", "counts": [1, 2], "sizes": [10, 12]}, "ragged_sizes", "sizes"),
        ({"chart": "imr", "values": []}, "empty", "values"),
        ({"chart": "xbar_r", "subgroups": []}, "empty", "subgroups"),
        ({"chart": "imr", "values": [1, "2"]}, "not_a_number", "values"),
        ({"chart": "imr", "values": [1, 2e300]}, "out_of_range", "values"),
        ({"chart": "xbar_r", "subgroups": [[1, None]]}, "not_a_number", "subgroups"),
        ({"chart": "pareto", "values": [1, 2]}, "unknown_chart", "chart"),
        ({"chart": "imr", "values": [1, 2], "rules": ["N9"]}, "unknown_rule", "rules"),
        ({"chart": "ewma", "values": [1, 2], "rules": ["N2"]}, "rule_not_applicable", "rules"),
        ({"chart": "imr", "values": [1, 2], "params": {"lamda": 0.2}}, "unknown_param", "params"),
        ({"chart": "ewma", "values": [1, 2], "params": {"lambda": 1.5}}, "invalid_param", "params"),
        ({"chart": "imr", "values": [1, 2], "spec": {"lsl": 5, "usl": 1}}, "invalid", "spec"),
        ({"chart": "imr", "values": [3.0]}, "too_few_points", "values"),
        ({"chart": "imr", "counts": [3]}, "unexpected_field", "counts"),
    ],
)
def test_bad_requests_name_the_problem(engineer_client, body, code, field):
    response = post(engineer_client, body)
    assert response.status_code == 400
    assert error(response)["code"] == code
    assert field in error(response)["details"]
    assert error(response)["message"]


def test_non_finite_numbers_are_refused(engineer_client):
    for raw in ('{"chart": "imr", "values": [1, NaN]}', '{"chart": "imr", "values": [1, 1e400]}'):
        response = engineer_client.post(URL, data=raw, content_type="application/json")
        assert response.status_code == 400
        assert error(response)["code"] == "malformed_json"


def test_unknown_top_level_fields_and_non_objects_are_refused(engineer_client):
    assert error(post(engineer_client, {"chart": "imr", "valuez": [1, 2]}))["code"] == "unknown_field"
    assert error(post(engineer_client, [1, 2]))["code"] == "body_not_an_object"


def test_too_many_points_is_413(engineer_client):
    response = engineer_client.post(URL, data='{"chart": "imr", "values": [' + ",".join(["1"] * 1_000_001) + "]}",
                                    content_type="application/json")
    assert response.status_code == 413
    assert error(response)["code"] == "too_many_points"


def test_an_oversize_body_is_413_before_it_is_read(engineer_client, settings):
    settings.SPC_ANALYZE_MAX_BODY_BYTES = 100
    response = post(engineer_client, {"chart": "imr", "values": [1.0] * 100})
    assert response.status_code == 413 and error(response)["code"] == "body_too_large"


def test_gauge_rr_endpoint(engineer_client):
    response = post(engineer_client, {"measurements": aiag_array(), "tolerance": 6.0}, url="/api/v1/spc/gauge-rr/")
    assert response.status_code == 200
    body = response.json()
    assert body["ndc"] == 4 and round(body["GRR"], 1) == 27.9
    assert body["components"]["gauge_rr"]["pct_tolerance"] == pytest.approx(100 * 6 * 0.302372 / 6.0, abs=1e-3)


def test_gauge_rr_refuses_an_unbalanced_study(engineer_client):
    response = post(engineer_client, {"measurements": [[[1, 2], [3]], [[1, 2], [3, 4]]]}, url="/api/v1/spc/gauge-rr/")
    assert response.status_code == 400 and "measurements" in error(response)["details"]


def test_schema_documents_the_endpoint_with_examples(engineer_client):
    response = engineer_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    operation = schema["paths"]["/api/v1/spc/analyze/"]["post"]
    content = operation["requestBody"]["content"]["application/json"]
    assert "X̄-R with capability" in str(content["examples"]) or "XR with capability" in str(content["examples"])
    assert {"200", "400", "413"} <= set(operation["responses"])
    request_schema = schema["components"]["schemas"]["AnalyzeRequestRequest"]["properties"]
    assert {"chart", "subgroups", "values", "counts", "sizes", "rules", "params", "spec"} <= set(request_schema)
