"""Residence: a delivery organisation that serves its own residents takes only people whose postcode is in its area.

The area is data in the rulebook (`Residence`: the local authority's ONS code and its postcode districts). Where a
district straddles two authorities, the referrer states the participant's authority, and the district must be one
the provider's authority covers. A refusal names the field and the rule, never the postcode.
"""
from __future__ import annotations

from .errors import FieldError, ReferralRefused, ValidationFailed
from .participants import normalise_postcode
from .rulebook import DeliveryOrganisation


def district_of(postcode: str) -> str:
    """The postcode district (outward code): 'DL3 6AA' -> 'DL3'."""
    return normalise_postcode(postcode).split(" ")[0]


def check(provider: DeliveryOrganisation, postcode: str, stated_authority: str | None) -> str | None:
    """Refuse a participant who is not a resident of the provider's area. Returns the authority the referrer
    stated where that settled a straddling district (to be recorded), else None."""
    area = provider.residence
    if area is None:
        return None
    district = district_of(postcode)
    if district not in area.districts and district not in area.straddling:
        raise _not_resident(provider, "participant.postcode", "the postcode is not in the area "
                            f"{provider.name} serves (local authority {area.local_authority})")
    if stated_authority and stated_authority != area.local_authority:
        raise _not_resident(provider, "residence_authority", f"{provider.name} serves residents of "
                            f"{area.local_authority}, not {stated_authority}")
    if district in area.straddling and not stated_authority:
        raise ValidationFailed.one(
            "residence_authority", "required_for_straddling_district",
            "the postcode's district straddles local authorities: state the participant's local authority "
            f"(its ONS code, e.g. {area.local_authority})")
    return stated_authority if district in area.straddling else None


def _not_resident(provider: DeliveryOrganisation, field: str, message: str) -> ReferralRefused:
    return ReferralRefused("not_resident", f"{provider.name} serves its own residents only",
                           [FieldError(field, "residence", message)])
