#!/usr/bin/env python3
"""Benchmark `zabbix-sepa collect` per cadence on generated datasets, beside the SQL floor
(not a test: it reports, it does not judge).

    .venv/bin/python bench/bench_collect.py [--scale prod large] [--runs 7] [--explain]

Each scale's database is generated once and kept (`zsepa_test_bench_<scale>_g<N>`,
N = generator version), so later runs only measure. The server's buffer pool is
set to 4 GiB first (MariaDB 10.11 resizes online) and warmed by one collection.

Per scale and cadence (minute, hour, all; a section's cadence is `section.cadence`) it
reports the median over the runs of
- collection: sepa.collector.duration of a collection restricted to the cadence, each
  run in a fresh process (as the agent runs it), with its statements, peak RSS
  (sepa.collector.rss, i.e. the process's ru_maxrss) and the process's wall time
  (interpreter start-up and imports included);
- floor: the time MariaDB needs for the same statements, executed bare (the statements
  and parameters a collection sends, recorded once, replayed in one read-only
  transaction over a plain PyMySQL connection: no collector, no budget wrapper,
  connect not counted);
and per section both figures. Results go to bench/results/<scale>.json and a
markdown table (targets beside the figures) to stdout. `--explain` prints
ANALYZE for every statement whose floor is above --explain-ms.
"""
import argparse
import importlib
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

NOW = dt.datetime(2026, 11, 22, 12, 0, 0)
CADENCES = ("minute", "hour", "all")
BUFFER_POOL = 4 * 2**30
# Issue 13's targets: (what, limit) per scale and cadence.
TARGETS = {
    ("prod", "minute"): "collection <= 0.050 s",
    ("large", "minute"): "collection <= 1.0 s, RSS <= 40 MiB",
    ("prod", "all"): "collection <= 1.3 x floor",
    ("large", "all"): "collection <= 1.3 x floor",
}


def cadence_of(group, section):
    """A section's cadence; the collector's own (every run) counts with each cadence."""
    return section.cadence


def collect_cadence(site, cadence, timings):
    from zabbix_sepa import collect
    return collect.collect(site, NOW, timings=timings, cadence=cadence)


# -- the child: one collection in a fresh process ---------------------------------

def child(config_path, cadence):
    importlib.import_module("zabbix_sepa.cli")     # what the CLI process has loaded: a representative RSS
    from zabbix_sepa import config
    site = config.load(config_path).site(None)
    timings = {}
    doc = collect_cadence(site, cadence, timings)
    m = doc["metrics"]
    json.dump({"status": m["sepa.collector.status"], "unsupported": doc["unsupported"],
               "duration_s": m["sepa.collector.duration"], "statements": m["sepa.collector.queries"],
               "rss_mb": m["sepa.collector.rss"] / 2**20,
               "sections_ms": {k: 1000 * t for k, (t, _) in timings.items()},
               "sections_statements": {k: n for k, (_, n) in timings.items()}}, sys.stdout)


def run_child(config_path, cadence):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", config_path, "--cadence", cadence],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"bench child failed:\n{proc.stderr}")
    out = json.loads(proc.stdout)
    if out["status"] != 0:
        raise SystemExit(f"collection failed: {out['unsupported']}")
    out["wall_s"] = wall
    return out


# -- the floor: the same statements, bare ------------------------------------------

def record_statements(site):
    """[(section, sql, params)] of one whole collection, in order, recorded in this process.

    The first statement (table presence, schema size, threads) is what system.server
    reports, so it is charged to that section."""
    from zabbix_sepa import db as dbmod
    recorded, state = [], {"inspecting": False}
    timings = {}
    original_execute, original_inspect = dbmod.Database._execute, dbmod.Database.inspect

    def execute(self, cursor, sql, params, limit=True):
        if limit:
            recorded.append(("system.server" if state["inspecting"] else len(timings), sql, params))
        return original_execute(self, cursor, sql, params, limit)

    def inspect(self, tables):
        state["inspecting"] = True
        try:
            return original_inspect(self, tables)
        finally:
            state["inspecting"] = False

    dbmod.Database._execute, dbmod.Database.inspect = execute, inspect
    try:
        from zabbix_sepa import collect
        doc = collect.collect(site, NOW, timings=timings)
    finally:
        dbmod.Database._execute, dbmod.Database.inspect = original_execute, original_inspect
    if doc["metrics"]["sepa.collector.status"] != 0:
        raise SystemExit(f"collection failed: {doc['unsupported']}")
    order = list(timings)
    return [(where if isinstance(where, str) else order[where], sql, params) for where, sql, params in recorded]


def bare_connection(site):
    import pymysql
    d = site.database
    kwargs = dict(user=d.user, password=d.password, database=d.name, charset="utf8mb4", autocommit=False,
                  ssl_disabled=True)
    if d.socket:
        kwargs["unix_socket"] = d.socket
    else:
        kwargs.update(host=d.host, port=d.port)
    conn = pymysql.connect(**kwargs)
    with conn.cursor() as cur:
        cur.execute("SET SESSION TRANSACTION READ ONLY")
    return conn


def floor_once(conn, statements):
    """{section: seconds} for one replay of `statements` in one read-only snapshot."""
    per = {}
    with conn.cursor() as cur:
        for section, sql, params in statements:
            began = time.perf_counter()
            cur.execute(sql, params)
            cur.fetchall()
            per[section] = per.get(section, 0.0) + time.perf_counter() - began
    conn.rollback()
    return per


def explain(conn, statements, floor_ms, limit_ms):
    with conn.cursor() as cur:
        for section, sql, params in statements:
            if floor_ms.get(section, 0) < limit_ms:
                continue
            cur.execute("ANALYZE " + sql, params)
            cols = [c[0] for c in cur.description]
            print(f"\n### {section} (floor {floor_ms[section]:.1f} ms)\n```\n{' '.join(sql.split())[:600]}\n```")
            print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
            for row in cur.fetchall():
                print("| " + " | ".join("" if v is None else str(v) for v in row) + " |")
    conn.rollback()


# -- per scale ------------------------------------------------------------------------

def ensure_dataset(server, scale):
    from tests import mariadb
    from zabbix_sepa.dataset import generate
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


def warm_pool(server):
    """A 4 GiB buffer pool (resized online), so that `large` is measured warm."""
    conn = server.admin()
    with conn.cursor() as cur:
        cur.execute("SELECT @@innodb_buffer_pool_size")
        if cur.fetchone()[0] < BUFFER_POOL:
            cur.execute(f"SET GLOBAL innodb_buffer_pool_size = {BUFFER_POOL}")
            for _ in range(600):
                cur.execute("SELECT @@innodb_buffer_pool_size")
                if cur.fetchone()[0] >= BUFFER_POOL:
                    break
                time.sleep(0.1)
        cur.execute("SELECT @@innodb_buffer_pool_size")
        size = cur.fetchone()[0]
    conn.close()
    return size


def section_cadences():
    from zabbix_sepa import registry
    return {f"{g.name}.{s.name}": cadence_of(g, s) for g in registry.groups() for s in g.sections}


def bench(server, scale, runs, args):
    from zabbix_sepa import config
    name = ensure_dataset(server, scale)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        json.dump({"timezone": "Europe/Amsterdam", "collect_timeout": 120, "cadences": {"hour": {"collect_timeout": 120}},
                   "sites": [{"name": f"bench-{scale}", "database": server.site_database_mapping(name)}]}, fh)
    os.chmod(fh.name, 0o600)
    cadences = section_cadences()
    out = {"runs": runs, "cadence_of": cadences, "cadences": {}, "sections": {}}
    try:
        site = config.load(fh.name).site(None)
        for _ in range(2 if scale == "large" else 1):      # warm the buffer pool; not counted
            run_child(fh.name, "all")
        statements = record_statements(site)
        conn = bare_connection(site)
        floor_once(conn, statements)                       # one more warm-up, of the bare path
        # Collections and floors interleaved, so that a busy neighbour weighs on both alike.
        samples, floors = {c: [] for c in CADENCES}, []
        for _ in range(runs):
            for c in CADENCES:
                samples[c].append(run_child(fh.name, c))
            floors.append(floor_once(conn, statements))
    finally:
        os.unlink(fh.name)
    floor_ms = {s: 1000 * statistics.median(f.get(s, 0.0) for f in floors) for s in cadences}
    if args.explain:
        explain(conn, statements, floor_ms, args.explain_ms)
    conn.close()

    for c in CADENCES:
        ss = samples[c]
        fl = [sum(v for s, v in f.items() if c == "all" or cadences.get(s) == c) for f in floors]
        r = {k: statistics.median(s[k] for s in ss) for k in ("duration_s", "statements", "rss_mb", "wall_s")}
        r["floor_s"] = statistics.median(fl)
        r["ratio"] = r["duration_s"] / r["floor_s"] if r["floor_s"] else None
        r["target"] = TARGETS.get((scale, c), "")
        out["cadences"][c] = r
    for s, c in cadences.items():
        ms = [x["sections_ms"].get(s) for x in samples["all"] if s in x["sections_ms"]]
        out["sections"][s] = {"cadence": c, "collection_ms": statistics.median(ms) if ms else None,
                              "floor_ms": floor_ms.get(s),
                              "statements": samples["all"][0]["sections_statements"].get(s)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", nargs="+", default=["prod", "large"])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--explain", action="store_true", help="ANALYZE the statements of slow sections")
    ap.add_argument("--explain-ms", type=float, default=20.0)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--cadence", default="all", choices=CADENCES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.cadence)

    from tests import mariadb
    server = mariadb.ensure_server()
    pool = warm_pool(server)
    results = {}
    for scale in args.scale:
        results[scale] = bench(server, scale, args.runs, args)
        results[scale]["buffer_pool_bytes"] = pool
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        with open(os.path.join(ROOT, "bench", "results", f"{scale}.json"), "w") as fh:
            json.dump(results[scale], fh, indent=2)

    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, MariaDB {server_version(server)}, "
          f"buffer pool {pool / 2**30:.1f} GiB; median of {args.runs} runs after a warm-up; each collection "
          "in a fresh process\n")
    print("| scale | cadence | collection (s) | floor (s) | collection / floor | statements | peak RSS (MiB) "
          "| process wall (s) | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for scale, res in results.items():
        for c, r in res["cadences"].items():
            ratio = f"{r['ratio']:.2f}x" if r["ratio"] else "-"
            print(f"| {scale} | {c} | {r['duration_s']:.3f} | {r['floor_s']:.3f} | {ratio} | {r['statements']:.0f} "
                  f"| {r['rss_mb']:.1f} | {r['wall_s']:.3f} | {r['target']} |")
    for scale, res in results.items():
        print(f"\n{scale}, per section (cadence all, ms):\n")
        print("| section | cadence | collection | floor | statements |\n|---|---|---|---|---|")
        for s, r in res["sections"].items():
            coll = "-" if r["collection_ms"] is None else f"{r['collection_ms']:.1f}"
            fl = "-" if r["floor_ms"] is None else f"{r['floor_ms']:.1f}"
            print(f"| {s} | {r['cadence']} | {coll} | {fl} | {r['statements'] if r['statements'] is not None else '-'} |")


def server_version(server):
    conn = server.admin()
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        return cur.fetchone()[0]


if __name__ == "__main__":
    main()
