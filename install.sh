#!/usr/bin/env bash
# zabbix-sepa installer.
#
# As root (or with sudo):
#   ./install.sh [options]                 production install on this host
#   ./install.sh --demo                    everything on 127.0.0.1, with a demo site (see README);
#                                          Zabbix 7.0 LTS, or 6.0 with --zabbix-version 6.0
#   ./install.sh --demo --stop             stop what the demo started
#   ./install.sh --uninstall [--purge]
#
# Options:
#   --prefix DIR          virtualenv for the package (default /opt/zabbix-sepa)
#   --bin-link PATH       command link (default /usr/local/bin/zabbix-sepa)
#   --config-dir DIR      configuration (default /etc/zabbix-sepa); config.yaml is never overwritten
#   --agent-config FILE   the Zabbix agent's config, to find its Include directory
#                         (default: the first of the usual agent/agent2 paths that exists)
#   --agent               require the agent UserParameters (fail if no agent config is found)
#   --no-agent            do not install the UserParameters even if an agent is found
#   --no-timer            do not install the systemd timers / cron files (`send --all` every minute;
#                         the daily report when the config has reports.daily.mail_to)
#   --create-db-user      create the read-only MariaDB user of the config's first site (as the
#                         MariaDB admin: socket auth, or a password asked on the terminal)
#   --dry-run             print every action, do nothing
#   --uninstall           remove what was installed; keep config and spool (--purge: those too)
#   --demo                the demo (above); --stop stops it, --zabbix-version 7.0|6.0 picks its Zabbix
#   -h, --help
#
# Every action checks first and does nothing when it is already done: a second run reports
# "nothing changed". Exit status: 0 done, 1 failed (the message says what and why), 2 usage.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=/opt/zabbix-sepa
BIN_LINK=/usr/local/bin/zabbix-sepa
CONFIG_DIR=/etc/zabbix-sepa
SPOOL_DIR=/var/spool/zabbix-sepa
CACHE_DIR=/var/cache/zabbix-sepa
LOG_DIR=/var/log/zabbix-sepa
USER_NAME=zabbix-sepa
AGENT_CONFIG=""
AGENT_MODE=auto          # auto | yes | no
TIMER=yes
CREATE_DB_USER=no
DRY_RUN=no
ACTION=install
PURGE=no
DEMO_STOP=no
CHANGES=0
PYTHON=${PYTHON:-}
DEMO_SITE=${ZABBIX_SEPA_DEMO_SITE:-verenigingen-demo}   # the tests' demo uses a name of its own

say() { printf '%s\n' "$*"; }
warn() { printf 'install.sh: %s\n' "$*" >&2; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -e/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --prefix) PREFIX=${2:?--prefix needs a directory}; shift ;;
        --bin-link) BIN_LINK=${2:?--bin-link needs a path}; shift ;;
        --config-dir) CONFIG_DIR=${2:?--config-dir needs a directory}; shift ;;
        --agent-config) AGENT_CONFIG=${2:?--agent-config needs a file}; shift ;;
        --agent) AGENT_MODE=yes ;;
        --no-agent) AGENT_MODE=no ;;
        --no-timer) TIMER=no ;;
        --create-db-user) CREATE_DB_USER=yes ;;
        --dry-run) DRY_RUN=yes ;;
        --uninstall) ACTION=uninstall ;;
        --purge) PURGE=yes ;;
        --demo) ACTION=demo ;;
        --zabbix-version) ZABBIX_VERSION=${2:?--zabbix-version needs 7.0 or 6.0}; shift
                          case $ZABBIX_VERSION in 7.0|6.0) ;; *) printf 'install.sh: --zabbix-version %s: choose 7.0 or 6.0\n' "$ZABBIX_VERSION" >&2; exit 2 ;; esac ;;
        --stop) DEMO_STOP=yes ;;
        -h|--help) usage; exit 0 ;;
        *) printf 'install.sh: unknown option %s (see --help)\n' "$1" >&2; exit 2 ;;
    esac
    shift
done
CONFIG=$CONFIG_DIR/config.yaml

# change DESCRIPTION COMMAND...: run it (or, with --dry-run, only say it) and count it
change() {
    local what=$1; shift
    CHANGES=$((CHANGES + 1))
    if [ "$DRY_RUN" = yes ]; then say "would: $what"; return 0; fi
    "$@" || die "failed: $what"
    say "done: $what"
}

# put_file PATH MODE OWNER:GROUP < content: (re)write when the content or mode differs
put_file() {
    local path=$1 mode=$2 owner=$3 tmp
    tmp=$(mktemp)
    cat > "$tmp"
    if [ -f "$path" ] && cmp -s "$tmp" "$path" && [ "$(stat -c '%a %U:%G' "$path")" = "${mode#0} $owner" ]; then
        rm -f "$tmp"; return 0
    fi
    change "write $path ($mode $owner)" install -D -m "$mode" -o "${owner%:*}" -g "${owner#*:}" "$tmp" "$path"
    rm -f "$tmp"
}

ensure_dir() {    # ensure_dir PATH MODE OWNER:GROUP
    local path=$1 mode=$2 owner=$3
    if [ -d "$path" ] && [ "$(stat -c '%a %U:%G' "$path")" = "${mode#0} $owner" ]; then return 0; fi
    change "directory $path ($mode $owner)" install -d -m "$mode" -o "${owner%:*}" -g "${owner#*:}" "$path"
}

require_root() {
    [ "$(id -u)" = 0 ] || [ "$DRY_RUN" = yes ] || die "run me as root (or with sudo): I create a system user, /etc/zabbix-sepa, /var/spool/zabbix-sepa and the agent's UserParameters"
}

# -- prerequisites ------------------------------------------------------------------------------

find_python() {
    if [ -z "$PYTHON" ]; then
        # Debian's python first: a python under a private home (pyenv in /root) would not run
        # for the zabbix-sepa and zabbix users
        for p in /usr/bin/python3 "$(command -v python3 || true)"; do
            [ -n "$p" ] && [ -x "$p" ] && { PYTHON=$p; break; }
        done
    fi
    [ -n "$PYTHON" ] || die "no python3 found: install Python 3.9 or newer (Debian: apt-get install python3 python3-venv)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
        || die "$PYTHON is $("$PYTHON" -V 2>&1); zabbix-sepa needs Python 3.9 or newer"
    if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        if command -v apt-get >/dev/null 2>&1; then
            change "install python3-venv (Debian package)" \
                env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
        else
            die "$PYTHON has no venv module: install your distribution's python3-venv"
        fi
    fi
}

agent_config_path() {
    if [ -n "$AGENT_CONFIG" ]; then
        [ -f "$AGENT_CONFIG" ] || die "--agent-config $AGENT_CONFIG: no such file"
        echo "$AGENT_CONFIG"; return
    fi
    local c
    for c in /etc/zabbix/zabbix_agentd.conf /etc/zabbix/zabbix_agent2.conf /usr/local/etc/zabbix_agentd.conf \
             /etc/zabbix_agentd.conf; do
        [ -f "$c" ] && { echo "$c"; return; }
    done
    echo ""
}

# The directory of the first Include= line that names files (*.conf) or a directory.
agent_include_dir() {
    local conf=$1 line dir
    line=$(grep -E '^[[:space:]]*Include[[:space:]]*=' "$conf" | head -n 1 | sed -E 's/^[[:space:]]*Include[[:space:]]*=[[:space:]]*//') || true
    [ -n "$line" ] || die "the agent config $conf has no Include= line, so it would not read our UserParameters; add e.g. 'Include=/etc/zabbix/zabbix_agentd.d/*.conf' to it, or pass --no-agent"
    case $line in
        *'*'*) dir=$(dirname "$line") ;;
        */) dir=${line%/} ;;
        *) if [ -d "$line" ]; then dir=$line; else dir=$(dirname "$line"); fi ;;
    esac
    echo "$dir"
}

restart_agent() {
    local conf=$1 pid bin
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        for unit in zabbix-agent zabbix-agent2; do
            if systemctl is-active --quiet "$unit"; then
                change "restart $unit (to read the UserParameters)" systemctl restart "$unit"; return
            fi
        done
    fi
    pid=$(pgrep -o -f "zabbix_agent[d2]* .*-c *$conf" || pgrep -o -x zabbix_agentd || true)
    if [ -n "$pid" ]; then
        CHANGES=$((CHANGES + 1))
        # the running agent's own binary: it need not be the one on PATH (another major, a private root)
        bin=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
        [ -x "$bin" ] || bin=zabbix_agentd
        if [ "$DRY_RUN" = yes ]; then
            say "would: reload the running agent's UserParameters (zabbix_agentd -c $conf -R userparameter_reload)"
        elif "$bin" -c "$conf" -R userparameter_reload >/dev/null 2>&1; then
            say "done: reload the running agent's UserParameters (zabbix_agentd -R userparameter_reload)"
        else
            warn "could not tell the running agent to reload its UserParameters: restart it yourself"
        fi
    else
        say "note: no running agent found; it reads the UserParameters when it starts"
    fi
}

# -- install ------------------------------------------------------------------------------------

source_hash() {
    (cd "$HERE" && find zabbix_sepa pyproject.toml README.md -type f ! -name '*.pyc' ! -path '*/__pycache__/*' \
        -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

install_package() {
    if [ ! -x "$PREFIX/bin/python" ]; then
        change "virtualenv $PREFIX ($PYTHON)" "$PYTHON" -m venv "$PREFIX"
    fi
    local want have=""
    want=$(source_hash)
    [ -f "$PREFIX/.zabbix-sepa-source" ] && have=$(cat "$PREFIX/.zabbix-sepa-source")
    if [ "$want" != "$have" ] || [ ! -x "$PREFIX/bin/zabbix-sepa" ]; then
        change "install zabbix-sepa from $HERE into $PREFIX (source $want)" install_into_venv "$want"
    fi
    if [ "$(readlink "$BIN_LINK" 2>/dev/null || true)" != "$PREFIX/bin/zabbix-sepa" ]; then
        change "link $BIN_LINK -> $PREFIX/bin/zabbix-sepa" ln -sfn "$PREFIX/bin/zabbix-sepa" "$BIN_LINK"
    fi
}

install_into_venv() {
    local build
    build=$(mktemp -d)
    # build from a copy: pip must not leave build/ or *.egg-info in the checkout
    (cd "$HERE" && tar cf - zabbix_sepa pyproject.toml README.md) | (cd "$build" && tar xf -)
    "$PREFIX/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$build" \
        > "$build.log" 2>&1 || { tail -n 20 "$build.log" >&2; rm -rf "$build" "$build.log"; return 1; }
    rm -rf "$build" "$build.log"
    echo "$1" > "$PREFIX/.zabbix-sepa-source"
}

ensure_user() {
    if ! getent group "$USER_NAME" >/dev/null; then
        change "system group $USER_NAME" groupadd --system "$USER_NAME"
    fi
    if ! getent passwd "$USER_NAME" >/dev/null; then
        change "system user $USER_NAME (no login, no home)" useradd --system --gid "$USER_NAME" \
            --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$USER_NAME"
    fi
    if getent group zabbix >/dev/null && ! id -nG "$USER_NAME" 2>/dev/null | tr ' ' '\n' | grep -qx zabbix; then
        change "add $USER_NAME to group zabbix (to read $CONFIG like the agent)" usermod -aG zabbix "$USER_NAME"
    fi
}

config_group() { if getent group zabbix >/dev/null; then echo zabbix; else echo "$USER_NAME"; fi; }

install_config() {
    local group; group=$(config_group)
    ensure_dir "$CONFIG_DIR" 0750 "root:$group"
    if [ -f "$CONFIG" ]; then
        say "kept: $CONFIG (an existing config is never overwritten)"
    else
        put_file "$CONFIG" 0640 "root:$group" < "$HERE/config.example.yaml"
    fi
    ensure_dir "$SPOOL_DIR" 0750 "$USER_NAME:$USER_NAME"
    ensure_dir "$CACHE_DIR" 2770 "$USER_NAME:$group"
    ensure_dir "$LOG_DIR" 0750 "$USER_NAME:$USER_NAME"
}

install_agent() {
    local conf dir
    [ "$AGENT_MODE" = no ] && return 0
    conf=$(agent_config_path)
    if [ -z "$conf" ]; then
        [ "$AGENT_MODE" = yes ] && die "--agent: no Zabbix agent config found (looked for /etc/zabbix/zabbix_agentd.conf, zabbix_agent2.conf, /usr/local/etc/zabbix_agentd.conf); install zabbix-agent or pass --agent-config FILE"
        say "note: no Zabbix agent config found; UserParameters not installed (push mode needs none)"
        return 0
    fi
    dir=$(agent_include_dir "$conf")
    ensure_dir "$dir" 0755 "root:root"
    local before=$CHANGES extra=() cmd
    [ "$CONFIG" != /etc/zabbix-sepa/config.yaml ] && extra=(--config "$CONFIG")
    cmd=$(userparameters_cmd)
    if [ -x "$cmd" ]; then
        local text
        text=$("$cmd" userparameters --bin "$BIN_LINK" "${extra[@]}") \
            || die "could not generate the UserParameters (see above); nothing written to $dir"
        put_file "$dir/zabbix_sepa.conf" 0644 root:root <<< "$text"
    else        # dry run before the package exists
        change "write $dir/zabbix_sepa.conf (the generated UserParameters)" true
    fi
    [ "$DRY_RUN" = yes ] || printf '%s\n%s\n' "$dir/zabbix_sepa.conf" "$conf" > "$PREFIX/.zabbix-sepa-agent-file"
    [ "$CHANGES" -gt "$before" ] && restart_agent "$conf"
    AGENT_FILE="$dir/zabbix_sepa.conf"
}

userparameters_cmd() { echo "$PREFIX/bin/zabbix-sepa"; }

# " --config FILE" for the lines the timers run, when the config is not where they look by default
config_opt() {
    [ "$CONFIG" = /etc/zabbix-sepa/config.yaml ] && return 0
    [[ $CONFIG =~ ^/[A-Za-z0-9_./-]+$ ]] \
        || die "--config-dir $CONFIG_DIR: for the timer and cron lines use an absolute path of letters, digits, '_', '-', '.' and '/'"
    printf ' --config %s' "$CONFIG"
}

have_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# enable_timer NAME WHAT: daemon-reload when units changed since BEFORE, then enable and start NAME
enable_timer() {
    local name=$1 what=$2 before=$3
    [ "$CHANGES" -gt "$before" ] && change "systemctl daemon-reload" systemctl daemon-reload
    if ! systemctl is-enabled --quiet "$name" 2>/dev/null; then
        change "enable and start $name ($what)" systemctl enable --now "$name"
    fi
}

install_timer() {
    [ "$TIMER" = no ] && return 0
    local opt
    opt=$(config_opt)
    if have_systemd; then
        local before=$CHANGES
        put_file /etc/systemd/system/zabbix-sepa-send.service 0644 root:root \
            < <(sed "s#/usr/local/bin/zabbix-sepa send --all#$BIN_LINK send --all$opt#" "$HERE/deploy/systemd/zabbix-sepa-send.service")
        put_file /etc/systemd/system/zabbix-sepa-send.timer 0644 root:root < "$HERE/deploy/systemd/zabbix-sepa-send.timer"
        enable_timer zabbix-sepa-send.timer "send --all every minute" "$before"
        TIMER_WHERE="systemd: zabbix-sepa-send.timer"
    else
        put_file /etc/cron.d/zabbix-sepa 0644 root:root \
            < <(sed "s#zabbix-sepa flock#$USER_NAME flock#; s# zabbix-sepa send --all# $BIN_LINK send --all$opt#" "$HERE/deploy/cron/zabbix-sepa")
        TIMER_WHERE="cron: /etc/cron.d/zabbix-sepa (no systemd on this host)"
    fi
}

DAILY_FILES=(/etc/cron.d/zabbix-sepa-daily /etc/systemd/system/zabbix-sepa-daily.timer
             /etc/systemd/system/zabbix-sepa-daily.service)

# reports.daily.at (HH:MM) when a site of the config has reports.daily.mail_to, else nothing;
# "error: ..." and status 1 when those keys are wrong
daily_report_at() {
    "$PREFIX/bin/python" - "$CONFIG" <<'PY'
import sys
from zabbix_sepa import config
try:
    print(config.daily_report_schedule(sys.argv[1]) or "")
except config.ConfigError as exc:
    print(f"error: {exc}")
    sys.exit(1)
PY
}

# The daily report's timer (or cron file) follows the config: there while a site has
# recipients, at reports.daily.at; gone when none has.
install_daily_report() {
    [ "$TIMER" = no ] && return 0
    [ -x "$PREFIX/bin/python" ] || return 0        # dry run before the package exists
    local at opt
    if ! at=$(daily_report_at); then
        warn "the daily report's schedule is left as it was: ${at#error: }"
        return 0
    fi
    if [ -z "$at" ]; then
        remove_daily_report "no site has reports.daily.mail_to"
        return 0
    fi
    opt=$(config_opt)
    local hh=$((10#${at%:*})) mm=$((10#${at#*:}))
    if have_systemd; then
        local before=$CHANGES
        put_file /etc/systemd/system/zabbix-sepa-daily.service 0644 root:root \
            < <(sed "s#/usr/local/bin/zabbix-sepa report daily --all --mail#$BIN_LINK report daily --all --mail$opt#" "$HERE/deploy/systemd/zabbix-sepa-daily.service")
        put_file /etc/systemd/system/zabbix-sepa-daily.timer 0644 root:root \
            < <(sed "s#^OnCalendar=.*#OnCalendar=*-*-* $at:00#" "$HERE/deploy/systemd/zabbix-sepa-daily.timer")
        enable_timer zabbix-sepa-daily.timer "the daily report at $at" "$before"
        DAILY_WHERE="systemd: zabbix-sepa-daily.timer, every day at $at"
    else
        put_file /etc/cron.d/zabbix-sepa-daily 0644 root:root \
            < <(sed "s#^15 7 \* \* \* zabbix-sepa zabbix-sepa report daily --all --mail#$mm $hh * * * $USER_NAME $BIN_LINK report daily --all --mail$opt#" "$HERE/deploy/cron/zabbix-sepa-daily")
        DAILY_WHERE="cron: /etc/cron.d/zabbix-sepa-daily, every day at $at"
    fi
}

remove_daily_report() {    # remove_daily_report WHY
    local f
    for f in "${DAILY_FILES[@]}"; do
        [ -e "$f" ] || continue
        if [[ $f == *.timer ]] && have_systemd; then
            change "stop and disable zabbix-sepa-daily.timer ($1)" systemctl disable --now zabbix-sepa-daily.timer
        fi
        change "remove $f ($1)" rm -f "$f"
    done
}

db_user() {
    [ "$CREATE_DB_USER" = yes ] || { print_grants; return 0; }
    local site_db user hosts pwfile tmpcnf="" exists
    read -r site_db user pwfile hosts < <(site_database) \
        || die "--create-db-user reads the first site's database name and user from $CONFIG: fix the config first"
    [ "$pwfile" != "-" ] || die "--create-db-user writes the password to the file named by sites[0].database.password_file in $CONFIG: set it (e.g. $CONFIG_DIR/db-password)"
    local admin=(mysql --protocol=socket -uroot)
    if ! "${admin[@]}" -e 'SELECT 1' >/dev/null 2>&1; then
        [ -t 0 ] || die "--create-db-user: root cannot log in to MariaDB over the socket and there is no terminal to ask for its password"
        local pw
        read -r -s -p "MariaDB root password: " pw; echo
        tmpcnf=$(mktemp); chmod 600 "$tmpcnf"
        # shellcheck disable=SC2064   # the name is fixed now; removed however the script ends
        trap "rm -f '$tmpcnf'" EXIT
        printf '[client]\nuser=root\npassword=%s\n' "$pw" > "$tmpcnf"
        admin=(mysql --defaults-extra-file="$tmpcnf")
        "${admin[@]}" -e 'SELECT 1' >/dev/null 2>&1 || { rm -f "$tmpcnf"; die "MariaDB refused that root password"; }
    fi
    sql_name_ok "$user" || die "--create-db-user: the database user '$user' in $CONFIG: use letters, digits, '_', '-' and '.' only"
    local host secret=""
    [ -s "$pwfile" ] && secret=$(cat "$pwfile")
    for host in ${hosts//,/ }; do
        sql_name_ok "$host" || die "--create-db-user: host '$host': use letters, digits, '_', '-', '.', ':' and '%' only"
        exists=$("${admin[@]}" -N -e "SELECT COUNT(*) FROM mysql.user WHERE user = '$user' AND host = '$host'")
        if [ "$exists" = 0 ] || [ -z "$secret" ]; then
            if [ -z "$secret" ]; then
                secret=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))')
                [ "$DRY_RUN" = yes ] || put_file "$pwfile" 0640 "$USER_NAME:$(config_group)" <<< "$secret"
            fi
            # the password travels on stdin, never in argv
            change "MariaDB user '$user'@'$host' (read-only; password in $pwfile)" "${admin[@]}" <<< \
                "CREATE USER IF NOT EXISTS '$user'@'$host'; ALTER USER '$user'@'$host' IDENTIFIED BY $(sql_string "$secret");"
        fi
        local grants have
        grants=$("$PREFIX/bin/zabbix-sepa" db-grants --database "$site_db" --user "$user" --host "$host")
        have=$("${admin[@]}" -N -e "SHOW GRANTS FOR '$user'@'$host'" 2>/dev/null | grep -c '^GRANT SELECT ON' || true)
        if [ "${have:-0}" -lt "$(wc -l <<< "$grants")" ]; then
            change "GRANT SELECT on the $(wc -l <<< "$grants") tables zabbix-sepa reads in $site_db to '$user'@'$host'" \
                "${admin[@]}" <<< "$grants"
        fi
    done
    [ -n "$tmpcnf" ] && rm -f "$tmpcnf"
    return 0
}

# Names pasted into SQL by this script: only characters that need no quoting inside '...'.
sql_name_ok() { [[ $1 =~ ^[A-Za-z0-9_.:%-]+$ ]]; }
# sql_string TEXT: TEXT as a MariaDB string literal (backslashes and quotes escaped)
sql_string() { local t=${1//\\/\\\\}; t=${t//\'/\\\'}; printf "'%s'" "$t"; }

# name user password_file hosts of the config's first site, read as plain YAML: its
# password_file may not exist yet (--create-db-user is about to make it)
site_database() {
    "$PREFIX/bin/python" - "$CONFIG" <<'PY'
import sys, yaml
db = (yaml.safe_load(open(sys.argv[1])) or {})["sites"][0]["database"]
local = db.get("socket") or db.get("host", "127.0.0.1") in ("127.0.0.1", "localhost", "::1")
print(db["name"], db["user"], db.get("password_file") or "-", "localhost,127.0.0.1" if local else "%")
PY
}

print_grants() {
    local site_db user pwfile hosts host
    if [ "$DRY_RUN" = yes ] || ! read -r site_db user pwfile hosts < <(site_database 2>/dev/null) \
            || [ "$site_db" = _1bd3e0294da19198 ]; then     # still the example's placeholder
        say "note: once $CONFIG names the site's database, \`zabbix-sepa db-grants\` prints the GRANT statements for the collector's read-only user (or use --create-db-user)"
        return 0
    fi
    say "note: the collector reads $site_db as '$user', a read-only user; as the MariaDB admin run (or use --create-db-user):"
    for host in ${hosts//,/ }; do
        say "    CREATE USER IF NOT EXISTS '$user'@'$host' IDENTIFIED BY '<the password in $pwfile>';"
        "$PREFIX/bin/zabbix-sepa" db-grants --database "$site_db" --user "$user" --host "$host" | sed 's/^/    /'
    done
}

do_install() {
    require_root
    find_python
    ensure_user
    install_package
    install_config
    AGENT_FILE="" TIMER_WHERE="" DAILY_WHERE=""
    install_agent
    install_timer
    install_daily_report
    db_user
    if [ "$CHANGES" = 0 ]; then say "nothing changed: zabbix-sepa is installed as asked"; fi
    say ""
    if [ "$DRY_RUN" = yes ]; then
        say "dry run: $CHANGES change(s) not made; the install would be:"
    else
        say "zabbix-sepa $("$PREFIX/bin/zabbix-sepa" --version 2>/dev/null | cut -d' ' -f2) installed:"
    fi
    say "  package      $PREFIX (command $BIN_LINK)"
    say "  config       $CONFIG"
    say "  spool        $SPOOL_DIR   cache $CACHE_DIR   log $LOG_DIR"
    [ -n "$AGENT_FILE" ] && say "  agent        $AGENT_FILE (keys sepa.collect[<site>], sepa.collect.hour[<site>])"
    [ -n "$TIMER_WHERE" ] && say "  send         $TIMER_WHERE"
    [ -n "$DAILY_WHERE" ] && say "  daily report $DAILY_WHERE"
    if [ "$DRY_RUN" = no ]; then
        say ""
        say "check (as $USER_NAME):"
        if runuser -u "$USER_NAME" -- "$BIN_LINK" check --config "$CONFIG"; then
            say "ready."
        else
            say "not ready yet: edit $CONFIG (database, zabbix server), then run: runuser -u $USER_NAME -- zabbix-sepa check"
        fi
    fi
}

# -- uninstall ------------------------------------------------------------------------------------

do_uninstall() {
    require_root
    local f conf
    for f in /etc/cron.d/zabbix-sepa /etc/systemd/system/zabbix-sepa-send.timer /etc/systemd/system/zabbix-sepa-send.service; do
        if [ -e "$f" ]; then
            if [[ $f == *.timer ]] && have_systemd; then
                change "stop and disable zabbix-sepa-send.timer" systemctl disable --now zabbix-sepa-send.timer
            fi
            change "remove $f" rm -f "$f"
        fi
    done
    remove_daily_report "uninstall"
    f="" conf=""
    if [ -f "$PREFIX/.zabbix-sepa-agent-file" ]; then      # what the install recorded
        f=$(sed -n 1p "$PREFIX/.zabbix-sepa-agent-file"); conf=$(sed -n 2p "$PREFIX/.zabbix-sepa-agent-file")
    elif conf=$(agent_config_path) && [ -n "$conf" ]; then
        f="$( (agent_include_dir "$conf") 2>/dev/null || true)/zabbix_sepa.conf"
    fi
    if [ -n "$f" ] && [ -f "$f" ]; then
        change "remove the agent's UserParameters $f" rm -f "$f"
        [ -n "$conf" ] && restart_agent "$conf"
    fi
    if [ -L "$BIN_LINK" ]; then change "remove $BIN_LINK" rm -f "$BIN_LINK"; fi
    if [ -d "$PREFIX" ]; then change "remove $PREFIX" rm -rf "$PREFIX"; fi
    if [ -d "$CACHE_DIR" ]; then change "remove $CACHE_DIR" rm -rf "$CACHE_DIR"; fi
    if [ "$PURGE" = yes ]; then
        for f in "$CONFIG_DIR" "$SPOOL_DIR" "$LOG_DIR"; do
            [ -e "$f" ] && change "purge $f" rm -rf "$f"
        done
        if getent passwd "$USER_NAME" >/dev/null; then change "remove user $USER_NAME" userdel "$USER_NAME"; fi
        if getent group "$USER_NAME" >/dev/null; then change "remove group $USER_NAME" groupdel "$USER_NAME"; fi
    else
        say "kept: $CONFIG_DIR and $SPOOL_DIR (and user $USER_NAME); --purge removes them"
    fi
    [ "$CHANGES" = 0 ] && say "nothing to remove: zabbix-sepa is not installed here"
    return 0
}

# -- demo -----------------------------------------------------------------------------------------

do_demo() {
    require_root
    if [ "$DEMO_STOP" = yes ]; then
        "$HERE/stack/zabbix.sh" --version all down
        local v busy=""
        for v in 7.0 6.0; do     # the tests' Zabbix uses the same MariaDB: keep it for them
            if ZABBIX_SEPA_INSTANCE=tests ZABBIX_VERSION=$v "$HERE/stack/zabbix.sh" status >/dev/null 2>&1; then
                busy="$busy $v"
            fi
        done
        if [ -n "$busy" ]; then
            say "MariaDB left running: the tests' Zabbix ($busy ) uses it"
        else
            "$HERE/stack/mariadb.sh" down
        fi
        say "demo stopped (its database, config and Zabbix data are kept for the next --demo)"
        return 0
    fi
    [ "$DRY_RUN" = no ] || die "--demo does not support --dry-run"
    local version=${ZABBIX_VERSION:-7.0}
    say "== 1/5 MariaDB and Zabbix $version on 127.0.0.1 (Debian packages, no systemd needed; ZABBIX_VERSION=6.0 for 6.0)"
    ZABBIX_VERSION=$version "$HERE/stack/zabbix.sh" up
    local agent_conf
    # shellcheck disable=SC1090
    . <(ZABBIX_VERSION=$version "$HERE/stack/zabbix.sh" env)
    agent_conf=$ZABBIX_AGENT_CONF
    reload() { ZABBIX_VERSION=$version "$HERE/stack/zabbix.sh" reload >/dev/null 2>&1 || true; }
    if [ -f "$CONFIG" ] && ! grep -q '^# zabbix-sepa demo' "$CONFIG"; then
        die "$CONFIG exists and is not the demo's: the demo never overwrites a real configuration (use a fresh machine, or --config-dir for a real install)"
    fi
    say "== 2/5 the demo Verenigingen database (healthy site plus a few realistic faults)"
    find_python
    ensure_user
    install_package
    ensure_dir "$CONFIG_DIR" 0750 "root:$(config_group)"
    "$PREFIX/bin/python" -m zabbix_sepa.dataset.demo --config "$CONFIG" --config-group "$(config_group)" \
        --server-port "$ZABBIX_SERVER_PORT" --api-url "$ZABBIX_API_URL" --site "$DEMO_SITE"
    say "== 3/5 install zabbix-sepa"
    AGENT_CONFIG=$agent_conf
    do_install_quiet
    say "== 4/5 zabbix setup: templates, host, macros, media types, the escalating action"
    runuser -u "$USER_NAME" -- "$BIN_LINK" zabbix setup --config "$CONFIG"
    reload
    sleep 2         # the server's configuration cache learns the new host
    say "== 5/5 the first collections"
    local _
    for _ in 1 2 3; do
        runuser -u "$USER_NAME" -- "$BIN_LINK" send --all --config "$CONFIG" || true
        reload
        sleep 3
    done
    cat <<EOF

The demo is running.
  Frontend:   $ZABBIX_WEB_URL   (Zabbix $version) login Admin / zabbix
  Problems:   Monitoring > Problems: the demo site "$DEMO_SITE" has a failed batch
              (High), a low batch success rate, members paying by SEPA without a mandate
              and a stuck draft batch.
  Dashboard:  Monitoring > Hosts > $DEMO_SITE > Dashboards > "SEPA overview"
  Collect:    runuser -u $USER_NAME -- zabbix-sepa collect      (the document)
  Keep going: runuser -u $USER_NAME -- zabbix-sepa send --all   (the timer does this every minute)
  Stop:       ./install.sh --demo --stop
  (as root; with sudo: sudo -u $USER_NAME zabbix-sepa ..., sudo ./install.sh ...)
EOF
}

do_install_quiet() {
    do_install 2>&1 | sed 's/^/   /'
    [ "${PIPESTATUS[0]}" = 0 ] || die "the install step failed"
}

case $ACTION in
    install) do_install ;;
    uninstall) do_uninstall ;;
    demo) do_demo ;;
esac
