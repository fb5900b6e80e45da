"""What each claim write costs on Amazon's DynamoDB Local (devtools/write_meter.py `claim_costs`, which
bench/write_units.py reports from): a write that makes more round trips than one consistent read and one
transaction, or a replay that reads more than once, fails here.

A Level 2 group's mentoring claim on each of five referrals (the prime routed them to a Level 3 deliverer, which
started them): `POST /claims` claims the first; the prime's finance, which pays its chain's lines, approves it,
rejects the second, approves the other three in one bulk decision and claws the first back. Each is then sent
again with its Idempotency-Key.

The idempotency record, the lines the request names (the path's `line_id`, or a bulk decision's `line_ids`), the
line it makes (a claim's or a reversal's id is fixed by the request) and, for a claim, its referral with its
sealed personal fields are read in one TransactGetItems; the request's reads of the lines answer from it.
"""
from __future__ import annotations

import pytest

from devtools.write_meter import NOT_LOCAL, claim_costs, environment
from tests.integration.conftest import fresh_nino

KEYED_WRITE = "TransactGetItems TransactWriteItems"
WRITES = ("POST /claims", "approve", "reject", "decide 3 lines", "claw back")
# Write units as DynamoDB Local reports them (per table and index: a payment line's five indexes project whole
# lines; the file queue holds approved lines only, so a rejection writes nothing to it).
WRITE_UNITS = {"POST /claims": 12, "approve": 14, "reject": 12, "decide 3 lines": 14, "claw back": 14}


@pytest.fixture(scope="module")
def costs(dynamodb_endpoint):
    """The claim writes, measured in-process against the session's DynamoDB Local (a namespace of its own)."""
    with pytest.MonkeyPatch.context() as env:
        for name in NOT_LOCAL:
            env.delenv(name, raising=False)
        for name, value in environment(dynamodb_endpoint, "it-claim-round-trips").items():
            env.setenv(name, value)
        return {c.request: c for c in claim_costs(tuple(fresh_nino() for _ in range(5)))}


def test_every_claim_write_is_one_consistent_read_and_one_transaction(costs):
    assert {w: (costs[w].status, costs[w].calls) for w in WRITES} == {
        "POST /claims": (201, KEYED_WRITE), "approve": (200, KEYED_WRITE), "reject": (200, KEYED_WRITE),
        "decide 3 lines": (200, KEYED_WRITE), "claw back": (201, KEYED_WRITE)}


def test_each_claim_write_writes_what_it_changes_and_its_record(costs):
    written = {w: sorted(f"{x.operation} {x.table.removeprefix('refpay-dev-')}" for x in costs[w].written)
               for w in WRITES}
    assert written == {
        "POST /claims": ["Put idempotency", "Put payment-lines"],
        "approve": ["Put idempotency", "Update payment-lines"],
        "reject": ["Put idempotency", "Update payment-lines"],
        "decide 3 lines": ["Put idempotency"] + ["Update payment-lines"] * 3,
        "claw back": ["Put idempotency", "Put payment-lines"]}
    over = {w: (costs[w].write_units, bound) for w, bound in WRITE_UNITS.items() if costs[w].write_units > bound}
    assert over == {}


def test_a_replayed_claim_write_is_one_read_and_writes_nothing(costs):
    replays = {w: (costs[f"{w}, replayed"].status, costs[f"{w}, replayed"].calls, costs[f"{w}, replayed"].write_units)
               for w in WRITES}
    assert replays == {w: (costs[w].status, "TransactGetItems", 0) for w in WRITES}
