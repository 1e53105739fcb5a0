"""UserParameters file in sync with the code; the shared collection cache."""
import os
import shlex
import threading
import time

from zabbix_sepa.cli import build_parser
from zabbix_sepa.transport.agent import cached, userparameters

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_committed_userparameters_file_is_generated():
    with open(os.path.join(ROOT, "userparameters", "zabbix_sepa.conf")) as fh:
        assert fh.read() == userparameters(), "run: zabbix-sepa userparameters > userparameters/zabbix_sepa.conf"


def test_userparameter_commands_parse_and_quote_the_site():
    lines = [line for line in userparameters("/opt/x/bin/zabbix-sepa", "/etc/z.yaml").splitlines()
             if line.startswith("UserParameter=")]
    commands = dict(line[len("UserParameter="):].split(",", 1) for line in lines)
    assert set(commands) == {"sepa.collect[*]", "sepa.health[*]"}
    for key, command in commands.items():
        argv = shlex.split(command.replace("$1", "my site"))      # what the agent's sh -c does
        assert argv[0] == "/opt/x/bin/zabbix-sepa"
        args = build_parser().parse_args(argv[1:])
        want = {"sepa.collect[*]": "collect", "sepa.health[*]": "health"}[key]
        assert (args.command, args.config, args.site, args.quiet) == (want, "/etc/z.yaml", "my site", True)


def test_cache_shares_one_collection(tmp_path):
    calls = []

    def produce():
        calls.append(1)
        time.sleep(0.3)
        return {"clock": len(calls)}

    results = []
    threads = [threading.Thread(target=lambda: results.append(
        cached("s", str(tmp_path), 30, time.monotonic() + 2, produce))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [{"clock": 1}] * 4
    assert cached("s", str(tmp_path), 30, time.monotonic() + 2, produce) == {"clock": 1}
    os.utime(tmp_path / "s.json", (time.time() - 31, time.time() - 31))     # expired
    assert cached("s", str(tmp_path), 30, time.monotonic() + 2, produce) == {"clock": 2}


def test_unusable_cache_dir_still_collects(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("not a directory")
    assert cached("s", str(blocker), 30, time.monotonic() + 1, lambda: {"ok": 1}) == {"ok": 1}


def test_scheduled_commands_parse():
    """The systemd unit and the cron line call commands this CLI accepts."""
    with open(os.path.join(ROOT, "deploy", "systemd", "zabbix-sepa-send.service")) as fh:
        (exec_start,) = [l.split("=", 1)[1] for l in fh if l.startswith("ExecStart=")]
    argv = shlex.split(exec_start)
    assert argv[0] == "/usr/local/bin/zabbix-sepa"
    assert build_parser().parse_args(argv[1:]).all
    with open(os.path.join(ROOT, "deploy", "cron", "zabbix-sepa")) as fh:
        (line,) = [l for l in fh if l.startswith("* * * * *")]
    fields = shlex.split(line.split(">", 1)[0])
    user, command = fields[5], fields[6:]
    assert user == "zabbix-sepa" and command[:3] == ["flock", "-n", "/var/spool/zabbix-sepa/.send.lock"]
    assert command[3] == "zabbix-sepa" and build_parser().parse_args(command[4:]).all
