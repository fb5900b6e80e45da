"""The delivery chain as use cases on the in-memory store: seed 000's worked examples (a Level 1 group refers to
Trobius, Trobius routes to a Level 3 deliverer; a Level 2 group refers and mentors alongside the deliverer), each
party paid for its own part through the prime, and seed 001's Darlington hub passing a person to a spoke."""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.access import Principal
from chalicelib.domain.errors import ClaimRefused, Forbidden, NotFound, ValidationFailed
from chalicelib.services import deps, journey, payments
from tests.fakes.memory import memory_store
from tests.postcodes import resident_postcode
from tests.services.test_use_cases import take

TODAY = date(2026, 11, 24)
WEEK_BEFORE = date(2026, 11, 17)  # Level 3's minimum delivery is a week: a job a week after the start earns the 70%
NORFOLK = "flexible-routeways-norfolk"


def org(org_id: str, *roles: str, kind: str = "subcontractor", prime: str | None = "trobius") -> Principal:
    return Principal(org_id, kind, frozenset(roles), f"key_{org_id}", prime)


L1_REFERRER = org("norfolk-community-links", "referrer")
L1_FINANCE = org("norfolk-community-links", "finance")
L2_REFERRER = org("broadland-mentors", "referrer")
MENTOR = org("broadland-mentors", "provider")
DELIVERER = org("kings-lynn-works", "provider")
OTHER_DELIVERER = org("great-yarmouth-works", "provider")
PRIME = org("trobius", "provider", kind="prime", prime=None)
PRIME_FINANCE = org("trobius", "finance", kind="prime", prime=None)
JCP = org("jobcentre-plus-norwich", "referrer", kind="referrer", prime=None)
HUB = org("darlington-council", "provider", kind="local_authority", prime=None)
SPOKE = org("skerne-valley-works", "provider", prime="darlington-council")
OTHER_SPOKE = org("darlington-wellbeing-partners", "provider", prime="darlington-council")
TEES_JCP = org("tees-valley-jcp", "referrer", kind="referrer", prime=None)


@pytest.fixture
def data():
    store, data = memory_store()
    with deps.using(store):
        yield data


def refer(referrer: Principal, provider: str = "trobius", programme: str = NORFOLK, nino: str = "AB123456C") -> str:
    eligibility = {"seeking_work": True, "right_to_work": True} if programme == NORFOLK else {"right_to_work": True}
    payload = {"programme_id": programme, "provider_id": provider,
               "support_level": "standard" if programme == NORFOLK else "weekly",
               "consent": {"given": True, "date": WEEK_BEFORE},
               "participant": {"nino": nino, "given_name": "Ada", "family_name": "Lovelace",
                               "date_of_birth": date(1990, 5, 17), "postcode": resident_postcode(provider),
                               "eligibility": eligibility}}
    tx = deps.store().transaction()
    result = journey.create_referral(referrer, payload, tx)
    tx.commit()
    return result.referral.id


def claim(principal: Principal, rid: str, **body):
    tx = deps.store().transaction()
    line = payments.submit_claim(principal, {"referral_id": rid, "event_date": TODAY, "evidence_ref": "EV-1",
                                             **body}, tx)
    tx.commit()
    return line


def lines_of(data, rid: str) -> dict[str, tuple]:
    return {x.fee_id + ":" + x.milestone: (x.payee_org_id, x.payee_role, x.prime_org_id, x.amount_pence,
                                          x.prime_retained_pence, x.payee_net_pence)
            for x in data.lines.values() if x.referral_id == rid}


# ------------------------------------------------------------------ seed 000, Level 1


def test_a_level_1_group_refers_to_trobius_which_routes_to_a_level_3_deliverer_and_each_is_paid(data, monkeypatch):
    monkeypatch.setenv("REFPAY_TODAY", WEEK_BEFORE.isoformat())
    rid = refer(L1_REFERRER)
    held = data.referrals[rid]
    assert (held.provider_org_id, held.status) == ("trobius", "referred")
    assert data.allocations[(NORFOLK, "trobius")] == 1  # the prime holds the place until it routes

    routed = take(PRIME, rid, "route", to_provider_id="kings-lynn-works", date=WEEK_BEFORE).referral
    assert routed.provider_org_id == "kings-lynn-works"
    assert data.allocations[(NORFOLK, "trobius")] == 0 and data.allocations[(NORFOLK, "kings-lynn-works")] == 1
    assert lines_of(data, rid) == {}

    take(DELIVERER, rid, "accept", agreed_price_pence=53000, activity="13 weeks of 1:1 job search", date=WEEK_BEFORE)
    # GBP 35 (the default within 30-40) to the Level 1 group on acceptance, through Trobius, which keeps nothing.
    assert lines_of(data, rid) == {
        "level-1-referral:referral_accepted": ("norfolk-community-links", "referrer", "trobius", 3500, 0, 3500)}

    take(DELIVERER, rid, "start", date=WEEK_BEFORE)
    monkeypatch.setenv("REFPAY_TODAY", TODAY.isoformat())
    take(DELIVERER, rid, "assessment")
    take(DELIVERER, rid, "job_start", employer_name="Fenland Foods", hours_per_week=20,
         weekly_earnings_pence=24000)
    # 30% and 70% of the agreed GBP 530; Trobius keeps its 10% management share of each.
    paid = lines_of(data, rid)
    assert paid["level-3-delivery:start"] == ("kings-lynn-works", "deliverer", "trobius", 15900, 1590, 14310)
    assert paid["level-3-delivery:job_start"] == ("kings-lynn-works", "deliverer", "trobius", 37100, 3710, 33390)
    assert sum(v[3] for k, v in paid.items() if k.startswith("level-3")) == 53000


def test_the_cascade_shows_each_party_its_own_lines_and_the_prime_all_of_them(data):
    rid = refer(L1_REFERRER)
    take(PRIME, rid, "route", to_provider_id="kings-lynn-works")
    take(DELIVERER, rid, "accept")
    take(DELIVERER, rid, "start")

    def seen(principal):
        view = payments.cascade(principal, "2026-11")
        return sorted((x.payee_org_id, x.payee_role, x.amount_pence) for x in view["lines"]), view["payees"]

    group, group_totals = seen(L1_FINANCE)
    assert group == [("norfolk-community-links", "referrer", 3500)]
    assert group_totals == [{"payee_org_id": "norfolk-community-links", "prime_org_id": "trobius",
                             "amount_pence": 3500, "prime_retained_pence": 0, "payee_net_pence": 3500, "lines": 1}]
    assert seen(DELIVERER)[0] == [("kings-lynn-works", "deliverer", 15750)]
    assert seen(PRIME_FINANCE)[0] == [("kings-lynn-works", "deliverer", 15750),
                                      ("norfolk-community-links", "referrer", 3500)]
    assert seen(OTHER_DELIVERER)[0] == []


# ------------------------------------------------------------------ seed 000, Level 2


def mentored(nino: str = "AB123456C") -> str:
    rid = refer(L2_REFERRER, nino=nino)
    take(PRIME, rid, "route", to_provider_id="kings-lynn-works")
    take(DELIVERER, rid, "accept", agreed_price_pence=50000, activity="6 weeks of group work and 1:1")
    take(DELIVERER, rid, "start")
    take(MENTOR, rid, "mentoring_contact", minutes=60, mode="in_person")
    take(MENTOR, rid, "mentoring_contact", minutes=30, mode="phone", notes_ref="MN-2")
    return rid


def test_a_level_2_group_refers_and_mentors_alongside_the_deliverer_and_both_are_paid(data):
    rid = mentored()
    line = claim(MENTOR, rid, fee_id="level-2-support", amount_pence=18000, contact_ids=["mc1", "mc2"])
    assert (line.payee_org_id, line.payee_role, line.status, line.contact_ids) == (
        "broadland-mentors", "mentor", "submitted", ("mc1", "mc2"))
    tx = deps.store().transaction()
    payments.decide(PRIME_FINANCE, [line.line_id], True, None, tx)
    tx.commit()
    paid = lines_of(data, rid)
    # Trobius keeps 5% of what the Level 2 group earns and 10% of the deliverer's.
    assert paid == {
        "level-2-referral:referral_accepted": ("broadland-mentors", "referrer", "trobius", 3500, 175, 3325),
        "level-2-support:evidence": ("broadland-mentors", "mentor", "trobius", 18000, 900, 17100),
        "level-3-delivery:start": ("kings-lynn-works", "deliverer", "trobius", 15000, 1500, 13500),
    }


@pytest.mark.parametrize("who, body, field, rule", [
    (MENTOR, {"amount_pence": 20001, "contact_ids": ["mc1"]}, "amount_pence", "over_cap"),
    (MENTOR, {"amount_pence": 100}, "contact_ids", "required"),
    (MENTOR, {"amount_pence": 100, "contact_ids": ["mc9"]}, "contact_ids", "your_contact"),
    (MENTOR, {"amount_pence": 100, "contact_ids": ["mc1", "mc1"]}, "contact_ids", "unique"),
    (DELIVERER, {"amount_pence": 100, "contact_ids": ["mc1"]}, "fee_id", "not_eligible"),
])
def test_a_mentoring_claim_is_refused_naming_the_field_and_rule(data, who, body, field, rule):
    rid = mentored()
    with pytest.raises(ClaimRefused) as caught:
        claim(who, rid, fee_id="level-2-support", **body)
    assert (caught.value.errors[0].field, caught.value.reason) == (field, rule)
    assert not any(x.fee_id == "level-2-support" for x in data.lines.values())


def test_only_a_party_paid_on_the_referral_claims_on_it(data):
    rid = mentored()
    for stranger in (OTHER_DELIVERER, org("norfolk-community-links", "provider")):
        with pytest.raises(ValidationFailed) as caught:
            claim(stranger, rid, fee_id="level-2-support", amount_pence=100, contact_ids=["mc1"])
        assert caught.value.errors[0].rule == "party_to_referral"


def test_only_the_active_mentor_records_mentoring_contacts(data):
    rid = mentored()
    with pytest.raises(Forbidden):
        take(DELIVERER, rid, "mentoring_contact", minutes=5, mode="phone")
    take(PRIME, rid, "end_party", party_org_id="broadland-mentors", role="mentor", reason="support complete")
    # An ended mentor records no more contacts (it still sees the referral it made, as its referrer); the contacts
    # it recorded stay as evidence.
    with pytest.raises(Forbidden):
        take(MENTOR, rid, "mentoring_contact", minutes=5, mode="phone")
    assert journey.read(MENTOR, rid).view.role == "referrer"
    assert [c.id for c in data.referrals[rid].contacts] == ["mc1", "mc2"]


def test_a_mentor_lists_the_referrals_it_mentors_until_it_is_ended(data):
    rid = mentored()
    named = refer(L1_REFERRER, nino="AB000001A")  # a Level 1 referral the prime gives the Level 2 group to mentor
    take(PRIME, named, "route", to_provider_id="great-yarmouth-works", mentor_org_id="broadland-mentors")
    refer(JCP, provider="great-yarmouth-works", nino="AB000002A")  # not the group's
    listed, cursor = journey.list_referrals(MENTOR, None, 25, None, None, None, None)
    assert [r.referral.id for r in listed] == [named, rid] and cursor is None  # newest first
    assert {r.view.role for r in listed} == {"mentor"}
    assert data.party_index == {("broadland-mentors", rid): ("mentor",), ("broadland-mentors", named): ("mentor",)}
    # With its referrer key it lists the referrals it made.
    assert [r.referral.id for r in journey.list_referrals(L2_REFERRER, None, 25, None, None, None, None)[0]] == [rid]
    take(PRIME, named, "end_party", party_org_id="broadland-mentors", role="mentor", reason="moved away")
    assert [r.referral.id for r in journey.list_referrals(MENTOR, "party", 25, None, None, None, None)[0]] == [rid]
    with pytest.raises(NotFound):
        journey.read(MENTOR, named)


# ------------------------------------------------------------------ what each party reads


def test_each_party_reads_the_referral_through_its_role(data):
    rid = mentored()
    assert journey.read(PRIME, rid).view.role == "prime"
    assert journey.read(DELIVERER, rid).view.role == "deliverer"
    assert journey.read(MENTOR, rid).view.role == "mentor"
    assert journey.read(L2_REFERRER, rid).view.role == "mentor"  # the same organisation: it mentors too
    for stranger in (OTHER_DELIVERER, L1_REFERRER, JCP, SPOKE):
        with pytest.raises(NotFound):
            journey.read(stranger, rid)


def test_a_level_1_referrer_reads_the_status_events_only(data):
    rid = refer(L1_REFERRER)
    take(PRIME, rid, "route", to_provider_id="kings-lynn-works")
    take(DELIVERER, rid, "accept", agreed_price_pence=51000, activity="CV and interviews")
    take(DELIVERER, rid, "start")
    take(DELIVERER, rid, "assessment")
    seen, _ = journey.events(L1_REFERRER, rid, 50, None)
    # The referral as the group made it; of the others' events, only what happened.
    assert [(e.type, e.data) for e in seen] == [
        ("referral", {"programme_id": NORFOLK, "provider_org_id": "trobius", "support_level": "standard"}),
        ("route", {}), ("accept", {}), ("start", {})]
    full, _ = journey.events(DELIVERER, rid, 50, None)
    assert [e.type for e in full] == ["referral", "route", "accept", "start", "assessment"]
    assert full[2].data["agreed_price_pence"] == 51000


# ------------------------------------------------------------------ seed 001: Darlington's hub and spokes


def test_darlington_s_hub_passes_a_person_to_a_spoke_which_sees_it_and_records_its_steps(data):
    rid = refer(TEES_JCP, provider="darlington-council", programme="tees-valley-routes-to-work")
    take(HUB, rid, "accept")
    take(HUB, rid, "start")
    with pytest.raises(NotFound):
        journey.read(SPOKE, rid)
    take(HUB, rid, "spoke_handover", spoke_org_id="skerne-valley-works", handover_ref="WH-2026-17")
    assert journey.read(SPOKE, rid).view.role == "spoke"
    assert [r.referral.id for r in journey.list_referrals(SPOKE, None, 25, None, None, None, None)[0]] == [rid]
    take(SPOKE, rid, "assessment")
    take(SPOKE, rid, "action_plan", document_ref="IAP-1")
    events, _ = journey.events(SPOKE, rid, 50, None)
    assert [(e.type, e.actor_org_id) for e in events][-3:] == [
        ("spoke_handover", "darlington-council"), ("assessment", "skerne-valley-works"),
        ("action_plan", "skerne-valley-works")]
    assert events[-3].data == {"spoke_org_id": "skerne-valley-works", "handover_date": "2026-11-24",
                               "handover_ref": "WH-2026-17"}
    # The hub's decisions stay the hub's; another spoke sees nothing.
    with pytest.raises(Forbidden):
        take(SPOKE, rid, "exit", reason="withdrew", exit_review={"date": TODAY, "destination": "unknown"})
    with pytest.raises(NotFound):
        take(OTHER_SPOKE, rid, "review")
    assert journey.list_referrals(OTHER_SPOKE, None, 25, None, None, None, None)[0] == []
