"""The registry of fee milestones: one declaration per kind of payment a tariff can name.

A rulebook's fee is paid in payments, each at a milestone named here. A milestone is reached by a journey step
(named as in chalicelib/domain/steps.py), paid on a monthly schedule by the nightly run, or claimed with
evidence. The rulebook loader accepts only these names; the tariff engine (tariff.py) pays from this table.

Adding a fee type: declare its milestone here, write its rule (a `when` predicate, or a schedule) and test it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..domain import steps

# How a milestone is paid.
ON_STEP = "on_step"        # created with the journey step that reaches it, in the step's transaction
SCHEDULED = "scheduled"    # monthly in arrears from the start, by the nightly run
CLAIMED = "claimed"        # claimed by the provider with evidence, decided by finance


def _always(_event_data: Mapping[str, Any], _checkpoint_earns: str | None) -> bool:
    return True


@dataclass(frozen=True)
class Milestone:
    name: str
    description: str
    paid: str
    reached_by: str | None = None   # the step (and event type) that reaches it
    when: Callable[[Mapping[str, Any], str | None], bool] = _always  # (event data, the checkpoint's outcome)
    per_checkpoint: bool = False    # the n-th payment of this milestone is paid at the n-th checkpoint
    outcome: bool = False           # an outcome fee: not earned before the programme's minimum delivery


def _hours_over_8(data: Mapping[str, Any], _earns: str | None) -> bool:
    return data.get("hours_band") in ("over_8", "over_16")


def _hours_over_16(data: Mapping[str, Any], _earns: str | None) -> bool:
    return data.get("hours_band") == "over_16"


def _checkpoint_earns(outcome: str) -> Callable[[Mapping[str, Any], str | None], bool]:
    def reached(_data: Mapping[str, Any], earns: str | None) -> bool:
        return earns == outcome

    return reached


REFERRAL_ACCEPTED = "referral_accepted"
EVIDENCE = "evidence"
START = "start"
SERVICE_FEE_TRANCHE = "service_fee_tranche"
JOB_START = "job_start"
JOB_OVER_8_HOURS = "job_over_8_hours"
JOB_OVER_16_HOURS = "job_over_16_hours"
SHORT_JOB_OUTCOME = "short_job_outcome"
SUSTAINED_JOB_OUTCOME = "sustained_job_outcome"
SUSTAINMENT_CHECKPOINT = "sustainment_checkpoint"

_MILESTONES: tuple[Milestone, ...] = (
    Milestone(REFERRAL_ACCEPTED, "a referral fee, on acceptance (Level 1)", ON_STEP, reached_by="accept"),
    Milestone(EVIDENCE, "a variable amount claimed with evidence, up to a cap (Level 2)", CLAIMED),
    Milestone(START, "a start payment, the up-front share", ON_STEP, reached_by="start"),
    Milestone(SERVICE_FEE_TRANCHE, "service fees paid monthly in arrears from the start", SCHEDULED),
    Milestone(JOB_START, "any job start", ON_STEP, reached_by="job_start", outcome=True),
    Milestone(JOB_OVER_8_HOURS, "a job outcome over 8 hours a week", ON_STEP, reached_by="job_start",
              when=_hours_over_8, outcome=True),
    Milestone(JOB_OVER_16_HOURS, "a job outcome over 16 hours a week", ON_STEP, reached_by="job_start",
              when=_hours_over_16, outcome=True),
    Milestone(SHORT_JOB_OUTCOME, "ESF: 13 weeks in work within 26", ON_STEP, reached_by="sustainment",
              when=_checkpoint_earns(SHORT_JOB_OUTCOME), outcome=True),
    Milestone(SUSTAINED_JOB_OUTCOME, "ESF: 26 weeks in work within 52", ON_STEP, reached_by="sustainment",
              when=_checkpoint_earns(SUSTAINED_JOB_OUTCOME), outcome=True),
    Milestone(SUSTAINMENT_CHECKPOINT, "each sustainment checkpoint reached, in order", ON_STEP,
              reached_by="sustainment", per_checkpoint=True, outcome=True),
)

MILESTONES: dict[str, Milestone] = {m.name: m for m in _MILESTONES}
NAMES = tuple(MILESTONES)
# Outcomes a sustainment checkpoint can be declared to reach (rulebook `earns`).
CHECKPOINT_OUTCOMES = (SHORT_JOB_OUTCOME, SUSTAINED_JOB_OUTCOME)

for _m in _MILESTONES:
    if _m.reached_by is not None and steps.find(_m.reached_by) is None:
        raise ValueError(f"milestone {_m.name} names an unknown step {_m.reached_by!r}")


def get(name: str) -> Milestone:
    return MILESTONES[name]


def reached_by(step_name: str) -> tuple[Milestone, ...]:
    return tuple(m for m in _MILESTONES if m.reached_by == step_name)
