"""The demo site of `install.sh --demo`: a Verenigingen database with a few realistic faults,
a read-only user for it, and (if there is none yet) a configuration that points at it.

    python -m zabbix_sepa.dataset.demo [--config /etc/zabbix-sepa/config.yaml] [--config-group zabbix]

Run as root on the demo machine (MariaDB admin over the socket). Re-running rebuilds the demo
database (so that its dates are fresh) and keeps the user, its password and the config; it
refuses to touch a database of the same name that it did not make.
"""
import argparse
import re
import grp
import os
import pwd
import secrets
import sys

import pymysql

from zabbix_sepa.check import grants
from zabbix_sepa.collect import site_now
from zabbix_sepa.dataset import scenarios

DATABASE, SITE, USER = "verenigingen_demo", "verenigingen-demo", "zbx_sepa_demo"
MARKER = "# zabbix-sepa demo configuration"
FAULTS = ("failed_batch", "members_without_mandate", "stuck_draft_batch")

CONFIG = """{marker} (written by install.sh --demo; edit or replace it for a real site)
timezone: {timezone}
zabbix:
  server: 127.0.0.1
  port: {server_port}
  api:
    url: {api_url}
    user: Admin
    password_file: {config_dir}/demo-api-password
spool_dir: /var/spool/zabbix-sepa
cache_dir: /var/cache/zabbix-sepa
sites:
  - name: {site}
    database:
      host: 127.0.0.1
      port: 3306
      name: {database}
      user: {user}
      password_file: {config_dir}/demo-db-password
"""


def write_secret(path, text, group, user="zabbix-sepa"):
    tmp = path + ".new"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640), "w") as fh:
        fh.write(text + "\n")
    os.chown(tmp, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
    os.replace(tmp, path)


def host_timezone():
    """This host's IANA zone (the demo data and the config must agree on N)."""
    try:
        return os.path.realpath("/etc/localtime").split("zoneinfo/", 1)[1]
    except IndexError:
        return "UTC"


def site_name(text):
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", text):
        raise argparse.ArgumentTypeError(f"{text!r}: lower-case letters, digits and '-', at most 31")
    return text


def names(site):
    """The database and MariaDB user of the demo site `site`."""
    if site == SITE:
        return DATABASE, USER
    return site.replace("-", "_"), site.replace("-", "_")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="/etc/zabbix-sepa/config.yaml")
    ap.add_argument("--config-group", default="zabbix")
    ap.add_argument("--socket", default="/run/mysqld/mysqld.sock")
    ap.add_argument("--server-port", type=int, default=10051, help="the demo Zabbix server's trapper port")
    ap.add_argument("--api-url", default="http://127.0.0.1:8080/api_jsonrpc.php", help="the demo frontend's API")
    ap.add_argument("--site", default=SITE, type=site_name,
                    help="the demo site's name; its database and user are named after it (the tests use their own)")
    args = ap.parse_args(argv)
    database, user = names(args.site)
    config_dir = os.path.dirname(args.config)
    admin = pymysql.connect(unix_socket=args.socket, user="root", charset="utf8mb4", autocommit=True)
    with admin.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (database,))
        if cur.fetchone()[0]:
            cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s "
                        "AND table_name = 'tabSingles'", (database,))
            ours = cur.fetchone()[0] and cur.execute(
                f"SELECT 1 FROM `{database}`.tabSingles WHERE doctype = 'zabbix-sepa demo'")
            if not ours:
                sys.exit(f"demo: a database named {database} exists and was not made by the demo; not touching it")
            cur.execute(f"DROP database `{database}`")
        cur.execute(f"CREATE database `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    site_conn = pymysql.connect(unix_socket=args.socket, user="root", database=database, charset="utf8mb4",
                                autocommit=False)
    timezone = host_timezone()
    now = site_now(timezone)
    site = scenarios.healthy(site_conn, now)
    for fault in FAULTS:
        scenarios.FAULTS[fault](site)
    site.execute("INSERT INTO tabSingles (doctype, field, value) VALUES ('zabbix-sepa demo', 'made', %s)",
                 (now.isoformat(),))
    site.commit()
    print(f"demo: database {database} built for {now:%Y-%m-%d %H:%M} with faults: {', '.join(FAULTS)}")

    pw_file = os.path.join(config_dir, "demo-db-password")
    os.makedirs(config_dir, exist_ok=True)
    password = open(pw_file).read().strip() if os.path.exists(pw_file) else secrets.token_urlsafe(24)
    with admin.cursor() as cur:
        for host in ("localhost", "127.0.0.1"):
            cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'{host}'")
            cur.execute(f"ALTER USER '{user}'@'{host}' IDENTIFIED BY %s", (password,))
            for statement in grants(database, user, host):
                cur.execute(statement)
    write_secret(pw_file, password, args.config_group)
    write_secret(os.path.join(config_dir, "demo-api-password"), "zabbix", args.config_group)
    print(f"demo: read-only user {user} (SELECT on the {len(grants(database, user, 'x'))} tables zabbix-sepa reads)")

    if os.path.exists(args.config):
        with open(args.config) as fh:
            if not fh.readline().startswith(MARKER):
                sys.exit(f"demo: {args.config} is not the demo's configuration; not touching it")
    text = CONFIG.format(marker=MARKER, timezone=timezone, server_port=args.server_port, api_url=args.api_url,
                         config_dir=config_dir, site=args.site, database=database, user=user)
    write_secret(args.config, text.rstrip("\n"), args.config_group, user="root")
    print(f"demo: configuration {args.config} (site {args.site})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
