"""Nightly compliance: which deadlines and fee tranches a referral has pending, and when each needs action.

Every referral's pending work is a small set of `Pending` items derived from its state alone. The store keeps
that set in a table keyed by the day the item needs action, so a nightly run reads only what is due.
A deadline needs action the day after it falls due (that is the first day it is missed); a service-fee
tranche needs action on the day it falls due.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from . import deadlines, lifecycle
from .journey import Referral
from .rulebook import Rulebook

SHARDS = 32  # partitions of the pending-work table: spreads writes, and lets a run fan out one shard each
TRANCHE = "tranche"


@dataclass(frozen=True)
class Pending:
    rule: str           # a deadline rule (acknowledge, start, review, sustainment:3-months...) or tranche:<fee>:<n>
    due: date
    act_on: date        # the run date that acts on it
    description: str
    amount_pence: int = 0  # a tranche's amount
    funder: str = ""       # a tranche's funder

    @property
    def is_tranche(self) -> bool:
        return self.rule.startswith(TRANCHE + ":")


def shard_of(referral_id: str) -> str:
    digest = hashlib.sha256(referral_id.encode()).digest()
    return f"s{digest[0] % SHARDS:02d}"


def all_shards() -> list[str]:
    return [f"s{n:02d}" for n in range(SHARDS)]


def pending(rulebook: Rulebook, referral: Referral) -> set[Pending]:
    """Everything this referral will need a nightly run for, given its state now."""
    items: set[Pending] = set()
    if referral.status in lifecycle.FINAL_STATES:
        return items
    for due in deadlines.running(rulebook, referral):
        items.add(Pending(due.rule, due.due, due.due + timedelta(days=1), due.description))
    if referral.status in lifecycle.ON_PROVISION and referral.started_on:
        from ..payments.tariff import applies_to, tranche_schedule

        provider = rulebook.provider(referral.provider_org_id)
        for fee in rulebook.tariff["fees"]:
            has_tranches = any(p["milestone"] == "service_fee_tranche" for p in fee["payments"])
            if not has_tranches or not applies_to(fee, provider.level if provider else None):
                continue
            for n, due, amount in tranche_schedule(fee, referral.started_on):
                items.add(Pending(f"{TRANCHE}:{fee['id']}:{n}", due, due, f"{fee['id']} service-fee tranche {n}",
                                  amount, fee["funder"]))
    return items


def tranche_parts(rule: str) -> tuple[str, int]:
    _, fee_id, n = rule.split(":")
    return fee_id, int(n)


def window_closed(rulebook: Rulebook, on: date) -> bool:
    return on > rulebook.referral_closes


@dataclass(frozen=True)
class Check:
    """A programme-level measure against its target: reported, never enforced by refusal."""

    programme_id: str
    org_id: str
    measure: str
    actual: int
    base: int
    target_pct: float | None

    @property
    def pct(self) -> float | None:
        return round(100 * self.actual / self.base, 1) if self.base else None

    @property
    def met(self) -> bool | None:
        if self.target_pct is None or not self.base:
            return None
        return 100 * self.actual >= self.target_pct * self.base

    def as_dict(self) -> dict:
        return {"programme_id": self.programme_id, "org_id": self.org_id, "measure": self.measure,
                "actual": self.actual, "base": self.base, "pct": self.pct, "target_pct": self.target_pct,
                "met": self.met}


def programme_checks(rulebook: Rulebook, used: dict[str, int], stats: dict[str, dict[str, int]]) -> list[Check]:
    """Allocation use against each organisation's share, cohort mix and outcome targets."""
    checks: list[Check] = []
    for org in rulebook.delivery_organisations:
        checks.append(Check(rulebook.id, org.org_id, "allocation_used", used.get(org.org_id, 0), org.allocation,
                            None))
    targets = rulebook.targets or {}
    cohort = (targets.get("cohort_min_share") or {}).get("learning_disability_or_autism")
    for org_id, s in sorted(stats.items()):
        started = s.get("started", 0)
        if cohort is not None:
            checks.append(Check(rulebook.id, org_id, "cohort_learning_disability_or_autism",
                                s.get("ld_or_autism", 0), started, round(cohort * 100, 2)))
        for measure, key in (("job_starts", "job_starts_pct"), ("over_16_hours", "over_16_hours_pct"),
                             ("over_8_hours", "over_8_hours_pct")):
            if targets.get(key) is not None:
                checks.append(Check(rulebook.id, org_id, measure, s.get(measure, 0), started, targets[key]))
    return checks
