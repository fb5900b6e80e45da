"""Retries with one Idempotency-Key racing each other: every one of them gets the first answer, and the write
happens once. (A client that times out and retries while its first request is still running does exactly this.)

Each race is run for ROUNDS rounds: the window it probes is narrow, so a round can go right by luck. (When a retry
that found no record yet answered with the first request's own refusal, 422 already_active or 409
invalid-transition, eight racing retries hit that window in about four rounds out of five.)"""
from __future__ import annotations

from tests.integration.conftest import fresh_key, journey, race, referral_body

N = 8
ROUNDS = 10


def test_same_key_retries_of_a_referral_all_get_the_first_answer(server):
    for attempt in range(ROUNDS):
        body = referral_body()
        key = fresh_key("referral")
        replies = race(N, lambda i: server.post("/referrals", server.keys["referrer"], body,
                                                headers={"Idempotency-Key": key}))
        assert {r.body.get("id") for r in replies if r.status == 201} != set(), replies
        assert [r.status for r in replies] == [201] * N, (attempt, replies)
        assert all(r.body == replies[0].body for r in replies), replies
        rid = replies[0].body["id"]
        events = server.get(f"/referrals/{rid}/events", server.keys["provider"]).body["items"]
        assert len(events) == 1, events  # created once
        later = server.post("/referrals", server.keys["referrer"], body, headers={"Idempotency-Key": key})
        assert later.status == 201 and later.body == replies[0].body
        assert later.headers["idempotent-replayed"] == "true"


def test_same_key_retries_of_a_journey_step_all_get_the_first_answer(server):
    provider = server.keys["provider"]
    for attempt in range(ROUNDS):
        rid = journey(server, [])
        key = fresh_key("ack")
        payload = {"decision": "accept", "date": "2026-11-24"}
        replies = race(N, lambda i: server.post(f"/referrals/{rid}/acknowledgement", provider, payload,
                                                headers={"Idempotency-Key": key}))
        assert [r.status for r in replies] == [200] * N, (attempt, replies)
        assert all(r.body == replies[0].body for r in replies), replies
        assert replies[0].body["status"] == "accepted"
        events = server.get(f"/referrals/{rid}/events", provider).body["items"]
        assert len(events) == 2, events  # created, accepted: the step was recorded once


def test_same_key_retries_after_the_first_answer_are_replayed(server):
    """The sequential case, on the same engine: it holds today, and it is what the racing case must become."""
    body = referral_body()
    key = fresh_key("referral")
    first = server.post("/referrals", server.keys["referrer"], body, headers={"Idempotency-Key": key})
    assert first.status == 201
    replies = [server.post("/referrals", server.keys["referrer"], body, headers={"Idempotency-Key": key})
               for _ in range(3)]
    assert all(r.status == 201 and r.body == first.body and r.headers["idempotent-replayed"] == "true"
               for r in replies)
