"""What a request costs on Amazon's DynamoDB Local: its round trips, and the read and write units the engine reports
(ReturnConsumedCapacity), with every item a transaction writes and its size. Shared by bench/write_units.py
(which reports a run) and tests/integration/test_write_units.py (which fails when a step costs more than its
bound).

`journey_costs` runs a referral's journey in-process (chalice.test.Client) against the DynamoDB Local that
AWS_ENDPOINT_URL_DYNAMODB names; KMS (the personal fields' key) is moto's, in-process, as no real KMS is called
locally. Every POST sends an Idempotency-Key; the authorizer's reads of an API key are left out (a warm
container's cache holds the key).
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

TODAY = "2026-11-24"
NORFOLK = "flexible-routeways-norfolk"
_WITH_CAPACITY = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                  "BatchWriteItem", "TransactWriteItems", "TransactGetItems"}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


def attribute_size(value: dict) -> int:
    """The bytes DynamoDB counts for one attribute value (its documented item-size rules, closely)."""
    (kind, raw), = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "B":
        return len(raw) if isinstance(raw, bytes) else len(base64.b64decode(raw))
    if kind == "N":
        digits = len(str(Decimal(raw)).lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in raw.items())
    return sum(attribute_size({kind[0]: v}) for v in raw)  # SS, NS, BS


def item_size(item: dict) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


@dataclass
class Written:
    """One item a transaction wrote: its operation, table and (for a put) size in bytes and attributes' names."""

    operation: str
    table: str
    size: int | None
    attributes: frozenset[str] = frozenset()

    def __str__(self) -> str:
        table = self.table.removeprefix("refpay-dev-")
        return f"{self.operation} {table}" + (f" {self.size} B" if self.size is not None else "")


@dataclass
class Meter:
    """Counts the app's DynamoDB calls and adds up the capacity the engine reports for them."""

    calls: list[str] = field(default_factory=list)
    read_units: float = 0.0
    write_units: float = 0.0
    written: list[Written] = field(default_factory=list)
    by_table: dict[str, float] = field(default_factory=dict)  # write units per table and index ("table/index")
    paused: bool = False  # while the authorizer reads a key its cache has let go (not the request's own work)

    def reset(self) -> None:
        self.calls, self.read_units, self.write_units, self.written, self.by_table = [], 0.0, 0.0, [], {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[Meter]:
        import botocore.client

        original = botocore.client.BaseClient._make_api_call
        meter = self

        def metered(client, operation, params):
            if client.meta.service_model.service_name != "dynamodb":
                return original(client, operation, params)
            if operation in _WITH_CAPACITY:
                params = {**params, "ReturnConsumedCapacity": "INDEXES"}
            response = original(client, operation, params)
            if not meter.paused:
                meter._count(operation, params, response)
            return response

        botocore.client.BaseClient._make_api_call = metered
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original

    def _count(self, operation: str, params: dict, response: dict) -> None:
        self.calls.append(operation)
        consumed = response.get("ConsumedCapacity") or []
        for item in consumed if isinstance(consumed, list) else [consumed]:
            reads, writes = item.get("ReadCapacityUnits"), item.get("WriteCapacityUnits")
            if reads is None and writes is None:  # only a total: reads or writes by the operation
                total = float(item.get("CapacityUnits") or 0)
                reads, writes = (total, None) if operation in _READS else (None, total)
            self.read_units += float(reads or 0)
            self.write_units += float(writes or 0)
            if operation in _READS:
                continue
            table = str(item.get("TableName", "")).removeprefix("refpay-dev-")
            parts = {table: (item.get("Table") or {}).get("CapacityUnits"), **{
                f"{table}/{name}": units.get("CapacityUnits")
                for name, units in (item.get("GlobalSecondaryIndexes") or {}).items()}}
            for name, units in parts.items():
                if units:
                    self.by_table[name] = self.by_table.get(name, 0.0) + float(units)
        for entry in params.get("TransactItems", []):
            (kind, body), = entry.items()
            item = body.get("Item")
            self.written.append(Written(kind, body["TableName"], item_size(item) if item else None,
                                        frozenset(item or ())))


def referral_body(nino: str) -> dict:
    return {"programme_id": NORFOLK, "provider_id": "kings-lynn-works", "support_level": "standard",
            "consent": {"given": True, "date": TODAY},
            "participant": {"nino": nino, "given_name": "Ada", "family_name": "Lovelace",
                            "date_of_birth": "1990-05-17", "postcode": "PE30 1EX",
                            "eligibility": {"seeking_work": True, "right_to_work": True}}}


def journey(reviews: int) -> list[tuple[str, str, dict]]:
    """The steps of a participant's year after the referral: (label, path under the referral, body)."""
    steps: list[tuple[str, str, dict]] = [
        ("accept", "acknowledgement", {"decision": "accept", "date": TODAY}),
        ("start", "start", {"date": TODAY}), ("assessment", "assessments", {"date": TODAY}),
        ("action plan", "action-plans", {"date": TODAY, "document_ref": "AP-001"})]
    steps += [("review", "reviews", {"date": TODAY})] * reviews
    steps.append(("job start", "outcomes", {"type": "job_start", "date": TODAY, "employer_name": "Fen Foods",
                                            "hours_per_week": 20, "weekly_earnings_pence": 24000}))
    return steps


@dataclass
class Cost:
    request: str
    status: int
    round_trips: int
    calls: str
    write_units: float
    read_units: float
    written: list[Written]
    by_table: dict[str, float]


def journey_costs(reviews: int, ninos: tuple[str, str]) -> list[Cost]:
    """The cost of each request of a participant's journey (a referral, then `journey(reviews)`), of its last step
    replayed (same Idempotency-Key), then of a second person's referral, that POST replayed, and a GET of that
    referral. The tables are created (where missing) on the DynamoDB that AWS_ENDPOINT_URL_DYNAMODB names; KMS is
    moto's."""
    from chalice.test import Client
    from moto import mock_aws

    import app as application
    from chalicelib.services import auth
    from chalicelib.services.admin import seed_demo
    from chalicelib.store.tables import create_tables

    meter = Meter()
    with mock_aws(), meter.installed(), contextlib.ExitStack() as stack:
        _fresh_connections()
        stack.callback(_fresh_connections)
        create_tables("dev")  # and the personal-data key, in moto's KMS
        keys = seed_demo()
        auth.clear_cache()
        load_key = auth._load

        def authorizer_read(digest):
            meter.paused = True
            try:
                return load_key(digest)
            finally:
                meter.paused = False

        auth._load = authorizer_read
        stack.callback(setattr, auth, "_load", load_key)
        client = stack.enter_context(Client(application.app, stage_name="dev"))
        stack.enter_context(contextlib.redirect_stdout(io.StringIO()))  # the app's logs and metrics
        stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        return _run(client, keys, meter, reviews, ninos)


def _fresh_connections() -> None:
    """Forget the DynamoDB connections made so far (an earlier one may point at another endpoint)."""
    from chalicelib.store import connection

    connection.reset()


def _run(client, keys: dict, meter: Meter, reviews: int, ninos: tuple[str, str]) -> list[Cost]:
    costs: list[Cost] = []

    def call(method: str, path: str, key: str, body: dict | None, idempotency: str | None) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        if idempotency:
            headers["Idempotency-Key"] = idempotency
        kwargs = {"headers": headers} | ({"body": json.dumps(body)} if body is not None else {})
        reply = getattr(client.http, method.lower())(path, **kwargs)
        return reply.status_code, json.loads(reply.body or b"{}")

    for key in (keys["referrer"], keys["provider"]):  # the authorizer's cache, warm
        call("GET", "/referrals", key, None, None)

    def measured(label: str, method: str, path: str, key: str, body: dict | None,
                 idempotency: str | None = None) -> dict:
        meter.reset()
        status, parsed = call(method, path, key, body, idempotency or (str(uuid.uuid4()) if body else None))
        if status >= 300:
            raise AssertionError(f"{label}: {status} {parsed}")
        costs.append(Cost(label, status, len(meter.calls), " ".join(meter.calls), round(meter.write_units, 1),
                          round(meter.read_units, 1), list(meter.written), dict(meter.by_table)))
        return parsed

    rid = measured("POST /referrals", "POST", "/referrals", keys["referrer"], referral_body(ninos[0]))["id"]
    step_key = ""
    for label, path, body in journey(reviews):
        step_key = str(uuid.uuid4())
        measured(label, "POST", f"/referrals/{rid}/{path}", keys["provider"], body, step_key)
    label, path, body = journey(reviews)[-1]
    measured(f"{label}, replayed", "POST", f"/referrals/{rid}/{path}", keys["provider"], body, step_key)
    replay_key = str(uuid.uuid4())
    other = measured("POST /referrals (second person)", "POST", "/referrals", keys["referrer"],
                     referral_body(ninos[1]), replay_key)["id"]
    measured("POST /referrals, replayed", "POST", "/referrals", keys["referrer"], referral_body(ninos[1]),
             replay_key)
    measured("GET /referrals/{id}", "GET", f"/referrals/{other}", keys["referrer"], None)
    return costs
