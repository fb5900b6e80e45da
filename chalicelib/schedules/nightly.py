"""The nightly compliance run, on a schedule, and one shard at a time for fan-out.

Runs at 01:30 UTC every day: 01:30 in UK winter (GMT), 02:30 in UK summer (BST). The run date is the UK
calendar date at that moment, which is the same day in both.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from chalice import Blueprint, Cron

from ..domain.compliance import all_shards
from ..services import nightly

schedules_bp = Blueprint(__name__)
UK = ZoneInfo("Europe/London")


def run_date(event_time: str | None) -> date:
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00")) if event_time else datetime.now(UK)
    return moment.astimezone(UK).date()


@schedules_bp.schedule(Cron(30, 1, "*", "*", "?", "*"), name="nightly_compliance")
def nightly_compliance(event):
    """Every shard in turn (resumable: a shard already done is skipped)."""
    return nightly.run(run_date(getattr(event, "time", None)))


@schedules_bp.lambda_function(name="nightly_shard")
def nightly_shard(event, context):
    """One shard of one date, for fanning a run out over many invocations: {"date": "YYYY-MM-DD", "shard": "s07"}."""
    shard = event["shard"]
    if shard not in all_shards():
        raise ValueError(f"unknown shard {shard!r}")
    return nightly.run(date.fromisoformat(event["date"]), [shard])
