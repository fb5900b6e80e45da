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
