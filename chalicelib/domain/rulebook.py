"""Programme rulebooks: one JSON data file per programme, validated on load.

A rulebook holds everything the system enforces for a programme: its referral window, capacity and
allocations per delivery organisation, eligibility, deadlines, review cadence, durations, sustainment
checkpoints and tariff. A malformed file fails loudly, naming the file and the field.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from .calendar import NATIONS, add_period
from .eligibility import ATTRIBUTES
from .errors import RulebookError
from ..payments.tariff import TariffSchema

RULEBOOK_DIR = Path(__file__).resolve().parent.parent / "rulebooks"

PERIOD_UNITS = ("working_days", "days", "weeks", "months")
ANCHORS = ("referral", "acceptance", "start")
DEADLINES = ("acknowledge", "start", "assessment", "action_plan")
ORG_ROLES = ("prime", "local_authority", "subcontractor")


@dataclass(frozen=True)
class Period:
    amount: int
    unit: str

    def after(self, start: date, nation: str) -> date:
        return add_period(start, self.amount, self.unit, nation)

    def describe(self) -> str:
        return f"{self.amount} {self.unit.replace('_', ' ')}"


@dataclass(frozen=True)
class Deadline:
    name: str
    period: Period
    anchor: str  # the event the clock runs from: referral, acceptance or start


@dataclass(frozen=True)
class ExtraReview:
    id: str
    name: str
    every: Period


@dataclass(frozen=True)
class DeliveryOrganisation:
    org_id: str
    name: str
    role: str
    allocation: int
    level: int | None = None
    prime: str | None = None
    areas: tuple[str, ...] = ()
    min_age: int | None = None
    max_age: int | None = None
    review_every_max: Period | None = None
    extra_reviews: tuple[ExtraReview, ...] = ()
    management_fee_bp: int = 0


@dataclass(frozen=True)
class Module:
    id: str
    name: str
    max_duration: Period | None
    review_every: Period | None


@dataclass(frozen=True)
class Checkpoint:
    id: str
    after: Period
    earns: str | None = None  # an outcome this checkpoint reaches (e.g. ESF's short_job_outcome)


@dataclass(frozen=True)
class Rulebook:
    id: str
    name: str
    source: str
    nation: str
    commissioner: str
    referral_opens: date
    referral_closes: date
    total_capacity: int
    delivery_organisations: tuple[DeliveryOrganisation, ...]
    min_age: int | None
    max_age: int | None
    required_attributes: tuple[str, ...]
    excluded_attributes: tuple[str, ...]
    priority_groups: tuple[str, ...]
    support_levels: dict[str, Period]
    deadlines: dict[str, Deadline]
    min_duration: Period | None
    max_duration: Period | None
    modules: tuple[Module, ...]
    module_moves: tuple[tuple[str, str], ...]
    returns_allowed: bool
    exit_review_required: bool
    in_work_support: Period | None
    checkpoints: tuple[Checkpoint, ...]
    tariff: dict
    targets: dict = field(default_factory=dict)
    document: dict = field(default_factory=dict, compare=False, repr=False)

    def provider(self, org_id: str) -> DeliveryOrganisation | None:
        return next((o for o in self.delivery_organisations if o.org_id == org_id), None)

    def provider_for_area(self, area: str) -> DeliveryOrganisation | None:
        wanted = area.strip().lower()
        return next((o for o in self.delivery_organisations if wanted in o.areas), None)

    def module(self, module_id: str) -> Module | None:
        return next((m for m in self.modules if m.id == module_id), None)

    def checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        return next((c for c in self.checkpoints if c.id == checkpoint_id), None)

    def window_open_on(self, day: date) -> bool:
        return self.referral_opens <= day <= self.referral_closes


# ---------------------------------------------------------------- schemas


class PeriodSchema(Schema):
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=3650))
    unit = fields.String(required=True, validate=validate.OneOf(PERIOD_UNITS))

    @post_load
    def make(self, data, **_):
        return Period(**data)


class DeadlineSchema(PeriodSchema):
    anchor = fields.String(required=True, data_key="from", validate=validate.OneOf(ANCHORS))

    @post_load
    def make(self, data, **_):
        return {"period": Period(data["amount"], data["unit"]), "anchor": data["anchor"]}


class ExtraReviewSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    name = fields.String(required=True)
    every = fields.Nested(PeriodSchema, required=True)

    @post_load
    def make(self, data, **_):
        return ExtraReview(**data)


class DeliveryOrganisationSchema(Schema):
    org_id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{1,62}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ORG_ROLES))
    allocation = fields.Integer(required=True, validate=validate.Range(min=0))
    level = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3))
    prime = fields.String(load_default=None)
    areas = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    min_age = fields.Integer(load_default=None, validate=validate.Range(min=0, max=120))
    max_age = fields.Integer(load_default=None, validate=validate.Range(min=0, max=120))
    review_every_max = fields.Nested(PeriodSchema, load_default=None)
    extra_reviews = fields.List(fields.Nested(ExtraReviewSchema), load_default=list)
    management_fee_bp = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10000))

    @validates_schema
    def check(self, data, **_):
        if data["role"] == "subcontractor" and not data.get("prime"):
            raise ValidationError("a subcontractor names its prime", "prime")
        if data["role"] != "subcontractor" and data.get("prime"):
            raise ValidationError("only a subcontractor has a prime", "prime")

    @post_load
    def make(self, data, **_):
        data["areas"] = tuple(a.lower() for a in data["areas"])
        data["extra_reviews"] = tuple(data["extra_reviews"])
        return DeliveryOrganisation(**data)


class ModuleSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    max_duration = fields.Nested(PeriodSchema, load_default=None)
    review_every = fields.Nested(PeriodSchema, load_default=None)

    @post_load
    def make(self, data, **_):
        return Module(**data)


class CheckpointSchema(Schema):
    id = fields.String(required=True)
    after = fields.Nested(PeriodSchema, required=True)
    earns = fields.String(load_default=None, validate=validate.OneOf(
        ("short_job_outcome", "sustained_job_outcome")))

    @post_load
    def make(self, data, **_):
        return Checkpoint(**data)


class WindowSchema(Schema):
    opens = fields.Date(required=True)
    closes = fields.Date(required=True)

    @validates_schema
    def check(self, data, **_):
        if data["closes"] < data["opens"]:
            raise ValidationError("closes before it opens", "closes")


class EligibilitySchema(Schema):
    min_age = fields.Integer(load_default=None, validate=validate.Range(min=0, max=120))
    max_age = fields.Integer(load_default=None, validate=validate.Range(min=0, max=120))
    required_attributes = fields.List(fields.String(validate=validate.OneOf(ATTRIBUTES)), load_default=list)
    excluded_attributes = fields.List(fields.String(validate=validate.OneOf(ATTRIBUTES)), load_default=list)
    priority_groups = fields.List(fields.String(validate=validate.OneOf(ATTRIBUTES)), load_default=list)


class DurationSchema(Schema):
    min = fields.Nested(PeriodSchema, load_default=None)
    max = fields.Nested(PeriodSchema, load_default=None)


class SustainmentSchema(Schema):
    in_work_support = fields.Nested(PeriodSchema, load_default=None)
    checkpoints = fields.List(fields.Nested(CheckpointSchema), load_default=list)


class TargetsSchema(Schema):
    job_starts_pct = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100))
    over_16_hours_pct = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100))
    over_8_hours_pct = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100))
    cohort_min_share = fields.Dict(keys=fields.String(), values=fields.Float(), load_default=dict)


class RulebookSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{1,62}$"))
    name = fields.String(required=True)
    source = fields.String(required=True)
    nation = fields.String(load_default="ENG", validate=validate.OneOf(sorted(NATIONS)))
    commissioner = fields.String(required=True)
    referral_window = fields.Nested(WindowSchema, required=True)
    total_capacity = fields.Integer(required=True, validate=validate.Range(min=1))
    delivery_organisations = fields.List(
        fields.Nested(DeliveryOrganisationSchema), required=True, validate=validate.Length(min=1)
    )
    eligibility = fields.Nested(EligibilitySchema, required=True)
    support_levels = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[a-z0-9_]{1,30}$")),
        values=fields.Nested(PeriodSchema),
        required=True,
        validate=validate.Length(min=1),
    )
    deadlines = fields.Dict(
        keys=fields.String(validate=validate.OneOf(DEADLINES)), values=fields.Nested(DeadlineSchema), required=True
    )
    duration = fields.Nested(DurationSchema, load_default=dict)
    modules = fields.List(fields.Nested(ModuleSchema), load_default=list)
    module_moves = fields.List(fields.List(fields.String(), validate=validate.Length(equal=2)), load_default=list)
    returns_allowed = fields.Boolean(required=True)
    exit_review_required = fields.Boolean(required=True)
    sustainment = fields.Nested(SustainmentSchema, load_default=dict)
    targets = fields.Nested(TargetsSchema, load_default=dict)
    tariff = fields.Nested(TariffSchema, required=True)

    @validates_schema
    def check(self, data, **_):
        orgs = data.get("delivery_organisations") or []
        ids = [o.org_id for o in orgs]
        if len(ids) != len(set(ids)):
            raise ValidationError("org_id repeated", "delivery_organisations")
        for i, org in enumerate(orgs):
            if org.prime and org.prime not in ids:
                raise ValidationError({i: {"prime": [f"unknown prime {org.prime!r}"]}}, "delivery_organisations")
        if orgs and sum(o.allocation for o in orgs) > data.get("total_capacity", 0):
            raise ValidationError("allocations add up to more than total_capacity", "delivery_organisations")
        missing = [d for d in DEADLINES if d not in (data.get("deadlines") or {})]
        if missing:
            raise ValidationError(f"missing deadlines: {', '.join(missing)}", "deadlines")
        module_ids = {m.id for m in data.get("modules") or []}
        for move in data.get("module_moves") or []:
            unknown = [m for m in move if m not in module_ids]
            if unknown:
                raise ValidationError(f"unknown module {unknown[0]!r}", "module_moves")
        checkpoints = data.get("sustainment", {}).get("checkpoints") or []
        earned_at_checkpoints = {c.earns for c in checkpoints if c.earns}
        for i, fee in enumerate((data.get("tariff") or {}).get("fees", [])):
            milestones = [p["milestone"] for p in fee["payments"]]
            if milestones.count("sustainment_checkpoint") > len(checkpoints):
                raise ValidationError({"fees": {i: {"payments": [
                    f"{milestones.count('sustainment_checkpoint')} sustainment payments but only "
                    f"{len(checkpoints)} checkpoints"]}}}, "tariff")
            for outcome in ("short_job_outcome", "sustained_job_outcome"):
                if outcome in milestones and outcome not in earned_at_checkpoints:
                    raise ValidationError({"fees": {i: {"payments": [
                        f"no sustainment checkpoint earns {outcome}"]}}}, "tariff")
        levels = {o.level for o in orgs if o.level is not None}
        for i, fee in enumerate((data.get("tariff") or {}).get("fees", [])):
            for level in fee.get("levels") or []:
                if level not in levels:
                    raise ValidationError({"fees": {i: {"levels": [f"no organisation at level {level}"]}}}, "tariff")


def parse_rulebook(document: dict, source: str) -> Rulebook:
    try:
        data = RulebookSchema().load(document)
    except ValidationError as exc:
        raise RulebookError(source, exc.messages) from None
    eligibility = data["eligibility"]
    duration = data["duration"] or {}
    sustainment = data["sustainment"] or {}
    return Rulebook(
        id=data["id"],
        name=data["name"],
        source=data["source"],
        nation=data["nation"],
        commissioner=data["commissioner"],
        referral_opens=data["referral_window"]["opens"],
        referral_closes=data["referral_window"]["closes"],
        total_capacity=data["total_capacity"],
        delivery_organisations=tuple(data["delivery_organisations"]),
        min_age=eligibility["min_age"],
        max_age=eligibility["max_age"],
        required_attributes=tuple(eligibility["required_attributes"]),
        excluded_attributes=tuple(eligibility["excluded_attributes"]),
        priority_groups=tuple(eligibility["priority_groups"]),
        support_levels=dict(data["support_levels"]),
        deadlines={name: Deadline(name, d["period"], d["anchor"]) for name, d in data["deadlines"].items()},
        min_duration=duration.get("min"),
        max_duration=duration.get("max"),
        modules=tuple(data["modules"]),
        module_moves=tuple(tuple(m) for m in data["module_moves"]),
        returns_allowed=data["returns_allowed"],
        exit_review_required=data["exit_review_required"],
        in_work_support=sustainment.get("in_work_support"),
        checkpoints=tuple(sustainment.get("checkpoints") or ()),
        tariff=data["tariff"],
        targets=data["targets"] or {},
        document=document,
    )


def load_rulebook_file(path: Path) -> Rulebook:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RulebookError(path.name, {"(file)": [f"not valid JSON: {exc}"]}) from None
    rulebook = parse_rulebook(document, path.name)
    if path.stem != rulebook.id:
        raise RulebookError(path.name, {"id": [f"must match the file name ({path.stem!r})"]})
    return rulebook


@lru_cache(maxsize=4)
def _load_all(directory: str) -> dict[str, Rulebook]:
    books = [load_rulebook_file(p) for p in sorted(Path(directory).glob("*.json"))]
    return {b.id: b for b in books}


def all_rulebooks(directory: Path | None = None) -> dict[str, Rulebook]:
    """Every programme's rulebook, loaded once per container and cached."""
    return _load_all(str(directory or RULEBOOK_DIR))


def get_rulebook(programme_id: str) -> Rulebook | None:
    return all_rulebooks().get(programme_id)
