"""Payment lines: what is owed, to whom, by which funder, through which prime; and the claim rules."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, replace
from datetime import date, timedelta

from ..domain.errors import AlreadyClaimed, ClaimRefused, Forbidden
from ..domain.parties import DELIVERER, MENTOR, Contact
from ..domain.rulebook import Fee, Tariff
from .tariff import cascade

__all__ = ["AlreadyClaimed", "ClaimRefused", "PaymentLine", "check_claim", "check_decider", "clawback", "line_id",
           "new_line", "payer_of"]

SUBMITTED, APPROVED, REJECTED, FILED = "submitted", "approved", "rejected", "filed"
# A contract holder's own money for a service it delivers (a council's co-funding): shown, needing no approval,
# claimed from nobody.
MATCH_FUNDING = "match_funding"
# Taken out of a claim file before payment by the commissioner's validation, with the reason.
REMOVED = "removed"
# A flexible-fund spot purchase waiting for the delivering authority's coordinator: submitted once approved.
PENDING_APPROVAL = "pending_approval"
STATUSES = (SUBMITTED, APPROVED, REJECTED, FILED, MATCH_FUNDING, REMOVED, PENDING_APPROVAL)
NOT_OWED = (REJECTED, REMOVED, PENDING_APPROVAL)
# Who a line pays: an organisation of the programme (a party to the referral), or an employer outside the chain
# (an employer incentive), named on the line.
ORGANISATION, EMPLOYER = "organisation", "employer"
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
    funder_org_id: str = ""
    payer_org_id: str | None = None  # whose finance approves it (None: match funding, nobody's approval)
    line_ref: str = ""
    provider_ref: str | None = None
    last_day_on_provision: date | None = None
    payee_role: str = DELIVERER            # the payee's part in the referral: referrer, mentor or deliverer
    contact_ids: tuple[str, ...] = ()      # a mentoring claim's evidence: the contacts recorded on the referral
    payee_kind: str = ORGANISATION         # organisation, or employer (outside the chain: payee_name names it)
    payee_name: str | None = None          # an employer's name (an organisation, never a person)
    category: str | None = None            # a flexible-fund spend's category (childcare, travel...)
    barrier_id: str | None = None          # the action plan's barrier a spend removes
    requested_by: str | None = None        # the key that recorded a spot purchase (it never approves it)
    authority_org_id: str | None = None    # an employer incentive's: the delivery authority whose fund counts it

    @property
    def period(self) -> str:
        return self.event_date.strftime("%Y-%m")

    @property
    def claimable(self) -> bool:
        """Approved, in no claim file yet, and owed by someone outside the chain: a claim file may take it. A
        prime's own money to its subcontractor (its co-funding) is approved by the prime and claimed from nobody."""
        return self.status == APPROVED and not self.claim_file_id and self.funder_org_id != self.prime_org_id


def line_id(referral_id: str, milestone_key: str) -> str:
    """Deterministic: the same milestone of the same referral always has the same line id."""
    return f"{referral_id}:{milestone_key}"


def line_reference(line_id_: str) -> str:
    """The line's reference for a claim file: fixed length, derived from its unique id (80 bits of SHA-256), so
    the same line always has the same reference and no two lines share one in practice (a collision needs some
    10^12 lines)."""
    digest = base64.b32encode(hashlib.sha256(line_id_.encode()).digest()).decode()
    return "LR-" + digest[:16]


def payer_of(payee_org_id: str, prime_org_id: str, funder_org_id: str, payee_kind: str = ORGANISATION) -> str | None:
    """Who pays a line, and so whose finance approves it: the prime pays its subcontractors; the funder pays a
    contract holder, and an employer outside the chain. None where the funder is the payee itself (match funding:
    nobody approves their own money)."""
    if payee_kind == EMPLOYER:
        return funder_org_id
    if payee_org_id != prime_org_id:
        return prime_org_id
    return None if funder_org_id == payee_org_id else funder_org_id


def new_line(*, referral_id: str, programme_id: str, participant_ref: str, milestone_key: str, fee_id: str,
             milestone: str, funder: str, funder_org_id: str, payee_org_id: str, prime_org_id: str,
             management_fee_bp: int, amount_pence: int, event_date: date, kind: str, status: str,
             evidence_ref: str | None = None, provider_ref: str | None = None,
             last_day_on_provision: date | None = None, payee_role: str = DELIVERER,
             contact_ids: tuple[str, ...] = (), payee_kind: str = ORGANISATION, payee_name: str | None = None,
             category: str | None = None, barrier_id: str | None = None,
             requested_by: str | None = None, authority_org_id: str | None = None) -> PaymentLine:
    """A line as earned or claimed. Its payer follows from payee, prime and funder; a line the payee funds
    itself is match funding whatever `status` asks. Without a provider reference, the referral id stands in
    (the one reference the provider and the system both hold)."""
    is_sub = prime_org_id != payee_org_id and payee_kind == ORGANISATION
    retained, net = cascade(amount_pence, management_fee_bp if is_sub else 0)
    lid = line_id(referral_id, milestone_key)
    payer = payer_of(payee_org_id, prime_org_id, funder_org_id, payee_kind)
    return PaymentLine(
        line_id=lid, referral_id=referral_id, programme_id=programme_id,
        participant_ref=participant_ref, kind=kind, fee_id=fee_id, milestone=milestone, funder=funder,
        payee_org_id=payee_org_id, prime_org_id=prime_org_id, management_fee_bp=management_fee_bp if is_sub else 0,
        amount_pence=amount_pence, prime_retained_pence=retained, payee_net_pence=net,
        status=MATCH_FUNDING if payer is None else status, event_date=event_date, evidence_ref=evidence_ref,
        funder_org_id=funder_org_id, payer_org_id=payer, line_ref=line_reference(lid),
        provider_ref=provider_ref or referral_id, last_day_on_provision=last_day_on_provision, payee_role=payee_role,
        contact_ids=contact_ids, payee_kind=payee_kind, payee_name=payee_name, category=category,
        barrier_id=barrier_id, requested_by=requested_by, authority_org_id=authority_org_id)


def check_decider(line: PaymentLine, org_id: str) -> None:
    """Only the payer's finance approves or rejects a line: never the payee's own (segregation of duties)."""
    if line.status == MATCH_FUNDING:
        raise ClaimRefused("match_funding", f"line {line.line_id} is the payee's own match funding: it needs no "
                           "approval", "line_ids")
    if org_id == line.payer_org_id:
        return
    if org_id == line.payee_org_id:
        raise Forbidden(f"segregation of duties: the payee's finance cannot decide its own line {line.line_id}; "
                        f"{line.payer_org_id} pays it and decides", rule="segregation_of_duties",
                        payer_org_id=line.payer_org_id)
    raise Forbidden(f"{line.payer_org_id} pays line {line.line_id} and decides it", rule="payer_decides",
                    payer_org_id=line.payer_org_id)


def clawback_id(line_id_: str) -> str:
    """The id of a line's reversal: one a line, so a line is clawed back once."""
    return f"{line_id_}:clawback"


def clawback(line: PaymentLine, reason: str, on: date) -> PaymentLine:
    """The reversal of a committed line: a new line with every amount negated. The original is not touched."""
    if line.kind == CLAWBACK:
        raise ClaimRefused("not_reversible", "a clawback cannot itself be clawed back", "line_id")
    if line.status not in (APPROVED, FILED, MATCH_FUNDING):
        raise ClaimRefused("not_committed", f"a {line.status} line is not owed: reject it instead of clawing back",
                           "line_id")
    lid = clawback_id(line.line_id)
    return replace(line, line_id=lid, line_ref=line_reference(lid), kind=CLAWBACK, amount_pence=-line.amount_pence,
                   prime_retained_pence=-line.prime_retained_pence, payee_net_pence=-line.payee_net_pence,
                   status=MATCH_FUNDING if line.status == MATCH_FUNDING else APPROVED, event_date=on, reason=reason,
                   reverses_line_id=line.line_id, evidence_ref=None, claim_file_id=None, version=1)


def check_claim(*, tariff: Tariff, level: int | None, referral_status_started: bool, fee_id: str,
                amount_pence: int | None, event_date: date, today: date,
                started_on: date | None = None, payee_roles: frozenset[str] = frozenset({DELIVERER}),
                ) -> tuple[Fee, int]:
    """The rules for an evidence claim by a party in `payee_roles` at `level`. Returns (fee, amount) or raises
    ClaimRefused naming the rule."""
    fee = tariff.fee(fee_id)
    if fee is None:
        raise ClaimRefused("unknown_fee", f"no fee {fee_id!r} in this programme's tariff", "fee_id")
    if fee.payee not in payee_roles:
        raise ClaimRefused("not_eligible", f"{fee_id} pays the {fee.payee}: your organisation is not the "
                           f"{fee.payee} on this referral", "fee_id")
    if not fee.applies_to(level) or not fee.amount.evidence_required:
        raise ClaimRefused("not_eligible", f"{fee_id} is not claimable with evidence by this provider"
                           + ("" if fee.applies_to(level) else f" (it is for level {list(fee.levels)})"), "fee_id")
    if not referral_status_started:
        raise ClaimRefused("not_started", "the referral has not started: nothing is claimable yet", "referral_id")
    _check_event_date(tariff, event_date, today, started_on)
    return fee, _claimed_amount(fee, amount_pence)


def check_contacts(fee: Fee, contacts: tuple[Contact, ...], org_id: str, contact_ids: list[str] | None,
                   event_date: date) -> tuple[str, ...]:
    """A mentor's claim refers to the mentoring contacts it recorded on the referral, none after the claim's event
    date. Returns the contact ids (none for fees that are not the mentor's)."""
    if fee.payee != MENTOR:
        if contact_ids:
            raise ClaimRefused("not_mentoring", f"{fee.id} is not a mentoring fee: it takes no contacts", "contact_ids")
        return ()
    if not contact_ids:
        raise ClaimRefused("required", "a mentoring claim names the mentoring contacts that evidence it",
                           "contact_ids")
    mine = {c.id: c for c in contacts if c.org_id == org_id}
    for contact_id in contact_ids:
        contact = mine.get(contact_id)
        if contact is None:
            raise ClaimRefused("your_contact", f"{contact_id} is not a contact your organisation recorded on this "
                               "referral", "contact_ids")
        if contact.on > event_date:
            raise ClaimRefused("not_after_event", f"{contact_id} is after the claim's event date", "contact_ids")
    if len(set(contact_ids)) != len(contact_ids):
        raise ClaimRefused("unique", "each contact is named once", "contact_ids")
    return tuple(contact_ids)


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
