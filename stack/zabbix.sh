#!/usr/bin/env bash
# A real Zabbix 6.0 server, agent and frontend API on 127.0.0.1, without systemd,
# from Debian's packages, for the tests and the demo.
#   stack/zabbix.sh up        install what is missing, start what is not running
#   stack/zabbix.sh down      stop what this script started (not what it found running)
#   stack/zabbix.sh status    one line per component; exit 0 when all answer
#   stack/zabbix.sh reload    reload the server's configuration cache now
#   stack/zabbix.sh stop-server | start-server    (tests of "server down")
#   stack/zabbix.sh restart-agent                 (after changing UserParameters)
# Idempotent and quick when everything is up. Our configs, logs and pid files
# live in $STATE/zabbix; the only file written outside it is the frontend's
# /etc/zabbix/zabbix.conf.php (where Debian's frontend reads it), and only
# when it is missing.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${ZABBIX_SEPA_STACK_STATE:-/var/tmp/zabbix-sepa-stack}
Z="$STATE/zabbix"
SOCKET=${MARIADB_SOCKET:-/run/mysqld/mysqld.sock}
SERVER_PORT=${ZABBIX_SERVER_PORT:-10051}
AGENT_PORT=${ZABBIX_AGENT_PORT:-10050}
WEB_PORT=${ZABBIX_WEB_PORT:-8080}
DB=zabbix DB_USER=zabbix DB_PASSWORD=zabbix-sepa-stack
SCHEMA_DIR=/usr/share/zabbix-server-mysql
API="http://127.0.0.1:$WEB_PORT/api_jsonrpc.php"

log() { printf 'zabbix.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
sql() { mysql --socket="$SOCKET" -uroot -N -B "$@"; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
api_answers() {
    curl -s -m 3 -H 'Content-Type: application/json-rpc' \
        -d '{"jsonrpc":"2.0","method":"apiinfo.version","params":{},"id":1}' "$API" 2>/dev/null \
        | grep -q '"result":"6\.0'
}

install_packages() {
    local missing=()
    command -v zabbix_server >/dev/null 2>&1 || missing+=(zabbix-server-mysql)
    command -v zabbix_agentd >/dev/null 2>&1 || missing+=(zabbix-agent)
    [ -d /usr/share/zabbix ] || missing+=(zabbix-frontend-php)
    command -v php >/dev/null 2>&1 && php -m 2>/dev/null | grep -qi '^mysqli$' || \
        missing+=(php8.2-cgi php-cli php-mysql php-gd php-bcmath php-mbstring php-xml php-ldap)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    [ ${#missing[@]} = 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}) and I am not root"
    if [ ! -e /usr/sbin/policy-rc.d ]; then     # package scripts must not start services
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    fi
    log "installing ${missing[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >"$STATE/zabbix-apt.log" 2>&1 || { tail -n 20 "$STATE/zabbix-apt.log" >&2; die "apt-get failed"; }
}

database() {
    if [ "$(sql -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='$DB' AND table_name='zsepa_stack_loaded'")" = 1 ]; then
        return 0
    fi
    log "creating database $DB and loading the Zabbix schema (about 20 s, once)"
    sql -e "DROP DATABASE IF EXISTS \`$DB\`; CREATE DATABASE \`$DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
            CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
            CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
            GRANT ALL ON \`$DB\`.* TO '$DB_USER'@'localhost';
            GRANT ALL ON \`$DB\`.* TO '$DB_USER'@'127.0.0.1';"
    zcat "$SCHEMA_DIR/schema.sql.gz" | sql "$DB"
    { echo "SET autocommit=0;"; zcat "$SCHEMA_DIR/images.sql.gz" "$SCHEMA_DIR/data.sql.gz"; echo "COMMIT;"; } | sql "$DB"
    # the marker makes an interrupted load start over next time
    sql "$DB" -e "CREATE TABLE zsepa_stack_loaded (loaded_at DATETIME)"
}

configs() {
    mkdir -p "$Z/agent.d" "$Z/alertscripts" "$Z/externalscripts"
    chown zabbix:zabbix "$Z"
    [ -f "$Z/psk" ] || { openssl rand -hex 32 > "$Z/psk"; }
    chown zabbix:zabbix "$Z/psk"; chmod 600 "$Z/psk"
    cat > "$Z/zabbix_server.conf" <<EOF
# written by stack/zabbix.sh
ListenIP=127.0.0.1
ListenPort=$SERVER_PORT
LogFile=$Z/zabbix_server.log
LogFileSize=10
PidFile=$Z/zabbix_server.pid
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
    cat > "$Z/zabbix_agentd.conf" <<EOF
# written by stack/zabbix.sh
# AllowRoot: the tests' zabbix-sepa lives in a venv under /root's Python;
# a production install (install.sh) runs the agent as user zabbix.
AllowRoot=1
Server=127.0.0.1
ListenIP=127.0.0.1
ListenPort=$AGENT_PORT
Hostname=zabbix-sepa-test
LogFile=$Z/zabbix_agentd.log
LogFileSize=10
PidFile=$Z/zabbix_agentd.pid
Timeout=3
StartAgents=3
Include=$Z/agent.d/*.conf
EOF
    if [ ! -f /etc/zabbix/zabbix.conf.php ]; then
        mkdir -p /etc/zabbix
        cat > /etc/zabbix/zabbix.conf.php <<EOF
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
        chmod 644 /etc/zabbix/zabbix.conf.php
    fi
}

start_server() {
    if alive "$Z/zabbix_server.pid"; then return 0; fi
    log "starting zabbix_server on 127.0.0.1:$SERVER_PORT"
    : > "$Z/zabbix_server.log"; chown zabbix:zabbix "$Z/zabbix_server.log"
    zabbix_server -c "$Z/zabbix_server.conf"
    touch "$Z/started.server"
    # it forks before it checks the database: its exit code says nothing
    for _ in $(seq 1 120); do
        grep -q 'started \[trapper #1\]' "$Z/zabbix_server.log" 2>/dev/null && port_open "$SERVER_PORT" && return 0
        if grep -q 'cannot\|Unsupported DB' "$Z/zabbix_server.log" 2>/dev/null && ! alive "$Z/zabbix_server.pid"; then
            tail -n 20 "$Z/zabbix_server.log" >&2; die "zabbix_server failed to start"
        fi
        sleep 0.25
    done
    tail -n 20 "$Z/zabbix_server.log" >&2; die "zabbix_server did not start within 30 s"
}

start_agent() {
    if alive "$Z/zabbix_agentd.pid"; then return 0; fi
    log "starting zabbix_agentd on 127.0.0.1:$AGENT_PORT"
    zabbix_agentd -c "$Z/zabbix_agentd.conf"
    touch "$Z/started.agent"
    for _ in $(seq 1 40); do port_open "$AGENT_PORT" && return 0; sleep 0.25; done
    tail -n 20 "$Z/zabbix_agentd.log" >&2; die "zabbix_agentd did not listen within 10 s"
}

start_web() {
    if alive "$Z/php.pid" && api_answers; then return 0; fi
    log "starting the frontend (php -S) on 127.0.0.1:$WEB_PORT"
    PHP_CLI_SERVER_WORKERS=4 setsid nohup php -d memory_limit=256M -d post_max_size=32M \
        -d upload_max_filesize=16M -d max_execution_time=300 -d max_input_time=300 \
        -S "127.0.0.1:$WEB_PORT" -t /usr/share/zabbix >"$Z/php.log" 2>&1 &
    echo $! > "$Z/php.pid"
    touch "$Z/started.web"
    for _ in $(seq 1 60); do api_answers && return 0; sleep 0.25; done
    tail -n 20 "$Z/php.log" >&2; die "the frontend API did not answer within 15 s at $API"
}

stop_pidfile() {    # name pidfile
    local pid
    [ -f "$2" ] || return 0
    pid=$(cat "$2")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$2"
    log "stopped $1"
}

stop_web() {
    [ -f "$Z/php.pid" ] || return 0
    local pid; pid=$(cat "$Z/php.pid")
    # php -S with workers: the workers are the master's children; stop the whole session
    pkill -TERM -s "$pid" 2>/dev/null || true
    stop_pidfile frontend "$Z/php.pid"
}

up() {
    "$HERE/mariadb.sh" up
    mkdir -p "$STATE"
    install_packages
    mkdir -p "$Z"
    database
    configs
    start_server
    start_agent
    start_web
    log "up: server 127.0.0.1:$SERVER_PORT, agent 127.0.0.1:$AGENT_PORT, API $API (Admin/zabbix)"
}

down() {
    [ -f "$Z/started.web" ] && { stop_web; rm -f "$Z/started.web"; }
    [ -f "$Z/started.agent" ] && { stop_pidfile zabbix_agentd "$Z/zabbix_agentd.pid"; rm -f "$Z/started.agent"; }
    [ -f "$Z/started.server" ] && { stop_pidfile zabbix_server "$Z/zabbix_server.pid"; rm -f "$Z/started.server"; }
    return 0
}

status() {
    local rc=0
    if alive "$Z/zabbix_server.pid" && port_open "$SERVER_PORT"; then echo "server: up 127.0.0.1:$SERVER_PORT ($Z/zabbix_server.conf)"; else echo "server: down"; rc=1; fi
    if alive "$Z/zabbix_agentd.pid" && port_open "$AGENT_PORT"; then echo "agent: up 127.0.0.1:$AGENT_PORT (UserParameters in $Z/agent.d)"; else echo "agent: down"; rc=1; fi
    if api_answers; then echo "frontend: up $API (Admin/zabbix)"; else echo "frontend: down"; rc=1; fi
    return $rc
}

case "${1:-up}" in
    up) up ;;
    down) down ;;
    status) status ;;
    reload) zabbix_server -c "$Z/zabbix_server.conf" -R config_cache_reload >/dev/null ;;
    stop-server) stop_pidfile zabbix_server "$Z/zabbix_server.pid" ;;
    start-server) start_server ;;
    restart-agent) stop_pidfile zabbix_agentd "$Z/zabbix_agentd.pid"; start_agent ;;
    *) echo "usage: $0 up|down|status|reload|stop-server|start-server|restart-agent" >&2; exit 2 ;;
esac
