"""The local run's engine: Amazon's DynamoDB Local against moto's embedded server, under the same load, in one run.

    .venv/bin/python bench/local_engine.py [--clients 8] [--duration 20] [--max-requests 3000] [--engine E]
    .venv/bin/python bench/local_engine.py --quick        # --duration 8: about a minute

For each engine, `manage.py local --engine E` (what `scripts/dev run` starts; E is dynamodb-local, then moto) runs
in a subprocess on free ports of 127.0.0.1, in its own process group, with the day pinned to 2026-11-24. One
untimed referral warms it. Then C client threads of this process (urllib, a new connection per request) post
referrals, each with a new person (a distinct NINO) and its own Idempotency-Key, x, for a fixed time or up to a request cap. Measured:

- referrals created per second (201s / seconds of load), and every other answer or failed connection as an error;
- latency of the 201s (median, p90);
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
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import percentile, server_errors  # noqa: E402  (bench/, the directory of this script)

from devtools.dynamodb_local import free_port  # noqa: E402

TODAY = "2026-11-24"  # a Tuesday with every demo programme's referral window open (as the tests pin it)
NORFOLK, TEES = "flexible-routeways-norfolk", "tees-valley-routes-to-work"
SLOTS = [(NORFOLK, "kings-lynn-works", 300), (NORFOLK, "trobius", 1000), (NORFOLK, "great-yarmouth-works", 400),
         (TEES, "middlesbrough-council", 650),
         (TEES, "stockton-on-tees-council", 625), (TEES, "redcar-cleveland-council", 500),
         (TEES, "hartlepool-council", 400), (TEES, "darlington-council", 325)]
LEVELS = {NORFOLK: "standard", TEES: "weekly"}
_LETTERS = "ABCEGHJKLMNPRSTWXYZ"
_PREFIXES = [a + b for a in _LETTERS for b in _LETTERS if a + b not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}]


def nino(i: int) -> str:
    return f"{_PREFIXES[i % len(_PREFIXES)]}{(i // len(_PREFIXES)) % 1_000_000:06d}{'ABCD'[i % 4]}"


# The providers in turn, each while it has places left: no referral is refused for a full allocation.
ORDER = [(programme, provider) for k in range(max(c for _, _, c in SLOTS))
         for programme, provider, capacity in SLOTS if k < capacity]


def slot(i: int) -> tuple[str, str]:
    return ORDER[i]


def body(i: int) -> bytes:
    programme, provider = slot(i)
    return json.dumps({"programme_id": programme, "provider_id": provider, "support_level": LEVELS[programme],
                       "consent": {"given": True, "date": TODAY},
                       "participant": {"nino": nino(i), "given_name": "Ada", "family_name": "Lovelace",
                                       "date_of_birth": "1990-05-17", "postcode": "NR1 3QU",
                                       "eligibility": {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True, "on_other_dwp_programme": False}}}).encode()


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
    """`manage.py local --engine ENGINE` on free ports, in its own process group; yields (process, port, keys)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REFPAY_"))}
    env["REFPAY_TODAY"] = TODAY
    log_path = workdir / f"{engine}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "local", "--engine", engine, "--port", str(port), "--db-port",
             str(free_port()), "--s3-port", str(free_port()), "--keys-file", str(workdir / f"{engine}-keys.json"),
             "--state-file", str(workdir / f"{engine}-stack.json")],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"manage.py local --engine {engine} did not start:\n" + log_path.read_text())
            time.sleep(0.3)
        yield proc, port, json.loads((workdir / f"{engine}-keys.json").read_text())
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


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
    lock = threading.Lock()
    issued = [1]
    results: list[tuple[float, int]] = []  # (ms, status)
    memory: list[float] = []

    def post(i: int) -> tuple[float, int]:
        request = urllib.request.Request(url, data=body(i), method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {key}",
            "Idempotency-Key": f"bench-{i}-{uuid.uuid4().hex[:8]}"})
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                reply.read()
                status = reply.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = 0
        return (time.monotonic() - t0) * 1000, status

    warm_ms, warm_status = post(0)
    start = time.monotonic()
    stop_at = start + duration

    def worker():
        while True:
            with lock:
                i = issued[0]
                if i > min(max_requests, len(ORDER) - 1) or time.monotonic() >= stop_at:
                    return
                issued[0] += 1
            outcome = post(i)
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        memory.append(rss_mib(group_members(pgid)))
        time.sleep(0.5)
    elapsed = time.monotonic() - start
    memory.append(rss_mib(group_members(pgid)))
    ok = [ms for ms, status in results if status == 201]
    statuses: dict[int, int] = {}
    for _, status in results:
        statuses[status] = statuses.get(status, 0) + 1
    return {"requests": len(results), "created": len(ok), "errors": len(results) - len(ok), "seconds": elapsed,
            "rate": len(ok) / elapsed, "median": statistics.median(ok) if ok else float("nan"),
            "p90": percentile(ok, 0.9), "rss_peak": max(memory), "rss_end": memory[-1], "statuses": statuses,
            "warm": (warm_status, warm_ms)}


def measure(engine: str, workdir: Path, args) -> dict:
    with local_run(engine, workdir) as (proc, port, keys):
        rss_idle = rss_mib(group_members(proc.pid))
        result = load(port, keys["referrer"], proc.pid, args.clients, args.duration, args.max_requests)
        result["rss_idle"] = rss_idle
        result["processes"] = len(group_members(proc.pid))
        result["stop"] = stop_seconds(proc)
        result["exit_status"] = proc.wait(timeout=10) if result["stop"] is not None else None
    result["server_errors"] = server_errors(workdir / f"{engine}.log")
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
