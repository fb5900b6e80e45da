"""Throttling on the running local server, which meters requests as the deployed gateway does (the usage plan's
rate and burst per key, the stage's over everything, both read from infra/template.json): a burst from one key is
held back with 429 problems carrying Retry-After, never a 5xx; other keys go on; a throttled write changes
nothing; a flood of unknown keys is held back together."""
from __future__ import annotations

import secrets
import time

from devtools.chalice_local import plan_limits, stage_limits
from tests.integration.conftest import race, referral_body

GATEWAY_THROTTLING = True  # this module's server meters as deployed (tests/integration/conftest.py)
BURST = 60


def _rest() -> None:
    """Long enough for any key's bucket to fill up again."""
    time.sleep(plan_limits().burst / plan_limits().rate + 0.5)


def _timed_burst(n: int, action) -> tuple[list, float]:
    started = time.monotonic()
    replies = race(n, action)
    return replies, time.monotonic() - started


def _check_429(reply) -> None:
    assert reply.headers["content-type"] == "application/problem+json", reply
    assert int(reply.headers["retry-after"]) >= 1
    assert reply.body["status"] == 429 and reply.body["type"] == "https://refpay.dev/problems/throttled", reply
    assert reply.body["request_id"] and reply.body["request_id"] != "$context.requestId"


def test_a_burst_from_one_key_is_held_back_with_429_problems_and_no_5xx(server):
    _rest()
    key = server.keys["referrer"]
    replies, took = _timed_burst(BURST, lambda _: server.get("/programmes", key))
    statuses = [r.status for r in replies]
    assert set(statuses) <= {200, 429}, statuses
    limits = plan_limits()
    # No more through than the bucket holds plus what it refills while the burst lasts.
    assert statuses.count(200) <= limits.burst + limits.rate * took + 1, (statuses.count(200), took)
    assert statuses.count(429) > 0
    for reply in replies:
        if reply.status == 429:
            _check_429(reply)
    # Another key is metered on its own: it goes on at once.
    assert server.get("/programmes", server.keys["provider"]).status == 200
    # After the Retry-After, the key goes on too.
    time.sleep(int(next(r for r in replies if r.status == 429).headers["retry-after"]))
    assert server.get("/programmes", key).status == 200


def test_a_throttled_write_changes_nothing(server):
    _rest()
    key = server.orgs["tees-valley-jcp"]["referrer"]
    bodies = [referral_body(programme_id="tees-valley-routes-to-work", provider_id="hartlepool-council",
                            support_level="weekly") for _ in range(BURST)]
    for body in bodies:
        body["participant"]["postcode"] = "TS24 7AA"  # a Hartlepool resident
    replies, took = _timed_burst(BURST, lambda i: server.post(
        "/referrals", key, bodies[i], headers={"Idempotency-Key": f"burst-{i}-{secrets.token_hex(4)}"}))
    statuses = [r.status for r in replies]
    assert set(statuses) <= {201, 429}, [r for r in replies if r.status not in (201, 429)][:3]
    # (A slow machine spreads the writes out and the bucket refills meanwhile: the bound, not a 429, is the rule.)
    limits = plan_limits()
    assert statuses.count(201) <= limits.burst + limits.rate * took + 1, (statuses.count(201), took)
    _rest()
    listed = server.get("/referrals?limit=100", key)
    assert listed.status == 200
    made = {r.body["id"] for r in replies if r.status == 201}
    assert {item["id"] for item in listed.body["items"]} == made


def test_a_flood_of_unknown_keys_is_held_back_together(server):
    _rest()
    replies = race(BURST, lambda _: server.get("/referrals", "rp_" + secrets.token_urlsafe(32)))
    statuses = [r.status for r in replies]
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(429) > 0  # one bucket for every unknown key, not one each
    for reply in replies:
        if reply.status == 429:
            _check_429(reply)
    # A known key is not held back by them.
    assert server.get("/programmes", server.keys["finance"]).status == 200


def test_public_routes_are_under_the_stage_s_throttle_only(server):
    _rest()
    assert stage_limits().burst > BURST
    replies = race(BURST, lambda _: server.get("/health"))
    assert [r.status for r in replies] == [200] * BURST
