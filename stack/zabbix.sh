#!/usr/bin/env bash
# Real Zabbix servers, agents and frontend APIs on 127.0.0.1, without systemd, from
# Debian's packages, for the demo, the tests and the benchmarks. Two majors side by side,
# and two instances of each, so that the tests never touch the demo's Zabbix:
#                                          demo (default)          tests
#   7.0 LTS (default; bookworm-backports)  10051, 10050, 8080      10151, 10150, 8180
#   6.0 LTS (bookworm)                     10061, 10060, 8060      10161, 10160, 8160
#   (server, agent, frontend ports)
# Choose with ZABBIX_VERSION=7.0|6.0 or --version 7.0|6.0|all before the command, and
# ZABBIX_SEPA_INSTANCE=demo|tests (tests/zabbix.py always uses `tests`).
#   stack/zabbix.sh up        MariaDB first (stack/mariadb.sh), fetch the version's packages,
#                             load its schema once, start what is not running
#   stack/zabbix.sh down      stop what this script started (not what it found running)
#   stack/zabbix.sh status    one line per component and the useful facts; exit 0 when all answer
#   stack/zabbix.sh reload    reload the server's configuration cache now
#   stack/zabbix.sh env       the facts as shell assignments (also in $STATE/zabbix-V/stack.env)
#   stack/zabbix.sh stop-server | start-server    (tests of "server down")
#   stack/zabbix.sh restart-agent                 (after changing UserParameters)
# The packages are not installed: `apt-get download` + `dpkg-deb -x` put each version in a
# private root ($STATE/zabbix-V/root; the frontend patched to read its config from there),
# so both majors coexist and the machine's own Zabbix packages and /etc/zabbix, if any, are
# never touched. Only their libraries, PHP and the `zabbix` system user are installed.
# Each instance of a version has its own database (demo: zsepa_zabbix70, tests:
# zsepa_tests_zabbix70, ...), ports, configs, logs, pid files, PSK and facts in
# $STATE/zabbix-V (demo) or $STATE/tests-zabbix-V. Idempotent and quick when all is up.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${ZABBIX_SEPA_STACK_STATE:-/var/tmp/zabbix-sepa-stack}
VERSIONS=(7.0 6.0)
VERSION=${ZABBIX_VERSION:-7.0}
if [ "${1:-}" = --version ]; then VERSION=${2:-}; shift 2 || true; fi
if [ "$VERSION" = all ]; then       # each version in turn; the exit code is the worst one
    rc=0
    for v in "${VERSIONS[@]}"; do ZABBIX_VERSION=$v "$0" "$@" || rc=$?; done
    exit $rc
fi
case $VERSION in
    7.0) SUITE=bookworm-backports; PORTS=(10051 10050 8080)
         ZABBIX_PACKAGES=(zabbix-server-mysql zabbix-agent zabbix-sender zabbix-frontend-php zabbix-proxy-sqlite3) ;;
    6.0) SUITE=bookworm; PORTS=(10061 10060 8060)
         ZABBIX_PACKAGES=(zabbix-server-mysql zabbix-agent zabbix-frontend-php zabbix-proxy-sqlite3) ;;
    *) echo "zabbix.sh: unknown Zabbix version '$VERSION' (ZABBIX_VERSION or --version): choose 7.0, 6.0 or all" >&2
       exit 2 ;;
esac
INSTANCE=${ZABBIX_SEPA_INSTANCE:-demo}
case $INSTANCE in
    demo) Z="$STATE/zabbix-$VERSION" DB_PREFIX=zsepa_ ;;
    tests) Z="$STATE/tests-zabbix-$VERSION" DB_PREFIX=zsepa_tests_
           PORTS=($((PORTS[0] + 100)) $((PORTS[1] + 100)) $((PORTS[2] + 100))) ;;
    *) echo "zabbix.sh: unknown instance '$INSTANCE' (ZABBIX_SEPA_INSTANCE): choose demo or tests" >&2; exit 2 ;;
esac
ROOT="$Z/root"                     # the version's packages, unpacked
SOCKET=${MARIADB_SOCKET:-/run/mysqld/mysqld.sock}
SERVER_PORT=${ZABBIX_SERVER_PORT:-${PORTS[0]}}
AGENT_PORT=${ZABBIX_AGENT_PORT:-${PORTS[1]}}
WEB_PORT=${ZABBIX_WEB_PORT:-${PORTS[2]}}
AGENT_HOSTNAME=zabbix-sepa-test
PSK_IDENTITY=zabbix-sepa-stack
DB=${ZABBIX_DB:-${DB_PREFIX}zabbix${VERSION/./}} DB_USER=zabbix DB_PASSWORD=zabbix-sepa-stack
MARKER=zsepa_stack_loaded          # table made in $DB after a complete load
SCHEMA_DIR="$ROOT/usr/share/zabbix-server-mysql"
WEB_ROOT="$ROOT/usr/share/zabbix"
SERVER_BIN="$ROOT/usr/sbin/zabbix_server" AGENT_BIN="$ROOT/usr/sbin/zabbix_agentd"
SENDER_BIN="$ROOT/usr/bin/zabbix_sender" GET_BIN="$ROOT/usr/bin/zabbix_get"
PROXY_BIN="$ROOT/usr/sbin/zabbix_proxy"
# Two active proxies (`proxies-up`; not part of `up`): names and ports 1 and 2 above the server's.
PROXY_NAMES=(zsepa-proxy-1 zsepa-proxy-2)
PROXY_PORTS=($((SERVER_PORT + 1)) $((SERVER_PORT + 2)))
API="http://127.0.0.1:$WEB_PORT/api_jsonrpc.php"
SERVER_CONF="$Z/zabbix_server.conf" AGENT_CONF="$Z/zabbix_agentd.conf"
SERVER_PID="$Z/zabbix_server.pid" AGENT_PID="$Z/zabbix_agentd.pid" WEB_PID="$Z/php.pid"
AGENT_INCLUDE="$Z/agent.d"
PSK_FILE="$Z/psk"
FACTS="$Z/stack.env"
FRONTEND_CONF="$Z/zabbix.conf.php"
# php8.2-cgi by name keeps apt from pulling in Apache for the frontend's php dependency
PHP_PACKAGES=(php8.2-cgi php-cli php-mysql php-gd php-bcmath php-mbstring php-xml php-ldap
              fonts-dejavu-core curl openssl)
APT_DIR="$STATE/apt"               # our own apt lists for `apt-get download` (not the machine's)

log() { printf 'zabbix.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
sql() { mysql --socket="$SOCKET" -uroot -N -B "$@"; }

# alive PIDFILE WORD: the pid in PIDFILE runs and its command line has WORD (not a recycled pid)
alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
api_version() {
    curl -s -m 3 -H 'Content-Type: application/json-rpc' \
        -d '{"jsonrpc":"2.0","method":"apiinfo.version","params":{},"id":1}' "$API" 2>/dev/null \
        | sed -n 's/.*"result":"\([^"]*\)".*/\1/p' || true
}
api_answers() { [[ $(api_version) == "$VERSION".* ]]; }

# put FILE MODE CONTENT: (re)write FILE atomically when its content differs; status 0 when written
put() {
    local file=$1 mode=$2 content=$3 tmp
    if [ -f "$file" ] && [ "$(cat "$file")" = "$content" ]; then return 1; fi
    tmp=$(mktemp "$file.XXXXXX")
    printf '%s\n' "$content" > "$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$file"
}

# -- packages -------------------------------------------------------------------------------

# The Debian mirror the machine uses (deb.debian.org when none is configured).
debian_mirror() {
    local m=${ZABBIX_SEPA_DEBIAN_MIRROR:-}
    [ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
                           2>/dev/null | sed 's/#.*//' | grep -oE '(https?|file):/[^ ]*/debian/?( |$)' \
                       | head -n 1 | tr -d ' ' || true)
    echo "${m:-http://deb.debian.org/debian}"
}

# apt-get with our own sources (bookworm and bookworm-backports) and lists under $APT_DIR
private_apt() {
    apt-get -q -o Dir::Etc::sourcelist="$APT_DIR/sources.list" -o Dir::Etc::sourceparts=/nonexistent \
        -o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache="$APT_DIR/cache" \
        -o APT::Sandbox::User=root "$@"
}

# system_install PKG...: install with the machine's apt what dpkg does not have yet
system_install() {
    local installed missing=() unavailable=() p cand
    # dpkg-query exits 1 when a package is unknown to dpkg (a fresh machine): not an error here
    installed=$({ dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null || true; } \
                | awk '$1 == "ii" {print $2}')
    for p in "$@"; do grep -qx -- "$p" <<<"$installed" || missing+=("$p"); done
    [ ${#missing[@]} = 0 ] && return 0
    log "installing ${missing[*]} (Debian packages)"
    apt-get update -qq >>"$STATE/zabbix-apt.log" 2>&1 || log "apt-get update failed (see $STATE/zabbix-apt.log); trying the lists I have"
    for p in "${missing[@]}"; do
        cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
        [ -n "$cand" ] && [ "$cand" != "(none)" ] || unavailable+=("$p")
    done
    [ ${#unavailable[@]} = 0 ] || die "not installable from the configured apt sources: ${unavailable[*]} (Debian 12 has them all)"
    # package scripts must not start services: we start them ourselves
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >>"$STATE/zabbix-apt.log" 2>&1 || { tail -n 20 "$STATE/zabbix-apt.log" >&2; die "apt-get install failed"; }
}

# library_depends DEB...: the lib* packages the debs depend on (first of each alternative)
library_depends() {
    local deb
    for deb in "$@"; do dpkg-deb -f "$deb" Depends; done | tr ',' '\n' \
        | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g' | grep -E '^(lib|zlib)' | sort -u
}

# The version's packages unpacked into $ROOT, their libraries and PHP installed, user zabbix.
install_root() {
    local mirror debs tmp p v
    # a root unpacked before the proxy was in the package list is fetched again only for proxies-up
    if [ -f "$ROOT/.complete" ] && [ -x "$SERVER_BIN" ] && { [ -z "${NEED_PROXY:-}" ] || [ -x "$PROXY_BIN" ]; }; then
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "Zabbix $VERSION is not unpacked in $ROOT yet and I am not root"
    mirror=$(debian_mirror)
    mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
    printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
        "$mirror" bookworm "$mirror" bookworm-backports > "$APT_DIR/sources.list"
    log "fetching Zabbix $VERSION packages from $mirror $SUITE (apt-get download, not installed)"
    private_apt update -qq >>"$STATE/zabbix-apt.log" 2>&1 \
        || { tail -n 5 "$STATE/zabbix-apt.log" >&2; die "apt-get update of $mirror bookworm/bookworm-backports failed (see $STATE/zabbix-apt.log)"; }
    debs=$(mktemp -d "$STATE/debs.XXXXXX")
    (cd "$debs" && private_apt download "${ZABBIX_PACKAGES[@]/%//$SUITE}") >>"$STATE/zabbix-apt.log" 2>&1 \
        || { tail -n 5 "$STATE/zabbix-apt.log" >&2; rm -rf "$debs"; die "apt-get download of Zabbix $VERSION from $SUITE failed"; }
    for p in "$debs"/*.deb; do
        v=$(dpkg-deb -f "$p" Version)
        [[ $v == 1:"$VERSION".* ]] || { rm -rf "$debs"; die "$(basename "$p") is version $v, not Zabbix $VERSION"; }
    done
    getent group zabbix >/dev/null || groupadd --system zabbix
    getent passwd zabbix >/dev/null || useradd --system -g zabbix -d /nonexistent -s /usr/sbin/nologin zabbix
    # shellcheck disable=SC2046
    system_install "${PHP_PACKAGES[@]}" $(library_depends "$debs"/zabbix-server-mysql_*.deb "$debs"/zabbix-agent_*.deb \
        "$debs"/zabbix-proxy-sqlite3_*.deb)
    tmp="$ROOT.new"; rm -rf "$tmp"; mkdir -p "$tmp"
    for p in "$debs"/*.deb; do dpkg-deb -x "$p" "$tmp"; done
    patch_frontend "$tmp"
    # shellcheck disable=SC2016   # dpkg-deb's own ${Package} fields
    for p in "$debs"/*.deb; do dpkg-deb -W --showformat='${Package} ${Version}\n' "$p"; done > "$tmp/.complete"
    rm -rf "$ROOT" "$debs"; mv "$tmp" "$ROOT"
    log "Zabbix $VERSION unpacked in $ROOT: $(paste -sd, "$ROOT/.complete")"
}

# The Debian frontend reads /etc/zabbix/zabbix.conf.php (hard wired): ours reads $FRONTEND_CONF.
# Its font links are relative to /usr/share and local/app links into /var/lib/zabbix.
patch_frontend() {
    local web="$1/usr/share/zabbix"
    sed -i "s#'/etc/zabbix/zabbix.conf.php'#'$FRONTEND_CONF'#" "$web/include/classes/core/CConfigFile.php"
    grep -qF "'$FRONTEND_CONF'" "$web/include/classes/core/CConfigFile.php" \
        || die "could not point the $VERSION frontend at $FRONTEND_CONF (CConfigFile.php changed?)"
    mkdir -p "$1/usr/share/fonts/truetype/dejavu"
    ln -sfn /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf "$1/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    rm -f "$web/local/app/controllers" "$web/local/app/views"
    mkdir -p "$web/local/app/controllers" "$web/local/app/views"
}

# -- database -------------------------------------------------------------------------------

# Loaded means: the marker table exists (made after a complete load), or the users table is
# populated (data.sql is one transaction, so users has rows only when all of it committed).
# Anything else - no database, no tables, or the remains of an interrupted load - is
# (re)made from scratch. Never touches any other database.
database() {
    local state has_db tables marker users_table
    state=$(sql -e "SELECT
        (SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name='$DB'),
        (SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='$DB'),
        (SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='$DB' AND table_name='$MARKER'),
        (SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='$DB' AND table_name='users')")
    read -r has_db tables marker users_table <<<"$state"
    if [ "$marker" = 1 ]; then return 0; fi
    if [ "$users_table" = 1 ] && [ "$(sql -e "SELECT COUNT(*) > 0 FROM \`$DB\`.users")" = 1 ]; then
        log "database $DB already holds a complete Zabbix schema: using it"
        ensure_db_user
        sql "$DB" -e "CREATE TABLE IF NOT EXISTS $MARKER (loaded_at DATETIME)"
        return 0
    fi
    if [ "$has_db" = 1 ] && [ "$tables" != 0 ]; then
        log "database $DB holds an incomplete load ($tables tables, no users): dropping it"
        sql -e "DROP DATABASE \`$DB\`"
    fi
    log "creating database $DB and loading the Zabbix $VERSION schema (about 20 s, once)"
    sql -e "CREATE DATABASE IF NOT EXISTS \`$DB\`; ALTER DATABASE \`$DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    ensure_db_user
    zcat "$SCHEMA_DIR/schema.sql.gz" | sql "$DB"
    # images and data in one transaction (data.sql brings its own START TRANSACTION/COMMIT)
    { echo "SET autocommit=0;"; zcat "$SCHEMA_DIR/images.sql.gz" "$SCHEMA_DIR/data.sql.gz"; echo "COMMIT;"; } | sql "$DB"
    # the stock "Zabbix server" host polls 127.0.0.1:10050, which may be another version's agent
    sql "$DB" -e "UPDATE hosts SET status=1 WHERE host='Zabbix server'"
    sql "$DB" -e "CREATE TABLE $MARKER (loaded_at DATETIME); INSERT INTO $MARKER VALUES (NOW())"
    log "schema loaded"
}

ensure_db_user() {   # only creates what is absent; grants are idempotent
    local n
    n=$(sql -e "SELECT COUNT(*) FROM mysql.user WHERE user='$DB_USER' AND host IN ('localhost','127.0.0.1')")
    [ "$n" = 2 ] || sql -e "CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
                           CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';"
    sql -e "GRANT ALL ON \`$DB\`.* TO '$DB_USER'@'localhost'; GRANT ALL ON \`$DB\`.* TO '$DB_USER'@'127.0.0.1';"
}

check_db_login() {
    mysql --socket="$SOCKET" -u"$DB_USER" -p"$DB_PASSWORD" -N -B -e 'SELECT 1' "$DB" >/dev/null 2>&1 && return 0
    ensure_db_user
    mysql --socket="$SOCKET" -u"$DB_USER" -p"$DB_PASSWORD" -N -B -e 'SELECT 1' "$DB" >/dev/null 2>&1 && return 0
    die "MariaDB user $DB_USER@localhost exists but does not accept this stack's password;" \
        "fix it with: mysql -e \"ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD'\""
}

# -- configs --------------------------------------------------------------------------------

server_conf() { cat <<EOF
# written by stack/zabbix.sh (do not edit: it rewrites this file)
ListenIP=127.0.0.1
ListenPort=$SERVER_PORT
LogFile=$Z/zabbix_server.log
LogFileSize=10
PidFile=$SERVER_PID
SocketDir=$Z
DBHost=localhost
DBSocket=$SOCKET
DBName=$DB
DBUser=$DB_USER
DBPassword=$DB_PASSWORD
AllowUnsupportedDBVersions=1
CacheUpdateFrequency=5
StartPollers=2
StartPollersUnreachable=1
StartTrappers=3
StartPingers=1
StartDiscoverers=1
StartHTTPPollers=1
StartAlerters=1
StartPreprocessors=2
StartLLDProcessors=1
StartEscalators=1
StartDBSyncers=2
HousekeepingFrequency=0
Timeout=4
AlertScriptsPath=$Z/alertscripts
ExternalScripts=$Z/externalscripts
EOF
    # 7.0 starts more processes by default and would look for software updates on the internet
    if [ "$VERSION" != 6.0 ]; then cat <<EOF
AllowSoftwareUpdateCheck=0
StartAgentPollers=1
StartHTTPAgentPollers=1
StartSNMPPollers=1
StartBrowserPollers=1
StartODBCPollers=1
EOF
    fi
}

agent_conf() { cat <<EOF
# written by stack/zabbix.sh (do not edit: it rewrites this file)
# AllowRoot: the tests' zabbix-sepa lives in a venv under /root's Python;
# a production install (install.sh) runs the agent as user zabbix.
AllowRoot=1
Server=127.0.0.1
ServerActive=127.0.0.1:$SERVER_PORT
ListenIP=127.0.0.1
ListenPort=$AGENT_PORT
Hostname=$AGENT_HOSTNAME
LogFile=$Z/zabbix_agentd.log
LogFileSize=10
PidFile=$AGENT_PID
Timeout=3
StartAgents=3
# passive checks: plain or PSK ($PSK_IDENTITY, $PSK_FILE); active checks: plain
TLSAccept=unencrypted,psk
TLSConnect=unencrypted
TLSPSKIdentity=$PSK_IDENTITY
TLSPSKFile=$PSK_FILE
Include=$AGENT_INCLUDE/*.conf
EOF
}

frontend_conf() { cat <<EOF
<?php
// written by zabbix-sepa's stack/zabbix.sh
\$DB['TYPE'] = 'MYSQL';
\$DB['SERVER'] = 'localhost';
\$DB['PORT'] = '0';
\$DB['DATABASE'] = '$DB';
\$DB['USER'] = '$DB_USER';
\$DB['PASSWORD'] = '$DB_PASSWORD';
\$DB['SCHEMA'] = '';
\$DB['ENCRYPTION'] = false;
\$DB['KEY_FILE'] = '';
\$DB['CERT_FILE'] = '';
\$DB['CA_FILE'] = '';
\$DB['VERIFY_HOST'] = false;
\$DB['CIPHER_LIST'] = '';
\$DB['VAULT_URL'] = '';
\$DB['VAULT_DB_PATH'] = '';
\$DB['VAULT_TOKEN'] = '';
\$DB['DOUBLE_IEEE754'] = true;
\$ZBX_SERVER = '127.0.0.1';
\$ZBX_SERVER_PORT = '$SERVER_PORT';
\$ZBX_SERVER_NAME = 'zabbix-sepa';
\$IMAGE_FORMAT_DEFAULT = IMAGE_FORMAT_PNG;
EOF
}

facts() { cat <<EOF
ZABBIX_SEPA_STACK_STATE=$STATE
ZABBIX_STATE_DIR=$Z
ZABBIX_API_URL=$API
ZABBIX_API_USER=Admin
ZABBIX_API_PASSWORD=zabbix
ZABBIX_SERVER=127.0.0.1
ZABBIX_SERVER_PORT=$SERVER_PORT
ZABBIX_AGENT_PORT=$AGENT_PORT
ZABBIX_WEB_PORT=$WEB_PORT
ZABBIX_AGENT_HOSTNAME=$AGENT_HOSTNAME
ZABBIX_PSK_IDENTITY=$PSK_IDENTITY
ZABBIX_PSK_FILE=$PSK_FILE
ZABBIX_SERVER_CONF=$SERVER_CONF
ZABBIX_AGENT_CONF=$AGENT_CONF
ZABBIX_AGENT_INCLUDE_DIR=$AGENT_INCLUDE
ZABBIX_SERVER_LOG=$Z/zabbix_server.log
ZABBIX_AGENT_LOG=$Z/zabbix_agentd.log
ZABBIX_DB=$DB
ZABBIX_VERSION=$VERSION
ZABBIX_SEPA_INSTANCE=$INSTANCE
ZABBIX_ROOT=$ROOT
ZABBIX_SERVER_BIN=$SERVER_BIN
ZABBIX_AGENTD_BIN=$AGENT_BIN
ZABBIX_SENDER=$SENDER_BIN
ZABBIX_GET=$GET_BIN
ZABBIX_WEB_URL=http://127.0.0.1:$WEB_PORT/
ZABBIX_PROXY_NAMES="${PROXY_NAMES[*]}"
ZABBIX_PROXY_PORTS="${PROXY_PORTS[*]}"
EOF
}

# proxy_conf N: the active proxy PROXY_NAMES[N] (SQLite database and sockets of its own)
proxy_conf() { cat <<EOF
# written by stack/zabbix.sh (do not edit: it rewrites this file)
ProxyMode=0
Server=127.0.0.1:$SERVER_PORT
Hostname=${PROXY_NAMES[$1]}
ListenIP=127.0.0.1
ListenPort=${PROXY_PORTS[$1]}
LogFile=$Z/proxy-$1.log
LogFileSize=10
PidFile=$Z/proxy-$1.pid
SocketDir=$Z/proxy-$1
DBName=$Z/proxy-$1/proxy.db
DataSenderFrequency=1
StartPollers=1
StartPollersUnreachable=1
StartTrappers=2
StartPingers=1
StartDiscoverers=1
StartHTTPPollers=1
StartPreprocessors=1
StartDBSyncers=1
Timeout=4
EOF
    # the configuration is fetched every 5 s instead of every hour (6.4+ renamed the key)
    if [ "$VERSION" = 6.0 ]; then echo "ConfigFrequency=5"; echo "HeartbeatFrequency=5"; else cat <<EOF
ProxyConfigFrequency=5
StartAgentPollers=1
StartHTTPAgentPollers=1
StartSNMPPollers=1
StartBrowserPollers=1
StartODBCPollers=1
EOF
    fi
}

SERVER_CONF_CHANGED=0 AGENT_CONF_CHANGED=0
configs() {
    local tmp
    mkdir -p "$Z" "$AGENT_INCLUDE" "$Z/alertscripts" "$Z/externalscripts"
    chown zabbix:zabbix "$Z"          # the server writes its pid file and sockets here
    if ! grep -qxE '[0-9a-f]{64}' "$PSK_FILE" 2>/dev/null; then
        tmp=$(mktemp "$PSK_FILE.XXXXXX")
        openssl rand -hex 32 > "$tmp"
        chown zabbix:zabbix "$tmp"; chmod 600 "$tmp"
        mv -f "$tmp" "$PSK_FILE"
        log "new PSK $PSK_FILE (identity $PSK_IDENTITY)"
    fi
    if put "$SERVER_CONF" 640 "$(server_conf)"; then SERVER_CONF_CHANGED=1; fi
    chgrp zabbix "$SERVER_CONF"
    if put "$AGENT_CONF" 644 "$(agent_conf)"; then AGENT_CONF_CHANGED=1; fi
    put "$FRONTEND_CONF" 644 "$(frontend_conf)" || true
    put "$FACTS" 644 "$(facts)" || true
}

# -- processes ------------------------------------------------------------------------------

# stop_pid NAME PIDFILE WORD: TERM, wait up to 20 s, then KILL; removes PIDFILE
stop_pid() {
    local pid
    if alive "$2" "$3"; then
        pid=$(cat "$2")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then log "$1 ignored SIGTERM for 20 s: SIGKILL"; kill -9 "$pid" 2>/dev/null || true; fi
        log "stopped $1"
    fi
    rm -f "$2"
}

start_server() {
    if alive "$SERVER_PID" zabbix_server; then
        [ "$SERVER_CONF_CHANGED" = 1 ] || return 0
        if [ ! -f "$Z/started.server" ]; then log "warning: $SERVER_CONF changed, but zabbix_server was not started by me: left as it is"; return 0; fi
        log "$SERVER_CONF changed: restarting zabbix_server"
        stop_pid zabbix_server "$SERVER_PID" zabbix_server
    fi
    port_open "$SERVER_PORT" && die "something else listens on 127.0.0.1:$SERVER_PORT (not the zabbix_server of $SERVER_PID)"
    check_db_login
    log "starting zabbix_server $VERSION on 127.0.0.1:$SERVER_PORT"
    : > "$Z/zabbix_server.log"; chown zabbix:zabbix "$Z/zabbix_server.log"
    rm -f "$SERVER_PID"
    "$SERVER_BIN" -c "$SERVER_CONF" || die "$SERVER_BIN -c $SERVER_CONF failed"
    touch "$Z/started.server"
    launched zabbix_server "$Z/zabbix_server.log" "$SERVER_PORT" 'Zabbix Server stopped' "$SERVER_PID"
}

# launched NAME LOG PORT STOPPED PIDFILE: wait (60 s) until a server or proxy listens with its
# trapper. Both fork before they open their database, so their exit code says nothing: their
# log does (STOPPED), or a pid file whose process is gone.
launched() {
    local i
    for i in $(seq 1 600); do
        grep -q 'started \[trapper #1\]' "$2" 2>/dev/null && port_open "$3" && return 0
        if grep -q "$4" "$2" 2>/dev/null || { [ -f "$5" ] && ! alive "$5" "$1"; }; then
            tail -n 20 "$2" >&2; die "$1 exited; see $2"
        fi
        [ "$i" = 100 ] && grep -q 'database is down' "$2" 2>/dev/null && log "$1 cannot reach its database yet; still waiting"
        sleep 0.1
    done
    tail -n 20 "$2" >&2; die "$1 did not start within 60 s"
}

# start_proxy N: the proxy PROXY_NAMES[N], with its config (re)written
start_proxy() {
    local conf="$Z/proxy-$1.conf" pid="$Z/proxy-$1.pid" log="$Z/proxy-$1.log" changed=0
    mkdir -p "$Z/proxy-$1"; chown zabbix:zabbix "$Z/proxy-$1"
    if put "$conf" 640 "$(proxy_conf "$1")"; then changed=1; fi
    chgrp zabbix "$conf"
    if alive "$pid" zabbix_proxy; then
        [ "$changed" = 1 ] || return 0
        log "$conf changed: restarting ${PROXY_NAMES[$1]}"
        stop_pid "${PROXY_NAMES[$1]}" "$pid" zabbix_proxy
    fi
    port_open "${PROXY_PORTS[$1]}" && die "something else listens on 127.0.0.1:${PROXY_PORTS[$1]} (not the zabbix_proxy of $pid)"
    log "starting zabbix_proxy $VERSION ${PROXY_NAMES[$1]} (active) on 127.0.0.1:${PROXY_PORTS[$1]}"
    : > "$log"; chown zabbix:zabbix "$log"
    rm -f "$pid"
    "$PROXY_BIN" -c "$conf" || die "$PROXY_BIN -c $conf failed"
    touch "$Z/started.proxy-$1"
    launched zabbix_proxy "$log" "${PROXY_PORTS[$1]}" 'Zabbix Proxy stopped' "$pid"
}

proxies_up() {
    local i
    [ "$(id -u)" = 0 ] || die "run me as root"
    NEED_PROXY=1 install_root
    for i in "${!PROXY_NAMES[@]}"; do start_proxy "$i"; done
    log "proxies up: $(for i in "${!PROXY_NAMES[@]}"; do printf '%s 127.0.0.1:%s ' "${PROXY_NAMES[$i]}" "${PROXY_PORTS[$i]}"; done)(active, server 127.0.0.1:$SERVER_PORT)"
}

proxies_down() {
    local i
    for i in "${!PROXY_NAMES[@]}"; do
        [ -f "$Z/started.proxy-$i" ] || continue
        stop_pid "${PROXY_NAMES[$i]}" "$Z/proxy-$i.pid" zabbix_proxy
        rm -f "$Z/started.proxy-$i"
    done
}

start_agent() {
    if alive "$AGENT_PID" zabbix_agentd; then
        [ "$AGENT_CONF_CHANGED" = 1 ] || return 0
        if [ ! -f "$Z/started.agent" ]; then log "warning: $AGENT_CONF changed, but zabbix_agentd was not started by me: left as it is"; return 0; fi
        log "$AGENT_CONF changed: restarting zabbix_agentd"
        stop_pid zabbix_agentd "$AGENT_PID" zabbix_agentd
    fi
    port_open "$AGENT_PORT" && die "something else listens on 127.0.0.1:$AGENT_PORT (not the zabbix_agentd of $AGENT_PID)"
    log "starting zabbix_agentd $VERSION on 127.0.0.1:$AGENT_PORT"
    rm -f "$AGENT_PID"
    # unlike the server, the agent checks its configuration before it forks
    "$AGENT_BIN" -c "$AGENT_CONF" || { tail -n 5 "$Z/zabbix_agentd.log" >&2 || true; die "$AGENT_BIN -c $AGENT_CONF failed"; }
    touch "$Z/started.agent"
    for _ in $(seq 1 100); do
        port_open "$AGENT_PORT" && alive "$AGENT_PID" zabbix_agentd && return 0
        sleep 0.1
    done
    tail -n 20 "$Z/zabbix_agentd.log" >&2; die "zabbix_agentd did not listen within 10 s"
}

# php -S with PHP_CLI_SERVER_WORKERS: the master forks the workers; stopping the master
# alone leaves them serving. It runs in its own session (setsid), so stop the session.
stop_web() {
    local pid pids
    if alive "$WEB_PID" "-S 127.0.0.1:$WEB_PORT"; then
        pid=$(cat "$WEB_PID")
        pids=$( { ps -o pid= -s "$pid"; ps -o pid= --ppid "$pid"; echo "$pid"; } 2>/dev/null | awk '{print $1}' | sort -u | tr '\n' ' ')
        # shellcheck disable=SC2086
        kill $pids 2>/dev/null || true
        for _ in $(seq 1 100); do
            # shellcheck disable=SC2086
            kill -0 $pids 2>/dev/null || break
            sleep 0.1
        done
        # shellcheck disable=SC2086
        kill -9 $pids 2>/dev/null || true
        log "stopped the frontend (php -S, pids ${pids% })"
    fi
    rm -f "$WEB_PID"
}

start_web() {
    api_answers && return 0
    if alive "$WEB_PID" "-S 127.0.0.1:$WEB_PORT"; then log "the frontend runs but its API does not answer: restarting it"; stop_web; fi
    port_open "$WEB_PORT" && die "something else listens on 127.0.0.1:$WEB_PORT and it is not a Zabbix $VERSION API"
    [ -f "$WEB_ROOT/api_jsonrpc.php" ] || die "$WEB_ROOT/api_jsonrpc.php missing (zabbix-frontend-php)"
    log "starting the $VERSION frontend (php -S) on 127.0.0.1:$WEB_PORT"
    PHP_CLI_SERVER_WORKERS=4 setsid php -d memory_limit=256M -d post_max_size=32M \
        -d upload_max_filesize=16M -d max_execution_time=300 -d max_input_time=300 \
        -S "127.0.0.1:$WEB_PORT" -t "$WEB_ROOT" </dev/null >"$Z/php.log" 2>&1 &
    echo $! > "$WEB_PID"
    touch "$Z/started.web"
    for _ in $(seq 1 150); do
        api_answers && return 0
        alive "$WEB_PID" "-S 127.0.0.1:$WEB_PORT" || { tail -n 20 "$Z/php.log" >&2; die "php -S exited; see $Z/php.log"; }
        sleep 0.1
    done
    tail -n 20 "$Z/php.log" >&2; die "the frontend API did not answer within 15 s at $API"
}

# -- commands -------------------------------------------------------------------------------

# The frontend renders in en_US and refuses to ("Locale for language en_US is not found on the
# web server") where the system has no such locale, as on a minimal Debian.
frontend_locale() {
    locale -a 2>/dev/null | grep -qix 'en_US.utf8' && return 0
    log "generating the en_US.UTF-8 locale the frontend needs"
    command -v locale-gen >/dev/null 2>&1 || \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends locales >>"$STATE/zabbix-apt.log" 2>&1
    grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null || echo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen
    locale-gen >/dev/null 2>&1 || die "locale-gen failed: the frontend cannot render pages without en_US.UTF-8"
    if alive "$WEB_PID" php; then stop_web; fi      # php caches the missing locale
}

up() {
    [ "$(id -u)" = 0 ] || die "run me as root"
    "$HERE/mariadb.sh" up
    mkdir -p "$STATE"
    install_root
    frontend_locale
    database
    configs
    start_server
    start_agent
    start_web
    log "up: Zabbix $VERSION ($INSTANCE) server 127.0.0.1:$SERVER_PORT, agent 127.0.0.1:$AGENT_PORT, API $API (Admin/zabbix); facts in $FACTS"
}

down() {
    local what
    proxies_down
    for what in web agent server; do
        [ -f "$Z/started.$what" ] || { log "$what: not started by this script; left alone"; continue; }
        case $what in
            web) stop_web ;;
            agent) stop_pid zabbix_agentd "$AGENT_PID" zabbix_agentd ;;
            server) stop_pid zabbix_server "$SERVER_PID" zabbix_server ;;
        esac
        rm -f "$Z/started.$what"
    done
}

status() {
    local rc=0 version i
    by() { [ -f "$Z/started.$1" ] && echo ", started by stack/zabbix.sh" || echo ""; }
    echo "zabbix:   $VERSION, instance $INSTANCE ($(paste -sd, "$ROOT/.complete" 2>/dev/null || echo "not unpacked in $ROOT"))"
    if alive "$SERVER_PID" zabbix_server && port_open "$SERVER_PORT"; then
        echo "server:   up   127.0.0.1:$SERVER_PORT pid $(cat "$SERVER_PID")$(by server); conf $SERVER_CONF"
    else echo "server:   down (conf $SERVER_CONF, log $Z/zabbix_server.log)"; rc=1; fi
    if alive "$AGENT_PID" zabbix_agentd && port_open "$AGENT_PORT"; then
        echo "agent:    up   127.0.0.1:$AGENT_PORT pid $(cat "$AGENT_PID")$(by agent); Hostname $AGENT_HOSTNAME; UserParameters in $AGENT_INCLUDE/*.conf"
    else echo "agent:    down (conf $AGENT_CONF, log $Z/zabbix_agentd.log)"; rc=1; fi
    version=$(api_version)
    if [[ $version == "$VERSION".* ]]; then
        echo "frontend: up   $API (Zabbix $version, Admin/zabbix)$(by web)"
    else echo "frontend: down ($API)"; rc=1; fi
    for i in "${!PROXY_NAMES[@]}"; do
        if alive "$Z/proxy-$i.pid" zabbix_proxy; then
            echo "proxy:    up   ${PROXY_NAMES[$i]} 127.0.0.1:${PROXY_PORTS[$i]} pid $(cat "$Z/proxy-$i.pid") (active)"
        else echo "proxy:    down ${PROXY_NAMES[$i]} (optional: $0 proxies-up)"; fi
    done
    echo "psk:      identity $PSK_IDENTITY, file $PSK_FILE"
    echo "state:    $Z (facts: $FACTS)"
    return $rc
}

case "${1:-up}" in
    up) up ;;
    down) down ;;
    proxies-up) proxies_up ;;
    proxies-down) proxies_down ;;
    proxy-reload)       # PROXY_NAMES[N]: fetch the configuration from the server now
        alive "$Z/proxy-${2:-0}.pid" zabbix_proxy || die "${PROXY_NAMES[${2:-0}]} is not running (run: $0 proxies-up)"
        "$PROXY_BIN" -c "$Z/proxy-${2:-0}.conf" -R config_cache_reload >/dev/null ;;
    stop-proxy) stop_pid "${PROXY_NAMES[${2:-0}]}" "$Z/proxy-${2:-0}.pid" zabbix_proxy ;;
    start-proxy) start_proxy "${2:-0}" ;;
    status) status ;;
    env) facts | sed 's/^/export /' ;;
    reload)
        alive "$SERVER_PID" zabbix_server || die "zabbix_server is not running (run: $0 up)"
        "$SERVER_BIN" -c "$SERVER_CONF" -R config_cache_reload >/dev/null ;;
    stop-server) stop_pid zabbix_server "$SERVER_PID" zabbix_server ;;
    start-server) start_server ;;
    restart-agent) stop_pid zabbix_agentd "$AGENT_PID" zabbix_agentd; start_agent ;;
    *) echo "usage: $0 [--version 7.0|6.0|all] up|down|status|reload|env|stop-server|start-server|restart-agent|proxies-up|proxies-down|proxy-reload [N]|stop-proxy [N]|start-proxy [N]" >&2; exit 2 ;;
esac
