"""The MES fast path (traceability/verdicts/fast_path.py): a cached token asking for cached lots is answered at the
WSGI level — and the answer is the lane's, status, headers (in order) and body; everything else is handed to the lane
unchanged.

Each request is served twice, by the lane alone and by the fast path in front of its own lane, with the production
security settings and Redis; `answered_by_fast_path` proves which one answered."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from qms.auth.tokens import hash_token
from qms.models import ApiToken
from tests.factories import LotFactory, SiteFactory, make_token
from tests.factories_verdicts import hold_lots
from tests.verdicts.wsgi_client import ONE, QUERY, batch, serve, signed_in
from traceability.models import Lot
from traceability.verdicts import access, fast_path
from traceability.verdicts.fast_path import LANE_MIDDLEWARE, VerdictFastPath, fast_path_applies
from traceability.verdicts.lane import LANE_URLCONF, VerdictLaneHandler, lane_middleware
from traceability.verdicts.write_through import note_lots_changed

pytestmark = pytest.mark.redis


@pytest.fixture
def world(verdict_cache, django_capture_on_commit_callbacks):
    site = SiteFactory(code="S1")
    SiteFactory(code="S2")
    held = LotFactory(site=site, code="L-0001")
    LotFactory(site=site, code="L-0002")
    LotFactory(site=site, code="L-é")
    with django_capture_on_commit_callbacks(execute=True):  # the write-through runs, as after a real commit
        hold_lots(site, [held], reason="IMM02 barrel zone 2 +4 °C")
    token, raw = make_token(site, scopes=("verdicts:read",), name="MES-1")
    _token, no_scope = make_token(site, scopes=("ingest",), name="MES-INGEST")
    return {"site": site, "token": token, "raw": raw, "auth": {"Authorization": f"Bearer {raw}"},
            "no_scope": {"Authorization": f"Bearer {no_scope}"}, "cache": verdict_cache}


@pytest.fixture
def build(production_security):
    """Builds (the fast path in front of a lane, a lane alone) — call it after changing settings."""
    return lambda: (VerdictFastPath(VerdictLaneHandler()), VerdictLaneHandler())


@pytest.fixture
def apps(build):
    return build()


def answered_by_fast_path(answer) -> bool:
    return answer.handler is None  # the lane's answers carry their handler class; the fast path's list does not


def both(apps, method, path, *, warm=True, **kwargs):
    """(through the fast path, through the lane alone). `warm`: the lane serves the request first, which caches
    the token's grant and fills the lots into Redis, as any earlier request of the MES client would have."""
    fast, lane = apps
    if warm:
        serve(lane, method, path, **kwargs)
    return serve(fast, method, path, **kwargs), serve(lane, method, path, **kwargs)


ANSWERED = {
    "held lot": ("GET", ONE.format("L-0001"), {}, b""),
    "free lot": ("GET", ONE.format("L-0002"), {}, b""),
    "non-ASCII lot code": ("GET", ONE.format("L-é"), {}, b""),
    "HEAD": ("HEAD", ONE.format("L-0001"), {}, b""),
    "?site= its own": ("GET", ONE.format("L-0001") + "?site=S1", {}, b""),
    "zh-Hans": ("GET", ONE.format("L-0001"), {"Accept-Language": "zh-Hans,en;q=0.5"}, b""),
    "zh-hans, lower case": ("GET", ONE.format("L-0001"), {"Accept-Language": "zh-hans"}, b""),
    "a language not offered": ("GET", ONE.format("L-0001"), {"Accept-Language": "fr-CH, fr;q=0.9"}, b""),
    "lower-case bearer": ("GET", ONE.format("L-0001"), {"lower": True}, b""),
    "batch": ("POST", QUERY, {}, batch("L-0002", "L-0001", "L-0002")),
    "batch, zh-Hans": ("POST", QUERY, {"Accept-Language": "zh-Hans"}, batch("L-0001")),
    "a load balancer's sticky-session cookie": ("GET", ONE.format("L-0001"), {"Cookie": "SERVERID=app1"}, b""),
}


@pytest.mark.parametrize("case", ANSWERED)
def test_the_fast_path_answers_as_the_lane(apps, world, case):
    method, path, extra, body = ANSWERED[case]
    headers = {**world["auth"], **extra}
    if headers.pop("lower", False):
        headers["Authorization"] = f"bearer {world['raw']}"
    fast, lane = both(apps, method, path, body=body, headers=headers)
    assert answered_by_fast_path(fast) and not answered_by_fast_path(lane)
    assert fast.status == 200
    assert fast.comparable() == lane.comparable()
    assert [name for name, _value in fast.headers] == [name for name, _value in lane.headers]


@pytest.mark.parametrize("secure", [True, False])
def test_hsts_only_on_https_as_in_the_lane(build, settings, world, secure):
    settings.SECURE_SSL_REDIRECT = False
    fast, lane = both(build(), "GET", ONE.format("L-0001"), headers=world["auth"], secure=secure)
    assert answered_by_fast_path(fast) and fast.comparable() == lane.comparable()
    assert (fast.header("Strict-Transport-Security") is not None) is secure


def test_https_told_by_the_proxy_header(apps, world):
    fast, lane = both(apps, "GET", ONE.format("L-0001"), headers={**world["auth"], "X-Forwarded-Proto": "https"},
                      secure=False)
    assert answered_by_fast_path(fast) and fast.status == 200 and fast.comparable() == lane.comparable()


def test_other_security_settings_as_in_the_lane(build, settings, world):
    settings.SECURE_HSTS_PRELOAD = False
    settings.SECURE_CONTENT_TYPE_NOSNIFF = False
    settings.SECURE_REFERRER_POLICY = "no-referrer, strict-origin"
    settings.SECURE_CROSS_ORIGIN_OPENER_POLICY = None
    settings.X_FRAME_OPTIONS = "sameorigin"
    fast, lane = both(build(), "GET", ONE.format("L-0001"), headers=world["auth"])
    assert answered_by_fast_path(fast) and fast.comparable() == lane.comparable()


def test_the_fast_path_does_not_touch_the_database(apps, world, django_assert_num_queries):
    fast, lane = apps
    serve(lane, "GET", ONE.format("L-0001"), headers=world["auth"])
    with django_assert_num_queries(0):
        answer = serve(fast, "GET", ONE.format("L-0001"), headers=world["auth"])
    assert answered_by_fast_path(answer) and answer.status == 200


# --- the token: the grant cache's semantics, whoever answers ------------------------------------------------------

def test_a_token_revoked_after_its_grant_was_cached_reads_until_the_cache_forgets_it(apps, world):
    fast, lane = apps
    serve(lane, "GET", ONE.format("L-0001"), headers=world["auth"])
    ApiToken.objects.filter(pk=world["token"].pk).update(revoked_at=timezone.now())
    within_ttl = serve(fast, "GET", ONE.format("L-0001"), headers=world["auth"]), serve(
        lane, "GET", ONE.format("L-0001"), headers=world["auth"])
    access.forget_cached_tokens()
    after = both(apps, "GET", ONE.format("L-0001"), headers=world["auth"], warm=False)
    assert [answer.status for answer in within_ttl] == [200, 200] and answered_by_fast_path(within_ttl[0])
    assert [answer.status for answer in after] == [401, 401] and not answered_by_fast_path(after[0])
    assert after[0].comparable() == after[1].comparable()


def test_a_grant_past_its_cache_time_goes_to_the_lane(apps, world):
    fast, lane = apps
    serve(lane, "GET", ONE.format("L-0001"), headers=world["auth"])
    digest = hash_token(world["raw"])
    access._grants[digest] = (time.monotonic() - 1, access._grants[digest][1])
    answer = serve(fast, "GET", ONE.format("L-0001"), headers=world["auth"])
    assert not answered_by_fast_path(answer) and answer.status == 200


def test_a_cached_grant_that_expired_meanwhile_goes_to_the_lane(apps, world):
    fast, lane = apps
    serve(lane, "GET", ONE.format("L-0001"), headers=world["auth"])
    digest = hash_token(world["raw"])
    until, grant = access._grants[digest]
    access._grants[digest] = (until, grant._replace(expires_at=timezone.now() - timedelta(seconds=1)))
    answer = serve(fast, "GET", ONE.format("L-0001"), headers=world["auth"])
    assert not answered_by_fast_path(answer) and answer.status == 401 and answer.error()["code"] == "token_expired"


# --- everything else is the lane's, unchanged ---------------------------------------------------------------------

HANDED_ON = {
    "grant not cached yet": ("GET", ONE.format("L-0001"), lambda w: w["auth"], b"", False),
    "lot not in Redis yet": ("GET", ONE.format("L-0002"), lambda w: w["auth"], b"", False),
    "unknown lot": ("GET", ONE.format("L-NOPE"), lambda w: w["auth"], b"", True),
    "unknown non-ASCII lot": ("GET", ONE.format("L-ü"), lambda w: w["auth"], b"", True),
    "unknown lot, zh-Hans": ("GET", ONE.format("L-NOPE"), lambda w: {**w["auth"], "Accept-Language": "zh-Hans"},
                             b"", True),
    "batch with an unknown lot": ("POST", QUERY, lambda w: w["auth"], batch("L-0001", "L-NOPE"), True),
    "batch not JSON": ("POST", QUERY, lambda w: w["auth"], b"{nope", True),
    "batch without lots": ("POST", QUERY, lambda w: w["auth"], b'{"lot": ["L-0001"]}', True),
    "another site": ("GET", ONE.format("L-0001") + "?site=S2", lambda w: w["auth"], b"", True),
    "token without the scope": ("GET", ONE.format("L-0001"), lambda w: w["no_scope"], b"", True),
    "unknown token": ("GET", ONE.format("L-0001"), lambda w: {"Authorization": "Bearer nope"}, b"", True),
    "malformed header": ("GET", ONE.format("L-0001"), lambda w: {"Authorization": "Bearer a b"}, b"", True),
    "anonymous": ("GET", ONE.format("L-0001"), lambda w: {}, b"", True),
    "POST to a lot": ("POST", ONE.format("L-0001"), lambda w: w["auth"], b"", True),
    "GET of the query": ("GET", QUERY, lambda w: w["auth"], b"", True),
    "missing trailing slash": ("GET", ONE.format("L-0001")[:-1], lambda w: w["auth"], b"", True),
    "a path below a lot": ("GET", ONE.format("L-0001") + "x/", lambda w: w["auth"], b"", True),
    "language cookie": ("GET", ONE.format("L-0001"), lambda w: {**w["auth"], "Cookie": "django_language=zh-hans"},
                        b"", True),
    "signed in": ("GET", ONE.format("L-0001"), lambda w: signed_in(w), b"", True),
    "a session cookie beside a token": ("GET", ONE.format("L-0001"),
                                        lambda w: {**w["auth"], "Cookie": "SERVERID=app1; sessionid=nope"}, b"", True),
    "a CSRF cookie beside a token": ("GET", ONE.format("L-0001"),
                                     lambda w: {**w["auth"], "Cookie": "csrftoken=abc"}, b"", True),
    "host not allowed": ("GET", ONE.format("L-0001"), lambda w: {**w["auth"], "Host": "evil.example"}, b"", True),
}


@pytest.mark.parametrize("case", HANDED_ON)
def test_the_lane_answers_everything_else(apps, world, case):
    method, path, headers_for, body, warm = HANDED_ON[case]
    if warm:  # grant and lots cached: what decides is the case itself
        serve(apps[1], "GET", ONE.format("L-0001"), headers=world["auth"])
    headers = headers_for(world)
    fast, lane = both(apps, method, path, body=body, headers=headers, warm=False)
    assert not answered_by_fast_path(fast)
    assert fast.comparable() == lane.comparable()


@pytest.mark.parametrize(("setting", "value", "headers"), [
    ("PREPEND_WWW", True, {}),
    ("DISALLOWED_USER_AGENTS", [re.compile("curl")], {"User-Agent": "curl/8"}),
])
def test_common_middleware_settings_hand_over_to_the_lane(apps, world, settings, setting, value, headers):
    serve(apps[1], "GET", ONE.format("L-0001"), headers=world["auth"])  # grant and lot cached
    setattr(settings, setting, value)
    fast, lane = both(apps, "GET", ONE.format("L-0001"), headers={**world["auth"], **headers}, warm=False)
    assert not answered_by_fast_path(fast) and fast.status in (301, 403) and fast.comparable() == lane.comparable()


def test_a_batch_handed_on_is_read_by_the_lane_in_full(apps, world):
    fast, _lane = both(apps, "POST", QUERY, body=batch("L-0001", "L-NOPE"), headers=world["auth"])
    assert not answered_by_fast_path(fast)
    assert [result["verdict"] for result in orjson.loads(fast.body)["results"]] == ["hold", None]


def test_plain_http_is_redirected_by_the_lane(apps, world):
    fast, lane = both(apps, "GET", ONE.format("L-0001"), headers=world["auth"], secure=False)
    assert not answered_by_fast_path(fast) and fast.status == 301 and fast.comparable() == lane.comparable()


def test_a_body_over_the_upload_limit_is_refused_by_the_lane(apps, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    serve(apps[1], "GET", ONE.format("L-0001"), headers=world["auth"])
    fast, lane = both(apps, "POST", QUERY, body=batch("L-0001", "L-0002"), headers=world["auth"], warm=False)
    assert not answered_by_fast_path(fast) and fast.status == 413 and fast.comparable() == lane.comparable()


def test_the_lane_answers_when_the_cache_epoch_is_due_for_its_check(apps, world):
    fast, lane = apps
    serve(lane, "GET", ONE.format("L-0001"), headers=world["auth"])
    world["cache"]._next_validation = 0.0
    assert not answered_by_fast_path(serve(fast, "GET", ONE.format("L-0001"), headers=world["auth"]))
    assert answered_by_fast_path(serve(fast, "GET", ONE.format("L-0001"), headers=world["auth"]))  # checked now


def test_the_lane_answers_while_redis_is_down(apps, world):
    fast, lane = apps
    serve(lane, "GET", ONE.format("L-0001"), headers=world["auth"])
    world["cache"]._down_until = time.monotonic() + 60
    answer = serve(fast, "GET", ONE.format("L-0001"), headers=world["auth"])
    assert not answered_by_fast_path(answer) and answer.status == 200


def test_the_lane_answers_without_redis(build, world, no_redis):
    fast, lane = build()
    serve(lane, "GET", ONE.format("L-0001"), headers=world["auth"])
    answer = serve(fast, "GET", ONE.format("L-0001"), headers=world["auth"])
    assert not answered_by_fast_path(answer) and answer.status == 200


def test_a_fault_of_the_fast_path_costs_only_the_fast_path(apps, world, monkeypatch, caplog):
    def broken(site_id, codes):
        raise RuntimeError("bug")

    monkeypatch.setattr(fast_path, "cached_verdict_bodies", broken)
    fast, lane = both(apps, "GET", ONE.format("L-0001"), headers=world["auth"])
    assert not answered_by_fast_path(fast) and fast.status == 200 and fast.comparable() == lane.comparable()
    assert "verdict fast path failed" in caplog.text


# --- consistency: the cache's guarantee holds through the fast path ------------------------------------------------

def test_a_hold_committed_before_the_request_is_seen(apps, world, django_capture_on_commit_callbacks):
    fast, _lane = both(apps, "GET", ONE.format("L-0002"), headers=world["auth"])
    assert orjson.loads(fast.body)["verdict"] == "release"
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(world["site"], [Lot.objects.get(site=world["site"], code="L-0002")])
    answer = serve(apps[0], "GET", ONE.format("L-0002"), headers=world["auth"])
    assert answer.status == 200 and orjson.loads(answer.body)["verdict"] == "hold"


def test_a_lot_being_written_goes_to_the_lane(apps, world, django_capture_on_commit_callbacks):
    both(apps, "GET", ONE.format("L-0002"), headers=world["auth"])
    with django_capture_on_commit_callbacks(execute=False):  # marked dirty, not yet committed
        note_lots_changed(world["site"].pk, [Lot.objects.get(site=world["site"], code="L-0002").pk])
    assert not answered_by_fast_path(serve(apps[0], "GET", ONE.format("L-0002"), headers=world["auth"]))


def test_a_site_wide_change_sends_the_site_to_the_lane(apps, world):
    both(apps, "GET", ONE.format("L-0001"), headers=world["auth"])
    world["cache"].mark_site_dirty(world["site"].pk)
    world["cache"].finish_site(world["site"].pk)
    assert not answered_by_fast_path(serve(apps[0], "GET", ONE.format("L-0001"), headers=world["auth"]))


# --- when the fast path is on --------------------------------------------------------------------------------------

def test_the_fast_path_is_on_with_the_projects_middleware(settings):
    assert lane_middleware(settings.MIDDLEWARE) == LANE_MIDDLEWARE
    assert VerdictFastPath(VerdictLaneHandler()).enabled


def test_a_middleware_added_to_the_lane_turns_the_fast_path_off():
    assert not fast_path_applies([*LANE_MIDDLEWARE, "example.NewMiddleware"], LANE_URLCONF)


def test_a_lane_url_conf_without_the_verdict_routes_turns_the_fast_path_off():
    assert fast_path_applies(LANE_MIDDLEWARE, LANE_URLCONF)
    assert not fast_path_applies(LANE_MIDDLEWARE, "traceability.verdicts.urls")  # the routes without /api/v1/


def test_the_wsgi_module_serves_verdicts_through_the_fast_path(world, production_security):
    from qms.wsgi import application

    serve(application, "GET", ONE.format("L-0001"), headers=world["auth"])
    answer = serve(application, "GET", ONE.format("L-0001"), headers=world["auth"])
    assert answer.status == 200 and answered_by_fast_path(answer)


def test_the_setting_turns_the_fast_path_off(settings):
    settings.VERDICT_FAST_PATH = False
    assert not VerdictFastPath(VerdictLaneHandler()).enabled


ODD = {  # whoever answers (fast path or lane), the answer must be the lane's
    "?site= twice, its own last": ("GET", ONE.format("L-0001") + "?site=S2&site=S1", {}, b""),
    "?site= twice, its own first": ("GET", ONE.format("L-0001") + "?site=S1&site=S2", {}, b""),
    "?site= in lower case": ("GET", ONE.format("L-0001") + "?site=s1", {}, b""),
    "?site without a value": ("GET", ONE.format("L-0001") + "?site", {}, b""),
    "?site= after a semicolon": ("GET", ONE.format("L-0001") + "?site=S2;site=S1", {}, b""),
    "?site= percent-encoded name": ("GET", ONE.format("L-0001") + "?%73ite=S1", {}, b""),
    "?site= broken percent": ("GET", ONE.format("L-0001") + "?site=S%1", {}, b""),
    "?site= with a plus": ("GET", ONE.format("L-0001") + "?site=S1+", {}, b""),
    "encoded slash in the code": ("GET", ONE.format("L%2F0001"), {}, b""),
    "dot segments": ("GET", "/api/v1/verdicts/lots/../lots/L-0001/", {}, b""),
    "dot-dot as the code": ("GET", ONE.format(".."), {}, b""),
    "double slash": ("GET", "/api/v1/verdicts/lots//L-0001/", {}, b""),
    "X-Forwarded-Host not allowed": ("GET", ONE.format("L-0001"), {"X-Forwarded-Host": "evil.example"}, b""),
    "X-Forwarded-Proto http, https": ("GET", ONE.format("L-0001"), {"X-Forwarded-Proto": "http, https"}, b""),
    "Accept-Language *": ("GET", ONE.format("L-0001"), {"Accept-Language": "*"}, b""),
    "Accept-Language zh-TW": ("GET", ONE.format("L-0001"), {"Accept-Language": "zh-TW"}, b""),
    "empty Cookie header": ("GET", ONE.format("L-0001"), {"Cookie": ""}, b""),
    "batch of a form content type": ("POST", QUERY, {"Content-Type": "application/x-www-form-urlencoded"},
                                     batch("L-0001")),
    "batch with a BOM": ("POST", QUERY, {}, b"\xef\xbb\xbf" + batch("L-0001")),
    "batch with lots twice": ("POST", QUERY, {}, b'{"lots":["L-0001"],"lots":["L-0002"]}'),
}


@pytest.mark.parametrize("case", ODD)
def test_odd_requests_are_answered_as_by_the_lane(apps, world, case):
    method, path, extra, body = ODD[case]
    serve(apps[1], "POST", QUERY, body=batch("L-0001", "L-0002"), headers=world["auth"])  # grant and lots cached
    fast, lane = both(apps, method, path, body=body, headers={**world["auth"], **extra}, warm=False)
    assert fast.comparable() == lane.comparable()


# --- faults and races (review) -------------------------------------------------------------------------------------

class TimesOutMidBody:
    """A request body whose first read times out after taking what had arrived; later reads return the rest."""

    def __init__(self, body: bytes, arrived: int):
        self.rest, self.arrived, self.failed = body, arrived, False

    def read(self, size=-1):
        if not self.failed:
            self.failed, self.rest = True, self.rest[self.arrived:]
            raise TimeoutError("timed out")
        data, self.rest = (self.rest, b"") if size is None or size < 0 else (self.rest[:size], self.rest[size:])
        return data

    def readline(self, size=-1):
        return self.read(size)


def test_a_body_the_fast_path_failed_to_read_fails_in_the_lane_as_without_it(apps, world):
    fast, lane = apps
    serve(lane, "GET", ONE.format("L-0001"), headers=world["auth"])  # grant and lot cached

    def with_body_timing_out(app):
        return lambda environ, start_response: app(
            {**environ, "wsgi.input": TimesOutMidBody(batch("L-0001"), arrived=5)}, start_response)

    through_fast = serve(with_body_timing_out(fast), "POST", QUERY, body=batch("L-0001"), headers=world["auth"])
    through_lane = serve(with_body_timing_out(lane), "POST", QUERY, body=batch("L-0001"), headers=world["auth"])
    assert through_lane.status == 500
    assert through_fast.comparable() == through_lane.comparable()


def test_a_suspicious_request_is_handed_on_without_a_fault_report(apps, world, caplog):
    fast, lane = apps
    serve(lane, "GET", ONE.format("L-0001"), headers=world["auth"])  # grant and lot cached
    too_many_fields = ONE.format("L-0001") + "?" + "&".join(f"f{i}=1" for i in range(1001))
    answer = serve(fast, "GET", too_many_fields, headers=world["auth"])
    assert answer.status == 400  # the lane's refusal, logged by Django as a suspicious operation
    assert "verdict fast path failed" not in caplog.text


def test_the_epoch_falling_due_during_the_read_costs_no_database_query(apps, world, monkeypatch,
                                                                       django_assert_num_queries):
    fast, lane = apps
    serve(lane, "GET", ONE.format("L-0001"), headers=world["auth"])  # grant and lot cached, epoch just checked
    due = iter([False])  # not due when the fast path asks, due from the next instant on
    monkeypatch.setattr(world["cache"], "validation_due", lambda: next(due, True))
    with django_assert_num_queries(0):
        serve(fast, "GET", ONE.format("L-0001"), headers=world["auth"])
