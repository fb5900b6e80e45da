"""The commissioner's and the prime's payment records racing on Amazon's engine: two draws of one claim file leave one
seed, two payments of one file pay it once, and pass-throughs recorded at once to one subcontractor are each
counted exactly once (a loser is refused with 409 and changes nothing; retried, it counts)."""
from __future__ import annotations

from tests.integration.conftest import TODAY, cut_and_wait, fresh_key, race

PERIOD = "2026-10"  # the month before the pinned day's: it has ended, so its files can be cut

WORK_CHOICE = "work-choice"
PRIME = "pathway-employment-prime"
# The module's tests share one server: each cuts its own subcontractor's file for the period.
SUBS = {"brightside-supported-employment": 166250, "riverside-disability-works": 157500,
        "oakfield-supported-business": 175000}  # a job start's net (70% of GBP 2,500 less the prime's share)


def _file(server, sub: str, jobs: int = 2) -> str:
    """The prime's file of `sub`'s lines for the period: `jobs` approved job-start lines (GBP 1,750 each)."""
    server.add_approved_lines(jobs, WORK_CHOICE, PRIME, sub, f"{PERIOD}-15", amount_pence=175000,
                              payee_net_pence=SUBS[sub])
    cut, ready = cut_and_wait(server, server.orgs[PRIME]["finance"],
                              {"programme_id": WORK_CHOICE, "period": PERIOD, "payee_org_id": sub})
    assert cut.status == 202 and ready.body["status"] == "ready" and ready.body["line_count"] == jobs, ready
    return cut.body["id"]


def _checked(server, fid: str) -> None:
    dwp = server.keys["commissioner_finance"]
    for item in server.get(f"/claim-files/{fid}/sample?limit=200", dwp).body["items"]:
        done = server.post(f"/claim-files/{fid}/checks", dwp, {"line_id": item["line_id"], "result": "passed"})
        assert done.status == 200, done


def test_two_draws_of_one_file_with_different_seeds_leave_one_seed(server):
    fid = _file(server, "brightside-supported-employment")
    dwp = server.keys["commissioner_finance"]
    seeds = ["race-seed-aaaa", "race-seed-bbbb"]
    replies = race(2, lambda i: server.post(f"/claim-files/{fid}/sample", dwp, {"seed": seeds[i]}))
    assert sorted(r.status for r in replies) == [201, 409], replies
    winner = seeds[next(i for i, r in enumerate(replies) if r.status == 201)]
    sample = server.get(f"/claim-files/{fid}/sample", dwp).body
    assert sample["claim_file"]["sample"]["seed"] == winner
    assert len(sample["items"]) == sample["claim_file"]["sample"]["size"] == 1


def test_concurrent_payments_of_one_file_pay_it_once(server):
    sub = "riverside-disability-works"
    fid = _file(server, sub)
    dwp = server.keys["commissioner_finance"]
    assert server.post(f"/claim-files/{fid}/sample", dwp, {}).status == 201
    _checked(server, fid)
    replies = race(4, lambda i: server.post(f"/claim-files/{fid}/payment", dwp,
                                            {"paid_on": TODAY, "reference": f"BACS-{i}"}))
    paid = [i for i, r in enumerate(replies) if r.status == 200]
    assert len(paid) == 1 and all(r.status == 409 for r in replies if r.status != 200), replies
    stored = server.table("claim-files").get_item(Key={"claim_file_id": fid}, ConsistentRead=True)["Item"]
    assert stored["paid_reference"] == f"BACS-{paid[0]}"
    owed = server.table("payment-records").get_item(
        Key={"pk": f"chain#{WORK_CHOICE}#{PERIOD}", "sk": f"owed#{sub}"}, ConsistentRead=True)["Item"]
    assert int(owed["owed_pence"]) == 2 * SUBS[sub]  # owed once, not once per racing payment


def test_pass_throughs_recorded_at_once_are_each_counted_exactly_once(server):
    sub = "oakfield-supported-business"
    fid = _file(server, sub)
    dwp, prime = server.keys["commissioner_finance"], server.orgs[PRIME]["finance"]
    assert server.post(f"/claim-files/{fid}/sample", dwp, {}).status == 201
    _checked(server, fid)
    assert server.post(f"/claim-files/{fid}/payment", dwp, {"paid_on": TODAY, "reference": "BACS-PT"}).status == 200
    owed, n = 2 * SUBS[sub], 6
    parts = [owed // n + (1 if i < owed % n else 0) for i in range(n)]
    keys = [fresh_key("pt") for _ in range(n)]

    def pay(i: int):
        return server.post("/payments/pass-throughs", prime, {
            "programme_id": WORK_CHOICE, "period": PERIOD, "subcontractor_org_id": sub, "amount_pence": parts[i],
            "paid_on": TODAY, "reference": f"PT-{i}"}, headers={"Idempotency-Key": keys[i]})

    replies = race(n, pay)
    assert all(r.status in (201, 409) for r in replies), replies
    for i, reply in enumerate(replies):
        while reply.status == 409:  # refused without a trace: the retry counts
            reply = pay(i)
        assert reply.status == 201, reply
    records = server.table("payment-records")
    item = records.get_item(Key={"pk": f"chain#{WORK_CHOICE}#{PERIOD}", "sk": f"owed#{sub}"},
                            ConsistentRead=True)["Item"]
    assert int(item["passed_pence"]) == owed and item["settled_on"] == TODAY
    payments = [x for x in server.all_items("payment-records") if x["sk"].startswith(f"pass-through#{sub}#")]
    assert sorted(int(x["amount_pence"]) for x in payments) == sorted(parts)
    waiting = [w for w in server.all_items("pending-work") if w["rule"] == "late_pass_through"
               and w["provider_org_id"] == sub]
    assert waiting == []  # settled: the nightly run has nothing to flag
