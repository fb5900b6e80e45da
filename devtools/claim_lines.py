"""Approved payment lines written straight to a DynamoDB table, as the journey would have left them: many lines of
one programme, prime and period for the claim-file races and the claim-file benchmark, without taking thousands
of referrals through the API first. Items are serialised by the application's own model, so they are exactly what
the API would have stored."""
from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.payments.lines import APPROVED, PaymentLine, line_reference


def approved_lines(n: int, programme_id: str, prime: str, payee: str, event_date: date, amount_pence: int = 15750,
                   payee_net_pence: int = 14175, funder_org_id: str = "dwp-commissioning") -> Iterator[PaymentLine]:
    """n approved start lines (by default GBP 157.50, 10% kept by the prime), each of a referral of its own."""
    batch = secrets.token_hex(4)
    for i in range(n):
        referral = f"ref_{batch}{i:012d}"
        line_id = f"{referral}:level-3-delivery:start"
        yield PaymentLine(
            line_id=line_id, referral_id=referral, programme_id=programme_id, participant_ref=f"pr_{batch}{i:08d}",
            kind="earned", fee_id="level-3-delivery", milestone="start", funder="dwp", payee_org_id=payee,
            prime_org_id=prime, management_fee_bp=(amount_pence - payee_net_pence) * 10000 // amount_pence,
            amount_pence=amount_pence, prime_retained_pence=amount_pence - payee_net_pence,
            payee_net_pence=payee_net_pence, status=APPROVED, event_date=event_date, funder_org_id=funder_org_id,
            payer_org_id=prime, line_ref=line_reference(line_id), provider_ref=referral)


def put_lines(client: Any, table_name: str, lines: Iterator[PaymentLine], threads: int = 4) -> int:
    """Write the lines with BatchWriteItem (25 a call, `threads` calls at a time, unprocessed items retried);
    returns how many."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.store.payments import to_item

    now = datetime.now(UTC)
    items = ({"PutRequest": {"Item": to_item(line, "seed", now).serialize()}} for line in lines)
    count = 0
    with ThreadPoolExecutor(threads) as pool:
        while batches := [b for b in (list(itertools.islice(items, 25)) for _ in range(threads * 4)) if b]:
            for _ in pool.map(lambda batch: _write(client, table_name, batch), batches):
                pass
            count += sum(len(b) for b in batches)
    return count


def _write(client: Any, table_name: str, batch: list[dict]) -> None:
    pending = {table_name: batch}
    while pending:
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
