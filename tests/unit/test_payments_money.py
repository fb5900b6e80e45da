"""Money in integer pence (chalicelib/payments/money.py) and the subcontractor cascade
(chalicelib/payments/tariff.py: cascade). DOMAIN "Money": a split always sums to the whole, to the penny."""
from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.payments.money import pounds, split
from chalicelib.payments.tariff import cascade

totals = st.integers(min_value=-10**12, max_value=10**12)
non_negative_totals = st.integers(min_value=0, max_value=10**12)
# Non-negative weights, at least one of them positive.
weight_lists = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=20).filter(
    lambda ws: sum(ws) > 0)

FAST = settings(max_examples=100, deadline=None)


# ---------------------------------------------------------------- split


@FAST
@given(totals, weight_lists)
def test_split_parts_always_sum_to_the_total(total, weights):
    parts = split(total, weights)
    assert len(parts) == len(weights)
    assert all(isinstance(p, int) for p in parts)
    assert sum(parts) == total


@FAST
@given(weight_lists)
def test_split_of_zero_is_all_zeros(weights):
    assert split(0, weights) == [0] * len(weights)


@FAST
@given(totals, weight_lists)
def test_each_part_is_within_a_penny_of_its_exact_share(total, weights):
    whole = sum(weights)
    for part, weight in zip(split(total, weights), weights, strict=True):
        exact = Fraction(total * weight, whole)
        assert abs(part - exact) < 1, (part, exact)


@FAST
@given(non_negative_totals, weight_lists)
def test_parts_are_non_negative_for_a_non_negative_total(total, weights):
    assert all(p >= 0 for p in split(total, weights))


@FAST
@given(non_negative_totals, weight_lists)
def test_a_zero_weight_gets_nothing(total, weights):
    for part, weight in zip(split(total, weights), weights, strict=True):
        if weight == 0:
            assert part == 0


@FAST
@given(totals, st.integers(min_value=1, max_value=50), st.integers(min_value=1, max_value=10**6))
def test_equal_weights_give_parts_differing_by_at_most_a_penny(total, count, weight):
    parts = split(total, [weight] * count)
    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1


@FAST
@given(totals, weight_lists)
def test_a_negative_total_mirrors_the_positive_split(total, weights):
    assert split(-total, weights) == [-p for p in split(total, weights)]


def test_split_worked_examples():
    assert split(52500, [3000, 7000]) == [15750, 36750]
    assert split(350000, [4000, 6000]) == [140000, 210000]
    assert split(210000, [1] * 9) == [23334, 23334, 23334, 23333, 23333, 23333, 23333, 23333, 23333]
    # Largest remainder, ties to the earlier part.
    assert split(100, [1, 1, 1]) == [34, 33, 33]
    assert split(-100, [1, 1, 1]) == [-34, -33, -33]
    assert split(1, [1, 1]) == [1, 0]
    assert split(2, [1, 2]) == [1, 1]  # 0.67 and 1.33: the larger remainder (0.67) gets the spare penny


@pytest.mark.parametrize("weights", [[], [0], [0, 0, 0], [-1, 2], [5, -5, 10], [1, -1]])
def test_invalid_weights_raise_value_error(weights):
    with pytest.raises(ValueError):
        split(100, weights)


@pytest.mark.parametrize("weights", [[], [0, 0], [-1, 2]])
def test_invalid_weights_raise_value_error_for_a_negative_total_too(weights):
    with pytest.raises(ValueError):
        split(-100, weights)


# ---------------------------------------------------------------- pounds


@pytest.mark.parametrize("pence, text", [
    (0, "0.00"),
    (5, "0.05"),
    (100, "1.00"),
    (12345, "123.45"),
    (-5, "-0.05"),
    (-12345, "-123.45"),
    (-100, "-1.00"),
    (15750, "157.50"),
    (-1575, "-15.75"),
    (123456789, "1234567.89"),
])
def test_pounds_formats_two_decimals(pence, text):
    assert pounds(pence) == text


@FAST
@given(totals)
def test_pounds_round_trips_to_pence(pence):
    text = pounds(pence)
    whole, _, part = text.lstrip("-").partition(".")
    assert len(part) == 2
    value = int(whole) * 100 + int(part)
    assert (-value if text.startswith("-") else value) == pence


# ---------------------------------------------------------------- cascade


@FAST
@given(totals, st.integers(min_value=0, max_value=10000))
def test_cascade_sums_to_the_amount_for_any_management_fee(amount, bp):
    retained, net = cascade(amount, bp)
    assert retained + net == amount
    assert abs(retained - Fraction(amount * bp, 10000)) < 1


@FAST
@given(non_negative_totals, st.integers(min_value=0, max_value=10000))
def test_cascade_parts_are_non_negative_for_a_non_negative_amount(amount, bp):
    retained, net = cascade(amount, bp)
    assert retained >= 0 and net >= 0


@FAST
@given(totals, st.integers(min_value=0, max_value=10000))
def test_cascade_of_a_clawback_mirrors_the_original(amount, bp):
    retained, net = cascade(amount, bp)
    assert cascade(-amount, bp) == (-retained, -net)


@FAST
@given(totals)
def test_cascade_with_no_management_fee_passes_everything_through(amount):
    assert tuple(cascade(amount, 0)) == (0, amount)


def test_cascade_worked_examples():
    assert tuple(cascade(52500, 1000)) == (5250, 47250)
    assert tuple(cascade(15750, 500)) == (788, 14962)  # 787.5 -> the prime's part takes the tie
    assert tuple(cascade(100, 10000)) == (100, 0)
