"""Payment lines: what is owed, to whom, by which funder, through which prime; and the claim rules."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from ..domain.errors import DomainError, FieldError
from .tariff import applies_to, cascade

SUBMITTED, APPROVED, REJECTED, FILED = "submitted", "approved", "rejected", "filed"
EARNED, CLAIM, CLAWBACK = "earned", "claim", "clawback"


class ClaimRefused(DomainError):
    status = 422
    type = "claim-refused"
    title = "The claim breaks a payment rule"

    def __init__(self, reason: str, detail: str, field: str = "(body)"):
        super().__init__(detail, [FieldError(field, reason, detail)], reason=reason)
        self.reason = reason


class AlreadyClaimed(DomainError):
    status = 409
    type = "already-claimed"
    title = "This milestone is already claimed or paid"

    def __init__(self, line_id: str):
        super().__init__(f"line {line_id} already exists: a milestone is paid at most once", reason="already_claimed",
                         line_id=line_id)


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

    @property
    def period(self) -> str:
        return self.event_date.strftime("%Y-%m")


def line_id(referral_id: str, milestone_key: str) -> str:
    """Deterministic: the same milestone of the same referral always has the same line id."""
    return f"{referral_id}:{milestone_key}"


def new_line(*, referral_id: str, programme_id: str, participant_ref: str, milestone_key: str, fee_id: str,
             milestone: str, funder: str, payee_org_id: str, prime_org_id: str, management_fee_bp: int,
             amount_pence: int, event_date: date, kind: str, status: str, evidence_ref: str | None = None) -> PaymentLine:
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
                   claim_file_id=None)


def check_claim(*, tariff: dict, level: int | None, referral_status_started: bool, fee_id: str,
                amount_pence: int | None, event_date: date, today: date,
                started_on: date | None = None) -> tuple[dict, int]:
    """The rules for a provider's evidence claim. Returns (fee, amount) or raises ClaimRefused naming the rule."""
    fee = next((f for f in tariff["fees"] if f["id"] == fee_id), None)
    if fee is None:
        raise ClaimRefused("unknown_fee", f"no fee {fee_id!r} in this programme's tariff", "fee_id")
    if not applies_to(fee, level) or not fee["amount"]["evidence_required"]:
        raise ClaimRefused("not_eligible", f"{fee_id} is not claimable with evidence by this provider"
                           + ("" if applies_to(fee, level) else f" (it is for level {fee['levels']})"), "fee_id")
    if not referral_status_started:
        raise ClaimRefused("not_started", "the referral has not started: nothing is claimable yet", "referral_id")
    if event_date > today:
        raise ClaimRefused("not_in_future", "the event date is in the future", "event_date")
    window = tariff["claim_window_days"]
    if event_date < today - timedelta(days=window):
        raise ClaimRefused("outside_claim_window", f"claims are made within {window} days of the event", "event_date")
    if started_on and event_date < started_on:
        raise ClaimRefused("not_before_start", f"the event date is before the start ({started_on})", "event_date")
    amount = fee["amount"]
    if amount["fixed_pence"] is not None:
        # A fixed fee that needs evidence (e.g. a self-employed outcome): the claim cannot change the amount.
        if amount_pence not in (None, amount["fixed_pence"]):
            raise ClaimRefused("fixed_amount", f"{fee_id} is a fixed {amount['fixed_pence']} pence", "amount_pence")
        return fee, amount["fixed_pence"]
    if amount_pence is None:
        raise ClaimRefused("required", "a variable fee's claim states its amount", "amount_pence")
    if amount_pence > amount["max_pence"]:
        raise ClaimRefused("over_cap", f"the cap for {fee_id} is {amount['max_pence']} pence", "amount_pence")
    if amount_pence < (amount["min_pence"] or 1):
        raise ClaimRefused("under_minimum", f"the least for {fee_id} is {amount['min_pence'] or 1} pence",
                           "amount_pence")
    return fee, amount_pence
