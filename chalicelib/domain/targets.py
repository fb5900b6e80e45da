"""Delivery minimums: the least each organisation is to deliver to, reported against a pro-rata path.

A minimum is a target (seed 001: each authority "will deliver the service to a minimum of" N individuals), never a
reason to refuse a referral; a hard cap is the organisation's `allocation`, where a rulebook states one. Progress
counts the individuals the service was delivered to (starts). The pro-rata path is the minimum spread evenly over
the referral window: an organisation is behind when its starts fall short of its share of the days gone by.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .rulebook import Rulebook


def window_elapsed_bp(rulebook: Rulebook, on: date) -> int:
    """How much of the referral window has gone by on `on` (its days, the first and `on` counted), in basis points
    (0..10000, rounded down)."""
    span = (rulebook.referral_closes - rulebook.referral_opens).days + 1
    gone = min(max((on - rulebook.referral_opens).days + 1, 0), span)
    return gone * 10000 // span


def expected_by(minimum: int, elapsed_bp: int) -> int:
    """The starts the pro-rata path expects by now: the minimum's share of the window gone by, in whole people
    (rounded up: one short of the path is behind it)."""
    return -(-minimum * elapsed_bp // 10000)


@dataclass(frozen=True)
class MinimumProgress:
    org_id: str
    minimum: int
    started: int
    indicative_share_pct: float  # its minimum as a share of all the organisations' minimums
    started_share_pct: float | None  # its starts as a share of all starts on the programme
    expected_by_now: int
    elapsed_bp: int

    @property
    def pct_of_minimum(self) -> float:
        return round(100 * self.started / self.minimum, 1)

    @property
    def behind_pro_rata(self) -> bool:
        return self.started < self.expected_by_now

    def as_dict(self) -> dict:
        return {"minimum": self.minimum, "started": self.started, "pct_of_minimum": self.pct_of_minimum,
                "indicative_share_pct": self.indicative_share_pct, "started_share_pct": self.started_share_pct,
                "expected_by_now": self.expected_by_now, "behind_pro_rata": self.behind_pro_rata}


def minimum_progress(rulebook: Rulebook, started: dict[str, int], on: date) -> list[MinimumProgress]:
    """Each organisation with a minimum: its starts against the minimum and the pro-rata path on `on`."""
    with_minimum = [o for o in rulebook.delivery_organisations if o.minimum]
    all_minimums = sum(o.minimum or 0 for o in with_minimum)
    all_started = sum(started.get(o.org_id, 0) for o in rulebook.delivery_organisations)
    elapsed = window_elapsed_bp(rulebook, on)
    out = []
    for org in with_minimum:
        assert org.minimum is not None
        count = started.get(org.org_id, 0)
        out.append(MinimumProgress(
            org.org_id, org.minimum, count, round(100 * org.minimum / all_minimums, 1),
            round(100 * count / all_started, 1) if all_started else None, expected_by(org.minimum, elapsed), elapsed))
    return out
