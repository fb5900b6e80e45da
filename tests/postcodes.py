"""A postcode in a district wholly inside each Tees Valley authority's area (its rulebook `residence`), for tests
that need a resident and are not about residence. Elsewhere the test's own postcode is kept."""
from __future__ import annotations

RESIDENT = {
    "middlesbrough-council": "TS1 2AA",
    "stockton-on-tees-council": "TS18 1AA",
    "redcar-cleveland-council": "TS10 1AA",
    "hartlepool-council": "TS24 7AA",
    "darlington-council": "DL3 6AA",
}
AREAS = {"middlesbrough": "middlesbrough-council", "stockton": "stockton-on-tees-council",
         "stockton-on-tees": "stockton-on-tees-council", "redcar": "redcar-cleveland-council",
         "redcar-and-cleveland": "redcar-cleveland-council", "hartlepool": "hartlepool-council",
         "darlington": "darlington-council"}


def resident_postcode(provider_id: str | None, area: str | None = None, default: str = "NR1 3QU") -> str:
    """A resident's postcode for the provider (or the area's provider), else `default`."""
    provider = provider_id or AREAS.get((area or "").strip().lower())
    return RESIDENT.get(provider or "", default)
