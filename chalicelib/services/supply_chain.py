"""Supply-chain fairness: what each subcontractor earned, what its prime kept, what the prime passed on and when.

When the commissioner pays a claim file, each subcontractor in it is owed its net; the prime records each payment
it passes on; the nightly run flags what is still unpaid `pass_through_days` after the commissioner paid (pending
work, never a scan). `GET /payments/supply-chain` shows a programme and period: the commissioner every chain, a
prime its own, a subcontractor its own row; nobody else anything.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from .. import clock, logs
from ..adapters.rulebooks import get_rulebook
from ..domain.access import ORG_KINDS, Principal
from ..domain.errors import NotFound, ValidationFailed
from ..domain.rulebook import Rulebook
from ..payments import lines as pl
from ..payments import supply_chain as sc
from ..payments.claim_file import ClaimFile
from ..payments.validation import FAILED
from .claim_files import file_id
from .deps import store
from .ports import UnitOfWork

MAX_LINES = 50
# Lines that count as earned: owed, or owed back (a clawback); not claims awaiting a decision, nor lines refused.
EARNED = (pl.APPROVED, pl.FILED, pl.MATCH_FUNDING)


def referrer_counter(kind: str) -> str:
    """The programme counter of referrals made by organisations of one kind."""
    return f"referred-by#{kind}"


def chain_level_counter(level: int) -> str:
    """The programme counter of referrals whose referrer party is one of its chain members at `level`."""
    return f"referred-by#chain-level-{level}"


def count_referral(tx: UnitOfWork, rulebook: Rulebook, referrer_org_id: str, referrer_kind: str) -> None:
    """Count a new referral by its referrer's kind (all referrals) and, where the referrer party is one of the
    programme's chain members with a level, by that level (what the VCS target counts)."""
    referrals = store().referrals
    referrals.add_referral_counter(tx, rulebook.id, referrer_counter(referrer_kind))
    member = rulebook.member(referrer_org_id)
    if member is not None and member.level is not None:
        referrals.add_referral_counter(tx, rulebook.id, chain_level_counter(member.level))


# ---------------------------------------------------------------- the commissioner pays, the prime passes on


def on_file_paid(tx: UnitOfWork, record: ClaimFile, rulebook: Rulebook, paid_on: date) -> None:
    """The commissioner paid `record`: each subcontractor in it is now owed its net by the prime, due within the
    programme's pass-through limit (a pending item for the nightly run until the prime has passed it on)."""
    db = store()
    # A file no check removed a line from (as read: the payment is refused if a check is recorded meanwhile) has
    # no failed check to read.
    removed = [c for c in db.validation.all_checks(record.claim_file_id)
               if c.before_payment and c.before_payment.result == FAILED] if record.removed_line_count else []
    owed_by = sc.owed_by_subcontractor(record, removed)
    held = db.supply_chain.obligations(record.programme_id, record.period, list(owed_by))
    for sub, owed in owed_by.items():
        before = held[sub]
        after = sc.after_commissioner_payment(before, record.programme_id, record.period, record.owner_org_id, sub,
                                              record.claim_file_id, owed, paid_on,
                                              rulebook.payment_controls.pass_through_days)
        _commit_obligation(tx, before, after)


def _commit_obligation(tx: UnitOfWork, before: sc.Obligation | None, after: sc.Obligation) -> None:
    db = store()
    db.supply_chain.put_obligation(tx, after, before)
    puts, deletes = sc.pending_changes(before, after)
    db.compliance.add_pending_changes(tx, puts, deletes)
    today = clock.today()
    if deletes and after.settled_on and before and before.due_on and today > before.due_on:
        # The nightly run may have flagged it late already: the flag resolves (or a later run raises none).
        db.compliance.add_answers(tx, after.subject, [(sc.LATE_RULE, before.due_on)], today)


def _contract_holder(principal: Principal, rulebook: Rulebook) -> str:
    mine = rulebook.provider(principal.org_id)
    if mine is None or mine.prime is not None:
        raise NotFound(f"your organisation holds no contract on {rulebook.id}")
    return principal.org_id


def subcontractors_of(rulebook: Rulebook, prime_org_id: str) -> set[str]:
    """The delivery organisations under the prime in the rulebook. (Chain members that refer or mentor hold no
    places: the report finds them by their lines and obligations, `_is_subcontractor` by their registration.)"""
    return {o.org_id for o in rulebook.subcontractors_of(prime_org_id)}


def _is_subcontractor(rulebook: Rulebook, prime_org_id: str, org_id: str) -> bool:
    if org_id in subcontractors_of(rulebook, prime_org_id):
        return True
    org = store().organisations.get(org_id)
    return org is not None and org.kind == "subcontractor" and org.prime_org_id == prime_org_id


def _check_lines(line_ids: list[str], programme_id: str, prime: str, sub: str) -> None:
    if len(set(line_ids)) != len(line_ids) or len(line_ids) > MAX_LINES:
        raise ValidationFailed.one("line_ids", "unique_up_to_50", f"up to {MAX_LINES} distinct line ids")
    for line_id in line_ids:
        line = store().lines.get(line_id)
        if line is None or (line.programme_id, line.prime_org_id, line.payee_org_id) != (programme_id, prime, sub):
            raise ValidationFailed.one("line_ids", "subcontractor_line",
                                       f"{line_id} is not a line of this subcontractor on this programme")


def record_pass_through(principal: Principal, payload: dict, tx: UnitOfWork) -> sc.PassThrough:
    """The prime records passing money on to a subcontractor, for a period (and, if it says, for given lines)."""
    principal.require("finance")
    rulebook = get_rulebook(payload["programme_id"])
    if rulebook is None:
        raise ValidationFailed.one("programme_id", "known_programme", f"no programme {payload['programme_id']!r}")
    prime = _contract_holder(principal, rulebook)
    sub = payload["subcontractor_org_id"]
    if not _is_subcontractor(rulebook, prime, sub):
        raise ValidationFailed.one("subcontractor_org_id", "your_subcontractor",
                                   "not a subcontractor of yours on this programme")
    today = clock.today()
    if payload["paid_on"] > today:
        raise ValidationFailed.one("paid_on", "not_in_future", "the payment date is in the future")
    if payload["period"] > today.strftime("%Y-%m"):
        raise ValidationFailed.one("period", "not_in_future", "the period has not started yet")
    _check_lines(payload.get("line_ids") or [], rulebook.id, prime, sub)
    now = clock.now()
    payment = sc.PassThrough(
        pass_through_id="pt_" + secrets.token_hex(8), programme_id=rulebook.id, period=payload["period"],
        prime_org_id=prime, subcontractor_org_id=sub, amount_pence=payload["amount_pence"],
        paid_on=payload["paid_on"], reference=payload["reference"], recorded_by=principal.key_id,
        recorded_at=now.isoformat(), line_ids=tuple(payload.get("line_ids") or ()))
    db = store()
    before = db.supply_chain.obligation(rulebook.id, payment.period, sub)
    _commit_obligation(tx, before, sc.after_pass_through(before, payment))
    db.supply_chain.add_pass_through(tx, payment)
    tx.after_commit.append(lambda: logs.pence("PassThroughPence", payment.amount_pence))
    return payment


def read_pass_through(principal: Principal, programme_id: str, period: str, pass_through_id: str) -> sc.PassThrough:
    """One recorded pass-through, for the prime that recorded it or the subcontractor it paid."""
    payments = store().supply_chain.pass_throughs(programme_id, period)
    found = next((p for p in payments if p.pass_through_id == pass_through_id), None)
    if found is None or principal.org_id not in (found.prime_org_id, found.subcontractor_org_id):
        raise NotFound("no such pass-through")
    return found


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class Scope:
    """What a caller sees: the chains of these contract holders, and within them only `only` (a subcontractor's
    own row), or everything; `whole` for the commissioner and a prime (its chain's own figures)."""

    primes: tuple[str, ...]
    only: str | None
    whole: bool


def scope_of(principal: Principal, rulebook: Rulebook, wanted: str | None) -> Scope:
    principal.require("finance")
    holders = tuple(o.org_id for o in rulebook.contract_holders())
    if principal.org_id == rulebook.commissioner_org_id:
        scope = Scope(holders, None, True)
    elif principal.org_id in holders:
        scope = Scope((principal.org_id,), None, True)
    else:
        prime = next((p for p in holders if _is_subcontractor(rulebook, p, principal.org_id)), None)
        if prime is None:
            raise NotFound("no supply chain of yours on this programme")
        scope = Scope((prime,), principal.org_id, False)
    if wanted is None:
        return scope
    prime = next((p for p in scope.primes if _is_subcontractor(rulebook, p, wanted)), None)
    if prime is None or (scope.only is not None and wanted != scope.only):
        raise NotFound("no such subcontractor in your supply chain")
    return Scope((prime,), wanted, scope.whole)


def report(principal: Principal, programme_id: str, period: str, subcontractor: str | None = None) -> dict[str, Any]:
    rulebook = get_rulebook(programme_id)
    if rulebook is None:
        raise NotFound(f"no programme {programme_id!r}")
    scope = scope_of(principal, rulebook, subcontractor)
    obligations, payments = store().supply_chain.chain(rulebook.id, period)
    chains = [_chain(rulebook, period, prime, scope, obligations, payments) for prime in scope.primes]
    return {"programme_id": rulebook.id, "period": period, "commissioner_org_id": rulebook.commissioner_org_id,
            "pass_through_days": rulebook.payment_controls.pass_through_days, "primes": chains,
            "vcs_referrals": _vcs_referrals(rulebook) if scope.whole and scope.only is None else None}


def _lines_of(prime: str, period: str, programme_id: str, only: str | None) -> list[pl.PaymentLine]:
    found = store().lines.for_period("payee", only, period) if only else store().lines.for_period(
        "prime", prime, period)
    # An employer incentive is paid outside the chain: it is owed to no chain member.
    return [x for x in found if x.programme_id == programme_id and x.prime_org_id == prime and x.status in EARNED
            and x.payee_kind != pl.EMPLOYER]


def _earned(lines: Iterable[pl.PaymentLine]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for line in lines:
        row = out.setdefault(line.payee_org_id, {"earned_pence": 0, "prime_retained_pence": 0, "net_pence": 0})
        row["earned_pence"] += line.amount_pence
        row["prime_retained_pence"] += line.prime_retained_pence
        row["net_pence"] += line.payee_net_pence
    return out


def _chain(rulebook: Rulebook, period: str, prime: str, scope: Scope, obligations: list[sc.Obligation],
           payments: list[sc.PassThrough]) -> dict[str, Any]:
    earned = _earned(_lines_of(prime, period, rulebook.id, scope.only))
    owed = {o.subcontractor_org_id: o for o in obligations if o.prime_org_id == prime}
    subs = (subcontractors_of(rulebook, prime) | set(owed) | set(earned)) - {prime}
    if scope.only:
        subs = {scope.only}
    members = [prime, *sorted(subcontractors_of(rulebook, prime) | subs)]
    used = store().referrals.allocation_used(rulebook.id, members)
    allocation = {m: _allocation(rulebook, m) for m in members}
    totals = (sum(allocation.values()), sum(used.values()))
    rows = [_row(m, allocation[m], used[m], totals, earned.get(m), owed.get(m),
                 [p for p in payments if (p.subcontractor_org_id, p.prime_org_id) == (m, prime)])
            for m in sorted(subs)]
    chain: dict[str, Any] = {"prime_org_id": prime, "subcontractors": rows,
                             "chain_allocation": totals[0], "chain_referrals": totals[1]}
    if scope.whole:
        mine = earned.get(prime, {"earned_pence": 0})
        chain.update({
            "allocation": allocation[prime], "referrals": used[prime],
            "allocation_share_bp": sc.share_bp(allocation[prime], totals[0]),
            "referral_share_bp": sc.share_bp(used[prime], totals[1]), "earned_pence": mine["earned_pence"],
            "retained_pence": sum(r["prime_retained_pence"] for r in rows),
            "claim_files": _claim_files(rulebook.id, period, prime, subs)})
    return chain


def _allocation(rulebook: Rulebook, org_id: str) -> int:
    """Places allocated to a delivery organisation (its cap, or where it has none its minimum); none to a chain
    member that refers or mentors."""
    org = rulebook.provider(org_id)
    if org is None:
        return 0
    return org.allocation if org.allocation is not None else org.minimum or 0


def _row(org_id: str, allocation: int, referrals: int, totals: tuple[int, int], earned: dict[str, int] | None,
         ob: sc.Obligation | None, payments: list[sc.PassThrough]) -> dict[str, Any]:
    return {"org_id": org_id, "allocation": allocation, "allocation_share_bp": sc.share_bp(allocation, totals[0]),
            "referrals": referrals, "referral_share_bp": sc.share_bp(referrals, totals[1]),
            **(earned or {"earned_pence": 0, "prime_retained_pence": 0, "net_pence": 0}),
            **_owed(ob or sc.Obligation("", "", "", org_id), clock.today()),
            "passed_pence": sum(p.amount_pence for p in payments),
            "pass_throughs": [_payment_body(p, ob) for p in payments]}


def _owed(ob: sc.Obligation, today: date) -> dict[str, Any]:
    """What the commissioner's payments made the prime owe, and whether it passed it on in time."""
    return {"owed_pence": ob.owed_pence, "outstanding_pence": ob.outstanding_pence,
            "commissioner_paid_on": ob.commissioner_paid_on, "due_on": ob.due_on, "settled_on": ob.settled_on,
            "days_to_pass_through": ob.days_to_pass_through, "late": ob.late(today), "flagged": _flagged(ob, today)}


def _payment_body(p: sc.PassThrough, ob: sc.Obligation | None) -> dict[str, Any]:
    paid = ob.commissioner_paid_on if ob else None
    return {"id": p.pass_through_id, "amount_pence": p.amount_pence, "paid_on": p.paid_on, "reference": p.reference,
            "line_ids": list(p.line_ids), "days_after_commissioner": (p.paid_on - paid).days if paid else None}


def _flagged(ob: sc.Obligation, today: date) -> bool:
    """Whether the nightly run has an open late pass-through flag on it (read only once a run could have)."""
    if ob.due_on is None or today <= ob.due_on:
        return False
    return any(f.rule == sc.LATE_RULE for f in store().compliance.open_flags(ob.subject))


def _claim_files(programme_id: str, period: str, prime: str, subs: Iterable[str]) -> list[dict[str, Any]]:
    """The prime's claim files for the period (the whole file, and any cut per payee), whether the commissioner
    has paid them and what (so the commissioner finds the files it is to validate and pay)."""
    out = []
    for fid in [file_id(programme_id, period, prime, None), *(file_id(programme_id, period, prime, s)
                                                               for s in sorted(subs))]:
        record = store().claim_files.get(fid)
        if record is not None:
            out.append({"claim_file_id": fid, "status": record.status, "total_pence": record.total_pence,
                        "payable_pence": record.payable_pence, "paid_on": record.paid_on,
                        "paid_pence": record.paid_pence, "reference": record.paid_reference})
    return out


def _vcs_referrals(rulebook: Rulebook) -> dict[str, Any] | None:
    """Participants referred by voluntary and community sector organisations against the programme's target: the
    referrals whose referrer party is a chain member at one of the target's levels, of all referrals made."""
    target = rulebook.targets.vcs_referrals
    if target is None:
        return None
    by_kind = [referrer_counter(k) for k in ORG_KINDS]
    by_level = [chain_level_counter(n) for n in target.chain_levels]
    counts = store().referrals.allocation_used(rulebook.id, [*by_kind, *by_level])
    vcs = sum(counts[c] for c in by_level)
    total = sum(counts[c] for c in by_kind)
    return {"chain_levels": list(target.chain_levels), "referred_by_vcs": vcs, "referred": total,
            "vcs_share_bp": sc.share_bp(vcs, total), "target_min": target.min, "target_max": target.max,
            "of_participants": rulebook.total_capacity}


