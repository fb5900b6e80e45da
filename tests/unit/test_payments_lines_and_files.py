"""Payment lines and claim rules (chalicelib/payments/lines.py) and finance claim files
(chalicelib/payments/claim_file.py): cascades sum exactly, clawbacks mirror, claims name the rule they break,
and the CSV is RFC 4180, guarded against formula injection, streamed, and reconciles to the penny."""
from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date, timedelta

import pytest

from chalicelib.adapters.rulebooks import all_rulebooks
from chalicelib.domain.errors import Forbidden
from chalicelib.payments import lines as pl
from chalicelib.payments.claim_file import COLUMNS, Totals, guard, write
from chalicelib.payments.lines import ClaimRefused, check_claim, clawback, new_line
from chalicelib.payments.money import pounds

TODAY = date(2026, 11, 24)
NORFOLK = all_rulebooks()["flexible-routeways-norfolk"]


def make_line(**overrides):
    args = dict(
        referral_id="ref-0001", programme_id="flexible-routeways-norfolk", participant_ref="P-7F3A9C",
        milestone_key="level-3-delivery:start", fee_id="level-3-delivery", milestone="start", funder="dwp",
        funder_org_id="dwp-commissioning",
        payee_org_id="kings-lynn-works", prime_org_id="trobius", management_fee_bp=1000, amount_pence=15750,
        event_date=date(2026, 11, 2), kind=pl.EARNED, status=pl.APPROVED,
    )
    args.update(overrides)
    return new_line(**args)


# ---------------------------------------------------------------- new_line and the cascade


def test_a_subcontractor_line_applies_the_management_fee():
    line = make_line()
    assert line.line_id == "ref-0001:level-3-delivery:start"
    assert line.management_fee_bp == 1000
    assert line.prime_retained_pence == 1575
    assert line.payee_net_pence == 14175
    assert line.prime_retained_pence + line.payee_net_pence == line.amount_pence
    assert line.period == "2026-11"


@pytest.mark.parametrize("amount, bp", [(15750, 500), (36750, 1000), (3500, 0), (1, 500), (19999, 333),
                                        (52500, 10000), (7, 9999)])
def test_subcontractor_retained_plus_net_is_the_amount(amount, bp):
    line = make_line(amount_pence=amount, management_fee_bp=bp)
    assert line.prime_retained_pence + line.payee_net_pence == amount
    assert line.prime_retained_pence >= 0 and line.payee_net_pence >= 0
    assert abs(line.prime_retained_pence * 10000 - amount * bp) < 10000


def test_the_real_rulebook_management_fees_cascade_exactly():
    for org in NORFOLK.delivery_organisations:
        if org.prime:
            line = make_line(payee_org_id=org.org_id, management_fee_bp=org.management_fee_bp, amount_pence=36750)
            assert line.prime_retained_pence + line.payee_net_pence == 36750
            assert line.management_fee_bp == org.management_fee_bp


def test_a_prime_line_retains_nothing():
    line = make_line(payee_org_id="trobius", prime_org_id="trobius", management_fee_bp=1000)
    assert line.prime_retained_pence == 0
    assert line.payee_net_pence == line.amount_pence == 15750
    assert line.management_fee_bp == 0


# ---------------------------------------------------------------- clawback


def test_clawback_negates_every_amount_and_points_at_the_original():
    original = make_line(evidence_ref="EV-1", status=pl.FILED)
    original = dataclasses.replace(original, claim_file_id="file-1")
    snapshot = dataclasses.asdict(original)
    reversed_ = clawback(original, "job ended in week 2", date(2026, 12, 1))

    assert reversed_.line_id == original.line_id + ":clawback"
    assert reversed_.reverses_line_id == original.line_id
    assert reversed_.kind == pl.CLAWBACK
    assert reversed_.status == pl.APPROVED
    assert reversed_.amount_pence == -original.amount_pence
    assert reversed_.prime_retained_pence == -original.prime_retained_pence
    assert reversed_.payee_net_pence == -original.payee_net_pence
    assert reversed_.prime_retained_pence + reversed_.payee_net_pence == reversed_.amount_pence
    assert reversed_.event_date == date(2026, 12, 1)
    assert reversed_.reason == "job ended in week 2"
    assert reversed_.claim_file_id is None
    assert reversed_.evidence_ref is None
    # Everything that says who and what is unchanged.
    for name in ("referral_id", "programme_id", "participant_ref", "fee_id", "milestone", "funder",
                 "payee_org_id", "prime_org_id", "management_fee_bp"):
        assert getattr(reversed_, name) == getattr(original, name)
    # The original is not touched.
    assert dataclasses.asdict(original) == snapshot


def test_an_approved_line_can_be_clawed_back():
    assert clawback(make_line(status=pl.APPROVED), "r", TODAY).amount_pence == -15750


def test_a_clawback_cannot_be_clawed_back():
    reversed_ = clawback(make_line(), "r", TODAY)
    with pytest.raises(ClaimRefused) as caught:
        clawback(reversed_, "again", TODAY)
    assert caught.value.reason == "not_reversible"
    assert caught.value.code == "claim-refused"


@pytest.mark.parametrize("status", [pl.SUBMITTED, pl.REJECTED])
def test_an_uncommitted_line_cannot_be_clawed_back(status):
    with pytest.raises(ClaimRefused) as caught:
        clawback(make_line(kind=pl.CLAIM, status=status), "r", TODAY)
    assert caught.value.reason == "not_committed"
    assert caught.value.errors[0].field == "line_id"


# ---------------------------------------------------------------- who pays, who decides (segregation of duties)


@pytest.mark.parametrize("payee, prime, funder, payer", [
    ("kings-lynn-works", "trobius", "dwp-commissioning", "trobius"),            # a prime pays its subcontractor
    ("trobius", "trobius", "dwp-commissioning", "dwp-commissioning"),           # the funder pays a prime
    ("hartlepool-council", "hartlepool-council", "tees-valley-combined-authority", "tees-valley-combined-authority"),
    ("leeds-city-council", "leeds-city-council", "leeds-city-council", None),    # its own co-funding: nobody
    ("leeds-supported-jobs", "leeds-city-council", "leeds-city-council", "leeds-city-council"),  # a council pays
])
def test_the_payer_is_the_prime_for_a_subcontractor_and_the_funder_for_a_contract_holder(payee, prime, funder, payer):
    assert pl.payer_of(payee, prime, funder) == payer
    line = make_line(payee_org_id=payee, prime_org_id=prime, funder_org_id=funder)
    assert line.payer_org_id == payer
    assert payer != payee


def test_a_contract_holder_s_own_money_is_match_funding_whatever_the_status_asked():
    for kind, status in ((pl.EARNED, pl.APPROVED), (pl.CLAIM, pl.SUBMITTED)):
        line = make_line(payee_org_id="leeds-city-council", prime_org_id="leeds-city-council",
                         funder_org_id="leeds-city-council", kind=kind, status=status)
        assert line.status == pl.MATCH_FUNDING and line.payer_org_id is None
        assert not line.claimable  # claimed from nobody


def test_only_lines_owed_from_outside_the_chain_are_claimable():
    assert make_line().claimable
    # A council's co-funding passed to its own provider: approved by the council, claimed from nobody.
    assert not make_line(payee_org_id="leeds-supported-jobs", prime_org_id="leeds-city-council",
                         funder_org_id="leeds-city-council").claimable
    assert not make_line(status=pl.SUBMITTED).claimable
    assert not dataclasses.replace(make_line(), claim_file_id="cf-1").claimable


def test_the_payer_decides_and_the_payee_is_refused_naming_the_rule():
    council = make_line(payee_org_id="hartlepool-council", prime_org_id="hartlepool-council",
                        funder_org_id="tees-valley-combined-authority", kind=pl.CLAIM, status=pl.SUBMITTED)
    pl.check_decider(council, "tees-valley-combined-authority")
    with pytest.raises(Forbidden) as own:
        pl.check_decider(council, "hartlepool-council")
    assert own.value.extra == {"rule": "segregation_of_duties", "payer_org_id": "tees-valley-combined-authority"}
    sub = make_line(kind=pl.CLAIM, status=pl.SUBMITTED)
    pl.check_decider(sub, "trobius")
    with pytest.raises(Forbidden) as funder:
        pl.check_decider(sub, "dwp-commissioning")  # it funds the line, but the prime pays the subcontractor
    assert funder.value.extra["rule"] == "payer_decides"
    with pytest.raises(Forbidden) as payee:
        pl.check_decider(sub, "kings-lynn-works")
    assert payee.value.extra["rule"] == "segregation_of_duties"


def test_match_funding_has_no_decision_to_make():
    line = make_line(payee_org_id="leeds-city-council", prime_org_id="leeds-city-council",
                     funder_org_id="leeds-city-council")
    with pytest.raises(ClaimRefused) as caught:
        pl.check_decider(line, "leeds-city-council")
    assert caught.value.reason == "match_funding"


def test_a_match_funded_line_is_reversed_as_match_funding():
    line = make_line(payee_org_id="leeds-city-council", prime_org_id="leeds-city-council",
                     funder_org_id="leeds-city-council")
    reversal = clawback(line, "start recorded in error", TODAY)
    assert reversal.status == pl.MATCH_FUNDING and reversal.amount_pence == -line.amount_pence


# ---------------------------------------------------------------- PRaP-shaped lines


def test_each_line_has_a_fixed_length_reference_derived_from_its_id():
    a, b = make_line(), make_line(milestone_key="level-3-delivery:job_start")
    assert a.line_ref == make_line().line_ref and a.line_ref != b.line_ref
    assert a.line_ref.startswith("LR-") and len(a.line_ref) == 19
    refs = {make_line(referral_id=f"ref-{n:05d}").line_ref for n in range(5000)}
    assert len(refs) == 5000
    assert clawback(a, "r", TODAY).line_ref not in (a.line_ref, b.line_ref)


def test_the_provider_reference_is_the_claim_s_own_or_the_referral_id():
    assert make_line().provider_ref == "ref-0001"
    assert make_line(kind=pl.CLAIM, status=pl.SUBMITTED, provider_ref="KLW-2026-0042").provider_ref == "KLW-2026-0042"


def test_the_last_day_on_provision_is_carried_and_kept_by_a_clawback():
    line = make_line(last_day_on_provision=date(2026, 11, 20))
    assert line.last_day_on_provision == date(2026, 11, 20)
    assert clawback(line, "r", TODAY).last_day_on_provision == date(2026, 11, 20)
    assert make_line().last_day_on_provision is None


# ---------------------------------------------------------------- check_claim (Norfolk)


def claim(**overrides):
    args = dict(tariff=NORFOLK.tariff, level=2, referral_status_started=True, fee_id="level-2-support",
                amount_pence=15000, event_date=TODAY - timedelta(days=3), today=TODAY,
                payee_roles=frozenset({"mentor"}))
    args.update(overrides)
    return check_claim(**args)


def refusal(**overrides):
    with pytest.raises(ClaimRefused) as caught:
        claim(**overrides)
    return caught.value.reason


def test_a_level_2_support_claim_within_the_cap_is_accepted():
    fee, amount = claim()
    assert fee.id == "level-2-support"
    assert amount == 15000


@pytest.mark.parametrize("amount", [1, 20000])
def test_the_cap_and_the_least_amount_are_inclusive(amount):
    assert claim(amount_pence=amount)[1] == amount


def test_over_the_cap_is_refused():
    assert refusal(amount_pence=20001) == "over_cap"


@pytest.mark.parametrize("amount", [0, -100])
def test_nothing_or_a_negative_amount_is_refused(amount):
    assert refusal(amount_pence=amount) == "under_minimum"


def test_a_referral_not_started_cannot_claim():
    assert refusal(referral_status_started=False) == "not_started"


@pytest.mark.parametrize("level, fee_id", [
    (2, "level-3-delivery"),   # another level's fee
    (1, "level-2-support"),
    (3, "level-2-support"),
    (None, "level-2-support"),  # the prime has no level
    (1, "level-1-referral"),   # right level, but earned automatically: not claimable with evidence
])
def test_a_fee_for_another_level_or_without_evidence_is_not_eligible(level, fee_id):
    assert refusal(level=level, fee_id=fee_id) == "not_eligible"


def test_an_unknown_fee_is_refused():
    assert refusal(fee_id="level-4-magic") == "unknown_fee"


def test_an_event_in_the_future_is_refused():
    assert refusal(event_date=TODAY + timedelta(days=1)) == "not_in_future"
    assert claim(event_date=TODAY)[1] == 15000


def test_claims_are_made_within_the_claim_window():
    window = NORFOLK.tariff.claim_window_days
    assert window == 90
    assert claim(event_date=TODAY - timedelta(days=window))[1] == 15000
    assert refusal(event_date=TODAY - timedelta(days=window + 1)) == "outside_claim_window"


def test_a_claim_states_its_amount():
    assert refusal(amount_pence=None) == "required"


def test_refusal_names_the_field():
    with pytest.raises(ClaimRefused) as caught:
        claim(amount_pence=20001)
    error = caught.value.errors[0]
    assert (error.field, error.rule) == ("amount_pence", "over_cap")
    assert caught.value.extra["reason"] == "over_cap"


# ---------------------------------------------------------------- claim files


def sample_lines():
    a = make_line()
    b = make_line(milestone_key="level-3-delivery:job_start", milestone="job_start", amount_pence=36750)
    c = make_line(referral_id="ref-0002", participant_ref="P-1B2C3D", payee_org_id="broadland-mentors",
                  management_fee_bp=500, milestone_key="level-2-support:evidence", fee_id="level-2-support",
                  milestone="evidence", amount_pence=15000, kind=pl.CLAIM, evidence_ref="Receipts folder 12")
    d = clawback(a, "start recorded in error", date(2026, 11, 20))
    c = dataclasses.replace(c, provider_ref="=BM-2026-7", last_day_on_provision=date(2026, 11, 18))
    e = make_line(referral_id="ref-0003", programme_id="local-supported-employment", participant_ref="P-999999",
                  milestone_key="la-co-funding:start", fee_id="la-co-funding", milestone="start",
                  funder="local-authority", payee_org_id="leeds-city-council", prime_org_id="leeds-city-council",
                  management_fee_bp=0, amount_pence=150000)
    f = make_line(referral_id="ref-0003", programme_id="local-supported-employment", participant_ref="P-999999",
                  milestone_key="dwp-participant-fee:start", fee_id="dwp-participant-fee", milestone="start",
                  funder="dwp", payee_org_id="leeds-city-council", prime_org_id="leeds-city-council",
                  management_fee_bp=0, amount_pence=140000)
    return [a, b, c, d, e, f]


def written(lines):
    out = io.StringIO(newline="")
    totals = write(iter(lines), out)
    return out.getvalue(), totals


def parsed(text):
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_header_row_is_the_columns():
    text, _ = written(sample_lines())
    header, _ = parsed(text)
    assert tuple(header) == COLUMNS
    assert text.startswith(",".join(COLUMNS) + "\r\n")


def test_every_record_ends_with_crlf():
    lines = sample_lines()
    text, _ = written(lines)
    assert text.endswith("\r\n")
    assert text.count("\r\n") == len(lines) + 1
    assert "\n" not in text.replace("\r\n", "")


def test_the_csv_parses_back_one_row_per_line():
    lines = sample_lines()
    text, totals = written(lines)
    _, rows = parsed(text)
    assert len(rows) == len(lines) == totals.line_count
    for line, r in zip(lines, rows, strict=True):
        assert r["line_id"] == line.line_id
        assert r["participant_ref"] == line.participant_ref
        assert r["event_date"] == line.event_date.isoformat()
        assert r["period"] == line.period
        assert int(r["amount_pence"]) == line.amount_pence
        assert int(r["prime_retained_pence"]) == line.prime_retained_pence
        assert int(r["payee_net_pence"]) == line.payee_net_pence
        assert r["amount_gbp"] == pounds(line.amount_pence)
        assert r["payee_net_gbp"] == pounds(line.payee_net_pence)
        assert r["prime_retained_gbp"] == pounds(line.prime_retained_pence)
        assert r["reverses_line_id"] == (line.reverses_line_id or "")
        assert r["line_ref"] == line.line_ref and r["provider_ref"] == guard(line.provider_ref)
        assert r["last_day_on_provision"] == (line.last_day_on_provision.isoformat()
                                             if line.last_day_on_provision else "")
        assert r["funder_org_id"] == line.funder_org_id


def test_amounts_in_pounds_have_two_decimals():
    text, _ = written(sample_lines())
    _, rows = parsed(text)
    assert rows[0]["amount_gbp"] == "157.50"
    assert rows[0]["payee_net_gbp"] == "141.75" and rows[0]["prime_retained_gbp"] == "15.75"
    assert rows[3]["amount_gbp"] == "-157.50"
    assert rows[3]["kind"] == "clawback"
    assert rows[3]["reverses_line_id"] == rows[0]["line_id"]
    small = make_line(amount_pence=-1575, management_fee_bp=0, payee_org_id="trobius")
    _, small_rows = parsed(written([small])[0])
    assert small_rows[0]["amount_gbp"] == "-15.75"
    for r in rows + small_rows:
        for column in ("amount_gbp", "payee_net_gbp", "prime_retained_gbp"):
            whole, _, part = r[column].partition(".")
            assert len(part) == 2 and part.isdigit() and whole.lstrip("-").isdigit(), r[column]


def test_totals_per_payee_and_funder_reconcile_with_the_rows():
    text, totals = written(sample_lines())
    _, rows = parsed(text)
    expected: dict = {}
    for r in rows:
        g = expected.setdefault((r["payee_org_id"], r["funder"]), {"lines": 0, "amount_pence": 0,
                                                                   "prime_retained_pence": 0, "payee_net_pence": 0})
        g["lines"] += 1
        for column in ("amount_pence", "prime_retained_pence", "payee_net_pence"):
            g[column] += int(r[column])
    got = {(g["payee_org_id"], g["funder"]): g for g in totals.as_list()}
    assert set(got) == set(expected)
    for key, g in expected.items():
        for column, value in g.items():
            assert got[key][column] == value, (key, column)
        assert got[key]["amount_gbp"] == pounds(g["amount_pence"])
    # The clawback cancels the start line for King's Lynn Works: only the job start remains.
    assert got[("kings-lynn-works", "dwp")]["amount_pence"] == 36750
    assert got[("leeds-city-council", "local-authority")]["amount_pence"] == 150000
    assert got[("leeds-city-council", "dwp")]["amount_pence"] == 140000
    assert totals.total_pence == sum(int(r["amount_pence"]) for r in rows) == 36750 + 15000 + 290000
    summary = totals.as_dict()
    assert summary["line_count"] == len(rows)
    assert summary["total_pence"] == totals.total_pence
    assert sum(g["amount_pence"] for g in summary["by_payee_and_funder"]) == totals.total_pence
    # Groups come out in a stable order.
    keys = [(g["payee_org_id"], g["funder"]) for g in summary["by_payee_and_funder"]]
    assert keys == sorted(keys)


def test_an_empty_file_is_just_the_header():
    text, totals = written([])
    assert text == ",".join(COLUMNS) + "\r\n"
    assert totals.as_dict() == {"line_count": 0, "total_pence": 0, "by_payee_and_funder": []}
    assert Totals().total_pence == 0


@pytest.mark.parametrize("dangerous", [
    "=HYPERLINK(\"http://evil\",\"x\")", "=1+1", "+44 1603 000000", "-2+3", "@SUM(A1:A2)",
    "\t=1+1", "\r=1+1",
])
def test_formula_like_free_text_gets_a_leading_apostrophe(dangerous):
    guarded = "'" + dangerous.lstrip()  # leading white space (tab, CR) is removed first
    assert guard(dangerous) == guarded
    line = make_line(kind=pl.CLAIM, evidence_ref=dangerous)
    line = dataclasses.replace(line, reason=dangerous)
    _, rows = parsed(written([line])[0])
    assert rows[0]["evidence_ref"] == guarded
    assert rows[0]["reason"] == guarded


@pytest.mark.parametrize("safe", ["Receipts folder 12", "EV/2026/11/0042", "1-2 hours", "a=b", "'quoted",
                                  "Ref #9"])
def test_ordinary_free_text_is_unchanged(safe):
    assert guard(safe) == safe
    line = dataclasses.replace(make_line(evidence_ref=safe), reason=safe)
    _, rows = parsed(written([line])[0])
    assert rows[0]["evidence_ref"] == safe
    assert rows[0]["reason"] == safe


@pytest.mark.parametrize("empty", [None, ""])
def test_missing_free_text_is_an_empty_cell(empty):
    assert guard(empty) == ""
    _, rows = parsed(written([make_line(evidence_ref=empty)])[0])
    assert rows[0]["evidence_ref"] == "" and rows[0]["reason"] == ""


@pytest.mark.parametrize("awkward", [
    "receipts, travel and tools", 'the "blue" folder', "line one\nline two", "line one\r\nline two",
    'all, of "them"\r\nat once', ",", '"',
])
def test_commas_quotes_and_newlines_are_quoted_and_round_trip(awkward):
    line = dataclasses.replace(make_line(evidence_ref=awkward), reason=awkward)
    text, _ = written([line])
    _, rows = parsed(text)
    assert len(rows) == 1
    assert rows[0]["evidence_ref"] == awkward
    assert rows[0]["reason"] == awkward
    body = text.split("\r\n", 1)[1]
    assert '"' + awkward.replace('"', '""') + '"' in body


def test_the_file_carries_no_personal_data():
    personal = {"nino", "national_insurance_number", "name", "first_name", "last_name", "surname",
                "date_of_birth", "dob", "email", "phone", "address", "postcode"}
    assert not personal & set(COLUMNS)
    assert not personal & {f.name for f in dataclasses.fields(pl.PaymentLine)}
    text, _ = written(sample_lines())
    _, rows = parsed(text)
    assert {r["participant_ref"] for r in rows} == {"P-7F3A9C", "P-1B2C3D", "P-999999"}


class CountingSink:
    """A text sink that keeps no text: counts the records written to it."""

    def __init__(self):
        self.records = 0
        self.chars = 0

    def write(self, text):
        self.records += text.count("\r\n")
        self.chars += len(text)
        return len(text)


def test_write_streams_lazily_one_line_at_a_time():
    count = 100_000
    template = make_line()
    produced = 0

    def generate():
        nonlocal produced
        for _ in range(count):
            produced += 1
            yield template

    sink = CountingSink()
    seen: list[tuple[int, int]] = []
    calls = 0

    def on_line():
        nonlocal calls
        calls += 1
        # Exactly one line has been taken from the generator per line written: never read ahead.
        if produced != calls or sink.records != calls + 1:
            seen.append((calls, produced, sink.records))

    totals = write(generate(), sink, on_line=on_line)
    assert seen == []
    assert calls == produced == count
    assert sink.records == count + 1
    assert totals.line_count == count
    assert totals.total_pence == count * template.amount_pence
    (group,) = totals.as_list()
    assert group["payee_net_pence"] == count * template.payee_net_pence
    assert group["prime_retained_pence"] == count * template.prime_retained_pence


def test_write_does_not_materialise_the_input():
    # A one-shot iterator that refuses len() and indexing still streams; write never calls list() on it
    # (the generator would be exhausted before the first on_line otherwise).
    produced = 0
    first_call_at: list[int] = []

    def generate():
        nonlocal produced
        for line in sample_lines():
            produced += 1
            yield line

    write(generate(), io.StringIO(), on_line=lambda: first_call_at.append(produced))
    assert first_call_at == [1, 2, 3, 4, 5, 6]


# ---------------------------------------------------------------- product bugs (these tests fail until fixed)


def test_a_fixed_evidence_fee_is_refused_by_the_schema_or_claimable():
    """BUG: AmountSchema accepts {"fixed_pence": N, "evidence_required": true} (its fixed branch returns before
    looking at evidence_required), but check_claim then compares the claimed amount with max_pence, which is
    None for a fixed amount: TypeError (unhandled in services.payments.submit_claim) instead of a result or
    a ClaimRefused."""
    from marshmallow import ValidationError

    from chalicelib.adapters.rulebook_schemas import TariffSchema

    document = {
        "currency": "GBP", "funders": [{"id": "dwp", "name": "DWP"}],
        "fees": [{"id": "self-employed-outcome", "description": "claimed with evidence", "funder": "dwp",
                  "amount": {"fixed_pence": 50000, "evidence_required": True},
                  "payments": [{"milestone": "evidence", "share_bp": 10000}]}],
    }
    try:
        tariff = TariffSchema().load(document)
    except ValidationError:
        return  # refusing the combination when the rulebook loads is a fix
    for amount in (50000, 50001, None):
        try:
            check_claim(tariff=tariff, level=None, referral_status_started=True, fee_id="self-employed-outcome",
                        amount_pence=amount, event_date=TODAY - timedelta(days=1), today=TODAY)
        except ClaimRefused:
            pass


def test_only_the_party_a_fee_pays_claims_it():
    """Level 2 mentoring pays the mentor: the deliverer (or the referrer) on the same referral cannot claim it."""
    assert refusal(payee_roles=frozenset({"deliverer"})) == "not_eligible"
    assert refusal(payee_roles=frozenset({"referrer"})) == "not_eligible"
    assert claim(payee_roles=frozenset({"referrer", "mentor"}))[1] == 15000
