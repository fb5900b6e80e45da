"""Finance cutting one period's claim file many times at once: one file, every line in it exactly once, and the
count it reports is the count of lines in the CSV."""
from __future__ import annotations

import csv
import io
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.integration.conftest import journey, race

N = 8
LINES = 32  # more than one locking batch (25)
NORFOLK = "flexible-routeways-norfolk"


def _rows(url: str) -> list[dict]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return list(csv.DictReader(io.StringIO(response.read().decode())))


def test_concurrent_cuts_of_one_period_make_one_complete_file(server):
    with ThreadPoolExecutor(8) as pool:  # 32 started Level 3 referrals: a start line each
        referrals = list(pool.map(lambda _: journey(server, ["accept", "start"]), range(LINES)))
    waiting = {i["line_id"] for i in server.all_items("payment-lines") if i["referral_id"] in referrals}
    assert len(waiting) == LINES

    replies = race(N, lambda i: server.post("/claim-files", server.keys["finance"],
                                            {"programme_id": NORFOLK, "period": "2026-11"}))
    assert all(r.status in (200, 201) for r in replies), replies
    assert len({r.body["id"] for r in replies}) == 1, replies
    file_id = replies[0].body["id"]
    final = server.get(f"/claim-files/{file_id}", server.keys["finance"]).body
    rows = _rows(final["download_url"])
    in_csv = [r["line_id"] for r in rows]
    assert len(in_csv) == len(set(in_csv)), "a line appears twice in the file"
    assert set(in_csv) == waiting, (len(in_csv), len(waiting))
    assert final["line_count"] == len(rows) == LINES
    assert final["total_pence"] == sum(int(r["amount_pence"]) for r in rows)
    # Every caller was told the same, true count.
    assert [r.body["line_count"] for r in replies] == [LINES] * N, [r.body["line_count"] for r in replies]
    locked = {i["line_id"] for i in server.all_items("payment-lines") if i.get("claim_file_id") == file_id}
    assert locked == waiting
