"""Command line: argument parsing only; the work happens in the layers below."""
import argparse
import datetime as dt
import json
import logging
import os
import sys
import time

from zabbix_sepa import __version__, config

EXIT_USAGE = 2
# = zabbix_sepa.reports.TYPES (a unit test keeps them equal; importing it here would load pymysql)
REPORT_TYPES = ("executive", "operational", "financial", "mandates", "performance", "daily")
# = zabbix_sepa.zabbix.template.VERSIONS and DEFAULT_VERSION (kept equal by a unit test; that
# module loads the whole registry)
TEMPLATE_VERSIONS, TEMPLATE_DEFAULT_VERSION = ("7.0", "6.0"), "7.0"


class UsageError(Exception):
    """A command line that cannot be carried out as given; main() prints it and exits 2."""


def _bounded(kind, low, high):
    """An argparse type: a number of `kind` between low and high."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {text}")
        return value
    return parse


def _listen(text):
    """serve --listen: address:port (checked and resolved), a ListenAddress."""
    from zabbix_sepa.transport.serve import parse_listen
    try:
        return parse_listen(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _now(text):
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise argparse.ArgumentTypeError(f"--now must look like 'YYYY-MM-DD HH:MM:SS', got {text!r}")


def _process_age():
    """Seconds since this process started.

    Linux: its start tick against the uptime, both counted from boot. (psutil's create_time
    adds the start tick to a boot time rounded to whole seconds, so it can be up to a second
    early: a second of a 2.5 s budget lost on some boots.)"""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])    # field 22, starttime
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
        return max(0.0, time.time() - psutil.Process().create_time())
    except Exception:       # no way to tell: count from here
        return 0.0


def _process_start():
    """time.monotonic() of this process's start, so budgets include Python's start-up."""
    return time.monotonic() - _process_age()


def _config_arg(p):
    p.add_argument("--config", help=f"configuration file (default: ${config.ENV_VAR} or "
                                    f"{config.DEFAULT_PATH})")


def build_parser():
    p = argparse.ArgumentParser(
        prog="zabbix-sepa",
        description="Watch a Verenigingen site's SEPA direct debit operations through Zabbix.")
    p.add_argument("--version", action="version", version=f"zabbix-sepa {__version__}")
    p.add_argument("--debug", action="store_true", help="log details and show tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser("collect", help="print the metrics document of one site",
                       description="Collect the metrics and discovery lists of one site (of one cadence, "
                                   "or all) and print the document. Exit status = sepa.collector.status "
                                   "(0 ok, 1 some group failed, 2 database unreachable).")
    _config_arg(c)
    c.add_argument("--cadence", choices=["minute", "hour", "all"], default="all",
                   help="minute: what must be fresh every minute, within collect_timeout; hour: the slow-"
                        "changing metrics, within cadences.hour.collect_timeout; all (default): both")
    c.add_argument("--site", help="site name (may be left out, or empty, when one site is configured)")
    c.add_argument("--now", type=_now, metavar="'YYYY-MM-DD HH:MM:SS'",
                   help="collect as of this site-local time instead of now (bypasses the cache)")
    c.add_argument("--format", choices=["json", "prometheus"], default="json",
                   help="json: the document (default); prometheus: the text exposition of the same metrics")
    c.add_argument("--quiet", action="store_true",
                   help="no warnings on stderr (for the agent, which mixes stderr into the value); "
                        "errors that prevent a document are still printed")
    c.set_defaults(func=cmd_collect)

    s = sub.add_parser("send", help="collect and deliver to Zabbix (trapper), spooling what fails",
                       description="Collect the site(s) and send the minute document as the value of "
                                   "sepa.collect and the hourly one as the value of sepa.collect.hour for "
                                   "the site's host, after delivering what earlier runs spooled, oldest "
                                   "first with its original clock. Exit status: 0 all processed, 2 some "
                                   "values rejected by the server, 1 values left in the spool (not "
                                   "delivered).")
    _config_arg(s)
    s.add_argument("--cadence", choices=["due", "minute", "hour", "all"], default="due",
                   help="due (default, what the timer runs): the minute document, and the hourly one when "
                        "cadences.hour.interval has turned since the last; minute, hour: that one; all: both "
                        "from one collection")
    who = s.add_mutually_exclusive_group()
    who.add_argument("--site", help="site name (may be left out when one site is configured)")
    who.add_argument("--all", action="store_true",
                     help="every configured site, and every host waiting in the spool")
    s.add_argument("--now", type=_now, metavar="'YYYY-MM-DD HH:MM:SS'",
                   help="collect as of this site-local time (the value's clock) instead of now")
    s.add_argument("--spool-only", action="store_true",
                   help="deliver what is spooled without collecting (e.g. right after an outage)")
    s.set_defaults(func=cmd_send)

    v = sub.add_parser("serve", help="serve the metrics of every site for Prometheus (/metrics, /healthz)",
                       description="An HTTP endpoint for Prometheus: /metrics collects every configured site "
                                   "(within collect_timeout; scrapes within --cache seconds share one "
                                   "collection; a scrape waits for a collection under way only within its "
                                   "X-Prometheus-Scrape-Timeout-Seconds, then gets the last one or a 503) "
                                   "and /healthz answers ok. A connection has 10 s to send its request.")
    _config_arg(v)
    v.add_argument("--listen", type=_listen, default="127.0.0.1:9105",
                   help="address:port, an IPv6 address in brackets (default 127.0.0.1:9105)")
    v.add_argument("--cache", type=_bounded(float, 0, 3600), default=5.0,
                   help="seconds scrapes share a collection, 0 to 3600 (default 5)")
    v.set_defaults(func=cmd_serve)

    u = sub.add_parser("userparameters", help="print the Zabbix agent UserParameters file",
                       description="Print the agent configuration fragment that defines "
                                   "sepa.collect[<site>] and sepa.collect.hour[<site>] "
                                   "(userparameters/zabbix_sepa.conf).")
    u.add_argument("--bin", default=None, type=_agent_path,
                   help="path of the zabbix-sepa command (default /usr/local/bin/zabbix-sepa)")
    u.add_argument("--config", dest="config_path", default=None, type=_agent_path,
                   help="pass this --config to every call (default: none, i.e. the default path)")
    u.set_defaults(func=cmd_userparameters)

    t = sub.add_parser("template", help="the Zabbix template generated from the registry")
    tsub = t.add_subparsers(dest="template_command", metavar="ACTION")
    tsub.required = True
    te = tsub.add_parser("export", help="write the template (YAML, the import format of a Zabbix major)",
                         description="Render the template that matches this version's metrics: "
                                     "'trapper' for push (`send`), 'agent' for the UserParameter, in the "
                                     "native export format of the chosen Zabbix major.")
    te.add_argument("--variant", choices=["agent", "trapper"], required=True)
    te.add_argument("--zabbix-version", choices=TEMPLATE_VERSIONS, default=TEMPLATE_DEFAULT_VERSION,
                    help=f"the Zabbix major to import it into (default {TEMPLATE_DEFAULT_VERSION})")
    te.add_argument("--output", "-o", help="write to this file instead of stdout")
    te.set_defaults(func=cmd_template_export)

    pr = sub.add_parser("prometheus", help="the Prometheus alerting rules generated from the registry")
    prsub = pr.add_subparsers(dest="prometheus_command", metavar="ACTION")
    prsub.required = True
    prr = prsub.add_parser("rules", help="write the alerting rules of the templates' triggers (YAML)",
                           description="Render a Prometheus rule file with one alerting rule per trigger of the "
                                       "templates, over the series `serve` exposes, with the registry's default "
                                       "thresholds; its header lists the triggers that have no faithful rule, "
                                       "and why. Needs Prometheus 2.42 or later (keep_firing_for).")
    prr.add_argument("--output", "-o", help="write to this file instead of stdout")
    prr.set_defaults(func=cmd_prometheus_rules)

    z = sub.add_parser("zabbix", help="configure a Zabbix server (6.0 or 7.0 LTS) through its API")
    zsub = z.add_subparsers(dest="zabbix_command", metavar="ACTION")
    zsub.required = True
    zs = zsub.add_parser(
        "setup", help="import templates; create hosts, macros, user groups, media types and the action",
        description="Make Zabbix (6.0 or 7.0 LTS; the server's version picks the template format and API "
                    "parameters) match the configuration: import both templates, host group SEPA, one host "
                    "per site with the template linked and its thresholds as host macros, user groups "
                    "'SEPA admins' and 'SEPA escalation', media types 'SEPA Email' and 'SEPA webhook', and "
                    "the action 'SEPA problems' (step 1 to SEPA admins, step 2 to the webhook if not "
                    "acknowledged). Changes only what differs; a second run changes nothing. Needs "
                    "zabbix.api (url and token, or user and password) in the config, and a Super admin.")
    _config_arg(zs)
    zs.add_argument("--agent", action="store_true",
                    help="hosts use 'SEPA by Zabbix agent' (polled through the UserParameter) instead "
                         "of the trapper template")
    zs.add_argument("--agent-address", default="127.0.0.1",
                    help="IP of the agent interface given to new hosts with --agent (default 127.0.0.1)")
    zs.add_argument("--agent-port", type=int, default=10050,
                    help="port of that agent interface (default 10050)")
    zs.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    zs.set_defaults(func=cmd_zabbix_setup)

    k = sub.add_parser("check", help="check the config, each site's database, Zabbix and the spool",
                       description="Say whether this host is ready: the config parses, each site's database "
                                   "answers as the configured user with the tables the collector reads, the "
                                   "Zabbix server (and API, if configured) answers, the spool is writable. "
                                   "Exit 0 when all is well, 1 otherwise.")
    _config_arg(k)
    k.set_defaults(func=cmd_check)

    h = sub.add_parser("health", help="health check of a site: database, Redis, scheduler, disks, error rate",
                       description="The DevOps proposal's health check: database (reachable, latency), Redis (if "
                                   "configured), scheduler activity, disk usage of health.disk_paths, errors "
                                   "per hour. Exit 0 healthy, 1 degraded, 2 critical.")
    _config_arg(h)
    h.add_argument("--site", help="site name (may be left out, or empty, when one site is configured)")
    h.add_argument("--format", choices=["json", "text"], default="text")
    h.add_argument("--quiet", action="store_true", help="no warnings on stderr (for the agent)")
    h.set_defaults(func=cmd_health)

    e = sub.add_parser("errors", help="error analytics: per day and category, hotspots, trends",
                       description="What the Error Log says over the last N days: counts per day and "
                                   "category (metrics.md rules), the methods that fail most with their "
                                   "share, and a least-squares trend per category.")
    _config_arg(e)
    e.add_argument("--site", help="site name (may be left out when one site is configured)")
    e.add_argument("--days", type=_bounded(int, 1, 3660), default=7, help="calendar days up to today (default 7)")
    e.add_argument("--now", type=_now, metavar="'YYYY-MM-DD HH:MM:SS'", help="as of this site-local time")
    e.add_argument("--format", choices=["table", "json"], default="table")
    e.set_defaults(func=cmd_errors)

    r = sub.add_parser("report", help="a report: executive, operational, financial, mandates, performance, daily",
                       description="Write a report of one site, computed with aggregate SQL and free of personal "
                                   "data. executive: KPIs against the previous period (and alert statistics when "
                                   "zabbix.api is configured); operational: batches and days; financial: invoiced "
                                   "vs paid and collected, receivables by age, retries; mandates: lifecycle, "
                                   "expiry, health, banks; performance: the collector measured on this database "
                                   "against its targets; daily: the DevOps proposal's daily report (errors by method, "
                                   "active users, batches of 7 days, scheduler failures), optionally mailed.")
    r.add_argument("type", choices=REPORT_TYPES, metavar="TYPE", help=", ".join(REPORT_TYPES))
    _config_arg(r)
    r.add_argument("--site", help="site name (may be left out when one site is configured)")
    r.add_argument("--days", type=_bounded(int, 1, 3660), default=30,
                   help="the period: the N days before now (default 30)")
    r.add_argument("--now", type=_now, metavar="'YYYY-MM-DD HH:MM:SS'", help="as of this site-local time")
    r.add_argument("--format", choices=["md", "json", "csv", "html"], default="md",
                   help="md (default), json, csv (one table: see --table) or html (with SVG charts)")
    r.add_argument("--output", "-o", help="write to this file instead of stdout (csv without --table: "
                                          "one FILE-TABLE.csv per table)")
    r.add_argument("--table", help="for csv: the table to write (the report's table names are listed on error)")
    r.add_argument("--mail-to", action="append", metavar="ADDR",
                   help="mail the report (text and HTML) through alerts.email's SMTP server; repeatable")
    r.add_argument("--mail", action="store_true",
                   help="daily: mail it to the site's reports.daily.mail_to (what the installed schedule runs)")
    r.add_argument("--all", action="store_true",
                   help="with --mail: every site that has reports.daily.mail_to, one mail per site")
    r.add_argument("--runs", type=_bounded(int, 1, 100), default=3,
                   help="performance: collections to take the median of (default 3)")
    r.add_argument("--timeout", type=_bounded(float, 1, 86400), default=300,
                   help="seconds the report's statements may take (default 300)")
    r.set_defaults(func=cmd_report)

    g = sub.add_parser("db-grants", help="print the GRANT statements for a read-only database user",
                       description="Print one GRANT SELECT per table the collector reads (generated from "
                                   "the registry), for the site's database.")
    _config_arg(g)
    g.add_argument("--site", help="site whose database and user to use (default: the only site)")
    g.add_argument("--database", help="database name (default: the site's)")
    g.add_argument("--user", help="user name (default: the site's)")
    g.add_argument("--host", default=None, help="the user's host part (default: the site's database host, "
                                                "'localhost' for a socket)")
    g.set_defaults(func=cmd_db_grants)

    d = sub.add_parser("docs", help="print the metric reference generated from the registry")
    d.set_defaults(func=cmd_docs)
    return p


def cmd_collect(args):
    started = _process_start()
    from zabbix_sepa.collect import collect
    cfg = config.load(args.config)
    site = cfg.site(args.site or None)
    if cfg.cache_seconds and args.now is None:
        from zabbix_sepa.transport.agent import cache_name, cached
        doc = cached(cache_name(site.name, args.cadence), cfg.cache_dir, cfg.cache_seconds,
                     started + site.budget(args.cadence), lambda: collect(site, None, started, cadence=args.cadence))
    else:
        doc = collect(site, args.now, started, cadence=args.cadence)
    if args.format == "prometheus":
        from zabbix_sepa.transport.prometheus import exposition
        sys.stdout.write(exposition([doc]))
    else:
        json.dump(doc, sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    return doc["metrics"]["sepa.collector.status"]


def cmd_send(args):
    from zabbix_sepa.transport import push
    cfg = config.load(args.config)
    sites = cfg.sites if args.all else [cfg.site(args.site)]
    outcomes = push.send(cfg, sites, args.now, all_spooled=args.all, spool_only=args.spool_only,
                         cadence=args.cadence)
    for o in outcomes:
        print(o.line())
    return push.exit_status(outcomes)


def cmd_serve(args):
    from zabbix_sepa.transport.serve import serve
    cfg = config.load(args.config)
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.WARNING))
    try:
        serve(cfg, args.listen, args.cache)
    except OSError as exc:
        print(f"zabbix-sepa: cannot listen on {args.listen}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


def _agent_path(text):
    from zabbix_sepa.transport.agent import agent_safe_path
    if not agent_safe_path(text):
        raise argparse.ArgumentTypeError(f"{text!r}: an absolute path without '$', newline or NUL "
                                         "(the agent would substitute or split it)")
    return text


def cmd_userparameters(args):
    from zabbix_sepa.transport.agent import DEFAULT_BIN, userparameters
    sys.stdout.write(userparameters(args.bin or DEFAULT_BIN, args.config_path))
    return 0


def cmd_template_export(args):
    from zabbix_sepa.zabbix.template import export
    text = export(args.variant, args.zabbix_version)
    if args.output:
        return 0 if _write(args.output, text) else 1
    sys.stdout.write(text)
    return 0


def cmd_prometheus_rules(args):
    from zabbix_sepa.transport.prometheus_rules import ExpressionError, export
    try:
        text = export()
    except ExpressionError as exc:      # a trigger of a shape the generator does not know
        print(f"zabbix-sepa: prometheus rules: {exc}", file=sys.stderr)
        return 1
    if args.output:
        return 0 if _write(args.output, text) else 1
    sys.stdout.write(text)
    return 0


def cmd_zabbix_setup(args):
    from zabbix_sepa.zabbix import setup
    from zabbix_sepa.zabbix.api import Api, ApiError
    cfg = config.load(args.config)
    if cfg.api is None:
        raise config.ConfigError(cfg.path, "zabbix.api", "is required for `zabbix setup` "
                                 "(url, and token or user with password)")
    try:
        with Api(cfg.api) as api:
            changes = setup.run(api, cfg, agent=args.agent, agent_address=args.agent_address,
                                agent_port=args.agent_port, dry_run=args.dry_run,
                                report=lambda line: print(line, flush=True))
    except ApiError as exc:
        print(f"zabbix-sepa: setup: {exc}", file=sys.stderr)
        return 1
    if not changes:
        print(f"nothing to change: {cfg.api.url} already matches {cfg.path}")
    elif args.dry_run:
        print(f"dry run: {len(changes)} change(s) not made")
    else:
        print(f"{len(changes)} change(s) made")
    return 0


def cmd_health(args):
    from zabbix_sepa.health import health, text
    cfg = config.load(args.config)
    report = health(cfg, cfg.site(args.site or None))
    if args.format == "json":
        json.dump(report, sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text(report))
    return report["code"]


def cmd_errors(args):
    import time
    from zabbix_sepa.collect import site_now
    from zabbix_sepa.db import Database, DatabaseError
    from zabbix_sepa.reports.errors import analyse, table
    cfg = config.load(args.config)
    site = cfg.site(args.site)
    try:
        db = Database(site.database, time.monotonic() + max(site.collect_timeout, 60))
        try:
            result = analyse(db, args.now or site_now(site.timezone), args.days)
        finally:
            db.close()
    except DatabaseError as exc:
        print(f"zabbix-sepa: errors: site {site.name}: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(table(result))
    return 0


def _write(path, text):
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        print(f"zabbix-sepa: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return False
    return True


def cmd_report(args):
    cfg = config.load(args.config)
    _check_report_args(args, cfg)
    if args.all:
        sites = [s for s in cfg.sites if s.daily_report_to]
        if not sites:
            raise UsageError(f"no site has reports.daily.mail_to in {cfg.path}: nothing to mail")
        return max(_report_site(args, cfg, site) for site in sites)
    return _report_site(args, cfg, cfg.site(args.site))


def _check_report_args(args, cfg):
    if args.table and args.format != "csv":
        raise UsageError("--table is for --format csv")
    if args.mail and args.type != "daily":
        raise UsageError("--mail sends to reports.daily.mail_to, which is for the daily report; "
                         "for this one name the recipients with --mail-to ADDR")
    if args.all and not args.mail:
        raise UsageError("--all mails each site's daily report to its reports.daily.mail_to: add --mail")
    if args.all and (args.site or args.output):
        raise UsageError("--all makes one mail per site: leave out --site and --output")
    if args.mail and not args.all and not cfg.site(args.site).daily_report_to:
        raise UsageError(f"site {cfg.site(args.site).name!r} has no reports.daily.mail_to in {cfg.path} "
                         "(or name the recipients with --mail-to ADDR)")


def _report_site(args, cfg, site):
    """Build one site's report, then mail and/or write it; the exit status."""
    from zabbix_sepa.collect import site_now
    from zabbix_sepa.reports import ReportError, build
    now = args.now or site_now(site.timezone)

    def progress(text):
        if sys.stderr.isatty():
            print(f"zabbix-sepa: report {args.type}: {text} ...", file=sys.stderr, flush=True)

    try:
        report = build(args.type, site, now, args.days, timeout=args.timeout, progress=progress,
                       alerts=_alert_statistics(args, cfg, site, now), runs=args.runs)
    except ReportError as exc:
        print(f"zabbix-sepa: report {site.name}: {exc}", file=sys.stderr)
        return 1
    names = [t.name for t in report.tables]
    if args.table and args.table not in names:
        raise UsageError(f"the {args.type} report has no table {args.table!r} (it has: {', '.join(names)})")
    recipients = list(dict.fromkeys((args.mail_to or []) + (list(site.daily_report_to) if args.mail else [])))
    if recipients:
        if not _mail_report(args, cfg, site, now, report, recipients):
            return 1
        if not args.output:
            return 0
    return _write_report(args, report, names)


def _alert_statistics(args, cfg, site, now):
    """The executive report's problem statistics from Zabbix, when zabbix.api is configured."""
    if args.type != "executive" or cfg.api is None:
        return None
    from zabbix_sepa.collect import unix_clock
    from zabbix_sepa.reports.model import windows
    from zabbix_sepa.zabbix.alerts import statistics
    current, _ = windows(now, args.days)
    alerts = statistics(cfg.api, site.name, unix_clock(current.since, site.timezone),
                        unix_clock(now, site.timezone))
    if "error" in alerts:
        logging.getLogger("zabbix_sepa.report").warning("alert statistics: %s", alerts["error"])
    return alerts


def _mail_report(args, cfg, site, now, report, recipients):
    """Mail the report; when the SMTP server does not take it, say why and print it instead."""
    from zabbix_sepa.reports import ReportError
    from zabbix_sepa.reports.mail import send
    from zabbix_sepa.reports.render import render
    subject = f"{report.title}: {site.name}, {now:%Y-%m-%d}"
    try:
        accepted = send(cfg.alerts, recipients, subject, render(report, "md"), render(report, "html"))
    except ReportError as exc:
        print(f"zabbix-sepa: report {site.name}: {exc}; the report follows instead", file=sys.stderr)
        text = render(report, args.format if args.format != "csv" else "md", args.table)
        if not (args.output and _write(args.output, text)):
            sys.stdout.write(text)
        return False
    print(f"mailed the {args.type} report of {site.name} to {', '.join(accepted)} "
          f"through {cfg.alerts.smtp_server}:{cfg.alerts.smtp_port}")
    return True


def _write_report(args, report, names):
    from zabbix_sepa.reports.render import render
    if args.format == "csv" and not args.table:
        if len(names) == 1:
            args.table = names[0]
        elif args.output:
            stem, ext = os.path.splitext(args.output)
            for name in names:
                path = f"{stem}-{name}{ext or '.csv'}"
                if not _write(path, render(report, "csv", name)):
                    return 1
                print(path)
            return 0
        else:
            raise UsageError(f"the {args.type} report has {len(names)} tables ({', '.join(names)}): choose one "
                             f"with --table NAME, or give --output FILE to write one FILE-NAME.csv per table")
    text = render(report, args.format, args.table)
    if args.output:
        return 0 if _write(args.output, text) else 1
    sys.stdout.write(text)
    return 0


def cmd_check(args):
    from zabbix_sepa.check import run
    cfg = config.load(args.config)
    results = run(cfg)
    for ok, line in results:
        print(f"{'ok  ' if ok else 'FAIL'} {line}")
    return 0 if all(ok for ok, _ in results) else 1


def cmd_db_grants(args):
    from zabbix_sepa.check import grants
    if args.database and args.user:
        database, user, host = args.database, args.user, args.host or "localhost"
    else:
        site = config.load(args.config).site(args.site)
        db = site.database
        database, user = args.database or db.name, args.user or db.user
        host = args.host or ("localhost" if db.socket else db.host)
    try:
        lines = grants(database, user, host)
    except ValueError as exc:       # check.BadName: a name no statement is written for
        raise UsageError(f"db-grants: {exc}") from None
    for line in lines:
        print(line)
    return 0


def cmd_docs(args):
    from zabbix_sepa.docs import metric_reference
    sys.stdout.write(metric_reference())
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet = getattr(args, "quiet", False)
    config.QUIET = quiet and not args.debug
    level = logging.DEBUG if args.debug else (logging.CRITICAL if quiet else logging.WARNING)
    logging.basicConfig(level=level, format="zabbix-sepa: %(levelname)s: %(message)s")
    from zabbix_sepa import redact
    for handler in logging.getLogger().handlers:    # no password or token in any line (--debug too)
        redact.install(handler)
    try:
        return args.func(args)
    except (config.ConfigError, UsageError) as exc:
        print(f"zabbix-sepa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
