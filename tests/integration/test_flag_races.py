"""A nightly run flagging missed deadlines while the provider records the steps that answer them, on Amazon's
engine: no answered deadline is left with an open flag, and no flag is raised twice.

Each acknowledgement races the run's handling of its deadline. Either the step commits first (it deletes the
deadline's pending item: the run's write, conditional on the item, raises no flag), or the run does (the flag is a
new version of the referral: the step that read the version before is refused with 409 and nothing written, and
its retry sees the flag on the referral and resolves it)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.integration.conftest import ROOT, TODAY, journey, race

N = 24
RUN_DATE = "2026-11-27"  # the day after the acknowledgement deadline of a referral made on TODAY (26 November)

NIGHT_ON_CUE = """
import json, sys
from datetime import date

import manage

manage._use_local_stack_if_up()
from chalicelib.services import nightly

print("ready", flush=True)
sys.stdin.readline()
print("summary:", json.dumps(nightly.run(date.fromisoformat(sys.argv[1]))), flush=True)
"""


def _accept_until_done(server, rid: str, provider: str) -> list[int]:
    statuses = []
    while len(statuses) < 5:
        reply = server.post(f"/referrals/{rid}/acknowledgement", provider, {"decision": "accept", "date": TODAY})
        statuses.append(reply.status)
        if reply.status != 409:
            assert reply.status == 200, reply
            return statuses
        assert reply.headers["content-type"].startswith("application/problem+json"), reply
    raise AssertionError(f"still refused after {statuses}")


def test_a_run_flagging_deadlines_while_their_steps_are_recorded_leaves_no_answered_deadline_flagged(server):
    provider = server.orgs["kings-lynn-works"]["provider"]
    rids = [journey(server, []) for _ in range(N)]
    night = subprocess.Popen([sys.executable, "-c", NIGHT_ON_CUE, RUN_DATE], cwd=ROOT, env=server.cli_env(),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert night.stdout is not None and night.stdin is not None
    assert night.stdout.readline().strip() == "ready", night.stderr.read() if night.stderr else ""

    def act(i: int) -> list[int]:
        if i == 0:  # the run first, then the steps one after another over the time it takes
            night.stdin.write("go\n")
            night.stdin.flush()
            return []
        return _accept_until_done(server, rids[i - 1], provider)

    attempts = race(N + 1, act, stagger=0.1)[1:]
    out, err = night.communicate(timeout=300)
    assert night.returncode == 0, out + err
    (line,) = [x for x in out.splitlines() if x.startswith("summary: ")]
    raised = json.loads(line.removeprefix("summary: "))["counts"]["flags"].get("acknowledge", {})

    ours = set(rids)
    referrals = {i["referral_id"]: i for i in server.all_items("referrals") if i["referral_id"] in ours}
    flags = [i for i in server.all_items("flags") if i.get("referral_id") in ours]
    pending = [i for i in server.all_items("pending-work")
               if i["referral_id"] in ours and "#acknowledge#" in i["work_key"]]
    assert {r["status"] for r in referrals.values()} == {"accepted"}
    assert [r["referral_id"] for r in referrals.values() if r.get("flagged")] == []
    assert pending == []
    assert [f["flag_id"] for f in flags if f["status"] != "resolved"] == []  # every flag raised was answered
    assert len(flags) == len({f["flag_id"] for f in flags}) == sum(raised.values())
    # Where the run's flag came between the step's read and its write, the step was refused, then resolved it.
    refused = {rid for rid, tries in zip(rids, attempts, strict=True) if 409 in tries}
    assert refused <= {f["referral_id"] for f in flags}
