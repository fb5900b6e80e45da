"""The journey steps' routes, built from the step registry (chalicelib/domain/steps.py).

Every step a caller can take becomes `POST /referrals/{referral_id}/<step name>`, with the request schema its
input declaration gives, answered with the referral as it is after the step.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from ..domain import steps
from ..domain.access import Principal
from ..domain.steps import StepDef
from ..services import journey as service
from ..services.ports import UnitOfWork
from .referrals import TAGS, WRITE_ERRORS, written
from .routing import RouteDoc, Written, route
from .schema_refs import schemas as s


def step_handler(step: StepDef) -> Callable[[Principal, dict, dict, UnitOfWork], Written]:
    status = 201 if step.creates_record else 200

    def record(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
        return written(service.record(principal, params["referral_id"], step, payload, tx), status)

    record.__name__ = f"record_{step.name}"
    return record


def step_routes(registered: Iterable[StepDef] | None = None) -> list[RouteDoc]:
    """One route per step an organisation records with a provider key: the holder, the prime, a mentor or a spoke;
    or the programme's commissioner decides with a commissioner key (the system's own steps and the referrer's
    return are not here)."""
    out = []
    for step in registered if registered is not None else steps.all_steps():
        if step.actor not in (*steps.RECORDED_BY_ORGANISATIONS, steps.COMMISSIONER):
            continue
        roles = ("commissioner",) if step.actor == steps.COMMISSIONER else ("provider",)
        out.append(route(f"/referrals/{{referral_id}}/{step.name}", "POST", summary=step.summary, tags=TAGS,
                         roles=roles, body=s.step_schema(step), response=s.ReferralOut,
                         status=201 if step.creates_record else 200, errors=WRITE_ERRORS,
                         handler=step_handler(step), name=f"record_{step.name}"))
    return out
