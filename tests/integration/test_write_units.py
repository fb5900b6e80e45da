"""What each journey step costs on Amazon's DynamoDB Local, measured from the engine's own ConsumedCapacity
(devtools/write_meter.py, which bench/write_units.py reports from): a step that makes more round trips or writes
more units than its bound fails here.

Every keyed write is 2 round trips: one TransactGetItems of its idempotency record and the referral it
changes (a new referral: the person's record, for the duplicate check), then one TransactWriteItems. A replayed
step is that one read and writes nothing. A replayed POST /referrals reads the record, then the referral it names
(its id is only known from the record): 2 reads, no writes. GET /referrals/{id} is one read of the referral and
its personal fields.

Write units: a transactional write costs 2 units per KiB (rounded up) of each item it writes. A step rewrites the
referral (under 1 KiB: its personal fields are sealed in an item of their own, written when the referral is made
and deleted when they are erased, and nothing unset is stored), adds its event and the idempotency record: 6
units, all a review costs. The referral's indexes project keys only, so a step that leaves the referral's
organisations as they were writes nothing to them.
- accept, assessment, action plan 8: the deadline the step answers goes (its pending item deleted; the action
  plan's review deadline replaces it). Its flag is written only if the nightly run raised one: the referral
  records the flags raised on it, so where none was, the step writes nothing to the flags.
- Above 8, each extra item is a count or money:
  - job start 10: the outcome's sustainment check, and the programme's job-start counter.
  - start 22: the start fee's payment line 12 (the line and its entries in the payment lines' five indexes: the
    payee's, the prime's, the payer's, the referral's and the claim-file queue's), the pending items it replaces
    and the programme's start counter.
  - POST /referrals 18: the referral (with its entries in the three indexes) and its sealed personal fields, the
    event, the person's record, the three pending items the nightly run acts on, the idempotency record, and the
    counts of the place taken on the provider's and the programme's allocations and of referrals by the
    referrer's kind.
- A prime's route of a referral that has an open flag is 2 round trips too: the flags to move are the ones the
  referral records, so none are read.
"""
from __future__ import annotations

import pytest

from devtools.write_meter import TODAY, journey, journey_costs
from tests.integration.conftest import fresh_nino

KEYED_WRITE = "TransactGetItems TransactWriteItems"
WRITE_UNITS = {"POST /referrals": 18, "accept": 8, "start": 22, "assessment": 8, "action plan": 8, "review": 6,
               "job start": 10, "POST /referrals (second person)": 18, "POST /referrals (to the prime)": 18,
               "route, its open flag moving": 24}


@pytest.fixture(scope="module")
def costs(dynamodb_endpoint):
    """One journey, measured in-process against the session's DynamoDB Local (a namespace of its own)."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_PROFILE", "REFPAY_KMS_KEY_ID"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", "it-write-units")
        env.setenv("AWS_SECRET_ACCESS_KEY", "local")
        env.setenv("AWS_DEFAULT_REGION", "eu-west-2")
        env.setenv("REFPAY_STAGE", "dev")
        env.setenv("REFPAY_TODAY", TODAY)
        return {c.request: c for c in journey_costs(2, (fresh_nino(), fresh_nino(), fresh_nino()))}


def test_every_keyed_write_is_one_consistent_read_and_one_transaction(costs):
    writes = [c for c in costs.values() if c.request in WRITE_UNITS]
    assert len(writes) == len({label for label, _, _ in journey(2)}) + 4
    assert {c.request: c.calls for c in writes} == {c.request: KEYED_WRITE for c in writes}


def test_each_step_writes_at_most_its_bound_of_units(costs):
    measured = {c.request: c.write_units for c in costs.values() if c.request in WRITE_UNITS}
    over = {request: (units, WRITE_UNITS[request]) for request, units in measured.items()
            if units > WRITE_UNITS[request]}
    assert over == {}, {r: [str(w) for w in costs[r].written] for r in over}
    assert measured["review"] <= 8 - 2  # the referral, its event and the idempotency record, 2 units each


def test_a_step_answering_a_deadline_no_run_flagged_writes_nothing_to_the_flags(costs):
    """The referral records the flags a run raised on it: with none, the step has no flag to resolve, and no
    marker to leave (a run that reads the deadline's pending item later finds it gone)."""
    for step in ("accept", "start", "assessment", "action plan"):
        assert [str(w) for w in costs[step].written if w.table.endswith("-flags")] == [], step
        assert any(w.operation == "Delete" and w.table.endswith("-pending-work") for w in costs[step].written), step


def test_a_route_moves_the_open_flag_the_referral_records_without_reading_the_flags(costs):
    route = costs["route, its open flag moving"]
    assert route.calls == KEYED_WRITE
    assert [str(w) for w in route.written if w.table.endswith("-flags")] == ["Update flags"]


def test_a_replayed_step_is_one_read_and_writes_nothing(costs):
    replay = costs["job start, replayed"]
    assert (replay.status, replay.calls, replay.write_units) == (201, "TransactGetItems", 0)


def test_a_replayed_referral_reads_its_record_then_the_referral_and_writes_nothing(costs):
    replay = costs["POST /referrals, replayed"]
    assert (replay.status, replay.calls, replay.write_units) == (201, "TransactGetItems TransactGetItems", 0)


def test_a_read_of_a_referral_is_one_read_of_it_and_its_personal_fields(costs):
    read = costs["GET /referrals/{id}"]
    assert read.calls == "BatchGetItem BatchWriteItem"  # and the access log's entry: personal fields were shown


def test_the_referral_each_step_rewrites_stays_under_a_kib_and_holds_no_sealed_fields(costs):
    steps = [c for c in costs.values() if c.request in WRITE_UNITS]
    referrals = {c.request: [w.size for w in c.written if w.operation == "Put" and w.table.endswith("-referrals")]
                 for c in steps}
    assert all(len(sizes) == 1 and sizes[0] <= 1024 for sizes in referrals.values()), referrals
    sealed = {c.request for c in steps for w in c.written if "participant_sealed" in w.attributes}
    made = {c.request for c in steps if c.request.startswith("POST /referrals")}
    assert sealed == made and len(made) == 3  # made with the referral, never again
