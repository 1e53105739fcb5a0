#!/usr/bin/env python3
"""Benchmark `zabbix-sepa report` on generated datasets (not a test: it reports, it does not judge).

    .venv/bin/python bench/bench_reports.py [--scale prod large] [--runs 3] [--days 30]

Uses the datasets of bench_collect.py (generated once, kept). Per scale and report type it
runs the real command (`report TYPE --format json`) `runs` times after one warm-up and
reports the median wall time and the peak RSS of the process, and the report's size.
Target (seed 000): a report in 2-30 s depending on the data; here: well under that.
Results go to stdout (markdown) and bench/results/reports-<scale>.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.bench_collect import NOW, ensure_dataset, server_version  # noqa: E402
from tests import mariadb  # noqa: E402
from zabbix_sepa.dataset import generate  # noqa: E402
from zabbix_sepa.reports import TYPES  # noqa: E402


def run_once(config_path, kind, days):
    """(wall seconds, peak RSS bytes, output bytes) of one report process."""
    with tempfile.TemporaryFile() as out:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "zabbix_sepa", "report", kind, "--config", config_path,
                                 "--now", NOW.strftime("%Y-%m-%d %H:%M:%S"), "--days", str(days),
                                 "--format", "json", "--runs", "1"],
                                stdout=out, stderr=subprocess.PIPE, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        err = proc.stderr.read().decode()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"report {kind} failed ({proc.returncode}): {err}")
        size = out.tell()
    return wall, usage.ru_maxrss * 1024, size


def bench(server, scale, runs, days):
    name = ensure_dataset(server, scale)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        json.dump({"timezone": "Europe/Amsterdam", "collect_timeout": 120,
                   "sites": [{"name": f"bench-{scale}", "database": server.site_database_mapping(name)}]}, fh)
    os.chmod(fh.name, 0o600)
    results = {}
    try:
        for kind in TYPES:
            run_once(fh.name, kind, days)                 # warm the buffer pool; not counted
            samples = [run_once(fh.name, kind, days) for _ in range(runs)]
            results[kind] = {"wall_s": statistics.median(s[0] for s in samples),
                             "rss_mb": max(s[1] for s in samples) / 2**20,
                             "json_kb": samples[-1][2] / 1024}
            print(f"# {scale} {kind}: {results[kind]['wall_s']:.2f} s", file=sys.stderr)
    finally:
        os.unlink(fh.name)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", nargs="+", default=["prod", "large"], choices=sorted(generate.SCALES))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args()
    server = mariadb.ensure_server()
    results = {}
    for scale in args.scale:
        results[scale] = bench(server, scale, args.runs, args.days)
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        with open(os.path.join(ROOT, "bench", "results", f"reports-{scale}.json"), "w") as fh:
            json.dump(results[scale], fh, indent=2)
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, MariaDB {server_version(server)}; "
          f"--days {args.days}; median wall time of {args.runs} runs after one warm-up, peak RSS of the process\n")
    print("| report | " + " | ".join(f"{s} wall (s) | {s} RSS (MB)" for s in results) + " |")
    print("|---|" + "---|---|" * len(results))
    for kind in TYPES:
        print(f"| {kind} | " + " | ".join(f"{r[kind]['wall_s']:.2f} | {r[kind]['rss_mb']:.0f}"
                                         for r in results.values()) + " |")
    print("\nperformance runs the whole collection once (--runs 1); the others one statement per table or so.")


if __name__ == "__main__":
    main()
