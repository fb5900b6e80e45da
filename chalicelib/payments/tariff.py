"""The shape of a programme's tariff, validated when the rulebook loads.

A tariff is a list of fees. Each fee has a funder, the delivery levels it applies to (empty: all), an amount
(fixed, a range with a default, or a cap that a claim must justify) and the milestones at which it is paid,
as shares in basis points that sum to exactly 10,000.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

MILESTONES = (
    "referral_accepted",     # a referral fee (Level 1)
    "evidence",              # a variable amount claimed with evidence, up to a cap (Level 2)
    "start",                 # start payment / up-front share
    "service_fee_tranche",   # service fees paid monthly in arrears
    "job_start",             # any job start
    "job_over_8_hours",      # job outcome over 8 hours a week
    "job_over_16_hours",     # job outcome over 16 hours a week
    "short_job_outcome",     # ESF: 13 weeks in work within 26
    "sustained_job_outcome", # ESF: 26 weeks in work within 52
    "sustainment_checkpoint",  # each sustainment checkpoint reached
)


class FunderSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9-]{2,40}$"))
    name = fields.String(required=True)


class AmountSchema(Schema):
    fixed_pence = fields.Integer(load_default=None, validate=validate.Range(min=1))
    min_pence = fields.Integer(load_default=None, validate=validate.Range(min=0))
    max_pence = fields.Integer(load_default=None, validate=validate.Range(min=1))
    default_pence = fields.Integer(load_default=None, validate=validate.Range(min=0))
    evidence_required = fields.Boolean(load_default=False)

    @validates_schema
    def check(self, data, **_):
        if data["fixed_pence"] is not None:
            if any(data[k] is not None for k in ("min_pence", "max_pence", "default_pence")):
                raise ValidationError("a fixed amount has no range", "fixed_pence")
            return
        if data["max_pence"] is None:
            raise ValidationError("give fixed_pence or max_pence", "max_pence")
        low = data["min_pence"] or 0
        if low > data["max_pence"]:
            raise ValidationError("min_pence is above max_pence", "min_pence")
        default = data["default_pence"]
        if default is not None and not low <= default <= data["max_pence"]:
            raise ValidationError("default_pence is outside min_pence..max_pence", "default_pence")
        if default is None and not data["evidence_required"]:
            raise ValidationError("a range needs default_pence unless each claim gives evidence", "default_pence")


class PaymentSchema(Schema):
    milestone = fields.String(required=True, validate=validate.OneOf(MILESTONES))
    share_bp = fields.Integer(required=True, validate=validate.Range(min=1, max=10000))
    tranches = fields.Integer(load_default=None, validate=validate.Range(min=1, max=120))

    @validates_schema
    def check(self, data, **_):
        if data["milestone"] == "service_fee_tranche" and not data["tranches"]:
            raise ValidationError("service fees name their number of monthly tranches", "tranches")


class FeeSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9-]{2,40}$"))
    description = fields.String(required=True)
    funder = fields.String(required=True)
    levels = fields.List(fields.Integer(validate=validate.Range(min=1, max=3)), load_default=list)
    amount = fields.Nested(AmountSchema, required=True)
    payments = fields.List(fields.Nested(PaymentSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def check(self, data, **_):
        total = sum(p["share_bp"] for p in data.get("payments") or [])
        if total != 10000:
            raise ValidationError(f"payment shares sum to {total} basis points, not 10000", "payments")


class TariffSchema(Schema):
    currency = fields.String(required=True, validate=validate.Equal("GBP"))
    claim_window_days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=3650),
                                       metadata={"description": "a claim is made within this many days of the event"})
    contract_value_pence = fields.Integer(load_default=None, validate=validate.Range(min=1),
                                          metadata={"description": "the most the programme can pay in all"})
    funders = fields.List(fields.Nested(FunderSchema), required=True, validate=validate.Length(min=1))
    fees = fields.List(fields.Nested(FeeSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def check(self, data, **_):
        funders = {f["id"] for f in data.get("funders") or []}
        ids = [f["id"] for f in data.get("fees") or []]
        if len(ids) != len(set(ids)):
            raise ValidationError("fee id repeated", "fees")
        for i, fee in enumerate(data.get("fees") or []):
            if fee["funder"] not in funders:
                raise ValidationError({i: {"funder": [f"unknown funder {fee['funder']!r}"]}}, "fees")


# ---------------------------------------------------------------- the engine: what a journey event earns

from dataclasses import dataclass  # noqa: E402
from datetime import date  # noqa: E402

from .money import split  # noqa: E402

# Journey event -> the tariff milestones it reaches.
EVENT_MILESTONES = {
    "accept": ("referral_accepted",),
    "start": ("start",),
    "job_start": ("job_start", "job_over_8_hours", "job_over_16_hours"),
    "sustainment": ("sustainment_checkpoint", "short_job_outcome", "sustained_job_outcome"),
}


@dataclass(frozen=True)
class Earning:
    """One payment a journey event earns: unique per referral by `milestone_key`."""

    milestone_key: str
    fee_id: str
    milestone: str
    funder: str
    amount_pence: int
    description: str


def fee_amount(fee: dict) -> int | None:
    """The fee's whole amount per participant: fixed, or the range's default (None: set by each claim)."""
    amount = fee["amount"]
    return amount["fixed_pence"] if amount["fixed_pence"] is not None else amount["default_pence"]


def applies_to(fee: dict, level: int | None) -> bool:
    return not fee["levels"] or level in fee["levels"]


def payment_amounts(fee: dict, total: int) -> list[int]:
    """The fee split across its payments by their shares, to the penny."""
    return split(total, [p["share_bp"] for p in fee["payments"]])


def earnings(tariff: dict, level: int | None, event_type: str, event_data: dict,
             checkpoints: list[tuple[str, str | None]], already: set[str]) -> list[Earning]:
    """What `event_type` earns under the tariff for a provider at `level`, skipping milestones already earned.

    `checkpoints` is the rulebook's sustainment checkpoints in order, each with the outcome it earns (if any);
    the n-th `sustainment_checkpoint` payment of a fee is paid at the n-th checkpoint.
    """
    reached = set(EVENT_MILESTONES.get(event_type, ()))
    if event_type == "job_start":
        band = event_data.get("hours_band")
        if band not in ("over_8", "over_16"):
            reached.discard("job_over_8_hours")
        if band != "over_16":
            reached.discard("job_over_16_hours")
    checkpoint_index, checkpoint_id = None, None
    if event_type == "sustainment":
        checkpoint_id = event_data["checkpoint"]
        ids = [c for c, _ in checkpoints]
        checkpoint_index = ids.index(checkpoint_id)
        earns = dict(checkpoints)[checkpoint_id]
        reached = {"sustainment_checkpoint"} | ({earns} if earns else set())
    out: list[Earning] = []
    for fee in tariff["fees"]:
        if not applies_to(fee, level) or fee["amount"]["evidence_required"]:
            continue
        total = fee_amount(fee)
        amounts = payment_amounts(fee, total)
        nth_checkpoint = 0
        for payment, amount in zip(fee["payments"], amounts):
            milestone = payment["milestone"]
            if milestone == "sustainment_checkpoint":
                nth_checkpoint += 1
                if checkpoint_index is None or nth_checkpoint != checkpoint_index + 1:
                    continue
                key = f"{fee['id']}:{milestone}:{checkpoint_id}"
            else:
                key = f"{fee['id']}:{milestone}"
            if milestone not in reached or key in already or amount == 0:
                continue
            label = f"{fee['id']}: {milestone.replace('_', ' ')}"
            if milestone == "sustainment_checkpoint":
                label += f" {checkpoint_id}"
            out.append(Earning(key, fee["id"], milestone, fee["funder"], amount, label))
    return out


def tranche_schedule(fee: dict, start: date) -> list[tuple[int, date, int]]:
    """Service-fee tranches of a fee for a participant who started on `start`: (number, due date, pence).

    Tranches are paid monthly in arrears: the n-th falls due n months after the start. Their amounts are the
    tranche payment's share split evenly, to the penny.
    """
    from ..domain.calendar import add_months

    total = fee_amount(fee)
    amounts = payment_amounts(fee, total)
    schedule: list[tuple[int, date, int]] = []
    for payment, amount in zip(fee["payments"], amounts):
        if payment["milestone"] != "service_fee_tranche":
            continue
        for n, part in enumerate(split(amount, [1] * payment["tranches"]), start=1):
            schedule.append((n, add_months(start, n), part))
    return schedule


def cascade(amount_pence: int, management_fee_bp: int) -> tuple[int, int]:
    """A subcontractor's line: (what the prime keeps, what the subcontractor receives), summing exactly."""
    retained, net = split(amount_pence, [management_fee_bp, 10000 - management_fee_bp]) if management_fee_bp else (
        0, amount_pence)
    return retained, net
