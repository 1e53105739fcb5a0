#!/usr/bin/env bash
# The test command of the README. From a fresh Debian machine (as root):
# installs what the tests need (python3-venv, MariaDB, Chromium, Prometheus's
# promtool and Redis from Debian; Zabbix 7.0 and 6.0 unpacked by stack/zabbix.sh),
# makes .venv with the package and the test tools, starts MariaDB and both
# Zabbix majors on 127.0.0.1 without systemd if they are not running, and runs
# the whole suite with Zabbix 7.0, then the Zabbix tests (marker `zabbix`) again
# with Zabbix 6.0. Extra args go to pytest (both runs).
#   tests/run.sh --unit      the unit tests only: no MariaDB, Zabbix or Chromium, seconds
set -euo pipefail
cd "$(dirname "$0")/.."

# .venv with the package (editable: code changes need no reinstall) and the test tools;
# pip runs again only when pyproject.toml changed since the last time it succeeded
venv() {
    if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
    local stamp=.venv/.zabbix-sepa-pyproject
    if ! cmp -s pyproject.toml "$stamp"; then
        .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
        cp pyproject.toml "$stamp"
    fi
}

if [ "${1:-}" = --unit ]; then
    shift
    venv
    command -v promtool >/dev/null 2>&1 || { echo "tests/run.sh --unit: the rule tests need promtool (apt-get install prometheus)" >&2; exit 1; }
    exec .venv/bin/python -m pytest -q -n 2 tests/unit "$@"      # two workers (pytest-xdist): about 18 s
fi

need_apt=()
python3 -m venv --help >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v mariadbd >/dev/null 2>&1 || need_apt+=(mariadb-server mariadb-client)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)      # promtool checks our exposition and alerting rules
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server) # the queue metrics' RQ data, health's PING
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)     # the shell scripts are shellcheck-clean
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)           # the test SMTP relay's certificate
if [ ${#need_apt[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "tests/run.sh: need root to install: ${need_apt[*]}" >&2; exit 1; }
    [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

venv

stack/mariadb.sh up
ZABBIX_SEPA_INSTANCE=tests stack/zabbix.sh --version all up   # the tests' own Zabbix, never the demo's

rc=0
echo "== the whole suite, Zabbix 7.0" >&2
ZABBIX_VERSION=7.0 .venv/bin/python -m pytest -q "$@" || rc=$?
echo "== the Zabbix tests again, Zabbix 6.0" >&2
ZABBIX_VERSION=6.0 .venv/bin/python -m pytest -q -m zabbix "$@" || { r=$?; [ $r = 5 ] || rc=$r; }   # 5: no Zabbix test among the chosen ones
exit $rc
