"""Over HTTP: the commissioner's sample rate, a claim file's sample, checks before and after payment, payment."""
from __future__ import annotations

import pytest

from tests.api.test_payments import _csv
from tests.conftest import cut_claim_file, referral_body

NORFOLK = "flexible-routeways-norfolk"
NOV = "2026-11"
SEED = "norfolk-2026-11-a"


def _started(api, keys, n):
    body = referral_body(provider_id="kings-lynn-works", nino=f"AB{n:06d}C")
    rid = api.post("/referrals", keys["referrer"], body).body["id"]
    provider = keys["organisations"]["kings-lynn-works"]["provider"]
    for step in ("accept", "start"):
        assert api.post(f"/referrals/{rid}/{step}", provider, {"date": "2026-11-24"}).status == 200
    return rid


def test_the_sample_rate_is_the_commissioner_s_and_audited(api, keys):
    dwp = keys["commissioner_finance"]
    before = api.get(f"/programmes/{NORFOLK}/sample-rate", dwp)
    assert before.status == 200 and (before.body["sample_rate_bp"], before.body["source"]) == (500, "rulebook")
    set_ = api.post(f"/programmes/{NORFOLK}/sample-rate", dwp, {"sample_rate_bp": 2500},
                    headers={"Idempotency-Key": "rate-1"})
    assert set_.status == 200 and set_.body["sample_rate_bp"] == 2500 and set_.body["set_by_key_id"].startswith("key_")
    replay = api.post(f"/programmes/{NORFOLK}/sample-rate", dwp, {"sample_rate_bp": 2500},
                      headers={"Idempotency-Key": "rate-1"})
    assert replay.headers.get("idempotent-replayed") == "true" and len(replay.body["history"]) == 1
    after = api.get(f"/programmes/{NORFOLK}/sample-rate", dwp).body
    assert after["source"] == "commissioner" and [h["sample_rate_bp"] for h in after["history"]] == [2500]
    prime = api.post(f"/programmes/{NORFOLK}/sample-rate", keys["finance"], {"sample_rate_bp": 0})
    assert prime.status == 403 and prime.body["rule"] == "commissioner_only"
    tvca = keys["organisations"]["tees-valley-combined-authority"]["finance"]
    assert api.get(f"/programmes/{NORFOLK}/sample-rate", tvca).status == 403
    assert api.get(f"/programmes/{NORFOLK}/sample-rate", keys["admin"]).status == 403  # no finance role
    bad = api.post(f"/programmes/{NORFOLK}/sample-rate", dwp, {"sample_rate_bp": 10001})
    assert bad.status == 422 and bad.body["errors"][0]["field"] == "sample_rate_bp"
    assert api.get(f"/programmes/{NORFOLK}/sample-rate", dwp).body["sample_rate_bp"] == 2500


def test_sample_check_remove_pay_and_claw_back_over_http(api, keys):
    dwp, prime = keys["commissioner_finance"], keys["finance"]
    api.post(f"/programmes/{NORFOLK}/sample-rate", dwp, {"sample_rate_bp": 2500})
    for n in range(1, 9):
        _started(api, keys, n)
    cut = cut_claim_file(api, prime, {"programme_id": NORFOLK, "period": NOV})[1].body
    fid = cut["id"]
    assert cut["sample"] is None and cut["payable_pence"] == cut["total_pence"] == 8 * 15750

    seen = api.get(f"/claim-files/{fid}", dwp)
    assert seen.status == 200 and seen.body["download_url"]
    tvca = keys["organisations"]["tees-valley-combined-authority"]["finance"]
    assert api.get(f"/claim-files/{fid}", tvca).status == 404
    assert api.post(f"/claim-files/{fid}/sample", prime, {"seed": SEED}).status == 404

    drawn = api.post(f"/claim-files/{fid}/sample", dwp, {"seed": SEED})
    assert drawn.status == 201 and drawn.body["sample"] == {"seed": SEED, "sample_rate_bp": 2500, "size": 2,
                                                             "checked": 0}
    assert api.post(f"/claim-files/{fid}/sample", dwp, {}).status == 200
    other = api.post(f"/claim-files/{fid}/sample", dwp, {"seed": "another-seed-b"})
    assert other.status == 409 and other.body["reason"] == "sampled_with_another_seed"
    assert api.get(f"/claim-files/{fid}", prime).body["sample"]["seed"] is None  # the prime cannot tell the lines
    sample = api.get(f"/claim-files/{fid}/sample", dwp).body
    failing, passing = [c["line_id"] for c in sample["items"]]
    assert api.get(f"/claim-files/{fid}/sample", prime).status == 404

    unchecked = api.post(f"/claim-files/{fid}/payment", dwp, {"paid_on": "2026-11-24", "reference": "BACS-1"})
    assert unchecked.status == 422 and unchecked.body["reason"] == "sample_unchecked"
    failed = api.post(f"/claim-files/{fid}/checks", dwp, {"line_id": failing, "result": "failed",
                                                         "reason": "no evidence of the start"},
                      headers={"Idempotency-Key": "check-1"})
    assert failed.status == 200 and failed.body["before_payment"]["result"] == "failed"
    replayed = api.post(f"/claim-files/{fid}/checks", dwp, {"line_id": failing, "result": "failed",
                                                           "reason": "no evidence of the start"},
                        headers={"Idempotency-Key": "check-1"})
    assert replayed.status == 200 and replayed.headers.get("idempotent-replayed") == "true"
    assert api.post(f"/claim-files/{fid}/checks", prime, {"line_id": passing, "result": "passed"}).status == 404
    assert api.post(f"/claim-files/{fid}/checks", dwp, {"line_id": passing, "result": "passed"}).status == 200
    removed = api.get(f"/claims/{failing}", prime).body
    assert removed["status"] == "removed" and removed["reason"] == "removed by validation: no evidence of the start"

    paid = api.post(f"/claim-files/{fid}/payment", dwp, {"paid_on": "2026-11-24", "reference": "BACS-2026-11-42"})
    assert paid.status == 200, paid.body
    assert (paid.body["paid_on"], paid.body["paid_pence"], paid.body["removed_pence"]) == (
        "2026-11-24", 7 * 15750, 15750)
    mine = api.get(f"/claim-files/{fid}", prime).body
    assert mine["paid_pence"] == mine["payable_pence"] == mine["total_pence"] - mine["removed_pence"]
    rows = _csv(mine)[1]
    paid_rows = [r for r in rows if r["line_id"] != failing]
    assert sum(int(r["amount_pence"]) for r in paid_rows) == mine["paid_pence"]
    for group in mine["totals"]:
        same = [r for r in paid_rows if (r["payee_org_id"], r["funder"]) == (group["payee_org_id"], group["funder"])]
        assert sum(int(r["amount_pence"]) for r in same) == group["amount_pence"] - 15750
    assert {r["line_ref"] for r in rows} >= {removed["line_ref"]}

    # After payment: a failed check raises a clawback, the paid line stays as it was.
    after = api.post(f"/claim-files/{fid}/checks", dwp, {"line_id": passing, "result": "failed",
                                                        "reason": "employer denies the start"})
    assert after.status == 200 and after.body["after_payment"]["clawback_line_id"] == f"{passing}:clawback"
    reversal = api.get(f"/claims/{passing}:clawback", prime).body
    assert reversal["amount_pence"] == -15750 and reversal["reverses_line_id"] == passing
    assert api.get(f"/claims/{passing}", prime).body["status"] == "filed"
    again = api.post(f"/claim-files/{fid}/payment", dwp, {"paid_on": "2026-11-24", "reference": "BACS-2"})
    assert again.status == 409


def test_the_rate_s_history_is_read_with_the_rate_in_one_item_and_the_audit_trail_keeps_every_change(
        api, keys, monkeypatch):
    """The rate in force holds the 49 changes before it: a change reads them with its idempotency record and
    answers without a Query, a GET reads one item; every change stays in the audit trail; a rate set before rates
    held their history is shown from the audit trail; of two changes made from the same read, the second is
    refused."""
    from chalicelib.domain.errors import ConcurrentUpdate
    from chalicelib.payments.validation import SampleRate
    from chalicelib.services.deps import store
    from chalicelib.store import payment_records
    from chalicelib.store.models import SampleRateItem
    from tests.conftest import dynamodb_calls

    dwp = keys["commissioner_finance"]
    for n in range(52):
        assert api.post(f"/programmes/{NORFOLK}/sample-rate", dwp, {"sample_rate_bp": n}).status == 200
    calls = dynamodb_calls(monkeypatch)
    shown = api.get(f"/programmes/{NORFOLK}/sample-rate", dwp).body
    assert [h["sample_rate_bp"] for h in shown["history"]] == list(range(51, 1, -1))  # the 50 newest
    assert calls == ["GetItem"]
    pk = f"sample-rate#{NORFOLK}"
    trail = list(SampleRateItem.query(pk, SampleRateItem.sk < payment_records.CURRENT))
    assert sorted(int(i.rate_bp) for i in trail) == list(range(52))
    # A rate in force written before it held its history: the audit trail's Query shows it.
    current = SampleRateItem.get(pk, payment_records.CURRENT)
    current.recent = None
    current.save()
    assert [h["sample_rate_bp"] for h in api.get(f"/programmes/{NORFOLK}/sample-rate", dwp).body["history"]] == list(
        range(51, 1, -1))
    # Two changes from one read: the rate in force is replaced only as it was read.
    tx, late = store().transaction(), store().transaction()
    payment_records.add_sample_rate(tx, SampleRate(NORFOLK, 100, "dwp", "key_a", "2026-11-24T10:00:00+00:00"))
    payment_records.add_sample_rate(late, SampleRate(NORFOLK, 200, "dwp", "key_b", "2026-11-24T10:00:01+00:00"))
    tx.commit()
    with pytest.raises(ConcurrentUpdate):
        late.commit()
    assert api.get(f"/programmes/{NORFOLK}/sample-rate", dwp).body["sample_rate_bp"] == 100
