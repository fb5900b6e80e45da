"""Payment use cases: lines the journey earns, evidence claims, finance decisions, clawbacks, the cascade."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from .. import clock, logs, settings
from ..adapters.rulebooks import all_rulebooks, get_rulebook
from ..domain import access, cursors, states
from ..domain.access import Principal
from ..domain.errors import ClaimRefused, FieldError, NotFound, ValidationFailed
from ..domain.participants import pseudonymous_reference
from ..domain.parties import Party
from ..domain.referral import Event, Referral
from ..domain.rulebook import Fee, Rulebook
from ..payments import fund as fund_counts
from ..payments import lines as pl
from ..payments.tariff import party_earnings
from .deps import store
from .ports import UnitOfWork

MAX_BULK = 50


def line_for(rulebook: Rulebook, referral: Referral, payee: Party, *, milestone_key: str, fee_id: str,
             milestone: str, funder: str, amount: int, on: date, kind: str, status: str,
             evidence_ref: str | None = None, provider_ref: str | None = None,
             contact_ids: tuple[str, ...] = (), **named: Any) -> pl.PaymentLine:
    """A line paying one party of the referral, through the referral's prime, which keeps the share its
    subcontract or chain membership gives it."""
    return pl.new_line(
        referral_id=referral.id, programme_id=referral.programme_id,
        participant_ref=pseudonymous_reference(referral.participant_hash), milestone_key=milestone_key,
        fee_id=fee_id, milestone=milestone, funder=funder,
        funder_org_id=rulebook.funder_org(funder, referral.prime_org_id), payee_org_id=payee.org_id,
        payee_role=payee.role, prime_org_id=referral.prime_org_id,
        management_fee_bp=rulebook.management_fee_bp_of(payee.org_id), amount_pence=amount, event_date=on,
        kind=kind, status=status, evidence_ref=evidence_ref, provider_ref=provider_ref,
        last_day_on_provision=referral.closed_on if referral.status == states.EXITED else None,
        contact_ids=contact_ids, **named)


def add_earned_lines(tx: UnitOfWork, rulebook: Rulebook, referral: Referral, event: Event, actor: str) -> Referral:
    """Create the lines this journey event earns each party (in the step's own unit of work). Returns the
    referral with the milestones now earned, so a repeated event (a second job start) never earns the same
    milestone twice."""
    earned = party_earnings(rulebook, referral, event.type, event.data)
    now = clock.now()
    for party, e in earned:
        line = line_for(rulebook, referral, party, milestone_key=e.milestone_key, fee_id=e.fee_id,
                         milestone=e.milestone, funder=e.funder, amount=e.amount_pence, on=event.occurred_on,
                         kind=pl.EARNED, status=pl.APPROVED)
        store().lines.add(tx, line, actor, now)
    if not earned:
        return referral
    keys = tuple(e.milestone_key for _, e in earned)
    return replace(referral, milestones_earned=(*referral.milestones_earned, *keys))


def may_see_line(principal: Principal, line: pl.PaymentLine) -> bool:
    """The payee and its prime see a line; so does the finance of whoever pays or funds it."""
    if principal.org_id in (line.payee_org_id, line.prime_org_id):
        return True
    return "finance" in principal.roles and principal.org_id in (line.payer_org_id, line.funder_org_id)


def _visible_line(principal: Principal, line_id: str) -> pl.PaymentLine:
    line = store().lines.get(line_id)
    if line is None or not may_see_line(principal, line):
        raise NotFound("no such claim line")
    return line


def submit_claim(principal: Principal, payload: dict, tx: UnitOfWork) -> pl.PaymentLine:
    """A party claims a fee that needs evidence, as the role the fee pays: the deliverer (a flexible fund, a
    self-employed outcome...) or the mentor (Level 2 mentoring, with the contacts it recorded)."""
    principal.require("provider")
    db = store()
    referral = db.referrals.get(payload["referral_id"])
    roles = access.payee_roles_of(principal, referral) if referral is not None else frozenset()
    if referral is None or not roles:
        raise ValidationFailed("no such referral on which your organisation is paid", [FieldError(
            "referral_id", "party_to_referral", "no such referral on which your organisation is paid")])
    rulebook = get_rulebook(referral.programme_id)
    assert rulebook is not None
    fund = rulebook.flexible_fund
    if fund and payload["fee_id"] in (fund.fee, fund.incentive_fee):
        raise ClaimRefused("through_the_fund", f"{payload['fee_id']} is paid through the flexible fund's steps: "
                           "flexible_fund_spend (against a barrier in the action plan, within the authority's budget) "
                           "or employer_incentive (meeting an assessed cost)", "fee_id")
    started = referral.started_on is not None and referral.status not in (states.REJECTED, states.DID_NOT_START)
    fee, amount = pl.check_claim(tariff=rulebook.tariff, level=rulebook.level_of(principal.org_id),
                                 referral_status_started=started, fee_id=payload["fee_id"],
                                 amount_pence=payload.get("amount_pence"), event_date=payload["event_date"],
                                 today=clock.today(), started_on=referral.started_on, payee_roles=roles)
    contact_ids = pl.check_contacts(fee, referral.contacts, principal.org_id, payload.get("contact_ids"),
                                    payload["event_date"])
    payee = next(p for p in referral.parties if p.active and p.org_id == principal.org_id and p.role == fee.payee)
    line = line_for(rulebook, referral, payee, milestone_key=_claimed_milestone(fee), fee_id=fee.id,
                     milestone=fee.payments[0].milestone, funder=fee.funder, amount=amount, on=payload["event_date"],
                     kind=pl.CLAIM, status=pl.SUBMITTED, evidence_ref=payload["evidence_ref"],
                     provider_ref=payload.get("provider_ref"), contact_ids=contact_ids)
    db.lines.add(tx, line, principal.org_id, clock.now())
    if rulebook.tariff.contract_value_pence:
        db.referrals.add_commitment(tx, rulebook.id, amount, rulebook.tariff.contract_value_pence)
    return line


def _claimed_milestone(fee: Fee) -> str:
    """The milestone a claim of the fee pays (its first), as the key of the line it makes."""
    return f"{fee.id}:{fee.payments[0].milestone}"


def claim_line_ids(payload: dict) -> tuple[str, ...]:
    """The id of the line a claim makes: its fee's claimed milestone on the referral. Which programme's fee that is
    is known only once the referral is read, so it is the id in each programme with a fee of that id (one, or a
    few), read ahead with the claim's idempotency record so that a replay renders the line from that read."""
    referral_id, fee_id = payload.get("referral_id"), payload.get("fee_id")
    if not isinstance(referral_id, str) or not isinstance(fee_id, str):
        return ()
    fees = [fee for book in all_rulebooks().values() if (fee := book.tariff.fee(fee_id)) and fee.payments]
    return tuple(dict.fromkeys(pl.line_id(referral_id, _claimed_milestone(fee)) for fee in fees))


def clawback_line_ids(line_id: str) -> tuple[str, ...]:
    """The reversal a clawback of the line makes, read ahead with its idempotency record (see claim_line_ids)."""
    return (pl.clawback_id(line_id),)


def decide(principal: Principal, line_ids: list[str], approve: bool, reason: str | None,
           tx: UnitOfWork) -> list[pl.PaymentLine]:
    """The payer's finance approves or rejects submitted claims, one or many, all in one unit of work: a prime's
    for its subcontractors' lines, the funder's (the commissioner's) for a contract holder's own lines, never
    the payee's own."""
    principal.require("finance")
    if not approve and not reason:
        raise ValidationFailed.one("reason", "required", "a rejection gives a reason")
    if len(set(line_ids)) != len(line_ids) or not 1 <= len(line_ids) <= MAX_BULK:
        raise ValidationFailed.one("line_ids", "unique_1_to_50", f"1..{MAX_BULK} distinct line ids")
    read, decided = [], []
    now = clock.now()
    for line_id in line_ids:
        line = _visible_line(principal, line_id)
        pl.check_decider(line, principal.org_id)
        if line.status != pl.SUBMITTED:
            raise ClaimRefused("already_decided", f"line {line_id} is {line.status}, not submitted", "line_ids")
        store().lines.add_decision(tx, line, approve, reason, principal.org_id, now)
        read.append(line)
        decided.append(replace(line, status=pl.APPROVED if approve else pl.REJECTED,
                               reason=None if approve else reason, version=line.version + 1))
    # The payer approved flexible-fund spends (now spent) or rejected them (their budget released).
    _count_fund(tx, read, lambda line, fee: fund_counts.payer_counts(line, approve, fee))
    if not approve:
        _withdraw_incentives(tx, read)
    if approve:
        def approved() -> None:
            logs.count("ClaimsApproved", len(decided))
            logs.pence("ClaimsApprovedPence", sum(x.amount_pence for x in decided))

        tx.after_commit.append(approved)
    else:
        tx.after_commit.append(lambda: logs.count("ClaimsRejected", len(decided)))
    return decided


def count_fund_reversal(tx: UnitOfWork, line: pl.PaymentLine) -> None:
    """An approved flexible-fund spend or employer incentive clawed back or removed from its claim: the fund's
    counters take it back, in the same unit of work."""
    _count_fund(tx, [line], fund_counts.reversal_counts)
    _withdraw_incentives(tx, [line])


def _count_fund(tx: UnitOfWork, lines: list[pl.PaymentLine],
                changes_for: Callable[[pl.PaymentLine, str], dict[str, int]]) -> None:
    """The fund counters' changes of the lines, summed: one update a counter however many lines move it (a
    transaction may write an item once)."""
    totals: dict[str, Counter[str]] = {}
    for line in lines:
        rulebook = get_rulebook(line.programme_id)
        if rulebook is not None and rulebook.flexible_fund is not None:
            totals.setdefault(line.programme_id, Counter()).update(changes_for(line, rulebook.flexible_fund.fee))
    for programme_id, changes in totals.items():
        moved = {k: v for k, v in changes.items() if v}
        if moved:
            store().referrals.add_counts(tx, programme_id, moved)


def _withdraw_incentives(tx: UnitOfWork, lines: list[pl.PaymentLine]) -> None:
    """Employer incentives rejected or taken back no longer count against their participants' limits: one update a
    referral, however many of its lines."""
    by_referral: dict[str, set[str]] = {}
    for line in lines:
        if line.payee_kind == pl.EMPLOYER:
            by_referral.setdefault(line.referral_id, set()).add(fund_counts.incentive_id(line))
    for referral_id, ids in by_referral.items():
        store().referrals.add_incentive_withdrawn(tx, referral_id, frozenset(ids))


def claw_back(principal: Principal, line_id: str, reason: str, tx: UnitOfWork) -> pl.PaymentLine:
    """Reverse a committed line (an outcome recorded in error): a new negative line; the original stays. The prime
    (correcting its chain's records) or the line's payer may. (A commissioner's failed check after payment raises
    its own clawback: see services/validation.py.)"""
    principal.require("finance")
    line = _visible_line(principal, line_id)
    if principal.org_id not in (line.prime_org_id, line.payer_org_id):
        raise NotFound("no such claim line")
    reversal = pl.clawback(line, reason, clock.today())
    store().lines.add(tx, reversal, principal.org_id, clock.now())
    count_fund_reversal(tx, line)
    return reversal


def read(principal: Principal, line_id: str) -> pl.PaymentLine:
    return _visible_line(principal, line_id)


def line_view(principal: Principal) -> str | None:
    """Which lines a caller lists: a subcontractor its own, a commissioner's finance those it pays (other keys of
    a commissioner: none), a contract holder its chain's."""
    if principal.org_kind == "subcontractor":
        return "payee"
    if principal.org_kind == "commissioner":
        return "payer" if "finance" in principal.roles else None
    return "prime"


def list_claims(principal: Principal, query: dict) -> tuple[list[pl.PaymentLine], str | None]:
    view = line_view(principal)
    if view is None:
        return [], None
    if query.get("referral_id"):
        return _lines_of_referral(principal, view, query)
    return store().lines.page(view, principal.org_id, query["limit"], query.get("cursor"), status=query.get("status"),
                              programme_id=query.get("programme_id"), period=query.get("period"),
                              payee_org_id=query.get("payee_org_id"))


def _lines_of_referral(principal: Principal, view: str, query: dict) -> tuple[list[pl.PaymentLine], str | None]:
    """One referral's lines that the caller may see, with the other filters, in period order. A referral has a
    handful: they are read at once and paged here, a signed cursor naming the last line given. Another
    organisation's referral, or one that does not exist, has none."""
    mine = {"payee": "payee_org_id", "payer": "payer_org_id"}.get(view, "prime_org_id")
    wanted = {"status": query.get("status"), "programme_id": query.get("programme_id"),
              "period": query.get("period"), "payee_org_id": query.get("payee_org_id")}
    scope = f"lines:referral:{view}:{principal.org_id}:{query['referral_id']}"
    secret = settings.get().cursor_secret
    after = cursors.decode(query["cursor"], scope, secret)["after"]["S"] if query.get("cursor") else ""
    lines = sorted((x for x in store().lines.of_referral(query["referral_id"])
                    if getattr(x, mine) == principal.org_id and _line_order(x) > after
                    and all(v is None or getattr(x, k) == v for k, v in wanted.items())), key=_line_order)
    page = lines[:query["limit"]]
    more = len(lines) > len(page)
    return page, cursors.encode({"after": {"S": _line_order(page[-1])}}, scope, secret) if more else None


def _line_order(line: pl.PaymentLine) -> str:
    return f"{line.period}#{line.line_id}"


def cascade(principal: Principal, period: str) -> dict[str, Any]:
    """What each payee is owed for a period, what its prime kept, line by line. A subcontractor sees its own
    lines; a prime sees its own and its subcontractors'; a commissioner's finance the lines it pays."""
    view = line_view(principal)
    rows: list[pl.PaymentLine] = []
    totals: dict[str, dict[str, Any]] = {}
    for line in store().lines.for_period(view, principal.org_id, period) if view else ():
        if line.status in pl.NOT_OWED:
            continue
        rows.append(line)
        t = totals.setdefault(line.payee_org_id, {"payee_org_id": line.payee_org_id, "prime_org_id": line.prime_org_id,
                                                  "amount_pence": 0, "prime_retained_pence": 0, "payee_net_pence": 0,
                                                  "lines": 0})
        t["amount_pence"] += line.amount_pence
        t["prime_retained_pence"] += line.prime_retained_pence
        t["payee_net_pence"] += line.payee_net_pence
        t["lines"] += 1
    return {"period": period, "lines": rows, "payees": sorted(totals.values(), key=lambda t: t["payee_org_id"])}
