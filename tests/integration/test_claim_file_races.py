"""Finance cutting claim files at once on Amazon's engine: many cuts of one period make one file (one 202, the
rest 200 with the same file), every line in it exactly once, and the count and totals it reports are those of
its CSV; a whole-programme file and a payee's file cut at once share no line and each file's CSV is exactly what
its build locked."""
from __future__ import annotations

import csv
import io
import urllib.request

from tests.integration.conftest import cut_and_wait, race

PERIOD = "2026-10"  # the month before the pinned day's (24 November): it has ended, so it can be cut
N = 8
LINES = 32
NORFOLK = "flexible-routeways-norfolk"
WORK_CHOICE, PRIME, SUB = "work-choice", "pathway-employment-prime", "brightside-supported-employment"


def _rows(url: str) -> list[dict]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return list(csv.DictReader(io.StringIO(response.read().decode())))


def _locked(server, file_id: str) -> set[str]:
    return {i["line_id"] for i in server.all_items("payment-lines") if i.get("claim_file_id") == file_id}


def _check_file(server, body: dict) -> list[dict]:
    """The file as GET shows it once ready: its CSV holds each line once, and its count and totals are the CSV's."""
    assert body["status"] == "ready", body
    rows = _rows(body["download_url"])
    in_csv = [r["line_id"] for r in rows]
    assert len(in_csv) == len(set(in_csv)), "a line appears twice in the file"
    assert body["line_count"] == body["locked_lines"] == len(rows)
    assert body["total_pence"] == sum(int(r["amount_pence"]) for r in rows)
    assert set(in_csv) == _locked(server, body["id"]), "the CSV is not what the build locked"
    return rows


def test_a_period_that_has_not_ended_is_refused(server):
    reply = server.post("/claim-files", server.keys["finance"], {"programme_id": NORFOLK, "period": "2026-11"})
    assert reply.status == 422 and reply.headers["content-type"] == "application/problem+json", reply
    assert [(e["field"], e["rule"]) for e in reply.body["errors"]] == [("period", "period_ended")]


def test_concurrent_cuts_of_one_period_make_one_complete_file(server):
    waiting = server.add_approved_lines(LINES, NORFOLK, "trobius", "kings-lynn-works", f"{PERIOD}-20")

    replies = race(N, lambda i: server.post("/claim-files", server.keys["finance"],
                                            {"programme_id": NORFOLK, "period": PERIOD}))
    assert sorted(r.status for r in replies) == [200] * (N - 1) + [202], replies
    assert len({r.body["id"] for r in replies}) == 1, replies
    assert all(r.body["status"] in ("building", "ready") for r in replies)
    file_id = replies[0].body["id"]
    _, final = cut_and_wait(server, server.keys["finance"], {"programme_id": NORFOLK, "period": PERIOD})
    rows = _check_file(server, final.body)
    assert {r["line_id"] for r in rows} == waiting == _locked(server, file_id)
    # Cut again once ready: the same file, 200, with the same count.
    again = server.post("/claim-files", server.keys["finance"], {"programme_id": NORFOLK, "period": PERIOD})
    assert again.status == 200 and again.body["id"] == file_id and again.body["line_count"] == LINES


def test_a_programme_file_and_a_payee_file_cut_at_once_share_no_line(server):
    # Enough lines for several locking batches, the payee's among others'.
    waiting = server.add_approved_lines(150, WORK_CHOICE, PRIME, SUB, f"{PERIOD}-06")
    waiting |= server.add_approved_lines(100, WORK_CHOICE, PRIME, "riverside-disability-works", f"{PERIOD}-07")
    bodies = [{"programme_id": WORK_CHOICE, "period": PERIOD},
              {"programme_id": WORK_CHOICE, "period": PERIOD, "payee_org_id": SUB}]
    replies = race(2, lambda i: cut_and_wait(server, server.orgs[PRIME]["finance"], bodies[i]))
    assert [r[0].status for r in replies] == [202, 202], replies
    whole, payee = (r[1].body for r in replies)
    assert whole["id"] != payee["id"]
    whole_rows, payee_rows = _check_file(server, whole), _check_file(server, payee)
    assert {r["line_id"] for r in whole_rows}.isdisjoint({r["line_id"] for r in payee_rows})
    assert {r["line_id"] for r in whole_rows} | {r["line_id"] for r in payee_rows} == waiting
    assert all(r["payee_org_id"] == SUB for r in payee_rows)
    assert len(whole_rows) >= 100  # the other payee's lines can only be in the whole programme's file
