"""`chalice local` exactly as its own command line runs it, with two changes that make it answer as the deployed
API does:

* The listening socket's backlog. Python's HTTP server keeps 5 waiting connections by default, so a ninth client
  connecting at the same moment as eight others is reset; Lambda behind API Gateway would have accepted it.
* The gateway's own refusals. Where API Gateway answers before the app runs (no Authorization header, an unknown
  path, an authorizer's denial), the deployed stack sends the gateway responses of infra/template.json: RFC 9457
  problems. `chalice local` would send its own JSON ({"message": "Unauthorized"}); here it sends the same
  responses, read from the same template.
* The gateway's throttling, as infra/template.json configures it: the stage's own rate and burst over every
  request (RestAPI's MethodSettings), then, on every authenticated route, the usage plan's rate, burst and daily
  quota per key the authorizer names (`usageIdentifierKey`). Each is a token bucket as API Gateway's is; a
  request over a limit gets the template's THROTTLED or QUOTA_EXCEEDED response (429, with Retry-After), and the
  app never sees it. REFPAY_LOCAL_THROTTLING=off turns this off (for runs that measure the engine, not the
  gateway: the races and the benchmarks).

    python -m devtools.chalice_local local --host 127.0.0.1 --port 8000 --stage dev --no-autoreload
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from chalice import local
from chalice.cli import main
from chalice.local import ThreadedHTTPServer

TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "template.json"

ThreadedHTTPServer.request_queue_size = 128


@lru_cache(maxsize=1)
def _template() -> dict:
    return json.loads(TEMPLATE.read_text())


def gateway_responses() -> dict:
    """The gateway responses the deployed REST API sends (infra/template.json)."""
    body = _template()["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    return body["x-amazon-apigateway-gateway-responses"]


# ------------------------------------------------------------------------------------------------ throttling


@dataclass(frozen=True)
class Limits:
    rate: float        # tokens (requests) added a second
    burst: int         # the bucket's size
    quota: int | None  # requests a day (UTC), if any


def stage_limits() -> Limits:
    """The stage's own throttle over every method (RestAPI's MethodSettings for /* *)."""
    settings = next(m for m in _template()["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
                    if m["ResourcePath"] == "/*" and m["HttpMethod"] == "*")
    return Limits(float(settings["ThrottlingRateLimit"]), int(settings["ThrottlingBurstLimit"]), None)


def plan_limits() -> Limits:
    """Each key's limits under the usage plan (ApiUsagePlan): rate, burst and the daily quota."""
    plan = _template()["Resources"]["ApiUsagePlan"]["Properties"]
    assert plan["Quota"]["Period"] == "DAY"
    throttle = plan["Throttle"]
    return Limits(float(throttle["RateLimit"]), int(throttle["BurstLimit"]), int(plan["Quota"]["Limit"]))


class Throttled(local.LocalGatewayException):
    CODE = 429


class QuotaExceeded(local.LocalGatewayException):
    CODE = 429


@dataclass
class _Bucket:
    tokens: float
    at: float
    day: str = ""
    used: int = 0


@dataclass
class Meter:
    """Token buckets (and daily counts) per caller, as API Gateway keeps them for a stage or a usage plan."""

    limits: Limits
    clock: Callable[[], float] = time.monotonic
    today: Callable[[], str] = lambda: datetime.now(UTC).date().isoformat()
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, who: str) -> type[local.LocalGatewayException] | None:
        """None if the request may pass (and it is counted), else the refusal to raise."""
        now, day = self.clock(), self.today()
        with self._lock:
            bucket = self._buckets.setdefault(who, _Bucket(float(self.limits.burst), now, day))
            if bucket.day != day:
                bucket.day, bucket.used = day, 0
            if self.limits.quota is not None and bucket.used >= self.limits.quota:
                return QuotaExceeded
            bucket.tokens = min(float(self.limits.burst), bucket.tokens + (now - bucket.at) * self.limits.rate)
            bucket.at = now
            if bucket.tokens < 1:
                return Throttled
            bucket.tokens -= 1
            bucket.used += 1
            return None


_stage_meter = Meter(stage_limits())
_plan_meter = Meter(plan_limits())


def _refuse(refusal: type[local.LocalGatewayException] | None, request_id: str) -> None:
    if refusal is not None:
        raise refusal({"x-amzn-RequestId": request_id}, b"")


_handle_request = local.LocalGateway.handle_request
_authorize = local.LocalGatewayAuthorizer.authorize
_update_lambda_event = local.LocalGatewayAuthorizer._update_lambda_event


def _metered_request(self, method, path, headers, body):
    """The stage's throttle first, over every request (API Gateway's applies before the authorizer runs)."""
    _refuse(_stage_meter.admit("stage"), str(uuid.uuid4()))
    return _handle_request(self, method, path, headers, body)


def _metered_authorize(self, raw_path, lambda_event, lambda_context):
    """After the authorizer: the usage plan's limits for the key it named, on the routes that need one."""
    lambda_event, lambda_context = _authorize(self, raw_path, lambda_event, lambda_context)
    usage_key = lambda_event["requestContext"].get("identity", {}).get("apiKey")
    if usage_key:
        _refuse(_plan_meter.admit(usage_key), lambda_context.aws_request_id)
    return lambda_event, lambda_context


def _keep_usage_key(self, lambda_event, auth_result):
    """As API Gateway does: the key the authorizer named is the request's `identity.apiKey`."""
    lambda_event = _update_lambda_event(self, lambda_event, auth_result)
    if auth_result.get("usageIdentifierKey"):
        lambda_event["requestContext"].setdefault("identity", {})["apiKey"] = auth_result["usageIdentifierKey"]
    return lambda_event



# ------------------------------------------------------------------------------------------------ answers


def _kind(error: local.LocalGatewayException) -> str:
    """Which gateway response API Gateway would send for what `chalice local` refused."""
    if isinstance(error, Throttled):
        return "THROTTLED"
    if isinstance(error, QuotaExceeded):
        return "QUOTA_EXCEEDED"
    if isinstance(error, local.NotAuthorizedError):
        return "UNAUTHORIZED"
    if isinstance(error, local.ForbiddenError):
        if b"Missing Authentication Token" in (error.body or b"") or b"Credential" in (error.body or b""):
            return "MISSING_AUTHENTICATION_TOKEN"  # an unknown path (API Gateway's words for it)
        return "ACCESS_DENIED"
    return "DEFAULT_5XX"


def as_gateway_response(error: local.LocalGatewayException) -> tuple[int, dict, bytes]:
    """(status, headers, body) of the deployed gateway's answer to what `chalice local` refused."""
    response = gateway_responses()[_kind(error)]
    request_id = (error.headers or {}).get("x-amzn-RequestId") or str(uuid.uuid4())
    headers = {name.removeprefix("gatewayresponse.header."): value.strip("'")
               for name, value in response.get("responseParameters", {}).items()}
    headers["x-amzn-RequestId"] = request_id
    body = response["responseTemplates"]["application/json"].replace("$context.requestId", request_id)
    return int(response.get("statusCode") or error.CODE), headers, body.encode()


def _send_gateway_response(handler: local.ChaliceRequestHandler, error: local.LocalGatewayException) -> None:
    status, headers, body = as_gateway_response(error)
    handler._send_http_response(status, headers, body)


def install(throttling: bool = True) -> None:
    """Make `chalice local` in this process answer as the deployed gateway (only the server's own process: the
    in-process test client shares chalice.local and must stay unmetered)."""
    local.ChaliceRequestHandler._send_error_response = _send_gateway_response  # type: ignore[method-assign]
    local.LocalGatewayAuthorizer._update_lambda_event = _keep_usage_key  # type: ignore[method-assign]
    if throttling:
        local.LocalGateway.handle_request = _metered_request  # type: ignore[method-assign]
        local.LocalGatewayAuthorizer.authorize = _metered_authorize  # type: ignore[method-assign]


if __name__ == "__main__":
    install(throttling=os.environ.get("REFPAY_LOCAL_THROTTLING", "on") != "off")
    sys.argv[0] = "chalice"
    sys.exit(main())
