"""Command line: argument parsing only; the work happens in the layers below."""
import argparse
import datetime as dt
import json
import logging
import sys

from zabbix_sepa import __version__, config

EXIT_USAGE = 2


def _now(text):
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise argparse.ArgumentTypeError(f"--now must look like 'YYYY-MM-DD HH:MM:SS', got {text!r}")


def build_parser():
    p = argparse.ArgumentParser(
        prog="zabbix-sepa",
        description="Watch a Verenigingen site's SEPA direct debit operations through Zabbix.")
    p.add_argument("--version", action="version", version=f"zabbix-sepa {__version__}")
    p.add_argument("--debug", action="store_true", help="log details and show tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser("collect", help="print the metrics document of one site",
                       description="Collect every metric and discovery list of one site and print "
                                   "the document. Exit status = sepa.collector.status "
                                   "(0 ok, 1 some group failed, 2 database unreachable).")
    c.add_argument("--config", help=f"configuration file (default: ${config.ENV_VAR} or "
                                    f"{config.DEFAULT_PATH})")
    c.add_argument("--site", help="site name (may be left out when one site is configured)")
    c.add_argument("--now", type=_now, metavar="'YYYY-MM-DD HH:MM:SS'",
                   help="collect as of this site-local time instead of now")
    c.add_argument("--format", choices=["json"], default="json", help="output format (default json)")
    c.set_defaults(func=cmd_collect)

    d = sub.add_parser("docs", help="print the metric reference generated from the registry")
    d.set_defaults(func=cmd_docs)
    return p


def cmd_collect(args):
    from zabbix_sepa.collect import collect
    site = config.load(args.config).site(args.site)
    doc = collect(site, args.now)
    json.dump(doc, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    return doc["metrics"]["sepa.collector.status"]


def cmd_docs(args):
    from zabbix_sepa.docs import metric_reference
    sys.stdout.write(metric_reference())
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="zabbix-sepa: %(levelname)s: %(message)s")
    try:
        return args.func(args)
    except config.ConfigError as exc:
        print(f"zabbix-sepa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
