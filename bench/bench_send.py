#!/usr/bin/env python3
"""Benchmark delivery to a real Zabbix 6.0 (stack/zabbix.sh) (not a test: it reports).

    .venv/bin/python bench/bench_send.py [--values 1000] [--runs 3] [--polls 11]

(a) Spool replay: N spooled documents (a real `prod` document, clocks a
    minute apart) delivered by `zabbix-sepa send --spool-only`, against
    `zabbix_sender -T -i` sending the same N values, in the same run, each to
    its own fresh host with a trapper item; both whole processes, timed until
    the command exits (the server has acknowledged everything). Ratio =
    zabbix_sender time / ours (>= 1.0: not slower than the C tool).
(b) Agent latency: `zabbix_get -k sepa.collect[...]` through the real
    zabbix_agentd and our UserParameter, on the `prod` dataset; median.
Writes bench/results/send.json.
"""
import argparse
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

from bench.bench_collect import NOW, ensure_dataset  # noqa: E402
from tests import mariadb, zabbix  # noqa: E402
from zabbix_sepa.transport.spool import HostSpool  # noqa: E402

CLI = [os.path.join(ROOT, ".venv", "bin", "zabbix-sepa")]


def prod_config(directory, server, db_name, site):
    path = os.path.join(directory, f"{site}.yaml")
    with open(path, "w") as fh:
        json.dump({"timezone": "UTC", "spool_dir": os.path.join(directory, "spool"),
                   "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT},
                   "sites": [{"name": site, "database": server.site_database_mapping(db_name)}]}, fh)
    os.chmod(path, 0o644)
    return path


def sender_line(host, key, clock, value):
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{host}" {key} {clock} "{escaped}"\n'


def history_count(itemid):
    return int(zabbix.api("history.get", {"itemids": [itemid], "history": 4, "countOutput": True}))


def wait_count(itemid, n, timeout=60):
    deadline = time.monotonic() + timeout
    while history_count(itemid) < n and time.monotonic() < deadline:
        time.sleep(0.5)
    return history_count(itemid)


def replay(workdir, document, n, run):
    ours, theirs = f"zsepa-bench-ours-{run}", f"zsepa-bench-sender-{run}"
    h_ours, h_theirs = zabbix.TrapperHost(ours), zabbix.TrapperHost(theirs)
    try:
        base = int(time.time()) - 60 * n - 3600 * run
        cfg = os.path.join(workdir, f"replay-{run}.yaml")
        spool_dir = os.path.join(workdir, f"spool-{run}")
        with open(cfg, "w") as fh:
            json.dump({"spool_dir": spool_dir, "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT},
                       "sites": [{"name": ours, "database": {"name": "unused", "user": "unused"}}]}, fh)
        hs = HostSpool(spool_dir, ours)
        lines = []
        for i in range(n):
            hs.put("sepa.collect", document, base + 60 * i)
            lines.append(sender_line(theirs, "sepa.collect", base + 60 * i, document))
        input_file = os.path.join(workdir, f"sender-{run}.txt")
        with open(input_file, "w") as fh:
            fh.writelines(lines)

        began = time.monotonic()
        proc = subprocess.run(CLI + ["send", "--config", cfg, "--all", "--spool-only"],
                              capture_output=True, text=True)
        t_ours = time.monotonic() - began
        if proc.returncode:
            raise SystemExit(f"zabbix-sepa send failed: {proc.stdout}{proc.stderr}")
        began = time.monotonic()
        proc = subprocess.run([zabbix.SENDER, "-z", "127.0.0.1", "-p", str(zabbix.SERVER_PORT), "-T",
                               "-i", input_file], capture_output=True, text=True)
        t_theirs = time.monotonic() - began
        if proc.returncode:
            raise SystemExit(f"zabbix_sender failed: {proc.stdout}{proc.stderr}")
        stored = (wait_count(h_ours.itemid, n), wait_count(h_theirs.itemid, n))
        if stored != (n, n):
            raise SystemExit(f"stored {stored}, expected {n} each")
        return t_ours, t_theirs
    finally:
        h_ours.delete()
        h_theirs.delete()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--values", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--polls", type=int, default=11)
    args = ap.parse_args()

    server = mariadb.ensure_server()
    zabbix.ensure_stack()
    db_name = ensure_dataset(server, "prod")
    workdir = tempfile.mkdtemp(prefix="zsepa-bench-", dir=zabbix.STATE)
    os.chmod(workdir, 0o755)
    cfg = prod_config(workdir, server, db_name, "bench-prod")
    proc = subprocess.run(CLI + ["collect", "--config", cfg, "--now", NOW.strftime("%Y-%m-%d %H:%M:%S")],
                          capture_output=True, text=True)
    document = proc.stdout.strip()
    print(f"# document: {len(document)} bytes", file=sys.stderr)

    pairs = [replay(workdir, document, args.values, run) for run in range(args.runs)]
    ours = statistics.median(p[0] for p in pairs)
    theirs = statistics.median(p[1] for p in pairs)

    zabbix.install_userparameters(cfg)
    zabbix.zabbix_get("sepa.collect[bench-prod]")       # warm-up
    latencies = []
    for _ in range(args.polls):
        began = time.monotonic()
        out = zabbix.zabbix_get("sepa.collect[bench-prod]")
        latencies.append(time.monotonic() - began)
        if json.loads(out)["metrics"]["sepa.collector.status"] != 0:
            raise SystemExit("agent poll did not return a complete document")

    result = {"values": args.values, "document_bytes": len(document), "runs": args.runs,
              "replay_ours_s": round(ours, 3), "replay_zabbix_sender_s": round(theirs, 3),
              "ratio_sender_over_ours": round(theirs / ours, 2),
              "zabbix_get_median_s": round(statistics.median(latencies), 3),
              "zabbix_get_max_s": round(max(latencies), 3), "polls": args.polls,
              "date": dt.datetime.now().isoformat(timespec="seconds")}
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "send.json"), "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"| spool replay of {args.values} documents ({len(document)} B) | zabbix-sepa {ours:.3f} s | "
          f"zabbix_sender -T -i {theirs:.3f} s | ratio {theirs / ours:.2f} |")
    print(f"| zabbix_get sepa.collect[] at prod | median {statistics.median(latencies):.3f} s | "
          f"max {max(latencies):.3f} s | {args.polls} polls |")


if __name__ == "__main__":
    main()
