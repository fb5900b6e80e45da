"""Authorisation matrix (OWASP API1 BOLA, API3 property level, API5 function level) over every route in
chalicelib.api.application.routes().

The world, built inside the `aws` fixture's in-memory AWS from seed_demo's organisations plus one organisation and
keys made with chalicelib.services.admin:

  tenant A  Flexible Routeways Norfolk: prime `trobius`, subcontractors `kings-lynn-works` and
            `great-yarmouth-works` (L3), referrer `jobcentre-plus-norwich`, finance = trobius finance
            (+ trobius' 'referrer+provider' key from conftest: a prime that also refers), and its chain members
            `norfolk-community-links` (L1: refers) and `broadland-mentors` (L2: refers and mentors)
  tenant B  Work Choice: prime `pathway-employment-prime`, subcontractors `brightside-supported-employment` and
            `riverside-disability-works`, referrer `remploy-referrals` (created here), finance = pathway finance
  commissioner `dwp-commissioning`, which funds both programmes: its admin key sees nothing of theirs, its finance
            key reads the lines it funds (and so the ids of the files they are in) and decides none of them (each
            prime pays its own subcontractors); its commissioner key reads the programmes' referrals one by one
            (never the person's details) and decides the exceptions to their rules (a module extension, a step recorded
            late), and nothing else
  fund      Tees Valley's flexible fund (seed 001): Darlington's key worker records a spot purchase for a participant
            (its provider key), which waits for Darlington's coordinator key; Stockton's coordinator and the
            combined authority's finance (which pays it) are callers too; each authority sees its own fund's
            report, the combined authority every authority's
  outsider  callers with an unknown key / no key at all

Per tenant: a referral still waiting for acknowledgement (sub1), a started referral with a payment line (sub2: A a
Level 2 group's referral through the prime, routed to sub2 with the group mentoring, and the group's mentoring claim
'submitted'; B an earned job-start line 'approved'), a referral whose earned line is in the prime's claim file
(sub1), the claim file, and the acknowledgement flag the nightly run raises on 2026-11-27.

Every caller calls every endpoint on every object. The matrix (caller x endpoint/object -> status) is printed
(`pytest -s`). The test fails on any 2xx where the caller is not entitled, on anything other than 401 for an
unauthenticated caller, on any response (2xx or not) that carries another tenant's ids or participant data, on any
response that shows a participant's personal data (NINO, names, date of birth, postcode) to a caller whose role
does not work with the person (only the referring organisation's referrer role and the holding provider's provider
role do: a prime that is not the holder, finance roles and everyone else see the pseudonymous reference), and on
any refused write that changed something. Writes by entitled callers are not made in the matrix (they would move the
objects on); they are made afterwards as positive controls, which only check that authorisation let them through.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import date

from tests.conftest import TODAY, cut_claim_file

NORFOLK, WORK_CHOICE = "flexible-routeways-norfolk", "work-choice"
PERIOD = TODAY[:7]
RUN_DATE = "2026-11-27"  # the first day after the 2-working-day acknowledgement deadline of a 2026-11-24 referral
UNKNOWN_KEY = "rp_" + "Z" * 43

STEP_BODIES = {
    "acknowledgement": {"decision": "accept", "date": TODAY},
    "start": {"date": TODAY},
    "did-not-start": {"date": TODAY, "reason": "failed_to_attend"},
    "assessments": {"date": TODAY},
    "action-plans": {"date": TODAY, "document_ref": "AP-M"},
    "reviews": {"date": TODAY},
    "outcomes": {"type": "job_start", "date": TODAY, "employer_name": "Matrix Ltd", "hours_per_week": 20,
                 "weekly_earnings_pence": 24000},
    "module": {"module_id": "transitional-supported-employment", "date": TODAY},
    "transfer": {"to_provider_id": None, "date": TODAY, "handover": {"date": TODAY, "document_ref": "HO-M"}},
    "exit": {"date": TODAY, "reason": "withdrew", "exit_review": {"date": TODAY, "destination": "unemployed"}},
    # each step under its one name (the combined URLs above are the deprecated ones)
    "accept": {"date": TODAY},
    "reject": {"date": TODAY, "reason": "inappropriate"},
    "did_not_start": {"date": TODAY, "reason": "failed_to_attend"},
    "assessment": {"date": TODAY},
    "action_plan": {"date": TODAY, "document_ref": "AP-M"},
    "review": {"date": TODAY},
    "job_start": {"date": TODAY, "employer_name": "Matrix Ltd", "hours_per_week": 20, "weekly_earnings_pence": 24000},
    "sustainment": {"date": TODAY, "checkpoint": "13-weeks"},
    "progression": {"date": TODAY},
    "module_move": {"module_id": "transitional-supported-employment", "date": TODAY},
    # the delivery chain's steps
    "route": {"date": TODAY, "to_provider_id": None},
    "add_party": {"date": TODAY, "party_org_id": "broadland-mentors", "role": "mentor"},
    "end_party": {"date": TODAY, "party_org_id": "broadland-mentors", "role": "mentor", "reason": "matrix"},
    "spoke_handover": {"date": TODAY, "spoke_org_id": "skerne-valley-works", "handover_ref": "WH-M"},
    "mentoring_contact": {"date": TODAY, "minutes": 30, "mode": "phone"},
    # ESF's eligibility decisions and leaver follow-ups (refused on these programmes: the holder alone may try)
    "eligible": {"date": TODAY},
    "ineligible": {"date": TODAY, "reason": "age", "signposted_to": "Matrix Careers"},
    "follow_up": {"date": TODAY, "outcome": "not_in_work"},
    "module_extension_request": {"date": TODAY, "until": "2027-09-30", "reason": "matrix"},
    "module_extension_decision": {"decision": "approve"},
    "approve_late_recording": {"step": "start", "step_date": "2026-10-01", "reason": "matrix"},
    # Tees Valley's flexible fund and employer incentives (refused on these programmes: the holder alone may try)
    "flexible_fund_spend": {"date": TODAY, "category": "travel", "barrier_id": "b1", "amount_pence": 100,
                            "supplier": "Matrix Buses"},
    "employer_incentive": {"date": TODAY, "employer_name": "Matrix Ltd", "amount_pence": 100, "cost_id": "c1"},
}
TEES, DARLINGTON, STOCKTON, TVCA = ("tees-valley-routes-to-work", "darlington-council", "stockton-on-tees-council",
                                    "tees-valley-combined-authority")
TEES_AUTHORITIES = ("middlesbrough-council", STOCKTON, "redcar-cleveland-council", "hartlepool-council", DARLINGTON)
COMMISSIONER_STEPS = ("module_extension_decision", "approve_late_recording")  # the commissioner's, by its key
PRIME_STEPS = ("route", "add_party", "end_party")
STEPS = list(STEP_BODIES)


# ------------------------------------------------------------------ the world


@dataclass
class Tenant:
    name: str
    programme: str
    prime: str
    subs: tuple[str, str]
    referrer: str
    fee_id: str
    eligibility: dict
    chain: tuple[str, ...] = ()  # chain members (they refer, and mentor): keys as seed_demo makes them
    commissioner: str = "dwp-commissioning"  # funds every line of both programmes


TENANTS = {
    "A": Tenant("A", NORFOLK, "trobius", ("kings-lynn-works", "great-yarmouth-works"), "jobcentre-plus-norwich",
                "level-2-support", {"seeking_work": True, "right_to_work": True},
                chain=("norfolk-community-links", "broadland-mentors")),
    "B": Tenant("B", WORK_CHOICE, "pathway-employment-prime",
                ("brightside-supported-employment", "riverside-disability-works"), "remploy-referrals",
                "service-and-outcome", {"disabled": True, "right_to_work": True}),
}


@dataclass
class Caller:
    code: str
    org: str | None
    role: str
    key: str | None

    @property
    def roles(self) -> set[str]:
        return set(self.role.split("+")) if self.org else set()


@dataclass
class Ref:
    label: str
    tenant: Tenant
    id: str
    holder: str
    person: dict
    reference: str = ""
    referrer: str = ""      # the organisation that referred (the tenant's referrer unless a chain member)
    mentor: str | None = None

    @property
    def viewers(self) -> set[str]:
        return {self.referrer or self.tenant.referrer, self.holder, self.tenant.prime} | (
            {self.mentor} if self.mentor else set())

    def visible_to(self, caller: Caller) -> bool:
        """Its referrer, holder and prime; and the programme's commissioner, through its commissioner key (it approves
        exceptions to the programme's rules on a referral)."""
        return caller.org in self.viewers or (caller.org == self.tenant.commissioner and _has(caller, "commissioner"))

    @property
    def markers(self) -> list[str]:
        return [self.id, self.reference, *self.personal]

    @property
    def personal(self) -> list[str]:
        """The participant's personal data as the API returns it (to the roles working with the person only)."""
        p = self.person
        return [p["nino"], p["given_name"], p["family_name"], p["postcode"], p["date_of_birth"]]

    def works_with_the_person(self, caller: Caller) -> bool:
        """The referring organisation's referrer role, and the provider role of the holder and of the mentor."""
        return ("referrer" in caller.roles and caller.org == (self.referrer or self.tenant.referrer)) or \
            ("provider" in caller.roles and caller.org in (self.holder, self.mentor))


@dataclass
class Line:
    label: str
    tenant: Tenant
    id: str
    payee: str
    referral: Ref

    @property
    def viewers(self) -> set[str]:
        return {self.payee, self.tenant.prime}

    def visible_to(self, caller: Caller) -> bool:
        """The payee and its prime; the funder (the commissioner) through its finance key."""
        return caller.org in self.viewers or (caller.org == self.tenant.commissioner and _has(caller, "finance"))


@dataclass
class File:
    label: str
    tenant: Tenant
    id: str
    payees: tuple[str, ...] = ()

    @property
    def viewers(self) -> set[str]:
        """Who may GET the file: the prime that cut it (and the commissioner's finance, see visible_to)."""
        return {self.tenant.prime}

    def visible_to(self, caller: Caller) -> bool:
        return caller.org in self.viewers or self.commissioner_finance(caller)

    def commissioner_finance(self, caller: Caller) -> bool:
        """The commissioner's finance validates and pays the file: only it samples, checks and pays."""
        return caller.org == self.tenant.commissioner and _has(caller, "finance")

    @property
    def id_viewers(self) -> set[str]:
        """Who may know its id: also the payees, whose filed lines name it (claim_file_id)."""
        return self.viewers | set(self.payees)

    def id_visible_to(self, caller: Caller) -> bool:
        """The commissioner's finance reads the filed lines it funds, which name their file."""
        return caller.org in self.id_viewers or (caller.org == self.tenant.commissioner and _has(caller, "finance"))


@dataclass
class Flag:
    label: str
    tenant: Tenant
    id: str
    referral: Ref

    @property
    def viewers(self) -> set[str]:
        return {self.referral.holder, self.tenant.prime}


@dataclass
class Spend:
    """A spot purchase from Darlington's flexible fund, waiting for its coordinator."""

    label: str
    id: str
    referral_id: str

    @staticmethod
    def visible_to(caller: Caller) -> bool:
        return caller.org in (DARLINGTON, TVCA)


@dataclass
class World:
    api: object
    keys: dict
    callers: list[Caller] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    files: list[File] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    spends: list[Spend] = field(default_factory=list)

    def key(self, org: str, role: str) -> str:
        return self.keys[org][role]

    def post(self, path, org, role, body):
        reply = self.api.post(path, self.key(org, role), body)
        assert reply.status in (200, 201), (path, reply.status, reply.body)
        return reply.body


_NINO = itertools.count(1)


def _person(tenant: Tenant) -> dict:
    n = next(_NINO)
    return {"nino": f"J{tenant.name}{481000 + n:06d}C", "given_name": f"Gwendolyn{tenant.name}{n:03d}x",
            "family_name": f"Pemberton{tenant.name}{n:03d}y",
            "date_of_birth": f"{1960 + n % 40}-0{1 + n % 9}-1{n % 10}",
            "postcode": f"PE{10 + n % 80} {n % 10}EZ", "eligibility": dict(tenant.eligibility)}


def _refer(w: World, tenant: Tenant, holder: str, label: str, steps: list[str], via: str | None = None) -> Ref:
    """A referral from the tenant's referrer to `holder`; or, `via` a chain member, one the member refers to the
    prime, which routes it to `holder` with the member mentoring (a Level 2 group)."""
    person = _person(tenant)
    body = {"programme_id": tenant.programme, "provider_id": tenant.prime if via else holder,
            "support_level": "standard", "consent": {"given": True, "date": TODAY}, "participant": person}
    created = w.post("/referrals", via or tenant.referrer, "referrer", body)
    ref = Ref(label, tenant, created["id"], holder, person, created["participant"]["reference"], via or "")
    if via:
        routed = w.post(f"/referrals/{ref.id}/route", tenant.prime, "provider", {"date": TODAY,
                                                                               "to_provider_id": holder})
        ref.mentor = next(p["org_id"] for p in routed["parties"] if p["role"] == "mentor")
    for step in steps:
        w.post(f"/referrals/{ref.id}/{step}", holder, "provider", STEP_BODIES[step])
    w.refs.append(ref)
    return ref


def _line_of(w: World, ref: Ref, kinds=("earned", "claim")) -> dict:
    items = w.api.get("/claims?limit=200", w.key(ref.tenant.prime, "finance")).body["items"]
    mine = [i for i in items if i["referral_id"] == ref.id and i["kind"] in kinds]
    assert len(mine) == 1, mine
    return mine[0]


def _fund_world(w: World) -> None:
    """Darlington's key worker spends from its flexible fund on a CSCS course bought in (a spot purchase)."""
    from tests.postcodes import resident_postcode

    w.callers += [Caller("T.D/p", DARLINGTON, "provider", w.key(DARLINGTON, "provider")),
                  Caller("T.D/c", DARLINGTON, "coordinator", w.key(DARLINGTON, "coordinator")),
                  Caller("T.S/c", STOCKTON, "coordinator", w.key(STOCKTON, "coordinator")),
                  Caller("TVCA/f", TVCA, "finance", w.key(TVCA, "finance"))]
    person = {**_person(TENANTS["A"]), "postcode": resident_postcode(DARLINGTON, None, "DL3 6AA"),
              "eligibility": {"right_to_work": True}}
    created = w.post("/referrals", "tees-valley-jcp", "referrer", {
        "programme_id": TEES, "provider_id": DARLINGTON, "support_level": "weekly",
        "consent": {"given": True, "date": TODAY}, "participant": person})
    rid = created["id"]
    for step, extra in (("accept", {}), ("start", {}), ("assessment", {}),
                        ("action_plan", {"barriers": [{"id": "b1", "category": "training"}]}),
                        ("flexible_fund_spend", {"category": "training", "barrier_id": "b1", "amount_pence": 30000,
                                                 "supplier": "CSCS course provider", "spot_purchase": True})):
        w.post(f"/referrals/{rid}/{step}", DARLINGTON, "provider", {"date": TODAY, **extra})
    (line,) = [x for x in w.api.get(f"/claims?referral_id={rid}", w.key(DARLINGTON, "finance")).body["items"]
               if x["fee_id"] == "flexible-fund"]
    assert line["status"] == "pending_approval", line
    w.spends.append(Spend("T.spot", line["line_id"], rid))


def build_world(api, keys) -> World:
    from chalicelib.services import nightly
    from chalicelib.services.admin import create_api_key, create_organisation

    orgs = keys["organisations"]
    create_organisation("remploy-referrals", "Remploy referrals (Work Choice referrer)", "referrer")
    orgs["remploy-referrals"] = {"referrer": create_api_key("remploy-referrals", ["referrer"], "matrix")[0]}
    w = World(api, orgs)

    for t in TENANTS.values():
        w.callers += [Caller(f"{t.name}.ref", t.referrer, "referrer", orgs[t.referrer]["referrer"]),
                      Caller(f"{t.name}.P/p", t.prime, "provider", orgs[t.prime]["provider"]),
                      Caller(f"{t.name}.P/f", t.prime, "finance", orgs[t.prime]["finance"])]
        if "referrer+provider" in orgs[t.prime]:
            w.callers.append(Caller(f"{t.name}.P/rp", t.prime, "referrer+provider", orgs[t.prime]["referrer+provider"]))
        for i, sub in enumerate(t.subs, start=1):
            w.callers += [Caller(f"{t.name}.s{i}/p", sub, "provider", orgs[sub]["provider"]),
                          Caller(f"{t.name}.s{i}/f", sub, "finance", orgs[sub]["finance"])]
        for i, member in enumerate(t.chain, start=1):
            w.callers += [Caller(f"{t.name}.L{i}/{role[0]}", member, role, key) for role, key in orgs[member].items()]
    w.callers += [Caller("admin", "dwp-commissioning", "admin", orgs["dwp-commissioning"]["admin"]),
                  Caller("DWP/f", "dwp-commissioning", "finance", orgs["dwp-commissioning"]["finance"]),
                  Caller("DWP/c", "dwp-commissioning", "commissioner", orgs["dwp-commissioning"]["commissioner"]),
                  Caller("badkey", None, "-", UNKNOWN_KEY), Caller("nokey", None, "-", None)]

    for t in TENANTS.values():
        sub1, sub2 = t.subs
        _refer(w, t, sub1, f"{t.name}.ref-waiting", [])
        # The referral whose earned line goes into the prime's claim file.
        filed = _refer(w, t, sub1, f"{t.name}.ref-filed",
                       ["acknowledgement", "start"] + (["assessments", "outcomes"] if t.programme == WORK_CHOICE
                                                       else []))
        line = _line_of(w, filed)
        started, ready = cut_claim_file(w.api, w.key(t.prime, "finance"), {"programme_id": t.programme,
                                                                            "period": PERIOD})
        assert started.status == 202, started
        cut = ready.body
        assert cut["line_count"] == 1, cut
        w.files.append(File(f"{t.name}.file", t, cut["id"], (sub1,)))
        w.lines.append(Line(f"{t.name}.line-filed", t, line["line_id"], sub1, filed))
        # A started referral with a line not in any file: A a Level 2 group's chain referral and its mentoring
        # claim (submitted), B an earned line.
        live = _refer(w, t, sub2, f"{t.name}.ref-live",
                      ["acknowledgement", "start"] + (["assessments", "outcomes"] if t.programme == WORK_CHOICE
                                                      else []), via=t.chain[1] if t.chain else None)
        if live.mentor:
            w.post(f"/referrals/{live.id}/mentoring_contact", live.mentor, "provider",
                   STEP_BODIES["mentoring_contact"])
            w.post("/claims", live.mentor, "provider", {"referral_id": live.id, "fee_id": t.fee_id,
                                                        "amount_pence": 12_345, "event_date": TODAY,
                                                        "evidence_ref": "EV-MATRIX", "contact_ids": ["mc1"]})
        line = _line_of(w, live, ("claim",) if live.mentor else ("earned", "claim"))
        w.lines.append(Line(f"{t.name}.line-live", t, line["line_id"], live.mentor or sub2, live))

    _fund_world(w)
    nightly.run(date.fromisoformat(RUN_DATE))
    for t in TENANTS.values():
        waiting = next(r for r in w.refs if r.label == f"{t.name}.ref-waiting")
        flags = api.get("/compliance/flags?limit=200", orgs[t.prime]["provider"]).body["items"]
        mine = [f for f in flags if f["referral_id"] == waiting.id and f["rule"] == "acknowledge"]
        assert len(mine) == 1, flags
        w.flags.append(Flag(f"{t.name}.flag", t, mine[0]["id"], waiting))
    return w


# ------------------------------------------------------------------ calls


@dataclass
class Call:
    route: str                 # "METHOD /path/{template}" exactly as in routes()
    obj: str                   # the object's label
    method: str
    path: str
    body: dict | None
    entitled: object           # Caller -> bool
    write: bool = False
    snapshot: object = None    # () -> comparable state of the target, for refused writes


def _ref_snapshot(w: World, ref: Ref):
    def snap():
        prime = w.key(ref.tenant.prime, "provider")
        view = w.api.get(f"/referrals/{ref.id}", prime).body
        events = w.api.get(f"/referrals/{ref.id}/events?limit=200", prime).body
        return (view.get("version"), view.get("status"), view.get("provider_org_id"), len(events.get("items", [])))
    return snap


def _lines_snapshot(w: World, tenant: Tenant):
    def snap():
        items = w.api.get("/claims?limit=200", w.key(tenant.prime, "finance")).body["items"]
        return sorted((i["line_id"], i["status"], i["amount_pence"], i["claim_file_id"]) for i in items)
    return snap


def _file_snapshot(w: World, f: File):
    def snap():
        body = w.api.get(f"/claim-files/{f.id}", w.key(f.tenant.prime, "finance")).body
        return (body.get("sample"), body.get("removed_pence"), body.get("paid_on"), _lines_snapshot(w, f.tenant)())
    return snap


def _chain_snapshot(w: World, t: Tenant):
    def snap():
        return w.api.get(f"/payments/supply-chain?programme={t.programme}&period={PERIOD}",
                         w.key(t.prime, "finance")).body
    return snap


def _rate_snapshot(w: World, t: Tenant):
    def snap():
        return w.api.get(f"/programmes/{t.programme}/sample-rate", w.key(t.commissioner, "finance")).body
    return snap


def _world_snapshot(w: World):
    state = []
    for t in TENANTS.values():
        for key in (w.key(t.prime, "provider"), w.key(t.referrer, "referrer")):
            items = w.api.get("/referrals?limit=100", key).body["items"]
            state.append(sorted((i["id"], i["version"], i["status"], i["provider_org_id"]) for i in items))
        state.append(_lines_snapshot(w, t)())
        state.append(sorted((f["id"], f["status"]) for f in w.api.get(
            "/compliance/flags?limit=200", w.key(t.prime, "provider")).body["items"]))
    for f in w.files:
        state.append(w.api.get(f"/claim-files/{f.id}", w.key(f.tenant.prime, "finance")).body["line_count"])
    return state


def _lists_snapshot(w: World):
    """Cheap: every tenant's referral list (prime and referrer views) and payment lines."""
    def snap():
        state = []
        for t in TENANTS.values():
            for key in (w.key(t.prime, "provider"), w.key(t.referrer, "referrer")):
                items = w.api.get("/referrals?limit=100", key).body["items"]
                state.append(sorted((i["id"], i["version"], i["status"]) for i in items))
            state.append(_lines_snapshot(w, t)())
        return state
    return snap


def _has(c: Caller, role: str) -> bool:
    return role in c.roles


def _other_sub(ref: Ref) -> str:
    return next(s for s in ref.tenant.subs if s != ref.holder)


def build_calls(w: World) -> list[Call]:
    calls: list[Call] = []
    everyone = lambda c: c.org is not None
    public = lambda c: True

    calls.append(Call("GET /health", "-", "GET", "/health", None, public))
    calls.append(Call("GET /openapi.json", "-", "GET", "/openapi.json", None, public))
    calls.append(Call("GET /rulebook-schema.json", "-", "GET", "/rulebook-schema.json", None, public))
    calls.append(Call("GET /programmes", "-", "GET", "/programmes", None, everyone))
    for t in TENANTS.values():
        calls.append(Call("GET /programmes/{programme_id}", f"{t.name}.programme", "GET", f"/programmes/{t.programme}",
                          None, everyone))
    for route, path in (("GET /referrals", "/referrals?limit=100"), ("GET /claims", "/claims?limit=200"),
                        ("GET /compliance/flags", "/compliance/flags?limit=200"),
                        ("GET /compliance/runs/{run_date}", f"/compliance/runs/{RUN_DATE}")):
        calls.append(Call(route, "(list)", "GET", path, None, everyone))  # entitled to its own slice only
    # The cascade (what each payee is owed, line by line) is for finance roles: their own slice only.
    calls.append(Call("GET /payments/cascade", "(list)", "GET", f"/payments/cascade?period={PERIOD}", None,
                      lambda c: _has(c, "finance")))

    for t in TENANTS.values():
        body = {"programme_id": t.programme, "provider_id": t.subs[0], "support_level": "standard",
                "consent": {"given": True, "date": TODAY}, "participant": _person(t)}
        calls.append(Call("POST /referrals", f"{t.name}.new", "POST", "/referrals", body,
                          lambda c: _has(c, "referrer"), write=True, snapshot=_lists_snapshot(w)))

    for ref in w.refs:
        visible = ref.visible_to
        snap = _ref_snapshot(w, ref)
        calls.append(Call("GET /referrals/{referral_id}", ref.label, "GET", f"/referrals/{ref.id}", None, visible))
        calls.append(Call("GET /referrals/{referral_id}/events", ref.label, "GET", f"/referrals/{ref.id}/events",
                          None, visible))
        for step in STEPS:
            body = json.loads(json.dumps(STEP_BODIES[step]))
            if step in ("transfer", "route"):
                body["to_provider_id"] = _other_sub(ref)
            if step == "transfer":
                entitled = lambda c, r=ref: _has(c, "provider") and c.org in (r.holder, r.tenant.prime)
            elif step in PRIME_STEPS:
                entitled = lambda c, r=ref: _has(c, "provider") and c.org == r.tenant.prime
            elif step == "mentoring_contact":
                entitled = lambda c, r=ref: _has(c, "provider") and c.org == r.mentor
            elif step in COMMISSIONER_STEPS:
                entitled = lambda c, r=ref: _has(c, "commissioner") and c.org == r.tenant.commissioner
            else:
                entitled = lambda c, r=ref: _has(c, "provider") and c.org == r.holder
            calls.append(Call(f"POST /referrals/{{referral_id}}/{step}", ref.label, "POST",
                              f"/referrals/{ref.id}/{step}", body, entitled, write=True, snapshot=snap))
        for return_path in ("re-referrals", "re_referral"):
            # Only the organisation that referred the person refers them back (the return shows it their data).
            calls.append(Call(f"POST /referrals/{{referral_id}}/{return_path}", ref.label, "POST",
                              f"/referrals/{ref.id}/{return_path}", {"consent": {"given": True, "date": TODAY}},
                              lambda c, r=ref: _has(c, "referrer") and c.org == (r.referrer or r.tenant.referrer),
                              write=True,
                              snapshot=snap))
        calls.append(Call("POST /claims", ref.label, "POST", "/claims",
                          {"referral_id": ref.id, "fee_id": ref.tenant.fee_id, "amount_pence": 100,
                           "event_date": TODAY, "evidence_ref": "EV-M"},
                          lambda c, r=ref: _has(c, "provider") and c.org in (r.holder, r.mentor), write=True,
                          snapshot=_lines_snapshot(w, ref.tenant)))

    for line in w.lines:
        snap = _lines_snapshot(w, line.tenant)
        decider = lambda c, ln=line: _has(c, "finance") and c.org == ln.tenant.prime
        calls.append(Call("GET /claims/{line_id}", line.label, "GET", f"/claims/{line.id}", None,
                          lambda c, ln=line: ln.visible_to(c)))
        for action, body in (("approve", {}), ("reject", {"reason": "matrix"}), ("clawback", {"reason": "matrix"})):
            calls.append(Call(f"POST /claims/{{line_id}}/{action}", line.label, "POST", f"/claims/{line.id}/{action}",
                              body, decider, write=True, snapshot=snap))
        calls.append(Call("POST /claims/decisions", line.label, "POST", "/claims/decisions",
                          {"line_ids": [line.id], "decision": "reject", "reason": "matrix"}, decider, write=True,
                          snapshot=snap))

    for f in w.files:
        calls.append(Call("GET /claim-files/{claim_file_id}", f.label, "GET", f"/claim-files/{f.id}", None,
                          lambda c, fl=f: fl.visible_to(c) and _has(c, "finance")))
        filed = next(ln for ln in w.lines if ln.label == f"{f.tenant.name}.line-filed")
        calls.append(Call("GET /claim-files/{claim_file_id}/sample", f.label, "GET", f"/claim-files/{f.id}/sample",
                          None, f.commissioner_finance))
        for action, body in (("sample", {}), ("checks", {"line_id": filed.id, "result": "passed"}),
                             ("payment", {"paid_on": TODAY, "reference": "MATRIX-1"})):
            calls.append(Call(f"POST /claim-files/{{claim_file_id}}/{action}", f.label, "POST",
                              f"/claim-files/{f.id}/{action}", body, f.commissioner_finance, write=True,
                              snapshot=_file_snapshot(w, f)))
    for t in TENANTS.values():
        # A chain member paid through the prime (a Level 1 or 2 group) sees its own row, as a subcontractor does.
        chain = lambda c, tt=t: _has(c, "finance") and c.org in (tt.prime, tt.commissioner, *tt.subs, *tt.chain)
        calls.append(Call("GET /payments/supply-chain", f"{t.name}.programme", "GET",
                          f"/payments/supply-chain?programme={t.programme}&period={PERIOD}", None, chain))
        for i, sub in enumerate((*t.subs, *t.chain), start=1):
            own_row = lambda c, tt=t, s=sub: _has(c, "finance") and c.org in (tt.prime, tt.commissioner, s)
            calls.append(Call("GET /payments/supply-chain", f"{t.name}.s{i}-row", "GET",
                              f"/payments/supply-chain?programme={t.programme}&period={PERIOD}&subcontractor={sub}",
                              None, own_row))
        calls.append(Call("POST /payments/pass-throughs", f"{t.name}.s1", "POST", "/payments/pass-throughs",
                          {"programme_id": t.programme, "period": PERIOD, "subcontractor_org_id": t.subs[0],
                           "amount_pence": 100, "paid_on": TODAY, "reference": "MATRIX-PT"},
                          lambda c, tt=t: _has(c, "finance") and c.org == tt.prime, write=True,
                          snapshot=_chain_snapshot(w, t)))
        rate = f"/programmes/{t.programme}/sample-rate"
        sets_rates = lambda c, tt=t: c.org == tt.commissioner and _has(c, "finance")
        calls.append(Call("GET /programmes/{programme_id}/sample-rate", f"{t.name}.programme", "GET", rate, None,
                          sets_rates))
        calls.append(Call("POST /programmes/{programme_id}/sample-rate", f"{t.name}.programme", "POST", rate,
                          {"sample_rate_bp": 10000}, sets_rates, write=True, snapshot=_rate_snapshot(w, t)))
    for t in TENANTS.values():
        other = next(o for o in TENANTS.values() if o is not t)
        cutter = lambda c, tt=t: _has(c, "finance") and c.org == tt.prime
        calls.append(Call("POST /claim-files", f"{t.name}.programme", "POST", "/claim-files",
                          {"programme_id": t.programme, "period": PERIOD}, cutter, write=True,
                          snapshot=_lists_snapshot(w)))
        # A payee from the other tenant: nobody may put another prime's subcontractor's lines in a file.
        calls.append(Call("POST /claim-files", f"{t.name}.prog+{other.name}.payee", "POST", "/claim-files",
                          {"programme_id": t.programme, "period": PERIOD, "payee_org_id": other.subs[1]},
                          cutter, write=True, snapshot=_lists_snapshot(w)))
    _fund_calls(w, calls)
    # The controller of the participants' data (the programmes' commissioner, its admin key): the access log, an
    # erasure request per referral, a subject access export per person. Nobody else.
    calls.append(Call("GET /access-log", "(list)", "GET", "/access-log?limit=200", None,
                      lambda c: _has(c, "admin")))
    for ref in w.refs:
        controller = lambda c, r=ref: _has(c, "admin") and c.org == r.tenant.commissioner
        calls.append(Call("POST /referrals/{referral_id}/erasure", ref.label, "POST", f"/referrals/{ref.id}/erasure",
                          {"reason": "matrix"}, controller, write=True, snapshot=_ref_snapshot(w, ref)))
        calls.append(Call("POST /subject-access", ref.label, "POST", "/subject-access",
                          {"nino": ref.person["nino"]}, controller, write=True, snapshot=_lists_snapshot(w)))
    return calls


def _spend_snapshot(w: World, spend: Spend):
    def snap():
        return w.api.get(f"/claims/{spend.id}", w.key(DARLINGTON, "finance")).body, w.api.get(
            f"/programmes/{TEES}/flexible-fund", w.key(TVCA, "finance")).body
    return snap


def _fund_calls(w: World, calls: list[Call]) -> None:
    """The coordinator's decisions on a spot purchase (its authority's coordinator only; nobody's on another
    tenant's line) and the fund's report (each authority its own, the combined authority every one)."""
    decisions = (("approve", {}), ("reject", {"reason": "matrix"}))
    for spend in w.spends:
        coordinator = lambda c: _has(c, "coordinator") and c.org == DARLINGTON
        for action, body in decisions:
            calls.append(Call(f"POST /flexible-fund/spends/{{line_id}}/{action}", spend.label, "POST",
                              f"/flexible-fund/spends/{spend.id}/{action}", body, coordinator, write=True,
                              snapshot=_spend_snapshot(w, spend)))
    for line in w.lines:
        for action, body in decisions:
            calls.append(Call(f"POST /flexible-fund/spends/{{line_id}}/{action}", line.label, "POST",
                              f"/flexible-fund/spends/{line.id}/{action}", body, lambda c: False, write=True,
                              snapshot=_lines_snapshot(w, line.tenant)))
    calls.append(Call("GET /programmes/{programme_id}/flexible-fund", "T.fund", "GET",
                      f"/programmes/{TEES}/flexible-fund", None, lambda c: c.org in (*TEES_AUTHORITIES, TVCA)))
    for t in TENANTS.values():
        calls.append(Call("GET /programmes/{programme_id}/flexible-fund", f"{t.name}.programme", "GET",
                          f"/programmes/{t.programme}/flexible-fund", None, lambda c: False))


# ------------------------------------------------------------------ checks


def _markers_hidden_from(w: World, caller: Caller) -> list[str]:
    hidden: list[str] = []
    for ref in w.refs:
        if _has(caller, "admin") and caller.org == ref.tenant.commissioner:
            # The controller knows its participants by referral and reference (its access log, erasure requests),
            # and reads their personal fields only through a subject access export.
            hidden += ref.personal
            continue
        if caller.org in ref.viewers:
            if not ref.works_with_the_person(caller):
                hidden += ref.personal
            continue
        if ref.visible_to(caller):  # the programme's commissioner: the referral, never the person's details
            hidden += ref.personal
            continue
        # A line names its referral and the participant's pseudonymous reference, never the person.
        named_by_a_line = any(line.referral is ref and line.visible_to(caller) for line in w.lines)
        hidden += ref.personal if named_by_a_line else ref.markers
    for line in w.lines:
        if not line.visible_to(caller):
            hidden.append(line.id)
    for f in w.files:
        if not f.id_visible_to(caller):
            hidden.append(f.id)
    for flag in w.flags:
        if caller.org not in flag.viewers:
            hidden.append(flag.id)
    for spend in w.spends:
        if not spend.visible_to(caller):
            hidden += [spend.id, spend.referral_id]
    return [m for m in hidden if m]


def _send(w: World, caller: Caller, call: Call):
    return w.api.call(call.method, call.path, caller.key, call.body)  # key None: no Authorization header


def _leaks(w: World, caller: Caller, call: Call, reply) -> list[str]:
    sent = call.path + json.dumps(call.body or {})
    text = json.dumps(reply.body) + json.dumps(reply.headers)
    return [m for m in _markers_hidden_from(w, caller) if m in text and m not in sent]


def _entitled_to_route(caller: Caller, call: Call) -> bool:
    return bool(call.entitled(caller))


def _print_matrix(w: World, calls: list[Call], cells: dict) -> None:
    codes = [c.code for c in w.callers]
    width = max(len(c) for c in codes) + 1
    print("\n\nAUTHORISATION MATRIX  (status; * = entitled, = = entitled write left for the positive controls, "
          "! = violation)")
    print("callers: " + ", ".join(f"{c.code}={c.org or '-'}:{c.role}" for c in w.callers))
    head = f"{'endpoint':46} {'object':18}" + "".join(f"{c:>{width}}" for c in codes)
    print(head)
    print("-" * len(head))
    for i, call in enumerate(calls):
        row = "".join(f"{cells[(i, c)]:>{width}}" for c in codes)
        print(f"{call.route:46} {call.obj:18}" + row)
    print()


def test_authorisation_matrix(api, keys):
    w = build_world(api, keys)
    calls = build_calls(w)

    # Every GET and POST route is in the matrix.
    from chalicelib.api.application import routes

    declared = {f"{r.method} {r.path}" for r in routes()}
    covered = {c.route for c in calls}
    assert declared - covered == set(), f"routes missing from the matrix: {sorted(declared - covered)}"
    assert covered - declared == set(), f"matrix routes that do not exist: {sorted(covered - declared)}"

    # The leak detector looks for strings the API really returns: each referral's markers are in its holder's view.
    for ref in w.refs:
        own = json.dumps(api.get(f"/referrals/{ref.id}", w.key(ref.holder, "provider")).body)
        assert all(m in own for m in ref.markers), (ref.markers, own[:300])

    world_before = _world_snapshot(w)
    cells: dict = {}
    violations: list[str] = []
    entitled_gets_refused: list[str] = []
    for i, call in enumerate(calls):
        needs_auth = call.route not in ("GET /health", "GET /openapi.json", "GET /rulebook-schema.json")
        before = call.snapshot() if call.write else None  # refused writes leave the target as it was
        writers = []
        for caller in w.callers:
            entitled = _entitled_to_route(caller, call)
            if entitled and call.write:
                cells[(i, caller.code)] = "="
                continue
            reply = _send(w, caller, call)
            writers.append(caller.code)
            mark = "*" if entitled else ""
            problems = []
            if needs_auth and caller.org is None and reply.status != 401:
                problems.append(f"unauthenticated caller got {reply.status}, not 401")
            if not entitled and 200 <= reply.status < 300:
                problems.append(f"not entitled but got {reply.status}")
            if entitled and not call.write and reply.status != 200:
                entitled_gets_refused.append(f"{caller.code} {call.route} [{call.obj}] -> {reply.status} "
                                             f"{reply.body}")
            leaked = _leaks(w, caller, call, reply)
            if leaked:
                problems.append(f"response leaks {leaked[:4]}")
            if problems:
                mark = "!"
                violations.append(f"{caller.code} ({caller.org}:{caller.role}) {call.method} {call.path} "
                                  f"[{call.obj}] -> {reply.status}: {'; '.join(problems)} | "
                                  f"{json.dumps(reply.body)[:300]}")
            cells[(i, caller.code)] = f"{reply.status}{mark}"
        if call.write and call.snapshot() != before:
            violations.append(f"{call.method} {call.path} [{call.obj}]: the refused calls of {writers} changed the "
                              f"target")

    _print_matrix(w, calls, cells)
    unchanged = _world_snapshot(w) == world_before

    # Positive controls: every write the matrix skipped is let through authorisation for its entitled caller (the
    # programme's rules may still refuse it, 409/422, but never 401/403/404). Transfers go last, steps in order.
    refused = []
    order = {step: n for n, step in enumerate(STEPS)}
    skipped = [(call, caller) for call in calls if call.write for caller in w.callers
               if _entitled_to_route(caller, call)]
    skipped.sort(key=lambda cc: (cc[0].route == "POST /referrals/{referral_id}/transfer",
                                 order.get(cc[0].route.rsplit("/", 1)[-1], -1)))
    for call, caller in skipped:
        reply = _send(w, caller, call)
        if reply.status in (401, 403, 404):
            refused.append(f"{caller.code} {call.route} [{call.obj}] -> {reply.status} {reply.body.get('detail')}")
    print(f"positive controls: {len(skipped)} entitled writes, {len(refused)} refused by authorisation")

    report = []
    if violations:
        print("VIOLATIONS:\n  " + "\n  ".join(violations))
        report.append(f"{len(violations)} authorisation violation(s):\n" + "\n".join(violations))
    if not unchanged:
        report.append("the refused calls changed the world (lists, lines, flags or files)")
    if entitled_gets_refused:
        report.append("entitled reads were refused:\n" + "\n".join(entitled_gets_refused))
    if refused:
        report.append("entitled writes refused by authorisation:\n" + "\n".join(refused))
    assert not report, "\n\n".join(report)


# ------------------------------------------------------------------ property level: mass assignment

FORBIDDEN_FIELDS = ("status", "amount_pence", "payee_org_id", "prime_org_id", "organisation", "org_id", "version",
                    "line_id", "referrer_org_id", "provider_org_id", "id", "kind", "claim_file_id",
                    "participant_hash", "milestones_earned", "management_fee_bp", "created_by", "decided_by")


def _declared(schema_cls, location: tuple[str, ...]) -> set[str]:
    schema = schema_cls()
    for name in location:
        schema = schema.fields[name].schema
    return set(schema.fields)


def test_mass_assignment_is_refused_with_unknown_field_and_changes_nothing(api, keys):
    """Every POST body (and every nested object in it) refuses each field a caller may not set, with 422
    unknown_field, as the entitled caller on a real object; nothing changes. Fields that the schema does declare
    (amount_pence on a claim, payee_org_id on a claim-file cut) are listed, and their abuse is covered by the
    matrix and the fuzz tests."""
    from chalicelib.api.application import routes

    w = build_world(api, keys)
    a = TENANTS["A"]
    live = next(r for r in w.refs if r.label == "A.ref-live")
    waiting = next(r for r in w.refs if r.label == "A.ref-waiting")
    line_live = next(ln for ln in w.lines if ln.label == "A.line-live")
    line_filed = next(ln for ln in w.lines if ln.label == "A.line-filed")
    a_file = next(f for f in w.files if f.label == "A.file")
    sub1, sub2 = a.subs

    def step(ref, name, org):
        body = json.loads(json.dumps(STEP_BODIES[name]))
        if name in ("transfer", "route"):
            body["to_provider_id"] = _other_sub(ref)
        if name in COMMISSIONER_STEPS:
            return (f"/referrals/{ref.id}/{name}", w.key(ref.tenant.commissioner, "commissioner"), body)
        return (f"/referrals/{ref.id}/{name}", w.key(org, "provider"), body)

    targets = {
        "POST /referrals": ("/referrals", w.key(a.referrer, "referrer"),
                            {"programme_id": a.programme, "provider_id": sub1, "support_level": "standard",
                             "consent": {"given": True, "date": TODAY}, "participant": _person(a)}),
        "POST /referrals/{referral_id}/acknowledgement": step(waiting, "acknowledgement", sub1),
        "POST /referrals/{referral_id}/re-referrals": (f"/referrals/{live.id}/re-referrals",
                                                       w.key(live.referrer or a.referrer, "referrer"),
                                                       {"consent": {"given": True, "date": TODAY},
                                                        "eligibility": dict(a.eligibility)}),
        "POST /referrals/{referral_id}/re_referral": (f"/referrals/{live.id}/re_referral",
                                                      w.key(live.referrer or a.referrer, "referrer"),
                                                      {"consent": {"given": True, "date": TODAY},
                                                       "eligibility": dict(a.eligibility)}),
        "POST /referrals/{referral_id}/accept": step(waiting, "accept", sub1),
        "POST /referrals/{referral_id}/reject": step(waiting, "reject", sub1),
        "POST /claims": ("/claims", w.key(live.mentor, "provider"),
                         {"referral_id": live.id, "fee_id": a.fee_id, "amount_pence": 100, "event_date": TODAY,
                          "evidence_ref": "EV-M", "contact_ids": ["mc1"]}),
        "POST /claims/{line_id}/approve": (f"/claims/{line_live.id}/approve", w.key(a.prime, "finance"), {}),
        "POST /claims/{line_id}/reject": (f"/claims/{line_live.id}/reject", w.key(a.prime, "finance"),
                                          {"reason": "mass"}),
        "POST /claims/decisions": ("/claims/decisions", w.key(a.prime, "finance"),
                                   {"line_ids": [line_live.id], "decision": "approve"}),
        "POST /claims/{line_id}/clawback": (f"/claims/{line_filed.id}/clawback", w.key(a.prime, "finance"),
                                            {"reason": "mass"}),
        "POST /claim-files": ("/claim-files", w.key(a.prime, "finance"), {"programme_id": a.programme,
                                                                          "period": PERIOD}),
        "POST /payments/pass-throughs": ("/payments/pass-throughs", w.key(a.prime, "finance"),
                                         {"programme_id": a.programme, "period": PERIOD,
                                          "subcontractor_org_id": sub1, "amount_pence": 100, "paid_on": TODAY,
                                          "reference": "MASS-PT"}),
        "POST /programmes/{programme_id}/sample-rate": (f"/programmes/{a.programme}/sample-rate",
                                                        w.key(a.commissioner, "finance"), {"sample_rate_bp": 500}),
        "POST /claim-files/{claim_file_id}/sample": (f"/claim-files/{a_file.id}/sample",
                                                     w.key(a.commissioner, "finance"), {}),
        "POST /claim-files/{claim_file_id}/checks": (f"/claim-files/{a_file.id}/checks",
                                                     w.key(a.commissioner, "finance"),
                                                     {"line_id": line_filed.id, "result": "passed"}),
        "POST /claim-files/{claim_file_id}/payment": (f"/claim-files/{a_file.id}/payment",
                                                      w.key(a.commissioner, "finance"),
                                                      {"paid_on": TODAY, "reference": "MASS-1"}),
    }
    for name in STEPS:
        targets.setdefault(f"POST /referrals/{{referral_id}}/{name}", step(live, name, sub2))
    spend = w.spends[0]
    for action in ("approve", "reject"):
        targets[f"POST /flexible-fund/spends/{{line_id}}/{action}"] = (
            f"/flexible-fund/spends/{spend.id}/{action}", w.key(DARLINGTON, "coordinator"), {"reason": "mass"})
    controller = w.key(a.commissioner, "admin")
    targets["POST /referrals/{referral_id}/erasure"] = (f"/referrals/{waiting.id}/erasure", controller,
                                                         {"reason": "mass"})
    targets["POST /subject-access"] = ("/subject-access", controller, {"nino": waiting.person["nino"]})

    posts = [r for r in routes() if r.method == "POST"]
    assert {f"POST {r.path}" for r in posts} == set(targets), "every POST route has a mass-assignment target"

    before = _world_snapshot(w)
    table, failures, declared_notes = [], [], []
    for route in posts:
        label = f"POST {route.path}"
        path, key, base = targets[label]
        locations = [()] + [(n,) for n, f in route.body().fields.items() if hasattr(f, "schema")]
        locations += [(n, m) for (n,) in locations[1:] for m, g in route.body().fields[n].schema.fields.items()
                      if hasattr(g, "schema")]
        for location in locations:
            declared = _declared(route.body, location)
            for name in FORBIDDEN_FIELDS:
                where = ".".join(location + (name,))
                if name in declared:
                    declared_notes.append(f"{label}: {where} is a declared field")
                    continue
                body = json.loads(json.dumps(base))
                parent = body
                for part in location:
                    parent = parent.setdefault(part, {})
                parent[name] = "mallory" if name not in ("version", "amount_pence", "management_fee_bp") else 99
                reply = api.post(path, key, body)
                errors = reply.body.get("errors") if isinstance(reply.body, dict) else None
                ok = (reply.status == 422 and reply.headers.get("content-type", "").startswith("application/problem")
                      and errors == [{"field": where, "rule": "unknown_field", "message": "Unknown field."}])
                table.append(f"{label:48} {where:40} {reply.status}{'' if ok else ' !'}")
                if not ok:
                    failures.append(f"{label} with {where}: {reply.status} {json.dumps(reply.body)[:300]}")

    print("\n\nMASS ASSIGNMENT (route, field -> status; ! = not refused as unknown_field)")
    print("\n".join(table))
    print("declared (by design, not mass assignment):\n  " + "\n  ".join(sorted(set(declared_notes))))
    assert not failures, f"{len(failures)} mass-assignment field(s) not refused:\n" + "\n".join(failures)
    assert _world_snapshot(w) == before, "a refused mass-assignment request changed something"


# ------------------------------------------------------------------ specific findings, one test each


def test_a_prime_cannot_cut_claim_files_for_a_programme_it_does_not_deliver(api, keys):
    """API5 (function level). chalicelib/services/claim_files.py `cut` checks the finance role and that the caller
    is a prime, but not that the prime delivers the programme: Work Choice's prime gets a 201 and a claim-file
    record (cf-flexible-routeways-norfolk-...-pathway-employment-prime) in Norfolk's programme. It holds no lines
    (they are filtered by prime), so nothing leaks - but the call should be refused (403/404/422)."""
    w = build_world(api, keys)
    b = TENANTS["B"]
    reply, _ = cut_claim_file(api, w.key(b.prime, "finance"), {"programme_id": NORFOLK, "period": PERIOD})
    assert reply.status == 404, reply.body  # refused for the programme, not for the date: the period has ended
    assert not 200 <= reply.status < 300, f"{b.prime} cut a {NORFOLK} claim file: {reply.status} {reply.body}"


def test_run_summary_counts_only_the_callers_organisations(api, keys):
    """API3 (property level). GET /compliance/runs/{run_date} is documented as '... tranches paid, referrals closed,
    programme checks (your organisations only)' and filters `flags` and `checks` by the caller's organisations, but
    chalicelib/api/compliance.py:56-58 copies `tranches`, `tranche_pence`, `closed` and `items_read` from the
    whole run: a Norfolk subcontractor (or any key, even a referrer's) sees how much Work Choice's providers were
    paid that night."""
    from chalicelib.services import nightly

    w = build_world(api, keys)
    on = "2026-12-24"  # Work Choice's first service-fee tranche for a 2026-11-24 start falls due
    counts = nightly.run(date.fromisoformat(on))["counts"]

    def total(value) -> int:  # a number, or numbers per organisation (as the run now keeps them)
        return sum(value.values()) if isinstance(value, dict) else int(value or 0)

    assert total(counts.get("tranches")) >= 1 and total(counts.get("tranche_pence")) > 0, counts
    for caller in ("kings-lynn-works", "provider"), ("trobius", "finance"), ("jobcentre-plus-norwich", "referrer"):
        reply = api.get(f"/compliance/runs/{on}", w.key(*caller))
        assert reply.status == 200, reply.body
        # Norfolk pays no service-fee tranches at all: all of these are Work Choice's.
        seen = {k: reply.body[k] for k in ("tranches", "tranche_pence")}
        assert seen == {"tranches": 0, "tranche_pence": 0}, f"{caller[0]} sees another tenant's totals: {seen}"


# ------------------------------------------------------------------ field level: need to know


def test_personal_fields_are_shown_only_to_the_roles_working_with_the_person(api, keys):
    """Every caller who may see a referral gets it, in the single view, the list and the answer to a step it may
    take; the personal fields come only to the referrer role of the referring organisation and the provider role of
    the holder. The others get the pseudonymous reference, the same one every claim file uses."""
    w = build_world(api, keys)
    shown, withheld = [], []
    for ref in w.refs:
        for caller in w.callers:
            if caller.org not in ref.viewers:
                continue
            one = api.get(f"/referrals/{ref.id}", caller.key)
            assert one.status == 200, (caller.code, one.body)
            listed = [i for i in api.get("/referrals?limit=100", caller.key).body.get("items", []) if i["id"] == ref.id]
            for view in [one.body, *listed]:
                participant = view["participant"]
                assert participant["reference"] == ref.reference
                if ref.works_with_the_person(caller):
                    assert participant["personal_data"] == "shown"
                    assert participant["nino"] == ref.person["nino"] and "priority_groups" in view
                    shown.append(caller.code)
                else:
                    assert participant == {"reference": ref.reference, "personal_data": "withheld"}, caller.code
                    assert "priority_groups" not in view
                    assert not [m for m in ref.personal if m in json.dumps(view)], caller.code
                    withheld.append(caller.code)
    assert {"A.ref", "A.s1/p", "A.s2/p", "B.ref"} <= set(shown)
    assert {"A.P/p", "A.P/f", "A.P/rp", "A.s1/f", "B.P/p", "B.P/f"} <= set(withheld)
    # A step taken by the prime (a transfer) answers with the referral as the prime may see it.
    ref = next(r for r in w.refs if r.label == "A.ref-live")
    moved = api.post(f"/referrals/{ref.id}/transfer", w.key(ref.tenant.prime, "provider"),
                     {"to_provider_id": _other_sub(ref), "date": TODAY, "handover": {"date": TODAY}})
    assert moved.status == 200, moved.body
    assert moved.body["participant"] == {"reference": ref.reference, "personal_data": "withheld"}
    # ... and the new holder now works with the person.
    now = api.get(f"/referrals/{ref.id}", w.key(_other_sub(ref), "provider")).body["participant"]
    assert now["personal_data"] == "shown" and now["nino"] == ref.person["nino"]
    old = api.get(f"/referrals/{ref.id}", w.key(ref.holder, "provider"))
    assert old.status == 404  # the former holder no longer sees the referral at all
