"""Referrals racing: one person referred many times at once is referred once, and a burst of referrals to one
provider uses its allocation exactly, never past it."""
from __future__ import annotations

from tests.integration.conftest import fresh_key, fresh_nino, race, referral_body

N = 8
LSE = "local-supported-employment"


def _used(server, programme_id: str, org_id: str) -> int:
    book = server.get(f"/programmes/{programme_id}", server.keys["referrer"]).body
    return next(a["used"] for a in book["allocations"] if a["org_id"] == org_id)


def test_concurrent_referrals_of_one_person_create_exactly_one(server):
    for _ in range(3):
        nino = fresh_nino()
        before = _used(server, "flexible-routeways-norfolk", "kings-lynn-works")
        # Different requests (their own Idempotency-Keys), the same person: only one may make them active.
        replies = race(N, lambda i: server.post("/referrals", server.keys["referrer"], referral_body(nino),
                                                headers={"Idempotency-Key": fresh_key("person")}))
        assert sorted(r.status for r in replies)[0] == 201
        assert [r.status for r in replies].count(201) == 1, replies
        refused = [r for r in replies if r.status != 201]
        assert all(r.status in (409, 422) and r.headers["content-type"].startswith("application/problem+json")
                   for r in refused), refused
        assert all(r.body.get("reason") == "already_active" or r.status == 409 for r in refused), refused
        assert _used(server, "flexible-routeways-norfolk", "kings-lynn-works") == before + 1
        winner = next(r.body["id"] for r in replies if r.status == 201)
        person = server.table("referrals").get_item(Key={"referral_id": winner}, ConsistentRead=True)["Item"]
        theirs = [i["referral_id"] for i in server.all_items("referrals")
                  if i["participant_hash"] == person["participant_hash"]]
        assert theirs == [winner]
        record = server.table("participants").get_item(Key={"participant_hash": person["participant_hash"]},
                                                       ConsistentRead=True)["Item"]
        assert record["active_referral_id"] == winner and record["referrals"] == [winner], record


def test_a_burst_of_referrals_uses_a_provider_allocation_exactly(server):
    """Cardiff's allocation on the supported-employment programme is 40 places; 48 people are referred at once."""
    capacity = next(a for a in server.get(f"/programmes/{LSE}", server.keys["referrer"]).body["allocations"]
                    if a["org_id"] == "cardiff-council")
    assert (capacity["used"], capacity["allocation"]) == (0, 40), capacity
    burst = 48
    replies = race(burst, lambda i: server.post(
        "/referrals", server.keys["referrer"],
        referral_body(programme_id=LSE, provider_id="cardiff-council", learning_disability=True)))
    created = [r for r in replies if r.status == 201]
    refused = [r for r in replies if r.status != 201]
    assert len(created) == 40, [r.status for r in replies]
    assert len({r.body["id"] for r in created}) == 40
    assert all(r.status in (409, 422) for r in refused), refused
    assert _used(server, LSE, "cardiff-council") == 40
    stored = [i for i in server.all_items("referrals") if i.get("provider_org_id") == "cardiff-council"]
    assert len(stored) == 40
    counter = server.table("allocations").get_item(Key={"programme_id": LSE, "org_id": "cardiff-council"},
                                                   ConsistentRead=True)["Item"]
    assert int(counter["used"]) == 40, counter
    total = server.table("allocations").get_item(Key={"programme_id": LSE, "org_id": "*"}, ConsistentRead=True)["Item"]
    assert int(total["used"]) == 40, total  # nothing else was referred to the programme in this stage
