"""Claim files of any size on Amazon's DynamoDB Local: the worker's build of a 2,000, 10,000 and 50,000-line file
against a bare `csv.writer` of the same rows, time and peak memory, in one run.

    .venv/bin/python bench/claim_files.py [--sizes 2000,10000,50000]

DynamoDB Local (in memory) is started for the run and S3 is moto's server, both on free ports of 127.0.0.1. For
each size, that many approved lines of one programme, prime and month are written straight to the table (as the
journey leaves them), the month's file is cut (`claim_files.cut`, as `POST /claim-files` does) and built
(`claim_files.build`, what the worker function runs: parallel conditional locks, the CSV streamed through a
spooled temporary file, the upload, the conditional `ready`; S3 runs in a process of its own). The baseline writes the same rows with a bare
`csv.writer` to the same kind of spooled file, from lines already in memory.

Measured: seconds; and peak memory, as the growth of this process's peak resident set (VmHWM, reset before each
measurement through /proc/self/clear_refs) over its resident set at the start. Reported as ratios: build / bare
writer (time, memory), and each size's figures over the smallest size's (memory flat in the line count is a
ratio near 1 while the line count grows 25 times). Nothing is asserted: docs/performance.md records a run.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NORFOLK, PRIME, PAYEE = "flexible-routeways-norfolk", "trobius", "kings-lynn-works"
TODAY = "2027-01-04"  # every benchmark month (up to December 2026) has ended


def _status(field: str) -> int:
    """A VmRSS / VmHWM figure of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _measured(run: Callable[[], Any]) -> tuple[float, float, Any]:
    """(seconds, peak growth of the resident set in MiB, result) of run()."""
    Path("/proc/self/clear_refs").write_text("5")  # the peak resident set starts again from now
    start_rss = _status("VmRSS")
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    return seconds, max(0, _status("VmHWM") - start_rss) / 1024, result


def _bare(lines: list) -> int:
    from chalicelib.payments.claim_file import COLUMNS, row

    with tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+b") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for line in lines:
            writer.writerow(row(line))
        text.flush()
        return raw.tell()


def _environment(dynamodb: str, s3: str) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "REFPAY_CLAIM_FILE_WORKER_FUNCTION"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION="eu-west-2",
                      REFPAY_STAGE="dev", REFPAY_TODAY=TODAY, AWS_ENDPOINT_URL_DYNAMODB=dynamodb,
                      AWS_ENDPOINT_URL_S3=s3, AWS_ENDPOINT_URL_KMS=s3)  # moto's server: S3 and the KMS key


def run(sizes: list[int]) -> dict:
    import boto3

    from chalicelib.domain.access import Principal
    from chalicelib.services import claim_files
    from chalicelib.services.deps import store
    from chalicelib.store.files import create_bucket
    from chalicelib.store.tables import create_tables
    from devtools.claim_lines import approved_lines, put_lines

    create_tables("dev")
    create_bucket()
    client = boto3.client("dynamodb")
    finance = Principal(PRIME, "prime", frozenset({"finance"}), "bench")

    def build(n: int, month: int) -> dict:
        lines = list(approved_lines(n, NORFOLK, PRIME, PAYEE, date(2026, month, 15)))
        put_lines(client, "refpay-dev-payment-lines", iter(lines))
        tx = store().transaction()
        record, created = claim_files.cut(finance, NORFOLK, f"2026-{month:02d}", None, tx)
        tx.commit()
        assert created, record
        build_s, build_mib, done = _measured(lambda: claim_files.build(record.claim_file_id))
        assert done is not None and done.status == "ready" and done.line_count == n, done
        bare_s, bare_mib, size = _measured(lambda: _bare(lines))  # the same rows, held in memory for both
        return {"lines": n, "build_s": round(build_s, 2), "bare_s": round(bare_s, 3),
                "time_ratio": round(build_s / bare_s, 1), "build_peak_mib": round(build_mib, 1),
                "bare_peak_mib": round(bare_mib, 1), "csv_mib": round(size / 2**20, 1),
                "lines_per_s": round(n / build_s)}

    build(2000, 1)  # warm: imports, clients, connections and the engine's JIT are not part of any measurement
    results = []
    for month, n in enumerate(sizes, start=2):
        results.append(build(n, month))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)  # progress: each size as it is measured
    first = results[0]
    for r in results:
        r["memory_ratio_vs_bare"] = round(r["build_peak_mib"] / max(r["bare_peak_mib"], 0.1), 2)
        r["build_time_vs_smallest_per_line"] = round((r["build_s"] / r["lines"]) / (first["build_s"] / first["lines"]),
                                                     2)
        r["build_memory_vs_smallest"] = round(max(r["build_peak_mib"], 0.1) / max(first["build_peak_mib"], 0.1), 2)
    return {"sizes": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,10000,50000")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]

    import subprocess
    import urllib.request

    from devtools import dynamodb_local

    java = dynamodb_local.find_java()
    dynamodb_local.ensure_installed(quiet=True)
    with tempfile.TemporaryDirectory() as tmp, \
            dynamodb_local.DynamoDBLocal(log_path=Path(tmp) / "dynamodb-local.log", shared_db=False).start(java) \
            as database:
        # S3 (moto) in a process of its own: the objects it keeps are not the worker's memory.
        s3_port = dynamodb_local.free_port()
        s3 = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{s3_port}/moto-api/", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            _environment(database.endpoint, f"http://127.0.0.1:{s3_port}")
            report = run(sizes)
        finally:
            s3.terminate()
            s3.wait(timeout=10)
    print(json.dumps(report, indent=2))
    print(f"{'lines':>7} {'build s':>8} {'bare s':>7} {'time x':>7} {'build MiB':>10} {'bare MiB':>9} "
          f"{'mem x':>6} {'s/line vs first':>16} {'MiB vs first':>13}")
    for r in report["sizes"]:
        print(f"{r['lines']:>7} {r['build_s']:>8} {r['bare_s']:>7} {r['time_ratio']:>7} {r['build_peak_mib']:>10} "
              f"{r['bare_peak_mib']:>9} {r['memory_ratio_vs_bare']:>6} {r['build_time_vs_smallest_per_line']:>16} "
              f"{r['build_memory_vs_smallest']:>13}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
