"""UK working-day and calendar arithmetic (chalicelib/domain/calendar.py).

Every expected date below was worked out by hand from the published UK bank holidays, then checked
against what the `holidays` library says (the product takes its holidays from that library).
"""
from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.calendar import (
    NATIONS,
    add_days,
    add_months,
    add_period,
    add_working_days,
    age_on,
    is_working_day,
)


def _gb(nation: str, *years: int) -> set[date]:
    return set(holidays.country_holidays("GB", subdiv=nation, years=list(years)).keys())


# ------------------------------------------------------------------ the library agrees with the hand calculation


def test_library_has_the_england_bank_holidays_the_tests_rely_on():
    eng = _gb("ENG", 2026, 2027)
    for day in (date(2026, 12, 25), date(2026, 12, 28),      # Christmas Fri, Boxing Day substitute Mon
                date(2027, 1, 1),                              # New Year's Day Fri
                date(2027, 3, 26), date(2027, 3, 29),          # Good Friday, Easter Monday
                date(2027, 12, 27), date(2027, 12, 28)):       # Christmas and Boxing Day substitutes
        assert day in eng, day
    assert date(2026, 1, 2) not in eng
    assert date(2026, 11, 30) not in eng
    assert date(2027, 1, 4) not in eng


def test_library_has_the_scottish_bank_holidays_the_tests_rely_on():
    sct = _gb("SCT", 2026, 2027)
    assert date(2026, 1, 2) in sct          # 2 January, Fri
    assert date(2026, 11, 30) in sct        # St Andrew's Day, Mon
    assert date(2027, 1, 4) in sct          # substitute for 2 January 2027 (a Saturday)
    assert date(2027, 3, 29) not in sct     # no Easter Monday in Scotland


# ------------------------------------------------------------------ is_working_day


@pytest.mark.parametrize("day, nation, expected", [
    (date(2026, 12, 24), "ENG", True),   # Thu
    (date(2026, 12, 25), "ENG", False),  # Christmas Day
    (date(2026, 12, 26), "ENG", False),  # Sat
    (date(2026, 12, 27), "ENG", False),  # Sun
    (date(2026, 12, 28), "ENG", False),  # Boxing Day substitute
    (date(2026, 12, 29), "ENG", True),
    (date(2027, 1, 4), "ENG", True),
    (date(2027, 1, 4), "SCT", False),    # 2 January substitute
    (date(2027, 3, 29), "ENG", False),   # Easter Monday
    (date(2027, 3, 29), "SCT", True),
    (date(2027, 3, 29), "WLS", False),
    (date(2027, 3, 29), "NIR", False),
    (date(2027, 3, 17), "NIR", False),   # St Patrick's Day, Wed
    (date(2027, 3, 17), "ENG", True),
    (date(2026, 11, 30), "SCT", False),  # St Andrew's Day
    (date(2026, 11, 30), "ENG", True),
])
def test_is_working_day(day, nation, expected):
    assert is_working_day(day, nation) is expected


def test_england_is_the_default_nation():
    assert is_working_day(date(2027, 3, 29)) is False
    assert is_working_day(date(2026, 11, 30)) is True


def test_unknown_nation_is_refused():
    with pytest.raises(ValueError, match="XYZ"):
        is_working_day(date(2026, 12, 1), "XYZ")


# ------------------------------------------------------------------ add_working_days


@pytest.mark.parametrize("start, days, nation, expected", [
    # Christmas 2026 (England): Fri 25 and Mon 28 Dec are bank holidays.
    (date(2026, 12, 24), 1, "ENG", date(2026, 12, 29)),
    (date(2026, 12, 24), 2, "ENG", date(2026, 12, 30)),
    (date(2026, 12, 23), 2, "ENG", date(2026, 12, 29)),
    # Into 2027: Thu 31 Dec, then New Year's Day Fri 1 Jan.
    (date(2026, 12, 24), 3, "ENG", date(2026, 12, 31)),
    (date(2026, 12, 24), 4, "ENG", date(2027, 1, 4)),
    (date(2026, 12, 31), 1, "ENG", date(2027, 1, 4)),
    # Scotland also has 2 Jan, a Saturday in 2027, so Mon 4 Jan is its substitute.
    (date(2026, 12, 31), 1, "SCT", date(2027, 1, 5)),
    # 2 Jan 2026 is a Friday: a holiday in Scotland only.
    (date(2025, 12, 31), 1, "ENG", date(2026, 1, 2)),
    (date(2025, 12, 31), 1, "SCT", date(2026, 1, 5)),
    # St Andrew's Day, Mon 30 Nov 2026: Scotland only.
    (date(2026, 11, 27), 1, "ENG", date(2026, 11, 30)),
    (date(2026, 11, 27), 1, "SCT", date(2026, 12, 1)),
    # Easter 2027: Good Friday 26 Mar and Easter Monday 29 Mar (England); Scotland has no Easter Monday.
    (date(2027, 3, 25), 1, "ENG", date(2027, 3, 30)),
    (date(2027, 3, 25), 1, "SCT", date(2027, 3, 29)),
    (date(2027, 3, 24), 2, "ENG", date(2027, 3, 30)),
    # Christmas 2027 falls on a weekend: substitutes Mon 27 and Tue 28 Dec.
    (date(2027, 12, 24), 1, "ENG", date(2027, 12, 29)),
    # Weekends skipped.
    (date(2026, 11, 20), 1, "ENG", date(2026, 11, 23)),   # Fri -> Mon
    (date(2026, 11, 21), 1, "ENG", date(2026, 11, 23)),   # Sat -> Mon
    (date(2026, 11, 22), 1, "ENG", date(2026, 11, 23)),   # Sun -> Mon
    (date(2026, 11, 23), 5, "ENG", date(2026, 11, 30)),   # Mon + 5 -> next Mon
    (date(2026, 11, 24), 15, "ENG", date(2026, 12, 15)),  # three clear weeks
])
def test_add_working_days(start, days, nation, expected):
    assert add_working_days(start, days, nation) == expected


def test_add_working_days_defaults_to_england():
    assert add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 30)


@pytest.mark.parametrize("start", [date(2026, 11, 24), date(2026, 12, 25), date(2026, 11, 21)])
def test_zero_working_days_is_the_start_itself(start):
    # Even when the start is a holiday or a weekend: nothing is added.
    assert add_working_days(start, 0) == start


def test_negative_working_days_raise():
    with pytest.raises(ValueError, match="negative"):
        add_working_days(date(2026, 11, 24), -1)


@settings(max_examples=150, deadline=None)
@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)),
    days=st.integers(min_value=0, max_value=40),
    nation=st.sampled_from(sorted(NATIONS)),
)
def test_add_working_days_lands_on_a_working_day_after_exactly_n_working_days(start, days, nation):
    result = add_working_days(start, days, nation)
    bank = _gb(nation, *range(start.year, result.year + 1))

    def working(d: date) -> bool:
        return d.weekday() < 5 and d not in bank

    between = [start + timedelta(days=i) for i in range(1, (result - start).days + 1)]
    assert sum(working(d) for d in between) == days
    if days == 0:
        assert result == start
    else:
        assert result > start
        assert working(result)


# ------------------------------------------------------------------ months, days, periods


@pytest.mark.parametrize("start, months, expected", [
    (date(2027, 1, 31), 1, date(2027, 2, 28)),   # clamped to the month's end
    (date(2028, 1, 31), 1, date(2028, 2, 29)),   # leap year
    (date(2026, 8, 31), 1, date(2026, 9, 30)),
    (date(2026, 3, 31), 11, date(2027, 2, 28)),
    (date(2026, 11, 30), 3, date(2027, 2, 28)),
    (date(2026, 12, 31), 2, date(2027, 2, 28)),
    (date(2026, 1, 15), 1, date(2026, 2, 15)),
    (date(2026, 11, 24), 12, date(2027, 11, 24)),
    (date(2026, 11, 24), 0, date(2026, 11, 24)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
])
def test_add_months(start, months, expected):
    assert add_months(start, months) == expected


def test_add_days_crosses_the_year():
    assert add_days(date(2026, 12, 24), 14) == date(2027, 1, 7)


@pytest.mark.parametrize("amount, unit, nation, expected", [
    (2, "working_days", "ENG", date(2026, 12, 30)),
    (1, "working_days", "SCT", date(2026, 12, 29)),
    (14, "days", "ENG", date(2027, 1, 7)),
    (2, "weeks", "ENG", date(2027, 1, 7)),
    (26, "weeks", "ENG", date(2027, 6, 24)),
    (2, "months", "ENG", date(2027, 2, 24)),
])
def test_add_period_from_christmas_eve(amount, unit, nation, expected):
    assert add_period(date(2026, 12, 24), amount, unit, nation) == expected


def test_add_period_working_days_uses_the_nation():
    assert add_period(date(2026, 11, 27), 1, "working_days", "ENG") == date(2026, 11, 30)
    assert add_period(date(2026, 11, 27), 1, "working_days", "SCT") == date(2026, 12, 1)


def test_add_period_months_clamps():
    assert add_period(date(2028, 1, 31), 1, "months") == date(2028, 2, 29)


def test_add_period_unknown_unit_raises():
    with pytest.raises(ValueError, match="fortnights"):
        add_period(date(2026, 11, 24), 1, "fortnights")


def test_add_period_years_are_calendar_years():
    assert add_period(date(2028, 2, 29), 1, "years") == date(2029, 2, 28)


# ------------------------------------------------------------------ age_on


@pytest.mark.parametrize("born, on, expected", [
    (date(1996, 11, 24), date(2026, 11, 23), 29),   # the day before the 30th birthday
    (date(1996, 11, 24), date(2026, 11, 24), 30),   # on the birthday
    (date(1996, 11, 24), date(2026, 11, 25), 30),
    (date(1996, 12, 31), date(2026, 12, 30), 29),
    (date(1996, 12, 31), date(2026, 12, 31), 30),
    (date(2008, 1, 1), date(2025, 12, 31), 17),
    (date(2008, 1, 1), date(2026, 1, 1), 18),
    (date(2026, 11, 24), date(2026, 11, 24), 0),
])
def test_age_on_birthdays(born, on, expected):
    assert age_on(born, on) == expected


@pytest.mark.parametrize("on, expected", [
    (date(2028, 2, 28), 27),   # leap year: the birthday is 29 Feb, so 28 Feb is the day before
    (date(2028, 2, 29), 28),
    (date(2028, 3, 1), 28),
    (date(2027, 2, 27), 26),
    (date(2027, 3, 1), 27),    # common year: older by 1 March whichever convention is used
])
def test_age_on_for_a_29_february_birthday(on, expected):
    assert age_on(date(2000, 2, 29), on) == expected


def test_age_on_29_february_birthday_in_a_common_year_counts_from_28_february():
    # The product's convention (dateutil's relativedelta): in a common year a 29 Feb birthday is taken to
    # fall on 28 Feb. (Scots law, Age of Legal Capacity (Scotland) Act 1991 s6(2), says 1 March instead.)
    assert age_on(date(2000, 2, 29), date(2027, 2, 28)) == 27
