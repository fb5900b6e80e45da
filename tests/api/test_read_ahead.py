"""A keyed write's one read: the idempotency record and the referral (with its sealed personal fields), read in
one TransactGetItems, isolated from a transaction still committing; the request's reads of them answer from it.
The read asks again when the engine refuses it for a transaction in progress, and splits more than 100 items. A
batch read (a listing's page) asks again for what the engine leaves unprocessed, and splits more than 100 keys."""
from __future__ import annotations

import pytest

from tests.conftest import chain_referral, dynamodb_calls, referral_body


@pytest.fixture
def referral_id(api, keys) -> str:
    reply = api.post("/referrals", keys["referrer"], referral_body(nino="JK482931B"),
                     headers={"Idempotency-Key": "ahead-1"})
    assert reply.status == 201, reply.body
    return reply.body["id"]


def test_the_reads_of_a_write_answer_from_its_one_read(api, keys, referral_id, monkeypatch):
    from chalicelib.domain.idempotency import Needs
    from chalicelib.store import repository

    scope = "jobcentre-plus-norwich#ahead-1"
    calls = dynamodb_calls(monkeypatch)
    with repository.read_ahead(scope, Needs(referral_id=referral_id)) as record:
        assert record is not None and record.resource is not None and record.resource.ids == (referral_id,)
        first = repository.get_referral(referral_id)
        again = repository.get_referral(referral_id)
        assert calls == ["TransactGetItems"]
        assert first == again and first is not None and first.participant is not None
        # A write's read of what it did not read ahead is isolated too (a replayed referral, named by its record).
        assert repository.get_referral("ref_missing") is None
        assert calls == ["TransactGetItems"] * 2
    repository.get_referral(referral_id)  # outside a write: a batch read (a GET's)
    assert calls == ["TransactGetItems", "TransactGetItems", "BatchGetItem"]


def test_a_write_s_read_refused_for_a_transaction_in_progress_is_asked_again(api, keys, referral_id, monkeypatch):
    """DynamoDB refuses a TransactGetItems that meets an item a transaction is still committing (rather than
    showing part of it): the read is asked again; refused every time, the request is answered 503."""
    from botocore.exceptions import ClientError

    from chalicelib.domain.errors import ServiceUnavailable
    from chalicelib.domain.idempotency import Needs
    from chalicelib.store import repository
    from chalicelib.store.transaction import low_level_client

    client = low_level_client()
    real, tries = client.transact_get_items, []

    def conflicting(times):
        def answer(**request):
            tries.append(1)
            if len(tries) <= times:
                raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                                   "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]},
                                  "TransactGetItems")
            return real(**request)
        return answer

    monkeypatch.setattr(repository.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(client, "transact_get_items", conflicting(2))
    with repository.read_ahead("jobcentre-plus-norwich#ahead-1", Needs(referral_id=referral_id)) as record:
        assert record is not None and repository.get_referral(referral_id) is not None
    assert len(tries) == 3
    tries.clear()
    monkeypatch.setattr(client, "transact_get_items", conflicting(repository.TRANSACT_GET_TRIES))
    with pytest.raises(ServiceUnavailable), repository.read_ahead("jobcentre-plus-norwich#ahead-1", Needs()):
        pass
    assert len(tries) == repository.TRANSACT_GET_TRIES
    # Any other refusal is not asked again (it is answered as any failed read is).
    tries.clear()

    def invalid(**request):
        tries.append(1)
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "TransactGetItems")

    monkeypatch.setattr(client, "transact_get_items", invalid)
    with pytest.raises(ServiceUnavailable), repository.read_ahead("jobcentre-plus-norwich#ahead-1", Needs()):
        pass
    assert len(tries) == 1


def test_a_write_s_read_of_more_than_100_items_is_split_and_one_item_of_two_models_is_read_once(
        api, keys, referral_id, monkeypatch):
    """DynamoDB refuses a TransactGetItems that names one item twice (so does moto here, devtools/moto_limits.py),
    and takes 100 items at most: an item asked twice, or by two models of one table, is read once, and 151 items
    are two reads of 100 and 51."""
    from chalicelib.store import repository
    from chalicelib.store.models import LineCheckItem, ReferralItem, SampleRateItem
    from chalicelib.store.transaction import low_level_client

    client = low_level_client()
    real, sent = client.transact_get_items, []

    def spied(**request):
        sent.append([(g["Get"]["TableName"], str(g["Get"]["Key"])) for g in request["TransactItems"]])
        return real(**request)

    monkeypatch.setattr(client, "transact_get_items", spied)
    record = ("sample-rate#flexible-routeways-norfolk", "current")
    wanted = [(ReferralItem, referral_id)] + [(ReferralItem, f"ref_missing{i:03d}") for i in range(149)]
    found = repository._transact_get([*wanted, (ReferralItem, referral_id), (SampleRateItem, record),
                                      (LineCheckItem, record)])
    assert [len(asked) for asked in sent] == [100, 51]
    assert all(len(set(asked)) == len(asked) for asked in sent)
    assert found[(ReferralItem, referral_id)] is not None
    assert sum(1 for item in found.values() if item is None) == 151  # 149 missing referrals, the record twice
    assert (SampleRateItem, record) in found and (LineCheckItem, record) in found


def test_a_new_referral_reads_the_person_with_its_record(api, keys, referral_id, monkeypatch):
    from chalicelib import settings
    from chalicelib.domain.idempotency import Needs
    from chalicelib.domain.participants import participant_hash
    from chalicelib.store import repository

    person = participant_hash("JK482931B", settings.get().participant_key)
    calls = dynamodb_calls(monkeypatch)
    with repository.read_ahead("jobcentre-plus-norwich#new-key", Needs(participant_hash=person)) as record:
        assert record is None
        held = repository.get_participant(person)
        assert held is not None and held.active_referral_id == referral_id
        assert repository.get_participant("p_nobody") is None
    assert calls == ["TransactGetItems", "GetItem"]  # only the person not read ahead is read on its own


def test_a_claim_decision_reads_the_lines_it_names_with_its_record(api, keys, monkeypatch):
    """Approving claims in bulk: the lines the body names are read with the idempotency record, the decision reads
    them from that read and commits one transaction; a replay renders them from its one read."""
    mentor = keys["organisations"]["broadland-mentors"]["provider"]
    lines = []
    for nino in ("JK482932B", "JK482933B", "JK482934B"):
        claim = {"referral_id": chain_referral(api, keys, nino=nino), "fee_id": "level-2-support",
                 "amount_pence": 9000, "event_date": "2026-11-24", "evidence_ref": "ev", "contact_ids": ["mc1"]}
        lines.append(api.post("/claims", mentor, claim).body["line_id"])
    finance, decision = keys["finance"], {"line_ids": lines, "decision": "approve"}
    monkeypatch.setenv("REFPAY_AUTH_CACHE_SECONDS", "300")  # warm however slow the machine
    assert api.get(f"/claims/{lines[0]}", finance).status == 200  # the authorizer's cache, warm
    calls = dynamodb_calls(monkeypatch)
    decided = api.post("/claims/decisions", finance, decision, headers={"Idempotency-Key": "ahead-bulk"})
    assert decided.status == 200 and [x["status"] for x in decided.body["items"]] == ["approved"] * 3
    assert calls == ["TransactGetItems", "TransactWriteItems"]
    replayed = api.post("/claims/decisions", finance, decision, headers={"Idempotency-Key": "ahead-bulk"})
    assert replayed.status == 200 and replayed.headers["idempotent-replayed"] == "true"
    assert replayed.body == decided.body and calls == ["TransactGetItems", "TransactWriteItems", "TransactGetItems"]


def test_unprocessed_keys_are_asked_for_again(api, keys, referral_id, monkeypatch):
    from chalicelib.store import repository
    from chalicelib.store.transaction import low_level_client

    client = low_level_client()
    real = client.batch_get_item
    answers: list[int] = []

    def throttled_once(**request):
        if not answers:
            answers.append(0)
            return {"Responses": {}, "UnprocessedKeys": request["RequestItems"]}
        answers.append(1)
        return real(**request)

    monkeypatch.setattr(client, "batch_get_item", throttled_once)
    monkeypatch.setattr(repository.time, "sleep", lambda seconds: None)
    referral = repository.get_referral(referral_id)
    assert referral is not None and referral.participant is not None and answers == [0, 1]


def test_a_batch_of_more_than_100_keys_is_split(api, keys, referral_id):
    from chalicelib.store import repository
    from chalicelib.store.models import ReferralItem

    wanted = [(ReferralItem, referral_id)] + [(ReferralItem, f"ref_missing{i:03d}") for i in range(150)]
    found = repository._batch_get_consistent(wanted)
    assert len(found) == 151 and found[(ReferralItem, referral_id)] is not None
    assert sum(1 for item in found.values() if item is None) == 150


def test_items_with_a_range_key_are_read_ahead_and_one_written_outside_the_transaction_afresh(api, keys, monkeypatch):
    """The rate in force (a payment record: hash and range key) comes from the read ahead; a claim file the request
    then writes (forget) is read again, not taken from the read ahead."""
    from chalicelib.domain.idempotency import Needs
    from chalicelib.store import payment_records, payments, repository
    from chalicelib.store.models import ClaimFileItem

    dwp, programme = keys["commissioner_finance"], "flexible-routeways-norfolk"
    assert api.post(f"/programmes/{programme}/sample-rate", dwp, {"sample_rate_bp": 2500}).status == 200
    calls = dynamodb_calls(monkeypatch)
    with repository.read_ahead("dwp-commissioning#k", Needs(sample_rate_of=programme, claim_file_id="cf-x")):
        rate = payment_records.get_sample_rate(programme)
        assert rate is not None and rate.rate_bp == 2500
        assert payments.get_file("cf-x") is None
        assert calls == ["TransactGetItems"]
        repository.forget(ClaimFileItem, "cf-x")
        assert payments.get_file("cf-x") is None
        assert calls == ["TransactGetItems", "GetItem"]
