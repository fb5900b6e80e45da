"""How many DynamoDB items a nightly run reads, against the items due and a naive full scan, in one run.

    .venv/bin/python bench/nightly_reads.py [--participants 100000] [--due-pct 1]

Builds the population in an in-memory DynamoDB (moto) from infra/: one referral item per participant and
its pending work (three items each: a review, a sustainment check and the maximum-duration date, spread over
the coming six months), with `--due-pct` of participants having a review missed yesterday. Then it runs the
real nightly job for today and counts every item DynamoDB reads for it (a botocore hook on each response),
and does the same for a naive pass that scans the referrals table.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
    os.environ.pop(name, None)
os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="eu-west-2",
                  REFPAY_STAGE="bench", REFPAY_LOG_LEVEL="WARNING")

RUN_DATE = date(2027, 3, 1)


class ReadCounter:
    """Counts items read from every DynamoDB response, and the calls that read them."""

    def __init__(self):
        self.items = 0
        self.calls = 0
        self.on = False

    def __call__(self, http_response, parsed, model, **kwargs):
        if not self.on:
            return
        op = model.name
        if op in ("Query", "Scan"):
            self.items += parsed.get("ScannedCount", parsed.get("Count", 0))
        elif op == "GetItem":
            self.items += 1 if parsed.get("Item") else 0
        elif op == "BatchGetItem":
            self.items += sum(len(v) for v in parsed.get("Responses", {}).values())
        elif op == "TransactGetItems":
            self.items += len(parsed.get("Responses", []))
        else:
            return
        self.calls += 1


def populate(client, participants: int, due_pct: float, seed: int = 7) -> int:
    from chalicelib.domain.compliance import shard_of

    rng = random.Random(seed)
    referrals, pending = [], []
    due_count = 0
    due_every = max(1, round(100 / due_pct)) if due_pct else 0
    for i in range(participants):
        rid = f"ref_{i:010d}"
        referrals.append({"PutRequest": {"Item": {
            "referral_id": {"S": rid}, "listed_at": {"S": f"2026-09-01T00:00:00#{rid}"},
            "programme_id": {"S": "tees-valley-routes-to-work"}, "status": {"S": "in_support"},
            "version": {"N": "5"}, "referrer_org_id": {"S": "tees-valley-jcp"},
            "provider_org_id": {"S": "middlesbrough-council"}, "prime_org_id": {"S": "middlesbrough-council"},
            "participant_hash": {"S": f"p_{i:064x}"}, "support_level": {"S": "weekly"},
            "referred_on": {"S": "2026-09-01"}, "started_on": {"S": "2026-09-02"}}}})
        is_due = due_every and i % due_every == 0
        offsets = [rng.randint(1, 180) for _ in range(3)]
        if is_due:
            offsets[0] = 0
            due_count += 1
        for rule, offset in zip(("review", "sustainment:3-months", "max_duration"), offsets, strict=True):
            act_on = RUN_DATE + timedelta(days=offset)
            pending.append({"PutRequest": {"Item": {
                "shard": {"S": shard_of(rid)}, "work_key": {"S": f"{act_on.isoformat()}#{rid}#{rule}"},
                "referral_id": {"S": rid}, "programme_id": {"S": "tees-valley-routes-to-work"},
                "provider_org_id": {"S": "middlesbrough-council"}, "prime_org_id": {"S": "middlesbrough-council"},
                "rule": {"S": rule}, "due": {"S": (act_on - timedelta(days=1)).isoformat()},
                "act_on": {"S": act_on.isoformat()}, "description": {"S": f"{rule} (bench)"},
                "management_fee_bp": {"N": "0"}, "amount_pence": {"N": "0"}}}})
    for table, items in (("refpay-bench-referrals", referrals), ("refpay-bench-pending-work", pending)):
        for start in range(0, len(items), 25):
            client.batch_write_item(RequestItems={table: items[start:start + 25]})
    return due_count


def _skip_moto_rollback_copies() -> None:
    """moto deep-copies every table a transaction touches so it can roll back; with 400,000 items that copy
    is all the time a run takes. Nothing in this benchmark rolls back, so the copy is skipped (here only)."""
    import copy
    from types import SimpleNamespace

    import moto.dynamodb.models as backend

    def deepcopy(value, *args):
        return value if isinstance(value, backend.Table) else copy.deepcopy(value, *args)

    backend.copy = SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--due-pct", type=float, default=1.0)
    args = parser.parse_args()

    import boto3
    from moto import mock_aws

    _skip_moto_rollback_copies()
    with mock_aws():
        from chalicelib.store.tables import create_tables

        create_tables("bench")
        client = boto3.client("dynamodb")
        t0 = time.perf_counter()
        due = populate(client, args.participants, args.due_pct)
        built = time.perf_counter() - t0

        counter = ReadCounter()
        # Every botocore client created from here on reports its responses to the counter.
        import botocore.session

        from chalicelib.services import nightly
        from chalicelib.store import connection

        original = botocore.session.Session.create_client

        def counted_client(self, *a, **k):
            c = original(self, *a, **k)
            c.meta.events.register("after-call.dynamodb.*", counter)
            return c

        botocore.session.Session.create_client = counted_client
        connection.reset()  # the models' shared client is made again, counted
        client = boto3.client("dynamodb")

        counter.on, counter.items, counter.calls = True, 0, 0
        t1 = time.perf_counter()
        result = nightly.run(RUN_DATE)
        run_seconds = time.perf_counter() - t1
        run_items, run_calls = counter.items, counter.calls

        counter.items, counter.calls = 0, 0
        t2 = time.perf_counter()
        for page in client.get_paginator("scan").paginate(TableName="refpay-bench-referrals"):
            pass
        scan_seconds = time.perf_counter() - t2
        scan_items, scan_calls = counter.items, counter.calls
        counter.on = False

    flagged = sum(sum(v.values()) for v in result["counts"].get("flags", {}).values())
    print(f"participants            {args.participants:>10,}")
    print(f"items due today         {due:>10,}   (flags raised: {flagged:,})")
    print(f"{'':24}{'items read':>10}  {'calls':>6}  {'read / due':>10}  {'seconds (moto)':>14}")
    print(f"{'nightly run':24}{run_items:>10,}  {run_calls:>6,}  {run_items / max(due, 1):>10.2f}  {run_seconds:>14.1f}")
    print(f"{'naive full scan':24}{scan_items:>10,}  {scan_calls:>6,}  {scan_items / max(due, 1):>10.2f}  "
          f"{scan_seconds:>14.1f}")
    print(f"(population built in {built:.0f} s; the nightly run's reads include its run record and the "
          f"programme checks)")
    return 0 if flagged == due and run_items <= 1.2 * due else 1


if __name__ == "__main__":
    sys.exit(main())
