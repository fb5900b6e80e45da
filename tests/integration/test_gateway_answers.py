"""The local server answers as the deployed API does where the gateway, not the app, decides: a request without a
key, an unknown path, a method a path does not take. Each is an RFC 9457 problem; the gateway's own answers are
the gateway responses of infra/template.json, served locally from the same template."""
from __future__ import annotations

import json

import pytest

from chalicelib.store.tables import INFRA_TEMPLATE
from tests.integration.conftest import journey


def _gateway_body(kind: str) -> dict:
    body = json.loads(INFRA_TEMPLATE.read_text())["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    return json.loads(body["x-amazon-apigateway-gateway-responses"][kind]["responseTemplates"]["application/json"])


def _problem(reply, status: int) -> dict:
    assert reply.status == status, reply
    assert reply.headers["content-type"] == "application/problem+json", reply.headers
    assert reply.body["status"] == status and reply.body["type"].startswith("https://refpay.dev/problems/")
    return reply.body


@pytest.mark.parametrize("path", ["/referrals", "/claims", "/compliance/flags"])
def test_no_key_is_the_gateway_s_401_problem(server, path):
    body = _problem(server.get(path), 401)
    expected = _gateway_body("UNAUTHORIZED")
    assert {k: v for k, v in body.items() if k != "request_id"} == {
        k: v for k, v in expected.items() if k != "request_id"}
    assert body["request_id"] and body["request_id"] != "$context.requestId"
    assert server.get(path).headers["www-authenticate"] == 'Bearer realm="refpay"'


def test_an_unknown_key_is_the_api_s_401_problem(server):
    _problem(server.get("/referrals", "not-a-key"), 401)


def test_an_unknown_path_is_a_404_problem(server):
    body = _problem(server.get("/no-such-thing", server.keys["referrer"]), 404)
    assert body["type"] == _gateway_body("MISSING_AUTHENTICATION_TOKEN")["type"]


def test_a_method_a_path_does_not_take_is_a_405_problem(server):
    reply = server.call("DELETE", "/referrals", server.keys["referrer"])
    body = _problem(reply, 405)
    assert reply.headers["allow"] == "GET, POST" and body["allow"] == ["GET", "POST"]
    assert server.call("PUT", "/health").status == 405


def test_a_percent_encoded_line_id_is_decoded(server):
    rid = journey(server, ["accept", "start"])
    finance = server.keys["finance"]
    line_id = server.get(f"/claims?referral_id={rid}", finance).body["items"][0]["line_id"]
    reply = server.get(f"/claims/{line_id.replace(':', '%3A')}", finance)
    assert reply.status == 200 and reply.body["line_id"] == line_id
