"""The five programmes keep their amounts to the penny. tariff_amounts.json holds, for every delivery organisation
of every rulebook as it was before the delivery chain, what each journey event earned it (three job-hours bands,
every sustainment checkpoint in order), what its prime kept, its service-fee tranches and its evidence caps. The
same walk over today's rulebooks must give the same rows, except that Norfolk's Level 1 and Level 2 groups are
now chain members paid as the referrer and the mentor (the same amounts, to the same funder) and Great Yarmouth
Works is a new Level 3 deliverer (paid as King's Lynn Works is)."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from chalicelib.adapters.rulebooks import all_rulebooks, get_rulebook
from chalicelib.domain.parties import MENTOR, REFERRER
from chalicelib.payments import tariff

BEFORE = json.loads((Path(__file__).parent / "tariff_amounts.json").read_text(encoding="utf-8"))
NORFOLK = "flexible-routeways-norfolk"
CHAIN_MEMBERS = {"norfolk-community-links", "broadland-mentors"}
NEW_DELIVERER = "great-yarmouth-works"


def _walk(rulebook, org) -> list[list]:
    rows = []
    for band in ("under_8", "over_8", "over_16"):
        already: set[str] = set()
        events = [("accept", {}), ("start", {}), ("job_start", {"hours_band": band})]
        events += [("sustainment", {"checkpoint": c.id}) for c in rulebook.checkpoints]
        for event, data in events:
            for e in tariff.earnings(rulebook.tariff, org.level, event, data, rulebook.checkpoints, already):
                already.add(e.milestone_key)
                retained, _ = tariff.cascade(e.amount_pence, org.management_fee_bp if org.prime else 0)
                rows.append([rulebook.id, org.org_id, band, event, data.get("checkpoint"), e.fee_id, e.milestone,
                             e.funder, e.amount_pence, retained])
    for fee in rulebook.tariff.fees:
        if not fee.applies_to(org.level):
            continue
        for n, due, amount in tariff.tranche_schedule(fee, date(2026, 1, 31)):
            rows.append([rulebook.id, org.org_id, "tranche", str(due), n, fee.id, "service_fee_tranche", fee.funder,
                         amount, 0])
        if fee.amount.evidence_required and fee.payee == "deliverer":
            rows.append([rulebook.id, org.org_id, "evidence", None, None, fee.id, "evidence", fee.funder,
                         fee.amount.max_pence, fee.amount.min_pence])
    return rows


def test_every_delivery_organisation_earns_what_it_earned_before_to_the_penny():
    now = [row for rb in all_rulebooks().values() for org in rb.delivery_organisations for row in _walk(rb, org)]
    kept = [row for row in BEFORE if row[1] not in CHAIN_MEMBERS]
    assert [row for row in now if row[1] != NEW_DELIVERER] == kept
    assert len(kept) > 150 and {row[0] for row in kept} == set(all_rulebooks())
    # The new Level 3 deliverer is paid as the other one is.
    as_kings_lynn = [[*row[:1], NEW_DELIVERER, *row[2:]] for row in now if row[1] == "kings-lynn-works"]
    assert [row for row in now if row[1] == NEW_DELIVERER] == as_kings_lynn


def test_norfolk_s_groups_are_paid_the_same_amounts_as_the_referrer_and_the_mentor():
    rulebook = get_rulebook(NORFOLK)
    level_1 = rulebook.member("norfolk-community-links")
    assert level_1 is not None
    paid = tariff.earnings(rulebook.tariff, level_1.level, "accept", {}, rulebook.checkpoints, set(), payee=REFERRER)
    before = [row for row in BEFORE if row[1] == "norfolk-community-links" and row[2] == "over_16"]
    assert [(e.fee_id, e.milestone, e.funder, e.amount_pence) for e in paid] == [
        (row[5], row[6], row[7], row[8]) for row in before] == [("level-1-referral", "referral_accepted", "dwp", 3500)]
    (cap_before,) = [row for row in BEFORE if row[1] == "broadland-mentors" and row[2] == "evidence"]
    (mentoring,) = [f for f in rulebook.tariff.fees if f.payee == MENTOR]
    assert (mentoring.id, mentoring.funder, mentoring.amount.max_pence, mentoring.amount.min_pence) == (
        cap_before[5], cap_before[7], cap_before[8], cap_before[9]) == ("level-2-support", "dwp", 20000, None)
