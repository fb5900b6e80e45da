"""Adversarial input fuzzing of POST /referrals and POST /claims through chalice.test.Client.

Every generated request starts from a body that is known to be valid (a sanity test at the end of each property
proves it) and then receives at least one mutation that makes it invalid: a 10k-character string, a value of the
wrong JSON type, an out-of-range or impossible date, a bad amount, an unknown field, a missing field, or a
programme rule the body no longer meets. Optional "benign" mutations (emoji, right-to-left marks, NUL and other
control characters in free-text fields that accept any text) are mixed in so that odd text never masks the
invalid part.

Properties, for every example:
  * the answer is a 4xx (never 2xx, never 5xx);
  * it is `application/problem+json` with `type`, `title`, `status` (equal to the HTTP status) and `detail`;
  * it echoes none of the participant's personal data;
  * NOTHING was written: the referrer's GET /referrals, the provider's and the prime's GET /claims and the
    programme's allocation counters are unchanged.

Inputs that the API is known to get wrong are kept out of the generators (so the fuzzer keeps looking for new
problems) and pinned instead by the explicit regression tests at the bottom of this file, which fail until the
product is fixed:
  * NINOs / postcodes written with non-ASCII digits (test_nino_with_non_ascii_digits_is_refused, ...)
  * strings and numbers for booleans, e.g. consent.given = "yes" (test_boolean_fields_refuse_non_booleans)
  * JSON nested deeper than Python's recursion limit (test_deeply_nested_json_body_is_refused_not_a_500)
  * integer literals longer than Python's 4300-digit limit (test_integer_literal_over_4300_digits_is_refused_not_a_500)
  * evidence claims dated before the referral or the start (test_claim_event_date_before_the_start_is_refused)
  * media types the routes do not declare (test_other_media_types_get_a_415_problem)
  * `\\ud800`-style escapes in free text (test_lone_surrogate_escape_in_free_text_is_refused_not_a_500)
"""
from __future__ import annotations

import itertools
import json
import re
from datetime import date

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from tests.conftest import TODAY, chain_referral, referral_body

NORFOLK = "flexible-routeways-norfolk"
PROGRAMMES = ("flexible-routeways-norfolk", "work-choice", "esf-community-hub", "local-supported-employment",
              "tees-valley-routes-to-work")
NORFOLK_ORGS = ("trobius", "kings-lynn-works", "great-yarmouth-works")
PROBLEM_BASE = "https://refpay.dev/problems/"

# Hypothesis + the function-scoped api/keys fixtures: one in-memory AWS per test function, shared by its examples
# (which is what we want: each example is checked against the state the previous ones left).
# database=None: no .hypothesis/ directory is written outside tests/adversarial.
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much, HealthCheck.data_too_large],
                max_examples=200, deadline=None, database=None)

# ------------------------------------------------------------------ value strategies

# Any unicode text that JSON can carry: emoji, RTL/LTR marks and overrides, NUL and C0/C1 controls, BOM...
# (lone surrogates cannot be encoded as UTF-8 JSON, so category Cs is left out).
ANY_CHAR = st.characters(exclude_categories=("Cs",))
ODD = ["\x00", "\x07", "\x1b[31m", "\u202e", "\u200f", "\u200b", "\ufeff", "\r\n", "\t", "😀", "👩‍👩‍👧‍👦", "مرحبا",
       "שלום", "Ω", "ǅ", "İ", "ß", "\u0301", "\U0010fffd", "'; DROP TABLE referrals; --", "${jndi:ldap://x}",
       "{{7*7}}", "<script>alert(1)</script>", "../../etc/passwd", "%00", "\\u0000"]
UNICODE_TEXT = st.one_of(st.text(ANY_CHAR, min_size=1, max_size=30),
                         st.lists(st.sampled_from(ODD), min_size=1, max_size=4).map("".join))
OVERSIZED = st.sampled_from(["x" * 10_000, "😀" * 10_000, "\u202e" * 10_000, "A\x00" * 5_000,
                             "ü" * 10_001, "AB123456C" + " " * 9_991])
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(ANY_CHAR, max_size=10))
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                              st.dictionaries(st.text(ANY_CHAR, max_size=8), inner,
                                                                              max_size=3)), max_leaves=8)
NOT_A_STRING = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 20), max_value=10 ** 20),
                         st.floats(allow_nan=True, allow_infinity=True), st.lists(JSON_SCALARS, max_size=3),
                         st.dictionaries(st.text(ANY_CHAR, max_size=5), JSON_SCALARS, max_size=3))
NOT_AN_OBJECT = st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=3))

# marshmallow's Boolean also takes these (a known defect, pinned by test_boolean_fields_refuse_non_booleans).
LENIENT_BOOLEANS = {"1", "ON", "On", "T", "TRUE", "True", "Y", "YES", "Yes", "on", "t", "true", "y", "yes",
                    "0", "F", "FALSE", "False", "N", "NO", "No", "OFF", "Off", "f", "false", "n", "no", "off"}


def _lenient_boolean(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value in (0, 1)
    return isinstance(value, str) and value in LENIENT_BOOLEANS


NOT_A_BOOLEAN = NOT_A_STRING.filter(lambda v: not isinstance(v, bool) and not _lenient_boolean(v))


def _parses_as_date(text: str) -> bool:
    try:
        date.fromisoformat(text)  # what marshmallow's Date field accepts (ISO 8601, incl. 20261124, 2026-W48-2)
        return True
    except (ValueError, TypeError):
        return False


# Out of range (before 1900 or after 2199), impossible, malformed, or not a string at all.
BAD_DATE = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "not-a-date", "", "2026-13-01", "2026-00-10",
                     "2026-11-31", "2026-11-24T00:00:00", "2026-11-24 ", " 2026-11-24", "24/11/2026",
                     "+2026-11-24", "1899-12-31", "2200-01-01", "２０２６-11-24", "2026-11-24\x00", "2026‐11‐24"]),
    st.text(ANY_CHAR, max_size=12).filter(lambda s: not _parses_as_date(s)),
    NOT_A_STRING)
FUTURE_DATE = st.sampled_from(["2026-11-25", "2027-01-01", "2199-12-31"])  # TODAY is 2026-11-24

_STRICT_NINO = re.compile(r"[A-Z]{2}[0-9]{6}[A-D]")
_ANY_DIGIT_NINO = re.compile(r"\w\w\d{6}\w")


def _bad_nino(text: str) -> bool:
    compact = re.sub(r"\s+", "", text).upper()
    # Keep out anything that is, or might pass as, a NINO (incl. non-ASCII digits: a known defect, pinned below).
    return not _STRICT_NINO.fullmatch(compact) and not _ANY_DIGIT_NINO.fullmatch(compact)


BAD_NINO = st.one_of(
    st.sampled_from(["", "AB123456", "AB1234567C", "AB123456E", "DA123456C", "QQ123456C", "GB123456A", "AB 12 34 56",
                     "AB12\x003456C", "AB123456C\u200b", "\u202eAB123456C", "😀B123456C", "AB-12-34-56-C",
                     "AB123456C; DROP TABLE", "ÅB123456C"]),
    st.text(ANY_CHAR, max_size=15).filter(_bad_nino), OVERSIZED, NOT_A_STRING)


def _bad_postcode(text: str) -> bool:
    compact = re.sub(r"\s+", "", text).upper()
    return not re.fullmatch(r"[A-Z0-9]{5,7}|GIR0AA", compact) and not re.search(r"\d", compact)


BAD_POSTCODE = st.one_of(
    st.sampled_from(["", "NR1", "12345", "NR1 3QUX", "ZZZZ ZZZ", "NR1\x003QU", "NR1 3QU 😀", "\u202eNR1 3QU",
                     "NR1-3QU"]),
    st.text(ANY_CHAR, max_size=10).filter(_bad_postcode), OVERSIZED, NOT_A_STRING)


def bad_text(max_len: int):
    """For a `_text(max_len)` field that takes any text: too long, empty, or not a string."""
    return st.one_of(OVERSIZED, st.just(""), st.text(ANY_CHAR, min_size=max_len + 1, max_size=max_len + 40),
                     NOT_A_STRING)


def bad_identifier(valid: tuple[str, ...], max_len: int = 64):
    """For a field naming something that must exist (programme, provider, support level, fee)."""
    return st.one_of(bad_text(max_len), UNICODE_TEXT.filter(lambda s: s not in valid), st.sampled_from(
        [v.upper() for v in valid] + [v + " " for v in valid] + [" " + v for v in valid] + [v + "\x00" for v in valid]))


# ------------------------------------------------------------------ mutations

MISSING = object()


def _apply(body: dict, path: tuple[str, ...], value) -> bool:
    """Set (or, with MISSING, delete) body[path]. False when the parent is gone or not an object."""
    parent = body
    for key in path[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            return False
    if value is MISSING:
        return parent.pop(path[-1], MISSING) is not MISSING
    parent[path[-1]] = value
    return True


def _unknown_field(declared: set[str]):
    names = st.one_of(st.sampled_from(["status", "version", "id", "org_id", "organisation", "prime_org_id",
                                       "payee_org_id", "line_id", "referrer_org_id", "provider_org_id",
                                       "participant_hash", "milestones_earned", "admin", "__proto__", "", " ",
                                       "constructor", "programme_id ", "Programme_Id", "nino\x00"]),
                      st.text(ANY_CHAR, max_size=12))
    return st.tuples(names.filter(lambda n: n not in declared), ANY_JSON)


REFERRAL_FIELDS = {
    (): {"programme_id", "provider_id", "area", "support_level", "module_id", "consent", "participant", "notes_ref"},
    ("consent",): {"given", "date"},
    ("participant",): {"nino", "given_name", "family_name", "date_of_birth", "postcode", "eligibility"},
    ("participant", "eligibility"): {"seeking_work", "right_to_work", "in_employment", "learning_disability",
                                     "autism", "long_term_mental_health", "secondary_mental_health_services",
                                     "on_other_dwp_programme", "disabled", "ex_offender", "long_term_unemployed",
                                     "lone_parent", "carer", "considering_self_employment", "aged_18_24",
                                     "aged_50_plus"},
}
REFERRAL_REQUIRED = [("programme_id",), ("provider_id",), ("support_level",), ("consent",), ("participant",),
                     ("consent", "given"), ("consent", "date"), ("participant", "nino"),
                     ("participant", "given_name"), ("participant", "family_name"),
                     ("participant", "date_of_birth"), ("participant", "postcode"), ("participant", "eligibility"),
                     ("participant", "eligibility", "seeking_work"), ("participant", "eligibility", "right_to_work")]


def _invalid_referral_mutation():
    eligibility = ("participant", "eligibility")
    field_values = st.one_of(
        st.tuples(st.just(("programme_id",)), bad_identifier(PROGRAMMES) | st.sampled_from(PROGRAMMES[1:])),
        st.tuples(st.just(("provider_id",)), bad_identifier(NORFOLK_ORGS)),
        st.tuples(st.just(("support_level",)), bad_identifier(("standard", "intensive"), 30)),
        st.tuples(st.just(("module_id",)), UNICODE_TEXT | bad_text(64)),  # Norfolk has no modules
        st.tuples(st.just(("notes_ref",)), bad_text(100)),
        st.tuples(st.just(("area",)), bad_text(64)),
        st.tuples(st.just(("consent",)), NOT_AN_OBJECT),
        st.tuples(st.just(("consent", "given")), NOT_A_BOOLEAN | st.just(False)),
        st.tuples(st.just(("consent", "date")), BAD_DATE | FUTURE_DATE),
        st.tuples(st.just(("participant",)), NOT_AN_OBJECT),
        st.tuples(st.just(("participant", "nino")), BAD_NINO),
        st.tuples(st.just(("participant", "given_name")), bad_text(100)),
        st.tuples(st.just(("participant", "family_name")), bad_text(100)),
        st.tuples(st.just(("participant", "date_of_birth")),
                  BAD_DATE | FUTURE_DATE | st.sampled_from([TODAY, "2015-06-01", "2010-11-25"])),  # not yet 16
        st.tuples(st.just(("participant", "postcode")), BAD_POSTCODE),
        st.tuples(st.just(eligibility), NOT_AN_OBJECT),
        st.tuples(st.sampled_from([eligibility + (a,) for a in sorted(REFERRAL_FIELDS[eligibility])]),
                  NOT_A_BOOLEAN),
        st.tuples(st.sampled_from([eligibility + ("seeking_work",), eligibility + ("right_to_work",)]),
                  st.just(False)),
        st.tuples(st.sampled_from([eligibility + ("in_employment",), eligibility + ("on_other_dwp_programme",)]),
                  st.just(True)),
    )
    missing = st.sampled_from(REFERRAL_REQUIRED).map(lambda p: (p, MISSING))
    unknown = st.sampled_from(sorted(REFERRAL_FIELDS)).flatmap(
        lambda parent: _unknown_field(REFERRAL_FIELDS[parent]).map(lambda kv: (parent + (kv[0],), kv[1])))
    return st.one_of(field_values, missing, unknown)


def _benign_referral_mutation():
    """Odd but acceptable text in fields that take any text (they must never turn an invalid body valid)."""
    return st.one_of(
        st.tuples(st.sampled_from([("participant", "given_name"), ("participant", "family_name"), ("notes_ref",)]),
                  UNICODE_TEXT.filter(lambda s: 1 <= len(s) <= 100)),
        st.tuples(st.just(("participant", "nino")), st.sampled_from(["ab123456c", " AB 12 34 56 C ", "AB\t123456C"])),
        st.tuples(st.just(("participant", "postcode")), st.sampled_from(["nr13qu", " NR1  3QU", "NR1\t3QU"])),
    )


# ------------------------------------------------------------------ the observable state


def _count(api, path: str, key: str) -> int:
    total, cursor = 0, None
    for _ in range(100):
        reply = api.get(f"{path}?limit=100" + (f"&cursor={cursor}" if cursor else ""), key)
        assert reply.status == 200, reply.body
        total += len(reply.body["items"])
        cursor = reply.body["cursor"]
        if not reply.body["has_more"]:
            return total
    raise AssertionError("pagination did not end")


def _allocations(api, key: str) -> dict:
    reply = api.get(f"/programmes/{NORFOLK}", key)
    assert reply.status == 200, reply.body
    return {a["org_id"]: a["used"] for a in reply.body["allocations"]}


_NINOS = itertools.count(100_000)


class World:
    def __init__(self, api, keys):
        orgs = keys["organisations"]
        self.api = api
        self.referrer = keys["referrer"]                       # jobcentre-plus-norwich
        self.keys = keys
        self.sub = orgs["broadland-mentors"]["provider"]       # Level 2 mentor: evidence claims
        self.sibling = orgs["kings-lynn-works"]["provider"]    # Level 3, same prime
        self.prime_finance = keys["finance"]                   # trobius

    @staticmethod
    def nino() -> str:
        return f"JN{next(_NINOS):06d}B"  # a fresh, valid NINO: no example is refused as 'already active'

    def snapshot(self) -> tuple:
        return (_count(self.api, "/referrals", self.referrer), _count(self.api, "/claims", self.sub),
                _count(self.api, "/claims", self.sibling), _count(self.api, "/claims", self.prime_finance),
                _allocations(self.api, self.referrer))

    def refer(self, provider_id: str, started: bool, key: str) -> str:
        body = referral_body(provider_id=provider_id, nino=self.nino(), consent={"given": True, "date": TODAY})
        reply = self.api.post("/referrals", self.referrer, body)
        assert reply.status == 201, reply.body
        rid = reply.body["id"]
        steps = [("acknowledgement", {"decision": "accept", "date": TODAY})]
        if started:
            steps.append(("start", {"date": TODAY}))
        for step, payload in steps:
            reply = self.api.post(f"/referrals/{rid}/{step}", key, payload)
            assert reply.status == 200, reply.body
        return rid

    def mentored(self, started: bool) -> str:
        """A Level 2 group's referral through the prime, routed to King's Lynn Works with the group mentoring
        (one mentoring contact, mc1)."""
        return chain_referral(self.api, self.keys, nino=self.nino(), started=started)


def assert_refused_problem(reply, personal: list[str]) -> None:
    assert 400 <= reply.status < 500, f"expected a 4xx, got {reply.status}: {reply.body}"
    content_type = reply.headers.get("content-type", "")
    assert content_type.startswith("application/problem+json"), \
        f"{reply.status} is not a problem: Content-Type {content_type!r}, body {reply.body}"
    body = reply.body
    assert isinstance(body, dict), body
    for member in ("type", "title", "status", "detail"):
        assert member in body, f"problem without {member!r}: {body}"
    assert body["status"] == reply.status, body
    assert isinstance(body["type"], str) and body["type"].startswith(PROBLEM_BASE), body
    assert isinstance(body["title"], str) and body["title"] and isinstance(body["detail"], str), body
    text = json.dumps(body, ensure_ascii=False)
    for value in personal:
        assert value not in text, f"the problem echoes personal data {value!r}: {body}"


# ------------------------------------------------------------------ POST /referrals


def _base_referral(world: World) -> dict:
    body = referral_body(provider_id="kings-lynn-works", nino=world.nino(), consent={"given": True, "date": TODAY})
    body["participant"].update(given_name="Zephyrine", family_name="Quillfeather", date_of_birth="1987-03-09",
                               postcode="PE30 1EZ")
    return body


@FUZZ
@given(invalid=st.lists(_invalid_referral_mutation(), min_size=1, max_size=3),
       benign=st.lists(_benign_referral_mutation(), max_size=2))
def test_fuzzed_referrals_are_refused_with_a_problem_and_write_nothing(api, keys, invalid, benign):
    world = World(api, keys)
    before = world.snapshot()
    body = _base_referral(world)
    base_nino = body["participant"]["nino"]
    for path, value in benign:
        _apply(body, path, value)
    applied = [(p, v) for p, v in invalid if _apply(body, p, v)]
    assume(applied)
    note(f"invalid mutations: {[(p, '<missing>' if v is MISSING else v) for p, v in applied]!r:.2000}")

    reply = api.post("/referrals", world.referrer, body)

    assert_refused_problem(reply, [base_nino, "Zephyrine", "Quillfeather", "1987-03-09", "PE30 1EZ"])
    assert world.snapshot() == before, "a refused referral changed what the API shows"


def test_the_referral_fuzz_base_is_valid(api, keys):
    """Sanity: the body every fuzzed referral starts from is accepted (so the mutations made the refusals)."""
    world = World(api, keys)
    reply = api.post("/referrals", world.referrer, _base_referral(world))
    assert reply.status == 201, reply.body


# ------------------------------------------------------------------ POST /claims

CLAIM_FIELDS = {"referral_id", "fee_id", "amount_pence", "event_date", "evidence_ref", "contact_ids"}
# amount: a variable fee; contacts: a mentoring fee's evidence
CLAIM_REQUIRED = ["referral_id", "fee_id", "event_date", "evidence_ref", "amount_pence", "contact_ids"]
FEES = ("level-1-referral", "level-2-support", "level-3-delivery")
BAD_AMOUNT = st.one_of(
    st.sampled_from([-1, 0, 20_001, 100_000_001, 10 ** 20, -(10 ** 20), 10 ** 400, 1.5, 100.0, 1e3, -0.0,
                     float("nan"), float("inf"), "100", "1e3", "0x10", "", True, False, None, [], {}, [100],
                     {"pence": 100}]),
    st.integers(max_value=0), st.integers(min_value=20_001),
    st.floats(allow_nan=True, allow_infinity=True), st.text(ANY_CHAR, max_size=8),
)


def _invalid_claim_mutation(held: str, other_ids: list[str]):
    field_values = st.one_of(
        st.tuples(st.just("referral_id"), bad_identifier((held,)) | st.sampled_from(other_ids)),
        st.tuples(st.just("fee_id"), bad_identifier(FEES, 40) | st.sampled_from(["level-1-referral",
                                                                                   "level-3-delivery"])),
        st.tuples(st.just("amount_pence"), BAD_AMOUNT),
        # Out of range, impossible, malformed, in the future, or older than the 90-day claim window.
        st.tuples(st.just("event_date"), BAD_DATE | FUTURE_DATE | st.sampled_from(["2026-08-25", "2020-01-01",
                                                                                    "1900-01-01"])),
        st.tuples(st.just("evidence_ref"), bad_text(200)),
        # Not the mentor's own contacts on this referral, or not a list of ids at all.
        st.tuples(st.just("contact_ids"), st.sampled_from([[], ["mc9"], ["mc1", "mc1"], ["mc1", "mc2"], "mc1", [1],
                                                            [None], None, {}, ["m" * 21], ["mc1"] * 301])),
    )
    missing = st.sampled_from(CLAIM_REQUIRED).map(lambda f: (f, MISSING))
    unknown = _unknown_field(CLAIM_FIELDS)
    return st.one_of(field_values, missing, unknown)


def _claims_world(api, keys):
    world = World(api, keys)
    held = world.mentored(started=True)
    # Referral ids the mentor must not be able to claim on: another's it plays no part in (same prime), and one it
    # mentors that has not started.
    others = [world.refer("kings-lynn-works", started=True, key=world.sibling), world.mentored(started=False)]
    return world, held, others


def _base_claim(referral_id: str) -> dict:
    return {"referral_id": referral_id, "fee_id": "level-2-support", "amount_pence": 15_000,
            "event_date": TODAY, "evidence_ref": "EV-CASE-NOTES-7", "contact_ids": ["mc1"]}


@pytest.fixture
def claims_world(api, keys):
    """Set up once per test function; a hypothesis test's examples share it."""
    return _claims_world(api, keys)


@FUZZ
@given(data=st.data())
def test_fuzzed_claims_are_refused_with_a_problem_and_write_nothing(api, claims_world, data):
    world, held, others = claims_world
    invalid = data.draw(st.lists(_invalid_claim_mutation(held, others), min_size=1, max_size=3), label="invalid")
    benign = data.draw(st.lists(st.tuples(st.just("evidence_ref"),
                                          UNICODE_TEXT.filter(lambda s: len(s) <= 200)), max_size=1), label="benign")
    before = world.snapshot()
    body = _base_claim(held)
    for field, value in benign + invalid:
        _apply(body, (field,), value)

    reply = api.post("/claims", world.sub, body)

    assert_refused_problem(reply, [])
    assert world.snapshot() == before, "a refused claim changed what the API shows"


def test_the_claim_fuzz_base_is_valid(api, keys):
    world, held, _ = _claims_world(api, keys)
    reply = api.post("/claims", world.sub, _base_claim(held))
    assert reply.status == 201, reply.body
    assert reply.body["status"] == "submitted" and reply.body["amount_pence"] == 15_000


# ------------------------------------------------------------------ raw bodies and media types

RAW_BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"", b"null", b"[]", b"[{}]", b'"x"', b"0", b"true", b"{", b"{}}", b"{'a': 1}", b"\xef\xbb\xbf{}",
                     b"\x00", b'{"a":1,}', b"NaN", b"\xff\xfe{\x00}\x00",
                     b'{"x": "\xed\xa0\x80"}', b'{"programme_id": "\\ud800"}', b"[" * 50 + b"]" * 50]),
    st.text(ANY_CHAR, max_size=100).map(lambda s: s.encode()),
    NOT_AN_OBJECT.map(lambda v: json.dumps(v).encode()),
)
# Media types the routes declare to Chalice. Any other one is refused by Chalice itself, outside the app's problem
# mapping: a known defect pinned by test_other_media_types_get_a_415_problem.
CONTENT_TYPES = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                                 "application/x-www-form-urlencoded", "APPLICATION/JSON",
                                 "application/json;charset=latin-1", "text/plain; charset=utf-8"])


@FUZZ
@given(raw=RAW_BODIES, content_type=CONTENT_TYPES, endpoint=st.sampled_from(["/referrals", "/claims"]))
def test_malformed_bodies_and_media_types_are_refused_and_write_nothing(api, keys, raw, content_type, endpoint):
    world = World(api, keys)
    before = world.snapshot()
    key = world.referrer if endpoint == "/referrals" else world.sub
    reply = api.call("POST", endpoint, key, raw=raw, headers={"Content-Type": content_type})
    assert_refused_problem(reply, [])
    assert reply.status in (415, 422), reply.body
    assert world.snapshot() == before


# ------------------------------------------------------------------ explicit regressions (these pass)
# Each test loops over its cases in one in-memory AWS (a world takes ~1 s to seed) and reports every failing case.


def _refused_cases(world, cases, send, personal=("Zephyrine", "Quillfeather")) -> list[str]:
    """Run each case; return a description of every one that is not a 4xx problem or that wrote something."""
    bad = []
    for name, call in cases:
        before = world.snapshot()
        reply = send(call)
        try:
            assert_refused_problem(reply, list(personal))
            assert world.snapshot() == before, "something was written"
        except AssertionError as exc:
            bad.append(f"{name}: {str(exc).splitlines()[0][:300]}")
    return bad


def assert_all_refused(world, cases, send, personal=("Zephyrine", "Quillfeather")) -> None:
    bad = _refused_cases(world, list(cases), send, personal)
    assert not bad, f"{len(bad)} case(s) not refused cleanly:\n" + "\n".join(bad)


def test_claim_amounts_that_are_negative_huge_fractional_or_strings_are_refused(api, keys):
    world, held, _ = _claims_world(api, keys)
    amounts = {"minus-1": -1, "10**20": 10 ** 20, "1.5": 1.5, "string-100": "100", "zero": 0, "over-cap": 20_001,
               "null": None, "true": True, "100.0": 100.0, "list": [100]}

    def send(amount):
        reply = api.post("/claims", world.sub, {**_base_claim(held), "amount_pence": amount})
        assert reply.status != 422 or any(e["field"] == "amount_pence" for e in reply.body.get("errors", [])), \
            reply.body
        return reply

    assert_all_refused(world, amounts.items(), send)


def test_out_of_range_and_impossible_dates_are_refused(api, keys):
    world, held, _ = _claims_world(api, keys)
    cases = []
    for value in ("0001-01-01", "9999-12-31", "2026-02-30", "not-a-date"):
        for field in ("consent.date", "participant.date_of_birth", "event_date"):
            cases.append((f"{field}={value}", (field, value)))

    def send(case):
        field, value = case
        if field == "event_date":
            reply = api.post("/claims", world.sub, {**_base_claim(held), "event_date": value})
        else:
            body = _base_referral(world)
            _apply(body, tuple(field.split(".")), value)
            reply = api.post("/referrals", world.referrer, body)
        assert reply.status == 422 and [e["field"] for e in reply.body["errors"]] == [field], reply.body
        return reply

    assert_all_refused(world, cases, send)


def test_ten_thousand_character_strings_are_refused(api, keys):
    world = World(api, keys)
    paths = [("notes_ref",), ("area",), ("participant", "given_name"), ("participant", "family_name"),
             ("participant", "postcode"), ("participant", "nino"), ("programme_id",), ("provider_id",),
             ("support_level",), ("module_id",)]

    def send(path):
        body = _base_referral(world)
        _apply(body, path, "😀" * 10_000)
        reply = api.post("/referrals", world.referrer, body)
        assert reply.status == 422 and [e["field"] for e in reply.body["errors"]] == [".".join(path)], reply.body
        assert "😀" * 50 not in json.dumps(reply.body, ensure_ascii=False), "the problem echoes the oversized input"
        return reply

    assert_all_refused(world, [(".".join(p), p) for p in paths], send)


def test_unknown_and_missing_fields_are_refused_at_every_level(api, keys):
    world = World(api, keys)
    cases = [(f"unknown {'.'.join(w + ('status',))}", (w + ("status",), "exited"))
             for w in [(), ("consent",), ("participant",), ("participant", "eligibility")]]
    cases += [(f"missing {'.'.join(p)}", (p, MISSING)) for p in REFERRAL_REQUIRED]

    def send(case):
        path, value = case
        body = _base_referral(world)
        assert _apply(body, path, value)
        reply = api.post("/referrals", world.referrer, body)
        if value is not MISSING:
            assert reply.body["errors"] == [{"field": ".".join(path), "rule": "unknown_field",
                                             "message": "Unknown field."}], reply.body
        return reply

    assert_all_refused(world, cases, send)


def test_control_characters_in_free_text_are_refused_and_other_text_is_kept_exactly(api, keys):
    """Control characters and bidirectional overrides (which disguise what a record says) are refused with the
    field and rule named, writing nothing; any other text comes back exactly as it went in."""
    world = World(api, keys)
    for bad in ("Zeph\x00", "Zeph\x07", "Zeph\u202eyr", "Zeph\r\n"):
        body = _base_referral(world)
        body["participant"]["given_name"] = bad
        refused = api.post("/referrals", world.referrer, body)
        assert refused.status == 422, refused.body
        assert refused.body["errors"][0]["field"] == "participant.given_name"
        assert refused.body["errors"][0]["rule"] == "plain_text"
    assert _count(api, "/referrals", world.referrer) == 0
    odd = "Zeph\u200f😀ǅ Ø'Brien-Łukasz"
    body = _base_referral(world)
    body["participant"]["given_name"] = odd
    created = api.post("/referrals", world.referrer, body)
    assert created.status == 201, created.body
    again = api.get(f"/referrals/{created.body['id']}", world.referrer)
    assert again.body["participant"]["given_name"] == odd
    assert api.get(f"/referrals/{created.body['id']}/events", world.referrer).status == 200
    assert _count(api, "/referrals", world.referrer) == 1


# ------------------------------------------------------------------ explicit regressions (product bugs: these fail)


def test_nino_with_non_ascii_digits_is_refused(api, keys):
    """chalicelib/domain/participants.py:9 `_NINO` uses `\\d`, which in a str pattern matches every Unicode digit:
    'AB١٢٣٤٥٦C' is accepted, stored as the participant's NINO, and hashed differently from 'AB123456C'."""
    world = World(api, keys)
    ninos = {"arabic-indic": "AB\u0661\u0662\u0663\u0664\u0665\u0666C",
             "fullwidth": "AB\uff11\uff12\uff13\uff14\uff15\uff16C",
             "devanagari": "AB\u0967\u0968\u0969\u096a\u096b\u096cC"}

    def send(nino):
        body = _base_referral(world)
        body["participant"]["nino"] = nino
        reply = api.post("/referrals", world.referrer, body)
        assert reply.status == 422, f"{nino!r} accepted as a NINO ({reply.status}), stored as " \
                                    f"{reply.body.get('participant', {}).get('nino')!r}"
        return reply

    assert_all_refused(world, ninos.items(), send)


def test_the_same_person_cannot_be_active_twice_by_writing_the_nino_digits_differently(api, keys):
    """The one-active-referral rule keys on an HMAC of the normalised NINO; non-ASCII digits are not normalised,
    so the same person gets a second active referral (and takes a second allocation place)."""
    world = World(api, keys)
    first = _base_referral(world)
    first["participant"]["nino"] = "AB123456C"
    assert api.post("/referrals", world.referrer, first).status == 201
    before = world.snapshot()
    second = _base_referral(world)
    second["participant"]["nino"] = "AB\uff11\uff12\uff13\uff14\uff15\uff16C"  # the same NINO, fullwidth digits
    reply = api.post("/referrals", world.referrer, second)
    assert reply.status == 422, f"the same person was referred again: {reply.status} {reply.body.get('id')}"
    assert world.snapshot() == before


def test_postcode_with_non_ascii_digits_is_refused(api, keys):
    """Same root cause, chalicelib/domain/participants.py:10 `_POSTCODE` uses `\\d`."""
    world = World(api, keys)
    before = world.snapshot()
    body = _base_referral(world)
    body["participant"]["postcode"] = "NR\u0661 3QU"
    reply = api.post("/referrals", world.referrer, body)
    assert reply.status == 422, f"accepted postcode {body['participant']['postcode']!r}: {reply.status}"
    assert world.snapshot() == before


def test_boolean_fields_refuse_non_booleans(api, keys):
    """The contract says `type: boolean`; marshmallow's Boolean field (chalicelib/api/schemas.py ConsentIn.given,
    EligibilityIn) takes "yes", "on", "t", 1 and 1.0 as true, so a participant's consent is recorded from a string
    or a number."""
    world = World(api, keys)
    cases = [(f"{'.'.join(p)}={v!r}", (p, v)) for p, v in [
        (("consent", "given"), "yes"), (("consent", "given"), 1), (("consent", "given"), "on"),
        (("participant", "eligibility", "seeking_work"), "t"), (("participant", "eligibility", "right_to_work"), 1.0)]]

    def send(case):
        body = _base_referral(world)
        _apply(body, *case)
        return api.post("/referrals", world.referrer, body)

    assert_all_refused(world, cases, send)


def test_deeply_nested_json_body_is_refused_not_a_500(api, keys):
    """chalicelib/api/routing.py:67 `_parse_body` catches only UnicodeDecodeError and JSONDecodeError; json.loads
    raises RecursionError on deep nesting, which falls through to the catch-all 500 (routing.py:194)."""
    world = World(api, keys)
    cases = [(f"{endpoint} {shape}", (endpoint, key, raw))
             for endpoint, key in (("/referrals", world.referrer), ("/claims", world.sub))
             for shape, raw in (("100k nested lists", "[" * 100_000 + "]" * 100_000),
                                ("50k nested objects", '{"a": ' * 50_000 + "1" + "}" * 50_000))]
    assert_all_refused(world, cases, lambda c: api.call("POST", c[0], c[1], raw=c[2]))


def test_integer_literal_over_4300_digits_is_refused_not_a_500(api, keys):
    """json.loads raises ValueError ('Exceeds the limit (4300 digits) for integer string conversion') on a long
    integer literal; routing.py:67 `_parse_body` does not catch it, so the answer is a 500."""
    world, held, _ = _claims_world(api, keys)
    raw = json.dumps(_base_claim(held)).replace('"amount_pence": 15000', '"amount_pence": ' + "9" * 5000)
    assert_all_refused(world, [("amount_pence=9...9 (5000 digits)", raw)],
                          lambda r: api.call("POST", "/claims", world.sub, raw=r))


def test_claim_event_date_before_the_start_is_refused(api, keys):
    """chalicelib/payments/lines.py:104 `check_claim` checks only the future and the 90-day window, never the
    referral's own dates: an evidence claim for an event months before the participant was even referred is
    accepted (and lands in an earlier period's claim file)."""
    world, held, _ = _claims_world(api, keys)  # referred, accepted and started on TODAY (2026-11-24)
    before = world.snapshot()
    reply = api.post("/claims", world.sub, {**_base_claim(held), "event_date": "2026-09-01"})
    assert reply.status == 422, f"a claim dated 2026-09-01 on a referral started {TODAY} was {reply.status}: " \
                                f"{reply.body.get('line_id')} period {reply.body.get('period')}"
    assert world.snapshot() == before


def test_lone_surrogate_escape_in_free_text_is_refused_not_a_500(api, keys):
    r"""`"\ud800"` is a valid JSON escape but not a Unicode scalar value. The schemas' `_text()` fields accept it,
    and the write then fails inside the DynamoDB transaction (TransactWriteError), which routing.py's catch-all
    answers with a 500. It should be a 422 before anything is written."""
    world, held, _ = _claims_world(api, keys)

    def send(case):
        if case == "referral":
            body, key, path = _base_referral(world), world.referrer, "/referrals"
            body["notes_ref"] = "@@"
        else:
            body, key, path = _base_claim(held), world.sub, "/claims"
            body["evidence_ref"] = "@@"
        return api.call("POST", path, key, raw=json.dumps(body).replace('"@@"', '"EV\\ud800"'))

    assert_all_refused(world, [("POST /referrals notes_ref", "referral"),
                                  ("POST /claims evidence_ref", "claim")], send)


def test_other_media_types_get_a_415_problem(api, keys):
    """chalicelib/api/routing.py:28/175: routes declare content_types=ACCEPTED_CONTENT_TYPES (json, form,
    text/plain) so that the app answers 415 itself, but any other media type - including application/problem+json,
    which `_parse_body` even lists in JSON_TYPES - is refused by Chalice before the view runs: a 415 with Chalice's
    own body {"Code": "UnsupportedMediaType", ...}, no Content-Type and no problem details."""
    world = World(api, keys)
    cases = [(f"{endpoint} {ct}", (endpoint, ct)) for endpoint in ("/referrals", "/claims")
             for ct in ("application/problem+json", "application/xml", "multipart/form-data", "image/png")]

    def send(case):
        endpoint, ct = case
        key = world.referrer if endpoint == "/referrals" else world.sub
        reply = api.call("POST", endpoint, key, body=_base_referral(world) if endpoint == "/referrals" else {},
                         headers={"Content-Type": ct})
        assert reply.status == 415, reply.body
        return reply

    assert_all_refused(world, cases, send)
