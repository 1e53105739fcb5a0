#!/usr/bin/env bash
# Bring up (or stop) a MariaDB server on 127.0.0.1 without systemd.
# Idempotent: does nothing but a ping when a server already answers.
#   stack/mariadb.sh up      install Debian's mariadb-server if missing, start it
#   stack/mariadb.sh down    stop the server this script started
#   stack/mariadb.sh status  exit 0 when a server answers on the socket
set -euo pipefail

SOCKET=${MARIADB_SOCKET:-/run/mysqld/mysqld.sock}
PORT=${MARIADB_PORT:-3306}
DATADIR=${MARIADB_DATADIR:-/var/lib/mysql}
STATE=${ZABBIX_SEPA_STACK_STATE:-/var/tmp/zabbix-sepa-stack}
LOG="$STATE/mariadb.log"
PIDFILE="$STATE/mariadb.pid"

log() { printf 'mariadb.sh: %s\n' "$*" >&2; }

answers() { mysqladmin --socket="$SOCKET" --connect-timeout=2 ping >/dev/null 2>&1; }

install_packages() {
    command -v mariadbd >/dev/null 2>&1 && command -v mysqladmin >/dev/null 2>&1 && return 0
    [ "$(id -u)" = 0 ] || { log "mariadb-server is not installed and I am not root: run as root or install it"; exit 1; }
    # Package scripts must not try to start services: we start them ourselves.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    fi
    log "installing mariadb-server (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        mariadb-server mariadb-client >/dev/null
}

up() {
    if answers; then log "already running"; return 0; fi
    install_packages
    mkdir -p "$STATE"
    install -d -o mysql -g mysql "$(dirname "$SOCKET")"
    if [ ! -d "$DATADIR/mysql" ]; then
        log "initialising $DATADIR"
        mariadb-install-db --user=mysql --datadir="$DATADIR" >"$STATE/mariadb-install.log" 2>&1
    fi
    log "starting mariadbd on 127.0.0.1:$PORT"
    nohup /usr/sbin/mariadbd --user=mysql --datadir="$DATADIR" --bind-address=127.0.0.1 \
        --port="$PORT" --socket="$SOCKET" --innodb-buffer-pool-size=2G \
        --log-error="$LOG" >/dev/null 2>&1 &
    echo $! > "$PIDFILE"
    for _ in $(seq 1 120); do
        answers && { log "up"; return 0; }
        kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { log "mariadbd exited; see $LOG"; tail -n 20 "$LOG" >&2 || true; exit 1; }
        sleep 0.5
    done
    log "mariadbd did not answer within 60 s; see $LOG"
    exit 1
}

down() {
    [ -f "$PIDFILE" ] || { log "not started by this script; nothing to stop"; return 0; }
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    rm -f "$PIDFILE"
    log "stopped"
}

case "${1:-up}" in
    up) up ;;
    down) down ;;
    status) answers ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
