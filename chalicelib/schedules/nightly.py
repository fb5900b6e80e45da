"""The nightly compliance run, on a schedule, fanned out one shard per invocation.

Runs at 01:30 UTC every day: 01:30 in UK winter (GMT), 02:30 in UK summer (BST). The run date is the UK
calendar date at that moment, which is the same day in both.

Deployed, the scheduled function starts the run and invokes `nightly_shard` once per shard, asynchronously
(REFPAY_NIGHTLY_SHARD_FUNCTION names it). A shard that runs short of time hands the rest of itself to a new
invocation; Lambda retries a failed one. The shard that completes the run computes the programme checks.
Without that variable (locally, in tests) the scheduled function runs every shard itself.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from chalice import Blueprint, Cron

from .. import settings
from ..domain.compliance import all_shards
from ..services import nightly

schedules_bp = Blueprint(__name__)
UK = ZoneInfo("Europe/London")


def run_date(event_time: str | None) -> date:
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00")) if event_time else datetime.now(UK)
    return moment.astimezone(UK).date()


@lru_cache(maxsize=1)
def lambda_client() -> Any:
    import boto3

    return boto3.client("lambda")


def invoke_shard(function_name: str, on: date, shard: str) -> None:
    lambda_client().invoke(FunctionName=function_name, InvocationType="Event",
                           Payload=json.dumps({"date": on.isoformat(), "shard": shard}).encode())


def _time_left(context: Any) -> Callable[[], int] | None:
    return getattr(context, "get_remaining_time_in_millis", None)


@schedules_bp.schedule(Cron(30, 1, "*", "*", "?", "*"), name="nightly_compliance")
def nightly_compliance(event: Any) -> dict[str, Any]:
    on = run_date(getattr(event, "time", None))
    target = settings.get().nightly_shard_function
    if not target:
        return nightly.run(on)  # one process, no fan-out: as the command line runs it
    record = nightly.start(on)
    pending = [s for s in all_shards() if s not in record.shards_done]
    for shard in pending:
        invoke_shard(target, on, shard)
    return {"run_id": record.run_id, "fanned_out": len(pending)}


@schedules_bp.lambda_function(name="nightly_shard")
def nightly_shard(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One shard of one date: {"date": "YYYY-MM-DD", "shard": "s07"}. Continues itself if time runs short."""
    shard = event["shard"]
    if shard not in all_shards():
        raise ValueError(f"unknown shard {shard!r}")
    on = date.fromisoformat(event["date"])
    result = nightly.run(on, [shard], time_left=_time_left(context))
    if result["unfinished"]:
        invoke_shard(context.function_name, on, shard)
    return result
