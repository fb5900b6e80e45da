"""Reading programme rulebooks: JSON data files, validated (chalicelib/adapters/rulebook_schemas.py, marshmallow)
into the domain's typed values.

One file per programme in chalicelib/rulebooks/. A malformed file fails loudly when loaded, naming the file and
the field. The same schemas publish the rulebook format as a JSON Schema (`json_schema()`), served at
`GET /rulebook-schema.json` and kept in docs/rulebook.schema.json. Nothing here imports marshmallow until the
first rulebook is loaded.
"""
from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from ..domain.errors import RulebookError
from ..domain.rulebook import (
    REFUSE,
    Deadline,
    PaymentControls,
    Period,
    Plausibility,
    Rulebook,
    Targets,
    Tariff,
)

RULEBOOK_DIR = Path(__file__).resolve().parent.parent / "rulebooks"


def parse_rulebook(document: dict, source: str) -> Rulebook:
    from . import rulebook_schemas  # marshmallow: loaded with the first rulebook, not at cold start

    data = rulebook_schemas.load(document, source)
    eligibility = data["eligibility"]
    duration = data["duration"] or {}
    sustainment = data["sustainment"] or {}
    return Rulebook(
        id=data["id"], name=data["name"], source=data["source"], nation=data["nation"],
        commissioner=data["commissioner"], referral_opens=data["referral_window"]["opens"],
        referral_closes=data["referral_window"]["closes"], total_capacity=data["total_capacity"],
        delivery_organisations=tuple(data["delivery_organisations"]),
        min_age=eligibility["min_age"], max_age=eligibility["max_age"],
        required_attributes=tuple(eligibility["required_attributes"]),
        excluded_attributes=tuple(eligibility["excluded_attributes"]),
        priority_groups=tuple(eligibility["priority_groups"]),
        stated_attributes=tuple(eligibility["must_state"]),
        support_levels=dict(data["support_levels"]),
        deadlines={name: Deadline(name, d["period"], d["anchor"]) for name, d in data["deadlines"].items()},
        min_duration=duration.get("min"), max_duration=duration.get("max"),
        modules=tuple(data["modules"]), module_moves=tuple((m[0], m[1]) for m in data["module_moves"]),
        returns_allowed=data["returns_allowed"], exit_review_required=data["exit_review_required"],
        in_work_support=sustainment.get("in_work_support"), checkpoints=tuple(sustainment.get("checkpoints") or ()),
        tariff=_funders_resolved(data["tariff"], data["commissioner_org_id"]), targets=data["targets"] or Targets(),
        commissioner_org_id=data["commissioner_org_id"],
        payment_controls=data["payment_controls"] or PaymentControls(), party_roles=tuple(data["party_roles"]),
        chain_members=tuple(data["chain_members"]), plausibility=data["plausibility"] or Plausibility(),
        document=document,
        completion_before_min=duration.get("completion_before_min", REFUSE),
        reassessment_every=data["reassessment_every"],
        ineligible_notice=data["ineligible_notice"], leaver_tracking=data["leaver_tracking"],
        retention=data["retention"],
        late_recording_limit=data["late_recording_limit"] or Period(20, "working_days"),
        flexible_fund=data["flexible_fund"],
    )


def _funders_resolved(tariff: Tariff, commissioner_org_id: str) -> Tariff:
    """A funder that names no organisation (and is not the contract holder) is the commissioner."""
    funders = tuple(f if f.org_id or f.contract_holder else replace(f, org_id=commissioner_org_id)
                    for f in tariff.funders)
    return replace(tariff, funders=funders)


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


def json_schema() -> dict:
    """The rulebook format as a JSON Schema (draft 2020-12), generated from the loader's schemas."""
    from . import rulebook_schemas

    return rulebook_schemas.json_schema()
