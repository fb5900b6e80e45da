"""The delivery chain's rules (chalicelib/domain/parties.py, the party steps of journey.py and steps.py, each party's
view in access.py, and what each party earns in payments/tariff.py), worked from seed 000 (Flexible Routeways,
Norfolk) and seed 001 (Tees Valley's Darlington hub and its spokes)."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from chalicelib.adapters.rulebooks import get_rulebook
from chalicelib.domain import access, journey, lifecycle, parties, steps
from chalicelib.domain.access import Principal
from chalicelib.domain.errors import ClaimRefused, Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.parties import Party
from chalicelib.domain.referral import RecordedEvent, Referral
from chalicelib.payments.lines import check_contacts
from chalicelib.payments.tariff import party_earnings
from tests.postcodes import resident_postcode

NORFOLK = get_rulebook("flexible-routeways-norfolk")
TEES = get_rulebook("tees-valley-routes-to-work")
TODAY = date(2026, 11, 24)
EARLIER = date(2026, 11, 20)

L1, L2, JCP = "norfolk-community-links", "broadland-mentors", "jobcentre-plus-norwich"
DELIVERER, OTHER_DELIVERER, PRIME = "kings-lynn-works", "great-yarmouth-works", "trobius"


def refer(rulebook=NORFOLK, referrer=L1, provider="trobius", **eligibility) -> Referral:
    person = {"nino": "AB123456C", "given_name": "Ada", "family_name": "Lovelace", "date_of_birth": date(1990, 5, 17),
              "postcode": resident_postcode(provider), "eligibility": eligibility or {"seeking_work": True, "right_to_work": True}}
    payload = {"programme_id": rulebook.id, "provider_id": provider, "support_level": "standard",
               "consent": {"given": True, "date": EARLIER}, "participant": person}
    if rulebook is TEES:
        payload["support_level"] = "weekly"
    return journey.new_referral(rulebook=rulebook, referral_id="ref_1", referrer_org_id=referrer, payload=payload,
                                participant_hash="h" * 64, today=EARLIER, now=datetime(2026, 11, 20, tzinfo=UTC),
                                previous_programmes=[]).referral


def take(referral: Referral, name: str, by: str, rulebook=NORFOLK, **body) -> Referral:
    return steps.apply(steps.get(name), rulebook, referral, {"date": TODAY, **body}, TODAY, by).referral


def key(org: str, *roles: str, kind: str = "subcontractor") -> Principal:
    return Principal(org, kind, frozenset(roles or ("provider",)), f"key_{org}")


def roles(referral: Referral) -> list[tuple[str, str, str | None]]:
    return [(p.org_id, p.role, p.until and p.until.isoformat()) for p in referral.parties]


def routed(referrer: str = L1, **route) -> Referral:
    return take(refer(referrer=referrer), "route", PRIME, to_provider_id=DELIVERER, **route)


# ------------------------------------------------------------------ a referral's parties


def test_a_referral_to_the_prime_is_held_by_it_with_the_referrer_as_its_only_party():
    held = refer()
    assert (held.referrer_org_id, held.provider_org_id, held.prime_org_id) == (L1, PRIME, PRIME)
    assert roles(held) == [(L1, "referrer", None)]
    assert held.parties[0] == Party(L1, "referrer", EARLIER, L1)
    assert lifecycle.available_actions(NORFOLK, held) == ["add_party", "reject", "route"]


def test_a_referral_straight_to_a_deliverer_has_the_deliverer_as_a_party_from_the_start():
    direct = refer(referrer=JCP, provider=DELIVERER)
    assert roles(direct) == [(JCP, "referrer", None), (DELIVERER, "deliverer", None)]
    assert lifecycle.available_actions(NORFOLK, direct) == ["accept", "add_party", "reject"]


def test_the_prime_holds_a_referral_until_it_routes_it_accept_is_refused_meanwhile():
    with pytest.raises(Conflict) as caught:
        take(refer(), "accept", PRIME)
    assert caught.value.extra == {"rule": "routed_first"}


def test_routing_names_the_deliverer_and_moves_the_holder():
    after = routed()
    assert (after.provider_org_id, after.prime_org_id, after.status) == (DELIVERER, PRIME, "referred")
    assert roles(after) == [(L1, "referrer", None), (DELIVERER, "deliverer", None)]
    assert after.parties[1] == Party(DELIVERER, "deliverer", TODAY, PRIME)  # added by the prime that routed it
    assert lifecycle.available_actions(NORFOLK, after) == ["accept", "add_party", "reject"]


def test_a_level_2_referrer_mentors_by_default_when_routed():
    after = routed(referrer=L2)
    assert roles(after) == [(L2, "referrer", None), (DELIVERER, "deliverer", None), (L2, "mentor", None)]


def test_a_level_1_referrer_does_not_mentor_but_the_prime_may_name_a_mentor():
    assert "mentor" not in {p.role for p in routed().parties}
    assert (L2, "mentor", None) in roles(routed(mentor_org_id=L2))


@pytest.mark.parametrize("body, field, rule", [
    ({"to_provider_id": "trobius"}, "to_provider_id", "delivers_for_prime"),
    ({"to_provider_id": "pathway-employment-prime"}, "to_provider_id", "delivers_for_prime"),
    ({"to_provider_id": DELIVERER, "mentor_org_id": L1}, "mentor_org_id", "mentors_for_prime"),
    ({"to_provider_id": DELIVERER, "date": date(2026, 11, 25)}, "date", "not_in_future"),
    ({"to_provider_id": DELIVERER, "date": date(2026, 11, 19)}, "date", "not_before"),
])
def test_routing_is_refused_naming_the_field_and_rule(body, field, rule):
    with pytest.raises(ValidationFailed) as caught:
        take(refer(), "route", PRIME, **body)
    assert [(e.field, e.rule) for e in caught.value.errors] == [(field, rule)]


def test_a_routed_referral_is_not_routed_again_it_moves_by_transfer():
    with pytest.raises(Conflict):
        take(routed(), "route", PRIME, to_provider_id=OTHER_DELIVERER)


def test_a_transfer_ends_the_deliverer_party_and_adds_the_new_one():
    accepted = take(routed(), "accept", DELIVERER)
    moved = take(accepted, "transfer", DELIVERER, to_provider_id=OTHER_DELIVERER,
                 handover={"date": TODAY, "document_ref": "HO-1"})
    assert roles(moved) == [(L1, "referrer", None), (DELIVERER, "deliverer", "2026-11-24"),
                            (OTHER_DELIVERER, "deliverer", None)]
    assert moved.parties[1].end_reason == "transferred" and moved.parties[2].added_by == DELIVERER
    with pytest.raises(ValidationFailed) as caught:  # nor back to the prime, which delivers nothing
        take(accepted, "transfer", DELIVERER, to_provider_id=PRIME, handover={"date": TODAY})
    assert caught.value.errors[0].rule == "delivers_programme"


def test_the_prime_adds_and_ends_a_mentor_with_dates_and_a_reason():
    with_mentor = take(routed(), "add_party", PRIME, party_org_id=L2, role="mentor")
    assert (L2, "mentor", None) in roles(with_mentor)
    with pytest.raises(ValidationFailed) as caught:  # one mentor at a time
        take(with_mentor, "add_party", PRIME, party_org_id=L2, role="mentor")
    assert caught.value.errors[0].rule == "not_already_party"
    ended = take(with_mentor, "end_party", PRIME, party_org_id=L2, role="mentor", reason="support complete")
    mentor = next(p for p in ended.parties if p.role == "mentor")
    assert (mentor.until, mentor.end_reason) == (TODAY, "support complete")
    assert "mentoring_contact" not in lifecycle.available_actions(NORFOLK, take(ended, "accept", DELIVERER))
    # Ended, never removed: a new mentor can follow.
    again = take(ended, "add_party", PRIME, party_org_id=L2, role="mentor")
    assert [r for r in roles(again) if r[1] == "mentor"] == [(L2, "mentor", "2026-11-24"), (L2, "mentor", None)]


@pytest.mark.parametrize("org, field, rule", [
    (L1, "party_org_id", "chain_member"),           # a Level 1 group refers only
    (DELIVERER, "party_org_id", "chain_member"),    # a deliverer is not a mentor
    ("skerne-valley-works", "party_org_id", "chain_member"),  # another programme's chain
])
def test_only_a_mentor_of_the_prime_s_chain_is_added(org, field, rule):
    with pytest.raises(ValidationFailed) as caught:
        take(routed(), "add_party", PRIME, party_org_id=org, role="mentor")
    assert [(e.field, e.rule) for e in caught.value.errors] == [(field, rule)]


def test_ending_a_party_that_is_not_active_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        take(routed(), "end_party", PRIME, party_org_id=L2, role="mentor", reason="x")
    assert (caught.value.errors[0].field, caught.value.errors[0].rule) == ("party_org_id", "active_party")


# ------------------------------------------------------------------ hub and spoke (seed 001)


def darlington() -> Referral:
    referral = refer(TEES, referrer="tees-valley-jcp", provider="darlington-council", right_to_work=True)
    return take(referral, "accept", "darlington-council", TEES)


def test_a_hub_passes_a_person_to_its_spoke_with_the_warm_handover_recorded():
    accepted = darlington()
    assert "spoke_handover" in lifecycle.available_actions(TEES, accepted)
    step = steps.apply(steps.get("spoke_handover"), TEES, accepted,
                       {"date": TODAY, "spoke_org_id": "skerne-valley-works", "handover_ref": "WH-7"}, TODAY,
                       "darlington-council")
    spoke = parties.current(step.referral.parties, "spoke")
    assert spoke == Party("skerne-valley-works", "spoke", TODAY, "darlington-council", handover_ref="WH-7")
    assert step.event.data == {"spoke_org_id": "skerne-valley-works", "handover_date": "2026-11-24",
                               "handover_ref": "WH-7"}
    assert step.referral.provider_org_id == "darlington-council"  # the hub still holds it (and is paid)


@pytest.mark.parametrize("spoke", ["billingham-community-works", "trobius", "middlesbrough-council"])
def test_a_hub_hands_over_only_to_its_own_spokes(spoke):
    with pytest.raises(ValidationFailed) as caught:
        take(darlington(), "spoke_handover", "darlington-council", TEES, spoke_org_id=spoke, handover_ref="WH")
    assert (caught.value.errors[0].field, caught.value.errors[0].rule) == ("spoke_org_id", "spoke_of_hub")


def test_norfolk_has_no_spokes_and_tees_valley_no_mentors():
    accepted = take(routed(), "accept", DELIVERER)
    assert "spoke_handover" not in lifecycle.available_actions(NORFOLK, accepted)
    assert "add_party" not in lifecycle.available_actions(TEES, darlington())


# ------------------------------------------------------------------ mentoring contacts


def test_the_mentor_records_its_contacts_from_the_day_it_joined():
    accepted = take(routed(referrer=L2), "accept", DELIVERER)
    once = take(accepted, "mentoring_contact", L2, minutes=45, mode="in_person")
    twice = take(once, "mentoring_contact", L2, minutes=20, mode="phone", notes_ref="MN-2")
    assert [(c.id, c.org_id, c.minutes, c.mode, c.notes_ref) for c in twice.contacts] == [
        ("mc1", L2, 45, "in_person", None), ("mc2", L2, 20, "phone", "MN-2")]
    with pytest.raises(ValidationFailed) as caught:
        steps.apply(steps.get("mentoring_contact"), NORFOLK, accepted,
                    {"date": date(2026, 11, 23), "minutes": 5, "mode": "phone"}, TODAY, L2)
    assert (caught.value.errors[0].field, caught.value.errors[0].rule) == ("date", "not_before")


def test_a_mentoring_claim_refers_to_the_mentor_s_own_contacts_none_after_its_event():
    contacts = (parties.Contact("mc1", L2, EARLIER, 30, "phone"), parties.Contact("mc2", "other", EARLIER, 30, "phone"),
                parties.Contact("mc3", L2, TODAY, 30, "video"))
    mentoring, delivery = NORFOLK.tariff.fee("level-2-support"), NORFOLK.tariff.fee("level-3-delivery")
    assert check_contacts(mentoring, contacts, L2, ["mc1", "mc3"], TODAY) == ("mc1", "mc3")
    for ids, event, rule in ((["mc3"], EARLIER, "not_after_event"), (["mc2"], TODAY, "your_contact"),
                             ([], TODAY, "required"), (["mc1", "mc1"], TODAY, "unique")):
        with pytest.raises(ClaimRefused) as caught:
            check_contacts(mentoring, contacts, L2, ids, event)
        assert (caught.value.reason, caught.value.errors[0].field) == (rule, "contact_ids")
    assert check_contacts(delivery, contacts, DELIVERER, None, TODAY) == ()
    with pytest.raises(ClaimRefused) as caught:
        check_contacts(delivery, contacts, DELIVERER, ["mc1"], TODAY)
    assert caught.value.reason == "not_mentoring"


# ------------------------------------------------------------------ the price agreed on acceptance


def test_the_level_3_deliverer_agrees_its_price_within_the_band_with_the_activity():
    step = steps.apply(steps.get("accept"), NORFOLK, routed(),
                       {"date": TODAY, "agreed_price_pence": 54000, "activity": "1:1 job search, 13 weeks"}, TODAY,
                       DELIVERER)
    assert (step.referral.agreed_price_pence, step.referral.agreed_activity) == (54000, "1:1 job search, 13 weeks")
    assert step.event.data == {"decision": "accept", "agreed_price_pence": 54000,
                               "activity": "1:1 job search, 13 weeks"}


def test_an_acceptance_naming_no_price_takes_the_band_s_default():
    after = take(routed(), "accept", DELIVERER)
    assert (after.agreed_price_pence, after.agreed_activity) == (52500, None)


@pytest.mark.parametrize("body, field, rule", [
    ({"agreed_price_pence": 49999, "activity": "a"}, "agreed_price_pence", "within_band"),
    ({"agreed_price_pence": 55001, "activity": "a"}, "agreed_price_pence", "within_band"),
    ({"agreed_price_pence": 50000}, "activity", "required"),
])
def test_a_price_outside_the_band_or_without_its_activity_is_refused(body, field, rule):
    with pytest.raises(ValidationFailed) as caught:
        take(routed(), "accept", DELIVERER, **body)
    assert [(e.field, e.rule) for e in caught.value.errors] == [(field, rule)]


def test_a_deliverer_without_a_band_names_no_price():
    referral = refer(TEES, referrer="tees-valley-jcp", provider="darlington-council", right_to_work=True)
    with pytest.raises(ValidationFailed) as caught:
        take(referral, "accept", "darlington-council", TEES, agreed_price_pence=100, activity="a")
    assert caught.value.errors[0].rule == "no_band"
    assert take(referral, "accept", "darlington-council", TEES).agreed_price_pence is None


# ------------------------------------------------------------------ what each party earns


def earned(referral: Referral, event: str, data=None):
    return [(party.org_id, party.role, e.fee_id, e.amount_pence)
            for party, e in party_earnings(NORFOLK, referral, event, data or {})]


def test_the_level_1_referrer_is_paid_on_the_deliverer_s_acceptance_and_the_deliverer_on_start_and_job():
    accepted = take(routed(), "accept", DELIVERER, agreed_price_pence=53000, activity="13 weeks 1:1")
    assert earned(accepted, "accept") == [(L1, "referrer", "level-1-referral", 3500)]
    assert earned(accepted, "start") == [(DELIVERER, "deliverer", "level-3-delivery", 15900)]
    assert earned(accepted, "job_start", {"hours_band": "over_16"}) == [
        (DELIVERER, "deliverer", "level-3-delivery", 37100)]


def test_the_level_2_referrer_is_paid_its_referral_fee_and_its_mentoring_is_claimed_not_earned():
    accepted = take(routed(referrer=L2), "accept", DELIVERER)
    assert earned(accepted, "accept") == [(L2, "referrer", "level-2-referral", 3500)]
    assert earned(accepted, "start") == [(DELIVERER, "deliverer", "level-3-delivery", 15750)]


def test_a_referrer_outside_the_chain_earns_nothing():
    accepted = take(refer(referrer=JCP, provider=DELIVERER), "accept", DELIVERER)
    assert earned(accepted, "accept") == []


# ------------------------------------------------------------------ each party's view


def test_each_organisation_sees_the_referral_through_its_part_in_it():
    referral = take(take(routed(referrer=L2), "accept", DELIVERER), "mentoring_contact", L2, minutes=30,
                    mode="video")
    assert access.party_role_of(key(PRIME, kind="prime"), referral) == "prime"
    assert access.party_role_of(key(DELIVERER), referral) == "deliverer"
    assert access.party_role_of(key(L2), referral) == "mentor"  # referred it too: the stronger part decides
    assert access.party_role_of(key(OTHER_DELIVERER), referral) is None
    with pytest.raises(NotFound):
        access.view_of(key(OTHER_DELIVERER), referral)
    l1 = take(refer(), "route", PRIME, to_provider_id=DELIVERER)
    referrer = access.view_of(key(L1, "referrer"), l1)
    assert referrer.role == "referrer" and "job_start" in referrer.hidden and "support_level" in referrer.hidden
    mentor = access.view_of(key(L2), referral)
    assert mentor.hidden == access.PRICE and mentor.contacts(referral) == referral.contacts
    other = replace(mentor, org_id="someone-else")
    assert other.contacts(referral) == ()


def test_a_referrer_sees_status_events_without_their_case_details():
    view = access.view_of(key(L1, "referrer"), routed())
    job = RecordedEvent("ref_1", 5, "job_start", TODAY, datetime(2026, 11, 24, tzinfo=UTC), DELIVERER, "k", "in_support",
                        "in_work", {"hours_per_week": 20.0, "weekly_earnings_pence": 24000})
    review = replace(job, type="review", data={"kind": "review"})
    assert view.event(job) == {} and view.event(review) is None


def test_a_mentor_sees_neither_the_agreed_price_nor_another_mentor_s_contacts():
    view = access.view_of(key(L2), routed(referrer=L2))
    accept = RecordedEvent("ref_1", 3, "accept", TODAY, datetime(2026, 11, 24, tzinfo=UTC), DELIVERER, "k", "referred",
                           "accepted", {"decision": "accept", "agreed_price_pence": 52500, "activity": "x"})
    assert view.event(accept) == {"decision": "accept"}
    theirs = replace(accept, type="mentoring_contact", actor_org_id="another-mentor", data={"minutes": 5})
    assert view.event(theirs) is None and view.event(replace(theirs, actor_org_id=L2)) == {"minutes": 5}


@pytest.mark.parametrize("step, who, allowed", [
    ("route", PRIME, True), ("route", DELIVERER, False),
    ("add_party", PRIME, True), ("add_party", L2, False),
    ("accept", DELIVERER, True), ("accept", PRIME, False), ("accept", L2, False),
    ("mentoring_contact", L2, True), ("mentoring_contact", DELIVERER, False), ("mentoring_contact", PRIME, False),
    ("transfer", PRIME, True), ("assessment", L2, False),
])
def test_who_records_each_step(step, who, allowed):
    referral = routed(referrer=L2)
    definition = steps.get(step)
    principal = key(who)
    assert access.may_record(who, principal.roles, referral, definition.actor, definition.parties) is allowed
    if not allowed and access.party_role_of(principal, referral):
        with pytest.raises(Forbidden):
            access.ensure_may_record(principal, referral, definition.actor, definition.parties)


def test_a_spoke_records_support_steps_but_not_the_hub_s_decisions():
    handed = take(darlington(), "spoke_handover", "darlington-council", TEES, spoke_org_id="skerne-valley-works",
                  handover_ref="WH-1")
    spoke = key("skerne-valley-works")
    assert access.party_role_of(spoke, handed) == "spoke"
    for name, allowed in (("assessment", True), ("review", True), ("job_start", True), ("start", False),
                          ("exit", False), ("spoke_handover", False)):
        step = steps.get(name)
        assert access.may_record(spoke.org_id, spoke.roles, handed, step.actor, step.parties) is allowed, name
    # A spoke key without the provider role records nothing.
    assert not access.may_record(spoke.org_id, frozenset({"finance"}), handed, "holder", ("spoke",))
