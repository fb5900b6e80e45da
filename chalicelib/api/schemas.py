"""Request and response schemas (marshmallow). The OpenAPI document is generated from these.

Validator messages start with "[rule]" so a problem response names both the field and the rule it broke.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, post_load, validate, validates

from ..domain.eligibility import ATTRIBUTES
from ..domain.inputs import Input
from ..domain.participants import is_valid_nino, is_valid_postcode, normalise_nino, normalise_postcode
from ..domain.parties import MAX_CONTACTS, PARTY_ROLES
from ..domain.states import STATES
from ..domain.steps import REJECT_REASONS, StepDef

EARLIEST = date(1900, 1, 1)


class StrictBoolean(fields.Boolean):
    """Only JSON true or false: "yes", 1 or "t" are refused, not guessed at."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("[type] must be true or false")
        return value


def _bool(**kw):
    return StrictBoolean(**kw)


_UNSAFE_TEXT = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _plain_text(value: str) -> None:
    """No control characters and no bidirectional overrides (they disguise what a record says)."""
    if _UNSAFE_TEXT.search(value):
        raise ValidationError("[plain_text] control characters and direction overrides are not allowed")


def _not_blank(value: str) -> None:
    """Text is more than white space (a name of spaces is no name)."""
    if not value.strip():
        raise ValidationError("[not_blank] must not be blank or only white space")


def _limit(default: int, most: int) -> fields.Integer:
    return fields.Integer(load_default=default, validate=validate.Range(min=1, max=most,
                          error="[range] must be {min}..{max}"))


def _text(max_len: int, required: bool = True, **kw):
    return fields.String(required=required, validate=[validate.Length(min=1, max=max_len,
                         error="[length] length must be {min}..{max}"), _plain_text, _not_blank], **kw)


class IsoDate(fields.Date):
    """A calendar date written YYYY-MM-DD, and only so (no week dates, no compact forms)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValidationError("[type] Not a valid date: write it YYYY-MM-DD")
        return super()._deserialize(value, attr, data, **kwargs)


LATEST = date(2199, 12, 31)


def _plausible_date(value: date) -> None:
    if not EARLIEST <= value <= LATEST:
        raise ValidationError(f"[range] must be between {EARLIEST} and {LATEST}")


def _date(required: bool = True, **kw):
    return IsoDate(required=required, validate=_plausible_date, **kw)


class Strict(Schema):
    class Meta:
        unknown = RAISE


# ------------------------------------------------------------------ requests

EligibilityIn = Strict.from_dict(
    {name: _bool(metadata={"description": name.replace("_", " ") + " (absent: not stated, taken as false unless "
                                                                   "the programme checks it at referral)"})
     for name in ATTRIBUTES}, name="EligibilityIn")


class ConsentIn(Strict):
    given = _bool(required=True)
    date = _date()


class ParticipantIn(Strict):
    nino = fields.String(required=True, validate=validate.Length(max=20, error="[length] at most {max}"),
                         metadata={"description": "National Insurance number, e.g. QQ123456C"})
    given_name = _text(100)
    family_name = _text(100)
    date_of_birth = _date()
    postcode = fields.String(required=True, validate=validate.Length(max=10, error="[length] at most {max}"))
    eligibility = fields.Nested(EligibilityIn, load_default=dict)

    @validates("nino")
    def _nino(self, value, **_):
        if not is_valid_nino(value):
            raise ValidationError("[format] not a valid National Insurance number (two letters, six digits, A-D)")

    @validates("postcode")
    def _postcode(self, value, **_):
        if not is_valid_postcode(value):
            raise ValidationError("[format] not a valid UK postcode")

    @post_load
    def normalise(self, data, **_):
        data["nino"] = normalise_nino(data["nino"])
        data["postcode"] = normalise_postcode(data["postcode"])
        return data


def _residence_authority() -> fields.Field:
    return fields.String(validate=validate.Regexp(
        r"^[EWSN][0-9]{8}$", error="[format] an ONS local authority code, e.g. E06000005"), metadata={
        "description": "the participant's local authority (ONS code), required where the provider serves its own "
                       "residents and the postcode's district straddles two authorities"})


class ReferralIn(Strict):
    programme_id = _text(64)
    provider_id = _text(64, required=False, metadata={"description": "delivery organisation; or give area"})
    area = _text(64, required=False, metadata={"description": "area served, resolved to its provider"})
    support_level = _text(30)
    module_id = _text(64, required=False)
    consent = fields.Nested(ConsentIn, required=True)
    participant = fields.Nested(ParticipantIn, required=True)
    notes_ref = _text(100, required=False, metadata={"description": "the referrer's own reference (no personal data)"})
    residence_authority = _residence_authority()
    referral_date = fields.Date(load_default=None, metadata={
        "description": "the day the referral was made, when it is recorded later (default: today); not in the "
                       "future, and beyond the programme's late-recording limit it waits for the commissioner's "
                       "approval before it can be accepted"})


class ReReferralIn(Strict):
    provider_id = _text(64, required=False)
    support_level = _text(30, required=False)
    module_id = _text(64, required=False)
    consent = fields.Nested(ConsentIn, required=True)
    eligibility = fields.Nested(EligibilityIn, required=False)
    notes_ref = _text(100, required=False)
    residence_authority = _residence_authority()


# ---- request schemas of the journey steps, generated from the step registry's input declarations


def _one_of(choices: tuple[str, ...], **kw: Any) -> fields.Field:
    return fields.String(validate=validate.OneOf(choices, error="[one_of] must be one of: {choices}"), **kw)


def _field(spec: Input, name: str) -> fields.Field:
    metadata: dict[str, Any] = {"description": spec.description} if spec.description else {}
    if spec.kind == "date":
        return _date(required=spec.required, metadata=metadata)
    if spec.kind == "text":
        return _text(spec.max_length or 200, required=spec.required, metadata=metadata)
    if spec.kind == "choice":
        return _one_of(spec.choices, required=spec.required, metadata=metadata)
    if spec.kind == "int":
        return fields.Integer(strict=True, required=spec.required, metadata=metadata, validate=validate.Range(
            min=spec.minimum, max=spec.maximum, error="[range] must be {min}..{max}"))
    if spec.kind == "decimal":
        return fields.Decimal(places=spec.places, required=spec.required, validate=validate.Range(
            min=spec.minimum, max=spec.maximum, error="[range] must be {min}..{max}"),
            metadata={"type": "number", **metadata})
    if spec.kind == "bool":
        return _bool(load_default=spec.default, metadata=metadata)
    if spec.kind == "object":
        return fields.Nested(_schema(spec.fields, name), required=spec.required, metadata=metadata)
    if spec.kind == "list":
        return fields.List(fields.Nested(_schema(spec.fields, name)), required=spec.required, metadata=metadata,
                           validate=validate.Length(max=spec.max_items, error="[max_items] at most {max} items"))
    raise ValueError(f"unknown input kind {spec.kind!r}")


def _schema(inputs: Mapping[str, Input], prefix: str) -> type[Schema]:
    """A strict schema named `<prefix>In` (nested objects: `<prefix><Field>In`)."""
    return Strict.from_dict({k: _field(v, prefix + _camel(k)) for k, v in inputs.items()}, name=prefix + "In")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


_STEP_SCHEMAS: dict[str, type[Schema]] = {}


def step_schema(step: StepDef) -> type[Schema]:
    """The request schema of a journey step, from its registry entry (one class per step, named for OpenAPI)."""
    if step.name not in _STEP_SCHEMAS:
        _STEP_SCHEMAS[step.name] = _schema(step.inputs, _camel(step.name))
    return _STEP_SCHEMAS[step.name]


# ---- the earlier, combined request shapes, still accepted on their old URLs (see api/legacy.py)


class AcknowledgementIn(Strict):
    decision = fields.String(required=True, validate=validate.OneOf(("accept", "reject"),
                             error="[one_of] must be one of: {choices}"))
    date = _date()
    reason = fields.String(validate=validate.OneOf(REJECT_REASONS, error="[one_of] must be one of: {choices}"))


class OutcomeIn(Strict):
    date = _date()
    type = fields.String(required=True, validate=validate.OneOf(("job_start", "sustainment", "progression"),
                         error="[one_of] must be one of: {choices}"))
    employer_name = _text(200, required=False)
    hours_per_week = fields.Decimal(places=2, validate=validate.Range(min=0, max=168,
                                    error="[range] must be {min}..{max}"), metadata={"type": "number"})
    weekly_earnings_pence = fields.Integer(strict=True, validate=validate.Range(
        min=0, max=100_000_000, error="[range] must be {min}..{max}"))
    self_employed = _bool(load_default=False)
    checkpoint = _text(40, required=False)


class ListReferralsQuery(Strict):
    status = fields.String(validate=validate.OneOf(STATES, error="[one_of] must be one of: {choices}"))
    programme_id = _text(64, required=False)
    provider_id = _text(64, required=False)
    view = fields.String(validate=validate.OneOf(("referrer", "provider", "party"),
                                                 error="[one_of] must be one of: {choices}"),
                         metadata={"description": "referrer: the referrals you made; provider: those you hold (a "
                                                  "prime: its chain's); party: those you mentor or take as a spoke"})
    limit = _limit(25, 100)
    cursor = _text(2000, required=False)


class PageQuery(Strict):
    limit = _limit(50, 200)
    cursor = _text(2000, required=False)


# ------------------------------------------------------------------ responses


class DueOut(Schema):
    rule = fields.String()
    due = fields.Date()
    overdue = fields.Boolean()
    description = fields.String()


class ParticipantOut(Schema):
    """The participant: the pseudonymous reference for every caller who may see the referral; the personal fields
    only for the referring organisation's referrers and the holding provider's providers."""

    reference = fields.String(metadata={"description": "pseudonymous reference used in claim files"})
    personal_data = fields.String(metadata={"enum": ["shown", "withheld", "erased"], "description": (
        "whether the personal fields are shown to this caller, withheld (its role does not work with the "
        "person: the reference only), or erased (retention ended, or the controller's erasure request)")})
    nino = fields.String()
    given_name = fields.String()
    family_name = fields.String()
    date_of_birth = fields.Date()
    postcode = fields.String()
    eligibility = fields.Dict(keys=fields.String(), values=fields.Boolean())


class JobOut(Schema):
    employer_name = fields.String()
    start_date = fields.Date()
    hours_per_week = fields.Float(metadata={"description": "hours a week"})
    weekly_earnings_pence = fields.Integer()
    self_employed = fields.Boolean()


class PartyOut(Schema):
    org_id = fields.String()
    role = fields.String(metadata={"enum": list(PARTY_ROLES)})
    since = fields.Date()
    until = fields.Date(allow_none=True)
    added_by = fields.String()
    end_reason = fields.String(allow_none=True)
    handover_ref = fields.String(allow_none=True)


class ContactOut(Schema):
    id = fields.String()
    org_id = fields.String()
    on = fields.Date()
    minutes = fields.Integer()
    mode = fields.String()
    notes_ref = fields.String(allow_none=True)


class ReferralOut(Schema):
    id = fields.String()
    programme_id = fields.String()
    status = fields.String(metadata={"enum": list(STATES)})
    status_reason = fields.String(allow_none=True)
    version = fields.Integer()
    referrer_org_id = fields.String()
    provider_org_id = fields.String()
    prime_org_id = fields.String()
    participant = fields.Nested(ParticipantOut)
    priority_groups = fields.List(fields.String(), metadata={"description": "shown with the personal fields only"})
    support_level = fields.String()
    module_id = fields.String(allow_none=True)
    module_since = fields.Date(allow_none=True)
    referred_on = fields.Date()
    consent_given_on = fields.Date()
    accepted_on = fields.Date(allow_none=True)
    started_on = fields.Date(allow_none=True)
    assessed_on = fields.Date(allow_none=True)
    action_plan_on = fields.Date(allow_none=True)
    last_review_on = fields.Date(allow_none=True)
    extra_reviews_on = fields.Dict(keys=fields.String(), values=fields.String())
    job_start = fields.Nested(JobOut, allow_none=True)
    sustainments = fields.Dict(keys=fields.String(), values=fields.String())
    progression_on = fields.Date(allow_none=True)
    closed_on = fields.Date(allow_none=True)
    exit_reason = fields.String(allow_none=True)
    previous_referral_id = fields.String(allow_none=True)
    notes_ref = fields.String(allow_none=True)
    allowed_actions = fields.List(fields.String(), metadata={
        "description": "the steps you may take next on this referral (each POST /referrals/{id}/<action>)"})
    deadlines = fields.List(fields.Nested(DueOut))
    next_review_due = fields.Date(allow_none=True)
    parties = fields.List(fields.Nested(PartyOut), metadata={
        "description": "every organisation on the journey in its role, from a date (and until one, once ended)"})
    agreed_price_pence = fields.Integer(allow_none=True, metadata={
        "description": "the deliverer's price agreed within its fee's band when it accepted"})
    agreed_activity = fields.String(allow_none=True)
    contacts = fields.List(fields.Nested(ContactOut),
                           metadata={"description": "mentoring contacts (a mentor: its own)"})
    barriers = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "the barriers the action plan identified: short id -> category (a flexible fund's spend "
                       "names the one it removes)"})
    support_costs = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "in-work support costs identified in the assessments: id -> pence (an employer incentive "
                       "names the one it meets)"})
    incentives = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "employer incentives agreed in brokerage, by id: employer, amount_pence, cost_id, on"})
    eligibility_decision = fields.Dict(allow_none=True, metadata={
        "description": "the eligibility decision: on, outcome (eligible or ineligible), and for an ineligible "
                       "person the reason, the service signposted to, its deadline and whether it was met"})
    leaver = fields.Dict(allow_none=True, metadata={
        "description": "a leaver not in work, tracked after the exit: exited_on, destination, tracked_until, "
                       "contacts, last_contact_on, outcome"})
    viewed_as = fields.String(metadata={
        "description": "your part in the referral (prime, deliverer, spoke, mentor, referrer; or commissioner, "
                       "which sees no personal details): it decides what you see"})


class ReferralPage(Schema):
    items = fields.List(fields.Nested(ReferralOut))
    cursor = fields.String(allow_none=True)
    has_more = fields.Boolean()


class ActorOut(Schema):
    org_id = fields.String()
    key_id = fields.String()


class EventOut(Schema):
    seq = fields.Integer()
    type = fields.String()
    occurred_on = fields.Date()
    recorded_at = fields.DateTime()
    actor = fields.Nested(ActorOut)
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    data = fields.Dict()


class EventPage(Schema):
    items = fields.List(fields.Nested(EventOut))
    cursor = fields.String(allow_none=True)
    has_more = fields.Boolean()


class MinimumProgressOut(Schema):
    minimum = fields.Integer(metadata={"description": "the least the organisation is to deliver to (a target)"})
    started = fields.Integer(metadata={"description": "individuals it has started (delivered the service to)"})
    pct_of_minimum = fields.Float()
    indicative_share_pct = fields.Float(metadata={"description": "its minimum's share of all the minimums"})
    started_share_pct = fields.Float(allow_none=True, metadata={"description": "its share of all starts"})
    expected_by_now = fields.Integer(metadata={"description": "starts the pro-rata path over the window expects"})
    behind_pro_rata = fields.Boolean()


class AllocationOut(Schema):
    org_id = fields.String()
    name = fields.String()
    role = fields.String()
    level = fields.Integer(allow_none=True)
    prime = fields.String(allow_none=True)
    allocation = fields.Integer(allow_none=True, metadata={"description": "a hard cap on places (null: no cap)"})
    used = fields.Integer(metadata={"description": "places taken: referrals open, on provision or done"})
    minimum = fields.Nested(MinimumProgressOut, allow_none=True,
                            metadata={"description": "progress against the organisation's minimum, if it has one"})


class ProgrammeSummary(Schema):
    id = fields.String()
    name = fields.String()
    commissioner = fields.String()
    referral_window = fields.Dict()
    referrals_open = fields.Boolean()
    total_capacity = fields.Integer(allow_none=True, metadata={"description": "a hard cap on places (null: none)"})


class ProgrammeList(Schema):
    items = fields.List(fields.Nested(ProgrammeSummary))


class ProgrammeOut(ProgrammeSummary):
    allocations = fields.List(fields.Nested(AllocationOut))
    rulebook = fields.Dict(metadata={"description": "the programme's rulebook as published"})


class HealthOut(Schema):
    status = fields.String()
    programmes = fields.Integer()


class FieldErrorOut(Schema):
    field = fields.String()
    rule = fields.String()
    message = fields.String()


class ProblemOut(Schema):
    """RFC 9457 problem details; extension members (reason, current_state, required_roles...) may follow."""

    class Meta:
        unknown = INCLUDE

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    errors = fields.List(fields.Nested(FieldErrorOut))


# ------------------------------------------------------------------ payments

PERIOD = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="[format] a month as YYYY-MM")
LINE_STATUSES = ("submitted", "approved", "rejected", "filed", "match_funding", "removed", "pending_approval")


class ClaimIn(Strict):
    referral_id = _text(64)
    fee_id = _text(40)
    amount_pence = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000_000,
                                  error="[range] must be {min}..{max}"))
    event_date = _date()
    evidence_ref = _text(200, metadata={"description": "where the evidence is kept (no personal data)"})
    provider_ref = _text(64, required=False, metadata={
        "description": "the provider's own reference for this claim (no personal data); default: the referral id"})
    contact_ids = fields.List(_text(20), validate=validate.Length(min=1, max=MAX_CONTACTS,
                              error="[length] list 1..{max} contact ids"), metadata={
        "description": "a mentor's claim: the mentoring contacts recorded on the referral that evidence it"})


class _PendingOut(Schema):
    count = fields.Integer()
    amount_pence = fields.Integer()


class _CategoryOut(Schema):
    category = fields.String()
    committed_pence = fields.Integer()


class _EmployerOut(Schema):
    employer = fields.String(metadata={"description": "the employer's name (an organisation)"})
    count = fields.Integer()
    amount_pence = fields.Integer()


class _AuthorityFundOut(Schema):
    org_id = fields.String()
    budget_pence = fields.Integer()
    committed_pence = fields.Integer(metadata={
        "description": "direct spends and approved spot purchases: what counts against the budget"})
    spent_pence = fields.Integer(metadata={"description": "of the committed, what the funder approved"})
    remaining_pence = fields.Integer()
    pending_spot_purchases = fields.Nested(_PendingOut, metadata={
        "description": "spot purchases waiting for the coordinator (not counted yet)"})
    by_category = fields.List(fields.Nested(_CategoryOut))
    incentives_by_employer = fields.List(fields.Nested(_EmployerOut))


class FundReportOut(Schema):
    programme_id = fields.String()
    authorities = fields.List(fields.Nested(_AuthorityFundOut))


class DecisionIn(Strict):
    reason = _text(200, required=False)


class BulkDecisionIn(Strict):
    line_ids = fields.List(_text(200), required=True, validate=validate.Length(min=1, max=50,
                           error="[length] 1..50 line ids"))
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject"),
                             error="[one_of] must be one of: {choices}"))
    reason = _text(200, required=False)


class ClawbackIn(Strict):
    reason = _text(200)


class ClaimsQuery(Strict):
    status = fields.String(validate=validate.OneOf(LINE_STATUSES, error="[one_of] must be one of: {choices}"))
    programme_id = _text(64, required=False)
    period = fields.String(validate=PERIOD)
    payee_org_id = _text(64, required=False)
    referral_id = _text(64, required=False)
    limit = _limit(50, 200)
    cursor = _text(2000, required=False)


class CascadeQuery(Strict):
    period = fields.String(required=True, validate=PERIOD)


class ClaimFileIn(Strict):
    programme_id = _text(64)
    period = fields.String(required=True, validate=PERIOD)
    payee_org_id = _text(64, required=False)


class LineOut(Schema):
    line_id = fields.String()
    referral_id = fields.String()
    programme_id = fields.String()
    participant_ref = fields.String()
    kind = fields.String()
    fee_id = fields.String()
    milestone = fields.String()
    funder = fields.String()
    funder_org_id = fields.String(metadata={"description": "the organisation that funds the line"})
    payee_org_id = fields.String()
    payee_role = fields.String(metadata={"description": "the payee's part in the referral: referrer, mentor or "
                                                        "deliverer (an employer: employer)"})
    payee_kind = fields.String(metadata={"description": "organisation (of the programme), or employer (outside the "
                                                        "delivery chain, named in payee_name: an employer incentive)"})
    payee_name = fields.String(allow_none=True, metadata={"description": "the employer an incentive pays"})
    category = fields.String(allow_none=True, metadata={"description": "a flexible-fund spend's category"})
    barrier_id = fields.String(allow_none=True, metadata={
        "description": "the action plan's barrier a flexible-fund spend removes"})
    prime_org_id = fields.String()
    payer_org_id = fields.String(allow_none=True, metadata={
        "description": "whose finance approves it: the prime for a subcontractor, the funder for a contract "
                       "holder; null for match funding (the payee's own money, needing no approval)"})
    management_fee_bp = fields.Integer()
    amount_pence = fields.Integer()
    prime_retained_pence = fields.Integer()
    payee_net_pence = fields.Integer()
    status = fields.String()
    line_ref = fields.String(metadata={"description": "the line's unique reference in claim files"})
    provider_ref = fields.String(allow_none=True, metadata={
        "description": "the provider's own reference: given with a claim, else the referral id"})
    event_date = fields.Date()
    last_day_on_provision = fields.Date(allow_none=True, metadata={
        "description": "the participant's last day on provision, for a line made after they exited"})
    period = fields.String()
    evidence_ref = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    reverses_line_id = fields.String(allow_none=True)
    claim_file_id = fields.String(allow_none=True)
    contact_ids = fields.List(fields.String(), metadata={
        "description": "a mentoring claim's evidence: the mentoring contacts recorded on the referral"})


class LinePage(Schema):
    items = fields.List(fields.Nested(LineOut))
    cursor = fields.String(allow_none=True)
    has_more = fields.Boolean()


class DecisionsOut(Schema):
    items = fields.List(fields.Nested(LineOut))


class PayeeTotalOut(Schema):
    payee_org_id = fields.String()
    prime_org_id = fields.String()
    lines = fields.Integer()
    amount_pence = fields.Integer()
    prime_retained_pence = fields.Integer()
    payee_net_pence = fields.Integer()


class CascadeOut(Schema):
    period = fields.String()
    payees = fields.List(fields.Nested(PayeeTotalOut))
    lines = fields.List(fields.Nested(LineOut))


class FileTotalOut(Schema):
    payee_org_id = fields.String()
    payee_kind = fields.String(metadata={"description": "organisation, or employer (outside the chain)"})
    funder = fields.String()
    lines = fields.Integer()
    amount_pence = fields.Integer()
    amount_gbp = fields.String()
    prime_retained_pence = fields.Integer()
    payee_net_pence = fields.Integer()


class SampleSummaryOut(Schema):
    seed = fields.String(allow_none=True, metadata={
        "description": "the draw's seed: shown to the commissioner only (the same seed draws the same lines)"})
    sample_rate_bp = fields.Integer()
    size = fields.Integer(allow_none=True, metadata={"description": "lines drawn (null while the draw runs)"})
    checked = fields.Integer(metadata={"description": "drawn lines checked before payment"})


class ClaimFileOut(Schema):
    id = fields.String()
    programme_id = fields.String()
    period = fields.String()
    payee_org_id = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "building (poll until ready), then ready"})
    line_count = fields.Integer(metadata={"description": "the lines in the file, once ready"})
    locked_lines = fields.Integer(metadata={"description": "the lines locked into the file so far: its build's "
                                                           "progress, and the line count once ready"})
    total_pence = fields.Integer()
    total_gbp = fields.String()
    totals = fields.List(fields.Nested(FileTotalOut))
    download_url = fields.String(allow_none=True)
    download_expires_in = fields.Integer(allow_none=True)
    sample = fields.Nested(SampleSummaryOut, allow_none=True, metadata={
        "description": "the commissioner's validation sample, once drawn"})
    removed_line_count = fields.Integer(metadata={"description": "lines removed by validation before payment"})
    removed_pence = fields.Integer()
    payable_pence = fields.Integer(metadata={"description": "total_pence less the lines removed"})
    paid_on = fields.Date(allow_none=True, metadata={"description": "when the commissioner paid the prime"})
    paid_pence = fields.Integer(allow_none=True)
    paid_reference = fields.String(allow_none=True)


class SampleRateIn(Strict):
    sample_rate_bp = fields.Integer(required=True, strict=True, validate=validate.Range(
        min=0, max=10000, error="[range] must be {min}..{max}"), metadata={
        "description": "share of each claim file's lines drawn for checking before payment, in basis points"})


class SampleRateChangeOut(Schema):
    sample_rate_bp = fields.Integer(attribute="rate_bp")
    set_by_org_id = fields.String()
    set_by_key_id = fields.String()
    set_at = fields.String()


class SampleRateOut(Schema):
    programme_id = fields.String()
    sample_rate_bp = fields.Integer()
    source = fields.String(metadata={"description": "commissioner (set through the API) or rulebook (its default)"})
    set_by_org_id = fields.String(allow_none=True)
    set_by_key_id = fields.String(allow_none=True)
    set_at = fields.String(allow_none=True)
    history = fields.List(fields.Nested(SampleRateChangeOut))


_SEED = validate.Regexp(r"^[A-Za-z0-9_-]{8,64}$", error="[format] 8..64 letters, digits, '-' or '_'")


class SampleIn(Strict):
    seed = fields.String(validate=_SEED, metadata={
        "description": "the draw's seed, to repeat a draw; a random one is recorded if none is given"})


class CheckResultOut(Schema):
    result = fields.String()
    reason = fields.String(allow_none=True)
    checked_by = fields.String()
    checked_at = fields.String()
    clawback_line_id = fields.String(allow_none=True)


class LineCheckOut(Schema):
    claim_file_id = fields.String()
    line_id = fields.String()
    payee_org_id = fields.String()
    amount_pence = fields.Integer()
    drawn = fields.Boolean(metadata={"description": "drawn for the sample (false: checked after payment only)"})
    before_payment = fields.Nested(CheckResultOut, allow_none=True)
    after_payment = fields.Nested(CheckResultOut, allow_none=True)


class SamplePage(Schema):
    claim_file = fields.Nested(ClaimFileOut)
    items = fields.List(fields.Nested(LineCheckOut))
    cursor = fields.String(allow_none=True)
    has_more = fields.Boolean()


class CheckIn(Strict):
    line_id = _text(200)
    result = fields.String(required=True, validate=validate.OneOf(("passed", "failed"),
                           error="[one_of] must be one of: {choices}"))
    reason = _text(200, required=False, metadata={"description": "why it failed (required then); no personal data"})


class PaymentIn(Strict):
    paid_on = _date(metadata={"description": "the day the commissioner paid the prime"})
    reference = _text(64, metadata={"description": "the payment's reference (remittance)"})


# ------------------------------------------------------------------ supply chain


class SupplyChainQuery(Strict):
    programme = _text(64, metadata={"description": "the programme id"})
    period = fields.String(required=True, validate=PERIOD)
    subcontractor = _text(64, required=False, metadata={"description": "one subcontractor's row"})


class PassThroughIn(Strict):
    programme_id = _text(64)
    period = fields.String(required=True, validate=PERIOD, metadata={"description": "the period paid for"})
    subcontractor_org_id = _text(64)
    amount_pence = fields.Integer(required=True, strict=True, validate=validate.Range(
        min=1, max=100_000_000, error="[range] must be {min}..{max}"))
    paid_on = _date(metadata={"description": "the day the prime paid the subcontractor"})
    reference = _text(64, metadata={"description": "the payment's reference (remittance)"})
    line_ids = fields.List(_text(200), validate=validate.Length(max=50, error="[length] at most 50 line ids"),
                           metadata={"description": "the lines this pays, where the prime says"})


class PassThroughOut(Schema):
    id = fields.String(attribute="pass_through_id")
    programme_id = fields.String()
    period = fields.String()
    prime_org_id = fields.String()
    subcontractor_org_id = fields.String()
    amount_pence = fields.Integer()
    paid_on = fields.Date()
    reference = fields.String()
    line_ids = fields.List(fields.String())
    recorded_at = fields.String()


class PassThroughRowOut(Schema):
    id = fields.String()
    amount_pence = fields.Integer()
    paid_on = fields.Date()
    reference = fields.String()
    line_ids = fields.List(fields.String())
    days_after_commissioner = fields.Integer(allow_none=True)


class SubcontractorRowOut(Schema):
    org_id = fields.String()
    allocation = fields.Integer(metadata={"description": "places allocated (none for a chain member that refers "
                                                         "or mentors)"})
    allocation_share_bp = fields.Integer(allow_none=True, metadata={"description": "of the chain's places"})
    referrals = fields.Integer(metadata={
        "description": "referrals routed to it (places taken) since the programme began, whatever the period; a "
                       "group that only refers has none"})
    referral_share_bp = fields.Integer(allow_none=True, metadata={"description": "of the chain's referrals"})
    earned_pence = fields.Integer(metadata={"description": "its lines of the period, owed or owed back"})
    prime_retained_pence = fields.Integer()
    net_pence = fields.Integer()
    owed_pence = fields.Integer(metadata={"description": "its net in the claim files the commissioner paid"})
    passed_pence = fields.Integer(metadata={"description": "what the prime recorded passing on"})
    outstanding_pence = fields.Integer()
    commissioner_paid_on = fields.Date(allow_none=True)
    due_on = fields.Date(allow_none=True, metadata={"description": "the pass-through limit's last day"})
    settled_on = fields.Date(allow_none=True)
    days_to_pass_through = fields.Integer(allow_none=True, metadata={
        "description": "days from the commissioner paying the prime to the prime paying it in full"})
    late = fields.Boolean()
    flagged = fields.Boolean(metadata={"description": "an open late pass-through flag from the nightly run"})
    pass_throughs = fields.List(fields.Nested(PassThroughRowOut))


class ChainClaimFileOut(Schema):
    claim_file_id = fields.String()
    status = fields.String()
    total_pence = fields.Integer()
    payable_pence = fields.Integer(metadata={"description": "the total less the lines validation removed"})
    paid_on = fields.Date(allow_none=True, metadata={"description": "when the commissioner paid the prime"})
    paid_pence = fields.Integer(allow_none=True)
    reference = fields.String(allow_none=True)


class PrimeChainOut(Schema):
    prime_org_id = fields.String()
    allocation = fields.Integer()
    allocation_share_bp = fields.Integer(allow_none=True)
    referrals = fields.Integer()
    referral_share_bp = fields.Integer(allow_none=True)
    earned_pence = fields.Integer(metadata={"description": "the prime's own lines of the period"})
    retained_pence = fields.Integer(metadata={"description": "what it kept of its subcontractors' lines"})
    chain_allocation = fields.Integer()
    chain_referrals = fields.Integer(metadata={"description": "places taken in the chain since the programme began"})
    claim_files = fields.List(fields.Nested(ChainClaimFileOut), metadata={
        "description": "the prime's claim files for the period and the commissioner's payment of each"})
    subcontractors = fields.List(fields.Nested(SubcontractorRowOut))


class VcsReferralsOut(Schema):
    chain_levels = fields.List(fields.Integer(), metadata={
        "description": "the chain members' levels whose referrals count (Norfolk: its Level 1 and 2 groups)"})
    referred_by_vcs = fields.Integer(metadata={"description": "since the programme began, whatever the period"})
    referred = fields.Integer(metadata={"description": "every referral since the programme began"})
    vcs_share_bp = fields.Integer(allow_none=True)
    target_min = fields.Integer()
    target_max = fields.Integer()
    of_participants = fields.Integer()


class SupplyChainOut(Schema):
    programme_id = fields.String()
    period = fields.String()
    commissioner_org_id = fields.String()
    pass_through_days = fields.Integer()
    primes = fields.List(fields.Nested(PrimeChainOut))
    vcs_referrals = fields.Nested(VcsReferralsOut, allow_none=True, metadata={
        "description": "participants referred by VCS organisations against the programme's target (the "
                       "commissioner and primes)"})


# ------------------------------------------------------------------ compliance


class FlagsQuery(Strict):
    status = fields.String(validate=validate.OneOf(("open", "resolved"), error="[one_of] must be one of: {choices}"))
    programme_id = _text(64, required=False)
    provider_id = _text(64, required=False)
    rule = _text(80, required=False)
    referral_id = _text(64, required=False)
    limit = _limit(50, 200)
    cursor = _text(2000, required=False)


class FlagOut(Schema):
    id = fields.String()
    referral_id = fields.String(allow_none=True)  # none on an API key's flag (key_id)
    programme_id = fields.String(allow_none=True)
    provider_org_id = fields.String()
    rule = fields.String()
    due = fields.Date()
    description = fields.String()
    status = fields.String()
    raised_on = fields.Date()
    resolved_on = fields.Date(allow_none=True)
    action = fields.String(allow_none=True)
    run_id = fields.String(allow_none=True)
    key_id = fields.String(allow_none=True)


class FlagPage(Schema):
    items = fields.List(fields.Nested(FlagOut))
    cursor = fields.String(allow_none=True)
    has_more = fields.Boolean()


class CheckOut(Schema):
    programme_id = fields.String()
    org_id = fields.String()
    measure = fields.String()
    actual = fields.Integer()
    base = fields.Integer()
    pct = fields.Float(allow_none=True)
    target_pct = fields.Float(allow_none=True)
    met = fields.Boolean(allow_none=True)


class RunOut(Schema):
    run_id = fields.String()
    run_date = fields.Date()
    started_at = fields.String()
    finished_at = fields.String(allow_none=True)
    shards_done = fields.Integer()
    shards = fields.Integer()
    flags = fields.Dict(metadata={"description": "flags raised: rule -> provider -> count (your organisations)"})
    tranches = fields.Integer(metadata={"description": "service-fee tranches paid to your organisations"})
    tranche_pence = fields.Integer()
    closed = fields.Integer(metadata={"description": "your referrals closed unstarted"})
    checks = fields.List(fields.Nested(CheckOut))


# ------------------------------------------------------------------ the data's lifetime (controller)


class ErasureIn(Strict):
    reason = _text(200, metadata={"description": "why the controller erases (e.g. the person's request); "
                                                 "never personal data"})


class ErasureOut(Schema):
    referral_id = fields.String()
    participant = fields.Nested(ParticipantOut)
    erased_on = fields.Date(allow_none=True)


class SubjectAccessIn(Strict):
    nino = fields.String(required=True, validate=validate.Length(max=20, error="[length] at most {max}"),
                         metadata={"description": "the person's National Insurance number"})

    @validates("nino")
    def _nino(self, value, **_):
        if not is_valid_nino(value):
            raise ValidationError("[format] not a valid National Insurance number (two letters, six digits, A-D)")


class SubjectAccessOut(Schema):
    controller = fields.String()
    produced_at = fields.String()
    referrals = fields.List(fields.Dict(), metadata={"description": (
        "each referral of the person on the controller's programmes: the record with its personal fields, the "
        "pseudonymous reference, the audit trail and the payment lines")})
    personal_data_reads = fields.List(fields.Dict(), metadata={"description": "who read their personal fields"})


class AccessLogQuery(PageQuery):
    participant = fields.String(validate=validate.Regexp(r"^PR-[0-9A-F]{12}$", error="[format] a reference PR-..."),
                                metadata={"description": "one participant's reads only (their pseudonymous "
                                                         "reference)"})


class AccessEntryOut(Schema):
    participant_ref = fields.String()
    referral_id = fields.String()
    reader_org_id = fields.String()
    reader_key_id = fields.String()
    what = fields.String()
    read_at = fields.String()


class AccessLogPage(Schema):
    items = fields.List(fields.Nested(AccessEntryOut))
    cursor = fields.String(allow_none=True)
    has_more = fields.Boolean()
