"""Nightly compliance with a fixed clock: flags appear on the first day past due, not before; they resolve
when the event is recorded; windows, durations and tranches are enforced exactly once."""
from __future__ import annotations

import threading
from datetime import date

import pytest
from botocore.client import BaseClient

from tests.conftest import referral_body

PROGRAMMES = {
    "flexible-routeways-norfolk": ("kings-lynn-works", "standard", {}),
    "tees-valley-routes-to-work": ("middlesbrough-council", "weekly", {}),
    "work-choice": (None, None, {"disabled": True, "right_to_work": True}),
    "esf-community-hub": (None, None, {}),
    "local-supported-employment": ("leeds-city-council", "standard", {"learning_disability": True}),
}


def _night(on: str) -> dict:
    from chalicelib.services import nightly

    return nightly.run(date.fromisoformat(on))


def _refer(api, keys, monkeypatch, programme_id, on, nino="AB123456C"):
    provider_id, level, eligibility = PROGRAMMES[programme_id]
    book = api.get(f"/programmes/{programme_id}", keys["referrer"]).body
    provider_id = provider_id or book["allocations"][-1]["org_id"]
    level = level or list(book["rulebook"]["support_levels"])[0]
    monkeypatch.setenv("REFPAY_TODAY", on)
    body = referral_body(programme_id=programme_id, provider_id=provider_id, support_level=level, nino=nino,
                         consent={"given": True, "date": on})
    body["participant"]["eligibility"] = {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True, "on_other_dwp_programme": False, **eligibility}
    reply = api.post("/referrals", keys["referrer"], body)
    assert reply.status == 201, reply.body
    return reply.body, keys["organisations"][provider_id]["provider"]


def _flags(api, key, **query):
    q = "&".join(f"{k}={v}" for k, v in query.items())
    return api.get(f"/compliance/flags?limit=200&{q}", key).body["items"]


@pytest.mark.parametrize("programme_id", list(PROGRAMMES))
def test_each_programme_flags_an_unacknowledged_referral_the_first_day_past_due(api, keys, monkeypatch, programme_id):
    created, provider = _refer(api, keys, monkeypatch, programme_id, "2026-11-24")
    due = next(d["due"] for d in created["deadlines"] if d["rule"] == "acknowledge")
    assert due == "2026-11-26"  # 2 working days after Tuesday 24 November 2026
    _night("2026-11-26")
    assert _flags(api, provider) == []
    _night("2026-11-27")
    flags = _flags(api, provider)
    assert [(f["rule"], f["due"], f["referral_id"], f["status"]) for f in flags] == [
        ("acknowledge", "2026-11-26", created["id"], "open")]
    # The event is recorded: the flag resolves itself.
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-27")
    assert api.post(f"/referrals/{created['id']}/acknowledgement", provider,
                    {"decision": "accept", "date": "2026-11-27"}).status == 200
    assert _flags(api, provider, status="open") == []
    resolved = _flags(api, provider, status="resolved")
    assert [(f["rule"], f["resolved_on"]) for f in resolved] == [("acknowledge", "2026-11-27")]


def test_bank_holidays_shift_the_deadline(api, keys, monkeypatch):
    created, provider = _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-12-23")
    # Wed 23 Dec: Thu 24 is day 1; Christmas Day and the Boxing Day substitute (Mon 28) do not count.
    assert next(d["due"] for d in created["deadlines"] if d["rule"] == "acknowledge") == "2026-12-29"
    _night("2026-12-29")
    assert _flags(api, provider) == []
    _night("2026-12-30")
    assert [f["rule"] for f in _flags(api, provider)] == ["acknowledge"]


def test_runs_are_idempotent_and_a_second_run_writes_nothing(api, keys, monkeypatch):
    _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24")
    first = _night("2026-11-27")
    assert first["counts"]["flags"] == {"acknowledge": {"kings-lynn-works": 1}}
    assert first["counts"]["read"] == 1 and first["finished_at"]
    again = _night("2026-11-27")
    assert again == first  # the run is complete: nothing is read or written again
    later = _night("2026-11-28")
    assert later["counts"].get("flags", {}) == {} and later["counts"]["read"] == 0


def test_provider_sees_only_its_own_flags(api, keys, monkeypatch):
    _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24")
    _night("2026-11-27")
    orgs = keys["organisations"]
    assert len(_flags(api, orgs["kings-lynn-works"]["provider"])) == 1
    assert len(_flags(api, keys["prime"])) == 1  # the prime sees its subcontractor's
    assert _flags(api, orgs["great-yarmouth-works"]["provider"]) == []
    assert _flags(api, orgs["middlesbrough-council"]["provider"]) == []
    assert _flags(api, keys["prime"], provider_id="great-yarmouth-works") == []
    assert len(_flags(api, keys["prime"], rule="acknowledge", programme_id="flexible-routeways-norfolk")) == 1
    summary = api.get("/compliance/runs/2026-11-27", orgs["kings-lynn-works"]["provider"]).body
    assert summary["flags"] == {"acknowledge": {"kings-lynn-works": 1}}
    assert api.get("/compliance/runs/2026-11-27", orgs["middlesbrough-council"]["provider"]).body["flags"] == {}
    assert api.get("/compliance/runs/2026-11-01", keys["prime"]).status == 404
    assert api.get("/compliance/runs/yesterday", keys["prime"]).status == 422


def test_reviews_missed_against_the_cadence_and_assessment_overdue(api, keys, monkeypatch):
    created, provider = _refer(api, keys, monkeypatch, "tees-valley-routes-to-work", "2026-11-02")
    rid = created["id"]
    for path, body in [("acknowledgement", {"decision": "accept", "date": "2026-11-02"}),
                       ("start", {"date": "2026-11-02"})]:
        assert api.post(f"/referrals/{rid}/{path}", provider, body).status == 200
    # Assessment within 2 weeks (14 days) of the referral: due 16 Nov, flagged on 17 Nov.
    _night("2026-11-16")
    assert _flags(api, provider) == []
    _night("2026-11-17")
    assert {f["rule"] for f in _flags(api, provider, status="open")} == {"assessment", "action_plan"}
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-18")
    api.post(f"/referrals/{rid}/assessments", provider, {"date": "2026-11-18"})
    api.post(f"/referrals/{rid}/action-plans", provider, {"date": "2026-11-18"})
    assert _flags(api, provider, status="open") == []
    # Weekly reviews from the action plan: due 25 Nov; missed on 26 Nov.
    _night("2026-11-25")
    assert _flags(api, provider, status="open") == []
    _night("2026-11-26")
    assert [(f["rule"], f["due"]) for f in _flags(api, provider, status="open")] == [("review", "2026-11-25")]
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-26")
    api.post(f"/referrals/{rid}/reviews", provider, {"date": "2026-11-26"})
    assert _flags(api, provider, status="open") == []


def test_unstarted_referrals_are_closed_once_the_window_has_shut(api, keys, monkeypatch):
    created, provider = _refer(api, keys, monkeypatch, "local-supported-employment", "2027-03-30")
    start_due = next(d["due"] for d in created["deadlines"] if d["rule"] == "start")
    assert start_due == "2027-04-20"  # 15 working days; the window shut on 31 March
    _night("2027-04-21")
    referral = api.get(f"/referrals/{created['id']}", provider).body
    assert referral["status"] == "did_not_start" and referral["status_reason"] == "not_started_by_deadline"
    flags = _flags(api, provider)
    closure = next(f for f in flags if f["rule"] == "close_unstarted")
    assert closure["action"].startswith("closed") and closure["status"] == "resolved"
    assert _flags(api, provider, status="open") == []  # the missed start is answered by the closure
    events = api.get(f"/referrals/{created['id']}/events", provider).body["items"]
    assert events[-1]["type"] == "close_unstarted" and events[-1]["actor"]["org_id"] == "refpay-nightly"
    used = {a["org_id"]: a["used"] for a in api.get("/programmes/local-supported-employment", provider).body["allocations"]}
    assert used["leeds-city-council"] == 0  # the place is given back
    # While the window is open an unstarted referral is flagged but not closed.
    other, other_provider = _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24", nino="AB000002A")
    _night("2026-12-16")
    assert api.get(f"/referrals/{other['id']}", other_provider).body["status"] == "referred"
    assert "start" in {f["rule"] for f in _flags(api, other_provider)}


def test_an_unstarted_referral_flagged_before_the_window_shut_is_still_closed_once(api, keys, monkeypatch):
    """Seed 004: 'all referrals must be in place within an 8 month window' (1 August 2026 to 31 March 2027)."""
    created, provider = _refer(api, keys, monkeypatch, "local-supported-employment", "2027-01-05")
    rid = created["id"]
    monkeypatch.setenv("REFPAY_TODAY", "2027-01-05")
    assert api.post(f"/referrals/{rid}/accept", provider, {"date": "2027-01-05"}).status == 200
    start_due = next(d["due"] for d in api.get(f"/referrals/{rid}", provider).body["deadlines"]
                     if d["rule"] == "start")
    assert start_due == "2027-01-26"  # 15 working days after Tuesday 5 January 2027
    _night("2027-01-27")  # the window is open: the missed start is flagged, the referral stays open
    assert [(f["rule"], f["status"]) for f in _flags(api, provider)] == [("start", "open")]
    assert api.get(f"/referrals/{rid}", provider).body["status"] == "accepted"
    _night("2027-03-31")  # the window's last day: still open
    assert api.get(f"/referrals/{rid}", provider).body["status"] == "accepted"
    first = _night("2027-04-01")  # the day after it shut
    referral = api.get(f"/referrals/{rid}", provider).body
    assert (referral["status"], referral["status_reason"], referral["closed_on"]) == (
        "did_not_start", "not_started_by_deadline", "2027-04-01")
    assert first["counts"]["closed"] == {"leeds-city-council": 1}
    assert {(f["rule"], f["status"]) for f in _flags(api, provider)} == {
        ("start", "resolved"), ("close_unstarted", "resolved")}
    for later in ("2027-04-02", "2027-06-01", "2028-01-31"):
        assert _night(later)["counts"].get("closed", {}) == {}
    events = api.get(f"/referrals/{rid}/events", provider).body["items"]
    assert [e["type"] for e in events].count("close_unstarted") == 1


def test_a_nightly_run_ahead_of_today_and_then_the_late_step_resolves_the_flag(api, keys, monkeypatch):
    """A run for a later date than the API's (a replay, or a run ahead): the step recorded afterwards resolves
    the flag it answers, whatever the dates."""
    created, provider = _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24")
    _night("2026-12-01")  # ahead: the API's today is still 24 November
    assert [(f["rule"], f["due"], f["status"]) for f in _flags(api, provider)] == [
        ("acknowledge", "2026-11-26", "open")]
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-25")
    assert api.post(f"/referrals/{created['id']}/accept", provider, {"date": "2026-11-25"}).status == 200
    assert _flags(api, provider, status="open") == []
    assert [(f["rule"], f["resolved_on"]) for f in _flags(api, provider, status="resolved")] == [
        ("acknowledge", "2026-11-25")]


def test_participants_past_maximum_time_are_flagged_for_exit(api, keys, monkeypatch):
    created, provider = _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-05-01")
    rid = created["id"]
    for path, body in [("acknowledgement", {"decision": "accept", "date": "2026-05-01"}),
                       ("start", {"date": "2026-05-01"}), ("assessments", {"date": "2026-05-01"}),
                       ("action-plans", {"date": "2026-05-01"})]:
        api.post(f"/referrals/{rid}/{path}", provider, body)
    _night("2026-10-30")  # 26 weeks after 1 May 2026 is 30 October
    assert "max_duration" not in {f["rule"] for f in _flags(api, provider)}
    _night("2026-10-31")
    assert "max_duration" in {f["rule"] for f in _flags(api, provider, status="open")}
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-02")
    api.post(f"/referrals/{rid}/exit", provider, {"date": "2026-11-02", "reason": "max_duration",
                                                   "exit_review": {"date": "2026-11-02", "destination": "unemployed"}})
    assert _flags(api, provider, status="open") == []


def _lse_started(api, keys, monkeypatch, nino="AB123456C"):
    created, provider = _refer(api, keys, monkeypatch, "local-supported-employment", "2026-11-24", nino=nino)
    for path in ("acknowledgement", "start"):
        body = {"decision": "accept", "date": "2026-11-24"} if path == "acknowledgement" else {"date": "2026-11-24"}
        assert api.post(f"/referrals/{created['id']}/{path}", provider, body).status == 200
    return created["id"], keys["organisations"]["leeds-city-council"]["finance"]


def _tranches(api, key):
    return [l for l in api.get("/claims?limit=200", key).body["items"] if l["milestone"] == "service_fee_tranche"]


def test_service_fee_tranches_fall_due_monthly_in_arrears_exactly_once(api, keys, monkeypatch):
    rid, finance = _lse_started(api, keys, monkeypatch)
    _night("2026-12-23")
    assert _tranches(api, finance) == []
    _night("2026-12-24")
    first = _tranches(api, finance)
    assert [(l["line_id"], l["amount_pence"], l["event_date"]) for l in first] == [
        (f"{rid}:dwp-participant-fee:service_fee_tranche:1", 23334, "2026-12-24")]
    _night("2026-12-24")
    assert len(_tranches(api, finance)) == 1
    # Nights missed are caught up: one run after the last tranche pays the rest, and the total is exact.
    _night("2027-09-01")
    lines = _tranches(api, finance)
    assert len(lines) == 9 and sum(l["amount_pence"] for l in lines) == 210000
    everything = api.get("/claims?limit=200", finance).body["items"]
    by_funder = {}
    for line in everything:
        by_funder[line["funder"]] = by_funder.get(line["funder"], 0) + line["amount_pence"]
    assert by_funder == {"dwp": 350000, "local-authority": 150000}


def test_tranches_stop_when_the_participant_exits(api, keys, monkeypatch):
    rid, finance = _lse_started(api, keys, monkeypatch)
    _night("2027-01-24")
    monkeypatch.setenv("REFPAY_TODAY", "2027-02-01")
    provider = keys["organisations"]["leeds-city-council"]["provider"]
    assert api.post(f"/referrals/{rid}/exit", provider, {
        "date": "2027-02-01", "reason": "withdrew",
        "exit_review": {"date": "2027-02-01", "destination": "unemployed"}}).status == 200
    _night("2027-09-01")
    assert len(_tranches(api, finance)) == 2


def test_overlapping_runs_pay_each_tranche_once(api, keys, monkeypatch):
    from chalicelib.services import nightly
    from chalicelib.store.transaction import Transaction

    for nino in ("AB000001A", "AB000002A", "AB000003A"):
        _lse_started(api, keys, monkeypatch, nino)
    lock = threading.RLock()
    real, real_call = Transaction.commit, BaseClient._make_api_call

    def serial_commit(self):  # the in-memory fake is not thread-safe; DynamoDB serialises each item itself
        with lock:
            return real(self)

    def serial_call(self, operation, params):  # nor are moto's reads while another thread writes
        with lock:
            return real_call(self, operation, params)

    monkeypatch.setattr(Transaction, "commit", serial_commit)
    monkeypatch.setattr(BaseClient, "_make_api_call", serial_call)
    errors = []

    def go():
        try:
            nightly.run(date(2027, 3, 1))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    monkeypatch.setattr(Transaction, "commit", real)
    monkeypatch.setattr(BaseClient, "_make_api_call", real_call)
    assert errors == []
    lines = _tranches(api, keys["organisations"]["leeds-city-council"]["finance"])
    assert len(lines) == 3 * 3 and len({l["line_id"] for l in lines}) == 9


def test_a_run_that_crashes_half_way_resumes_without_repeating(api, keys, monkeypatch):
    from chalicelib.services import nightly
    from chalicelib.store.transaction import Transaction

    for nino in ("AB000001A", "AB000002A", "AB000003A", "AB000004A"):
        _lse_started(api, keys, monkeypatch, nino)
    real = Transaction.commit
    calls = {"n": 0}

    def crash_after_some(self):
        calls["n"] += 1
        if calls["n"] == 7:
            raise RuntimeError("the function timed out")
        return real(self)

    monkeypatch.setattr(Transaction, "commit", crash_after_some)
    with pytest.raises(RuntimeError):
        nightly.run(date(2027, 2, 24))
    monkeypatch.setattr(Transaction, "commit", real)
    partial = len(_tranches(api, keys["organisations"]["leeds-city-council"]["finance"]))
    assert 0 < partial < 12
    summary = nightly.run(date(2027, 2, 24))
    lines = _tranches(api, keys["organisations"]["leeds-city-council"]["finance"])
    assert len(lines) == 4 * 3 and len({l["line_id"] for l in lines}) == 12
    assert summary["finished_at"] and summary["shards_done"] == summary["shards"]


def test_programme_checks_report_allocation_cohort_and_targets(api, keys, monkeypatch):
    rid, finance = _lse_started(api, keys, monkeypatch)
    provider = keys["organisations"]["leeds-city-council"]["provider"]
    for path, body in [("assessments", {"date": "2026-11-24"}), ("action-plans", {"date": "2026-11-24"}),
                       ("outcomes", {"type": "job_start", "date": "2026-11-24", "employer_name": "Leeds Library",
                                     "hours_per_week": 12, "weekly_earnings_pence": 14000})]:
        assert api.post(f"/referrals/{rid}/{path}", provider, body).status == 201
    _night("2026-11-25")
    checks = {c["measure"]: c for c in api.get("/compliance/runs/2026-11-25", provider).body["checks"]}
    assert checks["allocation_used"]["actual"] == 1 and checks["allocation_used"]["base"] == 80
    cohort = checks["cohort_learning_disability_or_autism"]
    assert (cohort["actual"], cohort["base"], cohort["met"]) == (1, 1, True)
    assert (checks["job_starts"]["pct"], checks["job_starts"]["met"]) == (100.0, True)
    assert (checks["over_8_hours"]["actual"], checks["over_16_hours"]["actual"]) == (1, 0)
    assert checks["over_16_hours"]["met"] is False


def test_the_schedule_and_the_command_line_run_the_same_job(api, keys, monkeypatch, capsys):
    import json

    from chalice.test import Client

    import app as application
    import manage
    from chalicelib.schedules import nightly as schedules

    _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24")
    with Client(application.app, stage_name="dev") as client:
        event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                 resources=[], region="eu-west-2")
        event["time"] = "2026-11-27T01:30:00Z"
        result = client.lambda_.invoke("nightly_compliance", event)
        assert result.payload["run_date"] == "2026-11-27"
        assert result.payload["counts"]["flags"] == {"acknowledge": {"kings-lynn-works": 1}}
        handed_over = []
        monkeypatch.setattr(schedules, "invoke_shard", lambda fn, on, shard: handed_over.append((fn, on, shard)))
        # The test context has 3 s to live: too little to start, so the shard hands itself to a new invocation.
        shard = client.lambda_.invoke("nightly_shard", {"date": "2026-11-28", "shard": "s00"})
        assert shard.payload["unfinished"] == ["s00"] and shard.payload["shards_done"] == 0
        assert handed_over == [("nightly_shard", date(2026, 11, 28), "s00")]
        # Deployed, the schedule fans the run out: one asynchronous invocation per shard.
        monkeypatch.setenv("REFPAY_NIGHTLY_SHARD_FUNCTION", "refpay-prod-NightlyShard")
        handed_over.clear()
        fanned = client.lambda_.invoke("nightly_compliance", dict(event, time="2026-11-29T01:30:00Z"))
        assert fanned.payload == {"run_id": "nightly#2026-11-29", "fanned_out": 32}
        assert sorted(s for _, _, s in handed_over) == [f"s{n:02d}" for n in range(32)]
        assert {fn for fn, _, _ in handed_over} == {"refpay-prod-NightlyShard"}
    capsys.readouterr()
    assert manage.main(["nightly", "--date", "2026-11-27"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["flags"] == {"acknowledge": {"kings-lynn-works": 1}}


def test_a_transferred_referral_keeps_its_flag_and_is_not_flagged_twice(api, keys, monkeypatch):
    created, provider = _refer(api, keys, monkeypatch, "tees-valley-routes-to-work", "2026-11-02")
    rid = created["id"]
    for path, body in [("acknowledgement", {"decision": "accept", "date": "2026-11-02"}),
                       ("start", {"date": "2026-11-02"}), ("assessments", {"date": "2026-11-02"}),
                       ("action-plans", {"date": "2026-11-02"})]:
        api.post(f"/referrals/{rid}/{path}", provider, body)
    _night("2026-11-10")  # the weekly review due 9 November was missed
    assert [f["rule"] for f in _flags(api, provider, status="open")] == ["review"]
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-11")
    moved = api.post(f"/referrals/{rid}/transfer", provider, {
        "to_provider_id": "stockton-on-tees-council", "date": "2026-11-11",
        "handover": {"date": "2026-11-11"}})
    assert moved.status == 200, moved.body
    receiver = keys["organisations"]["stockton-on-tees-council"]["provider"]
    assert [f["rule"] for f in _flags(api, receiver, status="open")] == ["review"]  # the flag moved with it
    assert _flags(api, provider) == []
    second = _night("2026-11-11")
    assert second["counts"].get("flags", {}) == {}  # the same missed review is not flagged again
    assert len(_flags(api, receiver)) == 1


def test_a_shard_short_of_time_stops_and_a_later_invocation_finishes_it(api, keys, monkeypatch):
    from chalicelib.domain.compliance import shard_of
    from chalicelib.services import nightly

    ids = [_refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24", nino=f"AB{n:06d}A")[0]["id"]
           for n in range(1, 34)]  # 33 referrals over 32 shards: some shard holds two or more
    shard = max({shard_of(i) for i in ids}, key=lambda s: sum(1 for i in ids if shard_of(i) == s))
    budget = iter([120_000, 120_000, 0])  # time to start and settle one item, then the invocation runs short
    first = nightly.run(date(2026, 11, 27), [shard], time_left=lambda: next(budget, 0))
    assert first["unfinished"] == [shard]
    second = nightly.run(date(2026, 11, 27), [shard], time_left=lambda: 600_000)
    assert second["unfinished"] == [] and second["shards_done"] == 1
    same_shard = sum(1 for i in ids if shard_of(i) == shard)
    flags = [f for f in _flags(api, keys["provider"]) if shard_of(f["referral_id"]) == shard]
    assert len(flags) == same_shard  # each raised once across the two invocations
    assert second["counts"]["flags"]["acknowledge"]["kings-lynn-works"] == same_shard


def test_flags_page_with_a_cursor(api, keys, monkeypatch):
    for n in range(1, 6):
        _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24", nino=f"AB00000{n}A")
    _night("2026-11-27")
    seen, cursor = [], None
    while True:
        page = api.get("/compliance/flags?limit=2" + (f"&cursor={cursor}" if cursor else ""), keys["provider"]).body
        seen += [f["id"] for f in page["items"]]
        if not page["has_more"]:
            break
        cursor = page["cursor"]
    assert len(seen) == 5 == len(set(seen))
    other = api.get(f"/compliance/flags?limit=2&cursor={cursor or 'x.y'}", keys["organisations"]["great-yarmouth-works"]["provider"])
    assert other.status == 422


def _flag_items(rid: str, rule: str, due: str) -> int:
    """Items of the flags table for this deadline, a step's resolved marker included (it is in no index)."""
    from chalicelib.domain.compliance import flag_id
    from chalicelib.store.models import FlagItem

    return FlagItem.count(flag_id(rid, rule, date.fromisoformat(due)))


def _referral(rid: str):
    from chalicelib.services.deps import store

    return store().referrals.get(rid)


def test_a_deadline_answered_in_time_writes_no_flag_and_no_run_raises_one(api, keys, monkeypatch):
    """The step deletes the deadline's pending item and writes nothing to the flags: a run reads nothing for it."""
    created, provider = _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24")
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-25")
    assert api.post(f"/referrals/{created['id']}/accept", provider, {"date": "2026-11-25"}).status == 200
    assert _flag_items(created["id"], "acknowledge", "2026-11-26") == 0
    assert _night("2026-11-27")["counts"]["flags"] == {}
    assert _flag_items(created["id"], "acknowledge", "2026-11-26") == 0


def test_a_raised_flag_is_recorded_on_the_referral_until_the_step_that_answers_it(api, keys, monkeypatch):
    created, provider = _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24")
    rid = created["id"]
    version = _referral(rid).version
    _night("2026-11-27")
    flagged = _referral(rid)
    assert (flagged.flagged, flagged.version) == (("acknowledge@2026-11-26",), version + 1)
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-27")
    assert api.post(f"/referrals/{rid}/accept", provider, {"date": "2026-11-27"}).status == 200
    assert _referral(rid).flagged == ()
    assert [(f["rule"], f["status"]) for f in _flags(api, provider)] == [("acknowledge", "resolved")]


def test_a_step_answering_the_deadline_after_a_run_read_its_item_leaves_that_run_nothing_to_flag(
        api, keys, monkeypatch):
    """The run read the due item; the step answered the deadline before the run's write: the run's write finds
    the item gone and raises no flag (and records none on the referral)."""
    from chalicelib.domain import compliance
    from chalicelib.services import nightly
    from chalicelib.services.deps import store

    created, provider = _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24")
    rid, on = created["id"], date(2026, 11, 27)
    (work,) = [w for shard in compliance.all_shards() for w in store().compliance.due(shard, on)
               if w.referral_id == rid and w.rule == "acknowledge"]
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-27")
    assert api.post(f"/referrals/{rid}/accept", provider, {"date": "2026-11-27"}).status == 200
    counts = {"flags": {}, "closed": {}}
    nightly.handle(work, on, nightly.run_id(on), counts)
    assert counts["flags"] == {}
    assert _flag_items(rid, "acknowledge", "2026-11-26") == 0
    assert _referral(rid).flagged == ()


def test_a_step_that_read_the_referral_before_a_run_flagged_it_is_refused_and_its_retry_resolves_the_flag(
        api, keys, monkeypatch):
    """The run flags the deadline between the step's read and its write: the flag is a new version of the
    referral, so the step's write is refused (409, nothing written) rather than leaving the flag open; the retry
    reads the flag and resolves it."""
    from chalicelib.services import journey

    created, provider = _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24")
    rid = created["id"]
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-27")
    commit_step = journey.commit_step
    runs = []

    def run_first(*args, **kwargs):
        if not runs:
            runs.append(_night("2026-11-27"))
        return commit_step(*args, **kwargs)

    monkeypatch.setattr(journey, "commit_step", run_first)
    refused = api.post(f"/referrals/{rid}/accept", provider, {"date": "2026-11-27"})
    assert refused.status == 409, refused.body
    assert [(f["rule"], f["status"]) for f in _flags(api, provider)] == [("acknowledge", "open")]
    assert _referral(rid).status == "referred"
    assert api.post(f"/referrals/{rid}/accept", provider, {"date": "2026-11-27"}).status == 200
    assert [(f["rule"], f["status"]) for f in _flags(api, provider)] == [("acknowledge", "resolved")]
    assert _referral(rid).flagged == ()


def test_open_flags_raised_before_referrals_recorded_them_are_recorded_once_and_then_resolve(
        api, keys, monkeypatch, capsys):
    """A flag raised by a version whose referrals did not record the flags raised on them: the step answering its
    deadline would leave it open. `manage.py record-open-flags` records each open flag on its referral (reading the
    delivery organisations' open flags, never a scan), once; the late step then resolves it."""
    import manage
    from chalicelib.store.models import ReferralItem

    first, provider = _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24")
    second, _ = _refer(api, keys, monkeypatch, "flexible-routeways-norfolk", "2026-11-24", nino="AB123457C")
    _night("2026-11-27")
    for rid in (first["id"], second["id"]):  # as that version left them: the flags are not on the referrals
        item = ReferralItem.get(rid)
        item.flagged = None
        item.save()
    assert _referral(first["id"]).flagged == ()
    assert manage.main(["record-open-flags"]) == 0
    found = _printed(capsys)
    assert (found["open_flags"], found["recorded"], found["already_recorded"]) == (2, 2, 0), found
    assert _referral(first["id"]).flagged == ("acknowledge@2026-11-26",)
    assert manage.main(["record-open-flags"]) == 0  # again: nothing more to record
    found = _printed(capsys)
    assert (found["recorded"], found["already_recorded"]) == (0, 2), found
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-27")
    assert api.post(f"/referrals/{first['id']}/accept", provider, {"date": "2026-11-27"}).status == 200
    assert [(f["referral_id"], f["status"]) for f in _flags(api, provider, status="resolved")] == [
        (first["id"], "resolved")]
    assert [f["referral_id"] for f in _flags(api, provider, status="open")] == [second["id"]]


def _printed(capsys) -> dict:
    """The JSON a command printed (the metrics' lines the app logs to stdout left out)."""
    import json

    out = capsys.readouterr().out
    return json.loads(out[out.index("{\n"):])
