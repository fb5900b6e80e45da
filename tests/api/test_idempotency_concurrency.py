"""Idempotency-Key semantics and concurrent updates: nothing is counted twice, nothing is lost."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import date

import pytest

from tests.conftest import referral_body


def _events(api, key, rid):
    return api.get(f"/referrals/{rid}/events", key).body["items"]


def test_replay_returns_the_first_response_and_writes_once(api, keys):
    key = keys["referrer"]
    first = api.post("/referrals", key, referral_body(), headers={"Idempotency-Key": "ref-001"})
    again = api.post("/referrals", key, referral_body(), headers={"Idempotency-Key": "ref-001"})
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert "idempotent-replayed" not in first.headers
    assert len(api.get("/referrals", key).body["items"]) == 1
    assert len(_events(api, key, first.body["id"])) == 1


def test_same_key_with_a_different_body_is_refused(api, keys):
    key = keys["referrer"]
    api.post("/referrals", key, referral_body(), headers={"Idempotency-Key": "ref-002"})
    other = api.post("/referrals", key, referral_body(nino="AB999999A"), headers={"Idempotency-Key": "ref-002"})
    assert other.status == 422
    assert other.body["type"].endswith("/idempotency-key-reused")
    assert len(api.get("/referrals", key).body["items"]) == 1


def test_key_order_in_the_body_does_not_matter(api, keys):
    key = keys["referrer"]
    body = referral_body()
    first = api.post("/referrals", key, raw=json.dumps(body, sort_keys=True), headers={"Idempotency-Key": "k"})
    reordered = json.dumps(dict(reversed(list(body.items()))))
    again = api.post("/referrals", key, raw=reordered, headers={"Idempotency-Key": "k"})
    assert again.status == 201 and again.body["id"] == first.body["id"]


def test_keys_are_scoped_to_the_organisation(api, keys):
    mine = api.post("/referrals", keys["referrer"], referral_body(), headers={"Idempotency-Key": "shared"})
    theirs = api.post("/referrals", keys["organisations"]["tees-valley-jcp"]["referrer"], referral_body(
        programme_id="tees-valley-routes-to-work", provider_id="hartlepool-council", support_level="weekly",
        nino="AB555555A"), headers={"Idempotency-Key": "shared"})
    assert mine.status == theirs.status == 201
    assert mine.body["id"] != theirs.body["id"]


def test_journey_step_replay_is_not_a_conflict(api, keys):
    rid = api.post("/referrals", keys["referrer"], referral_body()).body["id"]
    provider = keys["provider"]
    body = {"decision": "accept", "date": "2026-11-24"}
    first = api.post(f"/referrals/{rid}/acknowledgement", provider, body, headers={"Idempotency-Key": "ack-1"})
    again = api.post(f"/referrals/{rid}/acknowledgement", provider, body, headers={"Idempotency-Key": "ack-1"})
    assert first.status == again.status == 200 and again.body == first.body
    # Without the key the same request is a state conflict, as it should be.
    plain = api.post(f"/referrals/{rid}/acknowledgement", provider, body)
    assert plain.status == 409 and plain.body["current_state"] == "accepted"
    # The same key on another endpoint is a different request.
    other = api.post(f"/referrals/{rid}/start", provider, {"date": "2026-11-24"}, headers={"Idempotency-Key": "ack-1"})
    assert other.status == 422 and other.body["type"].endswith("/idempotency-key-reused")
    assert len(_events(api, provider, rid)) == 2


def test_failed_requests_are_not_remembered(api, keys):
    key = keys["referrer"]
    bad = referral_body(support_level="platinum")
    assert api.post("/referrals", key, bad, headers={"Idempotency-Key": "retry-me"}).status == 422
    good = api.post("/referrals", key, bad | {"support_level": "standard"}, headers={"Idempotency-Key": "retry-me"})
    assert good.status == 201


@pytest.mark.parametrize("value", ["", "x" * 256, "tab\there"])
def test_malformed_idempotency_key(api, keys, value):
    reply = api.post("/referrals", keys["referrer"], referral_body(), headers={"Idempotency-Key": value})
    assert reply.status == 422 and reply.body["errors"][0]["field"] == "Idempotency-Key"
    assert api.get("/referrals", keys["referrer"]).body["items"] == []


# ---------------------------------------------------------------- true concurrency (threads, shared store)


@dataclass
class FakeRequest:
    method: str
    body: dict
    resource: str
    headers: dict = field(default_factory=dict)

    @property
    def raw_body(self):
        return json.dumps(self.body).encode()

    @property
    def context(self):
        return {"resourcePath": self.resource}


def _principal(org_id="kings-lynn-works", kind="subcontractor", roles=("provider",)):
    from chalicelib.domain.access import Principal

    return Principal(org_id=org_id, org_kind=kind, roles=frozenset(roles), key_id="key_test")


def _race(monkeypatch, n, work):
    """Run `work(i)` in n threads that all read before any of them writes."""
    from chalicelib.services.deps import store
    from chalicelib.store.transaction import Transaction

    referrals = store().referrals
    barrier = threading.Barrier(n, timeout=10)
    real_get = referrals.get
    commit_lock = threading.Lock()
    real_commit = Transaction.commit

    waited = threading.local()

    def get_then_wait(referral_id):
        found = real_get(referral_id)
        if not getattr(waited, "done", False):  # only each thread's first read (a replay reads again)
            waited.done = True
            barrier.wait()  # every thread has now read the same version
        return found

    def serial_commit(self):
        with commit_lock:  # the in-memory fake is not thread-safe; DynamoDB itself serialises items
            return real_commit(self)

    monkeypatch.setattr(referrals, "get", get_then_wait)
    monkeypatch.setattr(Transaction, "commit", serial_commit)
    results = [None] * n

    def run(i):
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.setattr(referrals, "get", real_get)
    return results


def _started_referral(api, keys):
    rid = api.post("/referrals", keys["referrer"], referral_body()).body["id"]
    for path, body in [("acknowledgement", {"decision": "accept", "date": "2026-11-24"}),
                       ("start", {"date": "2026-11-24"}), ("assessments", {"date": "2026-11-24"}),
                       ("action-plans", {"date": "2026-11-24"})]:
        assert api.post(f"/referrals/{rid}/{path}", keys["provider"], body).status in (200, 201)
    return rid


def test_two_concurrent_updates_of_one_referral_cannot_lose_each_other(api, keys, monkeypatch):
    from chalicelib.domain import steps
    from chalicelib.domain.errors import ConcurrentUpdate
    from chalicelib.services import journey
    from chalicelib.store.transaction import Transaction

    rid = _started_referral(api, keys)
    before = api.get(f"/referrals/{rid}", keys["provider"]).body["version"]
    payloads = [{"date": date(2026, 11, 24), "employer_name": "A Ltd",
                 "hours_per_week": 10, "weekly_earnings_pence": 10000},
                {"date": date(2026, 11, 24), "kind": "review"}]
    actions = [steps.get("job_start"), steps.get("review")]

    def work(i):
        tx = Transaction()
        journey.record(_principal(), rid, actions[i], payloads[i], tx)
        tx.commit()
        return "ok"

    results = _race(monkeypatch, 2, work)
    assert sorted(type(r).__name__ for r in results) == ["ConcurrentUpdate", "str"]
    loser = next(i for i, r in enumerate(results) if isinstance(r, ConcurrentUpdate))
    after = api.get(f"/referrals/{rid}", keys["provider"]).body
    assert after["version"] == before + 1
    assert len(_events(api, keys["provider"], rid)) == before + 1
    # The loser retries and now succeeds on top of the winner's change: neither update is lost.
    tx = Transaction()
    journey.record(_principal(), rid, actions[loser], payloads[loser], tx)
    tx.commit()
    final = api.get(f"/referrals/{rid}", keys["provider"]).body
    assert final["version"] == before + 2
    assert final["status"] == "in_work" and final["last_review_on"] == "2026-11-24"


def test_concurrent_duplicates_with_one_key_commit_once(api, keys, monkeypatch):
    from chalicelib.domain import steps
    from chalicelib.domain.idempotency import Resource
    from chalicelib.services import journey, writes

    rid = _started_referral(api, keys)

    def work(i):
        def handler(tx):
            result = journey.record(_principal(), rid, steps.get("review"), {"date": date(2026, 11, 24)}, tx)
            return writes.Written(201, {"id": result.referral.id, "version": result.referral.version}, None,
                                  Resource("referral", (rid,)))

        def render(resource):
            referral = journey.read(_principal(), resource.ids[0]).referral
            return {"id": referral.id, "version": referral.version}

        outcome = writes.run(_principal(), "dup-1", "fingerprint-of-the-request", handler, render)
        return outcome.status, outcome.body

    results = _race(monkeypatch, 4, work)
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({json.dumps(r) for r in results}) == 1  # every duplicate got the same answer
    events = _events(api, keys["provider"], rid)
    assert [e["type"] for e in events].count("review") == 1


def test_concurrent_referrals_of_one_person_claim_them_once(api, keys, monkeypatch):
    from chalicelib.api.schemas import ReferralIn
    from chalicelib.domain.errors import ReferralRefused
    from chalicelib.services import journey
    from chalicelib.services.deps import store
    from chalicelib.store.transaction import Transaction

    referrals = store().referrals
    barrier = threading.Barrier(3, timeout=10)
    real = referrals.participant

    def read_then_wait(h):
        found = real(h)
        barrier.wait()
        return found

    monkeypatch.setattr(referrals, "participant", read_then_wait)
    lock = threading.Lock()
    providers = ["kings-lynn-works", "great-yarmouth-works", "trobius"]
    referrer = _principal("jobcentre-plus-norwich", "referrer", ("referrer",))
    outcomes = [None] * 3

    def run(i):
        payload = ReferralIn().load(referral_body(provider_id=providers[i]))
        tx = Transaction()
        try:
            journey.create_referral(referrer, payload, tx)
            with lock:
                tx.commit()
            outcomes[i] = "created"
        except ReferralRefused as exc:
            outcomes[i] = exc.reason

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(outcomes) == ["already_active", "already_active", "created"]
    monkeypatch.setattr(referrals, "participant", real)
    assert len(api.get("/referrals", keys["referrer"]).body["items"]) == 1


def _transferred(api, keys, idem: str):
    """Work Choice: the holder starts the person and transfers them to another subcontractor (with `idem`)."""
    book = api.get("/programmes/work-choice", keys["referrer"]).body
    holder, other = [a["org_id"] for a in book["allocations"] if a["role"] == "subcontractor"][:2]
    body = referral_body(programme_id="work-choice", provider_id=holder, nino="HJ246811D",
                         support_level=list(book["rulebook"]["support_levels"])[0])
    body["participant"]["eligibility"] = {"disabled": True, "right_to_work": True}
    rid = api.post("/referrals", keys["referrer"], body).body["id"]
    holder_key = keys["organisations"][holder]["provider"]
    for path in ("accept", "start"):
        assert api.post(f"/referrals/{rid}/{path}", holder_key, {"date": "2026-11-24"}).status == 200
    transfer = {"to_provider_id": other, "date": "2026-11-24", "handover": {"date": "2026-11-24", "document_ref": "HO-8"}}
    first = api.post(f"/referrals/{rid}/transfer", holder_key, transfer, headers={"Idempotency-Key": idem})
    assert first.status == 200, first.body
    return rid, holder_key, keys["organisations"][other]["provider"], transfer, first


def test_a_transfer_replayed_by_the_holder_that_made_it_gets_its_first_answer(api, keys):
    """The transfer ended the holder's part: it no longer sees the referral, but a retry of its own transfer is
    answered as the transfer was (as it then saw the referral, its personal fields included), not 404."""
    rid, holder_key, _, transfer, first = _transferred(api, keys, "transfer-1")
    assert api.get(f"/referrals/{rid}", holder_key).status == 404
    again = api.post(f"/referrals/{rid}/transfer", holder_key, transfer, headers={"Idempotency-Key": "transfer-1"})
    assert (again.status, again.headers["idempotent-replayed"]) == (200, "true")
    assert again.body == first.body and again.body["participant"]["personal_data"] == "shown"


def test_once_the_new_holder_changes_the_referral_the_old_holders_replay_no_longer_shows_it(api, keys):
    """The first answer cannot be given again without showing the old holder what the new one recorded since: the
    replay answers as any read of the old holder would."""
    rid, holder_key, new_key, transfer, _ = _transferred(api, keys, "transfer-2")
    assert api.post(f"/referrals/{rid}/assessments", new_key, {"date": "2026-11-24"}).status == 201
    again = api.post(f"/referrals/{rid}/transfer", holder_key, transfer, headers={"Idempotency-Key": "transfer-2"})
    assert again.status == 404 and again.headers["content-type"].startswith("application/problem+json")
    assert "HJ246811D" not in json.dumps(again.body)
