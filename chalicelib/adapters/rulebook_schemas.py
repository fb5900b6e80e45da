"""The rulebook format as marshmallow schemas: a rulebook file is validated into the domain's typed values here,
and the same schemas publish the format as a JSON Schema (`json_schema()`, served at `GET /rulebook-schema.json`
and kept in docs/rulebook.schema.json).

Imported (with marshmallow) only when a rulebook is first loaded or the format is published, not at cold start:
chalicelib/adapters/rulebooks.py reads and caches the files.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from ..domain.calendar import NATIONS
from ..domain.eligibility import ATTRIBUTES
from ..domain.errors import RulebookError
from ..domain.parties import DELIVERER, MEMBER_ROLES, PARTY_ROLES, PAYEE_ROLES, REFERRER
from ..domain.rulebook import (
    ANCHORS,
    BEFORE_MIN,
    DEADLINES,
    ORG_ROLES,
    PERIOD_UNITS,
    PROGRAMME_CLOSURE,
    REFUSE,
    RETENTION_BASES,
    Amount,
    ChainMember,
    Checkpoint,
    DeliveryOrganisation,
    ExtraReview,
    Fee,
    FeePayment,
    FlexibleFund,
    Funder,
    LeaverTracking,
    Module,
    PaymentControls,
    Period,
    Plausibility,
    ReferrerTarget,
    Residence,
    Retention,
    Targets,
    Tariff,
)
from ..payments import milestones as ms

_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"


def _d(text: str) -> dict[str, Any]:
    return {"metadata": {"description": text}}


# ---------------------------------------------------------------- periods, organisations, modules


class PeriodSchema(Schema):
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=3650))
    unit = fields.String(required=True, validate=validate.OneOf(PERIOD_UNITS),
                         **_d("working days skip the programme nation's bank holidays; months are calendar months"))

    @post_load
    def make(self, data: dict, **_: Any) -> Period:
        return Period(**data)


class DeadlineSchema(Schema):
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=3650))
    unit = fields.String(required=True, validate=validate.OneOf(PERIOD_UNITS))
    anchor = fields.String(required=True, data_key="from", validate=validate.OneOf(ANCHORS),
                           **_d("the event the clock runs from"))

    @post_load
    def make(self, data: dict, **_: Any) -> dict:
        return {"period": Period(data["amount"], data["unit"]), "anchor": data["anchor"]}


class ExtraReviewSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    name = fields.String(required=True)
    every = fields.Nested(PeriodSchema, required=True)

    @post_load
    def make(self, data: dict, **_: Any) -> ExtraReview:
        return ExtraReview(**data)


_DISTRICT = r"^[A-Z]{1,2}[0-9][A-Z0-9]?$"


class ResidenceSchema(Schema):
    local_authority = fields.String(required=True, validate=validate.Regexp(r"^[EWSN][0-9]{8}$"),
                                    **_d("the local authority's ONS (GSS) code, e.g. E06000005"))
    postcode_districts = fields.List(fields.String(validate=validate.Regexp(_DISTRICT)), required=True,
                                     validate=validate.Length(min=1),
                                     **_d("postcode districts (outward codes) wholly in the authority"))
    straddling_districts = fields.List(
        fields.String(validate=validate.Regexp(_DISTRICT)), load_default=list,
        **_d("districts the authority shares with another: a referral from one states the participant's authority"))

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
        both = set(data.get("postcode_districts") or ()) & set(data.get("straddling_districts") or ())
        if both:
            raise ValidationError(f"listed both as wholly in and straddling: {', '.join(sorted(both))}",
                                  "straddling_districts")

    @post_load
    def make(self, data: dict, **_: Any) -> Residence:
        return Residence(data["local_authority"], tuple(data["postcode_districts"]),
                         tuple(data["straddling_districts"]))


class DeliveryOrganisationSchema(Schema):
    org_id = fields.String(required=True, validate=validate.Regexp(_ID))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ORG_ROLES))
    allocation = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0),
                                **_d("a hard cap on the places of this organisation (absent: no cap)"))
    minimum = fields.Integer(load_default=None, validate=validate.Range(min=1),
                             **_d("the least it is to deliver to: a target reported against a pro-rata path over "
                                  "the referral window, never a reason to refuse"))
    residence = fields.Nested(ResidenceSchema, load_default=None,
                              **_d("the residents it serves (absent: anyone the programme takes)"))
    level = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3),
                           **_d("delivery level (Flexible Routeways: 1 referral only, 2 mentoring, 3 delivery)"))
    prime = fields.String(load_default=None, **_d("a subcontractor's prime contractor (its org_id)"))
    areas = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list,
                        **_d("areas served, for referrals that name an area instead of a provider"))
    min_age = fields.Integer(load_default=None, validate=validate.Range(min=0, max=120))
    max_age = fields.Integer(load_default=None, validate=validate.Range(min=0, max=120))
    review_every_max = fields.Nested(PeriodSchema, load_default=None,
                                     **_d("the longest gap between reviews this provider allows"))
    extra_reviews = fields.List(fields.Nested(ExtraReviewSchema), load_default=list)
    management_fee_bp = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10000),
                                       **_d("a subcontractor's prime keeps this share (basis points) of each line"))
    routes_referrals = fields.Boolean(load_default=False, **_d(
        "a prime that routes: a referral made to it waits until it routes the person to a deliverer"))

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
        if data["role"] == "subcontractor" and not data.get("prime"):
            raise ValidationError("a subcontractor names its prime", "prime")
        if data["role"] != "subcontractor" and data.get("prime"):
            raise ValidationError("only a subcontractor has a prime", "prime")
        cap, minimum = data.get("allocation"), data.get("minimum")
        if cap is not None and minimum is not None and minimum > cap:
            raise ValidationError("the minimum is above the allocation (the cap)", "minimum")
        if data.get("routes_referrals") and data["role"] != "prime":
            raise ValidationError("only a prime routes referrals", "routes_referrals")

    @post_load
    def make(self, data: dict, **_: Any) -> DeliveryOrganisation:
        data["areas"] = tuple(a.lower() for a in data["areas"])
        data["extra_reviews"] = tuple(data["extra_reviews"])
        return DeliveryOrganisation(**data)


class ChainMemberSchema(Schema):
    org_id = fields.String(required=True, validate=validate.Regexp(_ID))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    roles = fields.List(fields.String(validate=validate.OneOf(MEMBER_ROLES)), required=True,
                        validate=validate.Length(min=1), **_d("the party roles it takes on a referral"))
    under = fields.String(required=True, validate=validate.Regexp(_ID), **_d(
        "the delivery organisation it works under (a prime, or a hub): its fees pass through it"))
    level = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3),
                           **_d("its level (Flexible Routeways: 1 referral only, 2 referral and mentoring)"))
    management_fee_bp = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10000),
                                       **_d("the share (basis points) of its fees the organisation it works under "
                                            "keeps"))

    @post_load
    def make(self, data: dict, **_: Any) -> ChainMember:
        return ChainMember(**{**data, "roles": tuple(dict.fromkeys(data["roles"]))})


class ModuleSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    max_duration = fields.Nested(PeriodSchema, load_default=None)
    review_every = fields.Nested(PeriodSchema, load_default=None)
    extension_max = fields.Nested(PeriodSchema, load_default=None,
                                  **_d("the most the module's end may be extended by, on the provider's request "
                                       "with a reason and the commissioner's approval"))

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
        if data.get("extension_max") and not data.get("max_duration"):
            raise ValidationError("only a module with a max_duration can be extended", "extension_max")

    @post_load
    def make(self, data: dict, **_: Any) -> Module:
        return Module(**data)


class CheckpointSchema(Schema):
    id = fields.String(required=True)
    after = fields.Nested(PeriodSchema, required=True, **_d("time in work after the job start"))
    earns = fields.String(load_default=None, validate=validate.OneOf(ms.CHECKPOINT_OUTCOMES),
                          **_d("an outcome this checkpoint reaches"))

    @post_load
    def make(self, data: dict, **_: Any) -> Checkpoint:
        return Checkpoint(**data)


class WindowSchema(Schema):
    opens = fields.Date(required=True)
    closes = fields.Date(required=True)

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
        if data["closes"] < data["opens"]:
            raise ValidationError("closes before it opens", "closes")


class EligibilitySchema(Schema):
    min_age = fields.Integer(load_default=None, validate=validate.Range(min=0, max=120))
    max_age = fields.Integer(load_default=None, validate=validate.Range(min=0, max=120))
    required_attributes = fields.List(fields.String(validate=validate.OneOf(ATTRIBUTES)), load_default=list)
    excluded_attributes = fields.List(fields.String(validate=validate.OneOf(ATTRIBUTES)), load_default=list)
    priority_groups = fields.List(fields.String(validate=validate.OneOf(ATTRIBUTES)), load_default=list,
                                  **_d("groups recorded for reporting"))
    must_state = fields.List(fields.String(validate=validate.OneOf(ATTRIBUTES)), load_default=list,
                             **_d("conditions checked at referral: a referral states each, true or false, or is "
                                  "refused (rule must_state); what it stated is kept on the referral event"))


class LeaverTrackingSchema(Schema):
    every = fields.Nested(PeriodSchema, required=True, **_d("a follow-up contact this often after the exit"))
    lasts = fields.Nested(PeriodSchema, required=True, **_d("for this long after the exit"))

    @post_load
    def make(self, data: dict, **_: Any) -> LeaverTracking:
        return LeaverTracking(data["every"], data["lasts"])


class DurationSchema(Schema):
    min = fields.Nested(PeriodSchema, load_default=None, **_d("the least time on provision before a completion"))
    max = fields.Nested(PeriodSchema, load_default=None)
    completion_before_min = fields.String(
        load_default=REFUSE, validate=validate.OneOf(BEFORE_MIN),
        **_d("an exit as 'completed' before the minimum: refused, or recorded as an early leaver"))


class SustainmentSchema(Schema):
    in_work_support = fields.Nested(PeriodSchema, load_default=None)
    checkpoints = fields.List(fields.Nested(CheckpointSchema), load_default=list)


class ReferrerTargetSchema(Schema):
    chain_levels = fields.List(fields.Integer(validate=validate.Range(min=1, max=3)), required=True,
                               validate=validate.Length(min=1),
                               **_d("the levels of the chain members whose referrals count (the referrer party is "
                                    "a chain member at one of these levels)"))
    min = fields.Integer(required=True, validate=validate.Range(min=0), **_d("participants expected, at least"))
    max = fields.Integer(required=True, validate=validate.Range(min=0), **_d("participants expected, at most"))

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
        if data["min"] > data["max"]:
            raise ValidationError("min is above max", "min")

    @post_load
    def make(self, data: dict, **_: Any) -> ReferrerTarget:
        return ReferrerTarget(tuple(data["chain_levels"]), data["min"], data["max"])


class TargetsSchema(Schema):
    job_starts_pct = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100))
    over_16_hours_pct = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100))
    over_8_hours_pct = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100))
    cohort_min_share = fields.Dict(keys=fields.String(), values=fields.Float(), load_default=dict)
    vcs_referrals = fields.Nested(ReferrerTargetSchema, load_default=None,
                                  **_d("participants expected from voluntary and community sector referrers, "
                                       "out of total_capacity"))

    @post_load
    def make(self, data: dict, **_: Any) -> Targets:
        return Targets(**data)


class PlausibilitySchema(Schema):
    max_age = fields.Integer(load_default=100, validate=validate.Range(min=16, max=130),
                             **_d("the oldest plausible age at referral: an older date of birth is a keying error"))
    consent_valid_for = fields.Nested(PeriodSchema, load_default=None,
                                      **_d("how long recorded consent stays good for a referral (default 6 months)"))

    @post_load
    def make(self, data: dict, **_: Any) -> Plausibility:
        return Plausibility(max_age=data["max_age"],
                            consent_valid_for=data["consent_valid_for"] or Plausibility().consent_valid_for)


class RetentionPeriodSchema(Schema):
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=120))
    unit = fields.String(required=True, validate=validate.OneOf(("months", "years")))

    @post_load
    def make(self, data: dict, **_: Any) -> Period:
        return Period(**data)


class RetentionSchema(Schema):
    basis = fields.String(required=True, validate=validate.OneOf(RETENTION_BASES),
                          **_d("programme_closure: kept until the closure date the funder sets (`until`); "
                               "after_exit: kept `period` after the referral ends"))
    until = fields.Date(load_default=None, **_d("the programme's closure date (programme_closure)"))
    period = fields.Nested(RetentionPeriodSchema, load_default=None, **_d("how long after the referral ends "
                                                                          "(after_exit)"))
    funder_mandated = fields.Boolean(required=True, **_d("the funder requires the records kept until then: an "
                                                         "erasure request before is refused"))
    source = fields.String(required=True, **_d("the funder's rule this follows"))

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
        wanted = "until" if data.get("basis") == PROGRAMME_CLOSURE else "period"
        if data.get(wanted) is None:
            raise ValidationError(f"{data.get('basis')} needs {wanted}", wanted)

    @post_load
    def make(self, data: dict, **_: Any) -> Retention:
        return Retention(basis=data["basis"], period=data["period"], until=data["until"],
                         funder_mandated=data["funder_mandated"])


# ---------------------------------------------------------------- tariff


class FunderSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9-]{2,40}$"))
    name = fields.String(required=True)
    org_id = fields.String(load_default=None, validate=validate.Regexp(_ID),
                           **_d("the organisation that pays this funder's fees (default: the commissioner); its "
                                "finance approves the lines it pays"))
    contract_holder = fields.Boolean(load_default=False,
                                     **_d("the organisation holding the contract pays these fees itself (a local "
                                          "authority's own co-funding): recorded as match funding, never claimed"))

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
        if data["contract_holder"] and data["org_id"]:
            raise ValidationError("a fee paid by the contract holder names no other organisation", "org_id")

    @post_load
    def make(self, data: dict, **_: Any) -> Funder:
        return Funder(**data)


class AmountSchema(Schema):
    fixed_pence = fields.Integer(load_default=None, validate=validate.Range(min=1))
    min_pence = fields.Integer(load_default=None, validate=validate.Range(min=0))
    max_pence = fields.Integer(load_default=None, validate=validate.Range(min=1))
    default_pence = fields.Integer(load_default=None, validate=validate.Range(min=0))
    evidence_required = fields.Boolean(load_default=False, **_d("each claim states its amount and its evidence"))
    agreed_at_acceptance = fields.Boolean(load_default=False, **_d(
        "a band: the deliverer agrees the price within min_pence..max_pence when it accepts (default_pence, if "
        "given, applies when the accept names no price)"))

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
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
        if data["agreed_at_acceptance"]:
            if data["evidence_required"] or data["min_pence"] is None:
                raise ValidationError("a band agreed at acceptance has min_pence and max_pence and no evidence",
                                      "agreed_at_acceptance")
            return
        if default is None and not data["evidence_required"]:
            raise ValidationError("a range needs default_pence unless each claim gives evidence", "default_pence")

    @post_load
    def make(self, data: dict, **_: Any) -> Amount:
        return Amount(**data)


class PaymentControlsSchema(Schema):
    sample_rate_bp = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10000),
                                    **_d("share of a claim file's lines drawn for validation before payment, in "
                                         "basis points, until the commissioner sets its own rate"))
    pass_through_days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365),
                                       **_d("days a prime has to pay a subcontractor after the commissioner paid "
                                            "the prime; later is flagged by the nightly run"))

    @post_load
    def make(self, data: dict, **_: Any) -> PaymentControls:
        return PaymentControls(**data)


class PaymentSchema(Schema):
    milestone = fields.String(required=True, validate=validate.OneOf(ms.NAMES))
    share_bp = fields.Integer(required=True, validate=validate.Range(min=1, max=10000))
    tranches = fields.Integer(load_default=None, validate=validate.Range(min=1, max=120))

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
        if ms.get(data["milestone"]).paid == ms.SCHEDULED and not data["tranches"]:
            raise ValidationError("service fees name their number of monthly tranches", "tranches")

    @post_load
    def make(self, data: dict, **_: Any) -> FeePayment:
        return FeePayment(**data)


class FeeSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9-]{2,40}$"))
    description = fields.String(required=True)
    funder = fields.String(required=True, **_d("a funder id of this tariff"))
    levels = fields.List(fields.Integer(validate=validate.Range(min=1, max=3)), load_default=list,
                         **_d("delivery levels this fee is for (empty: all)"))
    amount = fields.Nested(AmountSchema, required=True)
    payments = fields.List(fields.Nested(PaymentSchema), required=True, validate=validate.Length(min=1))
    payee = fields.String(load_default=DELIVERER, validate=validate.OneOf(PAYEE_ROLES), **_d(
        "the party role it pays; `levels` are the levels of the organisation in that role"))

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
        payments = data.get("payments") or []
        total = sum(p.share_bp for p in payments)
        if total != 10000:
            raise ValidationError(f"payment shares sum to {total} basis points, not 10000", "payments")
        if data.get("payee", DELIVERER) != DELIVERER:
            if any(ms.get(p.milestone).paid == ms.SCHEDULED for p in payments):
                raise ValidationError("service-fee tranches pay the deliverer only", "payee")
            amount = data.get("amount")
            if amount is not None and amount.agreed_at_acceptance:
                raise ValidationError("a price agreed at acceptance pays the deliverer only", "payee")

    @post_load
    def make(self, data: dict, **_: Any) -> Fee:
        return Fee(id=data["id"], description=data["description"], funder=data["funder"], amount=data["amount"],
                   payments=tuple(data["payments"]), levels=tuple(data["levels"]), payee=data["payee"])


class TariffSchema(Schema):
    currency = fields.String(required=True, validate=validate.Equal("GBP"))
    claim_window_days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=3650),
                                       **_d("a claim is made within this many days of the event"))
    contract_value_pence = fields.Integer(load_default=None, validate=validate.Range(min=1),
                                          **_d("the most the programme can pay in all"))
    funders = fields.List(fields.Nested(FunderSchema), required=True, validate=validate.Length(min=1))
    fees = fields.List(fields.Nested(FeeSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
        funders = {f.id for f in data.get("funders") or []}
        ids = [f.id for f in data.get("fees") or []]
        if len(ids) != len(set(ids)):
            raise ValidationError("fee id repeated", "fees")
        for i, fee in enumerate(data.get("fees") or []):
            if fee.funder not in funders:
                raise ValidationError({i: {"funder": [f"unknown funder {fee.funder!r}"]}}, "fees")

    @post_load
    def make(self, data: dict, **_: Any) -> Tariff:
        return Tariff(currency=data["currency"], funders=tuple(data["funders"]), fees=tuple(data["fees"]),
                      claim_window_days=data["claim_window_days"], contract_value_pence=data["contract_value_pence"])


class FundBudgetSchema(Schema):
    org_id = fields.String(required=True, validate=validate.Regexp(_ID), **_d("a delivery organisation"))
    budget_pence = fields.Integer(required=True, validate=validate.Range(min=1),
                                  **_d("its fund for the programme's life, in pence"))


class FlexibleFundSchema(Schema):
    fee = fields.String(required=True, **_d("the tariff fee (and so the funder) a spend is paid under"))
    categories = fields.List(fields.String(validate=validate.Regexp(r"^[a-z0-9_]{1,30}$")), required=True,
                             validate=validate.Length(min=1), **_d(
                                 "what the fund pays for; a barrier in an action plan has one of these categories"))
    budgets = fields.List(fields.Nested(FundBudgetSchema), required=True, validate=validate.Length(min=1),
                          **_d("each delivery authority's budget; spends count against it"))
    spot_purchase_over_pence = fields.Integer(required=True, validate=validate.Range(min=0), **_d(
        "a spend above this is a spot purchase, needing the authority's coordinator's approval (as is any spend "
        "marked as a spot purchase: a procured service)"))
    incentive_fee = fields.String(required=True, **_d("the tariff fee an employer incentive is paid under"))
    incentive_max_pence = fields.Integer(required=True, validate=validate.Range(min=1), **_d(
        "employer incentives for one participant, in all, in pence"))
    source = fields.String(required=True, **_d("where the amounts come from, or that they were chosen"))

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
        if len(set(data["categories"])) != len(data["categories"]):
            raise ValidationError("each category once", "categories")
        ids = [b["org_id"] for b in data["budgets"]]
        if len(set(ids)) != len(ids):
            raise ValidationError("each organisation's budget once", "budgets")

    @post_load
    def make(self, data: dict, **_: Any) -> FlexibleFund:
        return FlexibleFund(fee=data["fee"], categories=tuple(data["categories"]),
                            budgets={b["org_id"]: b["budget_pence"] for b in data["budgets"]},
                            spot_purchase_over_pence=data["spot_purchase_over_pence"],
                            incentive_fee=data["incentive_fee"], incentive_max_pence=data["incentive_max_pence"])


# ---------------------------------------------------------------- the rulebook


class RulebookSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(_ID), **_d("the programme id; the file's name"))
    name = fields.String(required=True)
    source = fields.String(required=True, **_d("the source document and every choice made where it is silent"))
    nation = fields.String(load_default="ENG", validate=validate.OneOf(sorted(NATIONS)),
                           **_d("the UK nation whose bank holidays working days skip"))
    commissioner = fields.String(required=True, **_d("who commissions the programme, in words"))
    commissioner_org_id = fields.String(required=True, validate=validate.Regexp(_ID),
                                        **_d("the commissioner as an organisation: it sets the sample rate, "
                                             "validates and pays claim files, and sees the supply chain"))
    payment_controls = fields.Nested(PaymentControlsSchema, load_default=dict)
    referral_window = fields.Nested(WindowSchema, required=True)
    total_capacity = fields.Integer(load_default=None, validate=validate.Range(min=1),
                                    **_d("a hard cap on the programme's places (absent: no cap)"))
    delivery_organisations = fields.List(
        fields.Nested(DeliveryOrganisationSchema), required=True, validate=validate.Length(min=1))
    party_roles = fields.List(fields.String(validate=validate.OneOf(PARTY_ROLES)),
                              load_default=lambda: [REFERRER, DELIVERER], **_d(
                                  "the roles organisations take on this programme's referrals (always referrer and "
                                  "deliverer; mentor, spoke where the programme has them)"))
    chain_members = fields.List(fields.Nested(ChainMemberSchema), load_default=list, **_d(
        "organisations that refer, mentor or take people as spokes without delivery places of their own"))
    eligibility = fields.Nested(EligibilitySchema, required=True)
    support_levels = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[a-z0-9_]{1,30}$")), values=fields.Nested(PeriodSchema),
        required=True, validate=validate.Length(min=1), **_d("support level -> review cadence"))
    deadlines = fields.Dict(keys=fields.String(validate=validate.OneOf(DEADLINES)),
                            values=fields.Nested(DeadlineSchema), required=True)
    duration = fields.Nested(DurationSchema, load_default=dict)
    late_recording_limit = fields.Nested(
        PeriodSchema, load_default=None,
        **_d("a step (or referral) recorded longer than this after it happened needs the commissioner's approval "
             "(absent: 20 working days)"))
    reassessment_every = fields.Nested(PeriodSchema, load_default=None,
                                       **_d("a reassessment with the participant this often after the last "
                                            "assessment, while in support"))
    ineligible_notice = fields.Nested(PeriodSchema, load_default=None, **_d(
        "an eligibility decision within this of the referral: an ineligible person is told why and signposted to "
        "another service (steps eligible / ineligible); flagged by the nightly run when missed"))
    leaver_tracking = fields.Nested(LeaverTrackingSchema, load_default=None, **_d(
        "leavers not in work are contacted every `every` after their exit for `lasts` (step follow_up)"))
    modules = fields.List(fields.Nested(ModuleSchema), load_default=list)
    module_moves = fields.List(fields.List(fields.String(), validate=validate.Length(equal=2)), load_default=list,
                               **_d("[from, to] pairs of module ids"))
    returns_allowed = fields.Boolean(required=True, **_d("a former participant may be referred again"))
    exit_review_required = fields.Boolean(required=True)
    sustainment = fields.Nested(SustainmentSchema, load_default=dict)
    targets = fields.Nested(TargetsSchema, load_default=dict)
    tariff = fields.Nested(TariffSchema, required=True)
    plausibility = fields.Nested(PlausibilitySchema, load_default=dict)
    retention = fields.Nested(RetentionSchema, required=True,
                              **_d("how long participants' personal fields are kept (UK GDPR storage limitation)"))
    flexible_fund = fields.Nested(FlexibleFundSchema, load_default=None, **_d(
        "a fund each delivery authority administers for barriers in action plans, and employer incentives"))

    @validates_schema
    def check(self, data: dict, **_: Any) -> None:
        for rule in (_organisations_are_consistent, _every_deadline_is_given, _module_moves_name_modules,
                     _checkpoints_cover_the_tariff, _fee_levels_exist, _payers_are_not_payees,
                     _vcs_target_fits, _chain_is_consistent, _fund_is_consistent):
            rule(data)


def _organisations_are_consistent(data: dict) -> None:
    orgs = data.get("delivery_organisations") or []
    ids = [o.org_id for o in orgs]
    if len(ids) != len(set(ids)):
        raise ValidationError("org_id repeated", "delivery_organisations")
    for i, org in enumerate(orgs):
        if org.prime and org.prime not in ids:
            raise ValidationError({i: {"prime": [f"unknown prime {org.prime!r}"]}}, "delivery_organisations")
    caps = [o.allocation for o in orgs]
    total = data.get("total_capacity")
    if total is not None and None not in caps and sum(c or 0 for c in caps) > total:
        raise ValidationError("allocations add up to more than total_capacity", "delivery_organisations")


def _every_deadline_is_given(data: dict) -> None:
    missing = [d for d in DEADLINES if d not in (data.get("deadlines") or {})]
    if missing:
        raise ValidationError(f"missing deadlines: {', '.join(missing)}", "deadlines")


def _module_moves_name_modules(data: dict) -> None:
    module_ids = {m.id for m in data.get("modules") or []}
    for move in data.get("module_moves") or []:
        unknown = [m for m in move if m not in module_ids]
        if unknown:
            raise ValidationError(f"unknown module {unknown[0]!r}", "module_moves")


def _checkpoints_cover_the_tariff(data: dict) -> None:
    checkpoints = (data.get("sustainment") or {}).get("checkpoints") or []
    earned_at_checkpoints = {c.earns for c in checkpoints if c.earns}
    tariff = data.get("tariff")
    for i, fee in enumerate(tariff.fees if tariff else ()):
        milestones = [p.milestone for p in fee.payments]
        per_checkpoint = sum(1 for m in milestones if ms.get(m).per_checkpoint)
        if per_checkpoint > len(checkpoints):
            raise ValidationError({"fees": {i: {"payments": [
                f"{per_checkpoint} sustainment payments but only {len(checkpoints)} checkpoints"]}}}, "tariff")
        for outcome in ms.CHECKPOINT_OUTCOMES:
            if outcome in milestones and outcome not in earned_at_checkpoints:
                raise ValidationError({"fees": {i: {"payments": [
                    f"no sustainment checkpoint earns {outcome}"]}}}, "tariff")


def _fee_levels_exist(data: dict) -> None:
    orgs = [*(data.get("delivery_organisations") or []), *(data.get("chain_members") or [])]
    levels = {o.level for o in orgs if o.level is not None}
    tariff = data.get("tariff")
    for i, fee in enumerate(tariff.fees if tariff else ()):
        for level in fee.levels:
            if level not in levels:
                raise ValidationError({"fees": {i: {"levels": [f"no organisation at level {level}"]}}}, "tariff")


def _payers_are_not_payees(data: dict) -> None:
    """The commissioner and the funders named as organisations are not delivery organisations: a payee never
    approves its own money (a delivery organisation funding its own service is `contract_holder`)."""
    delivering = {o.org_id for o in data.get("delivery_organisations") or []}
    if data.get("commissioner_org_id") in delivering:
        raise ValidationError("the commissioner cannot be a delivery organisation", "commissioner_org_id")
    tariff = data.get("tariff")
    for i, funder in enumerate(tariff.funders if tariff else ()):
        if funder.org_id in delivering:
            raise ValidationError({"funders": {i: {"org_id": [
                "a delivery organisation funding its own service is contract_holder"]}}}, "tariff")


def _vcs_target_fits(data: dict) -> None:
    """The VCS referral target is at most the programme's places and counts chain members' levels it has."""
    targets = data.get("targets")
    target = targets.vcs_referrals if isinstance(targets, Targets) else None
    total = data.get("total_capacity")
    if target and total is not None and target.max > total:
        raise ValidationError({"vcs_referrals": {"max": ["more than total_capacity"]}}, "targets")
    levels = {m.level for m in data.get("chain_members") or ()}
    unknown = [n for n in target.chain_levels if n not in levels] if target else []
    if unknown:
        raise ValidationError({"vcs_referrals": {"chain_levels": [f"no chain member is at level {unknown[0]}"]}},
                              "targets")


def _chain_is_consistent(data: dict) -> None:
    roles = data.get("party_roles") or []
    missing = [r for r in (REFERRER, DELIVERER) if r not in roles]
    if missing or len(roles) != len(set(roles)):
        raise ValidationError("party_roles name referrer and deliverer, each role once", "party_roles")
    delivery = {o.org_id: o for o in data.get("delivery_organisations") or []}
    seen: set[str] = set()
    for i, member in enumerate(data.get("chain_members") or []):
        problem = _member_problem(member, delivery, seen, roles)
        if problem:
            raise ValidationError({i: {problem[0]: [problem[1]]}}, "chain_members")
        seen.add(member.org_id)
    tariff = data.get("tariff")
    for i, fee in enumerate(tariff.fees if tariff else ()):
        if fee.payee not in roles:
            raise ValidationError({"fees": {i: {"payee": [f"the programme has no {fee.payee} role"]}}}, "tariff")


def _fund_is_consistent(data: dict) -> None:
    """A fund's budgets belong to delivery organisations, and its fees are evidence fees of the tariff."""
    fund: FlexibleFund | None = data.get("flexible_fund")
    if fund is None:
        return
    delivery = {o.org_id for o in data.get("delivery_organisations") or []}
    unknown = [o for o in fund.budgets if o not in delivery]
    if unknown:
        raise ValidationError({"budgets": [f"{unknown[0]!r} is not a delivery organisation"]}, "flexible_fund")
    tariff = data.get("tariff")
    for name, fee_id in (("fee", fund.fee), ("incentive_fee", fund.incentive_fee)):
        fee = tariff.fee(fee_id) if tariff else None
        if fee is None or not fee.amount.evidence_required:
            raise ValidationError({name: [f"{fee_id!r} is not an evidence fee of the tariff"]}, "flexible_fund")


def _member_problem(member: ChainMember, delivery: dict, seen: set[str], roles: list[str]) -> tuple[str, str] | None:
    if member.org_id in delivery or member.org_id in seen:
        return "org_id", f"{member.org_id!r} is already an organisation of this programme"
    under = delivery.get(member.under)
    if under is None or under.role == "subcontractor":
        return "under", f"{member.under!r} is not a prime or local authority of this programme"
    unused = [r for r in member.roles if r not in roles]
    if unused:
        return "roles", f"the programme has no {unused[0]} role (party_roles)"
    return None


def load(document: dict, source: str) -> dict[str, Any]:
    """The rulebook document validated and loaded (RulebookError naming the file and the fields if it is not)."""
    try:
        data: dict[str, Any] = RulebookSchema().load(document)
    except ValidationError as exc:
        raise RulebookError(source, exc.messages) from None
    return data


# ---------------------------------------------------------------- the published format


@lru_cache(maxsize=1)
def json_schema() -> dict:
    """The rulebook format as a JSON Schema (draft 2020-12), generated from the schemas above. Cross-field rules
    (shares sum to 10,000, a subcontractor names its prime...) are in each schema's description."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(title="refpay rulebook", version="1", openapi_version="3.1.0", plugins=[MarshmallowPlugin()])
    spec.components.schema("Rulebook", schema=RulebookSchema)
    definitions = spec.to_dict()["components"]["schemas"]
    text = json.dumps(definitions).replace('"#/components/schemas/', '"#/$defs/')
    defs = json.loads(text)
    for name, rules in _CROSS_FIELD_RULES.items():
        defs[name]["description"] = rules
    root = defs.pop("Rulebook")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://refpay.dev/rulebook.schema.json",
            "title": "refpay programme rulebook", **root, "$defs": defs}


_CROSS_FIELD_RULES = {
    "Rulebook": "One programme's rules. Also checked when loaded: org_ids are unique, a prime named by a "
                "subcontractor exists, allocations (caps) add up to at most total_capacity, all four deadlines are "
                "given, module moves name known modules, per-checkpoint payments do not outnumber checkpoints, "
                "an outcome milestone is earned by some checkpoint, fee levels exist among the organisations and "
                "chain members, the commissioner and the funders named by org_id are not delivery organisations, the "
                "VCS referral target is at most total_capacity and counts levels its chain members have, party_roles "
                "name referrer and deliverer, a chain "
                "member is none of the delivery organisations and works under a prime or local authority in roles "
                "the programme uses, a fee's payee is one of the programme's party roles.",
    "Fee": "A fee's payment shares sum to exactly 10000 basis points; its funder is one of the tariff's funders; "
           "service-fee tranches and prices agreed at acceptance pay the deliverer.",
    "Funder": "org_id or contract_holder, not both; with neither, the commissioner_org_id pays.",
    "Amount": "Either fixed_pence alone, or max_pence with optional min_pence and default_pence "
              "(default_pence is required unless evidence_required or agreed_at_acceptance; a band agreed at "
              "acceptance also has min_pence and needs no evidence).",
    "DeliveryOrganisation": "A subcontractor names its prime; no other role does; only a prime routes referrals. A "
                            "minimum is at most the allocation.",
    "Residence": "No district is listed both as wholly in the authority and as straddling.",
}
