#!/usr/bin/env python3
"""Benchmark `zabbix-sepa send --all` for a fleet of small sites, delivered to a real Zabbix
(the tests' stack) (not a test: it reports).

    .venv/bin/python bench/bench_fleet.py [--sites 100] [--concurrency 1 4 8] [--runs 3]

Each site is a configured site of its own (its own Zabbix host with the two trapper items)
reading the generated `tiny` dataset; per `send_concurrency` it times whole `send --all`
processes: the first run of an hour (the minute and the hourly document of every site) and
the runs of the other minutes (the minute document), until the server acknowledged every
value. Writes bench/results/fleet.json.
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

from bench.bench_collect import ensure_dataset  # noqa: E402
from tests import mariadb, zabbix  # noqa: E402

CLI = os.path.join(ROOT, ".venv", "bin", "zabbix-sepa")
PREFIX = "zsepa-fleet-"


def make_hosts(count):
    """`count` hosts with the trapper items sepa.collect and sepa.collect.hour; their names."""
    drop_hosts()
    names = [f"{PREFIX}{i:03d}" for i in range(count)]
    for name in names:
        hostid = zabbix.api("host.create", {"host": name, "groups": [{"groupid": zabbix.group_id()}]})["hostids"][0]
        for key in ("sepa.collect", "sepa.collect.hour"):
            zabbix.api("item.create", {"hostid": hostid, "name": key, "key_": key, "type": 2, "value_type": 4,
                                       "history": "1d"})
    zabbix.reload_config_cache()
    return names


def drop_hosts():
    found = zabbix.api("host.get", {"search": {"host": PREFIX}, "output": ["hostid"]})
    if found:
        zabbix.api("host.delete", [h["hostid"] for h in found])


def write_config(directory, names, database, concurrency):
    path = os.path.join(directory, f"fleet-{concurrency}.yaml")
    with open(path, "w") as fh:
        json.dump({"timezone": "UTC", "spool_dir": os.path.join(directory, f"spool-{concurrency}"),
                   "send_concurrency": concurrency,
                   "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT},
                   "sites": [{"name": n, "database": database} for n in names]}, fh)
    os.chmod(path, 0o600)
    return path


def timed_send(config, cadence):
    began = time.monotonic()
    proc = subprocess.run([CLI, "send", "--config", config, "--all", "--cadence", cadence],
                          capture_output=True, text=True)
    took = time.monotonic() - began
    sent = sum(1 for line in proc.stdout.splitlines() if ": sent " in line and "waiting in spool 0" in line
               and "rejected 0" in line)
    return took, proc.returncode, sent, proc.stdout + proc.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=100)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    server = mariadb.ensure_server()
    database = server.site_database_mapping(ensure_dataset(server, "tiny"))
    zabbix.ensure_stack()
    names = make_hosts(args.sites)
    results = {"sites": args.sites, "runs": args.runs, "dataset": "tiny", "by_concurrency": {}}
    try:
        with tempfile.TemporaryDirectory(prefix="zsepa-fleet-") as tmp:
            for concurrency in args.concurrency:
                config = write_config(tmp, names, database, concurrency)
                timed_send(config, "minute")            # warm-up (connections, the server's caches)
                samples = {"all": [], "minute": []}
                for _ in range(args.runs):
                    for cadence in ("all", "minute"):
                        took, rc, sent, text = timed_send(config, cadence)
                        if rc != 0 or sent != args.sites:
                            raise SystemExit(f"send --cadence {cadence} (concurrency {concurrency}): exit {rc}, "
                                             f"{sent} of {args.sites} sites delivered:\n{text[-2000:]}")
                        samples[cadence].append(took)
                results["by_concurrency"][concurrency] = {c: statistics.median(v) for c, v in samples.items()}
    finally:
        drop_hosts()
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "fleet.json"), "w") as fh:
        json.dump(results, fh, indent=2)
    print(f"\n{args.sites} sites (`tiny` dataset each), Zabbix {zabbix.VERSION}; median of {args.runs} whole "
          f"`send --all` processes, until the server acknowledged every value\n")
    print("| send_concurrency | minute and hourly documents (first run of an hour) | minute documents |")
    print("|---|---|---|")
    for concurrency, r in results["by_concurrency"].items():
        print(f"| {concurrency} | {r['all']:.1f} s | {r['minute']:.1f} s |")


if __name__ == "__main__":
    main()
