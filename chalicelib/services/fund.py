"""Flexible fund and employer incentives: the payment line each spend or incentive makes, the authority's budget
counted in the same unit of work, the coordinator's decision on a spot purchase, and the fund's report.

A spend is a line paying the delivering authority, funded (and approved) by the fund fee's funder, carrying its
category and barrier; a spot purchase's line waits (`pending_approval`) for a `coordinator` key of that authority,
never the key that recorded it. An employer incentive is a line paying the employer, named on the line, outside the
delivery chain: the funder approves it, and the authority claims it in its claim file.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .. import clock
from ..adapters.rulebooks import get_rulebook
from ..domain import parties
from ..domain.access import Principal
from ..domain.errors import ClaimRefused, Forbidden, NotFound, ValidationFailed
from ..domain.referral import Event, Referral
from ..domain.rulebook import FlexibleFund, Rulebook
from ..payments import fund as counts
from ..payments import lines as pl
from .deps import store
from .payments import line_for
from .ports import UnitOfWork

SPEND, INCENTIVE = "flexible_fund_spend", "employer_incentive"


def _employer_id(name: str) -> str:
    """The line's payee id for an employer: not an organisation of the system, so nobody's key is its payee."""
    return "employer:" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unnamed")[:60]


def add_lines(tx: UnitOfWork, rulebook: Rulebook, referral: Referral, event: Event, principal: Principal) -> None:
    """The line a spend or an incentive makes, with the fund's counters, in the step's unit of work."""
    if event.type not in (SPEND, INCENTIVE) or rulebook.flexible_fund is None:
        return
    fund = rulebook.flexible_fund
    deliverer = parties.current(referral.parties, parties.DELIVERER)
    assert deliverer is not None  # a referral in support has its deliverer
    data, on, now = event.data, event.occurred_on, clock.now()
    if event.type == SPEND:
        fee = rulebook.tariff.fee(fund.fee)
        assert fee is not None  # the loader checks the fund's fees
        spot = bool(data["spot_purchase"])
        line = line_for(rulebook, referral, deliverer, milestone_key=f"{fee.id}:{data['spend_id']}", fee_id=fee.id,
                         milestone=fee.payments[0].milestone, funder=fee.funder, amount=data["amount_pence"], on=on,
                         kind=pl.CLAIM, status=pl.PENDING_APPROVAL if spot else pl.SUBMITTED,
                         evidence_ref=data["supplier"], provider_ref=data.get("provider_ref"),
                         category=data["category"], barrier_id=data["barrier_id"], requested_by=principal.key_id)
        store().lines.add(tx, line, principal.org_id, now)
        _count(tx, rulebook, fund, line, counts.spend_counts(line, spot))
        return
    fee = rulebook.tariff.fee(fund.incentive_fee)
    assert fee is not None
    employer = parties.Party(_employer_id(data["employer"]), "employer", on, principal.org_id)
    line = line_for(rulebook, referral, employer, milestone_key=f"{fee.id}:{data['incentive_id']}", fee_id=fee.id,
                     milestone=fee.payments[0].milestone, funder=fee.funder, amount=data["amount_pence"], on=on,
                     kind=pl.CLAIM, status=pl.SUBMITTED, evidence_ref=f"assessed cost {data['cost_id']}",
                     payee_kind=pl.EMPLOYER, payee_name=data["employer"], requested_by=principal.key_id,
                     authority_org_id=deliverer.org_id)
    store().lines.add(tx, line, principal.org_id, now)
    store().referrals.add_counts(tx, rulebook.id, counts.incentive_counts(deliverer.org_id, line))


def _count(tx: UnitOfWork, rulebook: Rulebook, fund: FlexibleFund, line: pl.PaymentLine,
           changes: dict[str, int]) -> None:
    """Add to the authority's fund counters; its committed spend never goes above its budget."""
    budget = fund.budget_of(line.payee_org_id)
    if budget is None:
        raise ClaimRefused("fund_budget", f"{line.payee_org_id} has no flexible fund budget", "amount_pence")
    store().referrals.add_counts(tx, rulebook.id, changes, (counts.committed_counter(line.payee_org_id), budget))


def _spot_purchase(principal: Principal, line_id: str) -> tuple[pl.PaymentLine, Rulebook, FlexibleFund]:
    """A spend of the caller's authority: another organisation's is not found (no oracle)."""
    line = store().lines.get(line_id)
    rulebook = get_rulebook(line.programme_id) if line else None
    fund = rulebook.flexible_fund if rulebook else None
    if line is None or rulebook is None or fund is None or line.fee_id != fund.fee \
            or line.payee_org_id != principal.org_id:
        raise NotFound("no such flexible fund spend")
    return line, rulebook, fund


def decide_spot_purchase(principal: Principal, line_id: str, approve: bool, reason: str | None,
                         tx: UnitOfWork) -> pl.PaymentLine:
    """The authority's coordinator approves (it then counts against the budget, refused if it would exceed it) or
    rejects, with a reason, a spot purchase; never the key that recorded it."""
    principal.require("coordinator")
    line, rulebook, fund = _spot_purchase(principal, line_id)
    if line.status != pl.PENDING_APPROVAL:
        raise ClaimRefused("not_pending", f"spend {line_id} is {line.status}, not a spot purchase waiting for "
                           "approval", "line_id")
    if principal.key_id == line.requested_by:
        raise Forbidden("the key that recorded a spot purchase cannot approve or reject it", rule="own_request")
    if not approve and not reason:
        raise ValidationFailed.one("reason", "required", "a rejection gives a reason")
    store().lines.add_spot_decision(tx, line, approve, reason, principal.key_id, clock.now())
    _count(tx, rulebook, fund, line, counts.coordinator_counts(line, approve))
    return replace(line, status=pl.SUBMITTED if approve else pl.REJECTED, reason=None if approve else reason,
                   version=line.version + 1)


def read_spend(principal: Principal, line_id: str) -> pl.PaymentLine:
    return _spot_purchase(principal, line_id)[0]


def report(principal: Principal, programme_id: str) -> dict[str, Any]:
    """Each authority's fund: budget, committed, spent, remaining, spot purchases waiting, spend by category, and
    employer incentives by employer. An authority sees its own; the programme's commissioner and the fund's
    funder see every authority's; nobody else anything."""
    rulebook = get_rulebook(programme_id)
    if rulebook is None or rulebook.flexible_fund is None:
        raise NotFound("no flexible fund in that programme")
    fund = rulebook.flexible_fund
    overseers = {rulebook.commissioner_org_id, rulebook.funder_org(_funder_of(rulebook, fund), "")}
    if principal.org_id in overseers:
        orgs = list(fund.budgets)
        found = store().referrals.counts_under(programme_id, counts.PREFIX)
    elif principal.org_id in fund.budgets:
        orgs = [principal.org_id]
        found = store().referrals.counts_under(programme_id, counts.prefix(principal.org_id))
    else:
        raise Forbidden("a flexible fund is seen by its authority and by the programme's commissioner",
                        rule="fund_overseer")
    return {"programme_id": programme_id,
            "authorities": [counts.report(o, fund.budgets[o], found) for o in orgs]}


def _funder_of(rulebook: Rulebook, fund: FlexibleFund) -> str:
    fee = rulebook.tariff.fee(fund.fee)
    return fee.funder if fee else ""

