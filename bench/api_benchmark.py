"""DynamoDB round trips per request, in-process latency against a bare put_item, and referrals per second on the
local server, measured in one run.

    .venv/bin/python bench/api_benchmark.py [--runs 200] [--duration 15] [--clients 4] [--max-requests 5000]
    .venv/bin/python bench/api_benchmark.py --quick      # --runs 30 --duration 5: under two minutes

1. Round trips: every endpoint is called in-process (chalice.test.Client, moto's mock_aws, tables from infra/,
   demo organisations and keys from seed_demo) and every DynamoDB call it makes is counted (a wrapper around
   botocore's BaseClient._make_api_call, reset before each request). Each key is used once first, so the
   authorizer's cache is warm, as it is in a warm Lambda container. Every POST sends an Idempotency-Key, as the
   README's walk-through does. The floor is one round trip per request: one transaction for a write, one read
   for a read.
2. Latency: create-referral and a claim (a Tees Valley flexible-fund spend, through its journey step) in-process,
   each run with a new participant (a new NINO),
   median and p90, after one untimed pass of each (a warm container), against a bare boto3 put_item on the same
   moto backend in the same process, taken just before each request.
3. Throughput: `manage.py local` in a subprocess on free ports of 127.0.0.1, one untimed referral to warm it, then
   C client threads in this process (urllib, a new connection per request) post referrals with distinct NINOs,
   spread over the providers' allocations, for a fixed time, up to a request cap; then the server is stopped.
   Twice: on Amazon's DynamoDB Local (what `scripts/dev run` starts where Java is found), and on the embedded moto
   it falls back to without Java.

Figures on moto are relative: they say where the time goes, not what AWS would answer in. The write units each
request costs, read from DynamoDB Local, are measured by bench/write_units.py.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import NORFOLK, SLOTS, TEES, TEES_SLOTS, TODAY, by_status, drive, nino, percentile, referral, server_errors  # noqa: E402  (bench/, the directory of this script)
from common import post as timed_post  # noqa: E402

for _name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
    os.environ.pop(_name, None)
os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="eu-west-2",
                  REFPAY_STAGE="dev", REFPAY_LOG_LEVEL="INFO", REFPAY_TODAY=TODAY)

READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
TX_WRITES = {"TransactWriteItems"}

# The claim timed in table 2: a Tees Valley flexible-fund spend, recorded with its journey step.
CLAIM = "POST flexible_fund_spend"


def slot(i: int, slots=SLOTS) -> tuple[str, str] | None:
    """(programme, provider) for the i-th referral, filling each provider's allocation in turn."""
    for programme, provider, capacity in slots:
        if i < capacity:
            return programme, provider
        i -= capacity
    return None


# ---------------------------------------------------------------------------------------------- counting


class RoundTrips:
    """Every AWS call made through botocore, while on: (service, operation, items in a transaction)."""

    def __init__(self):
        self.calls: list[tuple[str, str, int]] = []
        self.seconds = 0.0  # spent inside DynamoDB calls (botocore and moto), while on
        self.on = False

    def install(self) -> None:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        counter = self

        def counted(client, operation_name, api_params):
            if not counter.on:
                return original(client, operation_name, api_params)
            service = client.meta.service_model.service_name
            written = len(api_params.get("TransactItems") or ()) if operation_name == "TransactWriteItems" else 0
            counter.calls.append((service, operation_name, written))
            t0 = time.perf_counter()
            try:
                return original(client, operation_name, api_params)
            finally:
                if service == "dynamodb":
                    counter.seconds += time.perf_counter() - t0

        BaseClient._make_api_call = counted

    @contextlib.contextmanager
    def counting(self):
        self.calls, self.seconds, self.on = [], 0.0, True
        try:
            yield self
        finally:
            self.on = False


COUNTER = RoundTrips()


# ---------------------------------------------------------------------------------------------- in-process API


class Api:
    """chalice.test.Client with JSON in and out. The app's logs (stderr) and metrics (stdout) are written as in
    production, to /dev/null."""

    def __init__(self, client):
        self.client = client
        self._sink = open(os.devnull, "w")
        self._keys = 0

    def call(self, method: str, path: str, key: str, body: dict | None = None, idempotent: bool = True):
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        if method == "POST" and idempotent:
            self._keys += 1
            headers["Idempotency-Key"] = f"bench-{self._keys}"
        kwargs = {"headers": headers}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        with contextlib.redirect_stdout(self._sink), contextlib.redirect_stderr(self._sink):
            response = getattr(self.client.http, method.lower())(path, **kwargs)
        return response.status_code, json.loads(response.body) if response.body else None

    def ok(self, method: str, path: str, key: str, body: dict | None = None, idempotent: bool = True):
        status, parsed = self.call(method, path, key, body, idempotent)
        if status >= 300:
            raise SystemExit(f"{method} {path} answered {status}: {parsed}")
        return parsed


@contextlib.contextmanager
def app_on_moto():
    """A fresh in-memory AWS: tables from infra/, the claim-file bucket, demo organisations and keys."""
    from moto import mock_aws

    with mock_aws():
        from chalice.test import Client

        import app as application
        from chalicelib.services import auth
        from chalicelib.services.admin import seed_demo
        from chalicelib.store import files
        from chalicelib.store.tables import create_tables

        create_tables("dev")
        files.create_bucket()
        auth.clear_cache()
        keys = seed_demo()
        with Client(application.app, stage_name="dev") as client:
            yield Api(client), keys
        auth.clear_cache()


def warm(api: Api, *keys: str) -> None:
    """One request per key, so the authorizer's per-container cache holds each."""
    for key in keys:
        api.call("GET", "/compliance/flags?limit=1", key)


# ---------------------------------------------------------------------------------------------- 1. round trips


def round_trips() -> list[dict]:
    from chalicelib.services import claim_files, nightly

    rows: list[dict] = []
    with app_on_moto() as (api, keys):
        orgs = keys["organisations"]
        referrer, provider, finance = keys["referrer"], keys["provider"], keys["finance"]
        mentor, group, prime = (orgs["broadland-mentors"]["provider"], orgs["broadland-mentors"]["referrer"],
                                orgs["trobius"]["provider"])
        warm(api, referrer, provider, finance, mentor, group, prime)

        def measure(label: str, method: str, path: str, key: str, body: dict | None = None, idempotent=True):
            with COUNTER.counting():
                status, parsed = api.call(method, path, key, body, idempotent)
            if status >= 300:
                raise SystemExit(f"{label}: {method} {path} answered {status}: {parsed}")
            counted(label, method == "POST")
            return parsed

        def counted(label: str, write: bool) -> None:
            dynamo = [c for c in COUNTER.calls if c[0] == "dynamodb"]
            rows.append({
                "endpoint": label, "write": write, "trips": len(dynamo),
                "reads": sum(1 for c in dynamo if c[1] in READS),
                "tx": sum(1 for c in dynamo if c[1] in TX_WRITES),
                "other": sum(1 for c in dynamo if c[1] not in READS | TX_WRITES),
                "tx_items": sum(c[2] for c in dynamo),
                "ops": [c[1] for c in dynamo], "aws_other": [f"{c[0]}:{c[1]}" for c in COUNTER.calls
                                                              if c[0] != "dynamodb"]})

        rid = measure("POST /referrals", "POST", "/referrals", referrer,
                      referral(NORFOLK, "kings-lynn-works", nino(0)))["id"]
        measure("POST /referrals (no Idempotency-Key)", "POST", "/referrals", referrer,
                referral(NORFOLK, "kings-lynn-works", nino(1)), idempotent=False)
        measure("GET /referrals/{id}", "GET", f"/referrals/{rid}", provider)
        measure("GET /referrals", "GET", "/referrals", referrer)
        measure("GET /referrals/{id}/events", "GET", f"/referrals/{rid}/events", provider)
        steps = [("acknowledgement", {"decision": "accept", "date": TODAY}), ("start", {"date": TODAY}),
                 ("assessments", {"date": TODAY, "support_level": "intensive"}),
                 ("action-plans", {"date": TODAY, "document_ref": "AP-001"}), ("reviews", {"date": TODAY}),
                 ("outcomes", {"type": "job_start", "date": TODAY, "employer_name": "Fenland Foods Ltd",
                               "hours_per_week": 20, "weekly_earnings_pence": 24000})]
        for path, body in steps:
            suffix = " (job_start)" if path == "outcomes" else ""
            measure(f"POST /referrals/{{id}}/{path}{suffix}", "POST", f"/referrals/{rid}/{path}", provider, body)

        # A referral whose acknowledgement is overdue and flagged by the nightly run, then acknowledged.
        late = api.ok("POST", "/referrals", referrer, referral(NORFOLK, "kings-lynn-works", nino(2)))["id"]
        with contextlib.redirect_stdout(api._sink), contextlib.redirect_stderr(api._sink):
            nightly.run(date(2026, 11, 27))
        with on_day("2026-11-27"):
            measure("POST /referrals/{id}/acknowledgement (overdue, flagged)", "POST",
                    f"/referrals/{late}/acknowledgement", provider, {"decision": "accept", "date": "2026-11-27"})

        # The chain: a Level 2 group refers to the prime, which routes the person to a Level 3 deliverer with the
        # group mentoring; the mentor records a contact and claims its mentoring fee, approved by the prime.
        held = measure("POST /referrals (to the prime)", "POST", "/referrals", group,
                       referral(NORFOLK, "trobius", nino(3)))["id"]
        measure("POST /referrals/{id}/route", "POST", f"/referrals/{held}/route", prime,
                {"date": TODAY, "to_provider_id": "kings-lynn-works"})
        api.ok("POST", f"/referrals/{held}/accept", provider, {"date": TODAY})
        api.ok("POST", f"/referrals/{held}/start", provider, {"date": TODAY})
        measure("POST /referrals/{id}/mentoring_contact", "POST", f"/referrals/{held}/mentoring_contact", mentor,
                {"date": TODAY, "minutes": 45, "mode": "in_person"})
        measure("GET /referrals (view=party)", "GET", "/referrals?view=party", mentor)
        line = measure("POST /claims", "POST", "/claims", mentor, {
            "referral_id": held, "fee_id": "level-2-support", "amount_pence": 12345, "event_date": TODAY,
            "evidence_ref": "case-notes/2026/118", "contact_ids": ["mc1"]})["line_id"]
        measure("POST /claims/{id}/approve", "POST", f"/claims/{line}/approve", finance, {})
        measure("GET /claims", "GET", "/claims", finance)
        measure("GET /payments/cascade", "GET", "/payments/cascade?period=2026-11", finance)
        # The cut's request, then its build (the worker's: asynchronous when deployed, run here after the request).
        builds: list[str] = []
        real_start, claim_files.start_build = claim_files.start_build, builds.append
        dwp = keys["commissioner_finance"]
        warm(api, dwp, keys["admin"])
        measure("POST /programmes/{id}/sample-rate", "POST", f"/programmes/{NORFOLK}/sample-rate", dwp,
                {"sample_rate_bp": 10000})
        with on_day("2026-12-01"):  # November has ended: its claim file can be cut
            cut = measure("POST /claim-files", "POST", "/claim-files", finance,
                          {"programme_id": NORFOLK, "period": "2026-11"})
            claim_files.start_build = real_start
            with COUNTER.counting():
                for fid in builds:
                    claim_files.build(fid)
            counted("(the claim file's build, by the worker)", False)
            fid = cut["id"]
            measure("POST /claim-files/{id}/sample", "POST", f"/claim-files/{fid}/sample", dwp, {})
            drawn = api.ok("GET", f"/claim-files/{fid}/sample?limit=100", dwp)["items"]
            for n, check in enumerate(drawn):
                body = {"line_id": check["line_id"], "result": "passed"}
                if n:
                    api.ok("POST", f"/claim-files/{fid}/checks", dwp, body)
                else:
                    measure("POST /claim-files/{id}/checks", "POST", f"/claim-files/{fid}/checks", dwp, body)
            measure("POST /claim-files/{id}/payment", "POST", f"/claim-files/{fid}/payment", dwp,
                    {"paid_on": "2026-12-01", "reference": "BACS-1"})
        measure("POST /payments/pass-throughs", "POST", "/payments/pass-throughs", finance, {
            "programme_id": NORFOLK, "period": "2026-11", "subcontractor_org_id": "kings-lynn-works",
            "amount_pence": 100, "paid_on": TODAY, "reference": "PT-1"})
        measure("GET /compliance/flags", "GET", "/compliance/flags?status=open", provider)
        # The controller: an erasure of a referral rejected before it began, a subject access export.
        gone = api.ok("POST", "/referrals", referrer, referral(NORFOLK, "kings-lynn-works", nino(4)))["id"]
        api.ok("POST", f"/referrals/{gone}/reject", provider, {"date": TODAY, "reason": "inappropriate"})
        measure("POST /referrals/{id}/erasure", "POST", f"/referrals/{gone}/erasure", keys["admin"],
                {"reason": "the person asked"})
        measure("POST /subject-access", "POST", "/subject-access", keys["admin"], {"nino": nino(0)})
    return rows


@contextlib.contextmanager
def on_day(day: str):
    """The app's clock on `day` for what runs inside, back on TODAY after."""
    os.environ["REFPAY_TODAY"] = day
    try:
        yield
    finally:
        os.environ["REFPAY_TODAY"] = TODAY


def print_round_trips(rows: list[dict]) -> None:
    print("1. DynamoDB round trips per request (in-process, moto, authorizer cache warm, Idempotency-Key sent)")
    head = (f"{'endpoint':56}{'trips':>6}{'reads':>7}{'tx':>4}{'other':>7}{'tx items':>10}{'floor':>7}"
            f"{'above':>7}  calls")
    print(head)
    print("-" * len(head))
    for r in rows:
        above = r["trips"] - 1
        ops = " ".join(_abbrev(op) for op in r["ops"])
        print(f"{r['endpoint']:56}{r['trips']:>6}{r['reads']:>7}{r['tx']:>4}{r['other']:>7}{r['tx_items']:>10}"
              f"{1:>7}{('+' + str(above)) if above else '0':>7}  {ops}")
    extra = [(r["endpoint"], r["aws_other"]) for r in rows if r["aws_other"]]
    for endpoint, calls in extra:
        print(f"   also, not DynamoDB: {endpoint}: {', '.join(calls)}")
    print("   calls: G GetItem, TG TransactGetItems, BG BatchGetItem, BW BatchWriteItem, Q Query, TW TransactWriteItems, P PutItem, "
          "U UpdateItem; floor: 1 transaction per "
          "write, 1 read per read")


def _abbrev(op: str) -> str:
    return {"GetItem": "G", "Query": "Q", "TransactWriteItems": "TW", "PutItem": "P", "UpdateItem": "U",
            "BatchGetItem": "BG", "TransactGetItems": "TG", "BatchWriteItem": "BW", "Scan": "S", "DeleteItem": "D"}.get(op, op)


# ---------------------------------------------------------------------------------------------- 2. latency


def latency(runs: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per call, in a fresh backend: milliseconds in all, and of them inside DynamoDB calls (botocore + moto),
    for a bare put_item, create-referral and a claim."""
    import boto3

    with app_on_moto() as (api, keys):
        orgs = keys["organisations"]
        referrer = keys["referrer"]
        warm(api, referrer, *(orgs[p]["provider"] for p, _ in TEES_SLOTS))

        client = boto3.client("dynamodb")
        client.create_table(TableName="bench-scratch", BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        samples: dict[str, tuple[list[float], list[float]]] = {
            name: ([], []) for name in ("bare boto3 put_item", "POST /referrals", CLAIM)}

        def record(name: str, fn):
            with COUNTER.counting():
                t0 = time.perf_counter()
                result = fn()
                total = (time.perf_counter() - t0) * 1000
            samples[name][0].append(total)
            samples[name][1].append(COUNTER.seconds * 1000)
            return result

        puts = iter(range(10 ** 9))

        def bare_put():
            """The baseline, taken just before each measured request, so both see the same tables and machine."""
            item = {"pk": {"S": f"item-{next(puts)}"}, "created_at": {"S": "2026-11-24T09:00:00+00:00"},
                    "payload": {"S": "x" * 200}}
            record("bare boto3 put_item", lambda: client.put_item(TableName="bench-scratch", Item=item))

        tees = [(TEES, p, c) for p, c in TEES_SLOTS]

        def claimable(i: int) -> tuple[str, str, dict]:
            """A Tees Valley referral started, assessed and with an action plan naming a travel barrier (untimed),
            and the provider's key, path and flexible-fund spend for it (a spend is claimed through its step)."""
            programme, provider = slot(i, tees)
            key = orgs[provider]["provider"]
            rid = api.ok("POST", "/referrals", referrer, referral(programme, provider, nino(i, salt=2)))["id"]
            api.ok("POST", f"/referrals/{rid}/acknowledgement", key, {"decision": "accept", "date": TODAY})
            for step, extra in (("start", {}), ("assessment", {}),
                                ("action_plan", {"barriers": [{"id": "b1", "category": "travel"}]})):
                api.ok("POST", f"/referrals/{rid}/{step}", key, {"date": TODAY, **extra})
            return key, f"/referrals/{rid}/flexible_fund_spend", {
                "date": TODAY, "category": "travel", "barrier_id": "b1", "amount_pence": 5000,
                "supplier": f"bus passes {i}"}

        # A warm container: one untimed pass of each path first (PynamoDB opens a client per model on first use).
        api.ok("POST", "/referrals", referrer, referral(*slot(runs), nino(runs, salt=1)))
        warm_key, warm_path, warm_body = claimable(runs)
        api.ok("POST", warm_path, warm_key, warm_body)
        client.put_item(TableName="bench-scratch", Item={"pk": {"S": "warm-up"}})

        for i in range(runs):
            programme, provider = slot(i)
            body = referral(programme, provider, nino(i, salt=1))
            bare_put()
            status, parsed = record("POST /referrals", lambda: api.call("POST", "/referrals", referrer, body))
            if status != 201:
                raise SystemExit(f"create-referral answered {status}: {parsed}")

        for i in range(runs):
            key, path, body = claimable(i)
            bare_put()
            status, parsed = record(CLAIM, lambda: api.call("POST", path, key, body))
            if status != 201:
                raise SystemExit(f"claim answered {status}: {parsed}")
        return samples


def print_latency(results: list[tuple[str, dict]], runs: int) -> None:
    print(f"2. In-process latency, {runs} runs each (a new participant per run), against a bare put_item "
          "on the same moto backend (one just before each request)")
    head = (f"{'moto':23}{'call':26}{'median ms':>10}{'p90 ms':>8}{'x put median':>14}{'x put p90':>11}"
            f"{'in DynamoDB ms':>16}{'first 10% ms':>14}{'last 10% ms':>13}")
    print(head)
    print("-" * len(head))
    for mode, calls in results:
        base_median = statistics.median(calls["bare boto3 put_item"][0])
        base_p90 = percentile(calls["bare boto3 put_item"][0], 0.9)
        for name, (values, inside) in calls.items():
            tenth = max(1, len(values) // 10)
            print(f"{mode:23}{name:26}{statistics.median(values):>10.2f}{percentile(values, 0.9):>8.2f}"
                  f"{statistics.median(values) / base_median:>13.1f}x{percentile(values, 0.9) / base_p90:>10.1f}x"
                  f"{statistics.median(inside):>16.2f}"
                  f"{statistics.median(values[:tenth]):>14.2f}{statistics.median(values[-tenth:]):>13.2f}")
    print("   create-referral: Norfolk, King's Lynn Works first; claim: a Tees Valley flexible-fund spend, POST "
          "/referrals/{id}/flexible_fund_spend (referral accepted, started, assessed and planned first, untimed); "
          "floor 1.0x")
    print("   in DynamoDB: median time inside botocore + moto calls; first/last 10%: median of the first and last "
          "tenth of the runs (the tables grow as runs go)")


# ---------------------------------------------------------------------------------------------- 3. throughput


@contextlib.contextmanager
def local_server(workdir: Path, engine: str):
    """`manage.py local --engine ENGINE` on free ports of 127.0.0.1, stopped on exit."""
    import manage

    # (The gateway's per-key throttling is off: this measures the engine behind it.)
    env = {"REFPAY_TODAY": TODAY, "REFPAY_LOCAL_THROTTLING": "off"}
    with manage.local_server_process(workdir, env, engine=engine, start_timeout=180) as (port, _db, keys_file, log):
        yield port, json.loads(keys_file.read_text()), log


def load(port: int, key: str, clients: int, duration: float, max_requests: int) -> dict:
    """`clients` threads post referrals (distinct NINOs, spread over providers' allocations) until `duration`
    seconds have passed or `max_requests` have been sent."""
    capacity = sum(c for _, _, c in SLOTS)
    cap = min(max_requests, capacity)
    url = f"http://127.0.0.1:{port}/referrals"

    def post(i: int) -> tuple[int, float]:
        programme, provider = slot(i)
        return timed_post(url, json.dumps(referral(programme, provider, nino(i, salt=3))).encode(), key, f"load-{i}", 30)

    (first_status, first_ms), results, _ = drive(post, clients, duration, cap)  # (finished at, ms, status)
    elapsed = max((r[0] for r in results), default=duration)
    ok = [r for r in results if r[2] == 201]
    third = elapsed / 3

    def rate(lo, hi):
        return sum(1 for r in ok if lo <= r[0] < hi) / (hi - lo) if hi > lo else 0.0

    statuses = by_status(results)
    return {"requests": len(results), "ok": len(ok), "errors": len(results) - len(ok), "seconds": elapsed,
            "rps": len(ok) / elapsed if elapsed else 0.0,
            "median": statistics.median([r[1] for r in ok]) if ok else float("nan"),
            "p90": percentile([r[1] for r in ok], 0.9) if ok else float("nan"),
            "first_third": rate(0, third), "last_third": rate(2 * third, elapsed + 1e-9),
            "statuses": statuses, "cap": cap, "first": (first_status, first_ms),
            "per_second": [sum(1 for r in ok if s <= r[0] < s + 1) for s in range(int(elapsed))]}


def print_load(results: list[tuple[str, dict]], clients: int, duration: float) -> None:
    cap = results[0][1]["cap"]
    print(f"3. Referrals per second on the local server (`manage.py local`), {clients} clients on 127.0.0.1 for "
          f"{duration:g} s (cap {cap:,} requests)")
    head = (f"{'moto':23}{'requests':>9}{'201':>7}{'errors':>8}{'seconds':>9}{'rps':>7}{'median ms':>11}{'p90 ms':>9}"
            f"{'rps 1st third':>15}{'rps last third':>16}")
    print(head)
    print("-" * len(head))
    for mode, r in results:
        print(f"{mode:23}{r['requests']:>9,}{r['ok']:>7,}{r['errors']:>8,}{r['seconds']:>9.1f}{r['rps']:>7.1f}"
              f"{r['median']:>11.1f}{r['p90']:>9.1f}{r['first_third']:>15.1f}{r['last_third']:>16.1f}")
    for mode, r in results:
        print(f"   {mode}: warm-up request (untimed) {r['first'][0]} in {r['first'][1]:.0f} ms; created per second: "
              f"{' '.join(map(str, r['per_second']))}")
        if r["errors"]:
            print(f"   {mode}: statuses {dict(sorted(r['statuses'].items()))} (0: no answer)")
        for name, n in r.get("server_errors", {}).items():
            print(f"   {mode}: the app logged {n} x {name}")
        if r.get("moto_errors"):
            print(f"   {mode}: the embedded DynamoDB (moto server) answered 500 {r['moto_errors']} times "
                  f"(botocore retries these)")


# ---------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="latency runs per call (table 2)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load on the local server")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients on the local server")
    parser.add_argument("--max-requests", type=int, default=5000, help="request cap for the load (table 3)")
    parser.add_argument("--quick", action="store_true", help="--runs 30 --duration 5: a check in under 2 minutes")
    parser.add_argument("--keep-server-log", metavar="PREFIX", help="copy the local servers' logs to "
                        "PREFIX.dynamodb-local and PREFIX.moto (table 3)")
    parser.add_argument("--only", choices=["1", "2", "3"], action="append", help="run only these tables")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.duration = min(args.runs, 30), min(args.duration, 5.0)
    most = sum(c for _, c in TEES_SLOTS) - 1  # the claims' referrals all go to Tees Valley's allocations
    if not 1 <= args.runs <= most or args.clients < 1 or args.duration <= 0 or args.max_requests < 1:
        parser.error(f"--runs must be 1..{most}; --clients, --duration and --max-requests must be positive")
    tables = set(args.only or ["1", "2", "3"])
    COUNTER.install()
    started = time.perf_counter()

    if "1" in tables:
        print_round_trips(round_trips())
        print()
    if "2" in tables:
        results = [("moto, in-process", latency(args.runs))]
        print_latency(results, args.runs)
        print()
    if "3" in tables:
        results = []
        for mode, engine in (("DynamoDB Local", "dynamodb-local"), ("moto (fallback)", "moto")):
            with tempfile.TemporaryDirectory(prefix="refpay-bench-") as tmp:
                with local_server(Path(tmp), engine) as (port, keys, log_path):
                    result = load(port, keys["referrer"], args.clients, args.duration, args.max_requests)
                result["server_errors"] = server_errors(log_path)
                result["moto_errors"] = log_path.read_text(errors="replace").count("Error on request:")
                if args.keep_server_log:
                    Path(f"{args.keep_server_log}.{engine}").write_text(log_path.read_text())
            results.append((mode, result))
        print_load(results, args.clients, args.duration)
        print()
    print(f"(measured in {time.perf_counter() - started:.0f} s on {os.cpu_count()} cores; "
          f"python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
