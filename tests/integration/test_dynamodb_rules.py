"""What moto lets through and Amazon's engine refuses. A subcontractor's listings are read from the index keyed by
its own organisation; filtering that query on the same key attribute is refused by DynamoDB ("Filter Expression
can only contain non-primary key attributes", a ValidationException, so a 500), while moto accepts it. Every
filter a caller may send must work on the real engine, from each caller's view."""
from __future__ import annotations

import pytest

from tests.integration.conftest import journey

FILTERED = ["/referrals?provider_id=kings-lynn-works", "/compliance/flags?provider_id=kings-lynn-works",
            "/claims?payee_org_id=kings-lynn-works"]


@pytest.mark.parametrize("path", FILTERED, ids=[p.split("?")[0] for p in FILTERED])
def test_a_subcontractor_can_filter_its_listings_by_its_own_organisation(server, path):
    journey(server, ["accept", "start"])
    reply = server.get(path, server.keys["provider"])  # King's Lynn Works, a subcontractor
    assert reply.status == 200, reply
    assert isinstance(reply.body["items"], list)


@pytest.mark.parametrize("path", FILTERED, ids=[p.split("?")[0] for p in FILTERED])
def test_the_prime_can_filter_its_listings_by_a_subcontractor(server, path):
    """The same filters from the prime's view (another index)."""
    journey(server, ["accept", "start"])
    reply = server.get(path, server.keys["finance"] if path.startswith("/claims") else server.keys["prime"])
    assert reply.status == 200, reply
    assert isinstance(reply.body["items"], list)
