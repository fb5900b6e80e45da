"""Validation by sampling (chalicelib/payments/validation.py): the sample size, a draw anyone can repeat from its
seed, and the rules for checking and paying a claim file."""
from __future__ import annotations

import dataclasses
import random
from datetime import date

import pytest

from chalicelib.domain.errors import ClaimRefused, Conflict
from chalicelib.payments import lines as pl
from chalicelib.payments import validation as pv
from chalicelib.payments.claim_file import READY, ClaimFile

TODAY = date(2026, 12, 10)


def line(n: int, **overrides) -> pl.PaymentLine:
    args = dict(referral_id=f"ref-{n:03d}", programme_id="flexible-routeways-norfolk", participant_ref="PR-1",
                milestone_key="level-3-delivery:start", fee_id="level-3-delivery", milestone="start", funder="dwp",
                funder_org_id="dwp-commissioning", payee_org_id="kings-lynn-works", prime_org_id="trobius",
                management_fee_bp=1000, amount_pence=15750, event_date=date(2026, 11, 2), kind=pl.EARNED,
                status=pl.APPROVED)
    args.update(overrides)
    made = pl.new_line(**args)
    return dataclasses.replace(made, status=pl.FILED, claim_file_id="cf-1")


def claim_file(**overrides) -> ClaimFile:
    args = dict(claim_file_id="cf-1", programme_id="flexible-routeways-norfolk", period="2026-11",
                owner_org_id="trobius", status=READY, created_at="2026-12-01T09:00:00+00:00", created_by="key_f",
                line_count=40, totals={"total_pence": 630000})
    args.update(overrides)
    return ClaimFile(**args)


# ---------------------------------------------------------------- the draw


@pytest.mark.parametrize("count, rate_bp, size", [
    (0, 500, 0), (1, 500, 1), (20, 500, 1), (21, 500, 2), (100, 500, 5), (101, 500, 6), (100, 0, 0),
    (7, 10000, 7), (3, 1, 1)])
def test_the_sample_is_the_rate_s_share_rounded_up(count, rate_bp, size):
    assert pv.sample_size(count, rate_bp) == size


def test_a_line_s_rank_is_hmac_sha256_of_its_id_under_the_seed():
    # The same value as `printf '%s' 'ref-000:start' | openssl dgst -sha256 -hmac 'norfolk-2026-11'`.
    assert pv.rank("norfolk-2026-11", "ref-000:start") == (
        "1c10db83b245759b4bebf96eda3f9f44e1bfc190122dc457777e395bf504d024")


def test_the_same_seed_draws_the_same_lines_in_any_order():
    lines = [line(n) for n in range(40)]
    first = [x.line_id for x in pv.draw("norfolk-2026-11", lines, 4)]
    # Recorded once: a draw can be repeated on any machine, from the seed and the file alone.
    assert first == ["ref-011:level-3-delivery:start", "ref-017:level-3-delivery:start",
                     "ref-021:level-3-delivery:start", "ref-023:level-3-delivery:start"]
    shuffled = lines[:]
    random.Random(7).shuffle(shuffled)
    assert [x.line_id for x in pv.draw("norfolk-2026-11", shuffled, 4)] == first
    assert [x.line_id for x in pv.draw("norfolk-2026-11", iter(lines), 4)] == first  # a stream will do


def test_another_seed_draws_other_lines():
    lines = [line(n) for n in range(200)]
    draws = {tuple(x.line_id for x in pv.draw(f"seed-{n}", lines, 10)) for n in range(20)}
    assert len(draws) == 20


def test_a_draw_is_sorted_by_line_id_and_takes_exactly_its_size():
    lines = [line(n) for n in range(30)]
    drawn = pv.draw("abc12345", lines, 7)
    assert len(drawn) == 7 and [x.line_id for x in drawn] == sorted(x.line_id for x in drawn)
    assert pv.draw("abc12345", lines, 0) == [] and len(pv.draw("abc12345", lines, 99)) == 30


def test_clawbacks_are_not_drawn():
    assert pv.samplable(line(1))
    assert not pv.samplable(pl.clawback(dataclasses.replace(line(1)), "error", TODAY))


# ---------------------------------------------------------------- drawing, checking, paying


def test_a_file_is_sampled_once_and_before_payment():
    pv.ensure_drawable(claim_file(), None)
    sampled = claim_file(sample_seed="seed-one")
    pv.ensure_drawable(sampled, "seed-one")  # resumes
    pv.ensure_drawable(sampled, None)
    with pytest.raises(Conflict) as other:
        pv.ensure_drawable(sampled, "seed-two")
    assert other.value.extra["reason"] == "sampled_with_another_seed"
    with pytest.raises(ClaimRefused) as paid:
        pv.ensure_drawable(claim_file(paid_on=date(2026, 12, 5)), None)
    assert paid.value.reason == "already_paid"


def _refusal(record, target, check) -> str:
    with pytest.raises(ClaimRefused) as caught:
        pv.ensure_checkable(record, target, check)
    return caught.value.reason


def test_before_payment_only_drawn_lines_are_checked_once():
    record, target = claim_file(sample_seed="s" * 8, sample_size=2), line(1)
    drawn = pv.drawn_check(record, target)
    assert pv.ensure_checkable(record, target, drawn) == pv.PRE_PAYMENT
    assert _refusal(record, target, None) == "not_sampled"
    done = dataclasses.replace(drawn, before_payment=pv.Outcome(pv.PASSED, None, "key_c", "t"))
    assert _refusal(record, target, done) == "already_checked"
    assert _refusal(record, dataclasses.replace(target, claim_file_id="cf-2"), drawn) == "not_in_file"
    assert _refusal(record, None, drawn) == "not_in_file"


def test_after_payment_any_paid_line_is_checked_once():
    record, target = claim_file(paid_on=date(2026, 12, 5)), line(1)
    assert pv.ensure_checkable(record, target, None) == pv.POST_PAYMENT
    passed_before = dataclasses.replace(pv.drawn_check(record, target),
                                        before_payment=pv.Outcome(pv.PASSED, None, "key_c", "t"))
    assert pv.ensure_checkable(record, target, passed_before) == pv.POST_PAYMENT
    after = dataclasses.replace(passed_before, after_payment=pv.Outcome(pv.PASSED, None, "key_c", "t"))
    assert _refusal(record, target, after) == "already_checked"
    assert _refusal(record, dataclasses.replace(target, status=pl.REMOVED), None) == "not_paid"
    reversal = dataclasses.replace(pl.clawback(target, "e", TODAY), status=pl.FILED, claim_file_id="cf-1")
    assert _refusal(record, reversal, None) == "not_paid"


def _unpayable(record, rate_bp=500, paid_on=date(2026, 12, 5)) -> str:
    with pytest.raises((ClaimRefused, Conflict)) as caught:
        pv.ensure_payable(record, rate_bp, paid_on, TODAY)
    return caught.value.extra["reason"]


def test_a_file_is_paid_once_its_sample_is_checked():
    assert _unpayable(claim_file()) == "sample_not_drawn"
    pv.ensure_payable(claim_file(), 0, date(2026, 12, 5), TODAY)  # a programme that does not sample
    assert _unpayable(claim_file(sample_seed="s" * 8)) == "sample_not_drawn"  # the draw did not finish
    assert _unpayable(claim_file(sample_seed="s" * 8, sample_size=2, sample_checked=1)) == "sample_unchecked"
    done = claim_file(sample_seed="s" * 8, sample_size=2, sample_checked=2)
    pv.ensure_payable(done, 500, date(2026, 12, 5), TODAY)
    assert _unpayable(done, paid_on=date(2026, 12, 11)) == "not_in_future"
    assert _unpayable(done, paid_on=date(2026, 10, 31)) == "not_before_period"
    assert _unpayable(dataclasses.replace(done, paid_on=date(2026, 12, 1))) == "already_paid"


def test_what_is_paid_is_the_file_less_the_lines_removed():
    record = claim_file(removed_line_count=1, removed_pence=15750)
    assert (record.total_pence, record.payable_pence) == (630000, 614250)
