#!/usr/bin/env python3
"""Benchmark `zabbix-sepa collect` on generated datasets (not a test: it reports, it does not judge).

    .venv/bin/python bench/bench_collect.py [--scale prod large] [--runs 7]

Each scale's database is generated once and kept (`zsepa_test_bench_<scale>_g<N>`,
N = generator version), so later runs only measure. Per scale it reports the
median over the runs of: sepa.collector.duration, statements, peak RSS, the
wall time of the whole `zabbix-sepa collect` process, and per-section times.
Results go to stdout (markdown) and bench/results/<scale>.json.
"""
import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests import mariadb  # noqa: E402  (the same server harness the tests use)
from zabbix_sepa.dataset import generate  # noqa: E402

NOW = dt.datetime(2026, 11, 22, 12, 0, 0)
TARGETS = {"prod": {"duration_s": 0.050, "statements": 20}, "large": {"duration_s": 2.0, "rss_mb": 60}}
SECTION = re.compile(r"site \S+: (\S+) took ([0-9.]+) ms")


def ensure_dataset(server, scale):
    name = f"{mariadb.PREFIX}bench_{scale}_g{generate.GENERATOR_VERSION}"
    admin = server.admin()
    with admin.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s "
                    "AND table_name = 'tabSingles'", (name,))
        if cur.fetchone()[0]:
            cur.execute(f"SELECT value FROM `{name}`.tabSingles WHERE doctype = 'zabbix-sepa bench'")
            if cur.fetchone():
                print(f"# {scale}: reusing database {name}", file=sys.stderr)
                return name
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cur.execute(f"USE `{name}`")
    started = time.monotonic()
    counts = generate.generate(admin, scale, NOW, progress=lambda doctype, rows: print(f"#   {doctype}: {rows} rows", file=sys.stderr))
    with admin.cursor() as cur:
        cur.execute("INSERT INTO tabSingles (doctype, field, value) VALUES ('zabbix-sepa bench', 'complete', '1')")
        cur.execute("ANALYZE TABLE " + ", ".join(f"`tab{d}`" for d in counts))
        cur.fetchall()
    admin.commit()
    print(f"# {scale}: generated in {time.monotonic() - started:.0f} s: {counts}", file=sys.stderr)
    admin.close()
    return name


def run_once(config_path):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "zabbix_sepa", "--debug", "collect", "--config", config_path,
                           "--now", NOW.strftime("%Y-%m-%d %H:%M:%S")],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - started
    doc = json.loads(proc.stdout)
    m = doc["metrics"]
    if m["sepa.collector.status"] != 0:
        raise SystemExit(f"collection failed: {doc['unsupported']}")
    sections = {k: float(v) for k, v in SECTION.findall(proc.stderr)}
    return {"duration_s": m["sepa.collector.duration"], "statements": m["sepa.collector.queries"],
            "rss_mb": m["sepa.collector.rss"] / 2**20, "wall_s": wall, "sections_ms": sections}


def bench(server, scale, runs):
    name = ensure_dataset(server, scale)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        json.dump({"timezone": "Europe/Amsterdam", "collect_timeout": 120,
                   "sites": [{"name": f"bench-{scale}",
                              "database": server.site_database_mapping(name)}]}, fh)
    os.chmod(fh.name, 0o600)
    try:
        run_once(fh.name)                      # warm the buffer pool; not counted
        samples = [run_once(fh.name) for _ in range(runs)]
    finally:
        os.unlink(fh.name)
    med = {k: statistics.median(s[k] for s in samples) for k in ("duration_s", "statements", "rss_mb", "wall_s")}
    med["sections_ms"] = {k: statistics.median(s["sections_ms"].get(k, 0) for s in samples)
                          for k in samples[0]["sections_ms"]}
    med["runs"] = runs
    return med


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", nargs="+", default=["prod", "large"], choices=sorted(generate.SCALES))
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    server = mariadb.ensure_server()
    results = {}
    for scale in args.scale:
        results[scale] = bench(server, scale, args.runs)
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        with open(os.path.join(ROOT, "bench", "results", f"{scale}.json"), "w") as fh:
            json.dump(results[scale], fh, indent=2)

    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"MariaDB {server_version(server)}; median of {args.runs} runs after one warm-up\n")
    print("| scale | collection (s) | statements | peak RSS (MB) | process wall (s) |")
    print("|---|---|---|---|---|")
    for scale, r in results.items():
        print(f"| {scale} | {r['duration_s']:.4f} | {r['statements']:.0f} | {r['rss_mb']:.1f} | {r['wall_s']:.3f} |")
    if "prod" in results and "large" in results:
        print(f"\nlarge / prod collection time: {results['large']['duration_s'] / results['prod']['duration_s']:.1f}x")
    for scale, r in results.items():
        print(f"\n{scale}, per section (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in r["sections_ms"].items()))
    print(f"\ntargets: {TARGETS}")


def server_version(server):
    conn = server.admin()
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        return cur.fetchone()[0]


if __name__ == "__main__":
    main()
