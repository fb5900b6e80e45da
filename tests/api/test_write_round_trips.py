"""Every write endpoint's DynamoDB calls, counted on moto in-process with an Idempotency-Key in a realistic state:
one TransactGetItems (the idempotency record and what the request reads, isolated from a transaction still
committing), then one TransactWriteItems, and a replay with the same key is that one read. The endpoints that cannot be 2 are listed with their exact
calls and the reason (docs/performance.md section 1).

The list of write endpoints is the OpenAPI document's: a new write endpoint with no measured case fails here."""
from __future__ import annotations

import json

import pytest

from tests.conftest import TODAY, chain_referral, dynamodb_calls, referral_body

TG, BG, TW, G, Q, U = "TransactGetItems", "BatchGetItem", "TransactWriteItems", "GetItem", "Query", "UpdateItem"
TWO = ([TG, TW], [TG])  # a keyed write, then its replay

NORFOLK, WORK_CHOICE, TEES, ESF = ("flexible-routeways-norfolk", "work-choice", "tees-valley-routes-to-work",
                                   "esf-community-hub")
DARLINGTON = "darlington-council"
JOB = {"employer_name": "Fenland Foods Ltd", "hours_per_week": 20, "weekly_earnings_pence": 24000}
EXIT = {"reason": "withdrew", "exit_review": {"date": TODAY, "destination": "unemployed"}}
BARRIERS = [{"id": "b2-travel", "category": "travel"}, {"id": "b3-cscs", "category": "training"},
            {"id": "b4-door-security", "category": "training"}]
COSTS = [{"id": "c1-buddying", "amount_pence": 60000}]

# Where a write (or its replay) cannot be one read and one transaction: its exact calls, and why. Every other
# write endpoint is TWO.
EXCEPTIONS: dict[str, tuple[list[str], list[str]]] = {
    # A replay renders the referral the first request made, whose id only its idempotency record holds.
    "POST /referrals": ([TG, TW], [TG, TG]),
    # The person a return names is known once the former referral is read (then their record: a GetItem).
    "POST /referrals/{referral_id}/re_referral": ([TG, G, TW], [TG, TG]),
    "POST /referrals/{referral_id}/re-referrals": ([TG, G, TW], [TG, TG]),
    # The draw is resumable, outside the request's transaction: the programme's rate in force (known from the
    # file), the seed and rate recorded (UpdateItem), the file's lines counted then drawn (two Queries of its
    # index), the drawn checks written 25 a transaction, the size recorded (UpdateItem).
    "POST /claim-files/{claim_file_id}/sample": ([TG, G, U, Q, Q, TW, U, TW], [TG]),
    # A replay renders the pass-through the first request recorded (its id only in the record): a Query of the
    # chain's pass-throughs.
    "POST /payments/pass-throughs": ([TG, TW], [TG, Q]),
    # Whether a claim is open: the referral's payment lines, a Query of its index.
    "POST /referrals/{referral_id}/erasure": ([TG, Q, TW], [TG]),
    # An export: the person's referrals, known from their record (one batch read), then each one's events, the
    # access log and its payment lines (a Query each); the replay exports again.
    "POST /subject-access": ([TG, BG, Q, Q, Q, TW], [TG, BG, Q, Q, Q]),
}


class Meter:
    """Posts a write twice with one Idempotency-Key and keeps the DynamoDB calls of each, by route."""

    def __init__(self, api, calls: list[str]):
        self.api, self.calls = api, calls
        self.seen: dict[str, tuple[list[str], list[str]]] = {}
        self.n = 0

    def __call__(self, route: str, key: str, path: str, body: dict, replay: int | None = None):
        # The authorizer's per-container cache holds the key, as in a warm container: warmed just before each
        # measured write, so a slow machine cannot let it lapse between the warming and the write.
        self.api.get("/compliance/flags?limit=1", key)
        self.n += 1
        headers = {"Idempotency-Key": f"trips-{self.n}"}
        self.calls.clear()
        first = self.api.post(path, key, body, headers=headers)
        assert 200 <= first.status < 300, (route, first.status, first.body)
        made = list(self.calls)
        self.calls.clear()
        again = self.api.post(path, key, body, headers=headers)
        if replay is None:
            assert again.status == first.status and again.headers.get("idempotent-replayed") == "true", route
        else:  # answered as the resource is now, to the caller as it is now
            assert again.status == replay, (route, again.body)
        self.seen.setdefault(route, (made, list(self.calls)))
        return first.body

    def step(self, key: str, rid: str, name: str, body: dict | None = None, dated: bool = True,
             replay: int | None = None):
        return self(f"POST /referrals/{{referral_id}}/{name}", key, f"/referrals/{rid}/{name}",
                    {**({"date": TODAY} if dated else {}), **(body or {})}, replay)


def _write_routes(api) -> set[str]:
    paths = api.get("/openapi.json").body["paths"]
    return {f"{m.upper()} {p}" for p, ops in paths.items() for m in ops if m.upper() in ("POST", "PUT", "PATCH",
                                                                                           "DELETE")}


def _refer(api, key, nino, programme_id=NORFOLK, provider_id="kings-lynn-works", **kw):
    made = api.post("/referrals", key, referral_body(programme_id=programme_id, provider_id=provider_id,
                                                     nino=nino, **kw))
    assert made.status == 201, made.body
    return made.body["id"]


def _steps(api, key, rid, *steps):
    for name, *body in steps:
        reply = api.post(f"/referrals/{rid}/{name}", key, {"date": TODAY, **(body[0] if body else {})})
        assert reply.status in (200, 201), (name, reply.body)


@pytest.fixture
def measured(api, keys, monkeypatch) -> dict[str, tuple[list[str], list[str]]]:
    """Every write endpoint, measured once."""
    from chalicelib.services import claim_files

    # A warm container's key cache outlives a write and its replay however slow the machine (the default, 5 s,
    # lapsed between a warming and a write once under a loaded CI run: two key look-ups counted as the write's).
    monkeypatch.setenv("REFPAY_AUTH_CACHE_SECONDS", "300")
    builds: list[str] = []
    # The claim file's build is the worker's (asynchronous when deployed): run after the request, not counted.
    monkeypatch.setattr(claim_files, "start_build", builds.append)
    meter = Meter(api, dynamodb_calls(monkeypatch))
    _journey(api, keys, meter, monkeypatch)
    _chain_and_claims(api, keys, meter)
    _work_choice(api, keys, meter, monkeypatch)
    _esf(api, keys, meter, monkeypatch)
    _fund(api, keys, meter)
    _claim_files(api, keys, meter, monkeypatch, builds)
    _privacy(api, keys, meter)
    return meter.seen


def _journey(api, keys, meter: Meter, monkeypatch) -> None:
    """Norfolk: a referral through every step of the journey, first under the deprecated names, then the new."""
    provider, referrer = keys["provider"], keys["referrer"]
    person = referral_body(nino="JT100001A")
    rid = meter("POST /referrals", referrer, "/referrals", person)["id"]
    meter.step(provider, rid, "acknowledgement", {"decision": "accept"})
    meter.step(provider, rid, "start")
    meter.step(provider, rid, "assessments")
    meter.step(provider, rid, "action-plans", {"document_ref": "AP-1"})
    meter.step(provider, rid, "reviews")
    meter.step(provider, rid, "outcomes", {"type": "job_start", **JOB})
    meter.step(provider, rid, "exit", EXIT)

    rid = _refer(api, referrer, "JT100002A")
    meter.step(provider, rid, "accept")
    _steps(api, provider, rid, ("start",))
    meter.step(provider, rid, "assessment")
    meter.step(provider, rid, "action_plan", {"document_ref": "AP-2"})
    meter.step(provider, rid, "review")
    meter.step(provider, rid, "job_start", JOB)
    # In work since August: its 13 weeks are up.
    monkeypatch.setenv("REFPAY_TODAY", "2026-08-03")
    working = _refer(api, referrer, "JT100007A", consent={"given": True, "date": "2026-08-03"})
    for name, body in (("accept", {}), ("start", {}), ("assessment", {}), ("job_start", JOB)):
        reply = api.post(f"/referrals/{working}/{name}", provider, {"date": "2026-08-03", **body})
        assert reply.status in (200, 201), reply.body
    monkeypatch.setenv("REFPAY_TODAY", TODAY)
    meter.step(provider, working, "sustainment", {"checkpoint": "13-weeks"})
    meter.step(provider, working, "progression")
    # The holder that transferred the person no longer sees the referral: its replay is the first answer again.
    meter.step(provider, rid, "transfer", {"to_provider_id": "great-yarmouth-works",
                                           "handover": {"date": TODAY, "document_ref": "HO-1"}})
    meter.step(provider, _refer(api, referrer, "JT100003A"), "reject", {"reason": "inappropriate"})
    late = _refer(api, referrer, "JT100004A")
    _steps(api, provider, late, ("accept",))
    meter.step(provider, late, "did-not-start", {"reason": "failed_to_attend"})
    late = _refer(api, referrer, "JT100005A")
    _steps(api, provider, late, ("accept",))
    meter.step(provider, late, "did_not_start", {"reason": "failed_to_attend"})
    # A referral recorded beyond the late-recording limit: the commissioner approves it.
    old = _refer(api, referrer, "JT100006A", referral_date="2026-10-01", consent={"given": True, "date": "2026-10-01"})
    commissioner = keys["organisations"]["dwp-commissioning"]["commissioner"]
    meter("POST /referrals/{referral_id}/approve_late_recording", commissioner,
          f"/referrals/{old}/approve_late_recording",
          {"step": "referral", "step_date": "2026-10-01", "reason": "paper referral found"})


def _chain_and_claims(api, keys, meter: Meter) -> None:
    """The chain: a group refers to the prime, which routes, adds and ends parties; the mentor records a contact
    and claims; the prime's finance decides and claws back."""
    orgs = keys["organisations"]
    group, prime, deliverer = (orgs["broadland-mentors"]["referrer"], orgs["trobius"]["provider"],
                               orgs["kings-lynn-works"]["provider"])
    mentor, finance = orgs["broadland-mentors"]["provider"], keys["finance"]
    rid = meter("POST /referrals", group, "/referrals", referral_body(provider_id="trobius", nino="JT200001A"))["id"]
    meter.step(prime, rid, "route", {"to_provider_id": "kings-lynn-works"})
    _steps(api, deliverer, rid, ("accept",), ("start",))
    meter.step(mentor, rid, "mentoring_contact", {"minutes": 45, "mode": "in_person"})
    meter.step(prime, rid, "end_party", {"party_org_id": "broadland-mentors", "role": "mentor", "reason": "moved"})
    meter.step(prime, rid, "add_party", {"party_org_id": "broadland-mentors", "role": "mentor"})

    def claim(nino: str, measured: bool = False) -> str:
        body = {"referral_id": chain_referral(api, keys, nino=nino), "fee_id": "level-2-support",
                "amount_pence": 9000, "event_date": TODAY, "evidence_ref": "ev", "contact_ids": ["mc1"]}
        if measured:
            return meter("POST /claims", mentor, "/claims", body)["line_id"]
        made = api.post("/claims", mentor, body)
        assert made.status == 201, made.body
        return made.body["line_id"]

    approved = claim("JT200002A", measured=True)
    meter("POST /claims/{line_id}/approve", finance, f"/claims/{approved}/approve", {})
    rejected = claim("JT200003A")
    meter("POST /claims/{line_id}/reject", finance, f"/claims/{rejected}/reject", {"reason": "no evidence"})
    many = [claim("JT200004A"), claim("JT200005A")]
    meter("POST /claims/decisions", finance, "/claims/decisions", {"line_ids": many, "decision": "approve"})
    meter("POST /claims/{line_id}/clawback", finance, f"/claims/{approved}/clawback", {"reason": "duplicate"})


def _work_choice(api, keys, meter: Meter, monkeypatch) -> None:
    """Work Choice: a module move (both names), a module extension asked for and decided, a return, a
    pass-through."""
    orgs = keys["organisations"]
    holder = orgs["brightside-supported-employment"]["provider"]
    eligibility = {"disabled": True, "right_to_work": True}

    def started(nino: str) -> str:
        body = referral_body(programme_id=WORK_CHOICE, provider_id="brightside-supported-employment", nino=nino)
        body["participant"]["eligibility"] = eligibility
        made = api.post("/referrals", keys["referrer"], body)
        assert made.status == 201, made.body
        _steps(api, holder, made.body["id"], ("accept",), ("start",))
        return made.body["id"]

    move = {"module_id": "transitional-supported-employment"}
    meter.step(holder, started("JT300001A"), "module_move", move)
    meter.step(holder, started("JT300002A"), "module", move)
    rid = started("JT300003A")
    meter.step(holder, rid, "module_extension_request", {"until": "2027-08-24", "reason": "in-work trial"})
    meter.step(orgs["dwp-commissioning"]["commissioner"], rid, "module_extension_decision", {"decision": "approve"},
               dated=False)
    _steps(api, holder, rid, ("assessment",), ("job_start", JOB))
    # A return (Work Choice allows one), under both names.
    consent = {"consent": {"given": True, "date": TODAY}}
    rid = started("JT300004A")
    _steps(api, holder, rid, ("exit", EXIT))
    again = meter.step(keys["referrer"], rid, "re-referrals", consent, dated=False)["id"]
    _steps(api, holder, again, ("accept",), ("start",), ("exit", EXIT))
    meter.step(keys["referrer"], again, "re_referral", consent, dated=False)
    meter("POST /payments/pass-throughs", orgs["pathway-employment-prime"]["finance"], "/payments/pass-throughs", {
        "programme_id": WORK_CHOICE, "period": TODAY[:7], "subcontractor_org_id": "brightside-supported-employment",
        "amount_pence": 1000, "paid_on": TODAY, "reference": "BACS-PT-1"})


def _esf(api, keys, meter: Meter, monkeypatch) -> None:
    """ESF's eligibility decisions, and a leaver's follow-up."""
    hub = keys["organisations"]["northampton-community-hub"]["provider"]

    def referred(nino: str, day: str = TODAY) -> str:
        monkeypatch.setenv("REFPAY_TODAY", day)
        return _refer(api, keys["referrer"], nino, ESF, "northampton-community-hub",
                      consent={"given": True, "date": day})

    meter.step(hub, referred("JT400001A"), "eligible")
    meter.step(hub, referred("JT400002A"), "ineligible", {"reason": "age", "signposted_to": "Careers Service"})
    rid = referred("JT400003A", "2026-06-01")
    for name in ("accept", "start", "assessment"):
        assert api.post(f"/referrals/{rid}/{name}", hub, {"date": "2026-06-01"}).status in (200, 201)
    monkeypatch.setenv("REFPAY_TODAY", "2026-07-01")
    left = api.post(f"/referrals/{rid}/exit", hub, {"date": "2026-07-01", "reason": "withdrew",
                                                    "exit_review": {"date": "2026-07-01", "destination": "unemployed"}})
    assert left.status == 200, left.body
    monkeypatch.setenv("REFPAY_TODAY", "2026-08-03")
    meter("POST /referrals/{referral_id}/follow_up", hub, f"/referrals/{rid}/follow_up",
          {"date": "2026-08-03", "outcome": "not_in_work"})
    monkeypatch.setenv("REFPAY_TODAY", TODAY)


def _fund(api, keys, meter: Meter) -> None:
    """Tees Valley: Darlington's spends (a direct one, spot purchases its coordinator decides), an employer
    incentive, and its hub's handover to a spoke."""
    orgs = keys["organisations"]
    worker, coordinator = orgs[DARLINGTON]["provider"], orgs[DARLINGTON]["coordinator"]
    rid = _refer(api, orgs["tees-valley-jcp"]["referrer"], "JT500001A", TEES, DARLINGTON, support_level="weekly")
    _steps(api, worker, rid, ("accept",), ("start",), ("assessment", {"support_costs": COSTS}),
           ("action_plan", {"barriers": BARRIERS}))
    spend = {"category": "travel", "barrier_id": "b2-travel", "amount_pence": 4500, "supplier": "Arriva"}
    meter.step(worker, rid, "flexible_fund_spend", spend)
    spots = []
    for barrier in ("b3-cscs", "b4-door-security"):
        made = api.post(f"/referrals/{rid}/flexible_fund_spend", worker, {
            "date": TODAY, "category": "training", "barrier_id": barrier, "amount_pence": 20000,
            "supplier": "Tees training", "spot_purchase": True})
        assert made.status == 201, made.body
        spots.append(_spot(api, orgs[DARLINGTON]["finance"], rid, barrier))
    meter("POST /flexible-fund/spends/{line_id}/approve", coordinator, f"/flexible-fund/spends/{spots[0]}/approve",
          {})
    meter("POST /flexible-fund/spends/{line_id}/reject", coordinator, f"/flexible-fund/spends/{spots[1]}/reject",
          {"reason": "a cheaper course"})
    meter.step(worker, rid, "employer_incentive", {"employer_name": "Teesside Steel", "amount_pence": 60000,
                                                   "cost_id": "c1-buddying"})
    meter.step(worker, rid, "spoke_handover", {"spoke_org_id": "skerne-valley-works", "handover_ref": "WH-1"})


def _spot(api, key, rid, barrier) -> str:
    lines = api.get(f"/claims?referral_id={rid}", key).body["items"]
    return next(x["line_id"] for x in lines if x.get("barrier_id") == barrier)


def _claim_files(api, keys, meter: Meter, monkeypatch, builds: list[str]) -> None:
    """The prime cuts November's file; the commissioner sets the sample rate, draws the sample, checks a line and
    pays the file."""
    from chalicelib.services import claim_files

    dwp, prime = keys["commissioner_finance"], keys["finance"]
    meter("POST /programmes/{programme_id}/sample-rate", dwp, f"/programmes/{NORFOLK}/sample-rate",
          {"sample_rate_bp": 10000})
    monkeypatch.setenv("REFPAY_TODAY", "2026-12-01")
    cut = meter("POST /claim-files", prime, "/claim-files", {"programme_id": NORFOLK, "period": TODAY[:7]})
    for fid in dict.fromkeys(builds):
        claim_files.build(fid)
    fid = cut["id"]
    meter("POST /claim-files/{claim_file_id}/sample", dwp, f"/claim-files/{fid}/sample", {"seed": "trips-seed"})
    sample = api.get(f"/claim-files/{fid}/sample?limit=100", dwp).body["items"]
    for n, check in enumerate(sample):
        body = {"line_id": check["line_id"], "result": "passed"}
        if n == 0:
            meter("POST /claim-files/{claim_file_id}/checks", dwp, f"/claim-files/{fid}/checks", body)
        else:
            assert api.post(f"/claim-files/{fid}/checks", dwp, body).status == 200
    meter("POST /claim-files/{claim_file_id}/payment", dwp, f"/claim-files/{fid}/payment",
          {"paid_on": "2026-12-01", "reference": "BACS-1"})
    monkeypatch.setenv("REFPAY_TODAY", TODAY)


def _privacy(api, keys, meter: Meter) -> None:
    """The controller erases a rejected referral's person, and exports what is held about another."""
    rid = _refer(api, keys["referrer"], "JT600001A")
    _steps(api, keys["provider"], rid, ("reject", {"reason": "inappropriate"}))
    meter("POST /referrals/{referral_id}/erasure", keys["admin"], f"/referrals/{rid}/erasure",
          {"reason": "the person asked"})
    meter("POST /subject-access", keys["admin"], "/subject-access", {"nino": "JT100002A"})


def test_every_write_is_one_batch_read_and_one_transaction(api, measured):
    print(json.dumps(measured, indent=1))  # `pytest -s`: every endpoint's calls
    assert set(measured) == _write_routes(api)  # every write endpoint is measured here
    assert measured == {route: EXCEPTIONS.get(route, TWO) for route in measured}
