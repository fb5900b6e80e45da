"""The Local Supported Employment trailblazer (seed 004) replayed night by night on the in-memory store.

Seed 004: the trailblazer runs for 18 months from early August, and "all referrals must be in place within an 8
month window" (the rulebook: 1 August 2026 to 31 March 2027). Referrals are made across the window by three
authorities; some start, some are rejected or recorded as did-not-start, and some never start: among those, some
missed their start deadline (and were flagged) long before the window shut, some were never acknowledged, and some
were made in the window's last weeks, so their start deadline falls after it shut. The nightly run is then run for
every day of the 18 months with the clock pinned to that day. Every referral that never started is closed as
did-not-start exactly once, on the day after the window shut or after its start deadline if later; nothing else
is closed.
"""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from chalicelib.adapters.rulebooks import get_rulebook
from chalicelib.domain import deadlines, steps
from chalicelib.domain.access import Principal
from chalicelib.services import deps, journey, nightly
from tests.fakes.memory import memory_store

PROGRAMME = "local-supported-employment"
FIRST_DAY, LAST_DAY = date(2026, 8, 1), date(2028, 1, 31)  # 18 months from the trailblazer's August go-live
WINDOW_SHUTS = date(2027, 3, 31)
REFERRER = Principal("jobcentre-plus-norwich", "referrer", frozenset({"referrer"}), "key_ref")
AUTHORITIES = ("bristol-city-council", "leeds-city-council", "cardiff-council")
# What happens to the n-th referral (n modulo 6) after it is made.
FATES = ("starts", "accepted_never_starts", "never_acknowledged", "rejected", "did_not_start", "starts_late")


def _provider(org_id: str) -> Principal:
    return Principal(org_id, "local_authority", frozenset({"provider"}), f"key_{org_id}")


@pytest.fixture
def world(monkeypatch):
    store, data = memory_store()
    with deps.using(store):
        yield data, monkeypatch


def _on(monkeypatch, day: date) -> None:
    monkeypatch.setenv("REFPAY_TODAY", day.isoformat())


def _refer(n: int, day: date) -> journey.Result:
    payload = {"programme_id": PROGRAMME, "provider_id": AUTHORITIES[n % 3], "support_level": "standard",
               "consent": {"given": True, "date": day},
               "participant": {"nino": f"AB{n:06d}A", "given_name": "Ada", "family_name": "Lovelace",
                               "date_of_birth": date(1990, 5, 17), "postcode": "LS1 4AP",
                               "eligibility": {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True, "on_other_dwp_programme": False,
                                               "learning_disability": n % 2 == 0}}}
    tx = deps.store().transaction()
    result = journey.create_referral(REFERRER, payload, tx)
    tx.commit()
    return result


def _take(referral_id: str, org_id: str, name: str, day: date, **body) -> None:
    tx = deps.store().transaction()
    journey.record(_provider(org_id), referral_id, steps.get(name), {"date": day, **body}, tx)
    tx.commit()


def _agenda(data) -> dict[date, list]:
    """Referral days across the window (every 5th day, and the window's last days), each with its fate."""
    days = [FIRST_DAY + timedelta(days=d) for d in range(0, (WINDOW_SHUTS - FIRST_DAY).days + 1, 5)]
    days += [date(2027, 3, 29), date(2027, 3, 30), date(2027, 3, 31)]
    agenda: dict[date, list] = {}
    for n, day in enumerate(days):
        agenda.setdefault(day, []).append(("refer", n, FATES[n % len(FATES)]))
    return agenda


def _follow_up(agenda: dict[date, list], n: int, fate: str, referral_id: str, org_id: str, made: date,
               start_due: date) -> None:
    """Schedule the steps a referral's fate needs, on the days they happen."""
    def at(day: date, *step) -> None:
        agenda.setdefault(day, []).append(("step", referral_id, org_id, *step))

    if fate in ("starts", "accepted_never_starts", "did_not_start", "starts_late"):
        at(made, "accept", {})
    if fate == "starts":
        at(made + timedelta(days=3), "start", {})
    elif fate == "rejected":
        at(made, "reject", {"reason": "inappropriate"})
    elif fate == "did_not_start":
        at(made + timedelta(days=2), "did_not_start", {"reason": "failed_to_attend"})
    elif fate == "starts_late":  # starts after its start deadline was flagged, before the window shuts
        late = start_due + timedelta(days=3)
        if late <= WINDOW_SHUTS:
            at(late, "start", {})


def test_every_unstarted_referral_is_closed_exactly_once_across_the_18_months(world):
    data, monkeypatch = world
    rulebook = get_rulebook(PROGRAMME)
    assert (rulebook.referral_opens, rulebook.referral_closes) == (FIRST_DAY, WINDOW_SHUTS)
    agenda = _agenda(data)
    fates: dict[str, str] = {}
    start_dues: dict[str, date] = {}
    runs = 0
    day = FIRST_DAY
    while day <= LAST_DAY:
        _on(monkeypatch, day)
        while agenda.get(day):  # (a referral made today schedules its same-day steps after it)
            item = agenda[day].pop(0)
            if item[0] == "refer":
                _, n, fate = item
                created = _refer(n, day).referral
                start_due = next(d.due for d in deadlines.running(rulebook, created) if d.rule == "start")
                fates[created.id], start_dues[created.id] = fate, start_due
                _follow_up(agenda, n, fate, created.id, created.provider_org_id, day, start_due)
            else:
                _, referral_id, org_id, name, body = item
                _take(referral_id, org_id, name, day, **body)
        agenda.pop(day, None)
        summary = nightly.run(day)
        assert summary["finished_at"] and summary["unfinished"] == []
        runs += 1
        day += timedelta(days=1)
    assert runs == (LAST_DAY - FIRST_DAY).days + 1 == 549
    assert agenda == {}

    closures = Counter(e.referral_id for events in data.events.values() for e in events
                       if e.type == "close_unstarted")
    never_started = {rid for rid, fate in fates.items()
                     if fate in ("accepted_never_starts", "never_acknowledged")
                     or (fate == "starts_late" and start_dues[rid] + timedelta(days=3) > WINDOW_SHUTS)}
    assert len(never_started) >= 12
    assert set(closures) == never_started
    assert set(closures.values()) == {1}
    for rid in never_started:
        referral = data.referrals[rid]
        expected = max(WINDOW_SHUTS, start_dues[rid]) + timedelta(days=1)
        assert (referral.status, referral.status_reason, referral.closed_on) == (
            "did_not_start", "not_started_by_deadline", expected), rid
        assert data.participants[referral.participant_hash].active_referral_id is None
    # Some of them had their missed start flagged long before the window shut (the case that was never closed).
    flagged_early = {f.referral_id for f in data.flags.values() if f.rule == "start" and f.run_id
                     and f.raised_on < WINDOW_SHUTS}
    assert flagged_early & never_started
    # Some were made so late that their start deadline fell after the window shut: closed after that deadline.
    assert any(start_dues[rid] > WINDOW_SHUTS for rid in never_started)
    # Nothing else was closed by the run: starts stayed on provision; rejections and did-not-starts stand.
    for rid, fate in fates.items():
        if rid in never_started:
            continue
        status = data.referrals[rid].status
        assert status == {"rejected": "rejected", "did_not_start": "did_not_start"}.get(fate, status)
        assert status != "did_not_start" or data.referrals[rid].status_reason == "failed_to_attend"
    # Every closure's flag is settled, no flag is left open for a closed referral's start, and nothing is pending
    # for a closed referral but the erasure of its personal data when its retention ends.
    for rid in never_started:
        assert not [f for f in data.flags.values() if f.referral_id == rid and f.status == "open" and f.run_id]
        assert [w.work_key.rsplit("#", 1)[1] for w in data.pending.values() if w.referral_id == rid] == [
            "erase_personal_data"]
    # The places of the closed referrals were given back.
    used = data.allocations[(PROGRAMME, "*")]
    assert used == sum(1 for rid in fates if data.referrals[rid].status not in ("rejected", "did_not_start"))
