"""A programme's flexible fund and employer incentives (rulebook `flexible_fund`), as journey rules.

The action plan records the barriers it identified (a short id and a category, never a description of the
person); an assessment records the in-work support costs it identified (an id and an amount). A key worker's
spend from the authority's fund names the barrier it removes: refused when there is no action plan, the barrier is
not in it, or the category is not the barrier's. A spend marked as a spot purchase (a procured service), or above
the rulebook's threshold, waits for the authority's coordinator's approval; any other spend counts against the
budget at once. An employer incentive, agreed in brokerage, names the employer (an organisation outside the
delivery chain), the amount and the assessed cost it meets: within that cost and within the rulebook's limit per
participant.
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

from . import journey
from .errors import ValidationFailed
from .journey import check_date
from .referral import Change, Referral
from .rulebook import FlexibleFund, Rulebook

SHORT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
SHORT_ID_RULE = "short_id"  # lower-case letters, digits and hyphens: a reference, never a description
# What a spend is before its coordinator decides (a spot purchase), or once counted against the budget.
PENDING_APPROVAL = "pending_approval"
DIRECT = "direct"


def fund_of(rulebook: Rulebook) -> FlexibleFund:
    if rulebook.flexible_fund is None:
        raise ValidationFailed.one("(body)", "flexible_fund", f"{rulebook.id} has no flexible fund")
    return rulebook.flexible_fund


def has_fund(rulebook: Rulebook, referral: Referral) -> bool:
    return rulebook.flexible_fund is not None


def _short_id(name: str, value: str) -> str:
    if not SHORT_ID.match(value):
        raise ValidationFailed.one(name, SHORT_ID_RULE, f"{name} is a short reference: lower-case letters, digits "
                                   "and hyphens, up to 40 (no names or descriptions of the person)")
    return value


def barriers(rulebook: Rulebook, referral: Referral, items: list[dict[str, Any]] | None) -> dict[str, str]:
    """The action plan's barriers after this plan: the earlier ones, with these added (or re-categorised)."""
    found = dict(referral.barriers)
    categories = rulebook.flexible_fund.categories if rulebook.flexible_fund else None
    for item in items or ():
        barrier_id = _short_id("barriers.id", item["id"])
        if categories is not None and item["category"] not in categories:
            raise ValidationFailed.one("barriers.category", "one_of", f"one of: {', '.join(categories)}")
        found[barrier_id] = item["category"]
    return found


def support_costs(referral: Referral, items: list[dict[str, Any]] | None) -> dict[str, int]:
    """The in-work support costs identified in the assessments so far, with this assessment's."""
    found = dict(referral.support_costs)
    for item in items or ():
        found[_short_id("support_costs.id", item["id"])] = item["amount_pence"]
    return found


def action_plan(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The action plan (journey.action_plan), with the barriers it identified."""
    change = journey.action_plan(rulebook, referral, payload, today)
    if not payload.get("barriers"):
        return change
    found = barriers(rulebook, referral, payload["barriers"])
    return replace(change, data={**change.data, "barriers": found}, fields={**change.fields, "barriers": found})


def assessment(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """An assessment (journey.assessment), with the in-work support costs it identified."""
    change = journey.assessment(rulebook, referral, payload, today)
    if not payload.get("support_costs"):
        return change
    found = support_costs(referral, payload["support_costs"])
    return replace(change, data={**change.data, "support_costs": found},
                   fields={**change.fields, "support_costs": found})


def is_spot_purchase(fund: FlexibleFund, amount_pence: int, marked: bool) -> bool:
    return marked or amount_pence > fund.spot_purchase_over_pence


def spend(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """A spend from the authority's fund, justified against a barrier in the participant's action plan."""
    fund = fund_of(rulebook)
    on, barrier_id, category = payload["date"], payload["barrier_id"], payload["category"]
    if referral.action_plan_on is None:
        raise ValidationFailed.one("barrier_id", "action_plan_required",
                                   "a spend removes a barrier in the action plan: record the action plan first")
    if fund.budget_of(referral.provider_org_id) is None:
        raise ValidationFailed.one("(body)", "fund_budget", f"{referral.provider_org_id} has no flexible fund budget")
    if category not in fund.categories:
        raise ValidationFailed.one("category", "one_of", f"one of: {', '.join(fund.categories)}")
    barrier = referral.barriers.get(barrier_id)
    if barrier is None:
        raise ValidationFailed.one("barrier_id", "in_action_plan",
                                   f"barrier {barrier_id!r} is not in the participant's action plan")
    if barrier != category:
        raise ValidationFailed.one("category", "matches_barrier",
                                   f"barrier {barrier_id!r} is a {barrier} barrier, not {category}")
    check_date("date", on, today, (referral.action_plan_on, "the action plan"))
    fee = rulebook.tariff.fee(fund.fee)
    cap = fee.amount.max_pence if fee else None
    amount = payload["amount_pence"]
    if cap is not None and amount > cap:
        raise ValidationFailed.one("amount_pence", "over_cap", f"a spend is at most {cap} pence ({fund.fee})")
    spot = is_spot_purchase(fund, amount, payload.get("spot_purchase", False))
    return Change(on, {"spend_id": f"ff{referral.version + 1}", "category": category, "barrier_id": barrier_id,
                       "amount_pence": amount, "supplier": payload["supplier"], "spot_purchase": spot,
                       "status": PENDING_APPROVAL if spot else DIRECT, "provider_ref": payload.get("provider_ref")})


def incentive(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """An employer incentive agreed in brokerage: the employer (outside the chain), the amount, and the in-work
    support cost an assessment identified that it meets."""
    fund = fund_of(rulebook)
    on, cost_id, amount = payload["date"], payload["cost_id"], payload["amount_pence"]
    employer = payload["employer_name"].strip()
    check_date("date", on, today, (referral.assessed_on, "the assessment"))
    if employer.lower() in _chain_names(rulebook):
        raise ValidationFailed.one("employer_name", "outside_chain", "an employer incentive pays an employer "
                                   "outside the delivery chain, not one of the programme's organisations")
    cost = referral.support_costs.get(cost_id)
    if cost is None:
        raise ValidationFailed.one("cost_id", "assessed_cost",
                                   f"{cost_id!r} is not an in-work support cost identified in an assessment")
    standing = [x for i, x in referral.incentives.items() if i not in referral.withdrawn_incentives]
    met = sum(int(x["amount_pence"]) for x in standing if x["cost_id"] == cost_id)
    if met + amount > cost:
        raise ValidationFailed.one("amount_pence", "within_assessed_cost",
                                   f"the assessed cost {cost_id} is {cost} pence, {met} already agreed")
    agreed = sum(int(x["amount_pence"]) for x in standing)
    if agreed + amount > fund.incentive_max_pence:
        raise ValidationFailed.one("amount_pence", "incentive_limit", f"employer incentives are at most "
                                   f"{fund.incentive_max_pence} pence per participant, {agreed} already agreed")
    incentive_id = f"ei{referral.version + 1}"
    record = {"employer": employer, "amount_pence": amount, "cost_id": cost_id, "on": on.isoformat()}
    return Change(on, {"incentive_id": incentive_id, **record},
                  {"incentives": {**referral.incentives, incentive_id: record}})


def _chain_names(rulebook: Rulebook) -> set[str]:
    orgs = [(o.org_id, o.name) for o in rulebook.delivery_organisations]
    orgs += [(m.org_id, m.name) for m in rulebook.chain_members]
    return {x.lower() for pair in orgs for x in pair}
