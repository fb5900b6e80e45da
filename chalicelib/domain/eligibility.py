"""Eligibility: who a programme may take, decided from the referral's stated attributes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from .calendar import age_on

if TYPE_CHECKING:  # pragma: no cover
    from .rulebook import DeliveryOrganisation, Rulebook

# The eligibility attributes a referrer may state about a participant (all yes/no).
ATTRIBUTES = (
    "seeking_work",
    "right_to_work",
    "in_employment",
    "learning_disability",
    "autism",
    "long_term_mental_health",
    "secondary_mental_health_services",
    "on_other_dwp_programme",
    "benefit_entitlement",
    "disabled",
    "ex_offender",
    "long_term_unemployed",
    "lone_parent",
    "carer",
    "considering_self_employment",
    "aged_18_24",
    "aged_50_plus",
)


@dataclass(frozen=True)
class Ineligibility:
    field: str
    rule: str
    message: str


def check(rulebook: Rulebook, provider: DeliveryOrganisation, date_of_birth: date,
          attributes: dict[str, bool], on: date) -> list[Ineligibility]:
    """Every reason this participant cannot join this programme with this provider (empty: eligible)."""
    reasons: list[Ineligibility] = []
    age = age_on(date_of_birth, on)
    min_age = max(a for a in (rulebook.min_age, provider.min_age, 0) if a is not None)
    limits = [a for a in (rulebook.max_age, provider.max_age) if a is not None]
    if age < min_age:
        reasons.append(Ineligibility(
            "participant.date_of_birth", "min_age",
            f"must be at least {min_age} on the referral date"
            + (f" to be served by {provider.name}" if provider.min_age == min_age else "")))
    if limits and age > min(limits):
        reasons.append(Ineligibility(
            "participant.date_of_birth", "max_age", f"must be at most {min(limits)} on the referral date"))
    unstated = [name for name in rulebook.stated_attributes if name not in attributes]
    for name in unstated:
        reasons.append(Ineligibility(
            f"participant.eligibility.{name}", "must_state",
            f"the programme checks {name} at referral: state it, true or false"))
    for name in rulebook.required_attributes:
        if name not in unstated and not attributes.get(name, False):
            reasons.append(Ineligibility(
                f"participant.eligibility.{name}", "required", f"the programme requires {name} to be true"))
    for name in rulebook.excluded_attributes:
        if attributes.get(name, False):
            reasons.append(Ineligibility(
                f"participant.eligibility.{name}", "excluded", f"the programme excludes people with {name}"))
    return reasons


def stated_checks(rulebook: Rulebook, attributes: dict[str, bool]) -> dict[str, bool]:
    """The conditions the programme checks at referral, as the referrer stated them (kept on the referral event)."""
    return {name: bool(attributes[name]) for name in rulebook.stated_attributes if name in attributes}


def priority_groups(rulebook: Rulebook, attributes: dict[str, bool]) -> list[str]:
    """The programme's reporting priority groups this participant belongs to."""
    return [g for g in rulebook.priority_groups if attributes.get(g, False)]
