"""The tariff engine: what a journey event earns, the service-fee schedule, and the prime's cascade.

A tariff (chalicelib/domain/rulebook.py, loaded from the programme's rulebook) is a list of fees. Each fee has a
funder, the party role it pays (`payee`: the referrer, the mentor or the deliverer), the levels of payee it applies
to (empty: all), an amount, and the payments it is made in: a share in basis points at a milestone
(milestones.py). A banded deliverer's fee is paid on the price agreed when the deliverer accepted. Every split is
exact to the penny.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..domain import parties
from ..domain.calendar import add_months
from ..domain.compliance import TRANCHE, Pending
from ..domain.parties import DELIVERER, PAYEE_ROLES, Party
from ..domain.referral import Referral
from ..domain.rulebook import Checkpoint, Fee, Rulebook, Tariff
from ..domain.states import ON_PROVISION
from . import milestones as ms
from .money import split


@dataclass(frozen=True)
class Earning:
    """One payment a journey event earns: unique per referral by `milestone_key`."""

    milestone_key: str
    fee_id: str
    milestone: str
    funder: str
    amount_pence: int
    description: str
    payee_role: str = DELIVERER


def fee_total(fee: Fee, agreed_pence: int | None = None) -> int | None:
    """A fee's whole amount for one participant: the price agreed at acceptance for a band agreed then, else the
    fixed amount or the range's default (None: each claim states its amount)."""
    if fee.amount.agreed_at_acceptance and agreed_pence is not None:
        return agreed_pence
    return fee.amount.per_participant


def payment_amounts(fee: Fee, total: int) -> list[int]:
    """The fee split across its payments by their shares, to the penny."""
    return split(total, [p.share_bp for p in fee.payments])


@dataclass(frozen=True)
class _Reached:
    event_type: str
    data: Mapping[str, Any]
    checkpoint_id: str | None = None
    checkpoint_number: int | None = None  # 1-based position of the checkpoint in the rulebook
    checkpoint_earns: str | None = None


def _reached(event_type: str, data: Mapping[str, Any], checkpoints: tuple[Checkpoint, ...]) -> _Reached:
    checkpoint_id = data.get("checkpoint") if event_type == "sustainment" else None
    if checkpoint_id is None:
        return _Reached(event_type, data)
    ids = [c.id for c in checkpoints]
    number = ids.index(checkpoint_id) + 1
    return _Reached(event_type, data, checkpoint_id, number, checkpoints[number - 1].earns)


def _fee_earnings(fee: Fee, reached: _Reached, already: set[str], agreed_pence: int | None) -> list[Earning]:
    total = fee_total(fee, agreed_pence)
    if total is None:
        return []
    out = []
    nth_checkpoint = 0
    for payment, amount in zip(fee.payments, payment_amounts(fee, total), strict=True):
        milestone = ms.get(payment.milestone)
        if milestone.per_checkpoint:
            nth_checkpoint += 1
            if nth_checkpoint != reached.checkpoint_number:
                continue
        if milestone.paid != ms.ON_STEP or milestone.reached_by != reached.event_type:
            continue
        if not milestone.when(reached.data, reached.checkpoint_earns):
            continue
        if milestone.outcome and reached.data.get("minimum_delivery_met") is False:
            continue  # an outcome before the programme's minimum delivery earns no outcome fee
        key = f"{fee.id}:{milestone.name}" + (f":{reached.checkpoint_id}" if milestone.per_checkpoint else "")
        if key in already or amount == 0:
            continue
        label = f"{fee.id}: {milestone.name.replace('_', ' ')}"
        if milestone.per_checkpoint:
            label += f" {reached.checkpoint_id}"
        out.append(Earning(key, fee.id, milestone.name, fee.funder, amount, label, fee.payee))
    return out


def earnings(tariff: Tariff, level: int | None, event_type: str, event_data: Mapping[str, Any],
             checkpoints: tuple[Checkpoint, ...], already: set[str], *, payee: str = DELIVERER,
             agreed_pence: int | None = None) -> list[Earning]:
    """What `event_type` earns under the tariff for the party in role `payee` at `level`, skipping milestones
    already earned. `agreed_pence` is the deliverer's price agreed at acceptance, for a band agreed then.

    The n-th `sustainment_checkpoint` payment of a fee is paid at the rulebook's n-th checkpoint."""
    reached = _reached(event_type, event_data, checkpoints)
    out: list[Earning] = []
    for fee in tariff.fees:
        if fee.payee == payee and fee.applies_to(level) and not fee.amount.evidence_required:
            out.extend(_fee_earnings(fee, reached, already, agreed_pence))
    return out


def party_earnings(rulebook: Rulebook, referral: Referral, event_type: str,
                   event_data: Mapping[str, Any]) -> list[tuple[Party, Earning]]:
    """What a journey event earns each party of the referral, by the role each fee pays: the referrer's fee when
    the deliverer accepts, the deliverer's start and outcome payments... Each party is paid at its own level."""
    already = set(referral.milestones_earned)
    out: list[tuple[Party, Earning]] = []
    for role in PAYEE_ROLES:
        party = parties.current(referral.parties, role)
        if party is None:
            continue
        found = earnings(rulebook.tariff, rulebook.level_of(party.org_id), event_type, event_data,
                         rulebook.checkpoints, already, payee=role, agreed_pence=referral.agreed_price_pence)
        out.extend((party, e) for e in found)
    return out


def tranche_schedule(fee: Fee, start: date) -> list[tuple[int, date, int]]:
    """Service-fee tranches of a fee for a participant who started on `start`: (number, due date, pence).

    Tranches are paid monthly in arrears: the n-th falls due n months after the start. Their amounts are the
    tranche payment's share split evenly, to the penny."""
    total = fee.amount.per_participant
    if total is None:
        return []
    schedule: list[tuple[int, date, int]] = []
    for payment, amount in zip(fee.payments, payment_amounts(fee, total), strict=True):
        if ms.get(payment.milestone).paid != ms.SCHEDULED:
            continue
        for n, part in enumerate(split(amount, [1] * (payment.tranches or 1)), start=1):
            schedule.append((n, add_months(start, n), part))
    return schedule


def has_schedule(fee: Fee) -> bool:
    return any(ms.get(p.milestone).paid == ms.SCHEDULED for p in fee.payments)


def pending_tranches(rulebook: Rulebook, referral: Referral) -> set[Pending]:
    """The service-fee tranches still to pay for a referral on provision, as nightly pending work (a tranche is
    acted on the day it falls due)."""
    if referral.status not in ON_PROVISION or not referral.started_on:
        return set()
    provider = rulebook.provider(referral.provider_org_id)
    level = provider.level if provider else None
    items = set()
    for fee in rulebook.tariff.fees:
        if not has_schedule(fee) or fee.payee != DELIVERER or not fee.applies_to(level):
            continue
        for n, due, amount in tranche_schedule(fee, referral.started_on):
            items.add(Pending(tranche_rule(fee.id, n), due, due, f"{fee.id} service-fee tranche {n}", amount,
                              fee.funder))
    return items


def tranche_rule(fee_id: str, n: int) -> str:
    return f"{TRANCHE}:{fee_id}:{n}"


def tranche_parts(rule: str) -> tuple[str, int]:
    _, fee_id, n = rule.split(":")
    return fee_id, int(n)


def tranche_milestone_key(fee_id: str, n: int) -> str:
    return f"{fee_id}:{ms.SERVICE_FEE_TRANCHE}:{n}"


def claim_window_start(tariff: Tariff, today: date) -> date:
    return today - timedelta(days=tariff.claim_window_days)


def cascade(amount_pence: int, management_fee_bp: int) -> tuple[int, int]:
    """A subcontractor's line: (what the prime keeps, what the subcontractor receives), summing exactly."""
    if not management_fee_bp:
        return 0, amount_pence
    retained, net = split(amount_pence, [management_fee_bp, 10000 - management_fee_bp])
    return retained, net
