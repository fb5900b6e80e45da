"""The local run's engine: Amazon's DynamoDB Local against moto's embedded server, under the same load, in one run.

    .venv/bin/python bench/local_engine.py [--clients 8] [--duration 20] [--max-requests 3000] [--engine E]
    .venv/bin/python bench/local_engine.py --quick        # --duration 8: about a minute

For each engine, `manage.py local --engine E` (what `scripts/dev run` starts; E is dynamodb-local, then moto) runs
in a subprocess on free ports of 127.0.0.1, in its own process group, with the day pinned to 2026-11-24. One
untimed referral warms it. Then C client threads of this process (urllib, a new connection per request) post
referrals, each with a new person (a distinct NINO) and its own Idempotency-Key, x, for a fixed time or up to a request cap. Measured:

- referrals created per second (201s / seconds of load), and every other answer or failed connection as an error;
- latency of the 201s (median, p90), and its drift as the tables grow: the median of the last tenth of the
  referrals created over the median of the first tenth (`--duration 45 --max-requests 2400` makes over 2,000);
- memory: the resident set (RSS) of every process of the run (the launcher, `chalice local`, and Java for
  DynamoDB Local), summed, sampled every half second during the load; the peak and the value at its end;
- stopping: SIGTERM to the run's process group right after the load, and the seconds until no process of the
  group is left (capped at 120 s, then SIGKILL);
- the errors the server logged, by type and place.

Then the ratios DynamoDB Local / moto. No figure is asserted: `docs/performance.md` records a run.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import SLOTS, TODAY, by_status, drive, nino, percentile, referral, server_errors  # noqa: E402  (bench/, the directory of this script)
from common import post as timed_post  # noqa: E402

# The providers in turn, each while it has places left: no referral is refused for a full allocation.
ORDER = [(programme, provider) for k in range(max(c for _, _, c in SLOTS))
         for programme, provider, capacity in SLOTS if k < capacity]


def slot(i: int) -> tuple[str, str]:
    return ORDER[i]


def body(i: int) -> bytes:
    return json.dumps(referral(*slot(i), nino(i))).encode()


# ------------------------------------------------------------------------------------------- processes


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


@contextlib.contextmanager
def local_run(engine: str, workdir: Path):
    """`manage.py local --engine ENGINE` as the tests start it (manage.local_server_process: free ports of
    127.0.0.1, its own process group, stopped on exit), with the day pinned; yields (process, port, keys, log)."""
    import manage

    rundir = workdir / engine
    rundir.mkdir()
    # (The gateway's per-key throttling is off: this measures the engine behind it.)
    env = {"REFPAY_TODAY": TODAY, "REFPAY_LOCAL_THROTTLING": "off"}
    with manage.local_server_process(rundir, env, engine=engine, start_timeout=180) as server:
        port, _db_port, keys_file, log = server
        yield server.process, port, json.loads(keys_file.read_text()), log


def stop_seconds(proc: subprocess.Popen, cap: float = 120) -> float | None:
    """SIGTERM to the run's group; seconds until none of its processes is left (None: still there after `cap`)."""
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGTERM)
    while time.monotonic() - started < cap:
        proc.poll()
        if not group_members(proc.pid):
            return time.monotonic() - started
        time.sleep(0.02)
    return None


# ------------------------------------------------------------------------------------------------ load


def load(port: int, key: str, pgid: int, clients: int, duration: float, max_requests: int) -> dict:
    url = f"http://127.0.0.1:{port}/referrals"
    memory: list[float] = []
    warm, results, elapsed = drive(lambda i: timed_post(url, body(i), key, f"bench-{i}", 60), clients, duration,
                                   min(max_requests, len(ORDER) - 1) + 1,
                                   lambda: memory.append(rss_mib(group_members(pgid))))
    memory.append(rss_mib(group_members(pgid)))
    ok = [ms for _, ms, status in results if status == 201]  # in the order the answers came
    tenth = max(1, len(ok) // 10)
    first, last = _median(ok[:tenth]), _median(ok[-tenth:])
    return {"requests": len(results), "created": len(ok), "errors": len(results) - len(ok), "seconds": elapsed,
            "rate": len(ok) / elapsed, "median": _median(ok), "first_tenth_median": first,
            "last_tenth_median": last, "drift": last / first if ok else float("nan"),
            "p90": percentile(ok, 0.9), "rss_peak": max(memory), "rss_end": memory[-1],
            "statuses": by_status(results), "warm": warm}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def measure(engine: str, workdir: Path, args) -> dict:
    with local_run(engine, workdir) as (proc, port, keys, log):
        rss_idle = rss_mib(group_members(proc.pid))
        result = load(port, keys["referrer"], proc.pid, args.clients, args.duration, args.max_requests)
        result["rss_idle"] = rss_idle
        result["processes"] = len(group_members(proc.pid))
        result["stop"] = stop_seconds(proc)
        result["exit_status"] = proc.wait(timeout=10) if result["stop"] is not None else None
    result["server_errors"] = server_errors(log)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per engine")
    parser.add_argument("--max-requests", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="--duration 8")
    parser.add_argument("--engine", action="append", choices=["dynamodb-local", "moto"],
                        help="measure only this engine (repeatable; default both)")
    args = parser.parse_args()
    if args.quick:
        args.duration = 8.0
    results = {}
    with tempfile.TemporaryDirectory(prefix="refpay-local-engine-") as tmp:
        for engine in args.engine or ("dynamodb-local", "moto"):
            print(f"{engine}: {args.clients} clients, {args.duration:.0f} s ...", file=sys.stderr, flush=True)
            results[engine] = measure(engine, Path(tmp), args)

    print(f"\n{args.clients} clients posting referrals for {args.duration:.0f} s against `manage.py local --engine E`"
          f" (cap {args.max_requests} requests)\n")
    header = (f"{'engine':16}{'requests':>9}{'created':>9}{'errors':>8}{'per s':>8}{'median ms':>11}{'p90 ms':>9}"
              f"{'RSS idle':>10}{'RSS peak':>10}{'RSS end':>9}{'procs':>7}{'SIGTERM->gone s':>17}{'exit':>6}")
    print(header)
    for engine, r in results.items():
        stop = f"{r['stop']:.2f}" if r["stop"] is not None else ">120"
        print(f"{engine:16}{r['requests']:>9}{r['created']:>9}{r['errors']:>8}{r['rate']:>8.1f}{r['median']:>11.0f}"
              f"{r['p90']:>9.0f}{r['rss_idle']:>9.0f}M{r['rss_peak']:>9.0f}M{r['rss_end']:>8.0f}M{r['processes']:>7}"
              f"{stop:>17}{r['exit_status']!s:>6}")
    for engine, r in results.items():
        print(f"   {engine} latency drift: median of the first tenth of the {r['created']} referrals "
              f"{r['first_tenth_median']:.0f} ms, of the last tenth {r['last_tenth_median']:.0f} ms: "
              f"{r['drift']:.2f}x")
    for engine, r in results.items():
        print(f"   {engine} answers: " + ", ".join(f"{status or 'no answer'}: {n}"
                                                for status, n in sorted(r["statuses"].items())))
        for error, n in sorted(r["server_errors"].items()):
            print(f"   {engine} server logged {n} x {error}")
    if len(results) < 2:
        return 0
    ddb, moto = results["dynamodb-local"], results["moto"]
    print(f"\nDynamoDB Local / moto: throughput {ddb['rate'] / moto['rate']:.1f}x, median latency "
          f"{ddb['median'] / moto['median']:.2f}x, peak RSS {ddb['rss_peak'] / moto['rss_peak']:.2f}x"
          + (f", stop time {ddb['stop'] / moto['stop']:.2f}x" if ddb["stop"] and moto["stop"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
