#!/usr/bin/env bash
# A real Zabbix 6.0 server, agent and frontend API on 127.0.0.1, without systemd,
# from Debian's packages, for the tests, the benchmarks and the demo.
#   stack/zabbix.sh up        MariaDB first (stack/mariadb.sh), install what is missing,
#                             load the schema once, start what is not running
#   stack/zabbix.sh down      stop what this script started (not what it found running)
#   stack/zabbix.sh status    one line per component and the useful facts; exit 0 when all answer
#   stack/zabbix.sh reload    reload the server's configuration cache now
#   stack/zabbix.sh env       the facts as shell assignments (also in $STATE/zabbix/stack.env)
#   stack/zabbix.sh stop-server | start-server    (tests of "server down")
#   stack/zabbix.sh restart-agent                 (after changing UserParameters)
# Idempotent and quick (well under a second) when everything is up. Our configs, logs,
# pid files, PSK and facts live in $STATE/zabbix; the only file written outside it is the
# frontend's /etc/zabbix/zabbix.conf.php (where Debian's frontend reads it), and only
# when it is missing or differs. /etc/zabbix/zabbix_server.conf and the agent's are not
# touched.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${ZABBIX_SEPA_STACK_STATE:-/var/tmp/zabbix-sepa-stack}
Z="$STATE/zabbix"
SOCKET=${MARIADB_SOCKET:-/run/mysqld/mysqld.sock}
SERVER_PORT=${ZABBIX_SERVER_PORT:-10051}
AGENT_PORT=${ZABBIX_AGENT_PORT:-10050}
WEB_PORT=${ZABBIX_WEB_PORT:-8080}
AGENT_HOSTNAME=zabbix-sepa-test
PSK_IDENTITY=zabbix-sepa-stack
DB=${ZABBIX_DB:-zabbix} DB_USER=zabbix DB_PASSWORD=zabbix-sepa-stack
MARKER=zsepa_stack_loaded          # table made in $DB after a complete load
SCHEMA_DIR=/usr/share/zabbix-server-mysql
WEB_ROOT=/usr/share/zabbix
API="http://127.0.0.1:$WEB_PORT/api_jsonrpc.php"
SERVER_CONF="$Z/zabbix_server.conf" AGENT_CONF="$Z/zabbix_agentd.conf"
SERVER_PID="$Z/zabbix_server.pid" AGENT_PID="$Z/zabbix_agentd.pid" WEB_PID="$Z/php.pid"
AGENT_INCLUDE="$Z/agent.d"
PSK_FILE="$Z/psk"
FACTS="$Z/stack.env"
FRONTEND_CONF=/etc/zabbix/zabbix.conf.php
# php8.2-cgi by name keeps apt from pulling in Apache for the frontend's php dependency
PACKAGES=(zabbix-server-mysql zabbix-agent zabbix-frontend-php php8.2-cgi php-cli php-mysql
          php-gd php-bcmath php-mbstring php-xml php-ldap curl openssl)

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
api_answers() { [[ $(api_version) == 6.0.* ]]; }

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

install_packages() {
    local installed missing=() unavailable=() p cand
    # dpkg-query exits 1 when a package is unknown to dpkg (a fresh machine): not an error here
    installed=$({ dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${PACKAGES[@]}" 2>/dev/null || true; } \
                | awk '$1 == "ii" {print $2}')
    for p in "${PACKAGES[@]}"; do grep -qx -- "$p" <<<"$installed" || missing+=("$p"); done
    [ ${#missing[@]} = 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}) and I am not root"
    log "installing ${missing[*]} (Debian packages)"
    apt-get update -qq >"$STATE/zabbix-apt.log" 2>&1 || log "apt-get update failed (see $STATE/zabbix-apt.log); trying the lists I have"
    for p in "${missing[@]}"; do
        cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
        [ -n "$cand" ] && [ "$cand" != "(none)" ] || unavailable+=("$p")
    done
    if [ ${#unavailable[@]} -gt 0 ]; then
        die "not installable from the configured apt sources (apt-cache policy: no candidate): ${unavailable[*]}." \
            "Zabbix 6.0 is in Debian 12 (bookworm) main; elsewhere add repo.zabbix.com's 6.0 repository."
    fi
    # package scripts must not start services: we start them ourselves
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >>"$STATE/zabbix-apt.log" 2>&1 || { tail -n 20 "$STATE/zabbix-apt.log" >&2; die "apt-get install failed"; }
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
    log "creating database $DB and loading the Zabbix schema (about 20 s, once)"
    sql -e "CREATE DATABASE IF NOT EXISTS \`$DB\`; ALTER DATABASE \`$DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    ensure_db_user
    zcat "$SCHEMA_DIR/schema.sql.gz" | sql "$DB"
    # images and data in one transaction (data.sql brings its own START TRANSACTION/COMMIT)
    { echo "SET autocommit=0;"; zcat "$SCHEMA_DIR/images.sql.gz" "$SCHEMA_DIR/data.sql.gz"; echo "COMMIT;"; } | sql "$DB"
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
EOF
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
    mkdir -p "$(dirname "$FRONTEND_CONF")"
    if put "$FRONTEND_CONF" 644 "$(frontend_conf)"; then log "wrote $FRONTEND_CONF"; fi
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
    local i
    if alive "$SERVER_PID" zabbix_server; then
        [ "$SERVER_CONF_CHANGED" = 1 ] || return 0
        if [ ! -f "$Z/started.server" ]; then log "warning: $SERVER_CONF changed, but zabbix_server was not started by me: left as it is"; return 0; fi
        log "$SERVER_CONF changed: restarting zabbix_server"
        stop_pid zabbix_server "$SERVER_PID" zabbix_server
    fi
    port_open "$SERVER_PORT" && die "something else listens on 127.0.0.1:$SERVER_PORT (not the zabbix_server of $SERVER_PID)"
    check_db_login
    log "starting zabbix_server on 127.0.0.1:$SERVER_PORT"
    : > "$Z/zabbix_server.log"; chown zabbix:zabbix "$Z/zabbix_server.log"
    rm -f "$SERVER_PID"
    zabbix_server -c "$SERVER_CONF" || die "zabbix_server -c $SERVER_CONF failed"
    touch "$Z/started.server"
    # it forks before it checks the database: its exit code says nothing
    for i in $(seq 1 600); do
        grep -q 'started \[trapper #1\]' "$Z/zabbix_server.log" 2>/dev/null && port_open "$SERVER_PORT" && return 0
        if grep -q 'Zabbix Server stopped' "$Z/zabbix_server.log" 2>/dev/null ||
           { [ -f "$SERVER_PID" ] && ! alive "$SERVER_PID" zabbix_server; }; then
            tail -n 20 "$Z/zabbix_server.log" >&2; die "zabbix_server exited; see $Z/zabbix_server.log"
        fi
        [ "$i" = 100 ] && grep -q 'database is down' "$Z/zabbix_server.log" 2>/dev/null && \
            log "zabbix_server cannot reach the database yet; still waiting"
        sleep 0.1
    done
    tail -n 20 "$Z/zabbix_server.log" >&2; die "zabbix_server did not start within 60 s"
}

start_agent() {
    if alive "$AGENT_PID" zabbix_agentd; then
        [ "$AGENT_CONF_CHANGED" = 1 ] || return 0
        if [ ! -f "$Z/started.agent" ]; then log "warning: $AGENT_CONF changed, but zabbix_agentd was not started by me: left as it is"; return 0; fi
        log "$AGENT_CONF changed: restarting zabbix_agentd"
        stop_pid zabbix_agentd "$AGENT_PID" zabbix_agentd
    fi
    port_open "$AGENT_PORT" && die "something else listens on 127.0.0.1:$AGENT_PORT (not the zabbix_agentd of $AGENT_PID)"
    log "starting zabbix_agentd on 127.0.0.1:$AGENT_PORT"
    rm -f "$AGENT_PID"
    # unlike the server, the agent checks its configuration before it forks
    zabbix_agentd -c "$AGENT_CONF" || { tail -n 5 "$Z/zabbix_agentd.log" >&2 || true; die "zabbix_agentd -c $AGENT_CONF failed"; }
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
    port_open "$WEB_PORT" && die "something else listens on 127.0.0.1:$WEB_PORT and it is not a Zabbix 6.0 API"
    [ -f "$WEB_ROOT/api_jsonrpc.php" ] || die "$WEB_ROOT/api_jsonrpc.php missing (zabbix-frontend-php)"
    log "starting the frontend (php -S) on 127.0.0.1:$WEB_PORT"
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
    install_packages
    frontend_locale
    database
    configs
    start_server
    start_agent
    start_web
    log "up: server 127.0.0.1:$SERVER_PORT, agent 127.0.0.1:$AGENT_PORT, API $API (Admin/zabbix); facts in $FACTS"
}

down() {
    local what
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
    local rc=0 version
    by() { [ -f "$Z/started.$1" ] && echo ", started by stack/zabbix.sh" || echo ""; }
    if alive "$SERVER_PID" zabbix_server && port_open "$SERVER_PORT"; then
        echo "server:   up   127.0.0.1:$SERVER_PORT pid $(cat "$SERVER_PID")$(by server); conf $SERVER_CONF"
    else echo "server:   down (conf $SERVER_CONF, log $Z/zabbix_server.log)"; rc=1; fi
    if alive "$AGENT_PID" zabbix_agentd && port_open "$AGENT_PORT"; then
        echo "agent:    up   127.0.0.1:$AGENT_PORT pid $(cat "$AGENT_PID")$(by agent); Hostname $AGENT_HOSTNAME; UserParameters in $AGENT_INCLUDE/*.conf"
    else echo "agent:    down (conf $AGENT_CONF, log $Z/zabbix_agentd.log)"; rc=1; fi
    version=$(api_version)
    if [[ $version == 6.0.* ]]; then
        echo "frontend: up   $API (Zabbix $version, Admin/zabbix)$(by web)"
    else echo "frontend: down ($API)"; rc=1; fi
    echo "psk:      identity $PSK_IDENTITY, file $PSK_FILE"
    echo "state:    $Z (facts: $FACTS)"
    return $rc
}

case "${1:-up}" in
    up) up ;;
    down) down ;;
    status) status ;;
    env) facts | sed 's/^/export /' ;;
    reload)
        alive "$SERVER_PID" zabbix_server || die "zabbix_server is not running (run: $0 up)"
        zabbix_server -c "$SERVER_CONF" -R config_cache_reload >/dev/null ;;
    stop-server) stop_pid zabbix_server "$SERVER_PID" zabbix_server ;;
    start-server) start_server ;;
    restart-agent) stop_pid zabbix_agentd "$AGENT_PID" zabbix_agentd; start_agent ;;
    *) echo "usage: $0 up|down|status|reload|env|stop-server|start-server|restart-agent" >&2; exit 2 ;;
esac
