"""Every error is an RFC 9457 problem from one place; failures leave nothing half-written."""
from __future__ import annotations

import json

import pytest

from tests.conftest import referral_body

PROBLEM_FIELDS = {"type", "title", "status", "detail"}


def _is_problem(reply, status):
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    assert set(reply.body) >= PROBLEM_FIELDS
    assert reply.body["status"] == status
    assert reply.body["type"].startswith("https://refpay.dev/problems/")


@pytest.mark.parametrize("raw, field, rule", [
    ("{not json", "(body)", "json"),
    ("[1, 2]", "(body)", "object"),
    ("", "(body)", "object"),
    ('"text"', "(body)", "object"),
])
def test_malformed_bodies(api, keys, raw, field, rule):
    reply = api.post("/referrals", keys["referrer"], raw=raw)
    _is_problem(reply, 422)
    assert reply.body["errors"][0]["field"] == field and reply.body["errors"][0]["rule"] == rule


def test_missing_and_unknown_fields_are_named(api, keys):
    reply = api.post("/referrals", keys["referrer"], {"programme_id": "work-choice", "status": "in_work"})
    _is_problem(reply, 422)
    found = {(e["field"], e["rule"]) for e in reply.body["errors"]}
    assert {("status", "unknown_field"), ("participant", "required"), ("consent", "required"),
            ("support_level", "required")} <= found


def test_wrong_content_type(api, keys):
    reply = api.call("POST", "/referrals", keys["referrer"], raw="a=b",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    _is_problem(reply, 415)


def test_invalid_query_parameters(api, keys):
    reply = api.get("/referrals?limit=0", keys["referrer"])
    _is_problem(reply, 422)
    assert reply.body["errors"][0] == {"field": "limit", "rule": "range", "message": "must be 1..100"}
    assert api.get("/referrals?status=flying", keys["referrer"]).body["errors"][0]["field"] == "status"
    assert api.get("/referrals?colour=red", keys["referrer"]).body["errors"][0]["rule"] == "unknown_field"


def test_unknown_ids(api, keys):
    _is_problem(api.get("/referrals/ref_missing", keys["referrer"]), 404)
    _is_problem(api.get("/programmes/nope", keys["referrer"]), 404)
    _is_problem(api.post("/referrals/ref_missing/start", keys["provider"], {"date": "2026-11-24"}), 404)


def test_unexpected_failure_is_a_500_problem_that_reveals_nothing(api, keys, monkeypatch, capsys):
    from chalicelib.services import journey

    def boom(*args, **kwargs):
        raise RuntimeError("secret detail AB123456C Lovelace")

    monkeypatch.setattr(journey, "create_referral", boom)
    reply = api.post("/referrals", keys["referrer"], referral_body())
    _is_problem(reply, 500)
    assert "secret" not in json.dumps(reply.body) and "AB123456C" not in json.dumps(reply.body)
    logged = capsys.readouterr().err
    assert "RuntimeError" in logged and "secret" not in logged and "AB123456C" not in logged


def _throttled(op):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, op)


def test_throttled_read_answers_503_with_retry_after(api, keys, monkeypatch):
    from chalicelib.store.transaction import low_level_client

    rid = api.post("/referrals", keys["referrer"], referral_body()).body["id"]

    def throttled(**request):
        raise _throttled("BatchGetItem")

    # A referral is read with its sealed personal fields in one batch read.
    monkeypatch.setattr(low_level_client(), "batch_get_item", throttled)
    reply = api.get(f"/referrals/{rid}", keys["referrer"])
    _is_problem(reply, 503)
    assert reply.headers["retry-after"] == "1"


def test_throttled_or_timed_out_transaction_writes_nothing_and_a_retry_succeeds(api, keys, monkeypatch):
    from botocore.exceptions import ReadTimeoutError
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.store import transaction

    real = transaction.TransactWrite
    failures = iter([TransactWriteError("t", cause=_throttled("TransactWriteItems")),
                     TransactWriteError("t", cause=ReadTimeoutError(endpoint_url="http://dynamodb"))])

    class Flaky(real):
        def _commit(self):
            error = next(failures, None)
            if error is not None:
                raise error
            return super()._commit()

    monkeypatch.setattr(transaction, "TransactWrite", Flaky)
    body = referral_body()
    for _ in range(2):
        reply = api.post("/referrals", keys["referrer"], body, headers={"Idempotency-Key": "flaky"})
        _is_problem(reply, 503)
        assert reply.headers["retry-after"] == "1"
        assert api.get("/referrals", keys["referrer"]).body["items"] == []
    ok = api.post("/referrals", keys["referrer"], body, headers={"Idempotency-Key": "flaky"})
    assert ok.status == 201
    again = api.post("/referrals", keys["referrer"], body, headers={"Idempotency-Key": "flaky"})
    assert again.status == 201 and again.body["id"] == ok.body["id"]
    assert len(api.get("/referrals", keys["referrer"]).body["items"]) == 1


def test_a_transaction_cancelled_by_a_conflict_answers_409_and_a_retry_succeeds_once(api, keys, monkeypatch):
    from pynamodb.connection.base import VerboseClientError
    from pynamodb.exceptions import CancellationReason, TransactWriteError

    from chalicelib.store import transaction

    rid = api.post("/referrals", keys["referrer"], referral_body()).body["id"]
    real = transaction.TransactWrite
    conflicts = iter([1])

    class Conflicting(real):
        def _commit(self):
            if next(conflicts, None):
                cause = VerboseClientError(
                    {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}}, "TransactWriteItems",
                    cancellation_reasons=[CancellationReason(code="TransactionConflict", message="conflict")])
                raise TransactWriteError("cancelled", cause=cause)
            return super()._commit()

    monkeypatch.setattr(transaction, "TransactWrite", Conflicting)
    body = {"decision": "accept", "date": "2026-11-24"}
    first = api.post(f"/referrals/{rid}/acknowledgement", keys["provider"], body, headers={"Idempotency-Key": "c-1"})
    _is_problem(first, 409)
    assert first.body["type"].endswith("/concurrent-update") and first.headers["retry-after"] == "1"
    assert api.get(f"/referrals/{rid}", keys["provider"]).body["status"] == "referred"  # nothing written
    retry = api.post(f"/referrals/{rid}/acknowledgement", keys["provider"], body, headers={"Idempotency-Key": "c-1"})
    again = api.post(f"/referrals/{rid}/acknowledgement", keys["provider"], body, headers={"Idempotency-Key": "c-1"})
    assert retry.status == again.status == 200 and again.headers["idempotent-replayed"] == "true"
    assert len(api.get(f"/referrals/{rid}/events", keys["provider"]).body["items"]) == 2


@pytest.mark.parametrize("method, path, allow", [
    ("DELETE", "/referrals", "GET, POST"),
    ("PUT", "/health", "GET"),
    ("GET", "/claims/decisions", "POST"),
    ("PATCH", "/referrals/ref_0123456789abcdef0123", "GET"),
])
def test_a_method_a_path_does_not_take_is_a_405_problem_naming_those_it_does(api, keys, method, path, allow):
    reply = api.call(method, path, keys["referrer"], body={})
    _is_problem(reply, 405)
    assert reply.headers["allow"] == allow and reply.body["allow"] == allow.split(", ")
    assert method in reply.body["detail"]
    assert api.call(method, path).status == 405  # no key needed to learn that: the OpenAPI document says as much


def test_a_path_parameter_sent_percent_encoded_is_decoded(api, keys):
    rid = api.post("/referrals", keys["referrer"], referral_body()).body["id"]
    provider = keys["provider"]
    api.post(f"/referrals/{rid}/acknowledgement", provider, {"decision": "accept", "date": "2026-11-24"})
    api.post(f"/referrals/{rid}/start", provider, {"date": "2026-11-24"})
    finance = keys["finance"]
    line_id = next(x["line_id"] for x in api.get(f"/claims?referral_id={rid}", finance).body["items"])
    assert ":" in line_id
    encoded = api.get(f"/claims/{line_id.replace(':', '%3A')}", finance)
    assert encoded.status == 200 and encoded.body["line_id"] == line_id
    assert api.get(f"/referrals/{rid.replace('_', '%5F')}", provider).body["id"] == rid
