"""Every forbidden state transition through the API: 409 naming the current state, and nothing changes.

Referrals are driven into each lifecycle state through the API once per module; then every journey step whose
action the state does not allow is sent with an otherwise valid body. The table of allowed actions is written
out here (rather than imported from lifecycle.py) so the test is an independent statement of the rules.
Date and amount validation of the steps is checked the same way: 422, naming the field, nothing changed.
"""
from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

from tests.conftest import TODAY, Api, referral_body

NORFOLK = "flexible-routeways-norfolk"
WORK_CHOICE = "work-choice"
TOMORROW = "2026-11-25"

# state -> the actions the holding provider may take from it (lifecycle.TRANSITIONS, read the other way round; the
# prime's routing and party steps, a mentor's contacts and a hub's spoke handover are not the holder's)
ALLOWED = {
    "referred": {"accept", "reject"},
    "accepted": {"start", "did_not_start", "transfer"},
    "rejected": set(),
    "did_not_start": set(),
    "started": {"assessment", "module_move", "transfer", "exit"},
    "assessed": {"assessment", "action_plan", "job_start", "module_move", "transfer", "exit"},
    "in_support": {"assessment", "action_plan", "review", "job_start", "module_move", "transfer", "exit"},
    "in_work": {"assessment", "action_plan", "review", "job_start", "sustainment", "progression", "module_move",
                "transfer", "exit"},
    "exited": {"re_referral"},
}
STATES = list(ALLOWED)

JOB_START = {"type": "job_start", "date": TODAY, "employer_name": "Norwich Foods Ltd", "hours_per_week": 20,
             "weekly_earnings_pence": 24000}
EXIT = {"date": TODAY, "reason": "withdrew", "exit_review": {"date": TODAY, "destination": "unemployed"}}

# action -> (path under /referrals/{id}, an otherwise valid body). Module moves run on work-choice (Norfolk has
# no modules); re-referrals are sent by the referrer, everything else by the holder.
ACTIONS = {
    "accept": ("acknowledgement", {"decision": "accept", "date": TODAY}),
    "reject": ("acknowledgement", {"decision": "reject", "date": TODAY, "reason": "declined"}),
    "start": ("start", {"date": TODAY}),
    "did_not_start": ("did-not-start", {"date": TODAY, "reason": "failed_to_attend"}),
    "assessment": ("assessments", {"date": TODAY}),
    "action_plan": ("action-plans", {"date": TODAY, "document_ref": "AP-2"}),
    "review": ("reviews", {"date": TODAY}),
    "job_start": ("outcomes", JOB_START),
    "sustainment": ("outcomes", {"type": "sustainment", "checkpoint": "13-weeks", "date": TODAY}),
    "progression": ("outcomes", {"type": "progression", "date": TODAY}),
    "module_move": ("module", {"module_id": "transitional-supported-employment", "date": TODAY}),
    "transfer": ("transfer", {"to_provider_id": "great-yarmouth-works", "date": TODAY,
                              "handover": {"date": TODAY, "document_ref": "HO-2"}}),
    "exit": ("exit", EXIT),
    "re_referral": ("re-referrals", {"consent": {"given": True, "date": TODAY}}),
}
WORK_CHOICE_TRANSFER_TO = "riverside-disability-works"

# How to reach each state from 'referred' (on either programme).
PATHS = {
    "referred": [],
    "accepted": ["accept"],
    "rejected": ["reject"],
    "did_not_start": ["accept", "did_not_start"],
    "started": ["accept", "start"],
    "assessed": ["accept", "start", "assessment"],
    "in_support": ["accept", "start", "assessment", "action_plan"],
    "in_work": ["accept", "start", "assessment", "action_plan", "job_start"],
    "exited": ["accept", "start", "exit"],
}
WORK_CHOICE_STATES = [s for s in STATES if "module_move" not in ALLOWED[s]] + ["started"]

FORBIDDEN = [(state, action) for state in STATES for action in ACTIONS if action not in ALLOWED[state]]


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


class World:
    def __init__(self, api: Api, keys: dict):
        self.api = api
        self.keys = keys
        self.referrer = keys["jobcentre-plus-norwich"]["referrer"]
        self.holders = {NORFOLK: keys["kings-lynn-works"]["provider"],
                        WORK_CHOICE: keys["brightside-supported-employment"]["provider"]}
        self.referrals: dict[tuple[str, str], str] = {}  # (programme, state) -> referral id
        self.baselines: dict[str, tuple] = {}  # referral id -> snapshot once driven; no test may change these
        self._ninos = iter(f"JH{n:06d}A" for n in range(100001, 999999))

    def refer(self, programme_id: str, consent_date: str = TODAY) -> str:
        person = {"nino": next(self._ninos), "given_name": "Ada", "family_name": "Lovelace",
                  "date_of_birth": "1990-05-17", "postcode": "NR1 3QU",
                  "eligibility": {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True, "on_other_dwp_programme": False}}
        provider = "kings-lynn-works"
        if programme_id == WORK_CHOICE:
            person["eligibility"] = {"disabled": True, "right_to_work": True}
            provider = "brightside-supported-employment"
        body = referral_body(programme_id=programme_id, provider_id=provider, support_level="standard",
                             consent={"given": True, "date": consent_date}, participant=person)
        reply = self.api.post("/referrals", self.referrer, body)
        assert reply.status == 201, reply.body
        return reply.body["id"]

    def send(self, programme_id: str, referral_id: str, action: str, body: dict | None = None):
        path, default = ACTIONS[action]
        body = json.loads(json.dumps(default if body is None else body))
        if action == "transfer" and programme_id == WORK_CHOICE:
            body["to_provider_id"] = WORK_CHOICE_TRANSFER_TO
        key = self.referrer if action == "re_referral" else self.holders[programme_id]
        return self.api.post(f"/referrals/{referral_id}/{path}", key, body)

    def drive(self, programme_id: str, state: str) -> str:
        rid = self.refer(programme_id)
        for action in PATHS[state]:
            reply = self.send(programme_id, rid, action)
            assert reply.status in (200, 201), (state, action, reply.body)
        return rid

    def view(self, programme_id: str, referral_id: str) -> dict:
        reply = self.api.get(f"/referrals/{referral_id}", self.holders[programme_id])
        assert reply.status == 200, reply.body
        return reply.body

    def snapshot(self, programme_id: str, referral_id: str) -> tuple:
        view = self.view(programme_id, referral_id)
        events = self.api.get(f"/referrals/{referral_id}/events?limit=200", self.holders[programme_id]).body["items"]
        return view["version"], view["status"], len(events)


@pytest.fixture(scope="module")
def world():
    from chalice.test import Client
    from moto import mock_aws

    with _module_env(), mock_aws():
        from chalicelib.services import auth
        from chalicelib.services.admin import seed_demo
        from chalicelib.store.tables import create_tables

        create_tables("dev")
        auth.clear_cache()
        demo = seed_demo()
        import app as application

        with Client(application.app, stage_name="dev") as client:
            w = World(Api(client), demo["organisations"])
            for programme_id, states in ((NORFOLK, STATES), (WORK_CHOICE, WORK_CHOICE_STATES)):
                for state in states:
                    rid = w.referrals[(programme_id, state)] = w.drive(programme_id, state)
                    w.baselines[rid] = w.snapshot(programme_id, rid)
            yield w
        auth.clear_cache()


def _programme_for(action: str) -> str:
    return WORK_CHOICE if action == "module_move" else NORFOLK


def assert_problem(reply, status: int) -> None:
    assert reply.status == status, reply.body
    assert reply.headers.get("content-type", "").startswith("application/problem+json"), reply.headers
    assert reply.body["status"] == status


# ------------------------------------------------------------------ the states are what they claim


@pytest.mark.parametrize("programme_id, state", [(NORFOLK, s) for s in STATES]
                         + [(WORK_CHOICE, s) for s in WORK_CHOICE_STATES])
def test_driven_referral_is_in_the_state_and_offers_its_actions(world, programme_id, state):
    view = world.view(programme_id, world.referrals[(programme_id, state)])
    assert view["status"] == state
    offered = set(view["allowed_actions"])
    if state in ("rejected", "did_not_start"):
        assert offered == set()
    elif state == "exited":  # a return is the referrer's, offered only where the programme allows one
        assert offered == set()
        as_referrer = world.api.get(f"/referrals/{world.referrals[(programme_id, state)]}", world.referrer).body
        assert set(as_referrer["allowed_actions"]) == ({"re_referral"} if programme_id == WORK_CHOICE else set())
    elif programme_id == WORK_CHOICE and "module_move" in ALLOWED[state]:
        # On provision, Module 1's end may be extended: the holder may ask for more time.
        assert offered == ALLOWED[state] | {"module_extension_request"}
    else:
        assert offered == ALLOWED[state]


# ------------------------------------------------------------------ every forbidden transition


@pytest.mark.parametrize("state, action", FORBIDDEN, ids=[f"{s}-{a}" for s, a in FORBIDDEN])
def test_forbidden_transition_answers_409_naming_the_state(world, state, action):
    programme_id = _programme_for(action)
    rid = world.referrals[(programme_id, state)]

    reply = world.send(programme_id, rid, action)

    assert_problem(reply, 409)
    assert reply.body["type"].endswith("/invalid-transition"), reply.body
    assert reply.body["current_state"] == state
    assert f"'{state}'" in reply.body["detail"]
    assert world.snapshot(programme_id, rid) == world.baselines[rid]


# ------------------------------------------------------------------ dates and amounts

# (state the step is allowed from, action, programme)
DATED_STEPS = [
    ("referred", "accept", NORFOLK), ("referred", "reject", NORFOLK), ("accepted", "start", NORFOLK),
    ("accepted", "did_not_start", NORFOLK), ("accepted", "transfer", NORFOLK), ("started", "assessment", NORFOLK),
    ("assessed", "action_plan", NORFOLK), ("in_support", "review", NORFOLK), ("in_support", "job_start", NORFOLK),
    ("in_work", "sustainment", NORFOLK), ("in_work", "progression", NORFOLK), ("started", "exit", NORFOLK),
    ("started", "module_move", WORK_CHOICE),
]


@pytest.mark.parametrize("state, action, programme_id", DATED_STEPS, ids=[f"{s}-{a}" for s, a, _ in DATED_STEPS])
def test_a_step_dated_in_the_future_is_refused(world, state, action, programme_id):
    rid = world.referrals[(programme_id, state)]
    body = {**ACTIONS[action][1], "date": TOMORROW}

    reply = world.send(programme_id, rid, action, body)

    assert_problem(reply, 422)
    assert reply.body["errors"][0]["field"] == "date"
    assert reply.body["errors"][0]["rule"] == "not_in_future"
    assert world.snapshot(programme_id, rid) == world.baselines[rid]


def test_dates_before_the_previous_step_are_refused(world, monkeypatch):
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-16")
    rid = world.refer(NORFOLK, consent_date="2026-11-16")  # referred on Mon 16 Nov
    monkeypatch.setenv("REFPAY_TODAY", TODAY)

    early_ack = world.send(NORFOLK, rid, "accept", {"decision": "accept", "date": "2026-11-13"})
    assert_problem(early_ack, 422)
    assert early_ack.body["errors"][0]["field"] == "date" and early_ack.body["errors"][0]["rule"] == "not_before"

    assert world.send(NORFOLK, rid, "accept", {"decision": "accept", "date": "2026-11-18"}).status == 200
    before = world.snapshot(NORFOLK, rid)
    for action, body in (("start", {"date": "2026-11-17"}),
                         ("did_not_start", {"date": "2026-11-17", "reason": "failed_to_attend"})):
        reply = world.send(NORFOLK, rid, action, body)
        assert_problem(reply, 422)
        assert reply.body["errors"][0]["field"] == "date", action
        assert reply.body["errors"][0]["rule"] == "not_before", action
        assert "acknowledgement" in reply.body["errors"][0]["message"]
    assert world.snapshot(NORFOLK, rid) == before
    started = world.send(NORFOLK, rid, "start", {"date": "2026-11-18"})  # the same day is fine
    assert started.status == 200 and started.body["started_on"] == "2026-11-18"


BAD_JOBS = [
    ("hours-zero", {"hours_per_week": 0}, "hours_per_week"),
    ("hours-100", {"hours_per_week": 100}, "hours_per_week"),
    ("hours-negative", {"hours_per_week": -5}, "hours_per_week"),
    ("earnings-negative", {"weekly_earnings_pence": -1}, "weekly_earnings_pence"),
    ("earnings-very-negative", {"weekly_earnings_pence": -24000}, "weekly_earnings_pence"),
]


@pytest.mark.parametrize("change, field", [(c, f) for _, c, f in BAD_JOBS], ids=[n for n, _, _ in BAD_JOBS])
def test_job_start_hours_and_earnings_are_checked(world, change, field):
    rid = world.referrals[(NORFOLK, "in_support")]

    reply = world.send(NORFOLK, rid, "job_start", {**JOB_START, **change})

    assert_problem(reply, 422)
    assert [e["field"] for e in reply.body["errors"]] == [field], reply.body
    assert world.snapshot(NORFOLK, rid) == world.baselines[rid]


def test_hours_at_the_limits_are_accepted(world):
    rid = world.drive(NORFOLK, "in_support")
    for hours in (0.5, 80):  # a first job, then a replacement job (allowed while in work)
        reply = world.send(NORFOLK, rid, "job_start", {**JOB_START, "hours_per_week": hours})
        assert reply.status == 201, reply.body
        assert reply.body["status"] == "in_work" and reply.body["job_start"]["hours_per_week"] == hours
