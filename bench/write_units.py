"""What each journey step costs on Amazon's DynamoDB Local: round trips, and the read and write units the engine
reports (ReturnConsumedCapacity), per request, in one run; and from them the cost of one participant's year at
published on-demand prices.

    .venv/bin/python bench/write_units.py [--reviews 12]

The app runs in-process (chalice.test.Client) against a DynamoDB Local started for the run (in memory, tables
from infra/template.json, demo organisations and keys from seed_demo); the date is pinned to 2026-11-24. Every
DynamoDB call the app makes is counted, and each one that can is sent with ReturnConsumedCapacity=INDEXES, so the
units are the engine's own figures, not estimates. The authorizer's reads of an API key are left out (a warm
container's cache holds the key). Every POST sends an Idempotency-Key, as the README does; a keyed write's
target is 2 round trips (one consistent read of what it needs, then one transaction) and at most 8 write units.

Then the claim writes (devtools/write_meter.py `claim_costs`): a Level 2 group's mentoring claim, the prime's
finance approving one, rejecting one, deciding three together and clawing one back, each sent again with its
Idempotency-Key (a replay).

One participant's year: a referral, its acceptance, start, assessment and action plan, `--reviews` monthly
reviews and a job start (the nightly run's own units are not included: bench/nightly_reads.py measures its
reads). Cost: write units at USD 0.625 and read units at USD 0.125 per million (DynamoDB on-demand, US East
(N. Virginia), since the November 2024 price reduction; London is dearer by about a tenth). The personal fields'
key is moto's KMS, in-process (devtools/write_meter.py, which tests/integration/test_write_units.py shares to
bound each step). Nothing is asserted here:
docs/performance.md records a run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.write_meter import NOT_LOCAL, claim_costs, environment, journey, journey_costs  # noqa: E402

WRU_USD, RRU_USD = 0.625e-6, 0.125e-6
TARGET_UNITS, TARGET_TRIPS = 8, 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=12)
    parser.add_argument("--items", action="store_true", help="list each item a transaction writes, with its size")
    args = parser.parse_args()
    from devtools import dynamodb_local

    java = dynamodb_local.find_java()
    dynamodb_local.ensure_installed(quiet=True)
    with tempfile.TemporaryDirectory() as tmp, \
            dynamodb_local.DynamoDBLocal(log_path=Path(tmp) / "dynamodb-local.log", shared_db=False).start(java) \
            as database:
        for name in NOT_LOCAL:
            os.environ.pop(name, None)
        os.environ.update(environment(database.endpoint, "bench"))
        costs = journey_costs(args.reviews, ("WT700001A", "WT700002A", "WT700003A"))
        claims = claim_costs(("WT700011A", "WT700012A", "WT700013A", "WT700014A", "WT700015A"))
    rows = [vars(c) | {"written": [str(w) for w in c.written]} for c in costs]
    report: dict = {"rows": rows}
    year = rows[: 1 + len(journey(args.reviews))]  # the referral and its steps
    steps = [r for r in year if r["request"] != "POST /referrals"]
    year_wru, year_rru = sum(r["write_units"] for r in year), sum(r["read_units"] for r in year)
    report["participant_year"] = {
        "requests": len(year), "write_units": round(year_wru, 1), "read_units": round(year_rru, 1),
        "usd": round(year_wru * WRU_USD + year_rru * RRU_USD, 6),
        "max_write_units_per_step": max(r["write_units"] for r in steps),
        "max_round_trips_per_keyed_write": max(r["round_trips"] for r in year),
        "write_units_per_step_vs_target": round(max(r["write_units"] for r in steps) / TARGET_UNITS, 2),
        "round_trips_vs_target": round(max(r["round_trips"] for r in year) / TARGET_TRIPS, 2)}
    _table(rows, args.items)
    print("\nClaim writes (the prime's finance deciding a Level 2 group's mentoring claims), each then replayed:")
    _table([vars(c) | {"written": [str(w) for w in c.written]} for c in claims], args.items)
    print(json.dumps(report["participant_year"], indent=2))
    return 0


def _table(rows: list[dict], items: bool) -> None:
    print(f"{'request':34} {'status':>6} {'trips':>5} {'WRU':>6} {'RRU':>6}  calls")
    seen = set()
    for r in rows:
        if r["request"] in seen:
            continue  # the repeated reviews: the first one stands for all
        seen.add(r["request"])
        print(f"{r['request']:34} {r['status']:>6} {r['round_trips']:>5} {r['write_units']:>6} {r['read_units']:>6}"
              f"  {r['calls']}")
        if items:
            for written in r["written"]:
                print(f"{'':36}{written}")
            print(f"{'':36}write units: " + ", ".join(f"{k} {v:g}" for k, v in sorted(r["by_table"].items())))


if __name__ == "__main__":
    raise SystemExit(main())
