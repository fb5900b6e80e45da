"""A flexible fund's counters: what each spend, decision and incentive adds, and the report read from them.

Each delivery authority's fund keeps named counters beside the programme's place counts, written in the same unit
of work as the line they count: `committed` (direct spends, and spot purchases once the coordinator approved them:
what counts against the budget, never above it), `spent` (of those, what the payer approved), `pending` and
`pending_count` (spot purchases waiting for the coordinator), `category#<c>` (committed by category) and, for
employer incentives, `employer#<name>` and `employer_count#<name>`.
"""
from __future__ import annotations

from typing import Any

from .lines import EMPLOYER, PaymentLine

PREFIX = "fund#"
COMMITTED, SPENT, PENDING, PENDING_COUNT = "committed", "spent", "pending", "pending_count"
CATEGORY, EMPLOYER_AMOUNT, EMPLOYER_COUNT = "category#", "employer#", "employer_count#"


def prefix(org_id: str) -> str:
    return f"{PREFIX}{org_id}#"


def counter(org_id: str, name: str) -> str:
    return prefix(org_id) + name


def committed_counter(org_id: str) -> str:
    return counter(org_id, COMMITTED)


def _committed(line: PaymentLine, sign: int) -> dict[str, int]:
    org = line.payee_org_id
    return {counter(org, COMMITTED): sign * line.amount_pence,
            counter(org, CATEGORY + (line.category or "")): sign * line.amount_pence}


def _pending(line: PaymentLine, sign: int) -> dict[str, int]:
    org = line.payee_org_id
    return {counter(org, PENDING): sign * line.amount_pence, counter(org, PENDING_COUNT): sign}


def spend_counts(line: PaymentLine, spot_purchase: bool) -> dict[str, int]:
    """A new spend: a spot purchase waits (pending), any other counts against the budget at once."""
    return _pending(line, 1) if spot_purchase else _committed(line, 1)


def coordinator_counts(line: PaymentLine, approve: bool) -> dict[str, int]:
    """The coordinator's decision on a spot purchase: no longer pending; approved, it counts against the budget."""
    return {**_pending(line, -1), **(_committed(line, 1) if approve else {})}


def payer_counts(line: PaymentLine, approve: bool, fund_fee: str) -> dict[str, int]:
    """The payer's decision on a committed spend: approved, it is spent; rejected, its budget is released. A
    rejected employer incentive no longer counts among its authority's incentives by employer."""
    if line.payee_kind == EMPLOYER:
        return {} if approve else _incentive_withdrawn(line)
    if line.fee_id != fund_fee:
        return {}
    return {counter(line.payee_org_id, SPENT): line.amount_pence} if approve else _committed(line, -1)


def reversal_counts(line: PaymentLine, fund_fee: str) -> dict[str, int]:
    """An approved spend or incentive taken back (clawed back, or removed from its claim by validation): the
    spend is no longer spent and its budget is released; the incentive no longer counts for its employer."""
    if line.payee_kind == EMPLOYER:
        return _incentive_withdrawn(line)
    if line.fee_id != fund_fee:
        return {}
    return {counter(line.payee_org_id, SPENT): -line.amount_pence, **_committed(line, -1)}


def _incentive_withdrawn(line: PaymentLine) -> dict[str, int]:
    """An incentive rejected or taken back leaves the count by employer of the authority it was counted under
    when agreed: the deliverer, which the line names. A line recorded before lines named it is taken off its
    prime's count: the only programme with a fund so far (Tees Valley) has each authority deliver under its own
    contract, so its prime is its deliverer."""
    return {k: -v for k, v in incentive_counts(line.authority_org_id or line.prime_org_id, line).items()}


def incentive_id(line: PaymentLine) -> str:
    """The referral's incentive an employer's line pays: the last part of its milestone key (fee:incentive)."""
    return line.line_id.rsplit(":", 1)[-1]


def incentive_counts(authority: str, line: PaymentLine) -> dict[str, int]:
    name = line.payee_name or ""
    return {counter(authority, EMPLOYER_AMOUNT + name): line.amount_pence,
            counter(authority, EMPLOYER_COUNT + name): 1}


def report(org_id: str, budget: int, counts: dict[str, int]) -> dict[str, Any]:
    """One authority's fund as its counters hold it."""
    def get(name: str) -> int:
        return counts.get(counter(org_id, name), 0)

    def named(kind: str) -> dict[str, int]:
        start = prefix(org_id) + kind
        return {k[len(start):]: v for k, v in sorted(counts.items()) if k.startswith(start)}

    committed = get(COMMITTED)
    employers = {e: n for e, n in named(EMPLOYER_COUNT).items() if n}
    return {"org_id": org_id, "budget_pence": budget, "committed_pence": committed, "spent_pence": get(SPENT),
            "remaining_pence": budget - committed,
            "pending_spot_purchases": {"count": get(PENDING_COUNT), "amount_pence": get(PENDING)},
            "by_category": [{"category": c, "committed_pence": v} for c, v in named(CATEGORY).items() if v],
            "incentives_by_employer": [{"employer": e, "count": n, "amount_pence": named(EMPLOYER_AMOUNT).get(e, 0)}
                                       for e, n in employers.items()]}
