"""UserParameters file in sync with the code; the shared collection cache."""
import os
import shlex
import shutil
import stat
import threading
import time

import pytest

from zabbix_sepa.cli import build_parser
from zabbix_sepa.transport.agent import cached, userparameters
from tests import unprivileged

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_committed_userparameters_file_is_generated():
    with open(os.path.join(ROOT, "userparameters", "zabbix_sepa.conf")) as fh:
        assert fh.read() == userparameters(), "run: zabbix-sepa userparameters > userparameters/zabbix_sepa.conf"


def test_userparameter_commands_parse_and_quote_the_site():
    lines = [line for line in userparameters("/opt/x/bin/zabbix-sepa", "/etc/z.yaml").splitlines()
             if line.startswith("UserParameter=")]
    commands = dict(line[len("UserParameter="):].split(",", 1) for line in lines)
    assert set(commands) == {"sepa.collect[*]", "sepa.collect.hour[*]", "sepa.health[*]"}
    for key, command in commands.items():
        argv = shlex.split(command.replace("$1", "my site"))      # what the agent's sh -c does
        assert argv[0] == "/opt/x/bin/zabbix-sepa"
        args = build_parser().parse_args(argv[1:])
        want = {"sepa.collect[*]": ("collect", "minute"), "sepa.collect.hour[*]": ("collect", "hour"),
                "sepa.health[*]": ("health", None)}[key]
        assert (args.command, getattr(args, "cadence", None)) == want
        assert (args.config, args.site, args.quiet) == ("/etc/z.yaml", "my site", True)


def test_paths_with_spaces_and_quotes_stay_one_argument_and_dollar_is_refused(capsys):
    from zabbix_sepa.cli import main
    text = userparameters("/opt/my sepa/bin/zabbix-sepa", "/etc/zabbix-sepa/it's; touch x.yaml")
    line = next(l for l in text.splitlines() if l.startswith("UserParameter=sepa.collect"))
    argv = shlex.split(line.split(",", 1)[1].replace("$1", "s"))
    assert argv[0] == "/opt/my sepa/bin/zabbix-sepa" and argv[argv.index("--config") + 1] == \
        "/etc/zabbix-sepa/it's; touch x.yaml"
    for bad in ("/etc/$1.yaml", "relative.yaml", "/etc/a\nUserParameter=x,y"):
        with pytest.raises(SystemExit) as exit_:
            main(["userparameters", "--config", bad])
        assert exit_.value.code == 2 and "absolute path without '$'" in capsys.readouterr().err


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


def test_cache_lock_admits_the_group_whatever_the_umask(tmp_path):
    """Issue 14: the lock was created with the process umask (0640 under 027), so another account
    of the group could not open it and collected on its own, silently."""
    old = os.umask(0o027)
    try:
        cached("s", str(tmp_path), 30, time.monotonic() + 1, lambda: {"ok": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "s.json.lock").st_mode) == 0o660


def test_another_account_of_the_group_shares_the_cache():
    """For real: root (umask 027) fills the cache of a setgid group directory, as install.sh
    makes it; then `nobody` of that group finds it expired and must take the same lock."""
    unprivileged.require()
    shared = unprivileged.SharedDir()
    try:
        cache = os.path.join(shared.path, "cache")
        os.mkdir(cache)
        shutil.chown(cache, "root", unprivileged.GROUP)
        os.chmod(cache, 0o2770)
        old = os.umask(0o027)
        try:
            cached("s", cache, 30, time.monotonic() + 1, lambda: {"by": "root"})
        finally:
            os.umask(old)
        os.utime(os.path.join(cache, "s.json"), (time.time() - 60, time.time() - 60))
        proc = unprivileged.python("-c", "import json, logging, sys, time\n"
                                   "from zabbix_sepa.transport.agent import cached\n"
                                   "logging.basicConfig(level=logging.WARNING)\n"
                                   "print(json.dumps(cached('s', sys.argv[1], 30, time.monotonic() + 1, "
                                   "lambda: {'by': 'nobody'})))", cache)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == '{"by": "nobody"}' and proc.stderr == ""
    finally:
        shared.close()


def test_a_lock_that_cannot_be_taken_is_said(tmp_path, caplog):
    """Issue 14: collecting without the cache is logged with the path and the fix."""
    os.mkdir(tmp_path / "s.json.lock")          # not a file: cannot be opened for locking
    assert cached("s", str(tmp_path), 30, time.monotonic() + 1, lambda: {"ok": 1}) == {"ok": 1}
    assert f"{tmp_path}/s.json.lock" in caplog.text and "without the cache" in caplog.text
    assert "mode 2770" in caplog.text


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


def test_check_reports_a_cache_lock_the_group_cannot_take(tmp_path):
    """Issue 14: an unusable shared cache shows in `zabbix-sepa check` (the agent's
    `collect --quiet` logs nothing)."""
    from zabbix_sepa import check
    from zabbix_sepa.config import parse
    cfg = parse({"spool_dir": str(tmp_path / "spool"), "cache_seconds": 30, "cache_dir": str(tmp_path),
                 "sites": [{"name": "s", "database": {"name": "x", "user": "u"}}]}, "test.yaml")
    cached("s", str(tmp_path), 30, time.monotonic() + 1, lambda: {"ok": 1})
    assert check._cache(cfg)[0]
    os.chmod(tmp_path / "s.json.lock", 0o640)          # as an older version left it
    ok, line = check._cache(cfg)
    assert not ok and "s.json.lock" in line and f"chmod 0660 {tmp_path}/*.lock" in line
