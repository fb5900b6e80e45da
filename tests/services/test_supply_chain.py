"""The supply chain on the in-memory store: the commissioner pays a prime, the prime passes money on to two
subcontractors (one in time, one late), the nightly run flags the late one, and each caller sees only its part."""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.access import Principal
from chalicelib.domain.errors import Forbidden, NotFound, ValidationFailed
from chalicelib.services import deps, nightly, supply_chain, validation
from tests.services.money_helpers import STARTED, commit, cut_file, in_memory, journey_to

TODAY = date(2026, 11, 24)
WORK_CHOICE = "work-choice"
NOV = "2026-11"
REFERRER = Principal("jobcentre-plus-norwich", "referrer", frozenset({"referrer"}), "key_ref")
DELIVERER = Principal("kings-lynn-works", "subcontractor", frozenset({"provider"}), "key_d", "trobius")
PRIME_FINANCE = Principal("pathway-employment-prime", "prime", frozenset({"finance"}), "key_pf")
BRIGHTSIDE = Principal("brightside-supported-employment", "subcontractor", frozenset({"provider"}), "key_b",
                       "pathway-employment-prime")
BRIGHTSIDE_FINANCE = Principal("brightside-supported-employment", "subcontractor", frozenset({"finance"}), "key_bf",
                               "pathway-employment-prime")
RIVERSIDE = Principal("riverside-disability-works", "subcontractor", frozenset({"provider"}), "key_r",
                      "pathway-employment-prime")
DWP = Principal("dwp-commissioning", "commissioner", frozenset({"finance"}), "key_dwp")
TROBIUS_FINANCE = Principal("trobius", "prime", frozenset({"finance"}), "key_tf")
TVCA = Principal("tees-valley-combined-authority", "commissioner", frozenset({"finance"}), "key_tvca")


@pytest.fixture
def data():
    yield from in_memory()


def _job(provider: Principal, nino: str) -> str:
    job = {"employer_name": "Tyne Foods", "hours_per_week": 20, "weekly_earnings_pence": 24000}
    return journey_to(REFERRER, provider, WORK_CHOICE, nino, {"disabled": True, "right_to_work": True},
                      (*STARTED, ("assessment", {}), ("job_start", job)))


def _paid_november(monkeypatch) -> str:
    """Two subcontractors' job starts in a November file that DWP validated and paid on 24 November."""
    _job(BRIGHTSIDE, "AB000001A")
    _job(RIVERSIDE, "AB000002A")
    record = cut_file(PRIME_FINANCE, WORK_CHOICE, NOV, None)
    validation.draw(DWP, record.claim_file_id, "work-choice-nov-a")
    for check in deps.store().validation.all_checks(record.claim_file_id):
        commit(validation.record_check, DWP, record.claim_file_id, {"line_id": check.line_id, "result": "passed"})
    commit(validation.pay, DWP, record.claim_file_id, TODAY, "DWP-BACS-1124")
    return record.claim_file_id


def _pass_on(monkeypatch, on: str, sub: str, pence: int, reference: str):
    monkeypatch.setenv("REFPAY_TODAY", on)
    return commit(supply_chain.record_pass_through, PRIME_FINANCE, {
        "programme_id": WORK_CHOICE, "period": NOV, "subcontractor_org_id": sub, "amount_pence": pence,
        "paid_on": date.fromisoformat(on), "reference": reference})


def _rows(report: dict) -> dict[str, dict]:
    (chain,) = report["primes"]
    return {r["org_id"]: r for r in chain["subcontractors"]}


def test_one_on_time_and_one_late_pass_through_and_the_nightly_flag(data, monkeypatch):
    fid = _paid_november(monkeypatch)
    owed = {o.subcontractor_org_id: o for o in deps.store().supply_chain.chain(WORK_CHOICE, NOV)[0]}
    # Job start: 70% of GBP 2,500 = 175,000; Brightside's prime keeps 5%, Riverside's 10%.
    assert {k: (o.owed_pence, o.due_on) for k, o in owed.items()} == {
        "brightside-supported-employment": (166250, date(2026, 12, 24)),
        "riverside-disability-works": (157500, date(2026, 12, 24))}
    assert len(data.pending) >= 2 and {w.rule for w in data.pending.values()} >= {"late_pass_through"}

    _pass_on(monkeypatch, "2026-12-10", "brightside-supported-employment", 166250, "PEP-0042")
    assert not [w for w in data.pending.values() if w.rule == "late_pass_through"
                and w.provider_org_id == "brightside-supported-employment"]

    summary = nightly.run(date(2026, 12, 25))  # the first day after the limit
    assert summary["counts"]["flags"]["late_pass_through"] == {"riverside-disability-works": 1}
    flags = [f for f in data.flags.values() if f.rule == "late_pass_through"]
    assert [(f.provider_org_id, f.prime_org_id, f.status) for f in flags] == [
        ("riverside-disability-works", "pathway-employment-prime", "open")]
    assert nightly.run(date(2026, 12, 25))["counts"] == summary["counts"]  # raised once

    monkeypatch.setenv("REFPAY_TODAY", "2026-12-26")
    rows = _rows(supply_chain.report(PRIME_FINANCE, WORK_CHOICE, NOV))
    on_time, late = rows["brightside-supported-employment"], rows["riverside-disability-works"]
    assert (on_time["earned_pence"], on_time["prime_retained_pence"], on_time["net_pence"]) == (175000, 8750, 166250)
    assert (on_time["settled_on"], on_time["days_to_pass_through"], on_time["late"], on_time["flagged"]) == (
        date(2026, 12, 10), 16, False, False)
    assert on_time["pass_throughs"][0]["days_after_commissioner"] == 16
    assert (late["outstanding_pence"], late["late"], late["flagged"], late["settled_on"]) == (157500, True, True, None)
    assert rows["oakfield-supported-business"]["earned_pence"] == 0  # in the chain, nothing this period

    _pass_on(monkeypatch, "2026-12-28", "riverside-disability-works", 157500, "PEP-0043")
    assert data.flags[flags[0].flag_id].status == "resolved"
    late = _rows(supply_chain.report(PRIME_FINANCE, WORK_CHOICE, NOV))["riverside-disability-works"]
    assert (late["days_to_pass_through"], late["late"], late["flagged"], late["outstanding_pence"]) == (
        34, True, False, 0)
    chain = supply_chain.report(DWP, WORK_CHOICE, NOV)["primes"][0]
    assert chain["claim_files"] == [{"claim_file_id": fid, "status": "ready", "total_pence": 350000,
                                     "payable_pence": 350000, "paid_on": TODAY, "paid_pence": 350000,
                                     "reference": "DWP-BACS-1124"}]
    assert chain["retained_pence"] == 8750 + 17500


def test_shares_of_allocation_and_of_referrals_routed(data, monkeypatch):
    _paid_november(monkeypatch)
    chain = supply_chain.report(PRIME_FINANCE, WORK_CHOICE, NOV)["primes"][0]
    rows = _rows({"primes": [chain]})
    # Allocations 500 / 200 / 200 / 100 of 1,000; referrals one each to Brightside and Riverside.
    assert (chain["chain_allocation"], chain["chain_referrals"]) == (1000, 2)
    assert (rows["brightside-supported-employment"]["allocation_share_bp"],
            rows["brightside-supported-employment"]["referral_share_bp"]) == (2000, 5000)
    assert rows["oakfield-supported-business"]["referral_share_bp"] == 0
    assert (chain["allocation_share_bp"], chain["referral_share_bp"]) == (5000, 0)


def test_each_caller_sees_only_its_part(data, monkeypatch):
    _paid_november(monkeypatch)
    mine = supply_chain.report(BRIGHTSIDE_FINANCE, WORK_CHOICE, NOV)
    (chain,) = mine["primes"]
    assert [r["org_id"] for r in chain["subcontractors"]] == ["brightside-supported-employment"]
    assert "claim_files" not in chain and "retained_pence" not in chain and mine["vcs_referrals"] is None
    with pytest.raises(NotFound):
        supply_chain.report(BRIGHTSIDE_FINANCE, WORK_CHOICE, NOV, "riverside-disability-works")
    assert _rows(supply_chain.report(BRIGHTSIDE_FINANCE, WORK_CHOICE, NOV, "brightside-supported-employment"))
    for stranger in (TROBIUS_FINANCE, TVCA):
        with pytest.raises(NotFound):
            supply_chain.report(stranger, WORK_CHOICE, NOV)
    with pytest.raises(Forbidden):
        supply_chain.report(BRIGHTSIDE, WORK_CHOICE, NOV)  # a provider key: the report is finance's
    one = supply_chain.report(DWP, WORK_CHOICE, NOV, "riverside-disability-works")
    assert [r["org_id"] for r in one["primes"][0]["subcontractors"]] == ["riverside-disability-works"]
    with pytest.raises(NotFound):
        supply_chain.report(DWP, WORK_CHOICE, NOV, "kings-lynn-works")  # not in this programme's chains


def test_only_the_prime_records_pass_throughs_to_its_own_subcontractors(data, monkeypatch):
    _paid_november(monkeypatch)
    base = {"programme_id": WORK_CHOICE, "period": NOV, "subcontractor_org_id": "riverside-disability-works",
            "amount_pence": 100, "paid_on": TODAY, "reference": "X-1"}
    with pytest.raises(NotFound):
        supply_chain.record_pass_through(TROBIUS_FINANCE, base, deps.store().transaction())
    with pytest.raises(NotFound):
        supply_chain.record_pass_through(BRIGHTSIDE_FINANCE, base, deps.store().transaction())
    refusals = [({"subcontractor_org_id": "kings-lynn-works"}, "subcontractor_org_id", "your_subcontractor"),
                ({"paid_on": date(2026, 11, 25)}, "paid_on", "not_in_future"),
                ({"period": "2026-12"}, "period", "not_in_future"),
                ({"line_ids": ["ref_nope:x"]}, "line_ids", "subcontractor_line")]
    for change, field, rule in refusals:
        with pytest.raises(ValidationFailed) as caught:
            supply_chain.record_pass_through(PRIME_FINANCE, {**base, **change}, deps.store().transaction())
        assert (caught.value.errors[0].field, caught.value.errors[0].rule) == (field, rule)
    brightside_line = next(x.line_id for x in data.lines.values()
                           if x.payee_org_id == "brightside-supported-employment")
    with pytest.raises(ValidationFailed):
        supply_chain.record_pass_through(PRIME_FINANCE, {**base, "line_ids": [brightside_line]},
                                         deps.store().transaction())
    riverside_line = next(x.line_id for x in data.lines.values() if x.payee_org_id == "riverside-disability-works")
    made = commit(supply_chain.record_pass_through, PRIME_FINANCE, {**base, "line_ids": [riverside_line]})
    assert made.line_ids == (riverside_line,) and made.prime_org_id == "pathway-employment-prime"
    assert data.pass_throughs == [made]


def test_the_vcs_share_counts_referrals_whose_referrer_party_is_a_level_1_or_2_chain_member(data, monkeypatch):
    def refer(referrer: Principal, to: Principal, nino: str) -> None:
        journey_to(referrer, to, "flexible-routeways-norfolk", nino, {"seeking_work": True, "right_to_work": True}, ())

    trobius = Principal("trobius", "prime", frozenset({"provider"}), "key_t")
    level_1 = Principal("norfolk-community-links", "subcontractor", frozenset({"referrer"}), "key_l1", "trobius")
    level_2 = Principal("broadland-mentors", "subcontractor", frozenset({"referrer"}), "key_l2", "trobius")
    # A Level 3 deliverer is a subcontractor too, but no Level 1 or 2 group: its referral is not counted as VCS.
    level_3 = Principal("kings-lynn-works", "subcontractor", frozenset({"referrer"}), "key_v", "trobius")
    refer(REFERRER, DELIVERER, "AB000001A")
    refer(level_3, DELIVERER, "AB000002A")
    refer(level_1, trobius, "AB000003A")
    refer(level_2, trobius, "AB000004A")
    refer(level_1, trobius, "AB000005A")
    share = supply_chain.report(DWP, "flexible-routeways-norfolk", NOV)["vcs_referrals"]
    assert share == {"chain_levels": [1, 2], "referred_by_vcs": 3, "referred": 5, "vcs_share_bp": 6000,
                     "target_min": 600, "target_max": 700, "of_participants": 1700}
    assert supply_chain.report(TROBIUS_FINANCE, "flexible-routeways-norfolk", NOV)["vcs_referrals"][
        "referred_by_vcs"] == 3
    assert supply_chain.report(DWP, WORK_CHOICE, NOV)["vcs_referrals"] is None  # no such target there
