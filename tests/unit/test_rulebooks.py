"""Programme rulebooks (chalicelib/domain/rulebook.py, read by chalicelib/adapters/rulebooks.py): the real files load and
hold the DOMAIN facts; a broken file fails loudly, naming the file and the field."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from chalicelib.adapters.rulebooks import (
    RULEBOOK_DIR,
    all_rulebooks,
    get_rulebook,
    load_rulebook_file,
    parse_rulebook,
)
from chalicelib.domain.errors import RulebookError
from chalicelib.domain.rulebook import Period, Rulebook

PROGRAMMES = {
    "flexible-routeways-norfolk",
    "tees-valley-routes-to-work",
    "work-choice",
    "esf-community-hub",
    "local-supported-employment",
}


def _document(programme_id: str) -> dict:
    return json.loads((RULEBOOK_DIR / f"{programme_id}.json").read_text(encoding="utf-8"))


def _write(tmp_path: Path, document: dict, name: str | None = None) -> Path:
    path = tmp_path / f"{name or document['id']}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


# ------------------------------------------------------------------ the real rulebooks


def test_the_rulebook_directory_holds_the_five_programmes():
    assert {p.stem for p in RULEBOOK_DIR.glob("*.json")} == PROGRAMMES


@pytest.mark.parametrize("path", sorted(RULEBOOK_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_rulebook_file_loads(path):
    rulebook = load_rulebook_file(path)
    assert isinstance(rulebook, Rulebook)
    assert rulebook.id == path.stem
    assert rulebook.referral_opens < rulebook.referral_closes
    caps = [o.allocation for o in rulebook.delivery_organisations]
    if rulebook.total_capacity is not None and None not in caps:
        assert sum(c or 0 for c in caps) <= rulebook.total_capacity
    for org in rulebook.delivery_organisations:
        assert org.allocation is None or org.minimum is None or org.minimum <= org.allocation
    assert set(rulebook.deadlines) == {"acknowledge", "start", "assessment", "action_plan"}
    for fee in rulebook.tariff.fees:
        assert sum(p.share_bp for p in fee.payments) == 10000, fee.id


def test_all_rulebooks_has_the_five_ids():
    books = all_rulebooks()
    assert set(books) == PROGRAMMES
    assert get_rulebook("work-choice") is books["work-choice"]
    assert get_rulebook("no-such-programme") is None


def test_tees_valley_minimums_are_targets_not_caps():
    """Seed 001: each authority 'will deliver the service to a minimum of' 650 / 625 / 500 / 400 / 325."""
    rb = get_rulebook("tees-valley-routes-to-work")
    minimums = {o.org_id: o.minimum for o in rb.delivery_organisations}
    assert minimums == {
        "middlesbrough-council": 650,
        "stockton-on-tees-council": 625,
        "redcar-cleveland-council": 500,
        "hartlepool-council": 400,
        "darlington-council": 325,
    }
    assert sum(minimums.values()) == 2500
    assert {o.allocation for o in rb.delivery_organisations} == {None} and rb.total_capacity is None  # no cap
    assert all(o.role == "local_authority" for o in rb.delivery_organisations)


def test_tees_valley_authorities_serve_their_own_residents():
    """ONS codes and postcode districts from OS Code-Point Open 2025.4.0 (the rulebook's source)."""
    rb = get_rulebook("tees-valley-routes-to-work")
    codes = {o.org_id: o.residence.local_authority for o in rb.delivery_organisations}
    assert codes == {"hartlepool-council": "E06000001", "middlesbrough-council": "E06000002",
                     "redcar-cleveland-council": "E06000003", "stockton-on-tees-council": "E06000004",
                     "darlington-council": "E06000005"}
    darlington = rb.provider("darlington-council").residence
    assert (darlington.districts, darlington.straddling) == (("DL3", "DL98"), ("DL1", "DL2", "DL4", "DL5", "TS21"))
    # A district wholly in one authority is nobody else's; TS28 and TS29 (County Durham) are no authority's.
    wholly = [d for o in rb.delivery_organisations for d in o.residence.districts]
    assert len(wholly) == len(set(wholly))
    everywhere = set(wholly) | {d for o in rb.delivery_organisations for d in o.residence.straddling}
    assert not {"TS28", "TS29", "DL6", "DL12"} & everywhere
    # Every straddling district of an authority is listed by at least one other authority or reaches outside.
    assert "TS21" in rb.provider("stockton-on-tees-council").residence.straddling


def test_trailblazer_30_to_80_is_a_minimum_and_a_cap():
    """Seed 004: each local authority 'can choose to deliver support to an additional 30 - 80 jobseekers'."""
    rb = get_rulebook("local-supported-employment")
    assert {o.org_id: (o.minimum, o.allocation) for o in rb.delivery_organisations} == {
        "bristol-city-council": (30, 60), "leeds-city-council": (30, 80), "cardiff-council": (30, 40)}
    assert all(30 <= o.allocation <= 80 for o in rb.delivery_organisations)
    assert rb.total_capacity == 180


def test_tees_valley_provider_rules():
    rb = get_rulebook("tees-valley-routes-to-work")
    assert rb.provider("redcar-cleveland-council").min_age == 30
    assert rb.provider("middlesbrough-council").min_age is None
    assert rb.min_age == 18
    assert rb.provider("hartlepool-council").review_every_max == Period(1, "weeks")
    # 'certainly within the first two weeks' of engagement/referral
    assert (rb.deadlines["assessment"].period, rb.deadlines["assessment"].anchor) == (Period(14, "days"), "referral")
    (ceiag,) = rb.provider("darlington-council").extra_reviews
    assert (ceiag.id, ceiag.every) == ("ceiag-interview", Period(6, "months"))
    assert rb.provider_for_area(" Redcar ").org_id == "redcar-cleveland-council"
    assert rb.provider_for_area("STOCKTON").org_id == "stockton-on-tees-council"
    assert rb.provider_for_area("york") is None
    assert [c.id for c in rb.checkpoints] == ["3-months", "6-months", "9-months", "12-months"]


def test_norfolk_capacity_duration_and_levels():
    rb = get_rulebook("flexible-routeways-norfolk")
    assert rb.total_capacity == 1700
    assert rb.max_duration == Period(26, "weeks")
    assert rb.min_duration == Period(1, "weeks")
    assert {o.org_id: (o.level, o.prime) for o in rb.delivery_organisations} == {
        "trobius": (None, None),
        "kings-lynn-works": (3, "trobius"),
        "great-yarmouth-works": (3, "trobius"),
    }
    assert rb.routes("trobius") and not rb.routes("kings-lynn-works")
    assert rb.returns_allowed is False


def test_norfolk_is_a_chain_of_referrers_mentors_and_deliverers():
    """Seed 000: Level 1 groups refer only; Level 2 groups refer and mentor alongside a Level 3 deliverer; both
    work under Trobius and hold no places."""
    rb = get_rulebook("flexible-routeways-norfolk")
    assert rb.party_roles == ("referrer", "mentor", "deliverer")
    assert {m.org_id: (m.level, m.roles, m.under) for m in rb.chain_members} == {
        "norfolk-community-links": (1, ("referrer",), "trobius"),
        "broadland-mentors": (2, ("referrer", "mentor"), "trobius"),
    }
    assert rb.provider("norfolk-community-links") is None and rb.level_of("norfolk-community-links") == 1
    assert [m.org_id for m in rb.members_in("mentor", "trobius")] == ["broadland-mentors"]
    assert rb.management_fee_bp_of("broadland-mentors") == 500 and rb.management_fee_bp_of("nobody") == 0
    assert {f.id: (f.payee, f.levels) for f in rb.tariff.fees} == {
        "level-1-referral": ("referrer", (1,)), "level-2-referral": ("referrer", (2,)),
        "level-2-support": ("mentor", (2,)), "level-3-delivery": ("deliverer", (3,))}
    assert [f.id for f in rb.agreed_bands("kings-lynn-works")] == ["level-3-delivery"]
    assert rb.agreed_bands("trobius") == ()


def test_tees_valley_hubs_have_spoke_partners():
    rb = get_rulebook("tees-valley-routes-to-work")
    assert rb.party_roles == ("referrer", "deliverer", "spoke")
    spokes = {hub: sorted(m.org_id for m in rb.members_in("spoke", hub))
              for hub in ("stockton-on-tees-council", "darlington-council", "middlesbrough-council")}
    assert spokes == {"stockton-on-tees-council": ["billingham-community-works", "thornaby-pathways"],
                      "darlington-council": ["darlington-wellbeing-partners", "skerne-valley-works"],
                      "middlesbrough-council": []}
    assert "invented" in rb.source


def test_esf_duration_and_exit_review():
    rb = get_rulebook("esf-community-hub")
    assert rb.max_duration == Period(52, "weeks")
    assert rb.exit_review_required is True
    assert rb.deadlines["assessment"].anchor == "acceptance"
    assert rb.deadlines["action_plan"].period == Period(35, "working_days")
    assert rb.deadlines["action_plan"].anchor == "referral"


def test_local_supported_employment_tariff():
    rb = get_rulebook("local-supported-employment")
    assert [f.id for f in rb.tariff.fees] == ["dwp-participant-fee", "la-co-funding"]
    dwp, la = rb.tariff.fees
    assert dwp.funder == "dwp"
    assert dwp.amount.fixed_pence == 350000
    assert [(p.milestone, p.share_bp, p.tranches) for p in dwp.payments] == [
        ("start", 4000, None),
        ("service_fee_tranche", 6000, 9),
    ]
    assert la.funder == "local-authority"
    assert la.amount.fixed_pence == 150000
    assert [(p.milestone, p.share_bp) for p in la.payments] == [("start", 10000)]
    assert rb.excluded_attributes == ("secondary_mental_health_services", "on_other_dwp_programme")
    assert rb.max_duration == Period(18, "months")
    assert rb.referral_opens == date(2026, 8, 1)
    assert rb.referral_closes == date(2027, 3, 31)


@pytest.mark.parametrize("programme, commissioner, funders", [
    ("flexible-routeways-norfolk", "dwp-commissioning", {"dwp": "dwp-commissioning"}),
    ("work-choice", "dwp-commissioning", {"dwp": "dwp-commissioning"}),
    ("local-supported-employment", "dwp-commissioning", {"dwp": "dwp-commissioning", "local-authority": None}),
    ("tees-valley-routes-to-work", "tees-valley-combined-authority", {"tvca": "tees-valley-combined-authority"}),
    ("esf-community-hub", "dwp-esf", {"esf": "dwp-esf"}),
])
def test_each_programme_names_its_commissioner_and_funders_as_organisations(programme, commissioner, funders):
    rb = get_rulebook(programme)
    assert rb.commissioner_org_id == commissioner
    assert {f.id: f.org_id for f in rb.tariff.funders} == funders
    assert rb.payment_controls.pass_through_days == 30
    assert rb.payment_controls.sample_rate_bp == 500


def test_the_trailblazer_co_funding_is_paid_by_the_delivering_authority_itself():
    rb = get_rulebook("local-supported-employment")
    assert rb.funder_org("local-authority", "leeds-city-council") == "leeds-city-council"
    assert rb.funder_org("dwp", "leeds-city-council") == "dwp-commissioning"


def test_a_funder_naming_no_organisation_is_the_commissioner(tmp_path):
    document = _document("tees-valley-routes-to-work")
    del document["tariff"]["funders"][0]["org_id"]
    document["commissioner_org_id"] = "tees-valley-ca-finance"
    rb = load_rulebook_file(_write(tmp_path, document))
    assert rb.tariff.funders[0].org_id == "tees-valley-ca-finance"
    assert rb.funder_org("tvca", "hartlepool-council") == "tees-valley-ca-finance"


def test_norfolk_expects_600_to_700_participants_from_the_vcs():
    target = get_rulebook("flexible-routeways-norfolk").targets.vcs_referrals
    assert (target.min, target.max) == (600, 700)
    assert target.chain_levels == (1, 2)
    members = get_rulebook("flexible-routeways-norfolk").chain_members
    assert {m.level for m in members} == {1, 2}


def test_payment_controls_default_when_a_rulebook_is_silent(tmp_path):
    document = _document("work-choice")
    del document["payment_controls"]
    rb = load_rulebook_file(_write(tmp_path, document))
    assert (rb.payment_controls.sample_rate_bp, rb.payment_controls.pass_through_days) == (0, 30)


def test_work_choice_modules_and_returns():
    rb = get_rulebook("work-choice")
    assert [m.id for m in rb.modules] == ["work-entry", "transitional-supported-employment", "longer-term-support"]
    assert rb.module("work-entry").max_duration == Period(6, "months")  # no longer Work Preparation's 13 weeks
    assert rb.module("work-entry").extension_max == Period(6, "months")
    assert rb.module("longer-term-support").max_duration is None
    assert rb.returns_allowed is True
    assert ("work-entry", "longer-term-support") in rb.module_moves
    assert ("longer-term-support", "transitional-supported-employment") in rb.module_moves
    assert len(rb.module_moves) == 6


def test_window_open_on_is_inclusive():
    rb = get_rulebook("local-supported-employment")
    assert rb.window_open_on(date(2026, 8, 1))
    assert rb.window_open_on(date(2027, 3, 31))
    assert not rb.window_open_on(date(2026, 7, 31))
    assert not rb.window_open_on(date(2027, 4, 1))


# ------------------------------------------------------------------ broken rulebooks fail loudly


def _missing_referral_window(d):
    del d["referral_window"]


def _negative_allocation(d):
    d["delivery_organisations"][1]["allocation"] = -1


def _shares_sum_to_9000(d):
    d["tariff"]["fees"][0]["payments"][0]["share_bp"] = 9000


def _unknown_prime(d):
    d["delivery_organisations"][1]["prime"] = "no-such-prime"


def _subcontractor_without_prime(d):
    del d["delivery_organisations"][1]["prime"]


def _prime_with_a_prime(d):
    d["delivery_organisations"][0]["prime"] = "kings-lynn-works"


def _window_closes_before_opens(d):
    d["referral_window"] = {"opens": "2026-04-01", "closes": "2026-03-31"}


def _unknown_eligibility_attribute(d):
    d["eligibility"]["required_attributes"].append("owns_a_car")


def _unknown_excluded_attribute(d):
    d["eligibility"]["excluded_attributes"] = ["owns_a_car"]


def _allocations_over_capacity(d):
    d["total_capacity"] = 1699


def _missing_deadline(d):
    del d["deadlines"]["start"]


def _unknown_deadline(d):
    d["deadlines"]["exit"] = {"amount": 1, "unit": "weeks", "from": "start"}


def _bad_period_unit(d):
    d["support_levels"]["standard"]["unit"] = "fortnights"


def _zero_period(d):
    d["duration"]["max"]["amount"] = 0


def _unknown_funder(d):
    d["tariff"]["fees"][1]["funder"] = "hmrc"


def _fee_level_without_organisation(d):
    d["chain_members"][0]["level"] = None


def _service_fee_without_tranches(d):
    d["tariff"]["fees"][2]["payments"][0] = {"milestone": "service_fee_tranche", "share_bp": 3000}


def _range_without_default(d):
    del d["tariff"]["fees"][1]["amount"]["default_pence"]


def _repeated_org_id(d):
    d["delivery_organisations"][2]["org_id"] = "kings-lynn-works"


def _member_is_a_delivery_organisation(d):
    d["chain_members"][0]["org_id"] = "kings-lynn-works"


def _member_under_a_subcontractor(d):
    d["chain_members"][1]["under"] = "kings-lynn-works"


def _member_role_the_programme_lacks(d):
    d["chain_members"][0]["roles"] = ["spoke"]


def _party_roles_without_deliverer(d):
    d["party_roles"] = ["referrer", "mentor"]


def _fee_paying_a_role_the_programme_lacks(d):
    d["party_roles"] = ["referrer", "deliverer"]
    d["chain_members"][1]["roles"] = ["referrer"]


def _service_fee_paid_to_a_referrer(d):
    d["tariff"]["fees"][0]["payments"] = [{"milestone": "service_fee_tranche", "share_bp": 10000, "tranches": 3}]


def _band_without_a_minimum(d):
    del d["tariff"]["fees"][3]["amount"]["min_pence"]


def _a_subcontractor_that_routes(d):
    d["delivery_organisations"][1]["routes_referrals"] = True


def _bad_nation(d):
    d["nation"] = "UK"


def _commissioner_delivers(d):
    d["commissioner_org_id"] = "trobius"


def _funder_delivers(d):
    d["tariff"]["funders"][0]["org_id"] = "kings-lynn-works"


def _funder_both_org_and_holder(d):
    d["tariff"]["funders"][0]["contract_holder"] = True


def _vcs_target_over_capacity(d):
    d["targets"]["vcs_referrals"]["max"] = 1701


def _vcs_target_min_above_max(d):
    d["targets"]["vcs_referrals"]["min"] = 701


def _vcs_target_counts_a_level_no_chain_member_has(d):
    d["targets"]["vcs_referrals"]["chain_levels"] = [1, 3]


def _sample_rate_over_100_percent(d):
    d["payment_controls"]["sample_rate_bp"] = 10001


NORFOLK_DEFECTS = [
    (_missing_referral_window, "referral_window", "Missing data for required field"),
    (_negative_allocation, "delivery_organisations.1.allocation", "greater than or equal to 0"),
    (_shares_sum_to_9000, "tariff.fees.0.payments", "9000"),
    (_unknown_prime, "delivery_organisations.1.prime", "no-such-prime"),
    (_subcontractor_without_prime, "delivery_organisations.1.prime", "names its prime"),
    (_prime_with_a_prime, "delivery_organisations.0.prime", "only a subcontractor"),
    (_window_closes_before_opens, "referral_window.closes", "closes before it opens"),
    (_unknown_eligibility_attribute, "eligibility.required_attributes.2", "Must be one of"),
    (_unknown_excluded_attribute, "eligibility.excluded_attributes.0", "Must be one of"),
    (_allocations_over_capacity, "delivery_organisations", "total_capacity"),
    (_missing_deadline, "deadlines", "start"),
    (_unknown_deadline, "deadlines.exit.key", "Must be one of: acknowledge, start, assessment, action_plan"),
    (_bad_period_unit, "support_levels.standard.value.unit", "Must be one of"),
    (_zero_period, "duration.max.amount", "greater than or equal to 1"),
    (_unknown_funder, "tariff.fees.1.funder", "hmrc"),
    (_fee_level_without_organisation, "tariff.fees.0.levels", "no organisation at level 1"),
    (_service_fee_without_tranches, "tariff.fees.2.payments.0.tranches", "tranches"),
    (_range_without_default, "tariff.fees.1.amount.default_pence", "default_pence"),
    (_repeated_org_id, "delivery_organisations", "org_id repeated"),
    (_member_is_a_delivery_organisation, "chain_members.0.org_id", "already an organisation"),
    (_member_under_a_subcontractor, "chain_members.1.under", "not a prime or local authority"),
    (_member_role_the_programme_lacks, "chain_members.0.roles", "no spoke role"),
    (_party_roles_without_deliverer, "party_roles", "referrer and deliverer"),
    (_fee_paying_a_role_the_programme_lacks, "tariff.fees.2.payee", "no mentor role"),
    (_service_fee_paid_to_a_referrer, "tariff.fees.0.payee", "pay the deliverer only"),
    (_band_without_a_minimum, "tariff.fees.3.amount.agreed_at_acceptance", "min_pence and max_pence"),
    (_a_subcontractor_that_routes, "delivery_organisations.1.routes_referrals", "only a prime routes"),
    (_bad_nation, "nation", "Must be one of"),
    (_commissioner_delivers, "commissioner_org_id", "cannot be a delivery organisation"),
    (_funder_delivers, "tariff.funders.0.org_id", "contract_holder"),
    (_funder_both_org_and_holder, "tariff.funders.0.org_id", "names no other organisation"),
    (_vcs_target_over_capacity, "targets.vcs_referrals.max", "more than total_capacity"),
    (_vcs_target_min_above_max, "targets.vcs_referrals.min", "min is above max"),
    (_vcs_target_counts_a_level_no_chain_member_has, "targets.vcs_referrals.chain_levels",
     "no chain member is at level 3"),
    (_sample_rate_over_100_percent, "payment_controls.sample_rate_bp", "less than or equal to 10000"),
]


@pytest.mark.parametrize("defect, field_path, words", NORFOLK_DEFECTS, ids=lambda x: getattr(x, "__name__", None))
def test_broken_rulebook_names_the_file_and_the_field(tmp_path, defect, field_path, words):
    document = _document("flexible-routeways-norfolk")
    defect(document)
    path = _write(tmp_path, document)
    with pytest.raises(RulebookError) as caught:
        load_rulebook_file(path)
    message = str(caught.value)
    assert caught.value.source == "flexible-routeways-norfolk.json"
    assert message.startswith("invalid rulebook flexible-routeways-norfolk.json: ")
    assert f"{field_path}:" in message, message
    assert words in message


@pytest.mark.parametrize("field_name", ["referral_window", "delivery_organisations",
                                        "eligibility", "support_levels", "deadlines", "returns_allowed",
                                        "exit_review_required", "tariff", "commissioner",
                                        "commissioner_org_id"])
def test_missing_required_field(tmp_path, field_name):
    document = _document("tees-valley-routes-to-work")
    del document[field_name]
    with pytest.raises(RulebookError) as caught:
        load_rulebook_file(_write(tmp_path, document))
    assert "tees-valley-routes-to-work.json" in str(caught.value)
    assert f"{field_name}: Missing data for required field." in str(caught.value)


def test_unknown_module_in_module_moves(tmp_path):
    document = _document("work-choice")
    document["module_moves"].append(["work-entry", "module-4"])
    with pytest.raises(RulebookError) as caught:
        load_rulebook_file(_write(tmp_path, document))
    message = str(caught.value)
    assert "work-choice.json" in message
    assert "module_moves: unknown module 'module-4'" in message


def test_fixed_amount_with_a_range_is_refused(tmp_path):
    document = _document("local-supported-employment")
    document["tariff"]["fees"][0]["amount"]["max_pence"] = 400000
    with pytest.raises(RulebookError) as caught:
        load_rulebook_file(_write(tmp_path, document))
    assert "local-supported-employment.json" in str(caught.value)
    assert "tariff.fees.0.amount.fixed_pence: a fixed amount has no range" in str(caught.value)


def test_invalid_json(tmp_path):
    path = tmp_path / "esf-community-hub.json"
    path.write_text((RULEBOOK_DIR / "esf-community-hub.json").read_text(encoding="utf-8")[:-10], encoding="utf-8")
    with pytest.raises(RulebookError) as caught:
        load_rulebook_file(path)
    assert caught.value.source == "esf-community-hub.json"
    assert "esf-community-hub.json" in str(caught.value)
    assert "(file): not valid JSON" in str(caught.value)


def test_id_must_match_the_file_name(tmp_path):
    path = _write(tmp_path, _document("esf-community-hub"), name="esf-hub")
    with pytest.raises(RulebookError) as caught:
        load_rulebook_file(path)
    assert "esf-hub.json" in str(caught.value)
    assert "id: must match the file name ('esf-hub')" in str(caught.value)


def test_parse_rulebook_names_the_source_it_is_given():
    document = _document("work-choice")
    document["delivery_organisations"][3]["allocation"] = -100
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(document, "from-the-admin-api")
    assert str(caught.value).startswith("invalid rulebook from-the-admin-api: ")
    assert "delivery_organisations.3.allocation" in str(caught.value)
    assert caught.value.problems == {"delivery_organisations": {3: {"allocation": ["Must be greater than or equal to 0."]}}}


def test_parse_rulebook_accepts_a_valid_document():
    rb = parse_rulebook(_document("work-choice"), "work-choice.json")
    assert rb.id == "work-choice"
    assert rb.nation == "ENG"


def test_all_rulebooks_fails_on_a_directory_with_one_broken_file(tmp_path):
    _write(tmp_path, _document("work-choice"))
    broken = _document("esf-community-hub")
    broken["delivery_organisations"][2]["allocation"] = -3
    _write(tmp_path, broken)
    with pytest.raises(RulebookError) as caught:
        all_rulebooks(tmp_path)
    assert "esf-community-hub.json" in str(caught.value)
    assert "delivery_organisations.2.allocation" in str(caught.value)


def test_all_rulebooks_reads_another_directory(tmp_path):
    _write(tmp_path, _document("work-choice"))
    assert set(all_rulebooks(tmp_path)) == {"work-choice"}
