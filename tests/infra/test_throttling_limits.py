"""Throttling in the deployed template: a usage plan meters every bearer key (rate, burst, daily quota), the
stage's throttle holds back everything, and an answer over a limit is a 429 problem with Retry-After. The local
server's meters read the same template and behave as API Gateway's token buckets (checked here on a clock the
test moves; tests/integration/test_throttling.py bursts the running server)."""
from __future__ import annotations

import json

import pytest

from chalicelib.domain.access import usage_plan_key
from chalicelib.store.tables import INFRA_TEMPLATE
from devtools import chalice_local
from devtools.chalice_local import Limits, Meter, QuotaExceeded, Throttled

RESOURCES = json.loads(INFRA_TEMPLATE.read_text())["Resources"]


def test_a_usage_plan_meters_each_key_on_the_api_s_stage():
    plan = RESOURCES["ApiUsagePlan"]
    assert plan["Type"] == "AWS::ApiGateway::UsagePlan"
    props = plan["Properties"]
    assert props["ApiStages"] == [{"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}]
    assert 0 < props["Throttle"]["RateLimit"] <= props["Throttle"]["BurstLimit"]
    assert props["Quota"]["Period"] == "DAY" and props["Quota"]["Limit"] > 0
    # The key every unknown or revoked bearer key is metered under, in the plan, with the authorizer's value.
    anonymous = RESOURCES["AnonymousUsageKey"]["Properties"]
    assert anonymous["Value"] == {"Fn::Sub": usage_plan_key("${Stage}", None)} and anonymous["Enabled"] is True
    assert RESOURCES["AnonymousUsagePlanKey"]["Properties"] == {
        "KeyId": {"Ref": "AnonymousUsageKey"}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": "ApiUsagePlan"}}
    body = RESOURCES["RestAPI"]["Properties"]["DefinitionBody"]
    assert body["x-amazon-apigateway-api-key-source"] == "AUTHORIZER"  # never a header the caller sends
    assert json.loads(INFRA_TEMPLATE.read_text())["Outputs"]["UsagePlanId"] == {"Value": {"Ref": "ApiUsagePlan"}}


def test_the_stage_throttles_every_method():
    [settings] = RESOURCES["RestAPI"]["Properties"]["MethodSettings"]
    assert settings["ResourcePath"] == "/*" and settings["HttpMethod"] == "*"
    plan = RESOURCES["ApiUsagePlan"]["Properties"]["Throttle"]
    assert settings["ThrottlingRateLimit"] >= plan["RateLimit"] and settings["ThrottlingBurstLimit"] >= plan[
        "BurstLimit"]


@pytest.mark.parametrize("kind, retry_after", [("THROTTLED", "1"), ("QUOTA_EXCEEDED", "3600")])
def test_an_answer_over_a_limit_is_a_429_problem_with_retry_after(kind, retry_after):
    response = RESOURCES["RestAPI"]["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"][kind]
    assert response["statusCode"] == "429"
    headers = response["responseParameters"]
    assert headers["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    assert headers["gatewayresponse.header.Retry-After"] == f"'{retry_after}'"
    body = json.loads(response["responseTemplates"]["application/json"])
    assert body["status"] == 429 and body["type"].startswith("https://refpay.dev/problems/")


def test_the_local_server_reads_its_limits_from_the_template():
    plan = RESOURCES["ApiUsagePlan"]["Properties"]
    assert chalice_local.plan_limits() == Limits(plan["Throttle"]["RateLimit"], plan["Throttle"]["BurstLimit"],
                                                 plan["Quota"]["Limit"])
    [stage] = RESOURCES["RestAPI"]["Properties"]["MethodSettings"]
    assert chalice_local.stage_limits() == Limits(stage["ThrottlingRateLimit"], stage["ThrottlingBurstLimit"], None)


class _Clock:
    def __init__(self):
        self.now, self.day = 0.0, "2026-11-24"


def _meter(limits: Limits) -> tuple[Meter, _Clock]:
    clock = _Clock()
    return Meter(limits, clock=lambda: clock.now, today=lambda: clock.day), clock


def test_a_key_s_bucket_takes_its_burst_at_once_then_its_rate():
    meter, clock = _meter(Limits(rate=10, burst=20, quota=None))
    assert [meter.admit("k1") for _ in range(20)] == [None] * 20
    assert meter.admit("k1") is Throttled
    assert meter.admit("k2") is None  # each key has a bucket of its own
    clock.now += 0.1  # a tenth of a second: one request's worth at 10 a second
    assert meter.admit("k1") is None and meter.admit("k1") is Throttled
    clock.now += 60  # refilled to the burst, never beyond
    assert [meter.admit("k1") for _ in range(21)].count(Throttled) == 1


def test_the_daily_quota_holds_until_the_next_utc_day():
    meter, clock = _meter(Limits(rate=1000, burst=1000, quota=5))
    assert [meter.admit("k") for _ in range(5)] == [None] * 5
    clock.now += 3600
    assert meter.admit("k") is QuotaExceeded and meter.admit("other") is None
    clock.day = "2026-11-25"
    assert meter.admit("k") is None


def test_refused_requests_do_not_use_the_quota():
    meter, clock = _meter(Limits(rate=1, burst=2, quota=3))
    assert [meter.admit("k") for _ in range(4)] == [None, None, Throttled, Throttled]
    clock.now += 1
    assert meter.admit("k") is None  # the third counted request, not the fifth
    clock.now += 1
    assert meter.admit("k") is QuotaExceeded


def test_importing_the_local_server_meters_nothing_in_this_process():
    """Only the server's own process is metered (install() runs under __main__): the in-process test client
    shares chalice.local, and the other tiers' tests must not be throttled by a module that imported it."""
    from chalice import local

    assert local.LocalGateway.handle_request is not chalice_local._metered_request
    assert local.LocalGatewayAuthorizer.authorize is not chalice_local._metered_authorize
