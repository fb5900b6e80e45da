"""Payment lines: what is owed, to whom, by which funder, through which prime; and the claim rules."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from ..domain.errors import AlreadyClaimed, ClaimRefused
from ..domain.rulebook import Fee, Tariff
from .tariff import cascade

__all__ = ["AlreadyClaimed", "ClaimRefused", "PaymentLine", "check_claim", "clawback", "line_id", "new_line"]

SUBMITTED, APPROVED, REJECTED, FILED = "submitted", "approved", "rejected", "filed"
EARNED, CLAIM, CLAWBACK = "earned", "claim", "clawback"


@dataclass(frozen=True)
class PaymentLine:
    line_id: str
    referral_id: str
    programme_id: str
    participant_ref: str
    kind: str
    fee_id: str
    milestone: str
    funder: str
    payee_org_id: str
    prime_org_id: str
    management_fee_bp: int
    amount_pence: int
    prime_retained_pence: int
    payee_net_pence: int
    status: str
    event_date: date
    evidence_ref: str | None = None
    reason: str | None = None
    reverses_line_id: str | None = None
    claim_file_id: str | None = None
    version: int = 1

    @property
    def period(self) -> str:
        return self.event_date.strftime("%Y-%m")


def line_id(referral_id: str, milestone_key: str) -> str:
    """Deterministic: the same milestone of the same referral always has the same line id."""
    return f"{referral_id}:{milestone_key}"


def new_line(*, referral_id: str, programme_id: str, participant_ref: str, milestone_key: str, fee_id: str,
             milestone: str, funder: str, payee_org_id: str, prime_org_id: str, management_fee_bp: int,
             amount_pence: int, event_date: date, kind: str, status: str,
             evidence_ref: str | None = None) -> PaymentLine:
    is_sub = prime_org_id != payee_org_id
    retained, net = cascade(amount_pence, management_fee_bp if is_sub else 0)
    return PaymentLine(
        line_id=line_id(referral_id, milestone_key), referral_id=referral_id, programme_id=programme_id,
        participant_ref=participant_ref, kind=kind, fee_id=fee_id, milestone=milestone, funder=funder,
        payee_org_id=payee_org_id, prime_org_id=prime_org_id, management_fee_bp=management_fee_bp if is_sub else 0,
        amount_pence=amount_pence, prime_retained_pence=retained, payee_net_pence=net, status=status,
        event_date=event_date, evidence_ref=evidence_ref)


def clawback(line: PaymentLine, reason: str, on: date) -> PaymentLine:
    """The reversal of a committed line: a new line with every amount negated. The original is not touched."""
    if line.kind == CLAWBACK:
        raise ClaimRefused("not_reversible", "a clawback cannot itself be clawed back", "line_id")
    if line.status not in (APPROVED, FILED):
        raise ClaimRefused("not_committed", f"a {line.status} line is not owed: reject it instead of clawing back",
                           "line_id")
    return replace(line, line_id=f"{line.line_id}:clawback", kind=CLAWBACK, amount_pence=-line.amount_pence,
                   prime_retained_pence=-line.prime_retained_pence, payee_net_pence=-line.payee_net_pence,
                   status=APPROVED, event_date=on, reason=reason, reverses_line_id=line.line_id, evidence_ref=None,
                   claim_file_id=None, version=1)


def check_claim(*, tariff: Tariff, level: int | None, referral_status_started: bool, fee_id: str,
                amount_pence: int | None, event_date: date, today: date,
                started_on: date | None = None) -> tuple[Fee, int]:
    """The rules for a provider's evidence claim. Returns (fee, amount) or raises ClaimRefused naming the rule."""
    fee = tariff.fee(fee_id)
    if fee is None:
        raise ClaimRefused("unknown_fee", f"no fee {fee_id!r} in this programme's tariff", "fee_id")
    if not fee.applies_to(level) or not fee.amount.evidence_required:
        raise ClaimRefused("not_eligible", f"{fee_id} is not claimable with evidence by this provider"
                           + ("" if fee.applies_to(level) else f" (it is for level {list(fee.levels)})"), "fee_id")
    if not referral_status_started:
        raise ClaimRefused("not_started", "the referral has not started: nothing is claimable yet", "referral_id")
    _check_event_date(tariff, event_date, today, started_on)
    return fee, _claimed_amount(fee, amount_pence)


def _check_event_date(tariff: Tariff, event_date: date, today: date, started_on: date | None) -> None:
    if event_date > today:
        raise ClaimRefused("not_in_future", "the event date is in the future", "event_date")
    window = tariff.claim_window_days
    if event_date < today - timedelta(days=window):
        raise ClaimRefused("outside_claim_window", f"claims are made within {window} days of the event", "event_date")
    if started_on and event_date < started_on:
        raise ClaimRefused("not_before_start", f"the event date is before the start ({started_on})", "event_date")


def _claimed_amount(fee: Fee, amount_pence: int | None) -> int:
    amount = fee.amount
    if amount.fixed_pence is not None:
        # A fixed fee that needs evidence (e.g. a self-employed outcome): the claim cannot change the amount.
        if amount_pence not in (None, amount.fixed_pence):
            raise ClaimRefused("fixed_amount", f"{fee.id} is a fixed {amount.fixed_pence} pence", "amount_pence")
        return amount.fixed_pence
    if amount_pence is None:
        raise ClaimRefused("required", "a variable fee's claim states its amount", "amount_pence")
    assert amount.max_pence is not None  # a range always has its cap (the rulebook loader checks)
    if amount_pence > amount.max_pence:
        raise ClaimRefused("over_cap", f"the cap for {fee.id} is {amount.max_pence} pence", "amount_pence")
    least = amount.min_pence or 1
    if amount_pence < least:
        raise ClaimRefused("under_minimum", f"the least for {fee.id} is {least} pence", "amount_pence")
    return amount_pence
