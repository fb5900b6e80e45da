"""Small defences, each against a defect an attack run found: stored junk, implausible dates, blank names, bodies
without a media type, cacheable personal data, oversized correlation ids, unusable cursors, slow revocation."""
from __future__ import annotations

import json

import pytest

from tests.conftest import TODAY, referral_body

SECURITY_HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff",
                    "strict-transport-security": "max-age=31536000; includeSubDomains"}
JUNK_SUPPORT_LEVELS = ["=HYPERLINK(\"http://x.ex\")", "+1", "-1", "@SUM(A1)", "high", "STANDARD",
                       "Intensive", "standard ", "level-9", "null", "0", "intensive;standard"]


def _started(api, keys, nino="JS724610A") -> str:
    rid = api.post("/referrals", keys["referrer"], referral_body(nino=nino)).body["id"]
    for step, body in (("accept", {"date": TODAY}), ("start", {"date": TODAY})):
        assert api.post(f"/referrals/{rid}/{step}", keys["provider"], body).status == 200
    return rid


def test_a_reassessment_takes_only_the_programme_s_support_levels(api, keys):
    rid = _started(api, keys)
    provider = keys["provider"]
    assert api.post(f"/referrals/{rid}/assessment", provider, {"date": TODAY}).status == 201
    version = api.get(f"/referrals/{rid}", provider).body["version"]
    for junk in JUNK_SUPPORT_LEVELS:
        reply = api.post(f"/referrals/{rid}/assessment", provider, {"date": TODAY, "support_level": junk})
        assert reply.status == 422, (junk, reply.body)
        assert [(e["field"], e["rule"]) for e in reply.body["errors"]] == [("support_level", "one_of")], junk
    after = api.get(f"/referrals/{rid}", provider).body
    assert after["version"] == version and after["support_level"] == "standard"
    ok = api.post(f"/referrals/{rid}/assessment", provider, {"date": TODAY, "support_level": "intensive"})
    assert ok.status == 201 and ok.body["support_level"] == "intensive"


@pytest.mark.parametrize("change, field, rule", [
    ({"participant": {"date_of_birth": "1900-01-01"}}, "participant.date_of_birth", "plausible_age"),
    ({"participant": {"date_of_birth": "1925-11-23"}}, "participant.date_of_birth", "plausible_age"),
    ({"consent": {"given": True, "date": "1900-01-01"}}, "consent.date", "not_before"),
    ({"consent": {"given": True, "date": "2026-05-23"}}, "consent.date", "recent"),
    ({"consent": {"given": True, "date": "1989-01-01"}}, "consent.date", "not_before"),
    ({"participant": {"given_name": "   "}}, "participant.given_name", "not_blank"),
    ({"participant": {"family_name": "\u00a0\u2003"}}, "participant.family_name", "not_blank"),
    ({"notes_ref": " "}, "notes_ref", "not_blank"),
])
def test_implausible_dates_and_blank_names_are_refused(api, keys, change, field, rule):
    body = referral_body()
    for part, value in change.items():
        if part == "participant":
            body["participant"].update(value)
        else:
            body[part] = value
    reply = api.post("/referrals", keys["referrer"], body)
    assert reply.status == 422, reply.body
    assert (field, rule) in [(e["field"], e["rule"]) for e in reply.body["errors"]], reply.body
    assert "1990-05-17" not in json.dumps(reply.body), "the problem repeats the date of birth"
    assert api.get("/referrals", keys["referrer"]).body["items"] == []


def test_the_bounds_are_the_programme_s(api, keys):
    """An age of 100 and consent six months old pass: the rulebook's bounds are inclusive."""
    body = referral_body(consent={"given": True, "date": "2026-05-24"})
    body["participant"]["date_of_birth"] = "1926-11-24"
    reply = api.post("/referrals", keys["referrer"], body)
    assert reply.status == 201, reply.body


def _raw_post(api, path, key, body: bytes, content_type: str | None):
    headers = {"Authorization": f"Bearer {key}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return api.client.http.post(path, headers=headers, body=body)


def test_a_body_without_a_json_content_type_is_415_and_writes_nothing(api, keys):
    body = json.dumps(referral_body()).encode()
    for content_type in (None, "", "text/plain", "application/x-www-form-urlencoded"):
        reply = _raw_post(api, "/referrals", keys["referrer"], body, content_type)
        assert reply.status_code == 415, (content_type, reply.body)
        assert reply.headers["Content-Type"] == "application/problem+json"
    assert api.get("/referrals", keys["referrer"]).body["items"] == []
    created = _raw_post(api, "/referrals", keys["referrer"], body, "application/json; charset=utf-8")
    assert created.status_code == 201


def test_an_empty_body_is_an_empty_request_whatever_its_type(api, keys):
    """No body is no JSON object (422 naming the body), with or without a Content-Type: never a 415."""
    for content_type in (None, "application/json"):
        reply = _raw_post(api, "/referrals", keys["referrer"], b"", content_type)
        assert reply.status_code == 422, (content_type, reply.body)
        assert json.loads(reply.body)["errors"][0]["field"] == "(body)"


def test_every_response_carries_the_security_headers(api, keys):
    rid = api.post("/referrals", keys["referrer"], referral_body()).body["id"]
    replies = [api.get("/health"), api.get("/openapi.json"), api.get(f"/referrals/{rid}", keys["referrer"]),
               api.get("/referrals", keys["referrer"]), api.get("/referrals/ref_nope", keys["referrer"]),
               api.get("/referrals", "rp_unknown"), api.post("/referrals", keys["referrer"], {}),
               api.post("/referrals", keys["provider"], referral_body())]
    assert {r.status for r in replies} == {200, 401, 403, 404, 422}
    for reply in replies:
        for name, value in SECURITY_HEADERS.items():
            assert reply.headers.get(name) == value, (reply.status, name, reply.headers)


def test_the_gateway_s_own_responses_carry_them_too():
    from chalicelib.store.tables import INFRA_TEMPLATE

    body = json.loads(INFRA_TEMPLATE.read_text())["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    for kind, response in body["x-amazon-apigateway-gateway-responses"].items():
        params = response["responseParameters"]
        for name, value in SECURITY_HEADERS.items():
            header = next(v for k, v in params.items() if k.lower() == f"gatewayresponse.header.{name}")
            assert header == f"'{value}'", (kind, name)


@pytest.mark.parametrize("given, kept", [
    ("corr-123", True), ("nightly#2026-12-01", True), ("a" * 64, True), ("a" * 65, False), ("x" * 6000, False),
    ("abc def", False), ("abc\u202e", False), ("<script>", False), ("ünïcode", False), ("", False),
])
def test_correlation_ids_are_short_and_safe_or_replaced(api, keys, capsys, given, kept):
    capsys.readouterr()
    reply = api.get("/referrals", keys["referrer"], headers={"X-Correlation-Id": given})
    answered = reply.headers["x-correlation-id"]
    assert (answered == given) is kept
    assert 1 <= len(answered) <= 64
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    request = [x for x in lines if x.get("message") == "request"][-1]
    assert request["correlation_id"] == answered
    if not kept and given:
        assert all(given not in json.dumps(x) for x in lines)


def test_any_cursor_this_list_did_not_issue_is_a_422(api, keys):
    """Malformed, tampered, issued for another list, or signed with the development key but naming a position the
    database cannot use: a 422 naming the cursor, never a 500."""
    from chalicelib import settings
    from chalicelib.domain import cursors

    secret = settings.get().cursor_secret  # the development key, as an attacker of a careless deployment has it
    org = "jobcentre-plus-norwich"
    signed = [
        cursors.encode({"referral_id": {"S": "x"}}, f"referrer:{org}", secret),
        cursors.encode({"listed_at": {"N": "not-a-number"}}, f"referrer:{org}", secret),
        cursors.encode({"referrer_org_id": {"S": org}, "listed_at": {"S": "x"}, "referral_id": {"S": "y" * 3000}},
                       f"referrer:{org}", secret),
        cursors.encode({"referrer_org_id": {"S": "another-org"}, "listed_at": {"S": "2026"},
                        "referral_id": {"S": "ref_1"}}, f"referrer:{org}", secret),
        cursors.encode({"a": {"S": "b"}}, "referrer:another-org", secret),
        cursors.encode({"referral_id": {"BOOL": True}}, f"referrer:{org}", secret),
    ]
    garbage = ["abc.def", "", ".", "x" * 2001, "e30.e30", "%00", "eyJrIjp7fX0.AAAAAAAAAAAAAAAA"]
    for cursor in signed + garbage:
        reply = api.get(f"/referrals?limit=5&cursor={cursor}", keys["referrer"])
        assert reply.status == 422, (cursor[:80], reply.status, reply.body)
        assert reply.body["errors"][0]["field"] == "cursor", reply.body


def test_a_revoked_key_stops_working_within_the_cache_bound(api, keys, monkeypatch):
    from chalicelib import settings
    from chalicelib.api import auth as api_auth
    from chalicelib.domain.access import hash_key
    from chalicelib.services import auth
    from chalicelib.services.admin import create_api_key
    from chalicelib.store.models import ApiKey

    secret, _ = create_api_key("jobcentre-plus-norwich", ["referrer"], "to revoke")
    clock = [1000.0]
    monkeypatch.setattr(auth, "_clock", lambda: clock[0])
    assert api.get("/referrals", secret).status == 200
    ApiKey.get(hash_key(secret)).update(actions=[ApiKey.revoked.set(True)])
    bound = settings.get().auth_cache_seconds
    assert bound == 5
    clock[0] += bound - 0.5
    assert api.get("/referrals", secret).status == 200  # within the bound: the cached answer
    clock[0] += 1
    assert api.get("/referrals", secret).status == 401
    # Deployed, API Gateway caches no authorizer answer on top of that bound.
    assert api_auth.GATEWAY_AUTH_CACHE_SECONDS == 0
