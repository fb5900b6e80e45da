"""Supply-chain fairness: what a prime owes each subcontractor once the commissioner has paid it, what it has passed
on and when, and whether it was late.

When the commissioner pays a prime's claim file, each subcontractor in it is owed its net (its lines less the
prime's retained share, less any line removed by validation). The prime records each payment it passes on. An
obligation (one per programme, period and subcontractor) is settled once what was passed on covers what is owed;
until then a pending item waits for the nightly run, due `pass_through_days` after the commissioner's payment, and
a run on the first day after that raises a late pass-through flag. Recording the payment that settles it removes
the pending item (and resolves the flag if it was raised). Nothing here reads or writes storage.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from ..domain.compliance import Pending, PendingWork, shard_of, work_key
from .claim_file import ClaimFile
from .lines import EMPLOYER
from .validation import FAILED, Check

LATE_RULE = "late_pass_through"


@dataclass(frozen=True)
class PassThrough:
    """A payment a prime made to its subcontractor, for a period (and, if it says so, for given lines)."""

    pass_through_id: str
    programme_id: str
    period: str
    prime_org_id: str
    subcontractor_org_id: str
    amount_pence: int
    paid_on: date
    reference: str
    recorded_by: str
    recorded_at: str
    line_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Obligation:
    """What a prime owes one subcontractor for one programme and period, from the claim files the commissioner
    paid, and what it has passed on."""

    programme_id: str
    period: str
    prime_org_id: str
    subcontractor_org_id: str
    owed_pence: int = 0
    commissioner_paid_on: date | None = None
    due_on: date | None = None
    passed_pence: int = 0
    first_passed_on: date | None = None
    last_passed_on: date | None = None
    settled_on: date | None = None
    version: int = 0
    paid_files: tuple[str, ...] = field(default_factory=tuple)

    @property
    def subject(self) -> str:
        """The name the nightly run's pending item and flag carry (where a journey's carry a referral id)."""
        return f"pass-through:{self.programme_id}:{self.period}:{self.subcontractor_org_id}"

    @property
    def outstanding_pence(self) -> int:
        return max(self.owed_pence - self.passed_pence, 0)

    @property
    def days_to_pass_through(self) -> int | None:
        """Days from the commissioner paying the prime to the prime's payment that settled this (negative: the
        prime paid first)."""
        if self.settled_on is None or self.commissioner_paid_on is None:
            return None
        return (self.settled_on - self.commissioner_paid_on).days

    def late(self, today: date) -> bool:
        """Settled after the limit, or still outstanding after it."""
        return self.due_on is not None and (self.settled_on or today) > self.due_on


def due_on(commissioner_paid_on: date, days: int) -> date:
    """The last day the prime may pass the money on: `days` after the commissioner paid it."""
    return commissioner_paid_on + timedelta(days=days)


def owed_by_subcontractor(record: ClaimFile, removed: list[Check]) -> dict[str, int]:
    """Each subcontractor's net in a paid claim file (not the prime's own lines, nor an employer's: an employer
    incentive is paid outside the chain, owed to no chain member), less the lines validation removed. Only what is
    owed (more than nothing) is kept."""
    owed: dict[str, int] = {}
    for group in record.totals.get("by_payee_and_funder", []):
        payee = group["payee_org_id"]
        if payee != record.owner_org_id and group.get("payee_kind") != EMPLOYER:
            owed[payee] = owed.get(payee, 0) + int(group["payee_net_pence"])
    for check in removed:
        if check.before_payment and check.before_payment.result == FAILED and check.payee_org_id in owed:
            owed[check.payee_org_id] -= check.payee_net_pence
    return {payee: pence for payee, pence in sorted(owed.items()) if pence > 0}


def _settle(ob: Obligation, on: date | None) -> Obligation:
    """Settled (or not) by what is owed and passed on: the first day the payments covered what is owed."""
    covered = ob.commissioner_paid_on is not None and ob.owed_pence > 0 and ob.passed_pence >= ob.owed_pence
    if not covered:
        return replace(ob, settled_on=None)
    return ob if ob.settled_on else replace(ob, settled_on=on)


def after_commissioner_payment(before: Obligation | None, programme_id: str, period: str, prime_org_id: str,
                               subcontractor_org_id: str, claim_file_id: str, owed_pence: int, paid_on: date,
                               days: int) -> Obligation:
    """The obligation once the commissioner paid a file holding `owed_pence` for the subcontractor. A later
    payment for the same period moves the due date to `days` after it."""
    ob = before or Obligation(programme_id, period, prime_org_id, subcontractor_org_id)
    paid_first = ob.commissioner_paid_on is None or paid_on < ob.commissioner_paid_on
    ob = replace(ob, owed_pence=ob.owed_pence + owed_pence, paid_files=(*ob.paid_files, claim_file_id),
                 commissioner_paid_on=paid_on if paid_first else ob.commissioner_paid_on,
                 due_on=max(due_on(paid_on, days), ob.due_on) if ob.due_on else due_on(paid_on, days),
                 version=ob.version + 1)
    # Passed on in full before the commissioner paid: settled the day the prime's payments covered it.
    return _settle(ob, ob.last_passed_on)


def after_pass_through(before: Obligation | None, payment: PassThrough) -> Obligation:
    """The obligation once the prime recorded passing `payment` on (before or after the commissioner paid)."""
    ob = before or Obligation(payment.programme_id, payment.period, payment.prime_org_id,
                              payment.subcontractor_org_id)
    ob = replace(ob, passed_pence=ob.passed_pence + payment.amount_pence,
                 first_passed_on=min(ob.first_passed_on or payment.paid_on, payment.paid_on),
                 last_passed_on=max(ob.last_passed_on or payment.paid_on, payment.paid_on), version=ob.version + 1)
    return _settle(ob, payment.paid_on)


def _pending(ob: Obligation | None) -> set[Pending]:
    """The nightly item an obligation waits on: until settled, acted on the first day after the due date."""
    if ob is None or ob.due_on is None or ob.settled_on is not None or ob.owed_pence <= 0:
        return set()
    description = (f"pass-through to {ob.subcontractor_org_id} for {ob.period} not recorded within the limit after "
                   f"the commissioner paid on {ob.commissioner_paid_on} (due {ob.due_on})")
    return {Pending(LATE_RULE, ob.due_on, ob.due_on + timedelta(days=1), description, ob.outstanding_pence)}


def _work(ob: Obligation, p: Pending) -> PendingWork:
    return PendingWork(shard=shard_of(ob.subject), work_key=work_key(ob.subject, p), referral_id=ob.subject,
                       programme_id=ob.programme_id, provider_org_id=ob.subcontractor_org_id,
                       prime_org_id=ob.prime_org_id, rule=p.rule, due=p.due, act_on=p.act_on,
                       description=p.description, amount_pence=p.amount_pence)


def pending_changes(before: Obligation | None, after: Obligation) -> tuple[list[PendingWork], list[PendingWork]]:
    """The pending items to write and to delete so the nightly run waits on exactly the unsettled obligation."""
    old = {(p.act_on, p.rule): p for p in _pending(before)}
    new = {(p.act_on, p.rule): p for p in _pending(after)}
    puts = [_work(after, p) for key, p in new.items() if old.get(key) != p]
    deletes = [_work(after, p) for key, p in old.items() if key not in new]
    return puts, deletes


def share_bp(part: int, whole: int) -> int | None:
    """`part` of `whole` in basis points, rounded half up (None where there is no whole)."""
    return (part * 20000 + whole) // (2 * whole) if whole > 0 else None
