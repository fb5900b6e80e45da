"""The nightly run replayed, and two runs overlapping, on Amazon's engine: nothing is done twice.

A replay is `manage.py nightly --date D` started with no AWS setting at all: it finds this module's local stack by
its state file, as a developer's would. Overlapping runs are threads of one process calling the nightly job for
the same date at the same moment (two processes would mostly not overlap: each takes longer to start than a run
of this size takes to finish)."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.integration.conftest import ROOT, journey

LSE = "local-supported-employment"
LEEDS = "leeds-city-council"
REFERRAL = {"programme_id": LSE, "provider_id": LEEDS, "learning_disability": True}

OVERLAPPING_RUNS = """
import json, sys, threading
from datetime import date

import manage

manage._use_local_stack_if_up()
from chalicelib.services import nightly

on, n = date.fromisoformat(sys.argv[1]), int(sys.argv[2])
barrier = threading.Barrier(n)
summaries = [None] * n

def run(i):
    barrier.wait()
    summaries[i] = nightly.run(on)

threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("summaries:", json.dumps(summaries))
"""


def _replay(server, on: str) -> dict:
    done = subprocess.run([sys.executable, "manage.py", "nightly", "--date", on], cwd=ROOT, env=server.cli_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "using the local stack" in done.stderr
    return json.loads(done.stdout)


def _overlapping(server, on: str, runs: int = 2) -> list[dict]:
    done = subprocess.run([sys.executable, "-c", OVERLAPPING_RUNS, on, str(runs)], cwd=ROOT, env=server.cli_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("summaries: ")]
    return json.loads(line.removeprefix("summaries: "))


def _state(server, referrals: list[str]) -> dict:
    """Everything a run may write for these referrals, as counts that another run must leave alone."""
    ours = set(referrals)
    return {
        "events": Counter((i["referral_id"], i["type"]) for i in server.all_items("referral-events")
                          if i["referral_id"] in ours),
        "flags": Counter((i["referral_id"], i["rule"], i["due"]) for i in server.all_items("flags")
                         if i.get("referral_id") in ours),  # (a step's resolved marker names no referral)
        "tranches": Counter(i["line_id"] for i in server.all_items("payment-lines")
                            if i["referral_id"] in ours and i.get("milestone") == "service_fee_tranche"),
        "statuses": Counter(i["status"] for i in server.all_items("referrals") if i["referral_id"] in ours),
        "pending": Counter(i["work_key"] for i in server.all_items("pending-work") if i["referral_id"] in ours),
        "used": int(server.table("allocations").get_item(Key={"programme_id": LSE, "org_id": LEEDS},
                                                         ConsistentRead=True)["Item"]["used"]),
    }


def _refer(server, n: int, steps: list[str], **referral) -> list[str]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: journey(server, steps, **(referral or REFERRAL)), range(n)))


def test_nightly_replayed_and_overlapping_does_nothing_twice(server):
    unstarted, started = _refer(server, 6, []), _refer(server, 6, ["accept", "start"])
    ours = unstarted + started
    before = _state(server, ours)
    assert not before["flags"] and not before["tranches"] and before["pending"]

    # 24 December 2026: acknowledgement and start deadlines missed, the first service-fee tranche due.
    _overlapping(server, "2026-12-24")
    first = _state(server, ours)
    assert {rule for _, rule, _ in first["flags"]} >= {"acknowledge", "start"}
    assert all(n == 1 for n in first["flags"].values())
    assert sorted(first["tranches"]) == sorted(f"{rid}:dwp-participant-fee:service_fee_tranche:1" for rid in started)
    assert all(n == 1 for n in first["tranches"].values())
    assert first["events"] == before["events"] and first["used"] == before["used"]
    _replay(server, "2026-12-24")
    assert _state(server, ours) == first
    _overlapping(server, "2026-12-24")
    assert _state(server, ours) == first

    # 21 April 2027: the programme's referral window shut on 31 March, so the unstarted referrals are closed and
    # their places given back, once; the started ones had three more monthly tranches (January to March).
    _overlapping(server, "2027-04-21")
    later = _state(server, ours)
    assert all(n == 1 for n in later["flags"].values()) and all(n == 1 for n in later["tranches"].values())
    numbers = Counter(line.rsplit(":", 1)[0] for line in later["tranches"])
    assert numbers == Counter({f"{rid}:dwp-participant-fee:service_fee_tranche": 4 for rid in started}), numbers
    assert later["statuses"] == Counter({"did_not_start": len(unstarted), "started": len(started)}), later["statuses"]
    assert later["used"] == before["used"] - len(unstarted)
    closed = {rid: n for (rid, kind), n in later["events"].items() if kind == "close_unstarted"}
    assert closed == dict.fromkeys(unstarted, 1), closed
    _replay(server, "2027-04-21")
    _overlapping(server, "2027-04-21")
    assert _state(server, ours) == later


def _flags_raised_and_summarised(server, on: str, org: str = LEEDS) -> tuple[int, int]:
    """Flags the run of `on` raised for `org`'s referrals, and the number its summary reports for `org`."""
    raised = sum(1 for i in server.all_items("flags")
                 if i.get("run_id") == f"nightly#{on}" and i["provider_org_id"] == org)
    summary = server.get(f"/compliance/runs/{on}", server.orgs[org]["provider"]).body
    assert summary["shards_done"] == summary["shards"] and summary["finished_at"]
    return raised, sum(n for by_org in summary["flags"].values() for n in by_org.values())


def test_a_run_summary_counts_every_flag_it_raised(server):
    _refer(server, 20, [])
    _replay(server, "2026-11-27")  # acknowledgement deadlines (26 November) missed
    raised, summarised = _flags_raised_and_summarised(server, "2026-11-27")
    assert raised >= 20 and summarised == raised


def test_overlapping_runs_summary_counts_every_flag_raised(server):
    _refer(server, 60, [], provider_id="trobius")  # the prime's own places: 1,000
    _overlapping(server, "2026-11-30", runs=4)  # acknowledgement deadlines (26 November) missed
    raised, summarised = _flags_raised_and_summarised(server, "2026-11-30", "trobius")
    assert raised == 60
    assert summarised == raised
