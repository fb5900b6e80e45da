"""The local run's demo history (last month's participants): what the README's walk-throughs cut, pay and pass on.
Four people started at King's Lynn Works, the last brought by the chain (Norfolk Community Links referred them to
Trobius, which routed them), so that month's file holds the Level 1 group's referral fee beside the starts, and
the benchmarks' count of King's Lynn Works' free places (bench/common.py) is right."""
from __future__ import annotations

from datetime import date

from tests.conftest import cut_claim_file

NORFOLK = "flexible-routeways-norfolk"
DAY = "2026-10-12"  # a Monday, Norfolk's referral window open


def test_the_history_holds_a_chain_referral_whose_fee_the_prime_passes_on(api, keys, monkeypatch):
    from chalicelib.services.admin import HISTORY_PEOPLE, seed_history

    monkeypatch.setenv("REFPAY_TODAY", DAY)
    made = seed_history(date.fromisoformat(DAY))
    assert len(made) == HISTORY_PEOPLE == 4
    assert seed_history(date.fromisoformat(DAY)) == []  # a second run adds nobody
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-24")

    prime = keys["organisations"]["trobius"]["finance"]
    chain = api.get(f"/referrals/{made[-1]}", keys["organisations"]["trobius"]["provider"]).body
    assert chain["status"] == "started" and chain["provider_org_id"] == "kings-lynn-works"
    assert {(p["org_id"], p["role"]) for p in chain["parties"]} >= {("norfolk-community-links", "referrer"),
                                                                    ("kings-lynn-works", "deliverer")}
    places = {a["org_id"]: a["used"] for a in api.get(f"/programmes/{NORFOLK}", keys["referrer"]).body["allocations"]}
    assert places["kings-lynn-works"] == HISTORY_PEOPLE and places["trobius"] == 0  # the route moved the place

    _, built = cut_claim_file(api, prime, {"programme_id": NORFOLK, "period": "2026-10"})
    assert built.body["status"] == "ready" and built.body["line_count"] == 5, built.body
    totals = {t["payee_org_id"]: (t["lines"], t["amount_pence"], t["prime_retained_pence"])
              for t in built.body["totals"]}
    assert totals == {"kings-lynn-works": (4, 63000, 6300), "norfolk-community-links": (1, 3500, 0)}
