"""One registry of journey steps (chalicelib/domain/steps.py): a step declared there, and nowhere else, gets its
route, its state transitions, its request schema and OpenAPI entry, its place in `allowed_actions` and its event."""
from __future__ import annotations

import pytest

from chalicelib.domain import inputs, lifecycle, steps
from chalicelib.domain.referral import Change
from chalicelib.domain.states import IN_SUPPORT, IN_WORK
from tests.conftest import Api, referral_body


def wellbeing_check(rulebook, referral, payload, today) -> Change:
    """The throwaway step's own rule: a score from 1 to 10, on a day not in the future."""
    return Change(payload["date"], {"score": payload["score"]})


WELLBEING = steps.StepDef(
    "wellbeing_check", "Record a wellbeing check-in", {IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK}, wellbeing_check,
    {"date": inputs.Date(), "score": inputs.Int(1, 10, description="how the participant feels, 1 to 10")},
    creates_record=True)


@pytest.fixture
def registered():
    steps.register(WELLBEING)
    try:
        yield WELLBEING
    finally:
        steps.unregister(WELLBEING.name)


@pytest.fixture
def app_api(keys, registered):
    from chalice.test import Client

    from chalicelib.wiring import create_app

    with Client(create_app(), stage_name="dev") as client:
        yield Api(client)


def _in_support(api: Api, keys) -> str:
    rid = api.post("/referrals", keys["referrer"], referral_body()).body["id"]
    for name in ("accept", "start", "assessment", "action_plan"):
        assert api.post(f"/referrals/{rid}/{name}", keys["provider"], {"date": "2026-11-24"}).status in (200, 201)
    return rid


def test_a_registered_step_gets_its_route_transitions_schema_openapi_entry_and_event(app_api, keys):
    provider = keys["provider"]
    rid = app_api.post("/referrals", keys["referrer"], referral_body()).body["id"]

    # The state machine: not offered, and refused naming the state, before the referral is in support.
    assert "wellbeing_check" not in app_api.get(f"/referrals/{rid}", provider).body["allowed_actions"]
    early = app_api.post(f"/referrals/{rid}/wellbeing_check", provider, {"date": "2026-11-24", "score": 7})
    assert early.status == 409 and early.body["current_state"] == "referred"
    assert lifecycle.transitions()["wellbeing_check"] == {IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK}

    for name in ("accept", "start", "assessment", "action_plan"):
        app_api.post(f"/referrals/{rid}/{name}", provider, {"date": "2026-11-24"})
    assert "wellbeing_check" in app_api.get(f"/referrals/{rid}", provider).body["allowed_actions"]

    # The request schema, from the step's input declaration.
    bad = app_api.post(f"/referrals/{rid}/wellbeing_check", provider, {"date": "2026-11-24", "score": 11})
    assert bad.status == 422 and [(e["field"], e["rule"]) for e in bad.body["errors"]] == [("score", "range")]
    unknown = app_api.post(f"/referrals/{rid}/wellbeing_check", provider, {"date": "2026-11-24", "mood": "x",
                                                                          "score": 5})
    assert unknown.status == 422 and unknown.body["errors"][0]["rule"] == "unknown_field"

    # The route, answered 201 (it adds a record), and the event under the same one name.
    done = app_api.post(f"/referrals/{rid}/wellbeing_check", provider, {"date": "2026-11-24", "score": 7})
    assert done.status == 201 and done.body["status"] == "in_support"
    events = app_api.get(f"/referrals/{rid}/events", provider).body["items"]
    assert (events[-1]["type"], events[-1]["data"], events[-1]["occurred_on"]) == (
        "wellbeing_check", {"score": 7}, "2026-11-24")

    # Only the holder records it.
    assert app_api.post(f"/referrals/{rid}/wellbeing_check", keys["referrer"],
                        {"date": "2026-11-24", "score": 7}).status == 403

    # The OpenAPI document has the operation and its request schema.
    doc = app_api.get("/openapi.json").body
    operation = doc["paths"]["/referrals/{referral_id}/wellbeing_check"]["post"]
    assert operation["summary"] == "Record a wellbeing check-in" and "201" in operation["responses"]
    schema = doc["components"]["schemas"]["WellbeingCheckIn"]
    assert schema["properties"]["score"]["maximum"] == 10 and set(schema["required"]) == {"date", "score"}


def test_without_the_registration_there_is_no_such_step(api, keys):
    rid = _in_support(api, keys)
    assert "wellbeing_check" not in lifecycle.transitions()
    reply = api.post(f"/referrals/{rid}/wellbeing_check", keys["provider"], {"date": "2026-11-24", "score": 7})
    assert reply.status in (403, 404)
    assert "/referrals/{referral_id}/wellbeing_check" not in api.get("/openapi.json").body["paths"]


def test_a_name_is_registered_once_and_built_in_steps_stay():
    with pytest.raises(ValueError):
        steps.register(steps.StepDef("start", "again", {}, wellbeing_check))
    with pytest.raises(ValueError):
        steps.unregister("start")


def test_every_offered_step_has_one_name_in_its_route_event_and_allowed_actions():
    from chalicelib.api.application import routes

    paths = {r.path for r in routes() if r.method == "POST"}
    for step in steps.all_steps():
        if step.offered:
            assert f"/referrals/{{referral_id}}/{step.name}" in paths, step.name
    offered = {a for state in lifecycle.STATES for a in lifecycle.allowed_actions(state)}
    assert offered == {s.name for s in steps.all_steps() if s.offered}
