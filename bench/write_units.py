"""What each journey step costs on Amazon's DynamoDB Local: round trips, and the read and write units the engine
reports (ReturnConsumedCapacity), per request, in one run; and from them the cost of one participant's year at
published on-demand prices.

    .venv/bin/python bench/write_units.py [--reviews 12]

The app runs in-process (chalice.test.Client) against a DynamoDB Local started for the run (in memory, tables
from infra/template.json, demo organisations and keys from seed_demo); the date is pinned to 2026-11-24. Every
DynamoDB call the app makes is counted, and each one that can is sent with ReturnConsumedCapacity=TOTAL, so the
units are the engine's own figures, not estimates. The authorizer's reads of an API key are left out (a warm
container's cache holds the key). Every POST sends an Idempotency-Key, as the README does; a keyed write's
target is 2 round trips (one consistent read of what it needs, then one transaction) and at most 8 write units.

One participant's year: a referral, its acceptance, start, assessment and action plan, `--reviews` monthly
reviews and a job start (the nightly run's own units are not included: bench/nightly_reads.py measures its
reads). Cost: write units at USD 0.625 and read units at USD 0.125 per million (DynamoDB on-demand, US East
(N. Virginia), since the November 2024 price reduction; London is dearer by about a tenth). Nothing is asserted:
docs/performance.md records a run.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TODAY = "2026-11-24"
NORFOLK = "flexible-routeways-norfolk"
WRU_USD, RRU_USD = 0.625e-6, 0.125e-6
TARGET_UNITS, TARGET_TRIPS = 8, 2
_WITH_CAPACITY = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                  "BatchWriteItem", "TransactWriteItems", "TransactGetItems"}


class Meter:
    """Counts the app's DynamoDB calls and adds up the capacity the engine reports for them."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.read_units = self.write_units = 0.0
        self.paused = False  # while the authorizer reads a key its cache has let go (not the request's own work)

    def reset(self) -> None:
        self.calls, self.read_units, self.write_units = [], 0.0, 0.0

    def install(self) -> None:
        import botocore.client

        original = botocore.client.BaseClient._make_api_call
        meter = self

        def metered(client, operation, params):
            if client.meta.service_model.service_name != "dynamodb":
                return original(client, operation, params)
            if operation in _WITH_CAPACITY:
                params = {**params, "ReturnConsumedCapacity": "TOTAL"}
            response = original(client, operation, params)
            if meter.paused:
                return response
            meter.calls.append(operation)
            consumed = response.get("ConsumedCapacity") or []
            for item in consumed if isinstance(consumed, list) else [consumed]:
                meter._add(operation, item)
            return response

        botocore.client.BaseClient._make_api_call = metered

    def _add(self, operation: str, item: dict) -> None:
        reads, writes = item.get("ReadCapacityUnits"), item.get("WriteCapacityUnits")
        if reads is None and writes is None:  # only a total: reads or writes by the operation
            total = float(item.get("CapacityUnits") or 0)
            if operation in ("GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"):
                reads = total
            else:
                writes = total
        self.read_units += float(reads or 0)
        self.write_units += float(writes or 0)


def _nino(i: int) -> str:
    return f"WT{700000 + i:06d}A"


def _referral(i: int) -> dict:
    return {"programme_id": NORFOLK, "provider_id": "kings-lynn-works", "support_level": "standard",
            "consent": {"given": True, "date": TODAY},
            "participant": {"nino": _nino(i), "given_name": "Ada", "family_name": "Lovelace",
                            "date_of_birth": "1990-05-17", "postcode": "PE30 1EX",
                            "eligibility": {"seeking_work": True, "right_to_work": True}}}


def journey(reviews: int) -> list[tuple[str, str, dict]]:
    steps: list[tuple[str, str, dict]] = [("accept", "acknowledgement", {"decision": "accept", "date": TODAY}),
             ("start", "start", {"date": TODAY}), ("assessment", "assessments", {"date": TODAY}),
             ("action plan", "action-plans", {"date": TODAY, "document_ref": "AP-001"})]
    steps += [("review", "reviews", {"date": TODAY})] * reviews
    steps.append(("job start", "outcomes", {"type": "job_start", "date": TODAY, "employer_name": "Fen Foods",
                                            "hours_per_week": 20, "weekly_earnings_pence": 24000}))
    return steps


def measure(reviews: int) -> dict:
    from chalice.test import Client

    import app as application
    from chalicelib.services import auth
    from chalicelib.services.admin import seed_demo
    from chalicelib.store.tables import create_tables

    create_tables("dev")
    keys = seed_demo()
    auth.clear_cache()
    meter = Meter()
    meter.install()
    load_key = auth._load

    def authorizer_read(digest):
        meter.paused = True
        try:
            return load_key(digest)
        finally:
            meter.paused = False

    auth._load = authorizer_read
    rows: list[dict] = []
    with Client(application.app, stage_name="dev") as client, contextlib.redirect_stderr(io.StringIO()), \
            contextlib.redirect_stdout(io.StringIO()):  # the app's logs and metrics
        def call(method: str, path: str, key: str, body: dict | None = None, idempotency: str | None = None):
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            if idempotency:
                headers["Idempotency-Key"] = idempotency
            kwargs = {"headers": headers} | ({"body": json.dumps(body)} if body is not None else {})
            reply = getattr(client.http, method.lower())(path, **kwargs)
            return reply.status_code, json.loads(reply.body or b"{}")

        for key in (keys["referrer"], keys["provider"]):  # the authorizer's cache, warm
            call("GET", "/referrals", key)

        def row(label: str, method: str, path: str, key: str, body: dict | None, replay_of: str | None = None):
            meter.reset()
            status, parsed = call(method, path, key, body, replay_of or str(uuid.uuid4()))
            if status >= 300:
                raise SystemExit(f"{label}: {status} {parsed}")
            rows.append({"request": label, "status": status, "round_trips": len(meter.calls),
                         "calls": " ".join(meter.calls), "write_units": round(meter.write_units, 1),
                         "read_units": round(meter.read_units, 1)})
            return parsed

        rid = row("POST /referrals", "POST", "/referrals", keys["referrer"], _referral(1))["id"]
        for label, path, body in journey(reviews):
            row(f"{label} (POST /referrals/{{id}}/{path})", "POST", f"/referrals/{rid}/{path}", keys["provider"],
                body)
        replay_key = str(uuid.uuid4())
        other = row("POST /referrals (second person)", "POST", "/referrals", keys["referrer"], _referral(2),
                    replay_key)["id"]
        row("POST /referrals, replayed (same Idempotency-Key)", "POST", "/referrals", keys["referrer"],
            _referral(2), replay_key)
        row("GET /referrals/{id}", "GET", f"/referrals/{other}", keys["referrer"], None)
    return {"rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=12)
    args = parser.parse_args()
    from devtools import dynamodb_local

    java = dynamodb_local.find_java()
    dynamodb_local.ensure_installed(quiet=True)
    with tempfile.TemporaryDirectory() as tmp, \
            dynamodb_local.DynamoDBLocal(log_path=Path(tmp) / "dynamodb-local.log", shared_db=False).start(java) \
            as database:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            os.environ.pop(name, None)
        os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="local",
                          AWS_DEFAULT_REGION="eu-west-2", REFPAY_STAGE="dev", REFPAY_TODAY=TODAY,
                          AWS_ENDPOINT_URL_DYNAMODB=database.endpoint)
        report = measure(args.reviews)
    rows = report["rows"]
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
    print(f"{'request':62} {'status':>6} {'trips':>5} {'WRU':>6} {'RRU':>6}  calls")
    seen = set()
    for r in rows:
        if r["request"] in seen:
            continue  # the repeated reviews: the first one stands for all
        seen.add(r["request"])
        print(f"{r['request']:62} {r['status']:>6} {r['round_trips']:>5} {r['write_units']:>6} {r['read_units']:>6}"
              f"  {r['calls']}")
    print(json.dumps(report["participant_year"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
