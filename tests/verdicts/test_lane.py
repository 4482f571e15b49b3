"""The MES lane (traceability/verdicts/lane.py): /api/v1/verdicts/ is served with a shorter middleware stack, and
answers exactly as the full stack would — status, headers (security, language, Vary) and body — for tokens and
signed-in users, errors included.

Both stacks are driven as the WSGI server drives them (a WSGI environ, real CSRF enforcement), with the production
security settings, and compared request by request."""
from __future__ import annotations

import orjson
import pytest
from django.core.handlers.wsgi import WSGIHandler

from tests.factories import LotFactory, SiteFactory, make_token
from tests.factories_verdicts import hold_lots
from tests.verdicts.wsgi_client import ONE, QUERY, batch, serve, signed_in, with_csrf
from traceability.verdicts import access
from traceability.verdicts.lane import LANE_SKIPS, VerdictLaneHandler, lane_middleware, with_verdict_lane

pytestmark = pytest.mark.usefixtures("no_redis")


@pytest.fixture
def stacks(production_security):
    """(the WSGI application with the lane, the full stack alone), built after the settings are in place."""
    full = WSGIHandler()
    return with_verdict_lane(full), full


@pytest.fixture
def world(db):
    site = SiteFactory(code="S1")
    SiteFactory(code="S2")
    lot = LotFactory(site=site, code="L-0001")
    hold_lots(site, [lot], reason="IMM02 barrel zone 2 +4 °C")
    LotFactory(site=site, code="L-0002")
    _token, raw = make_token(site, scopes=("verdicts:read",), name="MES-1")
    _token, no_scope = make_token(site, scopes=("ingest",), name="MES-INGEST")
    return {"token": f"Bearer {raw}", "no_scope": f"Bearer {no_scope}", "site": site}


CASES = {
    "anonymous": ("GET", ONE.format("L-0001"), lambda w: {}, b""),
    "unknown token": ("GET", ONE.format("L-0001"), lambda w: {"Authorization": "Bearer nope"}, b""),
    "malformed header": ("GET", ONE.format("L-0001"), lambda w: {"Authorization": "Bearer a b"}, b""),
    "token without the scope": ("GET", ONE.format("L-0001"), lambda w: {"Authorization": w["no_scope"]}, b""),
    "token asking another site": ("GET", ONE.format("L-0001") + "?site=S2",
                                  lambda w: {"Authorization": w["token"]}, b""),
    "token, held lot": ("GET", ONE.format("L-0001"), lambda w: {"Authorization": w["token"]}, b""),
    "token, unknown lot": ("GET", ONE.format("L-NOPE"), lambda w: {"Authorization": w["token"]}, b""),
    "token, zh-hans": ("GET", ONE.format("L-NOPE"),
                       lambda w: {"Authorization": "Bearer nope", "Accept-Language": "zh-hans"}, b""),
    "token, wrong method": ("POST", ONE.format("L-0001"), lambda w: {"Authorization": w["token"]}, b""),
    "token, batch": ("POST", QUERY, lambda w: {"Authorization": w["token"]}, batch("L-0002", "L-NOPE", "L-0001")),
    "token, batch not JSON": ("POST", QUERY, lambda w: {"Authorization": w["token"]}, b"{nope"),
    "unknown path in the lane": ("GET", "/api/v1/verdicts/nope/", lambda w: {"Authorization": w["token"]}, b""),
    "signed in": ("GET", ONE.format("L-0001"), lambda w: signed_in(w), b""),
    "signed in, no role": ("GET", ONE.format("L-0001"), lambda w: signed_in(w, role=None, username="nobody"), b""),
    "signed-in POST without CSRF": ("POST", QUERY, lambda w: signed_in(w), batch("L-0001")),
    "signed-in POST with CSRF": ("POST", QUERY, lambda w: with_csrf(signed_in(w)), batch("L-0001")),
}


@pytest.mark.parametrize("case", CASES)
def test_lane_answers_as_the_full_stack(stacks, world, case):
    lane, full = stacks
    method, path, headers_for, body = CASES[case]
    headers = headers_for(world)
    through_lane = serve(lane, method, path, body=body, headers=headers)
    access.forget_cached_tokens()
    through_full_stack = serve(full, method, path, body=body, headers=headers)
    assert through_lane.handler is VerdictLaneHandler and through_full_stack.handler is WSGIHandler
    assert through_lane.comparable() == through_full_stack.comparable()


def test_a_missing_trailing_slash_is_redirected_as_on_the_full_stack(stacks, world):
    """The one header that differs: the full stack's redirect also says `Vary: Cookie`, because the 404 page it
    rendered first (and never sent) read the session; the lane renders none."""
    lane, full = stacks
    path, headers = "/api/v1/verdicts/lots/L-0001", {"Authorization": world["token"]}
    through_lane, through_full_stack = serve(lane, "GET", path, headers=headers), serve(full, "GET", path, headers=headers)
    assert (through_lane.status, through_lane.header("Location")) == (301, ONE.format("L-0001"))
    assert (through_full_stack.status, through_full_stack.header("Location")) == (301, ONE.format("L-0001"))


def test_plain_http_is_redirected_to_https_in_the_lane(stacks, world):
    lane, _full = stacks
    answer = serve(lane, "GET", ONE.format("L-0001"), headers={"Authorization": world["token"]}, secure=False)
    assert answer.status == 301 and answer.header("Location") == "https://testserver" + ONE.format("L-0001")


def test_lane_answers_carry_the_security_headers(stacks, world):
    lane, _full = stacks
    answer = serve(lane, "GET", ONE.format("L-0001"), headers={"Authorization": world["token"]})
    assert answer.status == 200
    assert answer.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains; preload"
    assert answer.header("X-Content-Type-Options") == "nosniff"
    assert answer.header("X-Frame-Options") == "DENY"
    assert answer.header("Referrer-Policy") == "same-origin"
    assert answer.header("Cross-Origin-Opener-Policy") == "same-origin"


def test_lane_errors_have_the_api_body_and_challenge(stacks, world):
    lane, _full = stacks
    answer = serve(lane, "GET", ONE.format("L-0001"))
    assert answer.status == 401 and answer.error()["code"] == "not_authenticated"
    assert answer.header("WWW-Authenticate") == 'Bearer realm="api"'


def test_lane_unknown_path_is_the_api_404(stacks, world):
    lane, _full = stacks
    answer = serve(lane, "GET", "/api/v1/verdicts/nope/", headers={"Authorization": world["token"]})
    assert answer.status == 404 and answer.error()["code"] == "not_found"


def test_lane_messages_follow_the_requested_language(stacks, world):
    lane, _full = stacks
    answer = serve(lane, "GET", ONE.format("L-0001"), headers={"Authorization": "Bearer nope",
                                                              "Accept-Language": "zh-hans"})
    assert answer.header("Content-Language") == "zh-hans"
    assert answer.error()["message"] == "未知的 API 令牌。"


def test_lane_refuses_a_signed_in_post_without_the_csrf_token(stacks, world):
    lane, _full = stacks
    answer = serve(lane, "POST", QUERY, body=batch("L-0001"), headers=signed_in(world))
    assert answer.status == 403 and answer.error()["code"] == "csrf_failed"


def test_lane_accepts_a_signed_in_post_with_the_csrf_token(stacks, world):
    lane, _full = stacks
    answer = serve(lane, "POST", QUERY, body=batch("L-0001"), headers=with_csrf(signed_in(world)))
    assert answer.status == 200 and orjson.loads(answer.body)["results"][0]["verdict"] == "hold"


def test_lane_keeps_a_token_to_its_site(stacks, world):
    lane, _full = stacks
    LotFactory(site=SiteFactory(code="S3"), code="L-S3")
    answer = serve(lane, "GET", ONE.format("L-S3"), headers={"Authorization": world["token"]})
    assert answer.status == 404 and answer.error()["code"] == "unknown_lot"


def test_lane_checks_the_token_scope(stacks, world):
    lane, _full = stacks
    answer = serve(lane, "GET", ONE.format("L-0001"), headers={"Authorization": world["no_scope"]})
    assert answer.status == 403 and answer.error()["code"] == "missing_scope"


def test_other_paths_take_the_full_stack(stacks, world):
    lane, _full = stacks
    answer = serve(lane, "GET", "/api/v1/nope/", headers={"Authorization": world["token"]})
    assert answer.handler is WSGIHandler


def test_lane_middleware_is_the_projects_minus_the_skipped_ones(settings):
    lane = lane_middleware(settings.MIDDLEWARE)
    assert lane == [path for path in settings.MIDDLEWARE if path not in LANE_SKIPS]
    assert "django.middleware.security.SecurityMiddleware" in lane
    assert "django.middleware.locale.LocaleMiddleware" in lane
    assert "django.contrib.auth.middleware.AuthenticationMiddleware" in lane


def test_a_middleware_added_to_the_project_is_in_the_lane(settings):
    assert "example.NewMiddleware" in lane_middleware([*settings.MIDDLEWARE, "example.NewMiddleware"])


def test_building_the_lane_leaves_the_project_middleware_alone(settings):
    before = list(settings.MIDDLEWARE)
    VerdictLaneHandler()
    assert settings.MIDDLEWARE == before


def test_the_wsgi_module_serves_verdicts_through_the_lane(world):
    from qms.wsgi import application

    answer = serve(application, "GET", ONE.format("L-0001"), headers={"Authorization": world["token"]})
    assert answer.status == 200 and answer.handler is VerdictLaneHandler
