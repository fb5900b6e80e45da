"""Finance decisions racing on one submitted claim: exactly one decision is made, every other request is refused
and changes nothing, and the line ends in the winner's state.

A loser is refused in one of two ways, depending on when it reads the line: while the winner's transaction is
still open, its own transaction's condition fails (409 conflict); once the winner has committed, it finds the
line decided (422 claim-refused, reason already_decided, the answer a second decision gets at any time)."""
from __future__ import annotations

from tests.integration.conftest import TODAY, fresh_key, race, referral_body

N = 8


def _submitted_claim(server) -> str:
    """A Level 2 group's mentoring claim: the group refers to the prime, which routes the person to a Level 3
    deliverer with the group mentoring; the deliverer starts them and the mentor records a contact and claims."""
    group = server.orgs["broadland-mentors"]
    rid = server.post("/referrals", group["referrer"], referral_body(provider_id="trobius")).body["id"]
    routed = server.post(f"/referrals/{rid}/route", server.orgs["trobius"]["provider"],
                         {"date": TODAY, "to_provider_id": "kings-lynn-works"})
    assert routed.status == 200, routed
    deliverer = server.orgs["kings-lynn-works"]["provider"]
    for step in ("accept", "start"):
        assert server.post(f"/referrals/{rid}/{step}", deliverer, {"date": TODAY}).status == 200
    contact = server.post(f"/referrals/{rid}/mentoring_contact", group["provider"],
                          {"date": TODAY, "minutes": 45, "mode": "in_person"})
    assert contact.status == 201, contact
    made = server.post("/claims", group["provider"], {"referral_id": rid, "fee_id": "level-2-support",
                                                      "amount_pence": 15000, "event_date": TODAY,
                                                      "evidence_ref": "case-notes/118", "contact_ids": ["mc1"]})
    assert made.status == 201 and made.body["status"] == "submitted", made
    return made.body["line_id"]


def _decide(server, line_id: str, i: int):
    if i % 2:
        return "rejected", server.post(f"/claims/{line_id}/reject", server.keys["finance"],
                                       {"reason": "no evidence on file"})
    return "approved", server.post(f"/claims/{line_id}/approve", server.keys["finance"], {})


def _refused_as_decided(reply) -> bool:
    if not reply.headers["content-type"].startswith("application/problem+json"):
        return False
    return reply.status == 409 or (reply.status == 422 and reply.body.get("reason") == "already_decided")


def test_concurrent_approvals_and_rejections_of_one_claim_make_one_decision(server):
    for _ in range(5):
        line_id = _submitted_claim(server)
        outcomes = race(N, lambda i: _decide(server, line_id, i))
        won = [(decision, reply) for decision, reply in outcomes if reply.status == 200]
        assert len(won) == 1, outcomes
        (decision, reply), = won
        assert reply.body["status"] == decision
        lost = [reply for _, reply in outcomes if reply.status != 200]
        assert len(lost) == N - 1 and all(_refused_as_decided(r) for r in lost), lost
        line = server.get(f"/claims/{line_id}", server.keys["finance"]).body
        assert line["status"] == decision
        stored = server.table("payment-lines").get_item(Key={"line_id": line_id}, ConsistentRead=True)["Item"]
        assert stored["status"] == decision


def test_concurrent_bulk_decisions_on_overlapping_claims_are_all_or_none(server):
    """Two bulk decisions share a line: one commits whole, the other changes nothing."""
    lines = [_submitted_claim(server) for _ in range(3)]
    bodies = [{"line_ids": lines[:2], "decision": "approve"},
              {"line_ids": lines[1:], "decision": "reject", "reason": "duplicate evidence"}]
    replies = race(2, lambda i: server.post("/claims/decisions", server.keys["finance"], bodies[i]))
    assert sorted(r.status for r in replies) in ([200, 409], [200, 422]), replies
    assert all(_refused_as_decided(r) for r in replies if r.status != 200), replies
    winner = next(i for i, r in enumerate(replies) if r.status == 200)
    statuses = {l: server.get(f"/claims/{l}", server.keys["finance"]).body["status"] for l in lines}
    expected = "approved" if winner == 0 else "rejected"
    decided = bodies[winner]["line_ids"]
    assert statuses == {l: (expected if l in decided else "submitted") for l in lines}, statuses


def test_same_key_retries_of_a_bulk_decision_all_get_the_first_answer(server):
    """A decision reads its lines with its idempotency record: a retry that read them before the first committed
    fails its transaction and answers with the first's outcome, read afresh; one that read after is a replay."""
    for attempt in range(5):
        lines = [_submitted_claim(server) for _ in range(2)]
        key, body = fresh_key("decide"), {"line_ids": lines, "decision": "approve"}
        replies = race(N, lambda i: server.post("/claims/decisions", server.keys["finance"], body,
                                                headers={"Idempotency-Key": key}))
        assert [r.status for r in replies] == [200] * N, (attempt, replies)
        assert all(r.body == replies[0].body for r in replies), (attempt, replies)
        assert [x["status"] for x in replies[0].body["items"]] == ["approved", "approved"]
        assert sum(r.headers.get("idempotent-replayed") != "true" for r in replies) == 1, replies
