"""What the payment use-case tests share: an in-memory store, one unit of work per call, a journey to a step."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from chalicelib.domain import steps
from chalicelib.domain.access import Principal
from chalicelib.payments.claim_file import ClaimFile
from chalicelib.services import claim_files, deps, journey
from tests.fakes.memory import Data, memory_store
from tests.postcodes import resident_postcode

TODAY = date(2026, 11, 24)


def in_memory() -> Iterator[Data]:
    store, data = memory_store()
    with deps.using(store):
        yield data


def commit(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a use case in its own unit of work and commit it, as a request does."""
    tx = deps.store().transaction()
    result = fn(*args, tx)
    tx.commit()
    return result


def journey_to(referrer: Principal, provider: Principal, programme_id: str, nino: str, eligibility: dict[str, bool],
               taken: tuple[tuple[str, dict], ...], support_level: str = "standard", on: date = TODAY) -> str:
    """Refer a person to `provider` and record each step in `taken` (name, extra body) on `on`."""
    payload = {"programme_id": programme_id, "provider_id": provider.org_id, "support_level": support_level,
               "consent": {"given": True, "date": on},
               "participant": {"nino": nino, "given_name": "Ada", "family_name": "Lovelace",
                               "date_of_birth": date(1990, 5, 17),
                               "postcode": resident_postcode(provider.org_id),
                               "eligibility": eligibility}}
    rid = commit(journey.create_referral, referrer, payload).referral.id
    for name, extra in taken:
        commit(lambda tx, n=name, e=extra: journey.record(provider, rid, steps.get(n), {"date": on, **e}, tx))
    return rid


STARTED = (("accept", {}), ("start", {}))


@contextlib.contextmanager
def on_day(day: str) -> Iterator[None]:
    """The clock pinned to `day` for a moment (REFPAY_TODAY), then back to what it was."""
    before = os.environ.get("REFPAY_TODAY")
    os.environ["REFPAY_TODAY"] = day
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("REFPAY_TODAY", None)
        else:
            os.environ["REFPAY_TODAY"] = before


def cut_file(principal: Principal, programme_id: str, period: str, payee: str | None = None,
             on: str = "2026-12-01") -> ClaimFile:
    """Cut a period's claim file once the period has ended (on `on`) and build it, as the worker does."""
    with on_day(on):
        record, _ = commit(claim_files.cut, principal, programme_id, period, payee)
        return claim_files.build(record.claim_file_id) or record
