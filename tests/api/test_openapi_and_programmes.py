"""The published contract and the programmes' rules."""
from __future__ import annotations


def test_openapi_document_is_valid_and_covers_every_route(api):
    from openapi_spec_validator import validate

    from chalicelib.api.application import routes

    reply = api.get("/openapi.json")
    assert reply.status == 200
    doc = reply.body
    validate(doc)
    for route in routes():
        operation = doc["paths"][route.path][route.method.lower()]
        if route.authenticated:
            assert operation["security"] == [{"bearer": []}]
        if route.body:
            assert operation["requestBody"]["required"] is True
        if route.method == "POST":
            assert any(p.get("name") == "Idempotency-Key" for p in operation["parameters"])
    participant = doc["components"]["schemas"]["ParticipantIn"]
    assert {"nino", "given_name", "family_name", "date_of_birth", "postcode"} <= set(participant["required"])


def test_health_needs_no_key(api):
    assert api.get("/health").body == {"status": "ok", "programmes": 5}


def test_programmes_list_and_detail(api, keys):
    listing = api.get("/programmes", keys["referrer"]).body["items"]
    assert {p["id"] for p in listing} == {"flexible-routeways-norfolk", "tees-valley-routes-to-work", "work-choice",
                                          "esf-community-hub", "local-supported-employment"}
    assert all(p["referrals_open"] for p in listing)
    tees = api.get("/programmes/tees-valley-routes-to-work", keys["referrer"]).body
    assert {a["org_id"]: (a["allocation"], a["minimum"]["minimum"]) for a in tees["allocations"]} == {
        "middlesbrough-council": (None, 650), "stockton-on-tees-council": (None, 625),
        "redcar-cleveland-council": (None, 500), "hartlepool-council": (None, 400), "darlington-council": (None, 325)}
    assert tees["total_capacity"] is None  # the seed's numbers are minimums: no cap
    assert tees["rulebook"]["deadlines"]["acknowledge"] == {"amount": 2, "unit": "working_days", "from": "referral"}
    assert api.get("/programmes", None).status == 401
