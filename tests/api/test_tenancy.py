"""Tenancy and roles through the API.

A caller sees a referral only when its organisation is the referrer, the holding provider or the holder's prime;
to everyone else the referral does not exist (404, and an answer indistinguishable from an unknown id). Journey
steps need the provider role and the holding organisation (the prime may only transfer). Refused writes change
nothing, and no refusal carries participant data.

One in-memory AWS and one set of referrals serve the whole module, so the matrix stays fast; tests that change a
referral create their own.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TODAY, Api, referral_body

NORFOLK = "flexible-routeways-norfolk"
TEES = "tees-valley-routes-to-work"
MISSING_ID = "ref_00000000000000000000"  # well-formed, never issued

NORFOLK_PERSON = {"nino": "JN482913B", "given_name": "Marigold", "family_name": "Featherstonehaugh",
                  "date_of_birth": "1987-03-09", "postcode": "PE30 1EZ",
                  "eligibility": {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True, "on_other_dwp_programme": False}}
TEES_PERSON = {"nino": "TW736251D", "given_name": "Tobias", "family_name": "Wetherall",
               "date_of_birth": "1979-08-21", "postcode": "TS1 2AA",
               "eligibility": {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True, "on_other_dwp_programme": False}}

# A valid body for every journey step (the referrals here are 'accepted', so several would succeed if allowed).
STEP_BODIES = {
    "acknowledgement": {"decision": "accept", "date": TODAY},
    "start": {"date": TODAY},
    "did-not-start": {"date": TODAY, "reason": "failed_to_attend"},
    "assessments": {"date": TODAY},
    "action-plans": {"date": TODAY, "document_ref": "AP-1"},
    "reviews": {"date": TODAY},
    "outcomes": {"type": "job_start", "date": TODAY, "employer_name": "Fenland Foods Ltd", "hours_per_week": 20,
                 "weekly_earnings_pence": 24000},
    "module": {"module_id": "transitional-supported-employment", "date": TODAY},
    "transfer": {"to_provider_id": None, "date": TODAY, "handover": {"date": TODAY, "document_ref": "HO-1"}},
    "exit": {"date": TODAY, "reason": "withdrew", "exit_review": {"date": TODAY, "destination": "unemployed"}},
}
STEPS = list(STEP_BODIES)
RE_REFERRAL_BODY = {"consent": {"given": True, "date": TODAY}}
TRANSFER_TO = {NORFOLK: "great-yarmouth-works", TEES: "stockton-on-tees-council"}

# Every endpoint that takes a referral id: (method, suffix after /referrals/{id}, role the endpoint demands).
ID_ENDPOINTS = ([("GET", "", None), ("GET", "/events", None)]
                + [("POST", f"/{step}", "provider") for step in STEPS]
                + [("POST", "/re-referrals", "referrer")])


def _body_for(suffix: str, programme_id: str):
    if suffix == "/re-referrals":
        return RE_REFERRAL_BODY
    step = suffix.lstrip("/")
    body = json.loads(json.dumps(STEP_BODIES[step]))
    if step == "transfer":
        body["to_provider_id"] = TRANSFER_TO[programme_id]
    return body


# ------------------------------------------------------------------ one world per module


@contextmanager
def _module_env():
    """The same isolation as conftest's function-scoped fixtures, held for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
            mp.delenv(name, raising=False)
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_DEFAULT_REGION", "eu-west-2"), ("REFPAY_STAGE", "dev"), ("REFPAY_TODAY", TODAY)):
            mp.setenv(name, value)
        yield


@dataclass
class Case:
    id: str
    programme_id: str
    holder: tuple[str, str]
    person: dict
    reference: str
    baseline: tuple = ()  # the holder's view once set up; no test may change these referrals


class World:
    def __init__(self, api: Api, keys: dict):
        self.api = api
        self.keys = keys
        self.cases: dict[str, Case] = {}

    def key(self, org: str, role: str) -> str:
        return self.keys[org][role]

    def refer(self, referrer: tuple[str, str], programme_id: str, provider_id: str, person: dict,
              support_level: str = "standard") -> str:
        body = referral_body(programme_id=programme_id, provider_id=provider_id, support_level=support_level,
                             consent={"given": True, "date": TODAY}, participant=dict(person))
        reply = self.api.post("/referrals", self.key(*referrer), body)
        assert reply.status == 201, reply.body
        return reply.body["id"]

    def snapshot(self, case: Case) -> tuple:
        """What the holder sees: (version, status, holder, number of events) - anything a write would change."""
        holder = self.key(*case.holder)
        view = self.api.get(f"/referrals/{case.id}", holder)
        events = self.api.get(f"/referrals/{case.id}/events?limit=200", holder)
        assert view.status == 200 and events.status == 200, (view.body, events.body)
        return (view.body["version"], view.body["status"], view.body["provider_org_id"], len(events.body["items"]))

    def send(self, method: str, referral_id: str, suffix: str, key: str | None, programme_id: str,
             headers: dict | None = None):
        path = f"/referrals/{referral_id}{suffix}"
        if method == "GET":
            return self.api.get(path, key, headers=headers)
        return self.api.post(path, key, _body_for(suffix, programme_id), headers=headers)


@pytest.fixture(scope="module")
def world():
    from chalice.test import Client
    from moto import mock_aws

    with _module_env(), mock_aws():
        from chalicelib.services import auth
        from chalicelib.services.admin import create_api_key, create_organisation, seed_demo
        from chalicelib.store.tables import create_tables

        create_tables("dev")
        auth.clear_cache()
        demo = seed_demo()
        orgs = demo["organisations"]
        create_organisation("citizens-advice-tees", "Citizens Advice, Tees (referrer)", "referrer")
        orgs["citizens-advice-tees"] = {"referrer": create_api_key("citizens-advice-tees", ["referrer"], "t")[0]}
        orgs["trobius"]["referrer+provider"] = create_api_key("trobius", ["referrer", "provider"], "t")[0]

        import app as application

        with Client(application.app, stage_name="dev") as client:
            w = World(Api(client), orgs)
            for name, programme_id, referrer, holder, person, level in (
                    ("norfolk", NORFOLK, ("jobcentre-plus-norwich", "referrer"), ("kings-lynn-works", "provider"),
                     NORFOLK_PERSON, "standard"),
                    ("tees", TEES, ("tees-valley-jcp", "referrer"), ("middlesbrough-council", "provider"),
                     TEES_PERSON, "weekly")):
                rid = w.refer(referrer, programme_id, holder[0], person, level)
                accepted = w.api.post(f"/referrals/{rid}/acknowledgement", w.key(*holder),
                                      {"decision": "accept", "date": TODAY})
                assert accepted.status == 200, accepted.body
                case = Case(rid, programme_id, holder, person, accepted.body["participant"]["reference"])
                case.baseline = w.snapshot(case)
                w.cases[name] = case
            yield w
        auth.clear_cache()


# ------------------------------------------------------------------ assertions


def assert_problem(reply, status: int, type_suffix: str | None = None) -> None:
    assert reply.status == status, reply.body
    assert reply.headers.get("content-type", "").startswith("application/problem+json"), reply.headers
    assert reply.body["status"] == status
    if type_suffix:
        assert reply.body["type"].endswith("/" + type_suffix), reply.body


def _markers(person: dict, reference: str | None) -> list[str]:
    nino = person["nino"]
    spaced = f"{nino[:2]} {nino[2:4]} {nino[4:6]} {nino[6:8]} {nino[8:]}"
    found = [nino, spaced, person["given_name"], person["family_name"], person["date_of_birth"],
             person["postcode"], person["postcode"].replace(" ", "")]
    return found + ([reference] if reference else [])


def assert_no_participant_data(reply, *cases: Case) -> None:
    text = (json.dumps(reply.body) + json.dumps(reply.headers)).lower()
    for case in cases:
        for marker in _markers(case.person, case.reference):
            assert marker.lower() not in text, f"{marker!r} leaked in {reply.status} {reply.body}"


def _ids(caller) -> str:
    return f"{caller[0]}:{caller[1]}"


# ------------------------------------------------------------------ other tenants: the referral does not exist

NORFOLK_OUTSIDERS = [
    ("tees-valley-jcp", "referrer"),        # a different referrer
    ("citizens-advice-tees", "referrer"),   # another different referrer
    ("great-yarmouth-works", "provider"),   # a sibling subcontractor of the same prime
    ("broadland-mentors", "provider"),      # a chain member of the same prime, not on this referral
    ("broadland-mentors", "finance"),       # finance of another organisation
    ("middlesbrough-council", "provider"),  # a provider on another programme
    ("dwp-commissioning", "admin"),         # neither referrer, holder nor prime
]
TEES_OUTSIDERS = [
    ("jobcentre-plus-norwich", "referrer"),
    ("citizens-advice-tees", "referrer"),   # same area, but did not make this referral
    ("kings-lynn-works", "provider"),       # a provider on another programme
    ("trobius", "finance"),                 # finance of another organisation (a prime elsewhere)
    ("darlington-council", "provider"),     # another council on the same programme
]
OUTSIDER_ROWS = [("norfolk", c) for c in NORFOLK_OUTSIDERS] + [("tees", c) for c in TEES_OUTSIDERS]


@pytest.mark.parametrize("method, suffix, role_needed", ID_ENDPOINTS,
                         ids=[f"{m} {s or '/'}" for m, s, _ in ID_ENDPOINTS])
@pytest.mark.parametrize("case_name, caller", OUTSIDER_ROWS, ids=[f"{n}-{_ids(c)}" for n, c in OUTSIDER_ROWS])
def test_other_tenants_get_not_found_and_no_data(world, case_name, caller, method, suffix, role_needed):
    case = world.cases[case_name]
    key = world.key(*caller)

    reply = world.send(method, case.id, suffix, key, case.programme_id)
    unknown = world.send(method, MISSING_ID, suffix, key, case.programme_id)

    # With the endpoint's role, the tenancy check answers: the referral does not exist. Without it, the
    # endpoint's role check answers 403 before any lookup - the same answer for any id, so nothing is revealed.
    if role_needed is None or role_needed == caller[1]:
        assert_problem(reply, 404, "not-found")
    else:
        assert_problem(reply, 403, "forbidden")
    assert reply.status != 200
    assert (reply.status, reply.body["type"], reply.body["title"], reply.body["detail"]) == (
        unknown.status, unknown.body["type"], unknown.body["title"], unknown.body["detail"]), \
        "the answer must not differ from the one for an id that does not exist"
    assert_no_participant_data(reply, *world.cases.values())
    if method == "POST":
        assert world.snapshot(case) == case.baseline


# ------------------------------------------------------------------ who may read

# (case, caller, whether the caller sees the participant's personal fields: only the referring organisation's
# referrer role and the holding provider's provider role work with the person; the rest see the reference)
READERS = [
    ("norfolk", ("jobcentre-plus-norwich", "referrer"), True),
    ("norfolk", ("kings-lynn-works", "provider"), True),
    ("norfolk", ("kings-lynn-works", "finance"), False),
    ("norfolk", ("trobius", "provider"), False),
    ("norfolk", ("trobius", "finance"), False),
    ("norfolk", ("trobius", "referrer+provider"), False),
    ("tees", ("tees-valley-jcp", "referrer"), True),
    ("tees", ("middlesbrough-council", "provider"), True),
    ("tees", ("middlesbrough-council", "finance"), False),
]


@pytest.mark.parametrize("case_name, caller, personal", READERS, ids=[f"{n}-{_ids(c)}" for n, c, _ in READERS])
def test_referrer_holder_and_prime_may_read(world, case_name, caller, personal):
    case = world.cases[case_name]
    key = world.key(*caller)
    view = world.api.get(f"/referrals/{case.id}", key)
    assert view.status == 200, view.body
    assert view.body["id"] == case.id
    if personal:
        assert view.body["participant"]["nino"] == case.person["nino"]
    else:
        assert set(view.body["participant"]) == {"reference", "personal_data"}
        assert case.person["nino"] not in json.dumps(view.body)
    events = world.api.get(f"/referrals/{case.id}/events", key)
    assert events.status == 200, events.body
    assert [e["type"] for e in events.body["items"]][:2] == ["referral", "accept"]


# ------------------------------------------------------------------ who may act


def _assert_refused_and_unchanged(world, case: Case, reply, status: int, type_suffix: str) -> None:
    assert_problem(reply, status, type_suffix)
    assert_no_participant_data(reply, *world.cases.values())
    assert world.snapshot(case) == case.baseline


@pytest.mark.parametrize("step", STEPS)
def test_referrer_cannot_record_journey_steps(world, step):
    case = world.cases["norfolk"]
    reply = world.send("POST", case.id, f"/{step}", world.key("jobcentre-plus-norwich", "referrer"), NORFOLK)
    _assert_refused_and_unchanged(world, case, reply, 403, "forbidden")
    assert reply.body["required_roles"] == ["provider"]


FINANCE_ROWS = [(org, step) for org in ("kings-lynn-works", "trobius") for step in STEPS]


@pytest.mark.parametrize("org, step", FINANCE_ROWS, ids=[f"{o}-{s}" for o, s in FINANCE_ROWS])
def test_finance_cannot_record_journey_steps(world, org, step):
    """Finance keys of the holder and of its prime can read the referral but not change it."""
    case = world.cases["norfolk"]
    reply = world.send("POST", case.id, f"/{step}", world.key(org, "finance"), NORFOLK)
    _assert_refused_and_unchanged(world, case, reply, 403, "forbidden")


@pytest.mark.parametrize("step", [s for s in STEPS if s != "transfer"])
def test_prime_cannot_record_its_subcontractors_steps(world, step):
    case = world.cases["norfolk"]  # accepted: a start or did-not-start would succeed for the holder
    reply = world.send("POST", case.id, f"/{step}", world.key("trobius", "provider"), NORFOLK)
    _assert_refused_and_unchanged(world, case, reply, 403, "forbidden")
    assert "holding" in reply.body["detail"]


def test_holder_cannot_re_refer(world):
    case = world.cases["norfolk"]
    reply = world.send("POST", case.id, "/re-referrals", world.key("kings-lynn-works", "provider"), NORFOLK)
    _assert_refused_and_unchanged(world, case, reply, 403, "forbidden")


def test_prime_may_transfer_its_subcontractors_referral(world):
    person = {**NORFOLK_PERSON, "nino": "JN482914B", "given_name": "Perpetua"}
    rid = world.refer(("jobcentre-plus-norwich", "referrer"), NORFOLK, "kings-lynn-works", person)
    holder, prime = world.key("kings-lynn-works", "provider"), world.key("trobius", "provider")
    assert world.api.post(f"/referrals/{rid}/acknowledgement", holder, {"decision": "accept", "date": TODAY}).status == 200

    refused = world.api.post(f"/referrals/{rid}/start", prime, {"date": TODAY})
    assert_problem(refused, 403, "forbidden")
    assert world.api.get(f"/referrals/{rid}", holder).body["status"] == "accepted"

    moved = world.api.post(f"/referrals/{rid}/transfer", prime, {
        "to_provider_id": "great-yarmouth-works", "date": TODAY, "handover": {"date": TODAY, "document_ref": "HO-9"}})
    assert moved.status == 200, moved.body
    assert moved.body["provider_org_id"] == "great-yarmouth-works" and moved.body["prime_org_id"] == "trobius"
    events = world.api.get(f"/referrals/{rid}/events", prime).body["items"]
    assert events[-1]["type"] == "transfer" and events[-1]["actor"]["org_id"] == "trobius"

    # The old holder loses sight of it; the new holder, the prime and the referrer keep it.
    assert_problem(world.api.get(f"/referrals/{rid}", holder), 404, "not-found")
    assert_problem(world.api.post(f"/referrals/{rid}/start", holder, {"date": TODAY}), 404, "not-found")
    new_holder = world.key("great-yarmouth-works", "provider")
    for key in (new_holder, prime, world.key("jobcentre-plus-norwich", "referrer")):
        assert world.api.get(f"/referrals/{rid}", key).status == 200
    assert world.api.post(f"/referrals/{rid}/start", new_holder, {"date": TODAY}).status == 200


NON_REFERRERS = [("kings-lynn-works", "provider"), ("trobius", "provider"), ("trobius", "finance"),
                 ("middlesbrough-council", "provider"), ("dwp-commissioning", "admin")]


@pytest.mark.parametrize("caller", NON_REFERRERS, ids=[_ids(c) for c in NON_REFERRERS])
def test_only_referrers_may_refer(world, caller):
    body = referral_body(provider_id="kings-lynn-works", consent={"given": True, "date": TODAY},
                         participant={**NORFOLK_PERSON, "nino": "JN482915C"})
    reply = world.api.post("/referrals", world.key(*caller), body)
    assert_problem(reply, 403, "forbidden")
    assert reply.body["required_roles"] == ["referrer"]
    listed = world.api.get("/referrals?limit=100", world.key("trobius", "finance")).body["items"]
    assert "JN482915C" not in json.dumps(listed), "a refused referral must not be stored"


# ------------------------------------------------------------------ authentication

BAD_CREDENTIALS = {
    "empty": {"Authorization": ""},
    "basic-scheme": {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
    "bearer-without-token": {"Authorization": "Bearer"},
    "not-a-refpay-key": {"Authorization": "Bearer sk_live_0123456789abcdef"},
    "unknown-key": {"Authorization": "Bearer rp_" + "A" * 43},
    "key-without-scheme": "KEY-WITHOUT-SCHEME",
}


@pytest.mark.parametrize("credential", list(BAD_CREDENTIALS))
def test_unauthenticated_callers_get_401_problem(world, credential):
    case = world.cases["norfolk"]
    headers = BAD_CREDENTIALS[credential]
    if headers == "KEY-WITHOUT-SCHEME":
        headers = {"Authorization": world.key("kings-lynn-works", "provider")}
    calls = [("GET", "/referrals", None), ("GET", f"/referrals/{case.id}", None),
             ("GET", f"/referrals/{case.id}/events", None), ("GET", "/programmes", None),
             ("POST", "/referrals", referral_body(provider_id="kings-lynn-works", consent={"given": True, "date": TODAY},
                                                  participant={**NORFOLK_PERSON, "nino": "JN482916D"})),
             ("POST", f"/referrals/{case.id}/start", {"date": TODAY})]
    for method, path, body in calls:
        reply = world.api.call(method, path, None, body, headers=headers)
        assert_problem(reply, 401, "unauthenticated")
        assert reply.headers.get("www-authenticate", "").startswith("Bearer"), (method, path, reply.headers)
        assert_no_participant_data(reply, *world.cases.values())
    assert world.snapshot(case) == case.baseline


def test_a_request_without_an_authorization_header_is_refused_by_the_gateway(world):
    """API Gateway (and Chalice's local emulator of it) refuses a missing token before the authorizer runs.
    Deployed, infra/template.json turns that refusal into the same 401 problem the API gives for a bad key."""
    case = world.cases["norfolk"]
    for method, path in (("GET", "/referrals"), ("GET", f"/referrals/{case.id}"), ("POST", f"/referrals/{case.id}/start")):
        reply = world.api.call(method, path, None, {"date": TODAY} if method == "POST" else None)
        assert reply.status == 401, (method, path, reply.body)
        assert_no_participant_data(reply, *world.cases.values())
    assert world.snapshot(case) == case.baseline
    gateway = json.loads((Path(__file__).resolve().parents[2] / "infra" / "template.json").read_text())["Resources"]
    unauthorized = gateway["RestAPI"]["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"][
        "UNAUTHORIZED"]
    assert unauthorized["statusCode"] == "401"
    assert unauthorized["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    assert "WWW-Authenticate" in json.dumps(unauthorized["responseParameters"])
    body = json.loads(unauthorized["responseTemplates"]["application/json"])
    assert body["type"].endswith("/unauthenticated") and body["status"] == 401


def test_health_and_openapi_need_no_key_but_programmes_does(world):
    for path in ("/health", "/openapi.json"):
        reply = world.api.get(path)
        assert reply.status == 200, (path, reply.body)
        assert reply.headers["content-type"].startswith("application/json")
    assert world.api.get("/programmes").status == 401
    assert_problem(world.api.get("/programmes", "rp_" + "B" * 43), 401, "unauthenticated")
    listed = world.api.get("/programmes", world.key("citizens-advice-tees", "referrer"))
    assert listed.status == 200 and {p["id"] for p in listed.body["items"]} >= {NORFOLK, TEES}


# ------------------------------------------------------------------ listing


def _list_all(world, key: str, query: str = "") -> list[dict]:
    items, cursor = [], None
    while True:
        sep = "&" if query else ""
        path = f"/referrals?limit=100{sep}{query}" + (f"&cursor={cursor}" if cursor else "")
        page = world.api.get(path, key)
        assert page.status == 200, page.body
        items += page.body["items"]
        if not page.body["has_more"]:
            return items
        cursor = page.body["cursor"]


LISTERS = [
    (("jobcentre-plus-norwich", "referrer"), {"norfolk"}),
    (("tees-valley-jcp", "referrer"), {"tees"}),
    (("citizens-advice-tees", "referrer"), set()),
    (("kings-lynn-works", "provider"), {"norfolk"}),
    (("kings-lynn-works", "finance"), {"norfolk"}),
    (("broadland-mentors", "provider"), set()),
    (("broadland-mentors", "finance"), set()),
    (("trobius", "provider"), {"norfolk"}),
    (("trobius", "finance"), {"norfolk"}),
    (("middlesbrough-council", "provider"), {"tees"}),
    (("middlesbrough-council", "finance"), {"tees"}),
    (("darlington-council", "provider"), set()),
    (("dwp-commissioning", "admin"), set()),
]


@pytest.mark.parametrize("caller, expected", LISTERS, ids=[_ids(c) for c, _ in LISTERS])
def test_listing_shows_only_the_callers_own_referrals(world, caller, expected):
    items = _list_all(world, world.key(*caller))
    org = caller[0]
    for item in items:
        assert org in (item["referrer_org_id"], item["provider_org_id"], item["prime_org_id"]), item["id"]
    ids = {i["id"] for i in items}
    for name, case in world.cases.items():
        assert (case.id in ids) == (name in expected), (name, sorted(ids))
    if not expected:
        assert items == []  # none of these organisations is party to any referral in this module
    others = [c for n, c in world.cases.items() if n not in expected]
    body = json.dumps(items).lower()
    for case in others:
        for marker in _markers(case.person, case.reference):
            assert marker.lower() not in body


FILTERS = ["provider_id=kings-lynn-works", "provider_id=kings-lynn-works&view=provider",
           "provider_id=kings-lynn-works&status=accepted", f"programme_id={NORFOLK}"]
FILTER_ROWS = [(c, q) for c in [("tees-valley-jcp", "referrer"), ("citizens-advice-tees", "referrer"),
                                ("broadland-mentors", "provider"), ("broadland-mentors", "finance"),
                                ("middlesbrough-council", "provider"), ("darlington-council", "provider"),
                                ("dwp-commissioning", "admin")] for q in FILTERS]


@pytest.mark.parametrize("caller, query", FILTER_ROWS, ids=[f"{_ids(c)}-{q}" for c, q in FILTER_ROWS])
def test_filtering_by_another_tenants_provider_returns_nothing(world, caller, query):
    assert _list_all(world, world.key(*caller), query) == []


def test_filtering_by_provider_works_for_the_prime(world):
    items = _list_all(world, world.key("trobius", "finance"), "provider_id=kings-lynn-works")
    assert world.cases["norfolk"].id in {i["id"] for i in items}
    assert all(i["provider_org_id"] == "kings-lynn-works" for i in items)


@pytest.mark.parametrize("caller", [("kings-lynn-works", "provider"), ("trobius", "finance")], ids=_ids)
def test_a_non_referrer_cannot_ask_for_the_referrer_view(world, caller):
    assert_problem(world.api.get("/referrals?view=referrer", world.key(*caller)), 403, "forbidden")
