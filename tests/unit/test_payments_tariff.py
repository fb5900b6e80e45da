"""The tariff engine (chalicelib/payments/tariff.py) worked through the real rulebooks, and the rulebook
loader's TariffSchema (chalicelib/adapters/rulebook_schemas.py) and its
refusals. Amounts are the rulebooks' defaults for the seeds' payment facts (DOMAIN.md)."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from marshmallow import ValidationError

from chalicelib.adapters.rulebook_schemas import TariffSchema
from chalicelib.adapters.rulebooks import RULEBOOK_DIR, all_rulebooks, parse_rulebook
from chalicelib.payments.tariff import earnings, payment_amounts, tranche_schedule

NORFOLK = "flexible-routeways-norfolk"
LSE = "local-supported-employment"
ESF = "esf-community-hub"
TEES = "tees-valley-routes-to-work"


def book(programme_id):
    return all_rulebooks()[programme_id]


def checkpoints(programme_id):
    return book(programme_id).checkpoints


def earn(programme_id, level, event_type, event_data=None, already=(), payee="deliverer", agreed=None):
    rb = book(programme_id)
    return earnings(rb.tariff, level, event_type, event_data or {}, checkpoints(programme_id), set(already),
                    payee=payee, agreed_pence=agreed)


def fee(programme_id, fee_id):
    return book(programme_id).tariff.fee(fee_id)


def fee_amount(f):
    return f.amount.per_participant


def summary(found):
    return [(e.fee_id, e.milestone, e.funder, e.amount_pence) for e in found]


# ---------------------------------------------------------------- Flexible Routeways, Norfolk


def test_norfolk_level_1_referral_fee_is_earned_by_the_referrer_on_accept():
    found = earn(NORFOLK, 1, "accept", payee="referrer")
    assert summary(found) == [("level-1-referral", "referral_accepted", "dwp", 3500)]
    assert found[0].milestone_key == "level-1-referral:referral_accepted"
    assert found[0].payee_role == "referrer"
    # GBP 30-40 per referral: the default sits in the range.
    amount = fee(NORFOLK, "level-1-referral").amount
    assert amount.min_pence == 3000 and amount.max_pence == 4000
    assert fee_amount(fee(NORFOLK, "level-1-referral")) == 3500
    # The deliverer's acceptance earns the deliverer nothing: the referral fee is the referrer's.
    assert earn(NORFOLK, 1, "accept") == []


def test_norfolk_level_2_referral_fee_is_earned_by_the_referrer_on_accept():
    assert summary(earn(NORFOLK, 2, "accept", payee="referrer")) == [
        ("level-2-referral", "referral_accepted", "dwp", 3500)]


@pytest.mark.parametrize("event_type, data", [
    ("accept", {}), ("start", {}), ("job_start", {"hours_band": "over_16"}),
    ("sustainment", {"checkpoint": "13-weeks"}),
])
def test_norfolk_level_2_mentoring_fee_is_evidence_only_and_never_earned_automatically(event_type, data):
    assert earn(NORFOLK, 2, event_type, data, payee="mentor") == []
    level_2 = fee(NORFOLK, "level-2-support")
    assert level_2.payee == "mentor"
    assert level_2.amount.evidence_required is True
    assert level_2.amount.max_pence == 20000
    assert fee_amount(level_2) is None


def test_norfolk_level_3_delivery_is_30_percent_on_start_and_70_on_a_job_start():
    start = earn(NORFOLK, 3, "start")
    job = earn(NORFOLK, 3, "job_start", {"hours_band": "up_to_8"})
    assert summary(start) == [("level-3-delivery", "start", "dwp", 15750)]
    assert summary(job) == [("level-3-delivery", "job_start", "dwp", 36750)]
    assert start[0].amount_pence + job[0].amount_pence == 52500 == fee_amount(fee(NORFOLK, "level-3-delivery"))
    assert payment_amounts(fee(NORFOLK, "level-3-delivery"), 52500) == [15750, 36750]
    # Level 3 earns nothing on accept (no referral fee for delivery).
    assert earn(NORFOLK, 3, "accept") == []


def test_norfolk_level_3_pays_30_and_70_percent_of_the_price_agreed_within_the_band():
    band = fee(NORFOLK, "level-3-delivery").amount
    assert (band.min_pence, band.max_pence, band.agreed_at_acceptance) == (50000, 55000, True)
    start = earn(NORFOLK, 3, "start", agreed=53333)
    job = earn(NORFOLK, 3, "job_start", {"hours_band": "over_16"}, agreed=53333)
    # 30% of 53,333 is 15,999.9: the split rounds to the penny and the two payments sum to the agreed price.
    assert [e.amount_pence for e in start + job] == [16000, 37333]
    assert sum(e.amount_pence for e in start + job) == 53333


@pytest.mark.parametrize("level", [1, 2, None])
def test_norfolk_level_3_fees_are_not_earned_by_other_levels_or_the_prime(level):
    assert earn(NORFOLK, level, "start") == []
    assert earn(NORFOLK, level, "job_start", {"hours_band": "over_16"}) == []


def test_norfolk_level_1_fee_is_not_earned_by_level_3():
    assert all(e.fee_id != "level-1-referral" for e in earn(NORFOLK, 3, "accept", payee="referrer"))


# ---------------------------------------------------------------- Local Supported Employment


def test_lse_start_earns_the_dwp_start_payment_and_the_local_authority_co_funding():
    found = earn(LSE, None, "start")
    assert summary(found) == [
        ("dwp-participant-fee", "start", "dwp", 140000),
        ("la-co-funding", "start", "local-authority", 150000),
    ]
    funders = {f.id for f in book(LSE).tariff.funders}
    assert funders == {"dwp", "local-authority"}
    assert fee_amount(fee(LSE, "dwp-participant-fee")) == 350000
    assert payment_amounts(fee(LSE, "dwp-participant-fee"), 350000) == [140000, 210000]


def test_lse_service_fee_tranches_are_never_earned_by_an_event():
    for event_type, data in [("accept", {}), ("job_start", {"hours_band": "over_16"})]:
        assert all(e.milestone != "service_fee_tranche" for e in earn(LSE, None, event_type, data))


def _tranche_payment(f):
    return next(p for p in f.payments if p.milestone == "service_fee_tranche")


def test_lse_tranche_schedule_is_monthly_in_arrears_and_sums_to_the_service_fee():
    dwp = fee(LSE, "dwp-participant-fee")
    count = _tranche_payment(dwp).tranches
    assert count == 9
    schedule = tranche_schedule(dwp, date(2026, 11, 24))
    assert [n for n, _, _ in schedule] == list(range(1, count + 1))
    assert [d for _, d, _ in schedule] == [
        date(2026, 12, 24), date(2027, 1, 24), date(2027, 2, 24), date(2027, 3, 24), date(2027, 4, 24),
        date(2027, 5, 24), date(2027, 6, 24), date(2027, 7, 24), date(2027, 8, 24),
    ]
    amounts = [a for _, _, a in schedule]
    assert sum(amounts) == 210000  # 60% of GBP 3,500, to the penny
    assert max(amounts) - min(amounts) <= 1
    # With the 40% start payment, the whole fixed fee.
    assert sum(amounts) + earn(LSE, None, "start")[0].amount_pence == 350000


def test_lse_tranche_dates_clamp_to_the_month_end():
    schedule = tranche_schedule(fee(LSE, "dwp-participant-fee"), date(2027, 1, 31))
    dates = [d for _, d, _ in schedule]
    assert dates[:4] == [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)]
    assert dates[-1] == date(2027, 10, 31)
    # Each is counted from the start, not from the previous (clamped) tranche.
    assert date(2027, 3, 28) not in dates


def test_lse_tranches_of_the_last_start_finish_within_the_trailblazer():
    # The rulebook's reasoning: the last start (around 21 April 2027) finishes before 31 January 2028.
    dates = [d for _, d, _ in tranche_schedule(fee(LSE, "dwp-participant-fee"), date(2027, 4, 21))]
    assert dates[-1] == date(2028, 1, 21) <= date(2028, 1, 31)


def test_a_fee_without_tranches_has_an_empty_schedule():
    assert tranche_schedule(fee(LSE, "la-co-funding"), date(2026, 11, 24)) == []


# ---------------------------------------------------------------- ESF community hub


def test_esf_13_weeks_checkpoint_earns_the_short_job_outcome():
    found = earn(ESF, None, "sustainment", {"checkpoint": "13-weeks"})
    assert summary(found) == [("short-job-outcome", "short_job_outcome", "esf",
                               fee_amount(fee(ESF, "short-job-outcome")))]
    assert found[0].amount_pence == 100000


def test_esf_26_weeks_checkpoint_earns_the_sustained_job_outcome():
    found = earn(ESF, None, "sustainment", {"checkpoint": "26-weeks"})
    assert summary(found) == [("sustained-job-outcome", "sustained_job_outcome", "esf",
                               fee_amount(fee(ESF, "sustained-job-outcome")))]
    assert found[0].amount_pence == 150000


def test_esf_job_start_alone_earns_no_outcome():
    assert earn(ESF, None, "job_start", {"hours_band": "over_16"}) == []


# ---------------------------------------------------------------- Tees Valley Routes to Work


def test_tees_sustainment_schedule_pays_the_nth_sustainment_payment_at_the_nth_checkpoint():
    outcome = fee(TEES, "job-and-sustainment")
    total = fee_amount(outcome)
    assert total == 100000
    assert [c.id for c in checkpoints(TEES)] == ["3-months", "6-months", "9-months", "12-months"]

    already: set[str] = set()
    job = earn(TEES, None, "job_start", {"hours_band": "over_8"}, already)
    assert summary(job) == [("job-and-sustainment", "job_start", "tvca", 20000)]
    already |= {e.milestone_key for e in job}
    paid = job[0].amount_pence

    shares = payment_amounts(outcome, total)[1:]  # the sustainment payments, in order
    for n, checkpoint in enumerate(["3-months", "6-months", "9-months", "12-months"]):
        found = earn(TEES, None, "sustainment", {"checkpoint": checkpoint}, already)
        assert len(found) == 1, (checkpoint, found)
        (line,) = found
        assert line.milestone == "sustainment_checkpoint"
        assert line.fee_id == "job-and-sustainment"
        assert line.milestone_key == f"job-and-sustainment:sustainment_checkpoint:{checkpoint}"
        assert line.amount_pence == shares[n]
        assert checkpoint in line.description
        already.add(line.milestone_key)
        paid += line.amount_pence
    assert paid == total


def test_tees_sustainment_with_an_odd_amount_still_totals_exactly():
    # A non-default amount (set within the range) that does not divide by five.
    original = book(TEES).tariff
    tariff = replace(original, fees=tuple(
        replace(f, amount=replace(f.amount, default_pence=123457)) if f.id == "job-and-sustainment" else f
        for f in original.fees))
    found = earnings(tariff, None, "job_start", {}, checkpoints(TEES), set())
    for checkpoint in ["3-months", "6-months", "9-months", "12-months"]:
        found += earnings(tariff, None, "sustainment", {"checkpoint": checkpoint}, checkpoints(TEES), set())
    assert [e.milestone for e in found] == ["job_start"] + ["sustainment_checkpoint"] * 4
    assert sum(e.amount_pence for e in found) == 123457


def test_tees_flexible_fund_and_employer_incentive_are_evidence_only():
    for event_type, data in [("accept", {}), ("start", {}), ("job_start", {"hours_band": "over_16"}),
                             ("sustainment", {"checkpoint": "3-months"})]:
        assert {e.fee_id for e in earn(TEES, None, event_type, data)} <= {"job-and-sustainment"}


# ---------------------------------------------------------------- job hours bands


def banded_tariff(include_over_16=True):
    payments = [
        {"milestone": "job_start", "share_bp": 2000},
        {"milestone": "job_over_8_hours", "share_bp": 3000 if include_over_16 else 8000},
    ]
    if include_over_16:
        payments.append({"milestone": "job_over_16_hours", "share_bp": 5000})
    return TariffSchema().load({
        "currency": "GBP",
        "funders": [{"id": "dwp", "name": "DWP"}],
        "fees": [{"id": "outcome", "description": "banded job outcome", "funder": "dwp",
                  "amount": {"fixed_pence": 100000}, "payments": payments}],
    })


@pytest.mark.parametrize("band, expected", [
    ("up_to_8", [("job_start", 20000)]),
    ("over_8", [("job_start", 20000), ("job_over_8_hours", 30000)]),
    ("over_16", [("job_start", 20000), ("job_over_8_hours", 30000), ("job_over_16_hours", 50000)]),
    (None, [("job_start", 20000)]),
])
def test_job_start_earns_the_hours_bands_reached(band, expected):
    data = {} if band is None else {"hours_band": band}
    found = earnings(banded_tariff(), None, "job_start", data, (), set())
    assert [(e.milestone, e.amount_pence) for e in found] == expected


def test_only_milestones_present_in_the_tariff_are_earned():
    found = earnings(banded_tariff(include_over_16=False), None, "job_start", {"hours_band": "over_16"}, (), set())
    assert [(e.milestone, e.amount_pence) for e in found] == [("job_start", 20000), ("job_over_8_hours", 80000)]
    # Norfolk level 3 has no hours-band milestones: over_16 earns just the job start share.
    assert summary(earn(NORFOLK, 3, "job_start", {"hours_band": "over_16"})) == [
        ("level-3-delivery", "job_start", "dwp", 36750)]


def test_a_later_job_start_with_more_hours_earns_only_the_new_band():
    tariff = banded_tariff()
    first = earnings(tariff, None, "job_start", {"hours_band": "over_8"}, (), set())
    later = earnings(tariff, None, "job_start", {"hours_band": "over_16"}, (), {e.milestone_key for e in first})
    assert [(e.milestone, e.amount_pence) for e in later] == [("job_over_16_hours", 50000)]


# ---------------------------------------------------------------- already earned


def test_already_earned_milestones_are_skipped():
    assert earn(NORFOLK, 1, "accept", already={"level-1-referral:referral_accepted"}, payee="referrer") == []
    assert earn(NORFOLK, 3, "start", already={"level-3-delivery:start"}) == []
    # Another fee's key does not suppress this one.
    assert len(earn(NORFOLK, 3, "start", already={"level-1-referral:referral_accepted"})) == 1
    found = earn(LSE, None, "start", already={"dwp-participant-fee:start"})
    assert summary(found) == [("la-co-funding", "start", "local-authority", 150000)]
    found = earn(TEES, None, "sustainment", {"checkpoint": "6-months"},
                 already={"job-and-sustainment:sustainment_checkpoint:6-months"})
    assert found == []
    # The 3-months key does not suppress the 6-months payment.
    found = earn(TEES, None, "sustainment", {"checkpoint": "6-months"},
                 already={"job-and-sustainment:sustainment_checkpoint:3-months"})
    assert [e.milestone_key for e in found] == ["job-and-sustainment:sustainment_checkpoint:6-months"]


def test_unknown_event_earns_nothing():
    assert earn(NORFOLK, 3, "exit") == []


# ---------------------------------------------------------------- TariffSchema refusals


def valid_tariff():
    return {
        "currency": "GBP",
        "funders": [{"id": "dwp", "name": "DWP"}, {"id": "local-authority", "name": "LA"}],
        "fees": [
            {"id": "delivery", "description": "delivery", "funder": "dwp", "levels": [3],
             "amount": {"min_pence": 50000, "max_pence": 55000, "default_pence": 52500},
             "payments": [{"milestone": "start", "share_bp": 3000}, {"milestone": "job_start", "share_bp": 7000}]},
            {"id": "service", "description": "service fee", "funder": "local-authority",
             "amount": {"fixed_pence": 90000},
             "payments": [{"milestone": "service_fee_tranche", "share_bp": 10000, "tranches": 9}]},
            {"id": "support", "description": "support", "funder": "dwp",
             "amount": {"max_pence": 20000, "evidence_required": True},
             "payments": [{"milestone": "evidence", "share_bp": 10000}]},
        ],
    }


def test_the_valid_tariff_loads_with_defaults():
    data = TariffSchema().load(valid_tariff())
    assert data.claim_window_days == 90
    assert data.contract_value_pence is None
    assert data.fees[0].amount.fixed_pence is None
    assert data.fees[2].amount.default_pence is None
    assert data.fees[1].levels == ()


def test_every_real_rulebook_tariff_reloads_through_the_schema():
    for rb in all_rulebooks().values():
        TariffSchema().load(rb.document["tariff"])


def _refused(mutate):
    doc = valid_tariff()
    mutate(doc)
    with pytest.raises(ValidationError) as caught:
        TariffSchema().load(doc)
    return caught.value.messages


def test_refuses_shares_not_summing_to_10000():
    def mutate(doc):
        doc["fees"][0]["payments"][1]["share_bp"] = 6999
    messages = _refused(mutate)
    assert "9999" in str(messages)


def test_refuses_shares_summing_over_10000():
    def mutate(doc):
        doc["fees"][0]["payments"][1]["share_bp"] = 7001
    assert "10001" in str(_refused(mutate))


def test_refuses_an_unknown_funder():
    def mutate(doc):
        doc["fees"][1]["funder"] = "esf"
    assert "unknown funder 'esf'" in str(_refused(mutate))


def test_refuses_a_fixed_amount_with_a_range():
    for extra in ({"min_pence": 100}, {"max_pence": 100000}, {"default_pence": 90000}):
        def mutate(doc, extra=extra):
            doc["fees"][1]["amount"].update(extra)
        assert "fixed amount has no range" in str(_refused(mutate))


def test_refuses_min_above_max():
    def mutate(doc):
        doc["fees"][0]["amount"].update(min_pence=56000, default_pence=None)
    assert "min_pence is above max_pence" in str(_refused(mutate))


@pytest.mark.parametrize("default", [49999, 55001])
def test_refuses_a_default_outside_the_range(default):
    def mutate(doc):
        doc["fees"][0]["amount"]["default_pence"] = default
    assert "outside" in str(_refused(mutate))


def test_refuses_a_range_without_default_unless_evidence_is_required():
    def mutate(doc):
        del doc["fees"][0]["amount"]["default_pence"]
    assert "needs default_pence" in str(_refused(mutate))


def test_refuses_neither_fixed_nor_max():
    def mutate(doc):
        doc["fees"][2]["amount"] = {"evidence_required": True}
    assert "give fixed_pence or max_pence" in str(_refused(mutate))


def test_refuses_a_service_fee_tranche_without_tranches():
    def mutate(doc):
        del doc["fees"][1]["payments"][0]["tranches"]
    assert "tranches" in str(_refused(mutate))


def test_refuses_a_duplicate_fee_id():
    def mutate(doc):
        doc["fees"][2]["id"] = "delivery"
    assert "fee id repeated" in str(_refused(mutate))


@pytest.mark.parametrize("mutate", [
    lambda doc: doc.update(currency="EUR"),
    lambda doc: doc.update(fees=[]),
    lambda doc: doc.update(funders=[]),
    lambda doc: doc["fees"][0]["payments"][0].update(milestone="bonus"),
    lambda doc: doc["fees"][0]["payments"].clear(),
    lambda doc: doc["fees"][0].update(levels=[4]),
    lambda doc: doc["fees"][1]["amount"].update(fixed_pence=0),
    lambda doc: doc["fees"][0]["payments"][0].update(share_bp=0),
])
def test_refuses_other_malformed_tariffs(mutate):
    _refused(mutate)


# ---------------------------------------------------------------- product bugs (these tests fail until fixed)


def _tees_with_three_checkpoints(d):
    d["sustainment"]["checkpoints"] = d["sustainment"]["checkpoints"][:3]


def _esf_without_a_sustained_checkpoint(d):
    d["sustainment"]["checkpoints"][1]["earns"] = None


@pytest.mark.parametrize("programme_id, mutate", [
    (TEES, _tees_with_three_checkpoints),
    (ESF, _esf_without_a_sustained_checkpoint),
])
def test_a_rulebook_whose_tariff_pays_at_a_checkpoint_it_does_not_have_fails_to_load(programme_id, mutate):
    """BUG: RulebookSchema accepts a tariff with a payment no journey event can ever reach.

    earnings() pays the n-th sustainment_checkpoint payment at the n-th checkpoint, and a short/sustained job
    outcome only at a checkpoint that `earns` it. With 4 sustainment payments and 3 checkpoints (or an ESF
    sustained_job_outcome fee and no checkpoint earning it) a share of the fee is silently never paid, so the
    payments no longer sum to the fee. A malformed rulebook should fail loudly, naming the field."""
    import json

    from chalicelib.domain.errors import RulebookError

    document = json.loads((RULEBOOK_DIR / f"{programme_id}.json").read_text(encoding="utf-8"))
    mutate(document)
    with pytest.raises(RulebookError):
        parse_rulebook(document, f"{programme_id}.json")
