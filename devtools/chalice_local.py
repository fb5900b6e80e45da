"""`chalice local` exactly as its own command line runs it, with two changes that make it answer as the deployed
API does:

* The listening socket's backlog. Python's HTTP server keeps 5 waiting connections by default, so a ninth client
  connecting at the same moment as eight others is reset; Lambda behind API Gateway would have accepted it.
* The gateway's own refusals. Where API Gateway answers before the app runs (no Authorization header, an unknown
  path, an authorizer's denial), the deployed stack sends the gateway responses of infra/template.json: RFC 9457
  problems. `chalice local` would send its own JSON ({"message": "Unauthorized"}); here it sends the same
  responses, read from the same template.

    python -m devtools.chalice_local local --host 127.0.0.1 --port 8000 --stage dev --no-autoreload
"""
from __future__ import annotations

import json
import sys
import uuid
from functools import lru_cache
from pathlib import Path

from chalice import local
from chalice.cli import main
from chalice.local import ThreadedHTTPServer

TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "template.json"

ThreadedHTTPServer.request_queue_size = 128


@lru_cache(maxsize=1)
def gateway_responses() -> dict:
    """The gateway responses the deployed REST API sends (infra/template.json)."""
    template = json.loads(TEMPLATE.read_text())
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    return body["x-amazon-apigateway-gateway-responses"]


def _kind(error: local.LocalGatewayException) -> str:
    """Which gateway response API Gateway would send for what `chalice local` refused."""
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


local.ChaliceRequestHandler._send_error_response = _send_gateway_response  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.argv[0] = "chalice"
    sys.exit(main())
