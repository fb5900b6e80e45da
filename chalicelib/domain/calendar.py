"""Deadline arithmetic: UK working days (bank holidays from the `holidays` library) and months."""
from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from dateutil.relativedelta import relativedelta

# The UK nations have different bank holidays; programmes name theirs (England by default).
NATIONS = {"ENG": "England", "WLS": "Wales", "SCT": "Scotland", "NIR": "Northern Ireland"}


@lru_cache(maxsize=64)
def _bank_holidays(nation: str, year: int) -> frozenset[date]:
    if nation not in NATIONS:
        raise ValueError(f"unknown UK nation {nation!r}; one of {sorted(NATIONS)}")
    import holidays  # on first use: it is a large import, and a cold start needs it only for deadlines

    return frozenset(holidays.country_holidays("GB", subdiv=nation, years=year).keys())


def is_working_day(day: date, nation: str = "ENG") -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(nation, day.year)


def add_working_days(start: date, days: int, nation: str = "ENG") -> date:
    """The date `days` working days after `start` (start itself does not count)."""
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current, nation):
            remaining -= 1
    return current


def working_days_between(start: date, end: date, nation: str = "ENG") -> int:
    """How many working days after `start` `end` is (`start` itself does not count; 0 if `end` is not later)."""
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        if is_working_day(current, nation):
            count += 1
    return count


def add_days(start: date, days: int) -> date:
    return start + timedelta(days=days)


def add_months(start: date, months: int) -> date:
    """Calendar months, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    return start + relativedelta(months=months)


def add_period(start: date, amount: int, unit: str, nation: str = "ENG") -> date:
    if unit == "working_days":
        return add_working_days(start, amount, nation)
    if unit == "days":
        return add_days(start, amount)
    if unit == "weeks":
        return add_days(start, 7 * amount)
    if unit == "months":
        return add_months(start, amount)
    if unit == "years":
        return add_months(start, 12 * amount)
    raise ValueError(f"unknown period unit {unit!r}")


def age_on(date_of_birth: date, on: date) -> int:
    return relativedelta(on, date_of_birth).years
