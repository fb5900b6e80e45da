"""The API contract over HTTP: `GET /claims` and `GET /compliance/flags` filter by `referral_id` (only that
referral's items, and only those the caller's organisation may see: another organisation's referral answers
exactly as an unknown one does), and every number in the referral, claim, flag, claim-file and report responses
is a JSON number where the OpenAPI document says number, never a numeric-looking string."""
from __future__ import annotations

import re

import pytest

from tests.conftest import TODAY, WEEK_BEFORE, cut_claim_file, referral_body, run_nightly

NORFOLK = "flexible-routeways-norfolk"
NOV = TODAY[:7]
NUMERIC_TEXT = re.compile(r"^\s*-?\d+(\.\d+)?([eE][-+]?\d+)?\s*$")


def _refer(api, keys, provider_id: str, nino: str, on: str) -> str:
    body = referral_body(provider_id=provider_id, nino=nino, consent={"given": True, "date": on})
    made = api.post("/referrals", keys["referrer"], body)
    assert made.status == 201, made.body
    return made.body["id"]


def _started(api, keys, monkeypatch, provider_id: str, nino: str) -> str:
    """A referral accepted and started a week before today (so a job today is paid): it has payment lines."""
    monkeypatch.setenv("REFPAY_TODAY", WEEK_BEFORE)
    rid = _refer(api, keys, provider_id, nino, WEEK_BEFORE)
    provider = keys["organisations"][provider_id]["provider"]
    for step in ("accept", "start"):
        reply = api.post(f"/referrals/{rid}/{step}", provider, {"date": WEEK_BEFORE})
        assert reply.status == 200, reply.body
    monkeypatch.setenv("REFPAY_TODAY", TODAY)
    return rid


@pytest.fixture
def world(api, keys, monkeypatch):
    """Two Norfolk subcontractors of Trobius: King's Lynn with two started referrals (one in work, 37.5 hours a
    week) and two left unacknowledged past their deadline, Great Yarmouth with one of each."""
    ids = {"kl_a": _started(api, keys, monkeypatch, "kings-lynn-works", "AB123456C"),
           "kl_b": _started(api, keys, monkeypatch, "kings-lynn-works", "AB123457C"),
           "gy_a": _started(api, keys, monkeypatch, "great-yarmouth-works", "AB123458C")}
    kings_lynn = keys["organisations"]["kings-lynn-works"]["provider"]
    assessed = api.post(f"/referrals/{ids['kl_a']}/assessment", kings_lynn, {"date": TODAY, "support_level": "standard"})
    assert assessed.status == 201, assessed.body
    job = api.post(f"/referrals/{ids['kl_a']}/job_start", kings_lynn, {
        "date": TODAY, "employer_name": "Fenland Foods", "hours_per_week": 37.5, "weekly_earnings_pence": 40000})
    assert job.status == 201, job.body
    ids["kl_late_1"] = _refer(api, keys, "kings-lynn-works", "AB123459C", TODAY)
    ids["kl_late_2"] = _refer(api, keys, "kings-lynn-works", "AB123460C", TODAY)
    ids["gy_late"] = _refer(api, keys, "great-yarmouth-works", "AB123461C", TODAY)
    run_nightly("2026-11-27")  # acknowledgements were due on the 26th
    return ids


def _items(api, path: str, key: str) -> list[dict]:
    reply = api.get(path, key)
    assert reply.status == 200, reply.body
    return reply.body["items"]


# ------------------------------------------------------------------ referral_id filters


def test_claims_filter_by_referral_id_within_what_the_caller_may_see(api, keys, world):
    orgs = keys["organisations"]
    kings_lynn, yarmouth, prime = (orgs[o]["finance"] for o in ("kings-lynn-works", "great-yarmouth-works", "trobius"))
    every = _items(api, "/claims?limit=200", prime)
    assert {x["referral_id"] for x in every} >= {world["kl_a"], world["kl_b"], world["gy_a"]}

    for key, rid in ((kings_lynn, world["kl_a"]), (kings_lynn, world["kl_b"]), (yarmouth, world["gy_a"]),
                     (prime, world["kl_a"]), (prime, world["gy_a"])):
        lines = _items(api, f"/claims?referral_id={rid}", key)
        assert lines and {x["referral_id"] for x in lines} == {rid}
        assert sorted(x["line_id"] for x in lines) == sorted(x["line_id"] for x in every if x["referral_id"] == rid)
    in_work = _items(api, f"/claims?referral_id={world['kl_a']}", kings_lynn)
    assert {x["milestone"] for x in in_work} >= {"start", "job_start"}
    # The other filters still apply beside it
    assert [x["milestone"] for x in _items(api, f"/claims?referral_id={world['kl_a']}&period={NOV}", kings_lynn)
            if x["milestone"] == "job_start"] == ["job_start"]
    assert _items(api, f"/claims?referral_id={world['kl_a']}&period=2026-01", kings_lynn) == []

    # A page at a time, as without the filter; the cursor belongs to this referral's list
    first = api.get(f"/claims?referral_id={world['kl_a']}&limit=1", kings_lynn).body
    assert len(first["items"]) == 1 and first["has_more"] is True and first["cursor"]
    rest = _items(api, f"/claims?referral_id={world['kl_a']}&limit=200&cursor={first['cursor']}", kings_lynn)
    assert [x["line_id"] for x in first["items"] + rest] == [x["line_id"] for x in in_work]
    other_list = api.get(f"/claims?referral_id={world['kl_b']}&cursor={first['cursor']}", kings_lynn)
    assert other_list.status == 422 and other_list.body["errors"][0]["field"] == "cursor"

    # Another organisation's referral answers as an unknown one does: nothing, and nothing to tell them apart
    unknown = api.get("/claims?referral_id=ref_00000000000000000000", kings_lynn)
    theirs = api.get(f"/claims?referral_id={world['gy_a']}", kings_lynn)
    assert (theirs.status, theirs.body) == (unknown.status, unknown.body) == (200, {"items": [], "cursor": None,
                                                                                   "has_more": False})
    assert api.get(f"/claims?referral_id={world['kl_a']}", yarmouth).body == unknown.body


def test_flags_filter_by_referral_id_within_what_the_caller_may_see(api, keys, world):
    orgs = keys["organisations"]
    kings_lynn, yarmouth, prime = (orgs[o]["provider"] for o in ("kings-lynn-works", "great-yarmouth-works",
                                                                  "trobius"))
    mine = _items(api, "/compliance/flags?limit=200", kings_lynn)
    assert {f["referral_id"] for f in mine} == {world["kl_late_1"], world["kl_late_2"]}

    for key, rid in ((kings_lynn, world["kl_late_1"]), (kings_lynn, world["kl_late_2"]), (yarmouth, world["gy_late"]),
                     (prime, world["kl_late_2"]), (prime, world["gy_late"])):
        flags = _items(api, f"/compliance/flags?referral_id={rid}", key)
        assert [(f["referral_id"], f["rule"]) for f in flags] == [(rid, "acknowledge")]
    assert _items(api, f"/compliance/flags?referral_id={world['kl_late_1']}&status=resolved", kings_lynn) == []
    assert _items(api, f"/compliance/flags?referral_id={world['kl_a']}", kings_lynn) == []  # one without flags

    unknown = api.get("/compliance/flags?referral_id=ref_00000000000000000000", kings_lynn)
    theirs = api.get(f"/compliance/flags?referral_id={world['gy_late']}", kings_lynn)
    assert (theirs.status, theirs.body) == (unknown.status, unknown.body) == (200, {"items": [], "cursor": None,
                                                                                   "has_more": False})
    assert api.get(f"/compliance/flags?referral_id={world['kl_late_1']}", yarmouth).body == unknown.body


@pytest.mark.parametrize("path", ["/claims", "/compliance/flags"])
def test_the_openapi_document_names_the_referral_id_filter(api, path):
    doc = api.get("/openapi.json").body
    query = {p["name"]: p for p in doc["paths"][path]["get"]["parameters"] if p["in"] == "query"}
    assert query["referral_id"]["schema"]["type"] == "string" and not query["referral_id"].get("required")


@pytest.mark.parametrize("path", ["/claims", "/compliance/flags"])
def test_a_malformed_referral_id_filter_is_a_validation_problem(api, keys, path):
    reply = api.get(f"{path}?referral_id={'x' * 65}", keys["finance"])
    assert reply.status == 422
    assert [(e["field"], e["rule"]) for e in reply.body["errors"]] == [("referral_id", "length")]


# ------------------------------------------------------------------ JSON numbers


def _schema(doc: dict, schema: dict | None) -> dict:
    schema = schema or {}
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def numbers_as_text(doc: dict, schema: dict | None, value, path: str = "$", checked: set | None = None) -> list[str]:
    """Where `value` breaks its schema's number types: a number or integer that is not a JSON number, or a
    numeric-looking string where the schema leaves the type open. `checked` collects the number paths seen."""
    schema = _schema(doc, schema)
    wrong: list[str] = []
    # A nested schema (nullable or described) is its parts; of alternatives, the ones that say more than "object"
    choices = [p for p in schema.get("anyOf", []) + schema.get("oneOf", []) if p != {"type": "object", "nullable": True}]
    parts = schema.get("allOf", []) + choices
    if parts:
        for part in parts:
            wrong += numbers_as_text(doc, part, value, path, checked)
        return wrong
    kind = schema.get("type")
    if value is None:
        return wrong
    if kind in ("number", "integer"):
        if checked is not None:
            checked.add(re.sub(r"\[\d+\]", "[]", path))
        if isinstance(value, bool) or not isinstance(value, int | float):
            wrong.append(f"{path}: {value!r} is not a JSON number")
        return wrong
    if isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, item in value.items():
            child = properties.get(key, extra if isinstance(extra, dict) else None)
            wrong += numbers_as_text(doc, child, item, f"{path}.{key}", checked)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            wrong += numbers_as_text(doc, schema.get("items"), item, f"{path}[{n}]", checked)
    elif isinstance(value, str) and kind is None and NUMERIC_TEXT.match(value):
        wrong.append(f"{path}: {value!r} is a number written as text")
    return wrong


def _response_schema(doc: dict, template: str, status: int = 200) -> dict:
    return doc["paths"][template]["get"]["responses"][str(status)]["content"]["application/json"]["schema"]


def test_the_number_check_catches_a_number_sent_as_text(api):
    doc = api.get("/openapi.json").body
    schema = _response_schema(doc, "/referrals/{referral_id}")
    body = {"id": "ref_1", "job_start": {"hours_per_week": "37.5", "weekly_earnings_pence": 40000}}
    assert numbers_as_text(doc, schema, body) == ["$.job_start.hours_per_week: '37.5' is not a JSON number"]
    assert numbers_as_text(doc, {"type": "object"}, {"data": {"hours": "20"}}) == [
        "$.data.hours: '20' is a number written as text"]
    assert numbers_as_text(doc, schema, {"job_start": {"hours_per_week": 37.5, "weekly_earnings_pence": 40000}}) == []


def test_every_number_in_the_referral_claim_flag_claim_file_and_report_responses_is_a_json_number(api, keys, world):
    doc = api.get("/openapi.json").body
    orgs = keys["organisations"]
    provider, finance = orgs["kings-lynn-works"]["provider"], orgs["trobius"]["finance"]
    commissioner = keys["commissioner_finance"]
    line_id = _items(api, f"/claims?referral_id={world['kl_a']}", finance)[0]["line_id"]
    _, ready = cut_claim_file(api, finance, {"programme_id": NORFOLK, "period": NOV})
    assert ready.status == 200 and ready.body["status"] == "ready", ready.body
    file_id = ready.body["id"]
    sampled = api.post(f"/claim-files/{file_id}/sample", commissioner, {})
    assert sampled.status == 201, sampled.body
    calls = [  # (template, path, key)
        ("/referrals/{referral_id}", f"/referrals/{world['kl_a']}", provider),
        ("/referrals", "/referrals?limit=100", provider),
        ("/referrals/{referral_id}/events", f"/referrals/{world['kl_a']}/events?limit=100", provider),
        ("/claims", "/claims?limit=200", finance),
        ("/claims/{line_id}", f"/claims/{line_id}", finance),
        ("/compliance/flags", "/compliance/flags?limit=200", provider),
        ("/compliance/runs/{run_date}", "/compliance/runs/2026-11-27", orgs["trobius"]["provider"]),
        ("/claim-files/{claim_file_id}", f"/claim-files/{file_id}", finance),
        ("/claim-files/{claim_file_id}/sample", f"/claim-files/{file_id}/sample?limit=200", commissioner),
        ("/payments/cascade", f"/payments/cascade?period={NOV}", finance),
        ("/payments/supply-chain", f"/payments/supply-chain?programme={NORFOLK}&period={NOV}", commissioner),
        ("/programmes/{programme_id}", f"/programmes/{NORFOLK}", provider),
        ("/programmes/{programme_id}/sample-rate", f"/programmes/{NORFOLK}/sample-rate", commissioner),
        ("/programmes", "/programmes", provider),
    ]
    checked: set[str] = set()
    for template, path, key in calls:
        reply = api.get(path, key)
        assert reply.status == 200, (path, reply.body)
        assert numbers_as_text(doc, _response_schema(doc, template), reply.body, template, checked) == []
    # The walk reached the numbers the issue names, in each kind of response
    assert {"/referrals/{referral_id}.job_start.hours_per_week", "/referrals.items[].job_start.hours_per_week",
            "/referrals/{referral_id}/events.items[].seq", "/claims.items[].amount_pence",
            "/claims/{line_id}.amount_pence", "/claim-files/{claim_file_id}.total_pence",
            "/claim-files/{claim_file_id}.line_count", "/payments/cascade.payees[].amount_pence"} <= checked, checked
    job = api.get(f"/referrals/{world['kl_a']}", provider).body["job_start"]
    assert job["hours_per_week"] == 37.5 and isinstance(job["weekly_earnings_pence"], int)
    events = api.get(f"/referrals/{world['kl_a']}/events?limit=100", provider).body["items"]
    assert [e["data"]["hours_per_week"] for e in events if e["type"] == "job_start"] == [37.5]
